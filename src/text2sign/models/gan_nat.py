"""GAN-NAT networks: a non-autoregressive pose generator, its length predictor, and a 1D-CNN critic.

Networks only -- the losses live in :mod:`text2sign.objectives.gan_nat`, inference in
:mod:`text2sign.pipelines.gan_nat`. Poses are ``(B, T, F)`` standardized feature frames with a
``(B, T)`` frame mask that is True on real frames.

:class:`GanNatGenerator` is the whole inference network, rebuilt from its
:class:`GanNatConfig` alone (the config holds the text encoder's vocabulary, the feature
size, layout, kinds and fps): a text encoder (:mod:`text2sign.text`, learned or frozen
pretrained) and, on its token states,

* a projection of the token states to ``d_model``;
* the length predictor: masked-mean-pooled text -> logits over length bins ``min_frames,
  min_frames + length_bin, ...``; trained with cross-entropy against real lengths, read out
  as the most likely bin;
* the non-autoregressive decoder: each output frame is a query built from its absolute time,
  its relative progress ``t / (T - 1)`` through the sign, per-frame style noise and the pooled
  text; queries attend to each other (self-attention over real frames only) and to the text
  tokens (cross-attention over real tokens only); a linear head reads out the features. All
  frames come out at once: one forward pass whatever the length;
* with ``alignment`` "uniform" or "durations", each query also gets the token whose run of frames
  holds it (:mod:`text2sign.models.alignment`); "durations" adds a duration head and the
  per-token mean poses that training aligns real frames against.

:class:`TemporalDiscriminator` scores every frame from a window around it (dilated 1D convs).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields, replace

import torch
import torch.nn.functional as F
from torch import nn

from text2sign.config import bounded
from text2sign.errors import ConfigError
from text2sign.models.alignment import duration_ends, frame_token_index, per_frame
from text2sign.pose.layout import DEFAULT_KINDS, check_kinds
from text2sign.text.build import build_text_encoder
from text2sign.text.encoders import TextEncoder, TextEncoderConfig
from text2sign.text.inputs import INPUTS
from text2sign.text.layers import TransformerBlock, lengths_to_mask, masked_mean, sinusoidal_embedding

ALIGNMENTS = ("attention", "uniform", "durations")


def config_from_dict(cls, d: dict):
    """Dataclass `cls` from a plain dict, refusing unknown keys (nested TextEncoderConfig under "text")."""
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(d) - known)
    if unknown:
        raise ConfigError(f"unknown {cls.__name__} keys: {', '.join(unknown)}")
    d = dict(d)
    if isinstance(d.get("text"), dict):
        d["text"] = TextEncoderConfig.from_dict(d["text"])
    return cls(**d)


@dataclass
class GanNatConfig:
    """Everything the inference network needs; fields marked "filled from the data" are set by the builder."""

    text: TextEncoderConfig = field(default_factory=TextEncoderConfig)
    d_model: int = bounded(192, min=8, max=4096)
    layers: int = bounded(3, min=1, max=48)
    heads: int = bounded(4, min=1, max=64)
    ff_mult: int = bounded(2, min=1, max=16)
    dropout: float = bounded(0.1, min=0.0, max=0.9)
    noise_dim: int = bounded(16, min=1, max=1024)
    progress_frequencies: int = bounded(8, min=0, max=64)  # Fourier features of relative progress through the sign
    min_frames: int = bounded(8, min=1, max=10000)
    max_frames: int = bounded(200, min=1, max=10000)
    length_bin: int = bounded(2, min=1, max=100)  # frames per length bin
    feature_dim: int = bounded(0, min=0)  # filled from the data: joints of `kinds` x dims
    layout: str = ""  # filled from the data: the layout the features come from
    kinds: list[str] = field(default_factory=lambda: list(DEFAULT_KINDS))
    fps: float = bounded(0.0, min=0.0, max=1000.0)  # filled from the data
    # Text tokens also get their relative position i / (L - 1): a frame at progress p then finds
    # "its" letter by matching progress, which is how a fingerspelled word unfolds in time.
    token_progress: bool = True
    # How frames find their tokens (models.alignment). "attention": cross-attention alone.
    # "uniform": each frame query also gets the token whose run holds it, every token lasting
    # T / L frames (a FastSpeech length regulator with equal durations). "durations": the runs
    # come from a duration head, trained on monotonic alignment search against the real frames
    # (Glow-TTS): letters are retimed freely, so equal runs drift off the real ones.
    alignment: str = "attention"
    # Mean poses per token for the alignment search, one per consecutive sub-run (as in a left-to-
    # right HMM of a phone): each gets at least one frame, so no letter collapses to a single frame,
    # and a letter's way in, hold and way out are matched separately.
    prior_states: int = bounded(3, min=1, max=16)
    # Per-frame visibility of each component (e.g. a hand out of view): predicted, so that a
    # generated pose leaves out what real data would not show instead of drawing an average.
    visibility: bool = True
    # What the text encoder reads (data.config.model_input): "text", "gloss" or "both".
    input: str = "text"
    # Features hold hand joints as offsets from their wrist (pose.features.hands_relative_to_wrist),
    # so handshape -- what tells letters apart -- is not a ripple on top of arm movement.
    hand_relative: bool = False

    def __post_init__(self) -> None:
        if self.d_model % self.heads:
            raise ConfigError(f"generator d_model {self.d_model} is not divisible by heads {self.heads}")
        if self.alignment not in ALIGNMENTS:
            raise ConfigError(f"generator alignment must be one of {', '.join(ALIGNMENTS)}, got {self.alignment!r}")
        if self.prior_states < 1:
            raise ConfigError(f"generator prior_states must be >= 1, got {self.prior_states}")
        if not 1 <= self.min_frames <= self.max_frames or self.length_bin < 1:
            raise ConfigError("generator needs 1 <= min_frames <= max_frames and length_bin >= 1")
        check_kinds(self.kinds)
        if self.input not in INPUTS:
            raise ConfigError(f"generator input must be one of {', '.join(INPUTS)}, got {self.input!r}")

    @property
    def num_length_bins(self) -> int:
        return (self.max_frames - self.min_frames) // self.length_bin + 1

    def with_conditioning(self, input: str, signers: list[str]) -> GanNatConfig:
        """This config reading `input` (text, gloss or both) and knowing the styles of `signers`:
        what GAN-NAT and the latent stages' predictor (a GanNatConfig too) are conditioned on."""
        return replace(self, input=input, text=replace(self.text, signers=list(signers)))

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> GanNatConfig:
        return config_from_dict(cls, d)


