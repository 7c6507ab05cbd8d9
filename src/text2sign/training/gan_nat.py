"""The `gan-nat` family: what `text2sign train configs/fs-gan-nat.yaml` builds.

The data section is the shared :class:`PoseDataConfig`; the model section is
:class:`GanNatConfig` (its vocabulary, languages, feature size, layout and fps are filled in from
the corpus here, and the filled-in config is what every checkpoint stores); the objective section
is :class:`GanNatObjectiveConfig`.
"""

from __future__ import annotations

import dataclasses

from text2sign.data.corpus import Corpus
from text2sign.data.torch_data import PoseTextDataset, collate_pose_batch, hands_relative_to_wrist
from text2sign.errors import ConfigError, CorpusError
from text2sign.models.gan_nat import GanNatConfig, GanNatGenerator
from text2sign.objectives.gan_nat import GanNatObjectiveConfig, build_gan_nat_objective, select_feature_stats
from text2sign.pose.layout import get_layout
from text2sign.pose.normalize import compute_feature_stats
from text2sign.training.config import ExperimentConfig, PoseDataConfig
from text2sign.training.registry import Experiment, register_experiment

FAMILY = "gan-nat"
SAMPLES = 2
MIN_FEATURE_STD = 0.01


def build(config: ExperimentConfig) -> Experiment:
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
    items = corpus.split(data.train_split)
    if data.signed_languages:
        items = [i for i in items if i.signed_language in data.signed_languages]
    if not items:
        raise CorpusError(f"{corpus.root} has no {data.train_split} items for the chosen languages")
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
        texts=[i.text for i in items],
        signed_languages=[i.signed_language for i in items],
        fps=items[0].fps,
    )
    sample_items = [i for i in corpus.split(data.sample_split) if i.signed_language in objective.generator.cfg.text.signed_languages]
    sample_items = sample_items[:: max(1, len(sample_items) // SAMPLES)][:SAMPLES]

    def sample(generator, device):
        from text2sign.pipelines.neural import GanNatPipeline

        pipeline = GanNatPipeline(generator, stats, device=device)
        return {
            f"{item.signed_language}-{item.text}": pipeline([item.text], spoken=item.spoken_language, signed=item.signed_language)[0]
            for item in sample_items
        }

    resolved = dataclasses.replace(config, model=objective.generator.cfg)
    return Experiment(objective, dataset, collate_pose_batch, feature_stats=stats, sample=sample, config=resolved)


register_experiment(FAMILY, GanNatConfig, GanNatObjectiveConfig, build, GanNatGenerator, PoseDataConfig)
