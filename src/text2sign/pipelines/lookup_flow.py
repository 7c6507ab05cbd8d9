"""Inference of a plan-conditioned flow (``lookup-flow``, e.g. ``fs-lookup-flow``): text -> plan -> signing.

Per text:

1. **The plan**: the lookup's assembly of recorded clips (:class:`ConcatPipeline`, with the
   user's lexicon when given), another pose model's output (``plan_model``), or a pose sequence
   the caller passes (``plan``: any ``.pose`` file in a layout holding the model's joints).
2. **Timing**: ``steps`` Euler steps of the duration flow from Gaussian noise seeded by ``seed +
   k`` for sample ``k`` (:func:`text2sign.schedulers.flow.euler_sample`) give every plan frame its
   length; the plan is resampled at that pace (:func:`text2sign.models.plan_flow.warp_plan`).
3. **Residual**: ``steps`` Euler steps of the residual flow, conditioned on the warped plan, from
   noise -- or, with ``plan_strength`` s > 0, SDEdit-style from the plan itself (a zero residual)
   noised to flow time s, so that only the last ``1 - s`` of the trajectory moves away from it.
4. The features go back to coordinates in the plan's own frame; depth and joints outside the
   model's kinds come from the warped plan. Every joint of the model's kinds is drawn (the
   residual fills what the plan lost).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from text2sign.config import bounded
from text2sign.errors import InvalidPoseError, Text2SignError
from text2sign.models.plan_flow import PlanFlowNet, tempo_noise, velocity, warp_plan, warp_positions
from text2sign.pipelines.base import Notes
from text2sign.pipelines.options import LEXICON, Option, pose_file_option, steps_option
from text2sign.pipelines.planned import PlannedPipeline
from text2sign.pose.features import pose_features
from text2sign.pose.layout import get_layout
from text2sign.pose.normalize import FeatureStats, ShoulderNormalization, normalize_by_shoulders
from text2sign.pose.sequence import PoseSequence
from text2sign.schedulers.flow import euler_sample

MAX_STEPS = 1000
# Kinds drawn in every frame, the residual filling where the plan lost them. A hand the plan does
# not show stays hidden: a one-handed sign shows one hand, and a hand drawn where the recordings
# have none reads as a different sign.
FILLED_KINDS = ("body", "face")


@dataclass
class LookupFlowInferenceConfig:
    """The ``inference:`` section (sampling settings a call may override)."""

    steps: int = bounded(4, min=1, max=MAX_STEPS)  # Euler steps of each flow
    # SDEdit: the residual flow starts from the plan noised to this flow time (0: from pure noise).
    plan_strength: float = bounded(0.0, min=0.0, max=0.99)
    seed: int = bounded(0, min=0)


class LookupFlowPipeline(PlannedPipeline):
    name = "lookup-flow"
    output = "pose"
    options = (
        steps_option(MAX_STEPS, "Euler steps of each flow (default: the model's own)"),
        Option(
            "plan_strength",
            float,
            "SDEdit: start the residual flow from the plan noised to this flow time "
            "(0: from noise; default: the model's own)",
            0.0,
            0.99,
        ),
        pose_file_option("plan", "a pose file (.pose, .npz) to refine instead of the lookup's plan"),
    )
    load_options = (
        LEXICON,
        Option("plan_model", str, "another pose model whose output is the plan (default: the lookup)", metavar="MODEL"),
    )
    stochastic = True

    def __init__(
        self,
        net: PlanFlowNet,
        stats: FeatureStats,
        inference: LookupFlowInferenceConfig | None = None,
        device: str | torch.device = "cpu",
        language_pairs: list | None = None,
        lexicon: str | Path | None = None,
        plan_model: str | None = None,
    ):
        self.net = net.eval().to(device)
        self.device = torch.device(device)
        self.stats = stats
        self.inference = inference or LookupFlowInferenceConfig()
        cfg = net.config
        self.layout = get_layout(cfg.layout)
        self.kinds = tuple(cfg.kinds)
        self.use_planner(plan_model, lexicon, cfg.layout, device, "--plan-model", language_pairs)

    @classmethod
    def from_checkpoint(
        cls, checkpoint, device: str | torch.device = "cpu", lexicon=None, plan_model=None
    ) -> LookupFlowPipeline:
        if checkpoint.feature_stats is None:
            raise Text2SignError(f"{checkpoint.path} has no normalization.json")
        pairs = checkpoint.meta.metadata.get("language_pairs")
        return cls(checkpoint.model, checkpoint.feature_stats, checkpoint.inference, device, pairs, lexicon, plan_model)

    def generate(
        self,
        texts,
        spoken,
        signed,
        *,
        num_samples,
        seed,
        strict,
        notes: Notes,
        steps=None,
        plan_strength=None,
        plan: PoseSequence | None = None,
    ) -> list[list[PoseSequence]]:
        """Sample ``k`` of every text uses noise seeded by ``seed + k``; `plan` (one pose sequence for
        every text) replaces the planner's. The options are checked by the call (None: the checkpoint's)."""
        inf = self.inference
        steps = inf.steps if steps is None else steps
        strength = inf.plan_strength if plan_strength is None else plan_strength
        seed = inf.seed if seed is None else seed
        plans = [self.plan_for(text, spoken, signed, strict, notes, given=plan, seed=seed) for text in texts]
        return [self.refine(text_plan, num_samples, seed, steps, strength) for text_plan in plans]

    def refine(
        self, plan: PoseSequence, num_samples: int, seed: int, steps: int, strength: float
    ) -> list[PoseSequence]:
        """`num_samples` signings of `plan` (see the module docstring)."""
        cfg = self.net.config
        plan, normalized, frame = self._prepared(plan)
        features, joint_mask = pose_features(normalized, self.stats, self.kinds, normalized=True, dims=cfg.dims)
        observed = np.repeat(joint_mask, cfg.dims, axis=1)  # (Tp, F), like features
        tp = plan.num_frames
        generators = [torch.Generator().manual_seed(seed + k) for k in range(num_samples)]
        dev = self.device
        plan_x = torch.from_numpy(features)[None].expand(num_samples, -1, -1).to(dev)
        plan_seen = torch.from_numpy(observed)[None].expand(num_samples, -1, -1).to(dev)
        plan_mask = torch.ones(num_samples, tp, dtype=torch.bool, device=dev)
        with torch.no_grad():
            window = cfg.duration_noise_frames
            z = torch.cat([tempo_noise(1, tp, window, generator=g) for g in generators]).to(dev)  # (S, Tp)

            def duration_velocity(state, t, _h):
                return velocity(self.net.duration_estimate(state, plan_x, plan_seen, t, plan_mask), state, t)

            durations = self.net.durations(euler_sample(duration_velocity, z, steps), plan_mask)  # (S, Tp)
            lengths = durations.sum(dim=1).round().long().clamp(1, cfg.max_frames)
            longest = int(lengths.max())
            positions = warp_positions(durations, longest)  # (S, L)
            warped, warped_seen = warp_plan(plan_x, plan_seen, positions)
            mask = torch.arange(longest, device=dev)[None] < lengths[:, None]  # (S, L)
            noise = torch.stack([torch.randn(longest, cfg.feature_dim, generator=g) for g in generators]).to(dev)
            begin = round(strength * steps)
            residual = noise * (1 - begin / steps)

            def residual_velocity(state, t, _h):
                return velocity(self.net.residual_estimate(state, warped, warped_seen, t, mask), state, t)

            residual = euler_sample(residual_velocity, residual, steps, begin=begin)
            coords = (warped + residual).cpu().numpy()  # (S, L, F) standardized
            # Every joint at the same pace: depth and joints outside the model's kinds come from here.
            dims = normalized.layout.dims
            whole = torch.from_numpy(normalized.data.reshape(tp, -1))[None].expand(num_samples, -1, -1).to(dev)
            whole_seen = (
                torch.from_numpy(np.repeat(normalized.mask, dims, axis=1))[None].expand(num_samples, -1, -1).to(dev)
            )
            whole, whole_seen = warp_plan(whole, whole_seen, positions)
        whole, whole_seen = whole.cpu().numpy(), whole_seen.cpu().numpy()
        return [
            self._sequence(coords[s, :n], whole[s, :n], whole_seen[s, :n], plan, frame)
            for s, n in enumerate(lengths.tolist())
        ]

    def _sequence(
        self, features: np.ndarray, whole: np.ndarray, whole_seen: np.ndarray, plan: PoseSequence, frame
    ) -> PoseSequence:
        cfg, layout = self.net.config, self.layout
        n, dims = features.shape[0], layout.dims
        data = whole.reshape(n, layout.num_joints, dims).copy()
        mask = whole_seen.reshape(n, layout.num_joints, dims)[..., 0].copy()
        index = layout.kind_indices(*self.kinds)
        data[:, index, : cfg.dims] = self.stats.destandardize(features).reshape(n, len(index), cfg.dims)
        filled = layout.kind_indices(*[k for k in FILLED_KINDS if k in self.kinds])
        mask[:, filled] = True
        seq = PoseSequence(data.astype(np.float32), mask, plan.fps, layout)
        return frame.invert(seq, plan.canvas)

    def _prepared(self, plan: PoseSequence) -> tuple[PoseSequence, PoseSequence, ShoulderNormalization]:
        """The plan in the model's joints and frame rate, shoulder-normalized, and that normalization."""
        if not isinstance(plan, PoseSequence):
            raise Text2SignError(f"a plan must be a pose sequence, got {type(plan).__name__}")
        if plan.num_frames == 0:
            raise Text2SignError("the plan has no frames")
        if plan.num_frames > self.net.config.max_frames:
            raise Text2SignError(
                f"the plan has {plan.num_frames} frames; this model takes at most {self.net.config.max_frames}"
            )
        try:
            plan = plan.to_layout(self.layout)
            if abs(plan.fps - self.net.config.fps) > 1e-3:
                plan = plan.resample(self.net.config.fps)  # durations are learnt in frames at the model's rate
            normalized, frame = normalize_by_shoulders(plan)
        except InvalidPoseError as exc:
            raise Text2SignError(f"the plan ({plan.layout.name}) cannot be used by {self.label}: {exc}") from None
        return plan, normalized, frame

    def to(self, device: Any) -> LookupFlowPipeline:
        self.device = torch.device(device)
        self.net.to(self.device)
        return self
