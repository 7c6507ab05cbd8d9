import numpy as np
import pytest
from dtaidistance import dtw_ndim

from text2sign.errors import MetricInputError
from text2sign.evaluation import metrics as M
from text2sign.evaluation.metrics import pose as P
from text2sign.pose.layout import get_layout
from text2sign.testing import fake_pose


def full(data):
    data = np.asarray(data, dtype=np.float64)
    return data, np.ones(data.shape[:2], bool)


def delayed(seq, frames):
    """The same signing starting `frames` frames later (the first frame held)."""
    data = np.concatenate([np.repeat(seq.data[:1], frames, axis=0), seq.data])
    mask = np.concatenate([np.repeat(seq.mask[:1], frames, axis=0), seq.mask])
    return data, mask


# --- DTW-MJE --------------------------------------------------------------------------------


def test_dtw_mje_of_identical_sequences_is_zero():
    seq = fake_pose(20, seed=1)
    result = M.dtw_mje(seq.data, seq.mask, seq.data, seq.mask)
    assert result.value == 0.0
    assert result.count == 20 * seq.layout.num_joints


def test_dtw_mje_hand_computed_alignment():
    # pred 0,1,2 against ref 0,2 (1 joint, 1 dim): the best path pairs errors 0, 1, 0.
    pred, pm = full([[[0.0]], [[1.0]], [[2.0]]])
    ref, rm = full([[[0.0]], [[2.0]]])
    path = M.dtw_path(pred, pm, ref, rm)
    assert path[0].tolist() == [0, 0] and path[-1].tolist() == [2, 1] and len(path) == 3
    result = M.dtw_mje(pred, pm, ref, rm)
    assert (result.total, result.count) == (1.0, 3)
    assert result.value == pytest.approx(1 / 3)


def test_dtw_mje_of_constant_offset_is_the_offset_length():
    pred, pm = full(np.zeros((3, 2, 2)))
    ref, rm = full(np.zeros((3, 2, 2)) + [3.0, 4.0])
    result = M.dtw_mje(pred, pm, ref, rm)
    assert result.value == pytest.approx(5.0)
    assert result.count == 6


def test_time_shift_costs_nothing_with_dtw_but_shows_frame_by_frame():
    seq = fake_pose(30, seed=2)
    shifted, shifted_mask = delayed(seq, 3)
    path = M.dtw_path(shifted, shifted_mask, seq.data, seq.mask)
    assert M.dtw_mje(shifted, shifted_mask, seq.data, seq.mask, path=path).value == pytest.approx(0.0, abs=1e-9)
    warped = M.channel_errors(shifted, shifted_mask, seq.data, seq.mask, seq.layout, path)
    framewise = M.channel_errors(
        shifted, shifted_mask, seq.data, seq.mask, seq.layout, M.frame_path(len(shifted), len(seq.data))
    )
    assert warped["all"].mse.value == pytest.approx(0.0, abs=1e-9)
    assert framewise["hands"].mse.value > 1.0
    assert framewise["face"].mse.value < framewise["hands"].mse.value  # only the hands move


def test_dtw_path_is_the_exact_optimum_dtaidistance_finds():
    rng = np.random.default_rng(0)
    pred, pm = full(rng.normal(size=(7, 4, 3)))
    ref, rm = full(rng.normal(size=(9, 4, 3)))
    path = M.dtw_path(pred, pm, ref, rm)
    path_cost = np.linalg.norm((pred[path[:, 0]] - ref[path[:, 1]]).reshape(len(path), -1), axis=1).sum()
    expected = dtw_ndim.distance(pred.reshape(7, -1), ref.reshape(9, -1), use_c=True, inner_dist="euclidean")
    assert path_cost == pytest.approx(expected)
    assert np.all(np.diff(path, axis=0) >= 0) and np.all(np.diff(path, axis=0).sum(axis=1) >= 1)


def test_dtw_mje_pools_over_pairs_like_slrtp():
    a = M.Pooled(3.0, 1)
    b = M.Pooled(1.0, 3)
    assert M.pool([a, b]) == pytest.approx(1.0)  # not the mean of means, (3 + 1/3) / 2
    assert M.pool([M.Pooled()]) is None
    with pytest.raises(MetricInputError, match="nothing to pool"):
        M.pool([])


