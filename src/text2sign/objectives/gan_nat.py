"""The GAN-NAT objective: reconstruction, geometry, length and adversarial losses around the networks.

Generator step (``generator_losses``), with the real lengths as teacher forcing:

* ``position`` / ``velocity`` / ``acceleration``: Huber between generated and real features,
  their first and second time differences. Only real frames and observed joints count; a
  difference counts only where every frame it spans is real and the joint observed in each.
* ``bone``: Huber between generated and real bone lengths, over the layout's bones whose two
  joints are both among the chosen kinds and observed in the real frame. Lengths are measured
  on de-standardized (shoulder-normalized) coordinates, ``x = features * std + mean``, because a
  bone length in standardized units would mix the per-coordinate scales of its two joints.
  With ``bone_term: design`` the term is instead the design's ``bone_length_consistency``: per
  generated frame, the variance (unbiased, over 3 values) of shoulder width, hip width and spine
  length (shoulder midpoint to hip midpoint), averaged over real frames. It needs no real pose,
  and it pulls the three lengths toward each other rather than toward the signer's; it is
  measured on the same de-standardized coordinates (the design, on standardized features).
* ``length``: cross-entropy of the length predictor against the real lengths' bins.
* ``prior`` / ``duration`` (generators with ``alignment: durations``): the real frames are
  aligned to the text tokens by monotonic alignment search against ``prior_states`` mean poses
  per token, each owning a sub-run of at least one frame
  (:func:`text2sign.models.alignment.monotonic_alignment`; equal runs for the first
  ``alignment_warmup`` steps, while those means are still noise). ``prior`` is the Huber loss of
  the aligned means against the real frames, ``duration`` the squared error of the predicted
  log durations against the aligned ones. The decoder is then trained on the aligned runs.
* ``adversarial``: hinge generator loss ``-mean D(fake)`` over real frames.

Discriminator step (``discriminator_losses``): hinge ``relu(1 - D(real)) + relu(1 + D(fake))``
averaged over real frames, plus ``r1 / 2 * E ||grad_real D||^2`` when ``r1 > 0``.

Every weight is in :class:`GanNatObjectiveConfig`; a weight of 0 skips its term. The objective
follows :class:`text2sign.objectives.base.Objective` (``param_groups``, ``schedule``,
``forward(batch, group)``, ``inference_model``). What it reads from a batch (a ``PoseBatch``):
``features (B, T, F)``, ``frame_mask (B, T)``, ``joint_mask (B, T, J)``, ``lengths (B,)``,
``texts`` and ``signed_languages``.
"""

from __future__ import annotations

import contextlib
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from text2sign.errors import ConfigError
from text2sign.models.alignment import duration_ends, equal_durations, frame_token_index, monotonic_alignment, per_frame
from text2sign.models.gan_nat import (
    DiscriminatorConfig,
    GanNatConfig,
    GanNatGenerator,
    TemporalDiscriminator,
    config_from_dict,
    lengths_to_bins,
)
from text2sign.objectives.base import Objective
from text2sign.pose.features import feature_joint_indices, select_feature_stats
from text2sign.pose.layout import Layout, get_layout
from text2sign.pose.normalize import FeatureStats
from text2sign.text.encoders import resolve_text_config
from text2sign.text.inputs import model_input
from text2sign.text.layers import masked_mean


