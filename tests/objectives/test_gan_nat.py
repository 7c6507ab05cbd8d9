import json
import math
from importlib import resources
from pathlib import Path

import numpy as np
import pytest
import torch

from text2sign.data.torch_data import PoseItem, collate_pose_batch
from text2sign.errors import ConfigError
from text2sign.models.alignment import duration_ends, frame_token_index, monotonic_alignment, per_frame
from text2sign.models.gan_nat import DiscriminatorConfig, GanNatConfig
from text2sign.objectives.gan_nat import (
    FeatureGeometry,
    GanNatObjective,
    GanNatObjectiveConfig,
    bone_length_loss,
    build_gan_nat_objective,
    design_bone_loss,
    feature_weights,
    hinge_discriminator_loss,
    hinge_generator_loss,
    r1_penalty,
    reconstruction_losses,
    weighted_square_distances,
)
from text2sign.pose.features import pose_features, select_feature_stats
from text2sign.pose.layout import get_layout
from text2sign.pose.normalize import compute_feature_stats
from text2sign.testing import fake_pose
from text2sign.text import TextEncoderConfig

KINDS = ("body", "left_hand", "right_hand")


def full_masks(b, t, j):
    return torch.ones(b, t, dtype=torch.bool), torch.ones(b, t, j, dtype=torch.bool)


# --- loss terms against hand computations ------------------------------------------------------


def test_linear_motion_offset_has_zero_velocity_and_acceleration_loss():
    t = torch.arange(6, dtype=torch.float32)
    real = (t[None, :, None] * torch.tensor([0.3, -0.2, 0.1, 0.5])).clone()  # (1, 6, 4): 2 joints x 2 dims
    fake = real + 0.5
    frame_mask, joint_mask = full_masks(1, 6, 2)
    losses = reconstruction_losses(fake, real, feature_weights(frame_mask, joint_mask, 2), delta=1.0)
    assert losses["position"].item() == pytest.approx(0.5 * 0.5**2)
    assert losses["velocity"].item() == pytest.approx(0.0, abs=1e-7)
    assert losses["acceleration"].item() == pytest.approx(0.0, abs=1e-7)
    drift = real + 0.2 * t[None, :, None]  # constant extra velocity: acceleration still matches
    losses = reconstruction_losses(drift, real, feature_weights(frame_mask, joint_mask, 2), delta=1.0)
    assert losses["velocity"].item() == pytest.approx(0.5 * 0.2**2)
    assert losses["acceleration"].item() == pytest.approx(0.0, abs=1e-7)
    big = reconstruction_losses(real + 3.0, real, feature_weights(frame_mask, joint_mask, 2), delta=1.0)
    assert big["position"].item() == pytest.approx(1.0 * (3.0 - 0.5))  # linear Huber branch


def test_reconstruction_ignores_padding_and_missing_joints():
    real = torch.randn(2, 7, 4)
    fake = torch.randn(2, 7, 4)
    frame_mask, joint_mask = full_masks(2, 7, 2)
    frame_mask[1, 4:] = False
    joint_mask[0, 2, 1] = False  # joint 1 (features 2, 3) unseen at frame 2
    w = feature_weights(frame_mask, joint_mask, 2)
    base = reconstruction_losses(fake, real, w, 1.0)
    fake2, real2 = fake.clone(), real.clone()
    fake2[1, 4:] = 50.0
    real2[1, 4:] = -50.0
    fake2[0, 2, 2:] = 99.0
    other = reconstruction_losses(fake2, real2, w, 1.0)
    for name in base:
        assert other[name].item() == pytest.approx(base[name].item())
    # Velocity count: 2 joints x 2 dims over 6 + 3 frame pairs, minus the 2 pairs around frame 2 for joint 1.
    assert w[:, 1:].logical_and(w[:, :-1]).sum().item() == 4 * 9 - 2 * 2


def test_bone_length_loss_hand_computed():
    geometry = FeatureGeometry(np.array([[0, 1]]), np.zeros(4), np.ones(4), dims=2)
    real = torch.tensor([[[0.0, 0.0, 3.0, 4.0]]])  # bone length 5
    fake = torch.tensor([[[1.0, 1.0, 1.0, 7.0]]])  # bone length 6
    frame_mask, joint_mask = full_masks(1, 1, 2)
    loss = bone_length_loss(fake, real, joint_mask, frame_mask, geometry, delta=0.05)
    assert loss.item() == pytest.approx(0.05 * (1.0 - 0.025), rel=1e-5)
    joint_mask[0, 0, 1] = False
    assert bone_length_loss(fake, real, joint_mask, frame_mask, geometry, 0.05).item() == 0.0


