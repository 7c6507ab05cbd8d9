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
from text2sign.data.torch_data import PoseTextDataset, collate_pose_batch, hands_relative_to_wrist
from text2sign.errors import ConfigError, CorpusError, InvalidPoseError
from text2sign.families.registry import Experiment, register_family
from text2sign.models.gan_nat import GanNatConfig, GanNatGenerator
from text2sign.objectives.gan_nat import GanNatObjectiveConfig, build_gan_nat_objective, select_feature_stats
from text2sign.pipelines.gan_nat import GanNatInferenceConfig, GanNatPipeline
from text2sign.pose.layout import get_layout
from text2sign.pose.normalize import ShoulderNormalization, compute_feature_stats, typical_frame
from text2sign.text.inputs import model_input

FAMILY = "gan-nat"
SAMPLES = 2
MIN_FEATURE_STD = 0.01
FRAME_ITEMS = 256  # evenly spaced training sequences measured for the typical frame; a median needs no more


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
    model = _with_conditioning(model, data, items)
    transform = hands_relative_to_wrist if model.hand_relative else None
    dataset = PoseTextDataset(
        corpus, data.train_split, select_feature_stats(stats, layout, kinds), kinds,
        max_frames=data.max_frames, seed=config.train.seed, items=items, transform=transform,
    )
    if transform is not None:
        # The corpus statistics describe absolute coordinates; these features are wrist offsets.
        # The std floor (a hundredth of a shoulder width) keeps MediaPipe's nearly flat hand depth
        # from being blown up into noise the generator would have to chase.
        poses = (transform(dataset.pose(i)) for i in range(len(dataset)))
        stats = compute_feature_stats(poses, kinds, normalize=False, min_std=MIN_FEATURE_STD)
        dataset.stats = stats
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
        config.inference, shoulder_center=tuple(float(v) for v in frame.center), shoulder_width=frame.scale, canvas=canvas
    )
    known = objective.generator.cfg.text.signed_languages
    dev_items = [i for i in corpus.split(data.dev_split) if i.signed_language in known and has_model_input(i, model.input)]
    dev_set = None
    if dev_items:
        dev_set = PoseTextDataset(corpus, data.dev_split, stats, kinds, max_frames=data.max_frames, items=dev_items, transform=transform)
    sample_items = dev_items[:: max(1, len(dev_items) // SAMPLES)][:SAMPLES]
    pairs = sorted({(i.spoken_language, i.signed_language) for i in items})

    def pipeline(generator, device):
        return GanNatPipeline(generator, stats, language_pairs=pairs, inference=inference, device=device)

    def sample(generator, device):
        generate = pipeline(generator, device)
        return {
            f"{item.signed_language}-{item.text}": _generate_item(generate, item).outputs[0]
            for item in sample_items
        }

    validate, metric = None, "dev/loss"
    if config.objective.dev_metric == "cer":
        if not dev_items:
            raise CorpusError(f"objective.dev_metric is cer but {corpus.root} has no {data.dev_split} items to read back")
        validate, metric = _read_back_cer(pipeline, dev_items), "dev/cer"
    resolved = dataclasses.replace(config, model=objective.generator.cfg, inference=inference)
    return Experiment(
        objective, dataset, dev_data=dev_set, validate=validate, metric=metric, collate_fn=collate_pose_batch,
        feature_stats=stats, sample=sample, config=resolved,
        metadata={"language_pairs": [list(p) for p in pairs], "alphabets": alphabets(items, resolved.model)},
    )


def has_model_input(item, mode: str) -> bool:
    """Whether a text-to-pose model reading `mode` can learn from `item` (imported corpora may
    hold poses without text or gloss)."""
    text, gloss = item.text.strip(), item.gloss.strip()
    return bool(text) if mode == "text" else bool(gloss) and (mode == "gloss" or bool(text))


def corpus_frame(corpus: Corpus, items) -> tuple[ShoulderNormalization, tuple[int, int] | None]:
    """The typical frame (median shoulder centre and width, median canvas) of `items`' poses."""
    chosen = items[:: max(1, len(items) // FRAME_ITEMS)][:FRAME_ITEMS]
    try:
        return typical_frame(corpus.load_pose(item) for item in chosen)
    except InvalidPoseError as exc:
        raise CorpusError(f"{corpus.root}: {exc}") from None


def _with_conditioning(model: GanNatConfig, data: PoseDataConfig, items) -> GanNatConfig:
    """The model config reading what `data` asks for: text, gloss or both, and the signers."""
    signers = list(model.text.signers)
    if data.signer:
        unnamed = [i.id for i in items if not i.signer]
        if unnamed:
            raise CorpusError(f"data.signer is on but {len(unnamed)} train items have no signer (e.g. {unnamed[0]})")
        signers = sorted({i.signer for i in items})
    for item in items:
        model_input(item.text, item.gloss, data.input)  # every item must have what the model reads
    text = dataclasses.replace(model.text, signers=signers)
    return dataclasses.replace(model, input=data.input, text=text)


def alphabets(items, model: GanNatConfig) -> dict[str, str]:
    """The characters each signed language's training inputs use, as the text encoder reads them."""
    from text2sign.text.encoders import normalize_text

    seen: dict[str, set[str]] = {}
    for item in items:
        text = normalize_text(model_input(item.text, item.gloss, model.input), model.text.lowercase)
        seen.setdefault(item.signed_language, set()).update(ch for ch in text if not ch.isspace())
    return {lang: "".join(sorted(chars)) for lang, chars in sorted(seen.items())}


def _generate_item(pipeline: GanNatPipeline, item):
    """`item` signed by `pipeline`, reading what the model was trained on (its signer too)."""
    cfg = pipeline.generator.cfg
    gloss = item.gloss if cfg.input != "text" else None
    signer = item.signer if item.signer in cfg.text.signers else None
    return pipeline(item.text, item.spoken_language, item.signed_language, gloss=gloss, signer=signer)


def _read_back_cer(pipeline, items):
    """Validation by back-translation: generate every dev item, read it with the shipped recognizer."""
    from text2sign.evaluation.metrics import cer
    from text2sign.evaluation.recognizer import Recognizer

    recognizer = Recognizer.from_pretrained()

    def validate(generator, device) -> dict[str, float]:
        generate = pipeline(generator, device)
        poses = [_generate_item(generate, i).outputs[0] for i in items]
        read = recognizer.recognize(poses, [i.signed_language for i in items])
        return {"dev/cer": cer(read, [i.text for i in items])}

    return validate


def tiny_config(workdir: Path) -> dict:
    """A seconds-long experiment on a three-word ASL FS-Words, for the family contract test."""
    from text2sign.testing import tiny_fs_words

    corpus = tiny_fs_words(workdir / "fs-ase")
    return {
        "family": FAMILY,
        "data": {"corpus": str(corpus), "max_frames": 60},
        "model": {"text": {"kind": "char", "d_model": 16, "layers": 1, "heads": 2}, "d_model": 16, "layers": 1,
                  "heads": 2, "max_frames": 120},
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
