"""Inference for the latent stages (regressor, flow, distilled flow): text -> latents -> frozen decoder -> poses.

Text handling (alphabets, word-by-word signing, glosses, signers, placing the pose in the
corpus's frame) is every text-to-pose pipeline's (:mod:`text2sign.pipelines.text_to_pose`), as in
GAN-NAT; here the generator makes latent frames. Per call:

1. the length predictor gives each word's latent frames (``frames`` forces the pose length);
   the duration head places each letter's run of latent frames;
2. regressor: one pass. Flow: ``steps`` Euler steps from Gaussian noise seeded per text and
   sample (``schedulers/flow.py``), with classifier-free guidance (``guidance_scale``; 1: off),
   the prior's velocity weighted by ``lambda_prior * (1 - t)`` and, with
   ``sync_guidance > 0``, minus that times the gradient of a hand-face sync loss, on the middle
   steps only (``inference.sync_window``): the loss of the hand and face motion the model's
   learned sync head predicts from the latents (``sync_score: head``, the design's), or of the
   decoded pose itself (``pose``: a fixed score through the decoder, for models without a head);
3. the frozen decoder turns latents into features and component visibility.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch

from text2sign.config import bounded
from text2sign.errors import CheckpointError, Text2SignError
from text2sign.models.latent import LatentGenerator, latent_lengths
from text2sign.pipelines.options import Option, guidance_option, steps_option
from text2sign.pipelines.text_to_pose import (
    MAX_FRAMES_FACTOR,
    TEXT_OPTIONS,
    TextToPoseInferenceConfig,
    TextToPosePipeline,
)
from text2sign.pose.features import (
    group_columns,
    hands_from_wrist_offsets,
    hands_relative_to_wrist,
    kinds_layout,
    pose_features,
)
from text2sign.pose.layout import get_layout
from text2sign.pose.normalize import normalize_by_shoulders
from text2sign.pose.sequence import PoseSequence
from text2sign.schedulers.flow import euler_sample
from text2sign.text.layers import lengths_to_mask

MAX_STEPS = 1000
# A distilled student's most steps when its checkpoint does not say (inference.max_steps came later):
# objective.student_steps' default, [1, 2, 4].
DISTILLED_STEPS = 4
SYNC_SCORES = ("auto", "head", "pose")
RECONSTRUCTION_CHUNK = 1024  # frames an autoencoder reconstructs at once (a multiple of every downsample)


@dataclass
class LatentInferenceConfig(TextToPoseInferenceConfig):
    """The ``inference:`` section of a latent checkpoint (the frame fields are measured by the build)."""

    steps: int = bounded(16, min=1, max=MAX_STEPS)  # ODE steps (flow models)
    # A distilled student: the most steps it was trained to take (max of objective.student_steps).
    max_steps: int | None = bounded(None, min=1, max=MAX_STEPS)
    guidance_scale: float = bounded(2.0, min=0.0, max=20.0)  # classifier-free guidance; 1: off
    lambda_prior: float = bounded(0.0, min=0.0, max=10.0)  # SSM prior weight; 0: off
    sync_guidance: float = bounded(0.0, min=0.0, max=100.0)  # gamma of the sync loss's gradient; 0: off
    sync_window: tuple[float, float] = (0.25, 0.75)  # the part of the trajectory sync guidance acts on
    sync_lag: int = bounded(2, min=0, max=50)  # frames either side scored by the sync loss
    # What sync guidance differentiates: "head" (the model's learned sync head), "pose" (the
    # decoded pose's fixed score); "auto": the head when the model has one.
    sync_score: Literal["auto", "head", "pose"] = "auto"


def sync_loss(features: torch.Tensor, hands: torch.Tensor, face: torch.Tensor, lag: int) -> torch.Tensor:
    """Differentiable hand-face asynchrony of ``(B, T, F)`` features: :func:`motion_sync_loss` of
    their hand and face motion energy."""
    energy = (features[:, 1:] - features[:, :-1]).abs()  # (B, T-1, F)
    return motion_sync_loss(energy[..., hands].mean(-1), energy[..., face].mean(-1), lag)


def motion_sync_loss(hand: torch.Tensor, fac: torch.Tensor, lag: int) -> torch.Tensor:
    """Asynchrony of hand and face motion ``(B, N)`` each: minus the soft-max over lags in
    ``[-lag, lag]`` of their correlation, plus the soft-max's expected |lag| / (lag + 1) (the
    design's correlation and lag penalty, as evaluation scores them), summed over the batch."""
    corrs, lags = [], []
    for shift in range(-lag, lag + 1):
        a = hand[:, max(0, -shift) : hand.shape[1] - max(0, shift)]
        b = fac[:, max(0, shift) : fac.shape[1] - max(0, -shift)]
        if a.shape[1] < 3:
            continue
        a, b = a - a.mean(1, keepdim=True), b - b.mean(1, keepdim=True)
        corrs.append((a * b).sum(1) / ((a.pow(2).sum(1) * b.pow(2).sum(1)).sqrt() + 1e-6))
        lags.append(abs(shift))
    if not corrs:
        return hand.sum() * 0
    corr = torch.stack(corrs, dim=1)  # (B, K)
    weights = torch.softmax(corr * 10, dim=1)
    lag_cost = (weights * torch.tensor(lags, dtype=corr.dtype, device=corr.device)).sum(1) / (lag + 1)
    return (-(weights * corr).sum(1) + lag_cost).sum()