def test_bone_length_loss_zero_for_rigid_motion_with_real_stats():
    layout = get_layout("holistic-178")
    seqs = [fake_pose(12, seed=s) for s in range(3)]
    stats = compute_feature_stats(seqs, KINDS)
    geometry = FeatureGeometry.from_layout(layout, KINDS, stats)
    real_np, joint_mask_np = pose_features(seqs[0], stats, KINDS)
    real = torch.from_numpy(real_np)[None]
    xyz = geometry.coordinates(real)  # (1, T, J, 3)
    angle = torch.tensor(0.7)
    rot = torch.tensor(
        [[torch.cos(angle), -torch.sin(angle), 0.0], [torch.sin(angle), torch.cos(angle), 0.0], [0, 0, 1]]
    )
    moved = ((xyz @ rot.T + torch.tensor([0.3, -0.1, 0.2])) - geometry.mean) / geometry.std
    fake = moved.reshape(1, 12, -1)
    frame_mask = torch.ones(1, 12, dtype=torch.bool)
    joint_mask = torch.from_numpy(joint_mask_np)[None]
    assert not torch.allclose(fake, real)
    assert bone_length_loss(fake, real, joint_mask, frame_mask, geometry, 0.05).item() < 1e-6


def test_design_bone_loss_hand_computed():
    # 4 joints in 2-D: left/right shoulder, left/right hip (the design's torso), one joint a row.
    geometry = FeatureGeometry(np.zeros((0, 2)), np.full(8, 0.5), np.full(8, 2.0), dims=2, torso=(0, 1, 2, 3))
    xy = torch.tensor(
        [
            # shoulder width 4, hip width 2, spine (2, 0) -> (2, -3): 3. Mean 3, var (1 + 1 + 0) / 2 = 1.
            [[0.0, 0.0], [4.0, 0.0], [1.0, -3.0], [3.0, -3.0]],
            # all three lengths 2: var 0.
            [[0.0, 0.0], [2.0, 0.0], [0.0, -2.0], [2.0, -2.0]],
            # a padded frame with a wildly uneven torso, which must not count.
            [[0.0, 0.0], [90.0, 0.0], [0.0, -1.0], [1.0, -1.0]],
        ]
    )
    fake = ((xy - 0.5) / 2.0).reshape(1, 3, 8)  # standardized as the features are
    assert torch.allclose(geometry.torso_lengths(fake)[0, 0], torch.tensor([4.0, 2.0, 3.0]), atol=1e-4)
    frame_mask = torch.tensor([[True, True, False]])
    assert design_bone_loss(fake, frame_mask, geometry).item() == pytest.approx((1.0 + 0.0) / 2, abs=1e-4)


def test_design_bone_term_uses_the_layouts_torso_and_needs_it():
    layout = get_layout("holistic-178")
    stats = compute_feature_stats([fake_pose(5)], None)
    geometry = FeatureGeometry.from_layout(layout, KINDS, stats)
    index = layout.kind_indices(*KINDS).tolist()
    names = [layout.joint_names[index[i]][1] for i in geometry.torso]
    assert names == ["LEFT_SHOULDER", "RIGHT_SHOULDER", "LEFT_HIP", "RIGHT_HIP"]
    hands_only = FeatureGeometry.from_layout(layout, ("left_hand", "right_hand"), stats)
    assert hands_only.torso is None
    objective, _, _ = toy_setup()
    with pytest.raises(ConfigError, match="needs the body joints"):
        GanNatObjective(
            objective.generator, objective.discriminator, GanNatObjectiveConfig(bone_term="design"), hands_only
        )


def test_the_shipped_model_was_trained_with_the_matching_bone_term_which_stays_the_default():
    shipped = Path(str(resources.files("text2sign.pipelines").joinpath("assets", "fs-gan-nat", "config.json")))
    objective = json.loads(shipped.read_text())["experiment"]["objective"]
    assert "bone_term" not in objective
    assert GanNatObjectiveConfig.from_dict(objective).bone_term == "match" == GanNatObjectiveConfig().bone_term


