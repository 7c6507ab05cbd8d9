from functools import partial

import numpy as np
import pytest
from dtaidistance import dtw_ndim

from text2sign.errors import MetricInputError
from text2sign.evaluation import metrics as M
from text2sign.evaluation.metrics import pose as P
from text2sign.pose.io import to_pose_format
from text2sign.pose.layout import Component, Layout, get_layout
from text2sign.pose.sequence import PoseSequence
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


# --- nDTW-MJE (Ham2Pose) --------------------------------------------------------------------


def test_ndtw_mje_ham2pose_identical_is_zero_and_offset_is_path_sum():
    pred, pm = full(np.zeros((3, 2, 2)))
    assert M.ndtw_mje_ham2pose(pred, pm, pred, pm) == 0.0
    ref, rm = full(np.zeros((3, 2, 2)) + [3.0, 4.0])
    # Per keypoint the diagonal path sums three costs of 5.
    assert M.ndtw_mje_ham2pose(pred, pm, ref, rm) == pytest.approx(15.0)


def test_ndtw_mje_ham2pose_missing_reference_costs_zero_missing_prediction_half_the_norm():
    # One keypoint, 2D. Reference missing at frame 1: path 0-0 (5), 0-1 (0) -> 5.
    pred, pm = full([[[0.0, 0.0]], [[0.0, 0.0]]])
    ref = np.array([[[3.0, 4.0]], [[np.nan, np.nan]]])
    rm = np.array([[True], [False]])
    assert M.ndtw_mje_ham2pose(pred, pm, ref, rm) == pytest.approx(5.0)
    # Prediction missing at frame 1 while the reference is at (3, 4): costs |ref| / 2 = 2.5.
    ref, rm = full([[[3.0, 4.0]], [[3.0, 4.0]]])
    pred = np.array([[[3.0, 4.0]], [[0.0, 0.0]]])
    pm = np.array([[True], [False]])
    assert M.ndtw_mje_ham2pose(pred, pm, ref, rm) == pytest.approx(2.5)


def test_ndtw_mje_ham2pose_averages_over_keypoints_and_masked_path_matches_c():
    rng = np.random.default_rng(4)
    pred, pm = full(rng.normal(size=(6, 3, 3)))
    ref, rm = full(rng.normal(size=(8, 3, 3)))
    c_per_keypoint = [
        dtw_ndim.distance(np.ascontiguousarray(pred[:, j]), np.ascontiguousarray(ref[:, j]), inner_dist="euclidean")
        for j in range(3)
    ]
    numpy_per_keypoint = P._accumulate(P._masked_trajectory_costs(pred, pm, ref, rm))[:, -1, -1]
    np.testing.assert_allclose(numpy_per_keypoint, c_per_keypoint)
    assert M.ndtw_mje_ham2pose(pred, pm, ref, rm) == pytest.approx(np.mean(c_per_keypoint))


def test_ndtw_mje_ham2pose_ignores_values_at_masked_joints():
    seq = fake_pose(10, seed=5)
    pred_mask = seq.mask.copy()
    pred_mask[2:4, 140:150] = False
    pred = seq.data + 2.0
    base = M.ndtw_mje_ham2pose(pred, pred_mask, seq.data, seq.mask)
    pred[2:4, 140:150] = -1e6
    assert M.ndtw_mje_ham2pose(pred, pred_mask, seq.data, seq.mask) == pytest.approx(base)


# --- nDTW-MJE (pose-evaluation) -------------------------------------------------------------