class LatentPipeline(TextToPosePipeline):
    name = "latent"
    options = (
        *TEXT_OPTIONS,
        steps_option(
            MAX_STEPS, "flow models: ODE steps (a distilled student: at most those it learnt; default: the model's own)"
        ),
        guidance_option(20.0),
        Option(
            "lambda_prior",
            float,
            "flow models with a prior (SSM or its transformer fallback): its weight (0: off; default: the model's own)",
            0.0,
            10.0,
        ),
        Option(
            "sync_guidance",
            float,
            "flow models: hand-face sync guidance scale (0: off; default: the model's own)",
            0.0,
            100.0,
        ),
        Option(
            "sync_score",
            str,
            "flow models: what sync guidance follows: head (the model's learned sync head), pose (the decoded "
            "pose's fixed score) or auto (the head when there is one; default: the model's own)",
        ),
    )

    def __init__(
        self, generator: LatentGenerator, stats, language_pairs=None, inference=None, device="cpu", alphabets=None
    ):
        ae = generator.cfg.autoencoder
        layout = get_layout(ae.layout)
        if stats.mean.shape[0] != ae.feature_dim:
            raise Text2SignError(
                f"normalization has {stats.mean.shape[0]} features; the decoder makes {ae.feature_dim}"
            )
        super().__init__(
            generator,
            stats,
            layout,
            tuple(ae.kinds),
            float(ae.fps),
            language_pairs=language_pairs,
            inference=inference or LatentInferenceConfig(),
            device=device,
            alphabets=alphabets,
        )
        self.stochastic = generator.cfg.mode == "flow"
        columns = {
            kind: torch.from_numpy(cols) for kind, cols in group_columns(ae.layout, ae.kinds, self.layout.dims).items()
        }
        self._hands = torch.cat([columns[k] for k in ("left_hand", "right_hand") if k in columns]) if columns else None
        self._face = columns.get("face")

    @property
    def max_frames(self) -> int:
        return MAX_FRAMES_FACTOR * self.generator.cfg.predictor.max_frames * self.generator.cfg.autoencoder.downsample

    def call_options(self) -> dict[str, Option]:
        """A distilled student takes only the step counts it was trained for."""
        options = super().call_options()
        if self.generator.cfg.step_conditioned:
            most = self.inference.max_steps or DISTILLED_STEPS
            options["steps"] = options["steps"].within(
                high=most, why=f"{self.label} is distilled for 1 to {most} steps"
            )
        return options

    def generate(
        self,
        texts,
        spoken,
        signed,
        *,
        num_samples,
        seed,
        strict,
        notes,
        frames=None,
        signer=None,
        gloss=None,
        steps=None,
        guidance_scale=None,
        lambda_prior=None,
        sync_guidance=None,
        sync_score=None,
    ):
        """The shared text handling (:meth:`TextToPosePipeline.generate`) with this call's sampling
        settings (checked by the call; None: the checkpoint's)."""
        inf = self.inference
        sampling = {
            "steps": inf.steps if steps is None else steps,
            "guidance_scale": inf.guidance_scale if guidance_scale is None else guidance_scale,
            "lambda_prior": inf.lambda_prior if lambda_prior is None else lambda_prior,
            "sync_guidance": inf.sync_guidance if sync_guidance is None else sync_guidance,
            "sync_score": self._sync_score(inf.sync_score if sync_score is None else sync_score),
        }
        return super().generate(
            texts,
            spoken,
            signed,
            num_samples=num_samples,
            seed=seed,
            strict=strict,
            notes=notes,
            frames=frames,
            signer=signer,
            gloss=gloss,
            **sampling,
        )

    def _sync_score(self, score: str) -> str:
        """`score` made definite for this model ("auto": the head when it has one), or one error line."""
        if score not in SYNC_SCORES:
            raise Text2SignError(f"sync_score must be one of {', '.join(SYNC_SCORES)}, got {score!r}")
        has_head = self.generator.sync_head is not None
        if score == "head" and not has_head:
            raise Text2SignError(f"sync_score head: {self.label} has no sync head (trained without model.sync_head)")
        if score == "auto":
            return "head" if has_head else "pose"
        return score

    def _generate(
        self, texts, signed, frames, seed, signer, *, steps, guidance_scale, lambda_prior, sync_guidance, sync_score
    ):
        gen = self.generator
        ae = gen.cfg.autoencoder
        r = ae.downsample
        # no_grad, not inference_mode: sync guidance differentiates the decoder inside the loop.
        with torch.no_grad():
            states, mask = gen.encode(texts, [signed] * len(texts), None if signer is None else [signer] * len(texts))
            if frames is None:
                lengths = gen.predictor.predict_lengths(states, mask)
            else:
                lengths = latent_lengths(torch.full((len(texts),), frames, dtype=torch.long, device=self.device), r)
            if len(texts) == 1:
                mask = None
            ctx, _ = gen.predictor.encode_text(states, mask)
            durations = gen.predictor.log_durations(ctx).exp() if gen.predictor.duration_head is not None else None
            num = int(lengths.max())
            if gen.cfg.mode == "regressor":
                z = gen.regress(states, mask, lengths, num, durations)
        if gen.cfg.mode == "flow":
            z = torch.zeros(len(texts), num, ae.latent_dim, device=self.device)
            for i, n in enumerate(lengths.tolist()):
                # Each text's noise depends only on the seed and its own length, never on the batch.
                z[i, :n] = torch.randn(n, ae.latent_dim, generator=torch.Generator().manual_seed(seed)).to(self.device)
            velocity = gen.guided_velocity(states, mask, lengths, durations, guidance_scale, lambda_prior)
            guide = None
            if sync_guidance > 0 and sync_score == "head":
                guide = self._head_guide(lengths, sync_guidance)
            elif sync_guidance > 0 and self._face is not None:
                guide = self._sync_guide(lengths, sync_guidance)
            with torch.no_grad():
                z = euler_sample(
                    velocity,
                    z,
                    steps,
                    guide=guide,
                    guide_window=tuple(self.inference.sync_window),
                    step_input=gen.cfg.step_conditioned,
                )
        with torch.no_grad():
            features, visibility = gen.decode(z, lengths)
            features = features.float().cpu().numpy()
            visible = np.repeat((visibility > 0).cpu().numpy(), gen.component_sizes, axis=-1)  # (B, T, J)
        counts = [n * r if frames is None else frames for n in lengths.tolist()]
        return [
            self._features_to_pose(features[i, :count], visible[i, :count], ae.hand_relative)
            for i, count in enumerate(counts)
        ]

    def _sync_guide(self, lengths, gamma: float):
        gen, lag = self.generator, self.inference.sync_lag

        def guide(z: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
            with torch.enable_grad():
                z = z.detach().requires_grad_(True)
                features, _ = gen.decode(z, lengths)
                (grad,) = torch.autograd.grad(sync_loss(features, self._hands, self._face, lag), z)
            return -gamma * grad

        return guide

    def _head_guide(self, lengths, gamma: float):
        """Sync guidance through the learned head: no decoder pass, and the loss is scored on each
        text's own latent frames (lag in latent frames, rounded up)."""
        gen = self.generator
        lag = -(-self.inference.sync_lag // gen.cfg.autoencoder.downsample)
        mask = lengths_to_mask(lengths, int(lengths.max()))

        def guide(z: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
            with torch.enable_grad():
                z = z.detach().requires_grad_(True)
                motion = gen.sync_signals(z, t, mask)  # (B, L, 2)
                loss = sum(
                    motion_sync_loss(motion[i : i + 1, :n, 0], motion[i : i + 1, :n, 1], lag)
                    for i, n in enumerate(lengths.tolist())
                )
                (grad,) = torch.autograd.grad(loss, z)
            return -gamma * grad

        return guide


class AutoencoderReconstruction:
    """A pose through a stage-1 autoencoder and back, in the pose's own frame.

    No latent stage can read back better than its decoder reconstructs real signing, so
    ``text2sign evaluate --model <autoencoder run>`` scores these reconstructions of the
    references: the latent models' ceiling (the design's "reconstruction ceiling" row)."""

    def __init__(self, checkpoint):
        if checkpoint.feature_stats is None:
            raise CheckpointError(f"{checkpoint.path} has no feature statistics; it cannot read poses")
        self.autoencoder = checkpoint.model
        self.cfg = checkpoint.model.cfg
        self.stats = checkpoint.feature_stats
        self.layout = get_layout(self.cfg.layout)
        self.kinds = tuple(self.cfg.kinds)
        self.device = next(checkpoint.model.parameters()).device

    def __call__(self, seq: PoseSequence) -> PoseSequence:
        cfg = self.cfg
        if seq.layout.name != self.layout.name:
            raise Text2SignError(f"the autoencoder reads {self.layout.name} poses, this one is {seq.layout.name}")
        if abs(seq.fps - cfg.fps) > 1e-6:
            seq = seq.resample(fps=cfg.fps)
        normalized, frame = normalize_by_shoulders(seq)
        reduced = normalized.to_layout(kinds_layout(normalized.layout, self.kinds))
        if cfg.hand_relative:
            reduced = hands_relative_to_wrist(reduced)
        features, _ = pose_features(reduced, self.stats, self.kinds, normalized=True)
        recon, visibility = [], []
        # Attention over a whole long recording would grow with its square: chunks bound the memory
        # (training sequences are far shorter than a chunk, so ordinary items are one chunk).
        for start in range(0, len(features), RECONSTRUCTION_CHUNK):
            x = torch.from_numpy(features[start : start + RECONSTRUCTION_CHUNK])[None].to(self.device)
            with torch.inference_mode():
                rec, vis, _ = self.autoencoder(x, torch.ones(x.shape[:2], dtype=torch.bool, device=self.device))
            recon.append(rec[0].float().cpu().numpy())
            visibility.append((vis[0] > 0).cpu().numpy())
        coords = self.stats.destandardize(np.concatenate(recon))
        visible = np.repeat(np.concatenate(visibility), self.autoencoder.decoder.component_sizes, axis=-1)
        out = PoseSequence.from_features(coords, self.layout, cfg.fps, joint_mask=visible, kinds=self.kinds)
        if cfg.hand_relative:
            out = hands_from_wrist_offsets(out)
        return frame.invert(out, canvas=seq.canvas)