def test_design_bone_term_replaces_the_matching_term_in_the_generator_loss():
    matched, batch, _ = toy_setup(adversarial=0.0)
    design, _, _ = toy_setup(adversarial=0.0, bone_term="design", bone=0.2)
    torch.manual_seed(3)
    a = matched(batch, "generator")
    torch.manual_seed(3)
    b = design(batch, "generator")
    # Same seed, same weights (toy_setup seeds them): only the bone term differs.
    for name in ("position", "velocity", "length"):
        assert a[name].item() == pytest.approx(b[name].item(), rel=1e-6)
    assert torch.isfinite(b["bone"]) and b["bone"].item() != pytest.approx(a["bone"].item())
    terms = ("position", "velocity", "acceleration", "bone", "length", "visibility")
    expected = sum(getattr(design.cfg, k) * b[k] for k in terms)
    assert b["loss"].item() == pytest.approx(expected.item(), rel=1e-5)
    b["loss"].backward()
    assert design.generator.out.weight.grad.abs().sum() > 0


def test_discriminator_learns_to_tell_real_from_fixed_fakes():
    objective, batch, _ = toy_setup(adversarial=1.0)
    opt = torch.optim.Adam(objective.param_groups()["discriminator"], lr=1e-3, betas=(0.5, 0.9))
    torch.manual_seed(0)
    first = objective(batch, "discriminator")
    for _ in range(30):
        out = objective(batch, "discriminator")
        opt.zero_grad()
        out["loss"].backward()
        opt.step()
    assert out["hinge"].item() < first["hinge"].item() - 0.5, (first["hinge"], out["hinge"])
    assert out["real_score"].item() > out["fake_score"].item()


def test_geometry_bones_are_the_layouts_bones_among_chosen_kinds():
    layout = get_layout("holistic-178")
    stats = compute_feature_stats([fake_pose(5)], None)  # whole-layout stats are sliced
    geometry = FeatureGeometry.from_layout(layout, KINDS, stats)
    kept = set(layout.kind_indices(*KINDS).tolist())
    expected = [(a, b) for a, b in layout.bones.tolist() if a in kept and b in kept]
    assert len(geometry.bones) == len(expected) and len(expected) >= 2 * 20  # both hands' 20+ bones at least
    index = layout.kind_indices(*KINDS)
    assert [(int(index[a]), int(index[b])) for a, b in geometry.bones.tolist()] == expected
    assert geometry.mean.shape == (len(index), 3)


def test_select_feature_stats_matches_stats_computed_for_the_kinds():
    layout = get_layout("holistic-178")
    seqs = [fake_pose(8, seed=s) for s in range(2)]
    full = compute_feature_stats(seqs, None)
    sub = compute_feature_stats(seqs, KINDS)
    sliced = select_feature_stats(full, layout, KINDS)
    assert np.allclose(sliced.mean, sub.mean, atol=1e-5) and np.allclose(sliced.std, sub.std, atol=1e-5)
    assert select_feature_stats(sub, layout, KINDS) is sub
    with pytest.raises(ConfigError, match="need"):
        select_feature_stats(sub, layout, ("face",))


def test_hinge_losses_hand_computed():
    real = torch.tensor([[2.0, 0.5, 7.0]])
    fake = torch.tensor([[-2.0, 0.0, 7.0]])
    mask = torch.tensor([[True, True, False]])
    # real: relu(1-2)=0, relu(1-0.5)=0.5 -> 0.25; fake: relu(1-2)=0, relu(1+0)=1 -> 0.5
    assert hinge_discriminator_loss(real, fake, mask).item() == pytest.approx(0.75)
    assert hinge_generator_loss(fake, mask).item() == pytest.approx(1.0)


def test_r1_penalty_of_a_linear_critic():
    w = torch.tensor([1.0, -2.0, 2.0])
    real = torch.randn(2, 5, 3, requires_grad=True)
    scores = (real * w).sum(-1)  # (B, T): gradient is w at every frame
    assert r1_penalty(scores, real).item() == pytest.approx(5 * 9.0)


# --- the objective --------------------------------------------------------------------------


def toy_setup(adversarial=0.05, r1=0.0, d_model=32, layers=2, model_kw=None, **objective_kw):
    torch.manual_seed(0)
    seqs = [fake_pose(n, seed=s) for s, n in enumerate([20, 14])]
    for seq in seqs:
        # fake_pose's depth is pure per-frame noise, which standardizes to white noise nobody can fit.
        seq.data[:, :, 2] = 0.0
    stats = compute_feature_stats(seqs, KINDS)
    items = []
    for seq, text in zip(seqs, ["abc", "ba"]):
        feats, jm = pose_features(seq, stats, KINDS)
        items.append(PoseItem(feats, jm, text, signed_language="ase", spoken_language="en", id=text))
    batch = collate_pose_batch(items)
    model = GanNatConfig(
        text=TextEncoderConfig(d_model=16, layers=1, heads=2, dropout=0.0),
        d_model=d_model, layers=layers, heads=2, dropout=0.0, noise_dim=4, min_frames=4, max_frames=40,
        **(model_kw or {}),
    )  # fmt: skip
    objective_cfg = GanNatObjectiveConfig(
        adversarial=adversarial, r1=r1, discriminator=DiscriminatorConfig(channels=16, layers=2), **objective_kw
    )
    objective = build_gan_nat_objective(
        model,
        objective_cfg,
        layout="holistic-178",
        stats=stats,
        texts=["abc", "ba"],
        signed_languages=["ase"],
        fps=25.0,
    )
    return objective, batch, stats