def test_masked_joints_never_reach_dtw_mje():
    seq = fake_pose(12, seed=3)
    ref_mask = seq.mask.copy()
    ref_mask[:, :5] = False
    pred = seq.data + 1.0
    base = M.dtw_mje(pred, seq.mask, seq.data, ref_mask)
    changed = seq.data.copy()
    changed[:, :5] = 1e6  # garbage where the reference is masked
    changed[0, 0] = np.nan
    again = M.dtw_mje(pred, seq.mask, changed, ref_mask)
    assert again == base
    assert base.count == 12 * (seq.layout.num_joints - 5)


# --- nDTW-MJE -------------------------------------------------------------------------------


def test_ndtw_mje_identical_is_zero_and_offset_is_path_sum():
    pred, pm = full(np.zeros((3, 2, 2)))
    assert M.ndtw_mje(pred, pm, pred, pm) == 0.0
    ref, rm = full(np.zeros((3, 2, 2)) + [3.0, 4.0])
    # Per keypoint the diagonal path sums three costs of 5.
    assert M.ndtw_mje(pred, pm, ref, rm) == pytest.approx(15.0)


def test_ndtw_mje_missing_reference_costs_zero_missing_prediction_half_the_norm():
    # One keypoint, 2D. Reference missing at frame 1: path 0-0 (5), 0-1 (0) -> 5.
    pred, pm = full([[[0.0, 0.0]], [[0.0, 0.0]]])
    ref = np.array([[[3.0, 4.0]], [[np.nan, np.nan]]])
    rm = np.array([[True], [False]])
    assert M.ndtw_mje(pred, pm, ref, rm) == pytest.approx(5.0)
    # Prediction missing at frame 1 while the reference is at (3, 4): costs |ref| / 2 = 2.5.
    ref, rm = full([[[3.0, 4.0]], [[3.0, 4.0]]])
    pred = np.array([[[3.0, 4.0]], [[0.0, 0.0]]])
    pm = np.array([[True], [False]])
    assert M.ndtw_mje(pred, pm, ref, rm) == pytest.approx(2.5)


def test_ndtw_mje_averages_over_keypoints_and_masked_path_matches_c():
    rng = np.random.default_rng(4)
    pred, pm = full(rng.normal(size=(6, 3, 3)))
    ref, rm = full(rng.normal(size=(8, 3, 3)))
    c_per_keypoint = [
        dtw_ndim.distance(np.ascontiguousarray(pred[:, j]), np.ascontiguousarray(ref[:, j]), inner_dist="euclidean")
        for j in range(3)
    ]
    numpy_per_keypoint = P._accumulate(P._masked_trajectory_costs(pred, pm, ref, rm))[:, -1, -1]
    np.testing.assert_allclose(numpy_per_keypoint, c_per_keypoint)
    assert M.ndtw_mje(pred, pm, ref, rm) == pytest.approx(np.mean(c_per_keypoint))


def test_ndtw_mje_ignores_values_at_masked_joints():
    seq = fake_pose(10, seed=5)
    pred_mask = seq.mask.copy()
    pred_mask[2:4, 140:150] = False
    pred = seq.data + 2.0
    base = M.ndtw_mje(pred, pred_mask, seq.data, seq.mask)
    pred[2:4, 140:150] = -1e6
    assert M.ndtw_mje(pred, pred_mask, seq.data, seq.mask) == pytest.approx(base)


# --- per-channel errors ---------------------------------------------------------------------


def test_channel_errors_hand_computed_and_absent_channels_are_none():
    layout = get_layout("phoenix-50")  # 8 body + 2 x 21 hands, no face
    pred, pm = full(np.zeros((4, 50, 3)))
    ref = np.zeros((4, 50, 3))
    ref[:, layout.kind_indices("left_hand", "right_hand")] = 2.0
    rm = np.ones((4, 50), bool)
    out = M.channel_errors(pred, pm, ref, rm, layout, M.frame_path(4, 4))
    assert out["face"] is None
    assert out["hands"].mse.value == pytest.approx(4.0) and out["hands"].mae.value == pytest.approx(2.0)
    assert out["body"].mse.value == 0.0
    assert out["all"].mse.value == pytest.approx(4.0 * 42 / 50)
    assert out["hands"].mse.count == 4 * 42 * 3
    pooled = M.pool_channel_errors([out, out])
    assert pooled["face"] is None and pooled["hands"] == {"mse": pytest.approx(4.0), "mae": pytest.approx(2.0)}


