"""The `latent-regressor` family (design "latent flow", stage 2 baseline): text -> latents, deterministic.

Network :class:`LatentGenerator` in ``regressor`` mode (``models/latent.py``): learnable frame
queries (GAN-NAT's non-autoregressive decoder, with its length predictor and duration
alignment) attend to the text and output the latent sequence, which the frozen decoder copied
from ``init: {autoencoder: DIR}`` turns into poses. Objective :class:`LatentRegressorObjective`
(pose reconstruction + ``objective.latent`` x latent MSE, the design's 1 and 0.1), pipeline
:class:`LatentPipeline`, config ``configs/fs-latent-regressor.yaml``.
"""

from __future__ import annotations

from pathlib import Path

from text2sign.families.latent_stages import build_stage2
from text2sign.families.registry import Experiment, register_family
from text2sign.models.latent import LatentGenerator, LatentGeneratorConfig
from text2sign.objectives.latent import LatentObjectiveConfig, LatentRegressorObjective
from text2sign.pipelines.latent import LatentInferenceConfig, LatentPipeline

FAMILY = "latent-regressor"


def build(config) -> Experiment:
    return build_stage2(
        config,
        lambda generator, ae, objective: LatentRegressorObjective(generator, ae.model.encoder, objective),
        mode="regressor",
    )


def tiny_config(workdir: Path) -> dict:
    from text2sign.testing import tiny_stage2

    return tiny_stage2(FAMILY, workdir)


register_family(
    FAMILY,
    output="pose",
    pipeline=LatentPipeline.from_checkpoint,
    about="text -> pose-autoencoder latents by learnable queries, frozen decoder (design latent flow, baseline)",
    model_config=LatentGeneratorConfig,
    build_model=LatentGenerator,
    inference_config=LatentInferenceConfig,
    objective_config=LatentObjectiveConfig,
    build=build,
    init_keys=("autoencoder", "predictor"),
    tiny=tiny_config,
)
