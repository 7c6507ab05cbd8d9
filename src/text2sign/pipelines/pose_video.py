"""Inference of pose-conditioned video diffusion (``pose-video``, e.g. ``fs-pose-video``): a pose
sequence in, a video in the appearance of the model's training videos out.

``generate`` plans each text as a pose sequence first -- with the lookup (``concat``, over the
user's ``lexicon`` when given) or another pose model (``pose_model``) -- or takes the caller's
(``pose``), then :meth:`PoseVideoPipeline.animate` turns it into video: one video frame per pose
frame at the model's rate (the pose is resampled to it), in overlapping windows of the model's
training length averaged at every denoising step (:func:`~text2sign.pipelines.video_diffusion.sample_in_windows`),
so any length is one continuous clip. Sample ``k`` of a call starts from noise seeded by ``seed + k``.

Where the joints are on the frame follows the model's ``placement``: ``fit`` fits the whole
sequence to the frame as ``text2sign render`` draws it; ``frame`` places it where the training
signer stood (their median shoulder centre and width).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from text2sign.data.video_corpus import unit_to_frames
from text2sign.errors import InvalidPoseError, Text2SignError
from text2sign.models.pose_video import PoseVideoNet
from text2sign.pipelines.base import Notes, check_samples_and_seed
from text2sign.pipelines.options import LEXICON, Option, eta_option, guidance_option, pose_file_option, steps_option
from text2sign.pipelines.planned import PlannedPipeline
from text2sign.pipelines.video_diffusion import (
    MAX_STEPS,
    VideoDiffusionInferenceConfig,
    make_schedule,
    sample_in_windows,
)
from text2sign.pose.canvas import canvas_positions, placed_positions
from text2sign.pose.layout import get_layout
from text2sign.pose.sequence import PoseSequence
from text2sign.video import VideoClip

FAMILY = "pose-video"
# The longest pose animated in one call, in frames at the model's rate (4 minutes at 12.5 fps):
# time and memory grow with the length, so a longer one is refused before any work.
MAX_POSE_FRAMES = 3000


def pose_positions(seq: PoseSequence, net: PoseVideoNet) -> np.ndarray:
    """``(T, J, 3)`` positions of `seq` as `net` reads them (see :mod:`text2sign.models.pose_video`),
    one row per frame at the model's rate. A pose whose layout lacks the model's joints, or that
    shows no joint, is one error line."""
    cfg = net.config
    if not isinstance(seq, PoseSequence):
        raise Text2SignError(f"a pose to animate must be a pose sequence, got {type(seq).__name__}")
    try:
        seq = seq.to_layout(get_layout(cfg.layout))
    except InvalidPoseError as exc:
        raise Text2SignError(f"a {seq.layout.name} pose cannot be animated by a {cfg.layout} model: {exc}") from None
    if seq.num_frames == 0 or not seq.mask.any():
        raise Text2SignError("the pose has no observed joint in any frame: nothing to animate")
    resampled = abs(seq.fps - cfg.fps) > 1e-6
    frames = round(seq.num_frames * cfg.fps / seq.fps) if resampled else seq.num_frames
    if frames > MAX_POSE_FRAMES:  # said before resampling: that costs memory too
        raise Text2SignError(f"the pose lasts {frames} frames at {cfg.fps:g} fps; the most is {MAX_POSE_FRAMES}")
    if resampled:
        seq = seq.resample(cfg.fps)
    if cfg.placement == "fit":
        return canvas_positions(seq, cfg.size, cfg.size)
    try:
        return placed_positions(seq, tuple(cfg.signer_centre), cfg.signer_width, cfg.size, cfg.size)
    except InvalidPoseError as exc:
        raise Text2SignError(f"the pose cannot be placed where the model's signer stands: {exc}") from None


class PoseVideoPipeline(PlannedPipeline):
    name = FAMILY
    output = "video"
    options = (
        steps_option(MAX_STEPS, "diffusion: sampling steps (default: the model's own)"),
        guidance_option(50.0),
        eta_option(),
        pose_file_option("pose", "a pose file (.pose, .npz) to animate instead of planning the text"),
    )
    load_options = (
        LEXICON,
        Option("pose_model", str, "the pose model whose output is animated (default: the lookup)", metavar="MODEL"),
    )
    stochastic = True

    def __init__(
        self,
        net: PoseVideoNet,
        inference: VideoDiffusionInferenceConfig,
        device: str | torch.device = "cpu",
        lexicon: str | Path | None = None,
        pose_model: str | None = None,
        language_pairs: list | None = None,
    ):
        self.net = net.eval().to(device)
        self.device = torch.device(device)
        self.inference = inference
        self.schedule = make_schedule(inference, pixel_space=False)
        self.use_planner(pose_model, lexicon, net.config.layout, device, "--pose-model", language_pairs)

    @classmethod
    def from_checkpoint(cls, checkpoint, device="cpu", lexicon=None, pose_model=None) -> PoseVideoPipeline:
        pairs = checkpoint.meta.metadata.get("language_pairs")
        return cls(checkpoint.model, checkpoint.inference, device, lexicon, pose_model, pairs)

    def to(self, device: Any) -> PoseVideoPipeline:
        self.device = torch.device(device)
        self.net.to(self.device)
        return self

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
        pose=None,
    ):
        return [
            self.animate(
                self.plan_for(text, spoken, signed, strict, notes, given=pose),
                num_samples=num_samples,
                seed=seed,
                steps=steps,
                guidance_scale=guidance_scale,
                eta=eta,
            )
            for text in texts
        ]

    def animate(
        self,
        pose: PoseSequence,
        *,
        num_samples: int = 1,
        seed: int | None = None,
        steps: int | None = None,
        guidance_scale: float | None = None,
        eta: float | None = None,
    ) -> list[VideoClip]:
        """`num_samples` videos of `pose`; options left None are the checkpoint's ``inference:``
        values. Options are checked as a call's are."""
        check_samples_and_seed(num_samples, seed)
        checked = self.check_options({"steps": steps, "guidance_scale": guidance_scale, "eta": eta})
        inf, cfg = self.inference, self.net.config
        steps, guidance = checked.get("steps", inf.steps), checked.get("guidance_scale", inf.guidance_scale)
        eta, seed = checked.get("eta", inf.eta), inf.seed if seed is None else seed
        positions = pose_positions(pose, self.net)
        length = len(positions)
        padded = np.concatenate([positions, np.repeat(positions[-1:], max(0, cfg.frames - length), axis=0)])
        padded = torch.from_numpy(padded).to(self.device)
        generators = [torch.Generator().manual_seed(seed + k) for k in range(num_samples)]
        shape = self.net.latent_shape(len(padded))
        noise = torch.stack([torch.randn(shape, generator=g) for g in generators]).to(self.device)

        conditions = {}  # the same windows come back at every step: their pose is encoded once

        def condition(starts):
            key = tuple(starts)
            if key not in conditions:
                windows = torch.stack([padded[s : s + cfg.frames] for s in starts])
                if guidance == 1.0:
                    conditions[key] = self.net.condition(windows)
                else:
                    keep = torch.arange(2 * len(windows), device=self.device) < len(windows)
                    conditions[key] = self.net.condition(torch.cat([windows, windows]), keep)
            return conditions[key]

        def predict_windows(x, t, _rows, starts):
            if guidance == 1.0:
                return self.net(x, t, condition=condition(starts))
            both = self.net(torch.cat([x, x]), torch.cat([t, t]), condition=condition(starts))
            out_pose, out_null = both.chunk(2)
            return out_null + guidance * (out_pose - out_null)

        def fresh_noise():
            return torch.stack([torch.randn(shape, generator=g) for g in generators])

        with torch.inference_mode():
            latents = sample_in_windows(self.schedule, noise, cfg.frames, predict_windows, steps, eta, fresh_noise)
            videos = self.net.from_latent(latents).float().cpu().numpy()
        return [VideoClip(unit_to_frames(v)[:length], cfg.fps) for v in videos]