@dataclass
class GanNatObjectiveConfig:
    position: float = 1.0
    velocity: float = 1.0
    acceleration: float = 0.5
    bone: float = 0.1
    # "match": Huber to the real bone lengths (ours); "design": the design's torso-length variance.
    bone_term: Literal["match", "design"] = "match"
    length: float = 0.1
    visibility: float = 0.5  # BCE of per-frame component visibility (generators that predict it)
    prior: float = 1.0  # per-token mean poses that alignment search matches (alignment: durations)
    duration: float = 0.1  # log-duration regression against the searched alignment
    alignment_warmup: int = 500  # steps on equal runs before alignment search takes over
    # What picks the best checkpoint: the generator's dev losses, or the read-back CER of the
    # generated dev words by the shipped recognizer (slower: every dev word is generated and read).
    dev_metric: Literal["loss", "cer"] = "loss"
    adversarial: float = 0.05
    adversarial_start: int = 0  # steps of reconstruction-only training before the GAN terms start
    r1: float = 0.0  # R1 gamma; 0 turns the penalty off
    huber_delta: float = 1.0  # in standardized feature units
    bone_delta: float = 0.05  # in shoulder widths
    discriminator: DiscriminatorConfig = field(default_factory=DiscriminatorConfig)

    def __post_init__(self) -> None:
        for name in ("position", "velocity", "acceleration", "bone", "length", "visibility", "prior", "duration",
                     "adversarial", "r1", "alignment_warmup"):  # fmt: skip
            if getattr(self, name) < 0:
                raise ConfigError(f"objective.{name} must be >= 0, got {getattr(self, name)}")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> GanNatObjectiveConfig:
        d = dict(d)
        if isinstance(d.get("discriminator"), dict):
            d["discriminator"] = config_from_dict(DiscriminatorConfig, d["discriminator"])
        return config_from_dict(cls, d)


# --- feature geometry --------------------------------------------------------------------------


# The design's torso joints (MediaPipe Pose names), in the order `torso_lengths` reads them.
TORSO_JOINTS = ("LEFT_SHOULDER", "RIGHT_SHOULDER", "LEFT_HIP", "RIGHT_HIP")


class FeatureGeometry(nn.Module):
    """Bones of the chosen joints and the statistics that turn features back into coordinates.

    `torso`: feature joint positions of :data:`TORSO_JOINTS`, or None when the chosen joints lack
    any of them (only the design's bone term needs them)."""

    def __init__(
        self, bones: np.ndarray, mean: np.ndarray, std: np.ndarray, dims: int, torso: tuple[int, ...] | None = None
    ):
        super().__init__()
        self.dims = dims
        # Not persistent: they are data facts (layout + normalization.json), not learned weights.
        self.register_buffer("bones", torch.as_tensor(bones, dtype=torch.long).reshape(-1, 2), persistent=False)
        self.register_buffer("mean", torch.as_tensor(mean, dtype=torch.float32).reshape(-1, dims), persistent=False)
        self.register_buffer("std", torch.as_tensor(std, dtype=torch.float32).reshape(-1, dims), persistent=False)
        self.torso = tuple(torso) if torso is not None else None

    @classmethod
    def from_layout(
        cls, layout: Layout | str, kinds: tuple[str, ...] | list[str] | None, stats: FeatureStats
    ) -> FeatureGeometry:
        layout = get_layout(layout) if isinstance(layout, str) else layout
        stats = select_feature_stats(stats, layout, kinds)
        index = feature_joint_indices(layout, kinds)
        position = {int(j): i for i, j in enumerate(index)}
        bones = [(position[a], position[b]) for a, b in layout.bones.tolist() if a in position and b in position]
        body = {p for c in layout.components if c.kind == "body" for p in c.points}
        torso = None
        if set(TORSO_JOINTS) <= body and all(layout.joint_index(n) in position for n in TORSO_JOINTS):
            torso = tuple(position[layout.joint_index(n)] for n in TORSO_JOINTS)
        return cls(np.asarray(bones, dtype=np.int64).reshape(-1, 2), stats.mean, stats.std, layout.dims, torso)

    def coordinates(self, features: torch.Tensor) -> torch.Tensor:
        """``(B, T, F)`` standardized features -> ``(B, T, J, D)`` shoulder-normalized coordinates."""
        b, t, _ = features.shape
        return features.view(b, t, -1, self.dims) * self.std + self.mean

    def bone_lengths(self, features: torch.Tensor) -> torch.Tensor:
        """``(B, T, num_bones)`` Euclidean bone lengths."""
        xyz = self.coordinates(features)
        diff = xyz[:, :, self.bones[:, 0]] - xyz[:, :, self.bones[:, 1]]  # (B, T, NB, D)
        # The epsilon keeps the gradient finite when a generated bone collapses to zero length.
        return torch.sqrt((diff**2).sum(dim=-1) + 1e-8)

    def bone_mask(self, joint_mask: torch.Tensor) -> torch.Tensor:
        """``(B, T, num_bones)``: both joints of the bone observed."""
        return joint_mask[:, :, self.bones[:, 0]] & joint_mask[:, :, self.bones[:, 1]]

    def torso_lengths(self, features: torch.Tensor) -> torch.Tensor:
        """``(B, T, 3)``: shoulder width, hip width and spine length (shoulder to hip midpoints)."""
        if self.torso is None:
            raise ConfigError(f"the design's bone term needs the body joints {', '.join(TORSO_JOINTS)}")
        ls, rs, lh, rh = self.coordinates(features)[:, :, list(self.torso)].unbind(dim=2)  # each (B, T, D)
        spans = torch.stack([ls - rs, lh - rh, 0.5 * (ls + rs) - 0.5 * (lh + rh)], dim=2)  # (B, T, 3, D)
        return torch.sqrt((spans**2).sum(dim=-1) + 1e-8)


