"""Training pairs of the plan-conditioned flows: durations measured by alignment, features, batches."""

import numpy as np

from text2sign.data.plan_pairs import PlanPairs, collate_plan_pairs, feature_stats, plan_durations, plan_features
from text2sign.pose.sequence import PoseSequence
from text2sign.testing import fake_pose


def slowed(seq: PoseSequence, factor: int) -> PoseSequence:
    """Every frame of `seq` held `factor` times: a recording of the plan at 1/factor its pace."""
    return PoseSequence(np.repeat(seq.data, factor, axis=0), np.repeat(seq.mask, factor, axis=0), seq.fps, seq.layout)


def test_a_plan_played_at_half_speed_lasts_two_frames_a_frame():
    plan = fake_pose(40, seed=1)
    durations = plan_durations(plan, slowed(plan, 2), smoothing=1)
    assert durations.shape == (40,) and durations.sum() == 80
    assert np.median(durations) == 2.0
    smoothed = plan_durations(plan, slowed(plan, 2))
    assert np.isclose(smoothed.sum(), 80, atol=0.1) and np.allclose(smoothed[5:-5], 2.0, atol=0.25)


def test_features_are_standardized_and_zero_where_not_observed():
    seq = fake_pose(10, seed=2)
    seq.mask[3, :5] = False
    stats = feature_stats([seq], ["body", "left_hand", "right_hand"], dims=2)
    features, observed = plan_features(seq, stats, ["body", "left_hand", "right_hand"], dims=2)
    assert features.shape == observed.shape == (10, (8 + 21 + 21) * 2)
    assert not observed[3, :10].any() and np.all(features[3, :10] == 0)
    kept = features[observed].reshape(-1)
    assert abs(kept.mean()) < 0.1 and 0.5 < kept.std() < 1.5


def test_pairs_batch_with_separate_padding_and_standardized_log_durations():
    plans = {"a": fake_pose(12, seed=3), "b": fake_pose(20, seed=4)}
    recordings = {"a": slowed(plans["a"], 2), "b": plans["b"]}

    class Item:
        def __init__(self, id):
            self.id = id

    items = [Item("a"), Item("b")]
    stats = feature_stats(recordings.values(), ["body"], dims=2)
    pairs = PlanPairs(items, lambda i: recordings[i.id], lambda i: plans[i.id], stats, ["body"], dims=2)
    mean, std = pairs.log_duration_stats()
    batch = collate_plan_pairs([pairs[0], pairs[1]], mean, std)
    assert batch.plan.shape == (2, 20, 16) and batch.target.shape == (2, 24, 16)
    assert batch.plan_mask.sum(1).tolist() == [12, 20] and batch.target_mask.sum(1).tolist() == [24, 20]
    assert np.isclose(float(batch.durations[0].sum()), 24, atol=0.1) and float(batch.durations[0, 12:].abs().sum()) == 0
    real = batch.log_durations[batch.plan_mask]
    assert abs(float(real.mean())) < 1e-5 and abs(float(real.std(unbiased=False)) - 1) < 1e-4