@dataclass
class DiscriminatorConfig:
    channels: int = bounded(128, min=1, max=4096)
    layers: int = bounded(
        4, min=1, max=16
    )  # dilations 1, 2, 4, ...: receptive field 1 + (kernel - 1) * (2 ** layers - 1) frames
    kernel_size: int = bounded(5, min=1, max=31)
    conditional: bool = True  # projection-conditioned on the pooled text states
    use_velocity: bool = True  # also feed frame-to-frame differences
    spectral_norm: bool = False

    def __post_init__(self) -> None:
        if self.kernel_size % 2 == 0:
            raise ConfigError("discriminator kernel_size must be odd so scores stay aligned with frames")


def lengths_to_bins(lengths: torch.Tensor, cfg: GanNatConfig) -> torch.Tensor:
    """Frame counts -> nearest length bin (lengths outside the range go to the end bins)."""
    bins = torch.round((lengths.float() - cfg.min_frames) / cfg.length_bin).long()
    return bins.clamp(0, cfg.num_length_bins - 1)


def bins_to_lengths(bins: torch.Tensor, cfg: GanNatConfig) -> torch.Tensor:
    return (cfg.min_frames + bins.long() * cfg.length_bin).clamp(max=cfg.max_frames)


@dataclass
class FrameCondition:
    """The text-and-timing part of a generator pass (:meth:`GanNatGenerator.frame_condition`)."""

    queries: torch.Tensor  # (B, T, d)
    frame_mask: torch.Tensor  # (B, T)
    self_mask: torch.Tensor | None
    ctx: torch.Tensor  # (B, L, d)
    ctx_mask: torch.Tensor | None


