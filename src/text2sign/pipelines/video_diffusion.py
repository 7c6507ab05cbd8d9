"""Inference with a trained video diffusion model: texts in, ``VideoClip``s out.

Per call options (the pipeline's keywords; ``generate --steps/--guidance-scale/--eta/--frames``):
``steps`` (sampling steps; the training step count runs DDPM), ``guidance_scale`` (classifier-free
guidance: ``out = out_null + s * (out_text - out_null)`` on the network's outputs; 1 turns it off),
``eta`` (0: deterministic DDIM, 1: ancestral) and ``frames``. Their defaults are the checkpoint's
``inference:`` section; ``frames`` defaults to the training clip length.

Clips longer than the model's training length are denoised as overlapping temporal windows of that
length (half a window apart): at every step each window is predicted on its own and the
predictions are averaged where windows overlap (MultiDiffusion), so neighbouring windows agree on
their shared frames and the clip is one continuous video. At most :data:`WINDOWS_PER_PASS` windows
go through the network at once, so memory is bounded whatever the length. Shorter clips are the
training length sampled down evenly.

Every sample has its own noise, drawn from ``seed + k`` for the k-th sample of a text, so a text's
video is the same alone or in a batch. Texts with characters the model never saw are drawn with
those characters read as unknown, and the call says so.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from text2sign.config import bounded
from text2sign.data.video_clips import window_starts
from text2sign.data.video_corpus import fit_frames, unit_to_frames
from text2sign.errors import ConfigError, Text2SignError
from text2sign.models.video_diffusion import VideoDiffusionNet, pad_contexts
from text2sign.pipelines.base import Notes, Pipeline, skipped
from text2sign.pipelines.options import Option, eta_option, guidance_option, steps_option
from text2sign.schedulers.ddpm import DiffusionSchedule
from text2sign.video import VideoClip

FAMILY = "video-diffusion"
MAX_STEPS = 10000  # the longest training schedule: more steps than it has is DDPM
MAX_FRAMES_FACTOR = 16  # the longest clip, in training lengths
WINDOWS_PER_PASS = 16  # temporal windows denoised in one network call


@dataclass
class VideoDiffusionInferenceConfig:
    """The `inference:` section. The schedule (`train_timesteps`, `beta_schedule`) is the one the
    model was trained with; `steps`, `guidance_scale`, `eta` and `seed` are sampling defaults."""

    train_timesteps: int = bounded(1000, min=2, max=10000)
    beta_schedule: str = "linear"  # linear, scaled_linear (Stable Diffusion's) or cosine
    beta_start: float = bounded(1e-4, min=1e-8, max=0.5)  # linear / scaled_linear
    beta_end: float = bounded(0.02, min=1e-8, max=0.999)
    prediction_type: str = "epsilon"  # epsilon, v_prediction or sample (schedulers/ddpm.py)
    steps: int = bounded(25, min=1, max=10000)
    guidance_scale: float = bounded(2.0, min=0.0, max=50.0)
    eta: float = bounded(0.0, min=0.0, max=1.0)
    seed: int = bounded(0, min=0)
    fps: float = 0.0  # filled from the data: playback rate of the generated frames

    def __post_init__(self) -> None:
        from text2sign.schedulers.ddpm import BETA_SCHEDULES, PREDICTION_TYPES

        if self.beta_start >= self.beta_end:
            raise ConfigError(f"beta_start {self.beta_start} must be below beta_end {self.beta_end}")

        for name, value, known in (
            ("beta_schedule", self.beta_schedule, BETA_SCHEDULES),
            ("prediction_type", self.prediction_type, PREDICTION_TYPES),
        ):
            if value not in known:
                raise ConfigError(f"{name} must be one of {', '.join(known)}, got {value!r}")


def make_schedule(inference: VideoDiffusionInferenceConfig, pixel_space: bool = True) -> DiffusionSchedule:
    """The model's noise schedule; the clean-clip estimate is clipped to [-1, 1] on pixels only
    (latents have no such range)."""
    return DiffusionSchedule(
        inference.train_timesteps,
        inference.beta_schedule,
        inference.beta_start,
        inference.beta_end,
        clip_sample=pixel_space,
        prediction_type=inference.prediction_type,
    )


class VideoDiffusionPipeline(Pipeline):
    name = FAMILY
    output = "video"
    options = (
        steps_option(
            MAX_STEPS, "diffusion: sampling steps (the training schedule's count: DDPM; default: the model's own)"
        ),
        guidance_option(50.0),
        eta_option(),
        Option("frames", int, "video: frames of the clip (default: the training length)", 1, serve_max=400),
    )
    stochastic = True

    def __init__(self, net: VideoDiffusionNet, inference: VideoDiffusionInferenceConfig, language_pairs, device="cpu"):
        self.net = net.to(device).eval()
        self.inference = inference
        self.schedule = make_schedule(inference, pixel_space=net.frame_vae is None)
        self.pairs = sorted(tuple(p) for p in language_pairs)
        self.device = torch.device(device)

    @classmethod
    def from_checkpoint(cls, checkpoint, device="cpu") -> VideoDiffusionPipeline:
        return cls(checkpoint.model, checkpoint.inference, checkpoint.metadata["language_pairs"], device)

    def language_pairs(self):
        return list(self.pairs)

    def to(self, device) -> VideoDiffusionPipeline:
        self.net.to(device)
        self.device = torch.device(device)
        return self

    def call_options(self) -> dict[str, Option]:
        options = super().call_options()
        cfg = self.net.config
        # A paced model's letters are laid out over its own frames: windows past them would restart the word.
        options["frames"] = options["frames"].within(
            high=cfg.frames if cfg.paced_text else MAX_FRAMES_FACTOR * cfg.frames
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
        notes: Notes,
        steps=None,
        guidance_scale=None,
        eta=None,
        frames=None,
    ):
        """Options are checked by the call; None: the checkpoint's ``inference:`` value."""
        inf = self.inference
        cfg = self.net.config
        steps = inf.steps if steps is None else steps
        guidance = inf.guidance_scale if guidance_scale is None else guidance_scale
        eta = inf.eta if eta is None else eta
        frames = cfg.frames if frames is None else frames
        seed = inf.seed if seed is None else seed
        unknown = [u for text in texts for u in self.net.text_encoder.unknown_tokens(text)]
        if unknown:
            if strict:
                raise Text2SignError(f"model {self.label} cannot read {', '.join(map(repr, dict.fromkeys(unknown)))}")
            notes.warn(skipped(unknown, "the model never saw {it} and reads {it} as unknown"))
        rows = [(text, k) for text in texts for k in range(num_samples)]
        generators = [torch.Generator().manual_seed(seed + k) for _, k in rows]
        shape = self.net.latent_shape(max(frames, cfg.frames))
        noise = torch.stack([torch.randn(shape, generator=g) for g in generators]).to(self.device)
        with torch.inference_mode():
            context, context_mask = self.net.encode([t for t, _ in rows], [signed] * len(rows))

            def predict_windows(x, t, clip_rows, _starts):
                """Outputs for windows `x` (N, C, window, H, W) of the texts at `clip_rows`."""
                text_rows = torch.tensor(clip_rows, device=x.device)
                own = (context[text_rows], context_mask[text_rows])
                if guidance == 1.0:
                    return self.net(x, t, *own)
                both = pad_contexts(own, self.net.null_context(len(text_rows)))
                out_text, out_null = self.net(torch.cat([x, x]), torch.cat([t, t]), *both).chunk(2)
                return out_null + guidance * (out_text - out_null)

            def fresh_noise():
                return torch.stack([torch.randn(shape, generator=g) for g in generators])

            latents = sample_in_windows(self.schedule, noise, cfg.frames, predict_windows, steps, eta, fresh_noise)
            videos = self.net.from_latent(latents)
        clips = [VideoClip(fit_frames(unit_to_frames(v), frames), inf.fps) for v in videos.float().cpu().numpy()]
        return [clips[i * num_samples : (i + 1) * num_samples] for i in range(len(texts))]


