"""The `lookup-flow` family: flows that turn a pose plan into natural signing (``fs-lookup-flow``).

Network :class:`PlanFlowNet` (``models/plan_flow.py``), objective :class:`PlanFlowObjective`
(``objectives/plan_flow.py``), pipeline :class:`LookupFlowPipeline` (``pipelines/lookup_flow.py``),
training pairs ``data/plan_pairs.py``, config ``configs/fs-lookup-flow.yaml``.

Training pairs: for every item of the corpus, the lookup's plan for its own text (the corpus's
fingerspelling or ``data.lexicon``, fixed timing, exactly as at inference) and the item. The
model config's feature size, layout, rate and log-duration statistics are filled in from the
data here, so a checkpoint needs nothing else.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from text2sign.data.config import PoseDataConfig
from text2sign.data.corpus import Corpus
from text2sign.data.plan_pairs import PlanPairs, collate_plan_pairs, feature_stats
from text2sign.errors import ConfigError, CorpusError, Text2SignError
from text2sign.evaluation.read_back import read_back_cer
from text2sign.families.registry import Experiment, register_family
from text2sign.models.plan_flow import PlanFlowConfig, PlanFlowNet
from text2sign.objectives.plan_flow import PlanFlowObjective, PlanFlowObjectiveConfig
from text2sign.pipelines.concat import ConcatPipeline
from text2sign.pipelines.lookup_flow import LookupFlowInferenceConfig, LookupFlowPipeline
from text2sign.pose.layout import get_layout

FAMILY = "lookup-flow"
SAMPLES = 2


@dataclass
class PlanDataConfig(PoseDataConfig):
    """The ``data:`` section: a pose corpus, and the lexicon its plans are assembled from."""

    lexicon: str | None = None  # a lexicon corpus (prepare lexicon); None: the fingerspelling lexicon
    max_dev_items: int | None = None  # dev items sampled at each validation (None: all)


def build(config) -> Experiment:
    data: PlanDataConfig = config.data
    model: PlanFlowConfig = config.model
    corpus = Corpus.load(data.corpus)
    if not corpus.layout_name:
        raise CorpusError(f"{corpus.root} does not name its skeleton layout in stats.json")
    if data.kinds is not None:
        raise ConfigError("lookup-flow reads model.kinds; leave data.kinds unset")
    items, dev_items = _items(corpus, data, data.train_split), _items(corpus, data, data.dev_split)
    if not items:
        raise CorpusError(f"{corpus.root} has no {data.train_split} items with text for the chosen languages")
    kinds = tuple(model.kinds)
    stats = feature_stats((corpus.load_pose(i) for i in items), kinds, model.dims)
    planner = ConcatPipeline(data.lexicon, layout=corpus.layout_name)

    def plan_for(item):
        try:
            return planner([item.text], item.spoken_language, item.signed_language).outputs[0]
        except Text2SignError as exc:
            raise CorpusError(f"{corpus.root}: item {item.id}: the lookup cannot plan it ({exc})") from None

    pairs = partial(
        PlanPairs,
        recording=corpus.load_pose,
        plan_for=plan_for,
        stats=stats,
        kinds=kinds,
        dims=model.dims,
        max_frames=data.max_frames,
    )
    train_set = pairs(items)
    if not len(train_set):
        raise CorpusError(f"{corpus.root}: no {data.train_split} item could be paired with a plan")
    mean, std = train_set.log_duration_stats()
    model = dataclasses.replace(
        model,
        feature_dim=len(get_layout(corpus.layout_name).kind_indices(*kinds)) * model.dims,
        layout=corpus.layout_name,
        fps=items[0].fps,
        log_duration_mean=mean,
        log_duration_std=std,
    )
    net = PlanFlowNet(model)
    objective = PlanFlowObjective(net, config.objective)
    dev_items = dev_items[: data.max_dev_items] if data.max_dev_items else dev_items
    dev_set = pairs(dev_items) if dev_items else None
    inference = config.inference
    language_pairs = sorted({(i.spoken_language, i.signed_language) for i in items})

    def pipeline(network, device):
        return LookupFlowPipeline(network, stats, inference, device, language_pairs, lexicon=data.lexicon)

    sample_items = dev_items[:: max(1, len(dev_items) // SAMPLES)][:SAMPLES]

    def sample(network, device):
        generate = pipeline(network, device)
        return {
            f"{i.signed_language}-{i.text}": generate(i.text, i.spoken_language, i.signed_language).outputs[0]
            for i in sample_items
        }

    validate, metric = None, "dev/loss"
    if config.objective.dev_metric == "cer":
        if not dev_items:
            raise CorpusError(
                f"objective.dev_metric is cer but {corpus.root} has no {data.dev_split} items to read back"
            )
        validate, metric = read_back_cer(pipeline, dev_items), "dev/cer"
    resolved = dataclasses.replace(config, model=model)
    return Experiment(
        objective,
        train_set,
        dev_data=dev_set,
        validate=validate,
        metric=metric,
        collate_fn=partial(collate_plan_pairs, log_duration_mean=mean, log_duration_std=std),
        feature_stats=stats,
        sample=sample,
        config=resolved,
        metadata={"language_pairs": [list(p) for p in language_pairs]},
    )


def _items(corpus: Corpus, data: PlanDataConfig, split: str) -> list:
    items = [i for i in corpus.split(split) if i.text.strip()]
    if data.signed_languages:
        items = [i for i in items if i.signed_language in data.signed_languages]
    return items


def tiny_config(workdir: Path) -> dict:
    """A seconds-long experiment on a three-word ASL FS-Words, for the family contract test."""
    from text2sign.testing import tiny_fs_words

    corpus = tiny_fs_words(workdir / "fs-ase")
    return {
        "family": FAMILY,
        "data": {"corpus": str(corpus), "max_frames": 120},
        "model": {"d_model": 16, "layers": 1, "duration_layers": 1, "kernel": 3},
        "train": {"steps": 2, "batch_size": 4, "lr": 1e-3, "ema_decay": 0.0, "sample_every": 0},
    }


register_family(
    FAMILY,
    output="pose",
    pipeline=LookupFlowPipeline.from_checkpoint,
    about="flows that re-time a pose plan (the lookup's, another model's, a file) and add what it lacks",
    model_config=PlanFlowConfig,
    build_model=PlanFlowNet,
    inference_config=LookupFlowInferenceConfig,
    objective_config=PlanFlowObjectiveConfig,
    data_config=PlanDataConfig,
    build=build,
    load_options=("lexicon", "plan_model"),
    tiny=tiny_config,
)