# Six joints are enough to exercise every default step of pose-evaluation: the
# wrists decide the trim, the shoulders the normalisation, LEFT_HIP is a leg point it drops.
TINY_HOLISTIC = Layout(
    "tiny-holistic",
    (
        Component("POSE_LANDMARKS", "body", ("LEFT_SHOULDER", "RIGHT_SHOULDER", "LEFT_HIP"), (), point_format="XYC"),
        Component("LEFT_HAND_LANDMARKS", "left_hand", ("WRIST", "THUMB_TIP"), (), point_format="XYC"),
        Component("RIGHT_HAND_LANDMARKS", "right_hand", ("WRIST",), (), point_format="XYC"),
    ),
    dims=2,
)
# A skeleton pose-format cannot classify (its detector raises, so pose-evaluation cannot run on
# it): no trim and no legs, only normalise, pad and DTW.
TINY_OTHER = Layout(
    "tiny-other",
    (Component("BODY", "body", ("LEFT_SHOULDER", "RIGHT_SHOULDER", "X"), (), point_format="XYC"),),
    dims=2,
)


def tiny_holistic_pair():
    """pred: 5 frames, right wrist never seen, left wrist seen in frames 1-3, thumb tip missing
    in frame 2; ref: 4 frames, both wrists seen throughout. Pixel-like coordinates whose
    shoulders move, so normalisation is not the identity."""
    pred = np.array(
        [
            [[300, 400], [200, 402], [310, 600], [330, 500], [320, 480], [0, 0]],
            [[302, 401], [201, 401], [305, 610], [340, 470], [350, 450], [0, 0]],
            [[301, 399], [199, 400], [300, 620], [360, 440], [0, 0], [0, 0]],
            [[303, 400], [202, 399], [290, 630], [380, 430], [390, 420], [0, 0]],
            [[300, 402], [200, 400], [280, 640], [400, 420], [410, 400], [0, 0]],
        ],
        dtype=np.float64,
    )
    pred_mask = np.ones((5, 6), bool)
    pred_mask[:, 5] = False
    pred_mask[0, 3:5] = False
    pred_mask[4, 3:5] = False
    pred_mask[2, 4] = False
    ref = np.array(
        [
            [[150, 200], [100, 200], [140, 300], [160, 240], [165, 230], [95, 240]],
            [[151, 201], [101, 199], [141, 301], [170, 220], [178, 212], [90, 230]],
            [[149, 199], [99, 201], [142, 302], [180, 210], [190, 200], [85, 220]],
            [[150, 200], [100, 200], [143, 303], [175, 215], [183, 205], [88, 225]],
        ],
        dtype=np.float64,
    )
    return pred, pred_mask, ref, np.ones((4, 6), bool)


REFERENCE_TINY_VALUE = 1.0973698772540075
# The same with pred's wrists seen in frame 2 only, so that trimming leaves pred no frame.
REFERENCE_TINY_VALUE_PRED_TRIMMED_AWAY = 1.4311603108329782


