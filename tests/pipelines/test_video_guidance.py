"""Classifier-free guidance does what it promises: a larger scale moves a clip toward its text.

The denoiser here has known answers, so the test measures the pipeline's guidance and nothing
else: for a text it predicts a clean clip only a quarter of the way from the unconditional clip
(the mean of both texts' clips) to that text's own clip -- a model that has learnt its condition
weakly, the case guidance is for -- and for the null text it predicts the mean. Sampled through
the real pipeline (text and null contexts, schedule, DDIM, windows, conversion to frames), the
distance of a text's clip to its own target must shrink as the guidance scale grows toward 1 /
that quarter, and its distance to the other text's target must grow.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from text2sign.data.video_corpus import unit_to_frames
from text2sign.models.video_diffusion import VideoDiffusionConfig, VideoDiffusionNet
from text2sign.pipelines.video_diffusion import VideoDiffusionInferenceConfig, VideoDiffusionPipeline
from text2sign.text.encoders import TextEncoderConfig

WEAK = 0.25  # how far the conditional prediction goes from the unconditional one toward its text's clip
FRAMES, SIZE = 4, 8


def target_clips() -> dict[str, torch.Tensor]:
    """``(3, T, H, W)`` clips in [-1, 1]: "a" bright on the left, "b" bright on the right."""
    left = torch.full((3, FRAMES, SIZE, SIZE), -0.6)
    left[..., : SIZE // 2] = 0.6
    return {"a": left, "b": left.flip(-1)}


class KnownDenoiser(VideoDiffusionNet):
    """A tiny pixel-space net whose ``forward`` answers from known clean clips instead of its backbone:
    the network output (for the schedule's prediction type) that denoises to the clip it means."""

    def __init__(self, config: VideoDiffusionConfig, inference: VideoDiffusionInferenceConfig):
        super().__init__(config)
        from text2sign.pipelines.video_diffusion import make_schedule

        self.schedule = make_schedule(inference)
        targets = target_clips()
        mean = (targets["a"] + targets["b"]) / 2
        with torch.no_grad():
            # Each context is recognised by its first token's state: the null text's or a text's.
            keys = {"": self.null_context(1)[0][0, 0]}
            keys.update({text: self.encode([text], ["ase"])[0][0, 0] for text in targets})
        self.keys = torch.stack(list(keys.values()))  # (3, d)
        self.clean = torch.stack([mean] + [mean + WEAK * (targets[t] - mean) for t in targets])  # (3, 3, T, H, W)

    def forward(self, x, t, context, context_mask):
        which = torch.cdist(context[:, 0], self.keys).argmin(dim=1)  # (B,) 0: null, 1: "a", 2: "b"
        x0 = self.clean[which]
        abar = self.schedule.alphas_cumprod[t].to(x.dtype).view(-1, 1, 1, 1, 1)
        eps = (x - abar.sqrt() * x0) / (1 - abar).sqrt()
        if self.schedule.prediction_type == "epsilon":
            return eps
        if self.schedule.prediction_type == "sample":
            return x0
        return abar.sqrt() * eps - (1 - abar).sqrt() * x0  # v_prediction


def pipeline(prediction_type: str) -> VideoDiffusionPipeline:
    torch.manual_seed(0)
    text = TextEncoderConfig(
        d_model=16, layers=1, heads=2, vocab=["<pad>", "<unk>", "a", "b"], signed_languages=["ase"]
    )
    config = VideoDiffusionConfig(denoiser="dit3d", text=text, frames=FRAMES, size=SIZE, width=16, heads=2, depth=1)
    inference = VideoDiffusionInferenceConfig(train_timesteps=100, steps=10, prediction_type=prediction_type, fps=5.0)
    return VideoDiffusionPipeline(KnownDenoiser(config, inference), inference, [("en", "ase")])


def distance(clip: np.ndarray, target: torch.Tensor) -> float:
    """Mean absolute difference in 8-bit pixel values to a target clip in [-1, 1] (still: every
    frame alike, so any clip length compares with its first frame)."""
    expected = unit_to_frames(target.numpy())[:1]
    return float(np.abs(clip.astype(np.float64) - expected.astype(np.float64)).mean())


@pytest.mark.parametrize(
    "prediction_type, options",
    [("epsilon", {}), ("v_prediction", {}), ("sample", {}), ("epsilon", {"eta": 1.0, "frames": 2 * FRAMES})],
)
def test_a_larger_guidance_scale_moves_the_clip_toward_its_text(prediction_type, options):
    generate = pipeline(prediction_type)
    targets = target_clips()
    for text, other in (("a", "b"), ("b", "a")):
        own, away = [], []
        for scale in (1.0, 2.0, 3.0, 1 / WEAK):
            clip = generate([text], "en", "ase", seed=0, guidance_scale=scale, **options).samples[0][0].frames
            own.append(distance(clip, targets[text]))
            away.append(distance(clip, targets[other]))
        assert all(a > b for a, b in itertools.pairwise(own)), (text, own)
        assert all(a < b for a, b in itertools.pairwise(away)), (text, away)
        assert own[-1] < 1.0  # at 1 / WEAK the guided prediction is the text's own clip (to 8-bit rounding)


def test_no_guidance_at_scale_zero_is_the_unconditional_clip_for_every_text():
    generate = pipeline("epsilon")
    a, b = (generate([t], "en", "ase", seed=0, guidance_scale=0.0).samples[0][0].frames for t in ("a", "b"))
    assert np.array_equal(a, b)
    mean = (target_clips()["a"] + target_clips()["b"]) / 2
    assert distance(a, mean) < 1.0