# --- loss terms (pure functions on tensors) ------------------------------------------------------


def masked_huber(pred: torch.Tensor, target: torch.Tensor, weight: torch.Tensor, delta: float) -> torch.Tensor:
    """Huber loss averaged over the elements where `weight` is nonzero (0 when there are none)."""
    weight = weight.to(pred.dtype)
    loss = F.huber_loss(pred, target, reduction="none", delta=delta)
    return (loss * weight).sum() / weight.sum().clamp(min=1.0)


def feature_weights(frame_mask: torch.Tensor, joint_mask: torch.Tensor, dims: int) -> torch.Tensor:
    """``(B, T, F)`` bool: real frame and observed joint, repeated over each joint's `dims` coordinates."""
    observed = joint_mask & frame_mask[..., None]  # (B, T, J)
    return observed.repeat_interleave(dims, dim=-1)


def reconstruction_losses(
    fake: torch.Tensor, real: torch.Tensor, weights: torch.Tensor, delta: float
) -> dict[str, torch.Tensor]:
    """Huber on positions, velocities and accelerations over valid elements (see module docstring)."""
    w = weights
    v_fake, v_real = fake[:, 1:] - fake[:, :-1], real[:, 1:] - real[:, :-1]
    w_v = w[:, 1:] & w[:, :-1]
    a_fake, a_real = v_fake[:, 1:] - v_fake[:, :-1], v_real[:, 1:] - v_real[:, :-1]
    w_a = w_v[:, 1:] & w_v[:, :-1]
    return {
        "position": masked_huber(fake, real, w, delta),
        "velocity": masked_huber(v_fake, v_real, w_v, delta),
        "acceleration": masked_huber(a_fake, a_real, w_a, delta),
    }


def bone_length_loss(
    fake: torch.Tensor,
    real: torch.Tensor,
    joint_mask: torch.Tensor,
    frame_mask: torch.Tensor,
    geometry: FeatureGeometry,
    delta: float,
) -> torch.Tensor:
    """Huber between generated and real bone lengths where the real bone is seen in a real frame."""
    valid = geometry.bone_mask(joint_mask) & frame_mask[..., None]  # (B, T, NB)
    return masked_huber(geometry.bone_lengths(fake), geometry.bone_lengths(real), valid, delta)


def design_bone_loss(fake: torch.Tensor, frame_mask: torch.Tensor, geometry: FeatureGeometry) -> torch.Tensor:
    """The design's ``bone_length_consistency``: variance of the three torso lengths of each
    generated frame (unbiased, as ``torch.var``), averaged over real frames only."""
    return masked_frame_mean(geometry.torso_lengths(fake).var(dim=-1), frame_mask)


def component_visible(joint_mask: torch.Tensor, sizes: list[int]) -> torch.Tensor:
    """``(B, T, C)``: a component is visible in a frame when any of its joints is observed."""
    return torch.stack([part.any(dim=-1) for part in torch.split(joint_mask, sizes, dim=-1)], dim=-1)


