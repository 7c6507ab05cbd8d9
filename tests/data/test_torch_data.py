import numpy as np
import pytest
import torch

from text2sign.data.augment import scale
from text2sign.data.corpus import CorpusWriter
from text2sign.data.torch_data import PoseItem, PoseTextDataset, collate_pose_batch
from text2sign.errors import CorpusError
from text2sign.pose.features import first_dims, hands_relative_to_wrist, kinds_layout, pose_features
from text2sign.pose.layout import get_layout
from text2sign.pose.normalize import FeatureStats, compute_feature_stats, normalize_by_shoulders
from text2sign.testing import fake_pose

KINDS = ("body", "left_hand", "right_hand")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    writer = CorpusWriter(tmp_path_factory.mktemp("corpus") / "c")
    for n, frames in enumerate([12, 20, 7]):
        seq = fake_pose(frames, seed=n)
        if n == 1:
            seq.mask[3:6, get_layout("holistic-178").kind_indices("left_hand")] = False
        meta = {"text": f"w{n}", "gloss": f"W{n}", "spoken_language": "en", "signed_language": "ase"}
        writer.add(seq, id=f"item{n}", split="train", **meta)
    writer.add(fake_pose(9, seed=9), id="dev0", split="dev", text="d", spoken_language="de", signed_language="gsg")
    return writer.close()


def item(frames, features=4, joints=2, text="t"):
    rng = np.random.default_rng(frames)
    return PoseItem(
        rng.normal(size=(frames, features)).astype(np.float32) + 5.0,
        rng.random((frames, joints)) > 0.3,
        text,
        gloss=text.upper(),
        signed_language="ase",
        spoken_language="en",
        id=f"id{frames}",
    )


def test_collate_pads_with_zeros_and_false_masks():
    items = [item(3), item(5), item(1)]
    batch = collate_pose_batch(items)
    assert batch.features.shape == (3, 5, 4) and batch.features.dtype == torch.float32
    assert batch.joint_mask.shape == (3, 5, 2) and batch.joint_mask.dtype == torch.bool
    assert batch.lengths.tolist() == [3, 5, 1] and batch.lengths.dtype == torch.int64
    assert batch.frame_mask.tolist() == [[True] * 3 + [False] * 2, [True] * 5, [True] + [False] * 4]
    for b, it in enumerate(items):
        n = it.features.shape[0]
        assert np.array_equal(batch.features[b, :n].numpy(), it.features)
        assert np.array_equal(batch.joint_mask[b, :n].numpy(), it.joint_mask)
        assert torch.all(batch.features[b, n:] == 0) and not batch.joint_mask[b, n:].any()
    assert batch.texts == ["t", "t", "t"] and batch.glosses == ["T", "T", "T"] and batch.ids == ["id3", "id5", "id1"]
    assert batch.signed_languages == ["ase"] * 3 and batch.spoken_languages == ["en"] * 3
    assert len(batch) == 3 and batch.to("cpu").features.shape == (3, 5, 4)
    with pytest.raises(ValueError):
        collate_pose_batch([])


def test_pose_features_standardize_and_zero_missing_joints():
    seq = fake_pose(6, seed=1)
    hand = seq.layout.kind_indices("right_hand")
    seq.mask[2, hand] = False
    normalized, _ = normalize_by_shoulders(seq)
    raw, _ = normalized.to_features(KINDS)
    stats = FeatureStats(raw.mean(axis=0) + 1.0, np.full(raw.shape[1], 2.0, np.float32), "holistic-178", KINDS)
    features, joint_mask = pose_features(seq, stats, KINDS)
    assert features.shape == (6, 50 * 3) and joint_mask.shape == (6, 50)
    right = np.flatnonzero(np.isin(seq.layout.kind_indices(*KINDS), hand))
    assert not joint_mask[2, right].any() and joint_mask[1, right].all()
    columns = (right[:, None] * 3 + np.arange(3)).ravel()
    assert np.all(features[2, columns] == 0.0)
    observed = np.repeat(joint_mask, 3, axis=1)
    assert np.allclose(features[observed], ((raw - stats.mean) / 2.0)[observed], atol=1e-5)


def test_dataset_standardizes_with_the_given_stats(corpus):
    poses = [corpus.load_pose(i) for i in corpus.split("train")]
    stats = compute_feature_stats(poses, KINDS)
    ds = PoseTextDataset(corpus, "train", stats)  # kinds come from the stats
    assert ds.kinds == KINDS and len(ds) == 3
    it = ds[1]
    expected, expected_mask = pose_features(poses[1], stats, KINDS)
    assert it.features.shape == (20, 150) and np.allclose(it.features, expected, atol=1e-5)
    assert np.array_equal(it.joint_mask, expected_mask) and not it.joint_mask[4, 8:29].any()
    assert (it.text, it.gloss, it.signed_language, it.spoken_language, it.id) == ("w1", "W1", "ase", "en", "item1")
    all_features = np.concatenate([ds[i].features for i in range(len(ds))])
    all_masks = np.repeat(np.concatenate([ds[i].joint_mask for i in range(len(ds))]), 3, axis=1)
    values = np.where(all_masks, all_features, np.nan)
    assert np.allclose(np.nanmean(values, axis=0), 0.0, atol=1e-3)  # standardized on its own stats
    assert ds.pose(1).layout.same_joints(kinds_layout(get_layout("holistic-178"), KINDS))