def test_build_resolves_the_model_config_from_the_data():
    objective, batch, _ = toy_setup()
    cfg = objective.generator.cfg
    assert cfg.feature_dim == (8 + 21 + 21) * 3 == batch.features.shape[-1]
    assert cfg.text.vocab == ["<pad>", "<unk>", "a", "b", "c"] and cfg.text.signed_languages == ["ase"]
    assert (cfg.layout, cfg.fps, cfg.kinds) == ("holistic-178", 25.0, list(KINDS))
    assert objective.discriminator.cond_dim == 16
    assert set(objective.param_groups()) == {"generator", "discriminator"}
    assert objective.inference_model() is objective.generator


def test_generator_losses_finite_backprop_only_into_generator():
    objective, batch, _ = toy_setup()
    out = objective(batch, "generator")
    assert set(out) == {
        "loss",
        "position",
        "velocity",
        "acceleration",
        "bone",
        "length",
        "visibility",
        "adversarial",
        "length_accuracy",
    }
    assert all(torch.isfinite(v) for v in out.values())
    cfg = objective.cfg
    terms = ("position", "velocity", "acceleration", "bone", "length", "visibility", "adversarial")
    expected = sum(getattr(cfg, k) * out[k] for k in terms)
    assert out["loss"].item() == pytest.approx(expected.item(), rel=1e-5)
    out["loss"].backward()
    assert objective.generator.text_encoder.embedding.weight.grad.abs().sum() > 0
    assert objective.generator.out.weight.grad.abs().sum() > 0
    assert all(p.grad is None for p in objective.discriminator.parameters())
    assert all(p.requires_grad for p in objective.discriminator.parameters())


def test_discriminator_losses_with_r1():
    objective, batch, _ = toy_setup(r1=1.0)
    out = objective(batch, "discriminator")
    assert {"loss", "hinge", "r1", "real_score", "fake_score"} <= set(out)
    assert out["loss"].item() == pytest.approx(out["hinge"].item() + 0.5 * out["r1"].item(), rel=1e-5)
    out["loss"].backward()
    assert all(p.grad is None for p in objective.generator.parameters())
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in objective.discriminator.parameters())


def test_losses_do_not_see_padded_frames():
    objective, batch, _ = toy_setup()
    objective.eval()
    torch.manual_seed(1)
    a = objective.generator_losses(batch)
    torch.manual_seed(2)
    d_a = objective.discriminator_losses(batch)
    assert not batch.frame_mask[1].all()
    batch.features[1, ~batch.frame_mask[1]] = 123.0
    torch.manual_seed(1)
    b = objective.generator_losses(batch)
    torch.manual_seed(2)
    d_b = objective.discriminator_losses(batch)
    for k in a:
        assert a[k].item() == pytest.approx(b[k].item(), rel=1e-5, abs=1e-6)
    for k in d_a:
        assert d_a[k].item() == pytest.approx(d_b[k].item(), rel=1e-5, abs=1e-6)


def test_adversarial_warmup_schedule():
    objective, batch, _ = toy_setup(adversarial_start=10)
    assert objective.schedule(0) == ("generator",)
    assert "adversarial" not in objective(batch, "generator")
    assert objective.schedule(10) == ("discriminator", "generator")
    assert "adversarial" in objective(batch, "generator")
    off, _, _ = toy_setup(adversarial=0.0)
    assert off.schedule(100) == ("generator",)
    with pytest.raises(ValueError, match="unknown parameter group"):
        objective(batch, "critic")


def test_bone_loss_needs_geometry():
    objective, _, _ = toy_setup()
    with pytest.raises(ConfigError, match="needs the feature geometry"):
        GanNatObjective(objective.generator, objective.discriminator, GanNatObjectiveConfig(bone=0.1), geometry=None)
    with pytest.raises(ConfigError, match="must be >= 0"):
        GanNatObjectiveConfig(velocity=-1)