def sample_in_windows(
    schedule: DiffusionSchedule,
    noise: torch.Tensor,
    window: int,
    predict_windows: Callable[[torch.Tensor, torch.Tensor, list[int], list[int]], torch.Tensor],
    steps: int,
    eta: float,
    fresh_noise: Callable[[], torch.Tensor],
) -> torch.Tensor:
    """Sample latents ``(B, C, T, h, w)`` from `noise` with a network that sees `window` frames at a
    time: ``predict_windows(x (N, C, window, h, w), t (N,), rows, starts)`` predicts the windows of
    clips `rows` starting at frames `starts`; at every step the windows' predictions are averaged
    where they overlap (MultiDiffusion), :data:`WINDOWS_PER_PASS` windows per network call."""
    total = noise.shape[2]
    starts = window_starts(total, window)
    pieces = [(row, start) for row in range(noise.shape[0]) for start in starts]
    covered = torch.zeros(total, device=noise.device)
    for start in starts:
        covered[start : start + window] += 1

    def predict(x, t):
        out = torch.zeros_like(x)
        for i in range(0, len(pieces), WINDOWS_PER_PASS):
            chunk = pieces[i : i + WINDOWS_PER_PASS]
            rows, firsts = [row for row, _ in chunk], [start for _, start in chunk]
            windows = torch.stack([x[row, :, start : start + window] for row, start in chunk])
            predicted = predict_windows(windows, t[rows], rows, firsts)
            for (row, start), piece in zip(chunk, predicted):
                out[row, :, start : start + window] += piece
        return out / covered[None, None, :, None, None]

    return schedule.sample(predict, noise, steps, eta, fresh_noise)
