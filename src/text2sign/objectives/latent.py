"""Latent-flow objectives (design "latent flow"): autoencoder, latent regressor, latent flow, distillation.

What they read from a batch (a ``PoseBatch``): ``features (B, T, F)``, ``frame_mask (B, T)``,
``joint_mask (B, T, J)``, ``lengths (B,)``, ``texts``, ``glosses``, ``signed_languages``.
Joints out of view never enter a loss (as zeros or otherwise): every pose loss is a masked mean
over real frames and observed joints.

* :class:`AutoencoderObjective`: masked MSE per channel group (body, face, left / right hand),
  weighted per group (``group_weights``), plus the decoder's component-visibility BCE. The
  per-group errors are logged (``rec_<kind>``), so dev passes report reconstruction per group.
* Stage-2 ``pose`` losses decode through the frozen decoder and average the per-group errors
  with ``group_weights`` (the hands, which spell, weighted up as in the autoencoder).
* :class:`LatentRegressorObjective`: ``pose`` reconstruction through the frozen decoder plus
  ``latent`` (0.1 in the design) MSE against the frozen encoder's latents; GAN-NAT's length,
  alignment-prior and duration losses train the length predictor and the token durations.
* :class:`LatentFlowObjective`: rectified flow matching on the encoder's latents:
  ``z_t = (1 - t) z_0 + t z_1`` with ``z_0 ~ N(0, I)``, target velocity ``z_1 - z_0``; the text
  is dropped (zeroed states) with probability ``cond_dropout`` for classifier-free guidance.
  ``pose`` (optional) decodes the one-step estimate ``z_t + (1 - t) v`` and compares poses.
  With a prior (``model.prior``), ``prior_loss`` picks its objective: ``marginal`` trains it on
  the flow target, unconditioned (its minimiser is the marginal velocity, and the prior never
  pulls the flow network); ``design`` is the design's regulariser ``||v_flow - v_prior||^2``,
  weighted by the same ``(1 - t)`` that anneals the prior's velocity in sampling, with gradients
  into both networks. With a sync head (``model.sync_head``), ``sync_head`` trains it to predict,
  from ``z_t`` and ``t``, the hand and face motion of each latent frame of the real pose
  (:func:`motion_targets`), which sync guidance then differentiates.
* :class:`DistillObjective`: the student jumps ``h = 1/k`` (k in 1, 2, 4) along the teacher's
  guided ODE trajectory: ``||z_s + h v_student(z_s, s, h) - z_teacher(s + h)||^2``.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Literal

import torch
import torch.nn.functional as F

from text2sign.config import bounded
from text2sign.errors import ConfigError
from text2sign.models.gan_nat import lengths_to_bins
from text2sign.models.latent import LatentEncoder, LatentGenerator, PoseAutoencoder, latent_lengths
from text2sign.objectives.base import Objective
from text2sign.objectives.gan_nat import (
    alignment_losses,
    encoder_inputs,
    feature_weights,
    visibility_loss,
)
from text2sign.pose.features import group_columns
from text2sign.pose.layout import get_layout
from text2sign.schedulers.flow import euler_sample
from text2sign.text.inputs import model_input
from text2sign.text.layers import lengths_to_mask


def masked_mse(pred: torch.Tensor, target: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    weight = weight.to(pred.dtype)
    return (((pred - target) ** 2) * weight).sum() / weight.sum().clamp(min=1.0)


def column_tensors(layout_name: str, kinds, dims: int) -> dict[str, torch.Tensor]:
    """:func:`~text2sign.pose.features.group_columns` as index tensors."""
    return {kind: torch.from_numpy(cols) for kind, cols in group_columns(layout_name, kinds, dims).items()}


def group_errors(recon, real, weights, columns: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Masked MSE per channel group."""
    return {kind: masked_mse(recon[..., cols], real[..., cols], weights[..., cols]) for kind, cols in columns.items()}


@dataclass
class AutoencoderObjectiveConfig:
    group_weights: dict[str, float] = field(
        default_factory=lambda: {"body": 1.0, "face": 1.0, "left_hand": 1.0, "right_hand": 1.0}
    )
    visibility: float = bounded(0.5, min=0.0)


