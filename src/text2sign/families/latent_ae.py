"""The `latent-ae` family (design "latent flow", stage 1): a pose autoencoder over every channel.

Network :class:`PoseAutoencoder` (``models/latent.py``), objective :class:`AutoencoderObjective`
(``objectives/latent.py``), config ``configs/fs-latent-ae.yaml``. It is no text-to-sign model
(no pipeline; ``evaluate`` scores its reconstructions of the references, the latent stages'
ceiling): later stages name its checkpoint in ``init: {autoencoder: DIR}`` and copy its
decoder (and, to make training targets, its encoder). Dev passes log the reconstruction error
per channel group (``dev/rec_body``, ``dev/rec_face``, ...), the design's reconstruction ceiling.

Every latent stage reads the same features (all channels, hands as wrist offsets) with the same
statistics: :func:`text2sign.data.torch_data.pose_splits`.
"""

from __future__ import annotations

import dataclasses

from text2sign.data.config import PoseDataConfig
from text2sign.data.torch_data import collate_pose_batch, pose_splits
from text2sign.families.registry import Experiment, register_family
from text2sign.models.latent import LatentAutoencoderConfig, PoseAutoencoder
from text2sign.objectives.latent import AutoencoderObjective, AutoencoderObjectiveConfig

FAMILY = "latent-ae"


def build(config) -> Experiment:
    model: LatentAutoencoderConfig = config.model
    data = pose_splits(config.data, model.kinds, model.hand_relative, config.train.seed)
    feature_dim = int(data.stats.mean.shape[0])
    resolved = dataclasses.replace(
        model,
        feature_dim=feature_dim,
        layout=data.layout.name,
        fps=data.fps,
        latent_dim=feature_dim if model.space == "pose" else model.latent_dim,
    )
    objective = AutoencoderObjective(PoseAutoencoder(resolved), config.objective)
    pairs = sorted({(i.spoken_language, i.signed_language) for i in data.items})
    return Experiment(
        objective,
        data.train,
        dev_data=data.dev,
        collate_fn=collate_pose_batch,
        feature_stats=data.stats,
        config=dataclasses.replace(config, model=resolved),
        metadata={"language_pairs": [list(p) for p in pairs]},
    )


def reconstruction(checkpoint):
    from text2sign.pipelines.latent import AutoencoderReconstruction

    return AutoencoderReconstruction(checkpoint)


register_family(
    FAMILY,
    output="pose",
    pipeline=None,
    about="pose autoencoder over body, face and hands: the latent space of the latent-flow stages (design latent "
    "flow, stage 1)",
    model_config=LatentAutoencoderConfig,
    build_model=PoseAutoencoder,
    objective_config=AutoencoderObjectiveConfig,
    data_config=PoseDataConfig,
    build=build,
    reconstruct=reconstruction,
)
