"""The `latent-flow` family (design "latent flow", stage 2): text-conditioned flow matching on pose latents.

Network :class:`LatentGenerator` in ``flow`` mode (``models/latent.py``), objective
:class:`LatentFlowObjective` (``objectives/latent.py``), pipeline :class:`LatentPipeline`
(``pipelines/latent.py``), config ``configs/fs-latent-flow.yaml``. It starts from a
``latent-ae`` checkpoint (``init: {autoencoder: DIR}``): the autoencoder's config, decoder
weights and feature statistics are copied into every checkpoint of this family, which therefore
loads alone; its encoder makes the training targets and is not saved.

Its build is the stage-2 build it shares with ``latent-regressor`` and ``latent-distill``
(:mod:`text2sign.families.latent_stages`).
"""

from __future__ import annotations

from pathlib import Path

from text2sign.families.latent_stages import build_stage2
from text2sign.families.registry import Experiment, register_family
from text2sign.models.latent import LatentGenerator, LatentGeneratorConfig
from text2sign.objectives.latent import LatentFlowObjective, LatentObjectiveConfig
from text2sign.pipelines.latent import LatentInferenceConfig, LatentPipeline

FAMILY = "latent-flow"


def build(config) -> Experiment:
    return build_stage2(
        config,
        lambda generator, ae, objective: LatentFlowObjective(generator, ae.model.encoder, objective),
        mode="flow",
    )


def tiny_config(workdir: Path) -> dict:
    from text2sign.testing import tiny_stage2

    return tiny_stage2(FAMILY, workdir, inference={"steps": 2})


register_family(
    FAMILY,
    output="pose",
    pipeline=LatentPipeline.from_checkpoint,
    about="flow matching on pose-autoencoder latents, text-conditioned transformer velocity, CFG, optional SSM "
    "prior (design latent flow)",
    model_config=LatentGeneratorConfig,
    build_model=LatentGenerator,
    inference_config=LatentInferenceConfig,
    objective_config=LatentObjectiveConfig,
    build=build,
    init_keys=("autoencoder", "predictor"),
    tiny=tiny_config,
)
