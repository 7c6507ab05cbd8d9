"""Latent-flow networks (design "latent flow"): a pose autoencoder and the text -> latent generator.

Networks only -- losses in :mod:`text2sign.objectives.latent`, sampling in
:mod:`text2sign.pipelines.latent`. Poses are ``(B, T, F)`` standardized feature frames with a
``(B, T)`` frame mask; latents are ``(B, T // r, Z)`` with ``r = downsample``.

* :class:`PoseAutoencoder` (stage 1): a transformer encoder over every channel (body, face, both
  hands) pooled ``r`` frames at a time to a latent sequence, and a :class:`LatentDecoder` that
  goes back coarse -> medium -> fine: transformer stages at the latent rate, at twice it (for
  ``r = 4``) and at the frame rate, each upsampling the one before. The latent is layer-normed
  without affine terms, so every latent frame has zero mean and unit variance: the scale a
  flow's Gaussian source assumes.
* :class:`LatentGenerator` (stage 2): a GAN-NAT generator (text encoder, length predictor,
  duration alignment, non-autoregressive transformer) that outputs latent frames, plus a copy of
  the frozen decoder, so a checkpoint turns text into poses alone. In ``regressor`` mode it
  predicts the latents directly; in ``flow`` mode it is the velocity network: each latent-frame
  query also reads the noisy latent ``z_t``, the flow time ``t`` and (a distilled student) the
  step size ``h``, through the generator's per-frame input (its style-noise slot). With
  ``queries: learned`` every latent-frame query also holds a learnable vector of its position
  (the design's ``num_queries`` learnable queries, cut to the target length; frames past them get
  none, the design's padding). An optional prior predicts an unconditional velocity that sampling
  adds with an annealed weight: :class:`SSMPrior` (Mamba, from the optional ``mambapy`` package)
  or :class:`TransformerPrior` (the design's fallback without Mamba; ``prior: ssm`` picks Mamba
  when it is installed). An optional :class:`SyncHead` reads noisy latents and predicts the hand
  and face motion of the pose they decode to: sync guidance differentiates its outputs instead of
  the decoder's.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from text2sign.config import bounded
from text2sign.errors import ConfigError
from text2sign.models.gan_nat import GanNatConfig, GanNatGenerator
from text2sign.pose.layout import check_kinds, get_layout
from text2sign.text.layers import TransformerBlock, lengths_to_mask, sinusoidal_embedding

ALL_KINDS = ["body", "face", "left_hand", "right_hand"]


@dataclass
class LatentAutoencoderConfig:
    """Stage 1; fields marked "filled from the data" are set by the family's build."""

    d_model: int = bounded(128, min=8, max=4096)
    heads: int = bounded(4, min=1, max=64)
    ff_mult: int = bounded(2, min=1, max=16)
    dropout: float = bounded(0.0, min=0.0, max=0.9)
    encoder_layers: int = bounded(2, min=1, max=48)
    coarse_layers: int = bounded(1, min=0, max=48)
    medium_layers: int = bounded(1, min=0, max=48)
    fine_layers: int = bounded(1, min=0, max=48)
    latent_dim: int = bounded(64, min=1, max=4096)
    downsample: Literal[1, 2, 4] = 2  # frames per latent frame
    feature_dim: int = bounded(0, min=0)  # filled from the data
    layout: str = ""  # filled from the data
    kinds: list[str] = field(default_factory=lambda: list(ALL_KINDS))
    fps: float = bounded(0.0, min=0.0, max=1000.0)  # filled from the data
    hand_relative: bool = True  # hand joints as offsets from their wrist (pose.features.hands_relative_to_wrist)
    # "pose": no compression -- the standardized frame is the latent and only a visibility head
    # is learnt, so the later stages run on frames (the design's latent-vs-pose ablation).
    space: Literal["latent", "pose"] = "latent"

    def __post_init__(self) -> None:
        if self.d_model % self.heads:
            raise ConfigError(f"autoencoder d_model {self.d_model} is not divisible by heads {self.heads}")
        if self.space == "pose" and self.downsample != 1:
            raise ConfigError(f"model.space: pose keeps every frame: set model.downsample: 1 (got {self.downsample})")
        check_kinds(self.kinds)