class AutoencoderObjective(Objective):
    def __init__(self, autoencoder: PoseAutoencoder, cfg: AutoencoderObjectiveConfig):
        super().__init__()
        self.autoencoder = autoencoder
        self.cfg = cfg
        ae = autoencoder.cfg
        self.dims = get_layout(ae.layout).dims
        self.columns = column_tensors(ae.layout, ae.kinds, self.dims)

    def forward(self, batch: Any, group: str = "model") -> dict[str, torch.Tensor]:
        real, frame_mask = batch.features, batch.frame_mask
        recon, visibility, _ = self.autoencoder(real, frame_mask)
        weights = feature_weights(frame_mask, batch.joint_mask, self.dims)
        errors = group_errors(recon, real, weights, self.columns)
        loss = sum(self.cfg.group_weights.get(kind, 1.0) * e for kind, e in errors.items())
        vis = visibility_loss(visibility, batch.joint_mask, frame_mask, self.autoencoder.decoder.component_sizes)
        out = {
            "loss": loss + self.cfg.visibility * vis,
            "visibility": vis.detach(),
            "rec": masked_mse(recon, real, weights).detach(),
        }
        out.update({f"rec_{kind}": e.detach() for kind, e in errors.items()})
        return out

    def inference_model(self) -> PoseAutoencoder:
        return self.autoencoder


@dataclass
class LatentObjectiveConfig:
    """Stage-2 losses. ``pose`` and ``latent``: the design's 1 and 0.1 (regressor); ``flow``: the
    flow-matching MSE; ``length`` / ``prior`` / ``duration`` as in GAN-NAT (objectives/gan_nat.py)."""

    pose: float = bounded(1.0, min=0.0)
    latent: float = bounded(0.1, min=0.0)
    flow: float = bounded(1.0, min=0.0)
    length: float = bounded(0.1, min=0.0)
    prior: float = bounded(1.0, min=0.0)
    duration: float = bounded(0.1, min=0.0)
    visibility: float = bounded(0.1, min=0.0)
    ssm_prior: float = bounded(1.0, min=0.0)  # the prior's loss (model.prior); the design: 0.1
    # "marginal": the prior regresses the flow target; "design": ||v_flow - v_prior||^2 (the design's).
    prior_loss: Literal["marginal", "design"] = "marginal"
    sync_head: float = bounded(1.0, min=0.0)  # the sync head's motion regression (model.sync_head)
    alignment_warmup: int = bounded(300, min=0)
    # The pose loss as a weighted mean of per-group errors: the hands spell the letters and are
    # few features next to the face (the autoencoder's reconstruction read back 36 % CER with
    # the face dominating a plain mean, 14 % with the hands weighted up).
    group_weights: dict[str, float] = field(
        default_factory=lambda: {"body": 1.0, "face": 1.0, "left_hand": 1.0, "right_hand": 1.0}
    )
    cond_dropout: float = bounded(0.1, min=0.0, max=1.0)  # text dropped for classifier-free guidance
    # Distillation: the teacher's ODE steps per trajectory and its sampling settings.
    teacher_steps: int = bounded(16, min=4, max=1000)
    guidance_scale: float = bounded(2.0, min=0.0, max=20.0)
    lambda_prior: float = bounded(0.0, min=0.0, max=10.0)
    student_steps: list[int] = field(default_factory=lambda: [1, 2, 4])
    # What picks the best checkpoint: dev losses, or the read-back CER of the generated dev words.
    dev_metric: Literal["loss", "cer"] = "loss"

    def __post_init__(self) -> None:
        # A student's jump must end on a step of the teacher's grid.
        bad = [k for k in self.student_steps if k < 1 or self.teacher_steps % k]
        if bad or not self.student_steps:
            raise ConfigError(
                f"objective.student_steps {self.student_steps} must be divisors of teacher_steps {self.teacher_steps}"
            )


