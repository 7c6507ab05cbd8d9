"""The pose-conditioned video denoiser: heatmaps against a hand computation, shapes, and the
"no pose" of condition dropout."""

from __future__ import annotations

import math

import pytest
import torch

from text2sign.errors import ConfigError
from text2sign.models.pose_video import PoseVideoConfig, heatmaps

pytest.importorskip("diffusers")

from text2sign.models.pose_video import PoseVideoNet
from text2sign.testing import tiny_pose_video_net

KINDS = ["body", "face", "left_hand", "right_hand"]


def tiny_net(**model) -> PoseVideoNet:
    return tiny_pose_video_net(**model).eval()


def test_a_heatmap_is_a_gaussian_bump_at_each_seen_joint_and_nothing_for_unseen_ones():
    positions = torch.zeros(1, 1, 3, 3)
    positions[0, 0, 0] = torch.tensor([2.5 / 8, 5.5 / 8, 1.0])  # the centre of cell (row 5, column 2) of 8 x 8
    positions[0, 0, 1] = torch.tensor([6.5 / 8, 1.5 / 8, 0.0])  # unseen
    positions[0, 0, 2] = torch.tensor([0.0, 0.0, 1.0])  # seen at the frame's corner
    parts = [torch.tensor([0]), torch.tensor([1]), torch.tensor([2])]
    maps = heatmaps(positions, parts, side=8, sigma=1.0)
    assert maps.shape == (1, 3, 1, 8, 8)
    assert maps[0, 0, 0, 5, 2] == pytest.approx(1.0)
    assert maps[0, 0, 0, 5, 3] == pytest.approx(math.exp(-0.5))  # one cell to the right
    assert maps[0, 0, 0, 4, 3] == pytest.approx(math.exp(-1.0))  # one up and one right
    assert maps[0, 1].abs().max() == 0  # the unseen joint draws nothing
    assert maps[0, 2, 0, 0, 0] == pytest.approx(math.exp(-(0.5**2 + 0.5**2) / 2))  # a seen joint at (0, 0)


def test_prediction_has_the_latents_shape_and_dropping_the_pose_ignores_it():
    net = tiny_net()
    x = torch.randn(2, 2, 4, 8, 8)
    t = torch.tensor([10, 500])
    a, b = torch.rand(2, 4, 178, 3), torch.rand(2, 4, 178, 3)
    with torch.no_grad():
        out = net(x, t, a)
        assert out.shape == x.shape
        dropped = torch.zeros(2, dtype=torch.bool)
        torch.testing.assert_close(net(x, t, a, dropped), net(x, t, b, dropped))
        # the zero-initialised output layer makes every prediction 0 before training: perturb it
        torch.nn.init.normal_(net.backbone.out.weight, std=0.1)
        torch.nn.init.normal_(net.backbone.ada_out.weight, std=0.1)
        for block in net.backbone.blocks:
            torch.nn.init.normal_(block.ada.weight, std=0.1)
        assert not torch.allclose(net(x, t, a), net(x, t, b)), "the pose must change the prediction"
        torch.testing.assert_close(net(x, t, a, dropped), net(x, t, b, dropped))


def test_a_config_refuses_what_it_cannot_build():
    with pytest.raises(ConfigError, match="placement"):
        PoseVideoConfig(placement="somewhere")
    with pytest.raises(ConfigError, match="world"):
        PoseVideoConfig(kinds=["world"])
    with pytest.raises(ConfigError, match="init.autoencoder"):
        PoseVideoNet(PoseVideoConfig(layout="holistic-178", kinds=KINDS))
    with pytest.raises(ConfigError, match="patches"):
        tiny_net(patch=3)


def test_full_resolution_maps_give_each_hand_joint_its_own_channel_on_the_patch_grid():
    from text2sign.models.pose_video import pixel_map_groups

    parts = [torch.tensor([0, 1]), torch.tensor([2, 3, 4])]
    groups = pixel_map_groups(parts, ["body", "left_hand"])
    assert [g.tolist() for g in groups] == [[0, 1], [2], [3], [4]]
    net = tiny_net(pixel_heatmaps=True)
    assert net.pixel_groups == 2 + 21 + 21  # body and face whole, each hand joint alone
    # one token per 2 x 2 latent patch, i.e. per 4 x 4 pixels of a 16 px frame under a factor-2 autoencoder
    assert net.pixel_embed.kernel_size == (1, 4, 4) and net.pixel_embed.stride == (1, 4, 4)
    x, t = torch.randn(2, 2, 4, 8, 8), torch.tensor([10, 500])
    a = torch.rand(2, 4, 178, 3)
    b = a.clone()
    b[:, :, net.pose.parts[3][0], 0] += 0.3  # move one joint of the right hand
    with torch.no_grad():
        torch.nn.init.normal_(net.backbone.out.weight, std=0.1)
        for block in net.backbone.blocks:
            torch.nn.init.normal_(block.ada.weight, std=0.1)
        torch.nn.init.zeros_(net.pose.mlps[3][2].weight)  # the hand's token no longer sees the joint...
        torch.nn.init.zeros_(net.pose.mlps[3][2].bias)
        heat = net.backbone.embed.weight
        heat[:, net.channels :] = 0  # ...nor the coarse maps: only the full-resolution maps can tell
        assert not torch.allclose(net(x, t, a), net(x, t, b))