def test_dataset_augments_reproducibly_and_resamples_long_items(corpus):
    stats = compute_feature_stats((corpus.load_pose(i) for i in corpus.split("train")), KINDS)
    plain = PoseTextDataset(corpus, "train", stats, KINDS)
    doubled = PoseTextDataset(corpus, "train", stats, KINDS, augment=lambda seq, rng: scale(seq, 2.0, np.zeros(3)))
    a, b = plain[0], doubled[0]
    raw_a = stats.destandardize(a.features)
    raw_b = stats.destandardize(b.features)
    observed = np.repeat(a.joint_mask, 3, axis=1)
    assert np.allclose(raw_b[observed], 2 * raw_a[observed], atol=1e-4)

    def random_scale(seq, rng):
        return scale(seq, rng.uniform(0.5, 2))

    noisy = PoseTextDataset(corpus, "train", stats, KINDS, augment=random_scale, seed=3)
    again = PoseTextDataset(corpus, "train", stats, KINDS, augment=random_scale, seed=3)
    first, second = noisy[0].features, noisy[0].features
    assert np.array_equal(first, again[0].features) and not np.allclose(first, second)
    short = PoseTextDataset(corpus, "train", stats, KINDS, max_frames=10)
    assert [short[i].features.shape[0] for i in range(3)] == [10, 10, 7]


def test_dims_2_keeps_x_and_y_only(corpus):
    seq = fake_pose(4)
    flat = first_dims(seq, 2)
    assert flat.layout.dims == 2 and np.array_equal(flat.data, seq.data[..., :2]) and first_dims(seq, None) is seq
    poses = [first_dims(normalize_by_shoulders(corpus.load_pose(i))[0], 2) for i in corpus.split("train")]
    stats = compute_feature_stats(poses, KINDS, normalize=False)
    ds = PoseTextDataset(corpus, "train", stats, KINDS, dims=2)
    it = ds[0]
    assert it.features.shape == (12, 100) and it.joint_mask.shape == (12, 50)
    expected, _ = pose_features(corpus.load_pose(corpus.split("train")[0]), stats, KINDS, dims=2)
    assert np.allclose(it.features, expected, atol=1e-5)
    with pytest.raises(CorpusError, match="100 features"):
        PoseTextDataset(corpus, "train", stats, KINDS)


def test_dataset_rejects_stats_of_other_features(corpus):
    stats = compute_feature_stats((corpus.load_pose(i) for i in corpus.split("train")), ("left_hand",))
    with pytest.raises(CorpusError, match="63 features"):
        PoseTextDataset(corpus, "train", stats, KINDS)


def test_augmentation_depends_on_seed_epoch_and_index_only(corpus):
    from text2sign.data.augment import default_augmentation

    stats = compute_feature_stats((corpus.load_pose(i) for i in corpus.split("train")), KINDS)

    def dataset(epoch: int) -> PoseTextDataset:
        made = PoseTextDataset(corpus, "train", stats, KINDS, augment=default_augmentation(), seed=3)
        made.set_epoch(epoch)
        return made

    # a fresh dataset (a resumed run, a DataLoader worker) draws what the first one drew
    assert np.array_equal(dataset(0)[0].features, dataset(0)[0].features)
    epoch0, epoch1 = dataset(0)[0].features, dataset(1)[0].features  # speed augmentation: lengths may differ
    assert epoch0.shape != epoch1.shape or not np.allclose(epoch0, epoch1)


def test_hands_relative_to_wrist_subtracts_each_hands_wrist():
    seq = fake_pose(3, seed=7)
    layout = seq.layout
    right = layout.component_slice("RIGHT_HAND_LANDMARKS")
    seq.mask[1, right.start] = False  # right wrist lost in frame 1
    out = hands_relative_to_wrist(seq)
    body = layout.kind_indices("body")
    assert np.array_equal(out.data[:, body], seq.data[:, body])
    assert np.array_equal(out.data[0, right.start], seq.data[0, right.start])  # the wrist stays absolute
    assert np.allclose(out.data[0, right.start + 8], seq.data[0, right.start + 8] - seq.data[0, right.start])
    assert not out.mask[1, right].any() and out.mask[0, right].all()
    assert np.all(out.data[1, right] == 0.0)
    left = layout.component_slice("LEFT_HAND_LANDMARKS")
    assert np.allclose(out.data[1, left.start + 4], seq.data[1, left.start + 4] - seq.data[1, left.start])


def test_wrist_offsets_round_trip():
    from text2sign.pose.features import hands_from_wrist_offsets, hands_relative_to_wrist

    seq = fake_pose(6, seed=4)
    back = hands_from_wrist_offsets(hands_relative_to_wrist(seq))
    observed = back.mask
    assert np.allclose(back.data[observed], seq.data[observed], atol=1e-5)
