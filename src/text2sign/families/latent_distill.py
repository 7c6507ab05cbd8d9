"""The `latent-distill` family (design "latent flow", few-step distillation): a 1-4 step student.

The student is the teacher's :class:`LatentGenerator` (``init: {teacher: DIR}``, a latent-flow
checkpoint, copied whole: text encoder, length and duration heads, decoder), made to read the step
size it jumps and trained by :class:`DistillObjective` to land where the teacher's guided ODE
(``objective.teacher_steps`` Euler steps, ``objective.guidance_scale``, ``objective.lambda_prior``)
lands after 1/k of the way, k in ``objective.student_steps``. Guidance is baked in, so the student
samples with one network pass a step (``inference.guidance_scale: 1``). Pipeline
:class:`LatentPipeline`, config ``configs/fs-latent-distill.yaml``.
"""

from __future__ import annotations

from pathlib import Path

from text2sign.families.latent_stages import build_stage2
from text2sign.families.registry import Experiment, register_family
from text2sign.models.latent import LatentGenerator, LatentGeneratorConfig
from text2sign.objectives.latent import DistillObjective, LatentObjectiveConfig
from text2sign.pipelines.latent import LatentInferenceConfig, LatentPipeline

FAMILY = "latent-distill"


def build(config) -> Experiment:
    def make(student, teacher, objective):
        student.load_state_dict(teacher.model.state_dict())
        return DistillObjective(student, teacher.model, objective)

    return build_stage2(config, make, mode="flow", init_key="teacher")


def tiny_config(workdir: Path) -> dict:
    from text2sign.testing import tiny_stage2, tiny_teacher

    raw = tiny_stage2(
        FAMILY,
        workdir,
        inference={"steps": 2, "guidance_scale": 1.0},
        objective={"teacher_steps": 4, "student_steps": [1, 2]},
    )
    raw.pop("model")
    raw["init"] = {"teacher": str(tiny_teacher(workdir))}
    return raw


register_family(
    FAMILY,
    output="pose",
    pipeline=LatentPipeline.from_checkpoint,
    about="latent flow distilled to 1-4 steps (design latent flow, few-step sampler)",
    model_config=LatentGeneratorConfig,
    build_model=LatentGenerator,
    inference_config=LatentInferenceConfig,
    objective_config=LatentObjectiveConfig,
    build=build,
    init_keys=("teacher",),
    tiny=tiny_config,
)