class _Stage2(Objective):
    """What regressor and flow share: frozen encoder targets, text encoding, length and alignment."""

    def __init__(self, generator: LatentGenerator, encoder: LatentEncoder, cfg: LatentObjectiveConfig):
        super().__init__()
        self.generator = generator
        self.encoder = None if encoder is None else encoder.requires_grad_(False).eval()
        self.cfg = cfg
        ae = generator.cfg.autoencoder
        self.dims = get_layout(ae.layout).dims
        self.columns = column_tensors(ae.layout, ae.kinds, self.dims)
        self.step = 0

    def schedule(self, step: int):
        self.step = step
        return ("model",)

    def param_groups(self):
        return {"model": [p for p in self.generator.parameters() if p.requires_grad]}

    def train(self, mode: bool = True):
        super().train(mode)
        if self.encoder is not None:
            self.encoder.eval()
        return self

    def inference_model(self) -> LatentGenerator:
        return self.generator

    def encode_batch(self, batch):
        return self.generator.encode(*encoder_inputs(batch, self.generator.cfg.predictor))

    def targets(self, batch):
        """Encoder latents ``(B, L, Z)``, their lengths and mask."""
        with torch.no_grad():
            z1 = self.encoder(batch.features, batch.frame_mask)
        lengths = latent_lengths(batch.lengths, self.generator.cfg.autoencoder.downsample)
        return z1, lengths, lengths_to_mask(lengths, z1.shape[1])

    def common_losses(self, states, text_mask, z1, lengths, latent_mask):
        """Durations aligned on the target latents, and the length / prior / duration losses (the
        last three only with ``alignment: durations``: other alignments place tokens without a
        duration head, so there is nothing to align; their durations are None)."""
        predictor = self.generator.predictor
        durations, losses = None, {}
        if predictor.duration_head is not None:
            weights = latent_mask[..., None].expand_as(z1)
            warming_up = self.step < self.cfg.alignment_warmup
            durations, losses = alignment_losses(predictor, states, text_mask, z1, weights, lengths, warming_up, 1.0)
        logits = predictor.length_logits(states, text_mask)
        losses["length"] = F.cross_entropy(logits, lengths_to_bins(lengths, predictor.cfg))
        return durations, losses

    def pose_losses(self, latents, lengths, batch) -> dict[str, torch.Tensor]:
        recon, visibility = self.generator.decode(latents, lengths)
        t = batch.features.shape[1]
        recon, visibility = recon[:, :t], visibility[:, :t]
        weights = feature_weights(batch.frame_mask, batch.joint_mask, self.dims)
        errors = group_errors(recon, batch.features, weights, self.columns)
        group_weights = {kind: self.cfg.group_weights.get(kind, 1.0) for kind in errors}
        return {
            "pose": sum(group_weights[k] * e for k, e in errors.items()) / max(sum(group_weights.values()), 1e-8),
            "visibility": visibility_loss(
                visibility, batch.joint_mask, batch.frame_mask, self.generator.component_sizes
            ),
        }

    def total(self, losses: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        loss = sum(getattr(self.cfg, name) * value for name, value in losses.items())
        return {"loss": loss, **{k: v.detach() for k, v in losses.items()}}


class LatentRegressorObjective(_Stage2):
    def forward(self, batch: Any, group: str = "model") -> dict[str, torch.Tensor]:
        states, text_mask = self.encode_batch(batch)
        z1, lengths, latent_mask = self.targets(batch)
        durations, losses = self.common_losses(states, text_mask, z1, lengths, latent_mask)
        z = self.generator.regress(states, text_mask, lengths, z1.shape[1], durations)
        losses["latent"] = masked_mse(z, z1, latent_mask[..., None].expand_as(z1))
        losses.update(self.pose_losses(z, lengths, batch))
        return self.total(losses)


def motion_targets(features, weights, columns: dict[str, torch.Tensor], downsample: int, num_latent: int):
    """What the sync head learns: per latent frame, the mean absolute frame-to-frame change of the
    observed hand and of the observed face features ``(B, L, 2)``, and a mask ``(B, L, 2)`` of where
    any was observed (a hand out of view, or padding, is no evidence of stillness)."""
    change = (features[:, 1:] - features[:, :-1]).abs()  # (B, T-1, F)
    both = (weights[:, 1:] & weights[:, :-1]).to(features.dtype)
    hands = torch.cat([columns[k] for k in ("left_hand", "right_hand") if k in columns])
    energies, seen = [], []
    for cols in (hands, columns["face"]):
        w = both[..., cols]
        count = w.sum(-1)  # (B, T-1)
        energies.append((change[..., cols] * w).sum(-1) / count.clamp(min=1.0))
        seen.append(count > 0)
    # Frame i's motion is its change from frame i - 1; the first frame has none.
    energy = F.pad(torch.stack(energies, -1), (0, 0, 1, 0))  # (B, T, 2)
    observed = F.pad(torch.stack(seen, -1), (0, 0, 1, 0)).to(features.dtype)
    pad = num_latent * downsample - energy.shape[1]
    energy = F.pad(energy, (0, 0, 0, pad)).view(len(energy), num_latent, downsample, 2)
    observed = F.pad(observed, (0, 0, 0, pad)).view(len(energy), num_latent, downsample, 2)
    count = observed.sum(2)  # (B, L, 2)
    return (energy * observed).sum(2) / count.clamp(min=1.0), count > 0


class LatentFlowObjective(_Stage2):
    def __init__(self, generator: LatentGenerator, encoder: LatentEncoder, cfg: LatentObjectiveConfig):
        super().__init__(generator, encoder, cfg)
        hands = {"left_hand", "right_hand"} & set(self.columns)
        if generator.sync_head is not None and (not hands or "face" not in self.columns):
            raise ConfigError(
                f"model.sync_head: the sync head learns hand-face timing, but the autoencoder's kinds are "
                f"{', '.join(self.columns)}"
            )

    def forward(self, batch: Any, group: str = "model") -> dict[str, torch.Tensor]:
        states, text_mask = self.encode_batch(batch)
        z1, lengths, latent_mask = self.targets(batch)
        durations, losses = self.common_losses(states, text_mask, z1, lengths, latent_mask)
        b = len(lengths)
        if self.training and self.cfg.cond_dropout > 0:
            keep = (torch.rand(b, device=z1.device) >= self.cfg.cond_dropout).to(states.dtype)
            states = states * keep[:, None, None]
        z0 = torch.randn_like(z1)
        t = torch.rand(b, device=z1.device)
        z_t = (1 - t[:, None, None]) * z0 + t[:, None, None] * z1
        target = z1 - z0
        weights = latent_mask[..., None].expand_as(z1)
        v = self.generator.velocity(states, text_mask, lengths, z_t, t, durations=durations)
        losses["flow"] = masked_mse(v, target, weights)
        if self.cfg.pose > 0:
            losses.update(self.pose_losses(z_t + (1 - t[:, None, None]) * v, lengths, batch))
        if self.generator.prior is not None:
            v_prior = self.generator.prior_velocity(z_t, t, latent_mask)
            if self.cfg.prior_loss == "design":
                anneal = (1 - t)[:, None, None]  # the design's lambda(t) = lambda (1 - t)
                losses["ssm_prior"] = ((v - v_prior) ** 2 * weights * anneal).sum() / weights.sum().clamp(min=1.0)
            else:
                losses["ssm_prior"] = masked_mse(v_prior, target, weights)
        if self.generator.sync_head is not None:
            motion, observed = motion_targets(
                batch.features,
                feature_weights(batch.frame_mask, batch.joint_mask, self.dims),
                self.columns,
                self.generator.cfg.autoencoder.downsample,
                z1.shape[1],
            )
            predicted = self.generator.sync_signals(z_t, t, latent_mask)
            losses["sync_head"] = masked_mse(predicted, motion, observed & latent_mask[..., None])
        return self.total(losses)


class DistillObjective(_Stage2):
    """Student (trainable) and teacher (frozen) LatentGenerators; the student starts as the teacher."""

    def __init__(self, student: LatentGenerator, teacher: LatentGenerator, cfg: LatentObjectiveConfig):
        super().__init__(student, None, cfg)
        self.teacher = teacher.requires_grad_(False).eval()
        # Length and durations stay the teacher's: the student learns only to jump along its paths.
        for head in (student.predictor.length_head, student.predictor.duration_head, student.predictor.prior_head):
            if head is not None:
                head.requires_grad_(False)

    def train(self, mode: bool = True):
        super().train(mode)
        self.teacher.eval()
        return self

    def forward(self, batch: Any, group: str = "model") -> dict[str, torch.Tensor]:
        cfg = self.cfg
        states, text_mask = self.encode_batch(batch)
        lengths = latent_lengths(batch.lengths, self.generator.cfg.autoencoder.downsample)
        b, n = len(lengths), int(lengths.max())
        latent_mask = lengths_to_mask(lengths, n)
        z1 = torch.zeros(b, n, self.generator.cfg.autoencoder.latent_dim, device=lengths.device)
        k = int(cfg.student_steps[int(torch.randint(len(cfg.student_steps), ()))])
        per_jump = cfg.teacher_steps // k
        start = int(torch.randint(k, ()))
        with torch.no_grad():
            t_states, t_mask = self.teacher.encode(
                [model_input(t, g, self.teacher.cfg.predictor.input) for t, g in zip(batch.texts, batch.glosses)],
                batch.signed_languages,
            )
            ctx, _ = self.teacher.predictor.encode_text(t_states, t_mask)
            teacher = self.teacher.predictor
            durations = teacher.log_durations(ctx).exp() if teacher.duration_head is not None else None
            z = torch.randn_like(z1)
            velocity = self.teacher.guided_velocity(
                t_states, t_mask, lengths, durations, cfg.guidance_scale, cfg.lambda_prior
            )
            z_s = euler_sample(velocity, z, cfg.teacher_steps, stop=start * per_jump)
            target = euler_sample(velocity, z_s, cfg.teacher_steps, begin=start * per_jump, stop=(start + 1) * per_jump)
        s = torch.full((b,), start / k, device=z1.device)
        h = torch.full((b,), 1.0 / k, device=z1.device)
        v = self.generator.velocity(states, text_mask, lengths, z_s, s, h, durations=durations)
        jumped = z_s + v / k
        weights = latent_mask[..., None].expand_as(z1)
        losses = {"flow": masked_mse(jumped, target, weights)}
        return self.total(losses)


def copy_generator(generator: LatentGenerator, **changes) -> LatentGenerator:
    """A new generator with `changes` to its config and the weights of `generator` where they fit."""
    import dataclasses

    student = LatentGenerator(dataclasses.replace(generator.cfg, **changes))
    student.load_state_dict(copy.deepcopy(generator.state_dict()))
    return student
