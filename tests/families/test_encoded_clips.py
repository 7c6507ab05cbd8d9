"""Latent video training encodes each clip through the VAE once, when first read or all before a
real run's first step; a dry run reads one batch and so encodes only that batch's clips."""

from types import SimpleNamespace

import numpy as np
import torch

from text2sign.data.video_clips import EncodedClips


class CountingVae:
    """Latents of a clip: its frames' mean, broadcast to (C, T, h, w); counts the calls."""

    def __init__(self):
        self.calls = 0

    def latent_shape(self, frames: int):
        return (2, frames, 1, 1)

    def to_latent(self, video: torch.Tensor) -> torch.Tensor:  # (1, T, H, W, 3) -> (1, 2, T, 1, 1)
        self.calls += 1
        means = video.float().mean(dim=(2, 3, 4))  # (1, T)
        return means[:, None, :, None, None].expand(1, 2, -1, 1, 1)


class Clips:
    def __init__(self, ids):
        self.items = [SimpleNamespace(id=i, text=f"t{i}", signed_language="ase") for i in ids]
        self.frames = 3

    def __getitem__(self, index):
        value = float(self.items[index].id)
        return np.full((self.frames, 2, 2, 3), value, dtype=np.float32), self.items[index].text, "ase"


def test_clips_are_encoded_when_first_read_and_once():
    vae = CountingVae()
    encoded = EncodedClips(Clips([0, 1, 2, 1, 3]), vae)
    assert vae.calls == 0
    latents, text, _ = encoded[3]
    assert vae.calls == 1 and text == "t1" and np.all(latents == 1.0) and latents.shape == (2, 3, 1, 1)
    encoded[1]
    assert vae.calls == 1  # the same clip, already encoded
    encoded.encode_all()
    assert vae.calls == 4  # four distinct clips
    encoded.encode_all()
    assert vae.calls == 4
    values = np.array([0.0, 1.0, 2.0, 3.0])
    assert encoded.unit_scaling() == np.float64(1.0 / values.std())
    encoded.scale = 2.0
    assert np.all(encoded[4][0] == 6.0)
