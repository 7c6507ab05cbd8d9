"""Training windows of a pose-conditioned video model: clips and their joint positions, encoded
once, cut half a window apart, the last frame padding a short clip."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from text2sign.data.pose_video_pairs import PoseVideoWindows, pose_source
from text2sign.data.video_corpus import build_video_corpus
from text2sign.errors import CorpusError
from text2sign.pose.io import save_pose
from text2sign.testing import fake_pose

JOINTS = 3


@pytest.fixture
def corpus(tmp_path):
    rng = np.random.default_rng(0)

    def fill(writer):
        for name, frames in (("short", 5), ("long", 20)):
            clip = rng.integers(0, 256, (frames, 8, 8, 3), dtype=np.uint8)
            writer.add(iter(clip), 12.5, id=name, split="train", text=name, spoken_language="en", signed_language="ase")
        return "random frames"

    return build_video_corpus(tmp_path / "videos", 8, 8, fill)


def positions_of(item):
    """Frame f of a clip: every joint at x = f / 100, seen."""
    out = np.ones((item.num_frames, JOINTS, 3), np.float32)
    out[..., 0] = np.arange(item.num_frames)[:, None] / 100
    return out


def encode(videos: torch.Tensor) -> torch.Tensor:
    """A stand-in autoencoder: 2 channels at half the side."""
    return videos[:, :2, :, ::2, ::2]


def windows(corpus, frames=8, **overrides):
    arguments = {"positions_of": positions_of, "encode": encode, "latent_shape": (2, 4, 4), "num_joints": JOINTS}
    return PoseVideoWindows(corpus, corpus.items, frames=frames, size=8, **{**arguments, **overrides})


def test_windows_start_half_a_window_apart_and_pad_a_short_clip_with_its_last_frame(corpus):
    data = windows(corpus)
    assert data.windows == [(0, 0), (1, 0), (1, 4), (1, 8), (1, 12)]
    latents, positions = data[0]
    assert latents.shape == (2, 8, 4, 4) and positions.shape == (8, JOINTS, 3)
    np.testing.assert_allclose(positions[:, 0, 0], [0, 0.01, 0.02, 0.03, 0.04, 0.04, 0.04, 0.04])
    np.testing.assert_array_equal(latents[:, 5], latents[:, 4])
    short = corpus.items[0]
    pixels = corpus.frames(short)[4].astype(np.float32) / 127.5 - 1  # the last frame, through the stand-in
    np.testing.assert_allclose(latents[:, 4], pixels[::2, ::2, :2].transpose(2, 0, 1), atol=1e-6)
    _, positions = data[3]
    np.testing.assert_allclose(positions[:, 0, 0], np.arange(8, 16) / 100)


def test_unit_scaling_measures_the_latents_spread_and_scales_what_is_read(corpus):
    data = windows(corpus)
    scaling = data.unit_scaling()
    data.scale = scaling
    values = np.concatenate([data[i][0].ravel() for i in (0, 1, 3)])
    assert 0.8 < values.std() < 1.2


def test_a_pose_that_does_not_match_its_clip_is_one_line_naming_the_clip(corpus):
    def wrong(item):
        return positions_of(item)[:-1]

    with pytest.raises(CorpusError, match="clip short: its pose gives positions of shape"):
        windows(corpus, positions_of=wrong)[0]


def test_poses_come_from_a_pose_corpus_by_id_or_a_folder_of_id_pose_files(tmp_path, tiny_fs_words):
    item = tiny_fs_words.items[0]
    assert pose_source(tiny_fs_words.root)(item.id).num_frames == item.num_frames
    with pytest.raises(CorpusError, match="has no item 'nothing'"):
        pose_source(tiny_fs_words.root)("nothing")
    folder = tmp_path / "poses"
    save_pose(fake_pose(4), folder / "train" / "clip.pose")
    assert pose_source(folder)("train/clip").num_frames == 4
    with pytest.raises(CorpusError, match="no train/other.pose"):
        pose_source(folder)("train/other")
    with pytest.raises(CorpusError, match="leads outside"):
        pose_source(folder)("../elsewhere")
    with pytest.raises(CorpusError, match="not a folder"):
        pose_source(tmp_path / "missing")
