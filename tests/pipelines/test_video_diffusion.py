import numpy as np
import pytest
import torch

from text2sign.errors import Text2SignError
from text2sign.models.video_diffusion import VideoDiffusionConfig, VideoDiffusionNet
from text2sign.pipelines.video_diffusion import VideoDiffusionInferenceConfig, VideoDiffusionPipeline
from text2sign.text.encoders import TextEncoderConfig
from text2sign.video import VideoClip


@pytest.fixture(scope="module")
def pipeline():
    torch.manual_seed(0)
    text = TextEncoderConfig(
        d_model=16, layers=1, heads=2, vocab=["<pad>", "<unk>", "a", "b"], signed_languages=["ase"]
    )
    net = VideoDiffusionNet(
        VideoDiffusionConfig(denoiser="dit3d", text=text, frames=4, size=8, width=16, heads=2, depth=1, patch=4)
    )
    for p in net.parameters():
        torch.nn.init.normal_(p, std=0.1)
    inference = VideoDiffusionInferenceConfig(train_timesteps=50, steps=3, guidance_scale=2.0, fps=5.0)
    return VideoDiffusionPipeline(net, inference, [("en", "ase")])


def frames(pipeline, texts, **options):
    return [s[0].frames for s in pipeline(texts, "en", "ase", seed=1, **options).samples]


def test_outputs_are_clips_at_the_model_size_and_rate(pipeline):
    clip = pipeline(["ab"], "en", "ase", num_samples=2).samples[0][1]
    assert isinstance(clip, VideoClip) and clip.frames.shape == (4, 8, 8, 3) and clip.fps == 5.0


def test_a_text_draws_the_same_alone_or_in_a_batch(pipeline):
    assert np.array_equal(frames(pipeline, ["ba"])[0], frames(pipeline, ["ab", "ba"])[1])
    assert np.array_equal(frames(pipeline, ["ba"], eta=1.0)[0], frames(pipeline, ["ab", "ba"], eta=1.0)[1])


def test_sampling_options_are_honoured_per_call(pipeline):
    base = frames(pipeline, ["ab"])[0]
    assert np.array_equal(base, frames(pipeline, ["ab"], steps=3, guidance_scale=2.0, eta=0.0)[0])
    for options in ({"steps": 5}, {"guidance_scale": 1.0}, {"eta": 1.0}, {"steps": 50}):
        assert not np.array_equal(base, frames(pipeline, ["ab"], **options)[0]), options


@pytest.mark.parametrize(
    "options, message",
    [
        ({"steps": 0}, "steps must be from 1"),
        ({"steps": 2.5}, "whole number"),
        ({"guidance_scale": -1.0}, "guidance_scale"),
        ({"frames": 0}, "frames must be from 1"),
        ({"steps": float("nan")}, "steps must be a whole number from 1"),
        ({"frames": float("inf")}, "frames must be a whole number from 1"),
        ({"temperature": 3}, "does not apply"),
    ],
)
def test_bad_options_are_one_line_errors(pipeline, options, message):
    with pytest.raises(Text2SignError, match=message):
        pipeline(["ab"], "en", "ase", **options)


def test_unknown_characters_are_warned_or_refused(pipeline):
    result = pipeline(["abz"], "en", "ase")
    assert any("'z'" in w for w in result.warnings)
    with pytest.raises(Text2SignError, match="'z'"):
        pipeline(["abz"], "en", "ase", strict=True)


def test_longer_clips_are_overlapping_windows_of_the_training_length(pipeline, monkeypatch):
    from text2sign.pipelines import video_diffusion

    assert video_diffusion.window_starts(4, 4) == [0]
    assert video_diffusion.window_starts(9, 4) == [0, 2, 4, 5]
    long = frames(pipeline, ["ab", "ba"], frames=9)
    assert [f.shape for f in long] == [(9, 8, 8, 3)] * 2
    assert np.array_equal(frames(pipeline, ["ab"], frames=4)[0], frames(pipeline, ["ab"])[0])
    assert frames(pipeline, ["ab"], frames=2)[0].shape == (2, 8, 8, 3)
    # One window per network call gives the same clip: the pass size bounds memory, not the result.
    monkeypatch.setattr(video_diffusion, "WINDOWS_PER_PASS", 1)
    np.testing.assert_allclose(frames(pipeline, ["ab", "ba"], frames=9)[1].astype(int), long[1].astype(int), atol=1)
    with pytest.raises(Text2SignError, match="frames must be from 1 to 64"):
        pipeline(["ab"], "en", "ase", frames=65)


def test_generated_clips_play_at_the_rate_their_training_frames_stood_for():
    from types import SimpleNamespace

    from text2sign.families.video_diffusion import playback_rate

    clips = [SimpleNamespace(fps=12.5, num_frames=n) for n in (20, 40, 50)]  # 1.6, 3.2 and 4 s
    assert playback_rate(clips, 8) == 2.5  # every clip squeezed into 8 frames: the median of 5, 2.5, 2
    assert playback_rate(clips, 64) == 12.5  # every clip padded: its own rate
    assert playback_rate(clips, 40) == 12.5  # two of three kept their rate, the longest was squeezed to 10 fps


def test_a_paced_model_draws_at_most_its_own_frames():
    text = TextEncoderConfig(
        d_model=16, layers=1, heads=2, vocab=["<pad>", "<unk>", "a", "b"], signed_languages=["ase"]
    )
    net = VideoDiffusionNet(
        VideoDiffusionConfig(
            denoiser="dit3d",
            text=text,
            frames=4,
            size=8,
            width=16,
            heads=2,
            depth=1,
            patch=4,
            paced_text=True,
            text_pace=2.0,
        )
    )
    paced = VideoDiffusionPipeline(
        net, VideoDiffusionInferenceConfig(train_timesteps=50, steps=2, fps=5.0), [("en", "ase")]
    )
    assert paced(["ab"], "en", "ase", frames=3).samples[0][0].frames.shape[0] == 3
    with pytest.raises(Text2SignError, match="frames must be from 1 to 4, got 5"):
        paced(["ab"], "en", "ase", frames=5)


def test_the_family_measures_the_pace_from_its_training_clips(tmp_path):
    from text2sign.families import get_family
    from text2sign.families.video_diffusion import text_pace, tiny_config
    from text2sign.training import parse_experiment

    raw = tiny_config(tmp_path)
    raw["model"]["paced_text"] = True
    experiment = get_family("video-diffusion").build(parse_experiment(raw, source="test"))
    items = experiment.train_data.items
    assert (experiment.config.model.text_pace, experiment.config.model.text_lead) == text_pace(items, 4)

    class Clip:
        def __init__(self, letters, frames):
            self.text, self.num_frames = "x" * letters, frames

    # 4 + 5 a letter (lead-in and lead-out 2 each); the 30-letter clip is squeezed into 48 frames and left out
    clips = [Clip(1, 9), Clip(3, 19), Clip(5, 29), Clip(30, 154)]
    assert text_pace(clips, 48) == (5.0, 2.0)
    assert text_pace([Clip(2, 60), Clip(4, 70)], 48) == (16.0, 0.0)  # all squeezed: 48 frames over the median 3 letters
