"""The recipe of docs/pose-video.md end to end on a tiny signer made here: the signer's videos
(a folder of clips with their texts) and the poses extracted from them (one ``.pose`` per clip, in
the videos' pixels, as ``extract`` writes them) -> ``prepare video-folder`` -> ``train`` a
pose-video model with placement ``frame`` -> ``animate`` any pose and ``generate`` text in that
signer's appearance."""

from __future__ import annotations

import numpy as np
import pytest
import yaml

from text2sign.pose.io import save_pose
from text2sign.pose.sequence import PoseSequence
from text2sign.testing import fake_pose, one_error_line, tiny_frame_autoencoder
from text2sign.video import VideoClip

pytest.importorskip("diffusers")

WIDTH, HEIGHT = 48, 32  # the signer's camera
CLIPS = {"train": 4, "dev": 1}


def signer_clip(seed: int) -> tuple[PoseSequence, VideoClip]:
    """A pose in the camera's pixels and the video of it: a dot at every joint, hands in colour."""
    pose = fake_pose(10, fps=12.5, seed=seed)
    data = pose.data.copy()
    data[..., 0] *= WIDTH / 500
    data[..., 1] *= HEIGHT / 500
    pose = PoseSequence(data, pose.mask, pose.fps, pose.layout, canvas=(WIDTH, HEIGHT))
    hands = set(pose.layout.kind_indices("left_hand", "right_hand").tolist())
    frames = np.zeros((pose.num_frames, HEIGHT, WIDTH, 3), np.uint8)
    for f in range(pose.num_frames):
        for j, (x, y) in enumerate(data[f, :, :2]):
            frames[f, int(y), int(x)] = (255, 64, 0) if j in hands else (255, 255, 255)
    return pose, VideoClip(frames, 12.5)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    from text2sign.cli import app
    from text2sign.rendering import write_video

    root = tmp_path_factory.mktemp("recipe")
    videos, poses = root / "my-videos", root / "my-poses"
    seed = 0
    for split, count in CLIPS.items():
        for k in range(count):
            pose, clip = signer_clip(seed)
            seed += 1
            write_video(clip, videos / split / f"clip{k}.gif")
            (videos / split / f"clip{k}.txt").write_text("ab")
            save_pose(pose, poses / split / f"clip{k}.pose")
    run_cli(app, ["prepare", "video-folder", str(videos), "-o", str(root / "corpus"), "--resize", "16", "--crop", "16"])
    config = {
        "family": "pose-video",
        "init": {"autoencoder": str(tiny_frame_autoencoder(root))},
        "data": {"corpus": str(root / "corpus"), "poses": str(poses)},
        "model": {"placement": "frame", "frames": 4, "width": 16, "heads": 2, "depth": 1, "patch": 2},
        "inference": {"train_timesteps": 100, "steps": 2, "guidance_scale": 1.0},
        "train": {"steps": 2, "batch_size": 4, "lr": 1e-3, "ema_decay": 0.0, "sample_every": 0},
    }
    (root / "me.yaml").write_text(yaml.safe_dump(config))
    run_cli(app, ["train", str(root / "me.yaml"), "-o", str(root / "run")])
    return root


def run_cli(app, args):
    from typer.testing import CliRunner

    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    return result.output


def test_the_model_learns_where_the_signer_stands_in_the_shaped_frames(trained):
    from text2sign.checkpoints import load_checkpoint

    config = load_checkpoint(trained / "run").model.config
    assert config.placement == "frame" and config.size == 16
    # fake_pose's shoulders are at x 180 and 320, y 250 of 500: in the 48 x 32 camera, then scaled by
    # 0.5 (shorter side 32 -> 16) and cropped 4 px from the left, they are centred at (0.5, 0.5)
    centre_x = ((250 * WIDTH / 500) * 0.5 - 4) / 16
    assert config.signer_centre == pytest.approx([centre_x, 0.5], abs=0.02)
    assert config.signer_width == pytest.approx((140 * WIDTH / 500) * 0.5 / 16, abs=0.02)


def test_animate_turns_any_pose_into_the_signers_video(trained, capsys):
    from text2sign.cli import run
    from text2sign.video.io import load_video

    other = fake_pose(25, fps=25.0, seed=99)  # another camera, another rate
    save_pose(other, trained / "other.pose")
    out = trained / "out.gif"
    assert run(["animate", str(trained / "other.pose"), "-o", str(out), "--model", str(trained / "run")]) in (0, None)
    clip = load_video(out)
    assert clip.num_frames == other.resample(12.5).num_frames == 12 and clip.frames.shape[1:3] == (16, 16)
    capsys.readouterr()
    body_only = other.select_components(["POSE_LANDMARKS"])
    save_pose(body_only, trained / "body.pose")
    code = run(["animate", str(trained / "body.pose"), "-o", str(trained / "x.mp4"), "--model", str(trained / "run")])
    assert code == 1
    assert "cannot be animated by a holistic-178 model" in one_error_line(capsys)
    assert not (trained / "x.mp4").exists()


def test_generate_signs_text_in_the_signers_appearance(trained):
    from text2sign.cli import run
    from text2sign.video.io import load_video

    out = trained / "ab.mp4"
    assert run(["generate", "ab", "--model", str(trained / "run"), "-o", str(out), "--seed", "1"]) in (0, None)
    assert load_video(out).frames.shape[1:3] == (16, 16)


def test_a_latent_video_run_resumes_though_its_latent_scaling_is_measured_when_training_starts(trained):
    from text2sign.checkpoints import load_checkpoint
    from text2sign.cli import app

    before = load_checkpoint(trained / "run").model.config.autoencoder.scaling_factor
    run_cli(app, ["train", "--resume", str(trained / "run"), "--set", "train.steps=3"])
    resumed = load_checkpoint(trained / "run" / "checkpoints" / "step-000003")
    assert resumed.model.config.autoencoder.scaling_factor == pytest.approx(before, rel=1e-5)