def component_sizes(layout_name: str, kinds) -> list[int]:
    """Joints per component of `kinds`, in feature order."""
    layout = get_layout(layout_name)
    return [len(c.points) for c in layout.components if c.kind in set(kinds)]


def latent_lengths(lengths: torch.Tensor, downsample: int) -> torch.Tensor:
    return (lengths + downsample - 1) // downsample


def _positions(num: int, dim: int, device) -> torch.Tensor:
    return sinusoidal_embedding(torch.arange(num, device=device, dtype=torch.float32), dim)[None]  # (1, T, d)


def _run(blocks: nn.ModuleList, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    key_mask = None if bool(mask.all()) else mask
    for block in blocks:
        x = block(x, key_mask)
    return x


class LatentEncoder(nn.Module):
    """``forward(features (B, T, F), frame_mask (B, T)) -> latents (B, ceil(T / r), Z)``."""

    def __init__(self, cfg: LatentAutoencoderConfig):
        super().__init__()
        self.cfg = cfg
        d = cfg.d_model
        self.inp = nn.Linear(cfg.feature_dim, d)
        self.blocks = nn.ModuleList(
            TransformerBlock(d, cfg.heads, cfg.ff_mult, cfg.dropout) for _ in range(cfg.encoder_layers)
        )
        self.norm = nn.LayerNorm(d)
        self.out = nn.Linear(d, cfg.latent_dim)
        self.latent_norm = nn.LayerNorm(cfg.latent_dim, elementwise_affine=False)

    def forward(self, features: torch.Tensor, frame_mask: torch.Tensor) -> torch.Tensor:
        r = self.cfg.downsample
        b, t, _ = features.shape
        x = self.inp(features) + _positions(t, self.cfg.d_model, features.device)  # (B, T, d)
        x = self.norm(_run(self.blocks, x, frame_mask))
        pad = (-t) % r
        m = F.pad(frame_mask, (0, pad)).to(x.dtype).view(b, -1, r, 1)  # (B, T/r, r, 1)
        x = F.pad(x, (0, 0, 0, pad)).view(b, -1, r, x.shape[-1])
        pooled = (x * m).sum(dim=2) / m.sum(dim=2).clamp(min=1.0)  # (B, T/r, d): mean over real frames
        return self.latent_norm(self.out(pooled))


class LatentDecoder(nn.Module):
    """``forward(latents (B, L, Z), latent_mask (B, L)) -> features (B, L * r, F), visibility logits (B, L * r, C)``."""

    def __init__(self, cfg: LatentAutoencoderConfig):
        super().__init__()
        self.cfg = cfg
        d = cfg.d_model

        def stage(n: int) -> nn.ModuleList:
            return nn.ModuleList(TransformerBlock(d, cfg.heads, cfg.ff_mult, cfg.dropout) for _ in range(n))

        self.inp = nn.Linear(cfg.latent_dim, d)
        self.coarse, self.medium, self.fine = stage(cfg.coarse_layers), stage(cfg.medium_layers), stage(cfg.fine_layers)
        self.norm = nn.LayerNorm(d)
        self.out = nn.Linear(d, cfg.feature_dim)
        self.component_sizes = component_sizes(cfg.layout, cfg.kinds)
        self.visibility = nn.Linear(d, len(self.component_sizes))

    def forward(self, latents: torch.Tensor, latent_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        r, d = self.cfg.downsample, self.cfg.d_model
        x = self.inp(latents) + _positions(latents.shape[1], d, latents.device)
        mask = latent_mask
        x = _run(self.coarse, x, mask)
        # Medium runs at half the frame rate when there is such a rate between latent and frames.
        for factor, blocks in ((max(r // 2, 1), self.medium), (r // max(r // 2, 1), self.fine)):
            if factor > 1:
                x = x.repeat_interleave(factor, dim=1) + _positions(x.shape[1] * factor, d, x.device)
                mask = mask.repeat_interleave(factor, dim=1)
            x = _run(blocks, x, mask)
        x = self.norm(x)
        return self.out(x) * mask[..., None], self.visibility(x)


class PoseSpaceEncoder(nn.Module):
    """``space: pose``: the standardized frames are the latents."""

    def __init__(self, cfg: LatentAutoencoderConfig):
        super().__init__()
        self.cfg = cfg

    def forward(self, features: torch.Tensor, frame_mask: torch.Tensor) -> torch.Tensor:
        return features * frame_mask[..., None]


class PoseSpaceDecoder(nn.Module):
    """``space: pose``: frames pass through; a small head says which components are in view."""

    def __init__(self, cfg: LatentAutoencoderConfig):
        super().__init__()
        self.cfg = cfg
        self.component_sizes = component_sizes(cfg.layout, cfg.kinds)
        self.visibility = nn.Sequential(
            nn.Linear(cfg.feature_dim, cfg.d_model), nn.GELU(), nn.Linear(cfg.d_model, len(self.component_sizes))
        )

    def forward(self, latents: torch.Tensor, latent_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return latents * latent_mask[..., None], self.visibility(latents)


def make_decoder(cfg: LatentAutoencoderConfig) -> nn.Module:
    return PoseSpaceDecoder(cfg) if cfg.space == "pose" else LatentDecoder(cfg)


class PoseAutoencoder(nn.Module):
    """Stage 1: ``forward(features, frame_mask) -> reconstruction (B, T, F), visibility (B, T, C), latents``."""

    def __init__(self, cfg: LatentAutoencoderConfig):
        super().__init__()
        if cfg.feature_dim < 1 or not cfg.layout:
            raise ConfigError(
                "LatentAutoencoderConfig.feature_dim and layout are not set: the builder fills them from the data"
            )
        if cfg.space == "pose" and cfg.latent_dim != cfg.feature_dim:
            raise ConfigError(
                f"a pose-space autoencoder's latent is the frame: latent_dim must be feature_dim {cfg.feature_dim}"
            )
        self.cfg = cfg
        self.encoder = PoseSpaceEncoder(cfg) if cfg.space == "pose" else LatentEncoder(cfg)
        self.decoder = make_decoder(cfg)

    def forward(self, features: torch.Tensor, frame_mask: torch.Tensor):
        t = features.shape[1]
        latents = self.encoder(features, frame_mask)
        lengths = latent_lengths(frame_mask.sum(dim=1), self.cfg.downsample)
        recon, visibility = self.decoder(latents, lengths_to_mask(lengths, latents.shape[1]))
        return recon[:, :t] * frame_mask[..., None], visibility[:, :t], latents


# --- stage 2 ---------------------------------------------------------------------------------


def mamba_available() -> bool:
    try:
        import mambapy.mamba  # noqa: F401
    except ImportError:
        return False
    return True


def resolve_prior(prior: str) -> str:
    """``ssm`` is the design's choice: Mamba when ``mambapy`` is installed, else the transformer
    prior (the design's own fallback); every other value is itself."""
    if prior == "ssm":
        return "mamba" if mamba_available() else "transformer"
    return prior


class SSMPrior(nn.Module):
    """Unconditional velocity ``v_prior(z_t, t)`` from a Mamba over the latent frames (``mambapy``).

    Causal, so the padding after a sequence never reaches its frames and no mask is needed."""

    def __init__(self, latent_dim: int, d_model: int, layers: int, time_features: int):
        super().__init__()
        try:
            from mambapy.mamba import Mamba, MambaConfig
        except ImportError:
            raise ConfigError(
                "model.prior: mamba needs the optional mambapy package: pip install 'text2sign[ssm]'"
            ) from None
        self.inp = nn.Linear(latent_dim + time_features, d_model)
        self.mamba = Mamba(MambaConfig(d_model=d_model, n_layers=layers))
        self.out = nn.Linear(d_model, latent_dim)

    def forward(self, z: torch.Tensor, time_features: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        return self.out(self.mamba(self.inp(torch.cat([z, time_features], dim=-1))))


class TransformerPrior(nn.Module):
    """:class:`SSMPrior`'s interface from transformer blocks (the design's fallback without Mamba):
    bidirectional, so `mask` ``(B, L)`` keeps the padding out of the attention."""

    def __init__(self, latent_dim: int, d_model: int, layers: int, time_features: int):
        super().__init__()
        heads = next(h for h in (4, 2, 1) if d_model % h == 0)
        self.inp = nn.Linear(latent_dim + time_features, d_model)
        self.blocks = nn.ModuleList(TransformerBlock(d_model, heads) for _ in range(layers))
        self.norm = nn.LayerNorm(d_model)
        self.out = nn.Linear(d_model, latent_dim)

    def forward(self, z: torch.Tensor, time_features: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        x = self.inp(torch.cat([z, time_features], dim=-1)) + _positions(z.shape[1], self.inp.out_features, z.device)
        key_mask = None if mask is None or bool(mask.all()) else mask
        for block in self.blocks:
            x = block(x, key_mask)
        return self.out(self.norm(x))


def make_prior(kind: str, latent_dim: int, d_model: int, layers: int, time_features: int) -> nn.Module | None:
    if kind == "mamba":
        return SSMPrior(latent_dim, d_model, layers, time_features)
    if kind == "transformer":
        return TransformerPrior(latent_dim, d_model, layers, time_features)
    return None


class SyncHead(nn.Module):
    """The design's sync head: ``forward(z_t (B, L, Z), time_features (B, L, K), mask (B, L)) ->
    (B, L, 2)``, the hand and face motion energy of each latent frame's poses (mean absolute
    frame-to-frame change of the standardized hand / face features), from the noisy latent and its
    flow time. Convolutions over neighbouring latent frames: motion is a difference in time."""

    def __init__(self, latent_dim: int, hidden: int, time_features: int):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv1d(latent_dim + time_features, hidden, 3, padding=1),
            nn.GELU(),
            nn.Conv1d(hidden, hidden, 3, padding=1),
            nn.GELU(),
            nn.Conv1d(hidden, 2, 1),
        )

    def forward(self, z: torch.Tensor, time_features: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x = torch.cat([z, time_features], dim=-1) * mask[..., None].to(z.dtype)  # (B, L, Z + K)
        return self.net(x.transpose(1, 2)).transpose(1, 2) * mask[..., None].to(z.dtype)  # (B, L, 2)


@dataclass
class LatentGeneratorConfig:
    """Stage 2 (regressor, flow or distilled flow). ``predictor`` is a GAN-NAT generator config
    whose feature size is the latent's; ``autoencoder`` is copied from the stage-1 checkpoint."""

    predictor: GanNatConfig = field(default_factory=GanNatConfig)
    autoencoder: LatentAutoencoderConfig = field(default_factory=LatentAutoencoderConfig)
    mode: Literal["regressor", "flow"] = "flow"
    time_frequencies: int = bounded(8, min=1, max=64)
    step_conditioned: bool = False  # a distilled student also reads the step size it jumps
    # The unconditional prior: "ssm" is Mamba when mambapy is installed, else "transformer" (the
    # generator's config records which one was built).
    prior: Literal["none", "mamba", "transformer", "ssm"] = "none"
    prior_d_model: int = bounded(64, min=4, max=4096)
    prior_layers: int = bounded(2, min=1, max=16)
    # "learned": a learnable vector per latent-frame position joins each query (the design's
    # num_queries learnable queries); "positional": the queries are positions, text and timing only.
    queries: Literal["positional", "learned"] = "positional"
    num_queries: int = bounded(100, min=1, max=100_000)
    sync_head: bool = False  # the design's learned sync head (flow mode), trained beside the flow
    sync_head_hidden: int = bounded(64, min=4, max=4096)

    # What the GAN-NAT pipeline's text handling reads from a generator config.
    @property
    def text(self):
        return self.predictor.text

    @property
    def input(self) -> str:
        return self.predictor.input

    @property
    def frame_input_dim(self) -> int:
        """Per-latent-frame input of the velocity network: z_t, Fourier(t) and Fourier(h)."""
        if self.mode == "regressor":
            return 1
        return self.autoencoder.latent_dim + 2 * 2 * self.time_frequencies


def resolve_predictor(cfg: LatentGeneratorConfig) -> GanNatConfig:
    """The predictor config that makes latent frames of this generator (sizes from the autoencoder)."""
    ae = cfg.autoencoder
    return dataclasses.replace(
        cfg.predictor,
        feature_dim=ae.latent_dim,
        noise_dim=cfg.frame_input_dim,
        layout=ae.layout,
        kinds=list(ae.kinds),
        fps=ae.fps / ae.downsample,
        visibility=False,
        hand_relative=False,
    )


class LatentGenerator(nn.Module):
    """Text -> latent frames (regressor: directly; flow: velocities) -> frozen decoder -> poses."""

    def __init__(self, cfg: LatentGeneratorConfig):
        super().__init__()
        if cfg.autoencoder.feature_dim < 1:
            raise ConfigError("model.autoencoder is not set: the family's build copies it from init.autoencoder")
        predictor = GanNatGenerator(resolve_predictor(cfg))
        self.cfg = cfg = dataclasses.replace(cfg, predictor=predictor.cfg, prior=resolve_prior(cfg.prior))
        self.predictor = predictor
        self.decoder = make_decoder(cfg.autoencoder).requires_grad_(False)
        z_dim, time_dim = cfg.autoencoder.latent_dim, 4 * cfg.time_frequencies
        self.prior = make_prior(cfg.prior, z_dim, cfg.prior_d_model, cfg.prior_layers, time_dim)
        self.queries = (
            nn.Parameter(0.02 * torch.randn(cfg.num_queries, predictor.cfg.d_model))
            if cfg.queries == "learned"
            else None
        )
        self.sync_head = SyncHead(z_dim, cfg.sync_head_hidden, time_dim) if cfg.sync_head else None

    @property
    def text_encoder(self):
        return self.predictor.text_encoder

    @property
    def component_sizes(self) -> list[int]:
        return self.decoder.component_sizes

    def encode(self, texts, languages=None, signers=None):
        return self.predictor.encode(texts, languages, signers)

    def time_features(self, t: torch.Tensor, h: torch.Tensor | None = None) -> torch.Tensor:
        """``(B, 4K)`` Fourier features of the flow time and the step size (0 for a teacher)."""
        k = self.cfg.time_frequencies
        freqs = math.pi * 2.0 ** torch.arange(k, device=t.device, dtype=torch.float32)
        h = torch.zeros_like(t) if h is None else h

        def fourier(x: torch.Tensor) -> torch.Tensor:
            angles = x[:, None] * freqs
            return torch.cat([torch.sin(angles), torch.cos(angles)], dim=-1)

        return torch.cat([fourier(t), fourier(h)], dim=-1)

    def velocity(
        self,
        states,
        text_mask,
        lengths,
        z_t,
        t,
        h=None,
        durations=None,
    ) -> torch.Tensor:
        """Flow velocity ``(B, L, Z)`` at ``z_t`` (``(B, L, Z)``) and times `t` ``(B,)``; `lengths` in latent frames."""
        cond = self.frame_condition(states, text_mask, lengths, z_t.shape[1], durations)
        return self.conditioned_velocity(cond, z_t, t, h)

    def frame_condition(self, states, text_mask, lengths, num_frames: int, durations=None):
        """The predictor's text-and-timing part, with the learnable queries when the config has them."""
        cond = self.predictor.frame_condition(states, text_mask, lengths, num_frames, durations)
        if self.queries is not None:
            learned = self.queries[:num_frames]  # cut to the target length ...
            learned = F.pad(learned, (0, 0, 0, num_frames - len(learned)))  # ... or padded with zeros past it
            cond = dataclasses.replace(cond, queries=cond.queries + learned[None])  # (B, L, d)
        return cond

    def conditioned_velocity(self, cond, z_t, t, h=None) -> torch.Tensor:
        """:meth:`velocity` given the predictor's text-and-timing part (``frame_condition``)."""
        tf = self.time_features(t, h)[:, None].expand(-1, z_t.shape[1], -1)
        return self.predictor.run_frames(cond, torch.cat([z_t, tf], dim=-1))[0]

    def prior_velocity(self, z_t: torch.Tensor, t: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """The prior's unconditional velocity ``(B, L, Z)``; `mask` ``(B, L)`` marks real latent frames."""
        tf = self.time_features(t)[:, None].expand(-1, z_t.shape[1], -1)
        return self.prior(z_t, tf, mask)

    def sync_signals(self, z_t: torch.Tensor, t: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """The sync head's hand and face motion ``(B, L, 2)`` at noisy latents `z_t` and times `t`."""
        tf = self.time_features(t)[:, None].expand(-1, z_t.shape[1], -1)
        return self.sync_head(z_t, tf, mask)

    def regress(self, states, text_mask, lengths, num_frames: int, durations=None) -> torch.Tensor:
        """Regressor latents ``(B, L, Z)``."""
        zeros = torch.zeros(len(lengths), num_frames, 1, device=lengths.device)
        cond = self.frame_condition(states, text_mask, lengths, num_frames, durations)
        return self.predictor.run_frames(cond, zeros)[0]

    def decode(self, latents: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.decoder(latents, lengths_to_mask(lengths, latents.shape[1]))

    def forward(self, states, text_mask, lengths, num_frames=None):
        """Regressor poses ``(B, L * r, F)`` (flow models sample in the pipeline)."""
        num_frames = int(lengths.max()) if num_frames is None else num_frames
        return self.decode(self.regress(states, text_mask, lengths, num_frames), lengths)[0]

    def guided_velocity(
        self, states, text_mask, lengths, durations, guidance_scale: float = 1.0, lambda_prior: float = 0.0
    ):
        """``velocity(z, t, h)`` for the ODE solver: classifier-free guidance
        ``v_u + s (v_c - v_u)`` (unconditional = zeroed text states, as trained; s = 1: off) plus
        the SSM prior's ``lambda (1 - t) v_prior``, strongest near the noise."""
        guided = guidance_scale != 1.0
        if guided:
            states = torch.cat([states, torch.zeros_like(states)])
            text_mask = None if text_mask is None else torch.cat([text_mask, text_mask])
            lengths = torch.cat([lengths, lengths])
            durations = None if durations is None else torch.cat([durations, durations])
        # The text and timing are the same at every step: one encoding per call, not per step.
        num_frames = int(lengths.max())
        cond = self.frame_condition(states, text_mask, lengths, num_frames, durations)
        prior_mask = lengths_to_mask(lengths[: len(lengths) // 2] if guided else lengths, num_frames)

        def velocity(z: torch.Tensor, t: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
            step = h if self.cfg.step_conditioned else None
            if guided:
                v_c, v_u = self.conditioned_velocity(
                    cond,
                    torch.cat([z, z]),
                    torch.cat([t, t]),
                    None if step is None else torch.cat([step, step]),
                ).chunk(2)
                v = v_u + guidance_scale * (v_c - v_u)
            else:
                v = self.conditioned_velocity(cond, z, t, step)
            if lambda_prior > 0 and self.prior is not None:
                v = v + lambda_prior * (1 - t)[:, None, None] * self.prior_velocity(z, t, prior_mask)
            return v

        return velocity
