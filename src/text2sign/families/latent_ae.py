"""The `latent-ae` family (design "latent flow", stage 1): a pose autoencoder over every channel.

Network :class:`PoseAutoencoder` (``models/latent.py``), objective :class:`AutoencoderObjective`
(``objectives/latent.py``), config ``configs/fs-latent-ae.yaml``. It is no text-to-sign model
(no pipeline; ``evaluate`` scores its reconstructions of the references, the latent stages'
ceiling): later stages name its checkpoint in ``init: {autoencoder: DIR}`` and copy its
decoder (and, to make training targets, its encoder). Dev passes log the reconstruction error
per channel group (``dev/rec_body``, ``dev/rec_face``, ...), the design's reconstruction ceiling.

The data helpers here are shared by every latent stage: the same features (all channels, hands
as wrist offsets), the same statistics.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from text2sign.data.config import PoseDataConfig
from text2sign.data.corpus import Corpus
from text2sign.data.torch_data import PoseTextDataset, collate_pose_batch, hands_relative_to_wrist
from text2sign.errors import ConfigError, CorpusError
from text2sign.families.gan_nat import MIN_FEATURE_STD, has_model_input
from text2sign.families.registry import Experiment, register_family
from text2sign.models.latent import LatentAutoencoderConfig, PoseAutoencoder
from text2sign.objectives.gan_nat import select_feature_stats
from text2sign.objectives.latent import AutoencoderObjective, AutoencoderObjectiveConfig
from text2sign.pose.layout import get_layout
from text2sign.pose.normalize import compute_feature_stats

FAMILY = "latent-ae"


@dataclass
class LatentData:
    corpus: Corpus
    items: list
    dev_items: list
    train: PoseTextDataset
    dev: PoseTextDataset | None
    stats: object
    fps: float
    layout: object


def latent_data(data: PoseDataConfig, kinds, hand_relative: bool, seed: int, stats=None, input_mode: str | None = None) -> LatentData:
    """Train and dev datasets of `kinds`; statistics computed on train unless given (a later stage
    reuses its autoencoder's, since its decoder speaks them). `input_mode` (text, gloss, both):
    leave out items without that input (an autoencoder learns from every pose; a text-to-pose
    stage cannot)."""
    corpus = Corpus.load(data.corpus)
    if not corpus.layout_name:
        raise CorpusError(f"{corpus.root} does not name its skeleton layout in stats.json")
    if data.kinds is not None and list(data.kinds) != list(kinds):
        raise ConfigError(f"data.kinds {data.kinds} and the autoencoder's kinds {list(kinds)} differ: set model.kinds only")
    layout = get_layout(corpus.layout_name)
    kinds = tuple(kinds)
    def usable(item) -> bool:
        return input_mode is None or has_model_input(item, input_mode)

    items = [i for i in corpus.split(data.train_split) if usable(i)]
    if data.signed_languages:
        items = [i for i in items if i.signed_language in data.signed_languages]
    if not items:
        raise CorpusError(f"{corpus.root} has no {data.train_split} items{f' with {input_mode}' if input_mode else ''} for the chosen languages")
    transform = hands_relative_to_wrist if hand_relative else None
    if stats is None:
        corpus_stats = corpus.feature_stats()
        if corpus_stats is None:
            raise CorpusError(f"{corpus.root} has no feature statistics in stats.json")
        stats = select_feature_stats(corpus_stats, layout, kinds)
        if transform is not None:
            raw = PoseTextDataset(corpus, data.train_split, stats, kinds, max_frames=data.max_frames, items=items)
            stats = compute_feature_stats((transform(raw.pose(i)) for i in range(len(raw))), kinds, normalize=False, min_std=MIN_FEATURE_STD)
    train = PoseTextDataset(corpus, data.train_split, stats, kinds, max_frames=data.max_frames, seed=seed, items=items, transform=transform)
    languages = {i.signed_language for i in items}
    dev_items = [i for i in corpus.split(data.dev_split) if i.signed_language in languages and usable(i)]
    dev = None
    if dev_items:
        dev = PoseTextDataset(corpus, data.dev_split, stats, kinds, max_frames=data.max_frames, items=dev_items, transform=transform)
    return LatentData(corpus, items, dev_items, train, dev, stats, float(items[0].fps), layout)


def build(config) -> Experiment:
    model: LatentAutoencoderConfig = config.model
    data = latent_data(config.data, model.kinds, model.hand_relative, config.train.seed)
    feature_dim = int(data.stats.mean.shape[0])
    resolved = dataclasses.replace(
        model, feature_dim=feature_dim, layout=data.layout.name, fps=data.fps,
        latent_dim=feature_dim if model.space == "pose" else model.latent_dim,
    )
    objective = AutoencoderObjective(PoseAutoencoder(resolved), config.objective)
    pairs = sorted({(i.spoken_language, i.signed_language) for i in data.items})
    return Experiment(
        objective, data.train, dev_data=data.dev, collate_fn=collate_pose_batch, feature_stats=data.stats,
        config=dataclasses.replace(config, model=resolved), metadata={"language_pairs": [list(p) for p in pairs]},
    )


def tiny_autoencoder(workdir: Path) -> Path:
    """A seconds-long autoencoder run on a three-word ASL FS-Words (trained once per `workdir`):
    the earlier stage of the later stages' tiny configs."""
    from text2sign.checkpoints import resolve_checkpoint
    from text2sign.testing import tiny_fs_words
    from text2sign.training import parse_experiment, train

    run = workdir / "tiny-latent-ae"
    if not (run / "checkpoints").exists():
        corpus = tiny_fs_words(workdir / "fs-ase")
        raw = {
            "family": FAMILY, "name": "tiny-latent-ae",
            "data": {"corpus": str(corpus), "max_frames": 60},
            "model": {"d_model": 16, "heads": 2, "encoder_layers": 1, "coarse_layers": 1, "medium_layers": 0,
                      "fine_layers": 1, "latent_dim": 8, "downsample": 2},
            "train": {"steps": 2, "batch_size": 4, "lr": 1e-3, "ema_decay": 0.0, "sample_every": 0},
        }
        train(parse_experiment(raw, source="tiny latent-ae config"), run)
    return resolve_checkpoint(run)


def reconstruction(checkpoint):
    from text2sign.pipelines.latent import AutoencoderReconstruction

    return AutoencoderReconstruction(checkpoint)


register_family(
    FAMILY,
    output="pose",
    pipeline=None,
    about="pose autoencoder over body, face and hands: the latent space of the latent-flow stages (design latent flow, stage 1)",
    model_config=LatentAutoencoderConfig,
    build_model=PoseAutoencoder,
    objective_config=AutoencoderObjectiveConfig,
    data_config=PoseDataConfig,
    build=build,
    reconstruct=reconstruction,
)
