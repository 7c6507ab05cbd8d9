"""`generate`'s outputs: -o is the model's own output, --gif / --mp4 also draw it, for pose and video models alike."""

import av
import pytest
import torch
from PIL import Image

from text2sign.checkpoints import save_checkpoint
from text2sign.cli import run
from text2sign.models.video_diffusion import VideoDiffusionConfig, VideoDiffusionNet
from text2sign.pipelines.video_diffusion import VideoDiffusionInferenceConfig
from text2sign.pose.io import load_pose
from text2sign.testing import one_error_line
from text2sign.text.encoders import TextEncoderConfig


@pytest.fixture(scope="module")
def video_model(tmp_path_factory):
    """A pixel-space video checkpoint small enough to sample in a fraction of a second (no extra needed)."""
    torch.manual_seed(0)
    text = TextEncoderConfig(
        d_model=16, layers=1, heads=2, vocab=["<pad>", "<unk>", "h", "i"], signed_languages=["ase"]
    )
    config = VideoDiffusionConfig(denoiser="dit3d", text=text, frames=4, size=8, width=16, heads=2, depth=1, patch=4)
    inference = VideoDiffusionInferenceConfig(train_timesteps=50, steps=2, guidance_scale=2.0, fps=5.0)
    return save_checkpoint(
        tmp_path_factory.mktemp("video") / "tiny",
        "video-diffusion",
        VideoDiffusionNet(config),
        config,
        inference,
        metadata={"language_pairs": [["en", "ase"]]},
    )


def frame_counts(gif, mp4):
    with Image.open(gif) as image:
        gif_frames = image.n_frames
    with av.open(str(mp4)) as container:
        return gif_frames, len(list(container.decode(video=0)))


def test_a_pose_model_writes_only_the_drawings_when_no_output_is_named(tmp_path):
    gif, mp4 = tmp_path / "hi.gif", tmp_path / "hi.mp4"
    assert run(["generate", "hi", "--gif", str(gif), "--mp4", str(mp4), "--size", "64"]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hi.gif", "hi.mp4"]
    assert run(["generate", "hi", "-o", str(tmp_path / "hi.pose")]) == 0
    assert frame_counts(gif, mp4) == (load_pose(tmp_path / "hi.pose").num_frames,) * 2


def test_a_video_model_takes_the_same_flags(tmp_path, video_model):
    gif, mp4 = tmp_path / "hi.gif", tmp_path / "hi.mp4"
    assert run(["generate", "hi", "--model", str(video_model), "--mp4", str(mp4)]) == 0
    assert [p.name for p in tmp_path.iterdir()] == ["hi.mp4"]
    assert run(["generate", "hi", "--model", str(video_model), "-o", str(tmp_path / "frames"), "--gif", str(gif)]) == 0
    assert len(list((tmp_path / "frames").glob("*.png"))) == 4
    assert frame_counts(gif, mp4) == (4, 4)


def test_nothing_to_write_is_one_error_line(capsys):
    assert run(["generate", "hi"]) == 1
    assert "give -o FILE, --gif FILE.gif or --mp4 FILE.mp4" in one_error_line(capsys)
