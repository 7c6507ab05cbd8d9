"""The `recognizer` family: pose -> text, the back-translation model that scores generated signing.

Network :class:`PoseRecognizer` (``models/recognizer.py``), objective CTC
(``objectives/recognizer.py``), config ``configs/fs-words-recognizer.yaml``; no pipeline (it does
not generate signing): :class:`text2sign.evaluation.recognizer.Recognizer` reads its checkpoints.
The data section is the shared :class:`PoseDataConfig`; the model section
:class:`RecognizerConfig`, whose vocabulary and languages (when left empty), joints and frame rate
are filled in from the train split here; the objective section
:class:`RecognizerObjectiveConfig` (augmentation). Validation is the dev CER with greedy CTC
decoding, so the loop keeps the checkpoint with the best dev CER as ``best/``.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from text2sign.data.augment import default_augmentation
from text2sign.data.config import PoseDataConfig
from text2sign.data.corpus import Corpus, CorpusItem
from text2sign.data.selection import read_facts, split_items
from text2sign.data.torch_data import PoseTextDataset, collate_pose_batch
from text2sign.errors import ConfigError, CorpusError
from text2sign.evaluation.recognizer import Recognizer, dev_cer_validation
from text2sign.families.registry import Experiment, register_family
from text2sign.models.recognizer import PoseRecognizer, RecognizerConfig
from text2sign.objectives.recognizer import RecognizerObjective, RecognizerObjectiveConfig
from text2sign.pose.features import first_dims, hands_relative_to_wrist, kinds_layout
from text2sign.pose.normalize import compute_feature_stats, normalize_by_shoulders

FAMILY = "recognizer"


def build(config) -> Experiment:
    data: PoseDataConfig = config.data
    model: RecognizerConfig = config.model
    corpus = Corpus.load(data.corpus)
    if data.kinds is not None and list(data.kinds) != list(model.kinds):
        raise ConfigError(f"data.kinds {data.kinds} and model.kinds {model.kinds} differ: set model.kinds only")
    items = split_items(corpus, data.train_split, data)
    if not items:
        raise CorpusError(f"{corpus.root} has no {data.train_split} items for the chosen languages")
    model = _resolve(model, corpus, items)
    kinds = tuple(model.kinds)
    transform = hands_relative_to_wrist if model.hand_relative else None

    def prepared(item: CorpusItem):
        seq = first_dims(normalize_by_shoulders(corpus.load_pose(item))[0], model.dims)
        return transform(seq) if transform else seq

    stats = compute_feature_stats((prepared(i) for i in items), kinds, normalize=False)
    augment = None
    if config.objective.augment:
        o = config.objective
        augment = default_augmentation(o.speed, o.noise_std, o.max_vertical_degrees, o.max_view_degrees, o.scale)
    dataset = PoseTextDataset(
        corpus,
        data.train_split,
        stats,
        kinds,
        augment,
        data.max_frames,
        seed=config.train.seed,
        items=items,
        dims=model.dims,
        transform=transform,
    )
    objective = RecognizerObjective(PoseRecognizer(model))
    # Dev items are read whole, as `text2sign recognize` reads them, so dev/cer is the CER it reports.
    dev_items = [i for i in split_items(corpus, data.dev_split, data) if i.signed_language in model.languages]
    dev_set = validate = None
    if dev_items:
        dev_set = PoseTextDataset(
            corpus, data.dev_split, stats, kinds, items=dev_items, dims=model.dims, transform=transform
        )
        validate = _dev_cer(dev_set, stats)
    return Experiment(
        objective,
        dataset,
        dev_data=dev_set,
        validate=validate,
        metric="dev/cer",
        metric_mode="min",
        collate_fn=collate_pose_batch,
        feature_stats=stats,
        config=dataclasses.replace(config, model=model),
    )


def _resolve(model: RecognizerConfig, corpus: Corpus, items: list[CorpusItem]) -> RecognizerConfig:
    """`model` with the facts of the train items filled in (:func:`read_facts`, and the joints)."""
    layout = kinds_layout(corpus.load_pose(items[0]).layout, tuple(model.kinds))
    if layout.kind_indices(*model.kinds).size == 0:
        raise CorpusError(f"layout {layout.name} has no joints of kinds {', '.join(model.kinds)}")
    if model.dims > layout.dims:
        raise CorpusError(
            f"model.dims is {model.dims} but the corpus poses ({layout.name}) have {layout.dims} coordinates"
        )
    return dataclasses.replace(model, layout=layout.to_dict(), **read_facts(model, items, "items"))


def _dev_cer(dev_set: PoseTextDataset, stats):
    """Validation of a pose recognizer run: its dev CER read with the run's feature statistics."""
    return dev_cer_validation(dev_set, lambda model: Recognizer(model, stats))


def tiny_config(workdir: Path) -> dict:
    """A seconds-long experiment on a three-word ASL FS-Words, for the family contract test."""
    from text2sign.testing import tiny_fs_words

    corpus = tiny_fs_words(workdir / "fs-ase")
    return {
        "family": FAMILY,
        "data": {"corpus": str(corpus), "max_frames": 60},
        "model": {"hidden": 16, "dilations": [1, 2]},
        "objective": {"augment": False},
        "train": {"steps": 4, "batch_size": 8, "lr": 3e-3, "ema_decay": 0.0, "sample_every": 0, "validate_every": 2},
    }


register_family(
    FAMILY,
    output="text",
    pipeline=None,
    about="pose -> text: temporal convolutions + CTC over characters (the back-translation recognizer)",
    model_config=RecognizerConfig,
    build_model=PoseRecognizer,
    objective_config=RecognizerObjectiveConfig,
    data_config=PoseDataConfig,
    build=build,
    tiny=tiny_config,
)