def pose_evaluation_default_reference(pred, pred_mask, ref, ref_mask, layout) -> float:
    """pose-evaluation's default DTW-MJE, step for step as its code runs them.

    sign-language-processing/pose-evaluation at commit d8129232615f540b3ad332298a8ba6a309c08e0b:
    ``DistanceMetric(name, DTWDTAIImplementationDistanceMeasure())`` (metrics/distance_metric.py,
    metrics/dtw_metric.py) with ``get_standard_pose_processors()`` (metrics/pose_processors.py):
    ``trim_pose`` of ZurichNLP/spoken-to-signed-translation (commit 306111d,
    gloss_to_pose/concatenate.py), pose-format's ``Pose.normalize``, ``remove_components
    (["WORLD_LANDMARKS"])`` and ``pose_hide_legs(remove=True)`` (called from pose-format
    itself), ``zero_pad_shorter_poses`` (utils/pose_utils.py), then the measure's
    ``get_distance``. The intersection step is left out: both poses share one layout.
    Masked values are 0, as in the files pose-format writes.
    """
    from pose_format.utils.generic import detect_known_pose_format, pose_hide_legs

    def as_file(data, mask):
        data = np.where(mask[..., None], data, 0.0).astype(np.float32)
        return to_pose_format(PoseSequence(data, mask, 25.0, layout, mask.astype(np.float32)))

    def trim_pose(pose):
        wrist_indexes = [
            pose.header._get_point_index("LEFT_HAND_LANDMARKS", "WRIST"),
            pose.header._get_point_index("RIGHT_HAND_LANDMARKS", "WRIST"),
        ]
        either_hand = pose.body.confidence[:, 0, wrist_indexes].sum(axis=1) > 0
        first_non_zero_index = np.argmax(either_hand)
        last_non_zero_index = len(either_hand) - np.argmax(either_hand[::-1]) - 1
        pose.body.data = pose.body.data[first_non_zero_index:last_non_zero_index]
        pose.body.confidence = pose.body.confidence[first_non_zero_index:last_non_zero_index]
        return pose

    poses = [as_file(pred, pred_mask), as_file(ref, ref_mask)]
    holistic = detect_known_pose_format(poses[0]) == "holistic"
    if holistic:
        poses = [trim_pose(pose.copy()) for pose in poses]
    poses = [pose.normalize() for pose in poses]
    poses = [pose.remove_components(["WORLD_LANDMARKS"]) for pose in poses]
    if holistic:
        poses = [pose_hide_legs(pose, remove=True) for pose in poses]
    frames = max(len(pose.body.data) for pose in poses)
    for pose in poses:
        if len(pose.body.data) < frames:
            shape = list(pose.body.data.shape)
            shape[0] = frames - len(pose.body.data)
            pose.body.data = np.ma.concatenate([pose.body.data, np.ma.zeros(shape)], axis=0)
    hyp_data, ref_data = poses[0].body.data, poses[1].body.data
    distances = []
    for keypoint in range(hyp_data.shape[2]):
        hyp_trajectory = np.asarray(hyp_data[:, 0, keypoint, :], dtype=np.float64)
        ref_trajectory = np.asarray(ref_data[:, 0, keypoint, :], dtype=np.float64)
        distances.append(dtw_ndim.distance_fast(hyp_trajectory, ref_trajectory))
    return float(np.ma.masked_array(distances).mean())


# pose-format normalises a pose trimmed to no frames by averaging over nothing, as the reference does.
@pytest.mark.filterwarnings("ignore:Mean of empty slice", "ignore:invalid value encountered in divide")
def test_ndtw_mje_pose_evaluation_matches_its_reference_code_on_a_tiny_pair():
    """Both expected values (REFERENCE_TINY_VALUE*) were printed by pose-evaluation's own
    ``DistanceMetric("default", DTWDTAIImplementationDistanceMeasure()).score(pred, ref)`` at
    commit d812923 on these poses written as pose-format files; the port above re-derives them
    inside the test suite."""
    pred, pred_mask, ref, ref_mask = tiny_holistic_pair()
    expected = pose_evaluation_default_reference(pred, pred_mask, ref, ref_mask, TINY_HOLISTIC)
    assert expected == pytest.approx(REFERENCE_TINY_VALUE, rel=1e-6)
    garbage = pred.copy()
    garbage[~pred_mask] = np.nan  # masked values are read as 0 whatever the input holds there
    assert M.ndtw_mje_pose_evaluation(garbage, pred_mask, ref, ref_mask, TINY_HOLISTIC) == pytest.approx(
        expected, rel=1e-6
    )

    pred_mask[:, [3, 5]] = False
    pred_mask[2, 3] = True
    expected = pose_evaluation_default_reference(pred, pred_mask, ref, ref_mask, TINY_HOLISTIC)
    assert expected == pytest.approx(REFERENCE_TINY_VALUE_PRED_TRIMMED_AWAY, rel=1e-6)
    assert M.ndtw_mje_pose_evaluation(pred, pred_mask, ref, ref_mask, TINY_HOLISTIC) == pytest.approx(
        expected, rel=1e-6
    )
    ref_mask[:, [3, 5]] = False
    ref_mask[1, 5] = True
    with pytest.raises(MetricInputError, match="trim leaves no frame"):
        M.ndtw_mje_pose_evaluation(pred, pred_mask, ref, ref_mask, TINY_HOLISTIC)