@pytest.mark.slow
def test_tiny_generator_overfits_one_batch():
    objective, batch, _ = toy_setup(adversarial=0.0, d_model=32, layers=2)
    params = objective.param_groups()["generator"]
    opt = torch.optim.Adam(params, lr=3e-3)
    first = last = None
    for step in range(100):
        out = objective(batch, "generator")
        opt.zero_grad()
        out["loss"].backward()
        opt.step()
        rec = (out["position"] + out["velocity"] + out["acceleration"]).item()
        first = rec if first is None else first
        last = rec
    assert last < first / 5, (first, last)
    assert out["length_accuracy"].item() == 1.0


def test_visibility_loss_by_hand():
    from text2sign.objectives.gan_nat import component_visible, visibility_loss

    # one frame, two components of 2 and 1 joints: the first half seen, the second unseen
    joint_mask = torch.tensor([[[True, False, False]]])
    assert component_visible(joint_mask, [2, 1]).tolist() == [[[True, False]]]
    logits = torch.zeros(1, 1, 2)  # p = 0.5 for both: BCE = ln 2 each
    loss = visibility_loss(logits, joint_mask, torch.tensor([[True]]), [2, 1])
    assert loss.item() == pytest.approx(math.log(2), rel=1e-6)
    # padded frames do not count
    padded = visibility_loss(
        torch.cat([logits, 100 * torch.ones(1, 1, 2)], 1),
        joint_mask.repeat(1, 2, 1),
        torch.tensor([[True, False]]),
        [2, 1],
    )
    assert padded.item() == pytest.approx(math.log(2), rel=1e-6)


def test_duration_alignment_losses_and_search_after_warmup():
    objective, batch, _ = toy_setup(
        adversarial=0.0, alignment_warmup=5, model_kw={"alignment": "durations", "prior_states": 2}
    )
    objective.schedule(0)
    warm = objective(batch, "generator")
    assert {"prior", "duration"} <= set(warm)
    terms = ("position", "velocity", "acceleration", "bone", "length", "visibility", "prior", "duration")
    assert warm["loss"].item() == pytest.approx(
        sum(getattr(objective.cfg, k) * warm[k] for k in terms).item(), rel=1e-5
    )
    warm["loss"].backward()
    assert objective.generator.prior_head.weight.grad.abs().sum() > 0
    assert objective.generator.duration_head[-1].weight.grad.abs().sum() > 0

    states, mask = objective.generator.encode(batch.texts, batch.signed_languages)
    weights = feature_weights(batch.frame_mask, batch.joint_mask, 3)
    equal, _ = objective.alignment_losses(states, mask, batch.features, weights, batch.lengths)
    # "abc" over 20 frames and "ba" over 14, in 2 sub-runs a letter: equal sub-runs while warming up.
    assert equal.tolist() == [[7, 6, 7], [7, 7, 0]]
    objective.schedule(5)
    searched, _ = objective.alignment_losses(states, mask, batch.features, weights, batch.lengths)
    assert searched.sum(dim=1).tolist() == [20, 14]
    assert (searched[0] >= 2).all() and (searched[1, :2] >= 2).all() and searched[1, 2] == 0  # >= 1 frame a sub-run
    # The search never does worse than equal runs at explaining the frames by the token means.
    means = objective.generator.prior_means(objective.generator.encode_text(states, mask)[0])
    state_mask = mask.repeat_interleave(2, dim=1)

    def fit(durations_per_state):
        index, _ = frame_token_index(
            duration_ends(durations_per_state, state_mask, batch.lengths), batch.features.shape[1]
        )
        aligned = per_frame(means, index)
        return (((aligned - batch.features) ** 2) * weights).sum().item()

    best = monotonic_alignment(
        -weighted_square_distances(batch.features, means, weights), batch.lengths, state_mask.sum(1)
    )
    equal_states = torch.tensor([[4, 3, 3, 4, 3, 3], [3, 4, 3, 4, 0, 0]])
    assert fit(best) <= fit(equal_states) + 1e-3
    assert best.view(2, 3, 2).sum(-1).tolist() == searched.tolist()


def test_weighted_square_distances_by_hand():
    frames = torch.tensor([[[1.0, 2.0], [0.0, 5.0]]])  # (1, 2 frames, 2 features)
    means = torch.tensor([[[1.0, 0.0], [3.0, 3.0], [0.0, 0.0]]])  # (1, 3 tokens, 2 features)
    weights = torch.tensor([[[True, True], [True, False]]])  # the second frame's second feature unseen
    expected = [[4.0, 5.0, 5.0], [1.0, 9.0, 0.0]]
    assert torch.allclose(weighted_square_distances(frames, means, weights)[0], torch.tensor(expected))