def visibility_loss(
    logits: torch.Tensor, joint_mask: torch.Tensor, frame_mask: torch.Tensor, sizes: list[int]
) -> torch.Tensor:
    """Binary cross-entropy of predicted component visibility, over real frames only."""
    target = component_visible(joint_mask, sizes).to(logits.dtype)  # (B, T, C)
    frame_losses = F.binary_cross_entropy_with_logits(logits, target, reduction="none").mean(dim=-1)  # (B, T)
    return masked_frame_mean(frame_losses, frame_mask)


def weighted_square_distances(frames: torch.Tensor, means: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """``(B, T, L)``: squared distance from every frame ``(B, T, F)`` to every token mean ``(B, L, F)``
    over the frame's observed features (`weights`, ``(B, T, F)``)."""
    w = weights.to(frames.dtype)
    frame_part = (w * frames**2).sum(dim=-1, keepdim=True)  # (B, T, 1)
    cross = torch.bmm(w * frames, means.transpose(1, 2))  # (B, T, L)
    mean_part = torch.bmm(w, (means**2).transpose(1, 2))  # (B, T, L)
    return (frame_part - 2 * cross + mean_part).clamp(min=0)


def masked_frame_mean(scores: torch.Tensor, frame_mask: torch.Tensor) -> torch.Tensor:
    m = frame_mask.to(scores.dtype)
    return (scores * m).sum() / m.sum().clamp(min=1.0)


def hinge_discriminator_loss(
    real_scores: torch.Tensor, fake_scores: torch.Tensor, frame_mask: torch.Tensor
) -> torch.Tensor:
    return masked_frame_mean(F.relu(1.0 - real_scores), frame_mask) + masked_frame_mean(
        F.relu(1.0 + fake_scores), frame_mask
    )


def hinge_generator_loss(fake_scores: torch.Tensor, frame_mask: torch.Tensor) -> torch.Tensor:
    return -masked_frame_mean(fake_scores, frame_mask)


def r1_penalty(real_scores: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """Mean over the batch of ``||d sum(D(real)) / d real||^2`` (`real` must require grad)."""
    (grad,) = torch.autograd.grad(real_scores.sum(), real, create_graph=True)
    return grad.pow(2).flatten(1).sum(dim=1).mean()


@contextlib.contextmanager
def frozen(module: nn.Module):
    """Parameters of `module` take no gradient inside the block (the generator step's critic)."""
    flags = [p.requires_grad for p in module.parameters()]
    module.requires_grad_(False)
    try:
        yield
    finally:
        for p, flag in zip(module.parameters(), flags):
            p.requires_grad_(flag)


# --- the objective ---------------------------------------------------------------------------------


class GanNatObjective(Objective):
    """Generator (with its text encoder) + discriminator + the losses above.

    `geometry` (a :class:`FeatureGeometry`) is required when the bone weight is > 0.
    """

    def __init__(
        self,
        generator: GanNatGenerator,
        discriminator: TemporalDiscriminator,
        cfg: GanNatObjectiveConfig,
        geometry: FeatureGeometry | None = None,
    ):
        super().__init__()
        if cfg.bone > 0 and geometry is None:
            raise ConfigError("the bone-length loss needs the feature geometry (layout bones + feature statistics)")
        if cfg.bone > 0 and cfg.bone_term == "design" and geometry.torso is None:
            raise ConfigError(
                f"objective.bone_term 'design' needs the body joints {', '.join(TORSO_JOINTS)} among model.kinds"
            )
        self.generator = generator
        self.discriminator = discriminator
        self.cfg = cfg
        self.geometry = geometry
        self.step = 0

    # The training loop's interface (text2sign.objectives.base.Objective).

    def param_groups(self) -> dict[str, list[nn.Parameter]]:
        return self.parameter_groups()

    def schedule(self, step: int) -> tuple[str, ...]:
        self.step = step
        return ("discriminator", "generator") if self.adversarial_active else ("generator",)

    def forward(self, batch: Any, group: str) -> dict[str, torch.Tensor]:
        if group == "generator":
            return self.generator_losses(batch)
        if group == "discriminator":
            return self.discriminator_losses(batch)
        raise ValueError(f"unknown parameter group {group!r}; GAN-NAT has 'generator' and 'discriminator'")

    def dev_losses(self, batch: Any) -> dict[str, torch.Tensor]:
        return self.generator_losses(batch)

    def inference_model(self) -> GanNatGenerator:
        return self.generator

    # The GAN-NAT interface.

    @property
    def adversarial_active(self) -> bool:
        return self.cfg.adversarial > 0 and self.step >= self.cfg.adversarial_start

    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        return {
            "generator": [p for p in self.generator.parameters() if p.requires_grad],
            "discriminator": [p for p in self.discriminator.parameters() if p.requires_grad],
        }

    def text_condition(self, states: torch.Tensor, mask: torch.Tensor) -> torch.Tensor | None:
        # Detached: the critic must not train the text encoder, nor the generator game its condition.
        return masked_mean(states, mask).detach() if self.discriminator.cond_dim else None

    def encode_batch(self, batch: Any) -> tuple[torch.Tensor, torch.Tensor]:
        return self.generator.encode(*encoder_inputs(batch, self.generator.cfg))

    def generator_losses(self, batch: Any) -> dict[str, torch.Tensor]:
        cfg = self.cfg
        real, frame_mask = batch.features, batch.frame_mask
        states, text_mask = self.encode_batch(batch)
        weights = feature_weights(frame_mask, batch.joint_mask, real.shape[-1] // batch.joint_mask.shape[-1])
        durations, losses = None, {}
        if self.generator.cfg.alignment == "durations":
            durations, losses = self.alignment_losses(states, text_mask, real, weights, batch.lengths)
        fake, visibility = self.generator.forward_with_visibility(
            states, text_mask, batch.lengths, num_frames=real.shape[1], durations=durations
        )
        losses.update(reconstruction_losses(fake, real, weights, cfg.huber_delta))
        if visibility is not None:
            losses["visibility"] = visibility_loss(
                visibility, batch.joint_mask, frame_mask, self.generator.component_sizes
            )
        if cfg.bone > 0 and cfg.bone_term == "design":
            losses["bone"] = design_bone_loss(fake, frame_mask, self.geometry)
        elif cfg.bone > 0:
            losses["bone"] = bone_length_loss(fake, real, batch.joint_mask, frame_mask, self.geometry, cfg.bone_delta)
        logits = self.generator.length_logits(states, text_mask)
        target_bins = lengths_to_bins(batch.lengths, self.generator.cfg)
        losses["length"] = F.cross_entropy(logits, target_bins)
        if self.adversarial_active:
            with frozen(self.discriminator):
                scores = self.discriminator(fake, frame_mask, self.text_condition(states, text_mask))
            losses["adversarial"] = hinge_generator_loss(scores, frame_mask)
        total = sum(getattr(cfg, name) * value for name, value in losses.items())
        out = {"loss": total, **{k: v.detach() for k, v in losses.items()}}
        out["length_accuracy"] = (logits.argmax(dim=-1) == target_bins).float().mean().detach()
        return out

    def alignment_losses(
        self,
        states: torch.Tensor,
        text_mask: torch.Tensor,
        real: torch.Tensor,
        weights: torch.Tensor,
        lengths: torch.Tensor,
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        warming_up = self.step < self.cfg.alignment_warmup
        return alignment_losses(
            self.generator, states, text_mask, real, weights, lengths, warming_up, self.cfg.huber_delta
        )

    def discriminator_losses(self, batch: Any) -> dict[str, torch.Tensor]:
        real, frame_mask = batch.features, batch.frame_mask
        with torch.no_grad():
            states, text_mask = self.encode_batch(batch)
            fake = self.generator(states, text_mask, batch.lengths, num_frames=real.shape[1])
        cond = self.text_condition(states, text_mask)
        if self.cfg.r1 > 0:
            real = real.detach().requires_grad_(True)
        real_scores = self.discriminator(real, frame_mask, cond)  # (B, T)
        fake_scores = self.discriminator(fake, frame_mask, cond)
        hinge = hinge_discriminator_loss(real_scores, fake_scores, frame_mask)
        out = {"hinge": hinge.detach()}
        loss = hinge
        if self.cfg.r1 > 0:
            penalty = r1_penalty(real_scores, real)
            loss = loss + 0.5 * self.cfg.r1 * penalty
            out["r1"] = penalty.detach()
        out["real_score"] = masked_frame_mean(real_scores, frame_mask).detach()
        out["fake_score"] = masked_frame_mean(fake_scores, frame_mask).detach()
        return {"loss": loss, **out}


def encoder_inputs(batch: Any, cfg: GanNatConfig) -> tuple[list[str], list[str], list[str] | None]:
    """What a generator with config `cfg` encodes for `batch`: its inputs (text, gloss or both),
    the signed languages and, for a model trained with signers, the signers."""
    inputs = [model_input(t, g, cfg.input) for t, g in zip(batch.texts, batch.glosses)]
    return inputs, batch.signed_languages, batch.signers if cfg.text.signers else None


def alignment_losses(
    generator: GanNatGenerator,
    states: torch.Tensor,
    text_mask: torch.Tensor,
    targets: torch.Tensor,
    weights: torch.Tensor,
    lengths: torch.Tensor,
    warming_up: bool,
    huber_delta: float,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Durations ``(B, L)`` of the target frames aligned to the tokens, and the ``prior`` and
    ``duration`` losses. Equal runs while `warming_up`, then monotonic alignment search of the
    targets ``(B, T, F)`` against the generator's mean poses (any frames: poses or latents)."""
    ctx, _ = generator.encode_text(states, text_mask)
    means = generator.prior_means(ctx)  # (B, L * S, F): S sub-runs per token
    sub = generator.cfg.prior_states
    state_mask = text_mask.repeat_interleave(sub, dim=1)
    if warming_up:
        state_durations = equal_durations(state_mask, lengths)
    else:
        distances = weighted_square_distances(targets, means.detach(), weights)
        state_durations = monotonic_alignment(-distances, lengths, state_mask.sum(dim=1))
    durations = state_durations.view(len(lengths), -1, sub).sum(dim=-1)  # (B, L)
    index, _ = frame_token_index(duration_ends(state_durations, state_mask, lengths), targets.shape[1])
    # The duration head learns from the alignment; its error must not reshape the token states.
    predicted = generator.log_durations(ctx.detach())
    target = torch.log(durations.clamp(min=1).float())
    duration_error = masked_frame_mean((predicted - target) ** 2, text_mask)
    return durations, {
        "prior": masked_huber(per_frame(means, index), targets, weights, huber_delta),
        "duration": duration_error,
    }


def build_gan_nat_objective(
    model: GanNatConfig,
    objective: GanNatObjectiveConfig,
    *,
    layout: Layout | str,
    stats: FeatureStats,
    texts: list[str],
    signed_languages: list[str],
    fps: float,
) -> GanNatObjective:
    """Resolve `model` against the data (vocabulary, languages, feature size, layout, fps) and build everything.

    `texts` are the training texts (for the vocabulary / BPE), `signed_languages` the languages
    to condition on (used when ``model.text.signed_languages`` is empty). The resolved model
    config, which a checkpoint must store, is ``objective.generator.cfg``.
    """
    layout = get_layout(layout) if isinstance(layout, str) else layout
    kinds = tuple(model.kinds) if model.kinds else None
    text = resolve_text_config(model.text, texts)
    if not text.signed_languages:
        text.signed_languages = sorted(set(signed_languages))
    feature_dim = len(feature_joint_indices(layout, kinds)) * layout.dims
    resolved = GanNatConfig.from_dict(
        {
            **model.to_dict(),
            "text": text.to_dict(),
            "feature_dim": feature_dim,
            "layout": layout.name,
            "fps": float(fps),
        }
    )
    generator = GanNatGenerator(resolved)
    discriminator = TemporalDiscriminator(objective.discriminator, feature_dim, generator.text_encoder.output_dim)
    geometry = FeatureGeometry.from_layout(layout, kinds, stats) if objective.bone > 0 else None
    return GanNatObjective(generator, discriminator, objective, geometry)