def test_ndtw_mje_pose_evaluation_hand_computed_on_a_non_holistic_layout():
    # Shoulders at (-0.5, 0) and (0.5, 0) in every frame: normalisation is the identity. pred has
    # 2 frames and gets a third of zeros. Each shoulder then ends at the origin, 0.5 from ref's:
    # the path must end there, so each costs sqrt(0.25). X: pred (0,0), (1,0), (0,0); ref (0,0),
    # (0,0), (3,4); the cheapest path of squared distances sums 0 + 1 + 25 (pred frame 1 has to
    # meet some ref frame, at best a (0,0) one), so X costs sqrt(26).
    shoulders = np.array([[-0.5, 0.0], [0.5, 0.0]])
    pred = np.stack([np.vstack([shoulders, x]) for x in ([0.0, 0.0], [1.0, 0.0])])
    ref = np.stack([np.vstack([shoulders, x]) for x in ([0.0, 0.0], [0.0, 0.0], [3.0, 4.0])])
    pm, rm = np.ones((2, 3), bool), np.ones((3, 3), bool)
    assert M.ndtw_mje_pose_evaluation(pred, pm, ref, rm, TINY_OTHER) == pytest.approx((1.0 + np.sqrt(26)) / 3)
    # X missing in pred's frame 1 is read as (0, 0): all of pred's X is the origin, X costs 5.
    pm[1, 2] = False
    pred[1, 2] = np.nan
    assert M.ndtw_mje_pose_evaluation(pred, pm, ref, rm, TINY_OTHER) == pytest.approx((1.0 + 5.0) / 3)


def test_ndtw_mje_pose_evaluation_identical_is_zero_and_ignores_normalisation_of_inputs():
    seq = fake_pose(12, seed=7)
    assert M.ndtw_mje_pose_evaluation(seq.data, seq.mask, seq.data, seq.mask, seq.layout) == 0.0
    pred = seq.data.copy()
    left, right = seq.layout.shoulders
    width = np.linalg.norm(seq.data[:, left] - seq.data[:, right], axis=-1).mean()
    pred[:, seq.layout.kind_indices("left_hand", "right_hand")] += 0.5 * width
    base = M.ndtw_mje_pose_evaluation(pred, seq.mask, seq.data, seq.mask, seq.layout)
    assert base > 0.1
    # Each side is re-normalised by its own shoulders after trimming, as the reference does.
    moved = M.ndtw_mje_pose_evaluation(pred * 7.0 - 2.0, seq.mask, seq.data * 3.0 + 1.0, seq.mask, seq.layout)
    assert moved == pytest.approx(base, rel=1e-6)


def test_ndtw_mje_pose_evaluation_rejects_layouts_it_cannot_follow():
    seq = fake_pose(4)
    with pytest.raises(MetricInputError, match="layout phoenix-50 has 50 joints"):
        M.ndtw_mje_pose_evaluation(seq.data, seq.mask, seq.data, seq.mask, get_layout("phoenix-50"))
    no_hands = Layout("no-hands", (Component("POSE_LANDMARKS", "body", ("LEFT_SHOULDER", "RIGHT_SHOULDER"), ()),))
    data, mask = full(np.ones((3, 2, 3)))
    with pytest.raises(MetricInputError, match="no wrist"):
        M.ndtw_mje_pose_evaluation(data, mask, data, mask, no_hands)


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
        for metric in (M.dtw_mje, M.ndtw_mje_ham2pose, partial(M.ndtw_mje_pose_evaluation, layout=seq.layout)):
            with pytest.raises(MetricInputError, match=message) as info:
                metric(*args)
            assert "\n" not in str(info.value)
    with pytest.raises(MetricInputError, match="ref has no observed joint"):
        M.dtw_mje(seq.data, seq.mask, seq.data, np.zeros_like(seq.mask))