def test_channel_errors_exclude_masked_joints():
    layout = get_layout("phoenix-50")
    pred, pm = full(np.zeros((3, 50, 3)))
    ref, rm = full(np.ones((3, 50, 3)))
    rm[:, :8] = False
    ref[:, :8] = 99.0
    out = M.channel_errors(pred, pm, ref, rm, layout, M.frame_path(3, 3))
    assert out["body"].mse.count == 0 and out["body"].mse.value is None
    assert out["all"].mse.value == pytest.approx(1.0)


def test_channel_errors_reject_a_layout_of_other_size_and_bad_paths():
    seq = fake_pose(5)
    with pytest.raises(MetricInputError, match="layout phoenix-50 has 50 joints"):
        M.channel_errors(seq.data, seq.mask, seq.data, seq.mask, get_layout("phoenix-50"), M.frame_path(5, 5))
    with pytest.raises(MetricInputError, match="outside pred"):
        M.channel_errors(seq.data, seq.mask, seq.data, seq.mask, seq.layout, np.array([[0, 0], [5, 5]]))
    with pytest.raises(MetricInputError, match="non-empty"):
        M.channel_errors(seq.data, seq.mask, seq.data, seq.mask, seq.layout, np.zeros((0, 2), int))


# --- hand-face synchronisation --------------------------------------------------------------


def synced_pose(lag: int, frames: int = 40):
    layout = get_layout("holistic-178")
    rng = np.random.default_rng(6)
    speed = rng.uniform(0.0, 3.0, frames + 20)
    data = np.zeros((frames, layout.num_joints, 3))
    hands, face = layout.kind_indices("left_hand", "right_hand"), layout.kind_indices("face")
    data[:, hands, 0] = np.cumsum(speed[10 : 10 + frames])[:, None]
    data[:, face, 0] = np.cumsum(speed[10 - lag : 10 - lag + frames])[:, None]
    return data, np.ones((frames, layout.num_joints), bool), layout


@pytest.mark.parametrize("lag", [0, 2, -3])
def test_sync_finds_the_lag_of_face_behind_hands(lag):
    data, mask, layout = synced_pose(lag)
    result = M.sync_metrics(data, mask, layout, window=5)
    assert result.lag == lag
    assert result.correlation == pytest.approx(1.0)


def test_sync_respects_window_and_missing_channels():
    data, mask, layout = synced_pose(4)
    narrow = M.sync_metrics(data, mask, layout, window=2)
    assert abs(narrow.lag) <= 2 and narrow.correlation < 0.99
    phoenix = fake_pose(20, layout="phoenix-50")
    assert M.sync_metrics(phoenix.data, phoenix.mask, phoenix.layout) == M.SyncResult(None, None)
    with pytest.raises(MetricInputError, match="window"):
        M.sync_metrics(data, mask, layout, window=-1)


# --- input errors ---------------------------------------------------------------------------


def test_pose_input_errors_are_one_clear_line():
    seq = fake_pose(4)
    cases = [
        ((seq.data[:0], seq.mask[:0], seq.data, seq.mask), "pred has no frames"),
        ((seq.data, seq.mask, seq.data[:, :10], seq.mask[:, :10]), "differ in joints x dims: 178 x 3 vs 10 x 3"),
        ((seq.data, seq.mask, seq.data[..., :2], seq.mask), "differ in joints x dims"),
        ((seq.data, seq.mask.astype(int), seq.data, seq.mask), "mask must be boolean"),
        ((seq.data, seq.mask[:2], seq.data, seq.mask), "mask shape"),
        ((seq.data[0], seq.mask, seq.data, seq.mask), r"must be \(frames, joints, dims\)"),
    ]
    nan = seq.data.copy()
    nan[1, 3, 0] = np.nan
    cases.append(((seq.data, seq.mask, nan, seq.mask), "ref has 1 NaN or infinite observed joints"))
    for args, message in cases:
        for metric in (M.dtw_mje, M.ndtw_mje):
            with pytest.raises(MetricInputError, match=message) as info:
                metric(*args)
            assert "\n" not in str(info.value)
    with pytest.raises(MetricInputError, match="ref has no observed joint"):
        M.dtw_mje(seq.data, seq.mask, seq.data, np.zeros_like(seq.mask))