class GanNatGenerator(nn.Module):
    """Text encoder + length predictor + non-autoregressive decoder.

    ``forward(text_states, text_mask, lengths, noise=None) -> features (B, T, F)``, zero on
    padded frames; ``encode(texts, languages)`` gives the states, ``generate`` does both.
    """

    def __init__(self, cfg: GanNatConfig, text_encoder: TextEncoder | None = None):
        super().__init__()
        if cfg.feature_dim < 1:
            raise ConfigError("GanNatConfig.feature_dim is not set: the builder fills it from the data")
        self.text_encoder = build_text_encoder(cfg.text) if text_encoder is None else text_encoder
        # The encoder's config is the resolved one (vocabulary included): keep that in ours.
        self.cfg = cfg = GanNatConfig.from_dict({**cfg.to_dict(), "text": self.text_encoder.config.to_dict()})
        d = cfg.d_model
        self.text_proj = nn.Sequential(nn.Linear(self.text_encoder.output_dim, d), nn.LayerNorm(d))
        self.pooled_proj = nn.Linear(d, d)
        self.progress_proj = nn.Linear(2 * cfg.progress_frequencies, d)
        self.token_progress_proj = nn.Linear(2 * cfg.progress_frequencies, d) if cfg.token_progress else None
        self.component_sizes = component_sizes(cfg)
        self.visibility_head = nn.Linear(d, len(self.component_sizes)) if cfg.visibility else None
        self.noise_proj = nn.Linear(cfg.noise_dim, d)
        self.blocks = nn.ModuleList(
            TransformerBlock(d, cfg.heads, cfg.ff_mult, cfg.dropout, cross=True) for _ in range(cfg.layers)
        )
        self.out_norm = nn.LayerNorm(d)
        self.out = nn.Linear(d, cfg.feature_dim)
        self.length_head = nn.Sequential(nn.Linear(d, d), nn.GELU(), nn.Linear(d, cfg.num_length_bins))
        aligned = cfg.alignment != "attention"
        # Where a frame is within its token's run: start (coming from the previous letter) or end.
        self.within_proj = nn.Linear(2 * cfg.progress_frequencies, d) if aligned else None
        durations = cfg.alignment == "durations"
        self.duration_head = nn.Sequential(nn.Linear(d, d), nn.GELU(), nn.Linear(d, 1)) if durations else None
        # prior_states mean poses per token: what monotonic alignment search matches real frames against.
        self.prior_head = nn.Linear(d, cfg.prior_states * cfg.feature_dim) if durations else None

    def encode(
        self, texts: list[str], languages: list[str] | None = None, signers: list[str] | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Text encoder states ``(B, L, C)`` and mask ``(B, L)``."""
        return self.text_encoder(texts, languages, signers)

    def encode_text(
        self, text_states: torch.Tensor, text_mask: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Projected token states ``(B, L, d)`` and their masked mean ``(B, d)``."""
        ctx = self.text_proj(text_states)  # (B, L, d)
        if self.token_progress_proj is not None:
            count = ctx.shape[1]
            real = torch.full((ctx.shape[0],), count, device=ctx.device) if text_mask is None else text_mask.sum(dim=1)
            index = torch.arange(count, device=ctx.device, dtype=torch.float32)
            progress = index[None, :] / (real[:, None].float() - 1).clamp(min=1)  # (B, L)
            ctx = ctx + self.token_progress_proj(self.progress_features(progress))
        return ctx, masked_mean(ctx, text_mask)

    def progress_features(self, progress: torch.Tensor) -> torch.Tensor:
        """Fourier features ``(..., 2K)`` of progress values in [0, 1]."""
        freqs = math.pi * torch.arange(
            1, self.cfg.progress_frequencies + 1, device=progress.device, dtype=torch.float32
        )
        angles = progress[..., None] * freqs  # (..., K)
        return torch.cat([torch.sin(angles), torch.cos(angles)], dim=-1)

    def length_logits(self, text_states: torch.Tensor, text_mask: torch.Tensor | None) -> torch.Tensor:
        """``(B, num_length_bins)`` logits."""
        _, pooled = self.encode_text(text_states, text_mask)
        return self.length_head(pooled)

    def predict_lengths(self, text_states: torch.Tensor, text_mask: torch.Tensor | None) -> torch.Tensor:
        """Most likely number of frames per text, ``(B,)`` int64."""
        return bins_to_lengths(self.length_logits(text_states, text_mask).argmax(dim=-1), self.cfg)

    def sample_noise(
        self, lengths: torch.Tensor, num_frames: int, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        return torch.randn(len(lengths), num_frames, self.cfg.noise_dim, generator=generator, device=lengths.device)

    def log_durations(self, ctx: torch.Tensor) -> torch.Tensor:
        """``(B, L)`` predicted log frames per token, from projected token states (``encode_text``)."""
        if self.duration_head is None:
            raise ConfigError(f"a generator with alignment {self.cfg.alignment!r} predicts no durations")
        return self.duration_head(ctx)[..., 0]

    def prior_means(self, ctx: torch.Tensor) -> torch.Tensor:
        """``(B, L * prior_states, F)``: each token's sub-run mean poses, in time order."""
        b, count, _ = ctx.shape
        return self.prior_head(ctx).view(b, count * self.cfg.prior_states, self.cfg.feature_dim)

    def token_ends(
        self,
        ctx: torch.Tensor,
        text_mask: torch.Tensor | None,
        lengths: torch.Tensor,
        durations: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Frame where each token's run ends ``(B, L)``: from `durations` when given (training
        targets), else equal runs ("uniform") or the duration head's ("durations")."""
        if durations is None:
            if self.cfg.alignment == "durations":
                durations = self.log_durations(ctx).exp()
            else:
                durations = torch.ones(ctx.shape[:2], device=ctx.device)
        return duration_ends(durations, text_mask, lengths)

    def aligned_tokens(
        self,
        ctx: torch.Tensor,
        text_mask: torch.Tensor | None,
        lengths: torch.Tensor,
        num_frames: int,
        durations: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """``(B, T, d)``: for every frame, the state of the token whose run holds it plus where in that run it is."""
        index, within = frame_token_index(self.token_ends(ctx, text_mask, lengths, durations), num_frames)
        return per_frame(ctx, index) + self.within_proj(self.progress_features(within))

    def frame_queries(self, lengths: torch.Tensor, num_frames: int) -> torch.Tensor:
        """``(B, T, d)``: each frame's absolute and relative position (the noise is added per pass)."""
        device = lengths.device
        t = torch.arange(num_frames, device=device, dtype=torch.float32)  # (T,)
        absolute = sinusoidal_embedding(t, self.cfg.d_model)  # (T, d)
        progress = t[None, :] / (lengths[:, None].float() - 1).clamp(min=1)  # (B, T), 0..1 on real frames
        relative = self.progress_proj(self.progress_features(progress))  # (B, T, d)
        return absolute[None] + relative

    def forward(
        self,
        text_states: torch.Tensor,
        text_mask: torch.Tensor | None,
        lengths: torch.Tensor,
        noise: torch.Tensor | None = None,
        num_frames: int | None = None,
        durations: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """`num_frames` (default ``max(lengths)``) lets the output match a padded batch's T."""
        return self.forward_with_visibility(text_states, text_mask, lengths, noise, num_frames, durations)[0]

    def forward_with_visibility(
        self,
        text_states: torch.Tensor,
        text_mask: torch.Tensor | None,
        lengths: torch.Tensor,
        noise: torch.Tensor | None = None,
        num_frames: int | None = None,
        durations: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Features ``(B, T, F)`` and visibility logits ``(B, T, C)`` per component of the kinds
        (None when the config predicts no visibility). `durations` ``(B, L)`` fix the tokens'
        runs (training with aligned targets); otherwise the config's alignment places them."""
        num_frames = int(lengths.max()) if num_frames is None else num_frames
        if noise is None:
            noise = self.sample_noise(lengths, num_frames)
        return self.run_frames(self.frame_condition(text_states, text_mask, lengths, num_frames, durations), noise)

    def frame_condition(
        self,
        text_states: torch.Tensor,
        text_mask: torch.Tensor | None,
        lengths: torch.Tensor,
        num_frames: int,
        durations: torch.Tensor | None = None,
    ) -> FrameCondition:
        """Everything a pass computes from the text and the timing alone: an iterative sampler
        computes it once per call and runs :meth:`run_frames` once per step."""
        frame_mask = lengths_to_mask(lengths, num_frames)  # (B, T)
        ctx, pooled = self.encode_text(text_states, text_mask)  # (B, L, d), (B, d)
        queries = self.frame_queries(lengths, num_frames) + self.pooled_proj(pooled)[:, None]  # (B, T, d)
        if self.cfg.alignment != "attention":
            queries = queries + self.aligned_tokens(ctx, text_mask, lengths, num_frames, durations)
        # An all-real batch (always so for one text) skips masking: attention's fast path.
        self_mask = None if bool(frame_mask.all()) else frame_mask
        ctx_mask = None if text_mask is None or bool(text_mask.all()) else text_mask
        return FrameCondition(queries, frame_mask, self_mask, ctx, ctx_mask)

    def run_frames(self, cond: FrameCondition, noise: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """:meth:`forward_with_visibility` given its text-and-timing part and the per-frame input."""
        x = cond.queries + self.noise_proj(noise)
        for block in self.blocks:
            x = block(x, cond.self_mask, cond.ctx, cond.ctx_mask)
        x = self.out_norm(x)
        features = self.out(x) * cond.frame_mask[..., None]  # (B, T, F)
        visibility = None if self.visibility_head is None else self.visibility_head(x)  # (B, T, C)
        return features, visibility

    def generate(
        self,
        texts: list[str],
        languages: list[str] | None = None,
        lengths: torch.Tensor | None = None,
        noise: torch.Tensor | None = None,
        signers: list[str] | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Features ``(B, T, F)`` and the lengths used (predicted unless given)."""
        states, mask = self.encode(texts, languages, signers)
        if lengths is None:
            lengths = self.predict_lengths(states, mask)
        return self.forward(states, mask, lengths, noise), lengths


def component_sizes(cfg: GanNatConfig) -> list[int]:
    """Joints per component of the chosen kinds, in feature order (components are contiguous)."""
    from text2sign.pose.layout import get_layout

    layout = get_layout(cfg.layout)
    kinds = set(cfg.kinds) if cfg.kinds else {c.kind for c in layout.components}
    return [len(c.points) for c in layout.components if c.kind in kinds]


class TemporalDiscriminator(nn.Module):
    """1D CNN over time: ``forward(features, frame_mask, text_cond=None) -> per-frame scores (B, T)``.

    Dilated convolutions give each score a window of frames. Inputs and every hidden layer are
    zeroed on padded frames, so a real frame's score is the same whatever the padding holds
    and however long the batch is padded. Scores on padded frames are meaningless; losses
    average over real frames only.
    """

    def __init__(self, cfg: DiscriminatorConfig, feature_dim: int, cond_dim: int = 0):
        super().__init__()
        self.cfg = cfg
        self.cond_dim = cond_dim if cfg.conditional else 0
        norm = nn.utils.parametrizations.spectral_norm if cfg.spectral_norm else (lambda m: m)
        in_ch = feature_dim * (2 if cfg.use_velocity else 1)
        convs = []
        for i in range(cfg.layers):
            dilation = 2**i
            convs.append(
                norm(
                    nn.Conv1d(
                        in_ch if i == 0 else cfg.channels,
                        cfg.channels,
                        cfg.kernel_size,
                        padding=dilation * (cfg.kernel_size // 2),
                        dilation=dilation,
                    )
                )
            )
        self.convs = nn.ModuleList(convs)
        self.head = norm(nn.Conv1d(cfg.channels, 1, 1))
        self.cond = norm(nn.Linear(self.cond_dim, cfg.channels)) if self.cond_dim else None

    def forward(
        self, features: torch.Tensor, frame_mask: torch.Tensor, text_cond: torch.Tensor | None = None
    ) -> torch.Tensor:
        m = frame_mask.to(features.dtype)[:, None, :]  # (B, 1, T)
        x = features.transpose(1, 2) * m  # (B, F, T)
        if self.cfg.use_velocity:
            # A difference is real only where both of its frames are.
            vel = F.pad(x[:, :, 1:] - x[:, :, :-1], (1, 0)) * m * F.pad(m[:, :, :-1], (1, 0))
            x = torch.cat([x, vel], dim=1)
        for conv in self.convs:
            x = F.leaky_relu(conv(x), 0.2) * m  # (B, C, T)
        scores = self.head(x)[:, 0]  # (B, T)
        if self.cond is not None:
            if text_cond is None:
                raise ValueError(f"this discriminator is text-conditioned: pass text_cond (B, {self.cond_dim})")
            # Projection discriminator: agreement between frame features and the text embedding.
            scores = scores + torch.einsum("bct,bc->bt", x, self.cond(text_cond)) / math.sqrt(self.cfg.channels)
        return scores * frame_mask.to(scores.dtype)
