"""The `gan-nat` family (design "GAN-NAT"): text -> pose with a non-autoregressive generator.

Network :class:`GanNatGenerator` (``models/gan_nat.py``), objective ``objectives/gan_nat.py``,
pipeline :class:`GanNatPipeline` (``pipelines/gan_nat.py``), config ``configs/fs-gan-nat.yaml``.
The data section is the shared :class:`PoseDataConfig`; the model section is
:class:`GanNatConfig` (its vocabulary, languages, feature size, layout and fps are filled in from
the corpus here, and the filled-in config is what every checkpoint stores); the objective section
is :class:`GanNatObjectiveConfig`; the inference section :class:`GanNatInferenceConfig` (its frame
is measured on the training corpus here, so outputs are drawn where the corpus's signer is).
Validation is the generator's dev losses, or with ``objective.dev_metric: cer`` the CER with which
the shipped recognizer reads the generated dev words back.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from text2sign.data.config import PoseDataConfig
from text2sign.data.corpus import Corpus
from text2sign.data.selection import alphabets, corpus_frame, has_model_input, model_conditioning
from text2sign.data.torch_data import PoseTextDataset, collate_pose_batch, transformed_feature_stats
from text2sign.errors import ConfigError, CorpusError
from text2sign.evaluation.read_back import generate_item, read_back_cer
from text2sign.families.registry import Experiment, register_family
from text2sign.models.gan_nat import GanNatConfig, GanNatGenerator
from text2sign.objectives.gan_nat import GanNatObjectiveConfig, build_gan_nat_objective
from text2sign.pipelines.gan_nat import GanNatInferenceConfig, GanNatPipeline
from text2sign.pose.features import hands_relative_to_wrist, select_feature_stats
from text2sign.pose.layout import get_layout
from text2sign.text.inputs import model_input

FAMILY = "gan-nat"
SAMPLES = 2


def build(config) -> Experiment:
    data: PoseDataConfig = config.data
    model: GanNatConfig = config.model
    corpus = Corpus.load(data.corpus)
    if not corpus.layout_name:
        raise CorpusError(f"{corpus.root} does not name its skeleton layout in stats.json")
    stats = corpus.feature_stats()
    if stats is None:
        raise CorpusError(f"{corpus.root} has no feature statistics in stats.json")
    if data.kinds is not None and list(data.kinds) != list(model.kinds):
        raise ConfigError(f"data.kinds {data.kinds} and model.kinds {model.kinds} differ: set model.kinds only")
    layout = get_layout(corpus.layout_name)
    kinds = tuple(model.kinds) if model.kinds else None
    items = [i for i in corpus.split(data.train_split) if has_model_input(i, model.input)]
    if data.signed_languages:
        items = [i for i in items if i.signed_language in data.signed_languages]
    if not items:
        raise CorpusError(f"{corpus.root} has no {data.train_split} items with {model.input} for the chosen languages")
    model = model.with_conditioning(*model_conditioning(items, data, model.text.signers))
    transform = hands_relative_to_wrist if model.hand_relative else None
    dataset = PoseTextDataset(
        corpus,
        data.train_split,
        select_feature_stats(stats, layout, kinds),
        kinds,
        max_frames=data.max_frames,
        seed=config.train.seed,
        items=items,
        transform=transform,
    )
    if transform is not None:
        # The corpus statistics describe absolute coordinates; these features are wrist offsets.
        stats = dataset.stats = transformed_feature_stats(dataset, transform, kinds)
    else:
        stats = dataset.stats
    objective = build_gan_nat_objective(
        model,
        config.objective,
        layout=layout,
        stats=stats,
        texts=[model_input(i.text, i.gloss, model.input) for i in items],
        signed_languages=[i.signed_language for i in items],
        fps=items[0].fps,
    )
    frame, canvas = corpus_frame(corpus, items)
    inference = dataclasses.replace(
        config.inference,
        shoulder_center=tuple(float(v) for v in frame.center),
        shoulder_width=frame.scale,
        canvas=canvas,
    )
    known = objective.generator.cfg.text.signed_languages
    dev_items = [
        i for i in corpus.split(data.dev_split) if i.signed_language in known and has_model_input(i, model.input)
    ]
    dev_set = None
    if dev_items:
        dev_set = PoseTextDataset(
            corpus, data.dev_split, stats, kinds, max_frames=data.max_frames, items=dev_items, transform=transform
        )
    sample_items = dev_items[:: max(1, len(dev_items) // SAMPLES)][:SAMPLES]
    pairs = sorted({(i.spoken_language, i.signed_language) for i in items})

    def pipeline(generator, device):
        return GanNatPipeline(generator, stats, language_pairs=pairs, inference=inference, device=device)

    def sample(generator, device):
        generate = pipeline(generator, device)
        return {
            f"{item.signed_language}-{item.text}": generate_item(generate, item).outputs[0] for item in sample_items
        }

    validate, metric = None, "dev/loss"
    if config.objective.dev_metric == "cer":
        if not dev_items:
            raise CorpusError(
                f"objective.dev_metric is cer but {corpus.root} has no {data.dev_split} items to read back"
            )
        validate, metric = read_back_cer(pipeline, dev_items), "dev/cer"
    resolved = dataclasses.replace(config, model=objective.generator.cfg, inference=inference)
    return Experiment(
        objective,
        dataset,
        dev_data=dev_set,
        validate=validate,
        metric=metric,
        collate_fn=collate_pose_batch,
        feature_stats=stats,
        sample=sample,
        config=resolved,
        metadata={"language_pairs": [list(p) for p in pairs], "alphabets": alphabets(items, resolved.model)},
    )


def tiny_config(workdir: Path) -> dict:
    """A seconds-long experiment on a three-word ASL FS-Words, for the family contract test."""
    from text2sign.testing import tiny_fs_words

    corpus = tiny_fs_words(workdir / "fs-ase")
    return {
        "family": FAMILY,
        "data": {"corpus": str(corpus), "max_frames": 60},
        "model": {
            "text": {"kind": "char", "d_model": 16, "layers": 1, "heads": 2},
            "d_model": 16,
            "layers": 1,
            "heads": 2,
            "max_frames": 120,
        },
        "objective": {"adversarial": 0.0},
        "train": {"steps": 2, "batch_size": 4, "lr": 1e-3, "ema_decay": 0.0, "sample_every": 0},
    }


register_family(
    FAMILY,
    output="pose",
    pipeline=GanNatPipeline.from_checkpoint,
    about="non-autoregressive transformer generator + 1D-CNN discriminator (design GAN-NAT)",
    model_config=GanNatConfig,
    build_model=GanNatGenerator,
    inference_config=GanNatInferenceConfig,
    objective_config=GanNatObjectiveConfig,
    data_config=PoseDataConfig,
    build=build,
    tiny=tiny_config,
)
