"""Importers of the designs' and the field's data layouts: each on a small sample made here in
that layout, round-tripped (import -> the source's values within 1e-5), and its bad inputs."""

import csv
import json
import pickle

import numpy as np
import pytest

from text2sign.cli import run
from text2sign.data.corpus import Corpus
from text2sign.data.gan_nat_csv import FEATURES, gan_nat_features, import_gan_nat_csv, parse_face_map
from text2sign.data.latent_features import import_latent_features
from text2sign.data.openpose import import_openpose, read_openpose_folder
from text2sign.errors import CorpusError, Text2SignError
from text2sign.pose.layout import LATENT_FLOW_GROUPS, gan_nat_layout, latent_flow_layout, openpose_layout
from text2sign.testing import one_error_line


def write_csv(path, header, rows):
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return path


# --- GAN-NAT ----------------------------------------------------------------------------------


def gan_nat_sample(frames: int, rng) -> np.ndarray:
    """(T, 540) as MediaPipe extraction writes it: a missing part is all zeros."""
    body = np.concatenate([rng.uniform(0.2, 0.8, (frames, 33, 3)), rng.uniform(0.05, 1.0, (frames, 33, 1))], axis=-1)
    left, right = rng.uniform(0.2, 0.8, (2, frames, 21, 3))
    face = rng.uniform(0.3, 0.6, (frames, 94, 3))
    right[1] = 0.0  # the right hand lost in frame 1
    face[0] = 0.0  # no face in frame 0
    parts = [body, left, right, face]
    return np.concatenate([p.reshape(frames, -1) for p in parts], axis=1).astype(np.float32)


@pytest.fixture
def gan_nat_data(tmp_path):
    rng = np.random.default_rng(3)
    (tmp_path / "features").mkdir()
    sources = {}
    for i, split in enumerate(["train", "dev", "validation"]):
        sources[f"s{i}"] = gan_nat_sample(4 + i, rng)
        np.save(tmp_path / "features" / f"s{i}.npy", sources[f"s{i}"])
    rows = [
        [f"features/s{i}.npy", f"sentence {i}", f"GLOSS{i}", split, 12.5]
        for i, split in enumerate(["train", "dev", "validation"])
    ]
    meta = write_csv(
        tmp_path / "meta.csv", ["feature_path", "sentence_text", "sentence_gloss", "split", "duration"], rows
    )
    return meta, sources


def test_gan_nat_round_trips_with_visibility_as_confidence(gan_nat_data, tmp_path):
    meta, sources = gan_nat_data
    corpus = import_gan_nat_csv(meta, tmp_path / "corpus", spoken="en", signed="ase", fps=30)
    assert corpus.layout_name == "gan-nat-540" and len(corpus) == 3
    assert [i.split for i in corpus.items] == ["train", "dev", "dev"]
    item = corpus.items[0]
    assert (item.id, item.text, item.gloss, item.spoken_language, item.signed_language) == (
        "s0",
        "sentence 0",
        "GLOSS0",
        "en",
        "ase",
    )
    for item in corpus.items:
        seq = corpus.load_pose(item)
        assert seq.fps == 30 and seq.layout.same_joints(gan_nat_layout())
        assert np.abs(gan_nat_features(seq) - sources[item.id]).max() < 1e-5
    seq = corpus.load_pose(corpus.items[0])
    source = sources["s0"]
    assert np.allclose(seq.confidence[:, :33], source[:, :132].reshape(-1, 33, 4)[..., 3])
    right, face = seq.layout.component_slice("RIGHT_HAND_LANDMARKS"), seq.layout.component_slice("FACE_94")
    assert not seq.mask[1, right].any() and seq.mask[0, right].all()
    assert not seq.mask[0, face].any() and seq.mask[1:, face].all()


def test_gan_nat_destandardises_with_the_stats(gan_nat_data, tmp_path):
    meta, sources = gan_nat_data
    rng = np.random.default_rng(4)
    mean, std = rng.uniform(0, 0.5, FEATURES), rng.uniform(0.1, 0.3, FEATURES)
    np.savez(tmp_path / "stats.npz", feature_mean=mean, feature_std=std)
    for name, raw in sources.items():
        np.save(tmp_path / "features" / f"{name}.npy", ((raw - mean) / (std + 1e-6)).astype(np.float32))
    with pytest.raises(CorpusError, match="visibility .* --stats"):
        import_gan_nat_csv(meta, tmp_path / "corpus", spoken="en", signed="ase")
    assert not (tmp_path / "corpus").exists(), "a failed import leaves nothing"
    corpus = import_gan_nat_csv(meta, tmp_path / "corpus", stats=tmp_path / "stats.npz", spoken="en", signed="ase")
    for item in corpus.items:
        assert np.abs(gan_nat_features(corpus.load_pose(item)) - sources[item.id]).max() < 1e-5


def test_gan_nat_face_map_places_the_face_in_mediapipe_holistic(gan_nat_data, tmp_path):
    meta, sources = gan_nat_data
    face_map = tuple(range(0, 188, 2))
    (tmp_path / "face.json").write_text(json.dumps(list(face_map)))
    assert parse_face_map(str(tmp_path / "face.json")) == face_map == parse_face_map(",".join(map(str, face_map)))
    corpus = import_gan_nat_csv(meta, tmp_path / "corpus", face_map=face_map, spoken="en", signed="ase")
    assert corpus.layout_name == "holistic-543"
    seq = corpus.load_pose(corpus.items[1])
    assert np.abs(gan_nat_features(seq, face_map) - sources["s1"]).max() < 1e-5
    face = seq.layout.component_slice("FACE_LANDMARKS")
    observed = np.flatnonzero(seq.mask[1, face])
    assert observed.tolist() == list(face_map), "unmapped face points are unobserved"
    assert seq.to_layout("holistic-178").num_frames == seq.num_frames, "reachable for concat and FS-Words models"
    with pytest.raises(CorpusError, match="94 distinct"):
        parse_face_map("1,2,3")


def test_gan_nat_bad_inputs_are_one_line(gan_nat_data, tmp_path, capsys):
    meta, sources = gan_nat_data
    out = str(tmp_path / "corpus")
    write_csv(tmp_path / "no-text.csv", ["feature_path", "split"], [["features/s0.npy", "train"]])
    assert (
        run(
            ["prepare", "gan-nat-csv", str(tmp_path / "no-text.csv"), "--out", out, "--spoken", "en", "--signed", "ase"]
        )
        == 1
    )
    assert "'sentence_text' or 'sentence'" in one_error_line(capsys)
    np.save(tmp_path / "features" / "s1.npy", sources["s1"][:, :500])
    assert run(["prepare", "gan-nat-csv", str(meta), "--out", out, "--spoken", "en", "--signed", "ase"]) == 1
    assert "s1.npy" in (line := one_error_line(capsys)) and "(5, 500)" in line
    assert run(["prepare", "gan-nat-csv", str(meta), "--out", out]) == 1
    assert "--spoken" in one_error_line(capsys)
    write_csv(tmp_path / "missing.csv", ["feature_path", "sentence"], [["features/nope.npy", "x"]])
    assert (
        run(
            ["prepare", "gan-nat-csv", str(tmp_path / "missing.csv"), "--out", out, "--spoken", "en", "--signed", "ase"]
        )
        == 1
    )
    assert "missing.csv:2" in one_error_line(capsys)
    assert not (tmp_path / "corpus").exists()


def test_gan_nat_cli_imports_and_info_reads_it(gan_nat_data, tmp_path, capsys):
    meta, _ = gan_nat_data
    out = tmp_path / "corpus"
    assert run(["prepare", "gan-nat-csv", str(meta), "--out", str(out), "--spoken", "en", "--signed", "ase"]) == 0
    assert "gan-nat-540" in capsys.readouterr().out
    assert run(["info", str(out)]) == 0


# --- latent flow ------------------------------------------------------------------------------


def latent_sample(root, split: str, sample_id: str, frames: int, rng, nmm_frames: int | None = None) -> np.ndarray:
    """Write one sample in the design's layout; return the 214-value vector its loader builds."""
    keypoints = rng.uniform(0.1, 0.9, (frames, 75, 2))
    keypoints[2, 33:54] = 0.0  # left hand lost in frame 2
    n = nmm_frames or frames
    nmms = {
        "facial_aus": rng.uniform(0, 5, (n, 17)),
        "head_pose": rng.normal(0, 10, (n, 3)),
        "eye_gaze": rng.normal(0, 0.3, (n, 4)),
        "mouth_shape": rng.uniform(0.4, 0.6, (n, 20, 2)),
    }
    for folder in ("poses", "nmms"):
        (root / split / folder).mkdir(parents=True, exist_ok=True)
    np.savez(root / split / "poses" / f"{sample_id}.npz", keypoints=keypoints, visibility=np.ones((frames, 75)))
    with (root / split / "nmms" / f"{sample_id}.pkl").open("wb") as f:
        pickle.dump(nmms, f)
    t = min(frames, n)
    parts = [
        keypoints[:t].reshape(t, -1),
        nmms["facial_aus"][:t],
        nmms["head_pose"][:t],
        nmms["eye_gaze"][:t],
        nmms["mouth_shape"][:t].reshape(t, -1),
    ]
    return np.concatenate(parts, axis=1)


@pytest.fixture
def latent_data(tmp_path):
    rng = np.random.default_rng(5)
    root = tmp_path / "processed"
    vectors = {
        "a": latent_sample(root, "train", "a", 6, rng),
        "b": latent_sample(root, "train", "b", 4, rng),
        "c": latent_sample(root, "dev", "c", 5, rng),
    }
    (root / "train.txt").write_text("a|guten morgen\nb|regen | wind\n", encoding="utf-8")
    np.savez(
        root / "normalization_stats.npz", manual_mean=0.5, manual_std=0.2, nmm_mean=np.zeros(64), nmm_std=np.ones(64)
    )
    return root, vectors


def test_latent_features_round_trip_into_the_214_layout(latent_data, tmp_path):
    root, vectors = latent_data
    corpus = import_latent_features(root, tmp_path / "corpus", "de", "gsg", trust_pickles=True)
    assert corpus.layout_name == "latent-flow-214" and corpus.summary()["items"] == {"train": 2, "dev": 1, "test": 0}
    assert {i.id: i.text for i in corpus.items} == {"a": "guten morgen", "b": "regen | wind", "c": ""}
    assert corpus.stats["items_without_text"] == 1
    assert corpus.stats["source_normalization"].startswith("grouped")
    for item in corpus.items:
        seq = corpus.load_pose(item)
        features, _ = seq.to_features()
        assert features.shape[1] == 214
        assert np.abs(features - vectors[item.id]).max() < 1e-5
    seq = corpus.load_pose(corpus.items[0])
    assert not seq.mask[2, seq.layout.component_slice("LEFT_HAND_LANDMARKS")].any()
    layout = latent_flow_layout()
    manual = sum(len(layout.component(c).points) for c in LATENT_FLOW_GROUPS["manual"]) * layout.dims
    non_manual = sum(len(layout.component(c).points) for c in LATENT_FLOW_GROUPS["non_manual"]) * layout.dims
    assert (manual, non_manual) == (150, 64)
    assert seq.layout.component("NMM_VALUES").points[8] == "facial_aus[16],head_pose[0]"


def test_latent_features_read_pickles_only_when_trusted(latent_data, tmp_path, capsys):
    root, _ = latent_data
    out = tmp_path / "corpus"
    assert run(["prepare", "latent-features", str(root), "--out", str(out), "--spoken", "de", "--signed", "gsg"]) == 1
    line = one_error_line(capsys)
    assert "--trust-pickles" in line and "runs" in line and "code" in line
    assert not out.exists()
    assert (
        run(
            [
                "prepare",
                "latent-features",
                str(root),
                "--out",
                str(out),
                "--spoken",
                "de",
                "--signed",
                "gsg",
                "--trust-pickles",
            ]
        )
        == 0
    )
    assert "warning: no text for 1 of 3 items" in capsys.readouterr().err


def test_latent_features_frame_counts_must_agree(tmp_path):
    rng = np.random.default_rng(6)
    root = tmp_path / "processed"
    vector = latent_sample(root, "test", "x", 6, rng, nmm_frames=5)
    with pytest.raises(CorpusError, match="6 frames but .*x.pkl has 5"):
        import_latent_features(root, tmp_path / "corpus", "de", "gsg", trust_pickles=True)
    corpus = import_latent_features(root, tmp_path / "corpus", "de", "gsg", trust_pickles=True, trim_to_shorter=True)
    features, _ = corpus.load_pose(corpus.items[0]).to_features()
    assert features.shape == (5, 214) and np.abs(features - vector).max() < 1e-5


def test_latent_features_bad_layouts_are_one_line(tmp_path):
    rng = np.random.default_rng(7)
    root = tmp_path / "processed"
    latent_sample(root, "train", "a", 4, rng)
    (root / "train" / "nmms" / "a.pkl").unlink()
    with pytest.raises(CorpusError, match="a.npz has no non-manual features"):
        import_latent_features(root, tmp_path / "corpus", "de", "gsg", trust_pickles=True)
    latent_sample(root, "train", "a", 4, rng)
    np.savez(root / "train" / "poses" / "a.npz", keypoints=np.zeros((4, 50, 3)))
    with pytest.raises(CorpusError, match=r"\(frames, 75, 2\)"):
        import_latent_features(root, tmp_path / "corpus", "de", "gsg", trust_pickles=True)
    (tmp_path / "empty").mkdir()
    with pytest.raises(CorpusError, match="holds no samples"):
        import_latent_features(tmp_path / "empty", tmp_path / "corpus", "de", "gsg", trust_pickles=True)


# --- OpenPose ---------------------------------------------------------------------------------


def openpose_frame(rng, face: bool = True, people: int = 1) -> dict:
    def part(points):
        values = np.column_stack([rng.uniform(100, 900, (points, 2)), rng.uniform(0.05, 1.0, points)])
        values[3] = 0.0  # a point OpenPose did not find
        return [round(float(v), 3) for v in values.ravel()]

    person = {
        "person_id": [-1],
        "pose_keypoints_2d": part(25),
        "face_keypoints_2d": part(70) if face else [],
        "hand_left_keypoints_2d": part(21),
        "hand_right_keypoints_2d": part(21),
        "pose_keypoints_3d": [],
    }
    return {"version": 1.3, "people": [person] * people}


@pytest.fixture
def openpose_data(tmp_path):
    rng = np.random.default_rng(8)
    src = tmp_path / "openpose"
    frames = {}
    for clip, count in (("clip_a", 4), ("clip_b", 3)):
        (src / clip).mkdir(parents=True)
        for t in range(count):
            if clip == "clip_a" and t == 2:
                continue  # a frame OpenPose wrote no file for
            frame = openpose_frame(rng, face=(t != 1))
            if clip == "clip_b" and t == 0:
                frame = {"version": 1.3, "people": []}
            frames[(clip, t)] = frame
            (src / clip / f"{clip}_{t:012d}_keypoints.json").write_text(json.dumps(frame))
    index = write_csv(
        tmp_path / "index.csv", ["name", "text", "split"], [["clip_a", "hello", "train"], ["clip_b", "world", "test"]]
    )
    return src, index, frames


def test_openpose_round_trips_values_and_gaps(openpose_data, tmp_path):
    src, index, frames = openpose_data
    corpus = import_openpose(src, index, tmp_path / "corpus", fps=24, spoken="en", signed="ase")
    assert corpus.layout_name == "openpose-137"
    assert [(i.id, i.split, i.text, i.num_frames) for i in corpus.items] == [
        ("clip_a", "train", "hello", 4),
        ("clip_b", "test", "world", 3),
    ]
    layout = openpose_layout()
    for item in corpus.items:
        seq = corpus.load_pose(item)  # read back from the .pose file
        assert seq.fps == 24 and seq.layout.same_joints(layout)
        for t in range(seq.num_frames):
            frame = frames.get((item.id, t))
            people = frame["people"] if frame else []
            if not people:
                assert not seq.mask[t].any()
                continue
            for component in layout.components:
                values = people[0][component.name]
                where = layout.component_slice(component.name)
                if not values:
                    assert not seq.mask[t, where].any()
                    continue
                triples = np.asarray(values).reshape(-1, 3)
                assert np.array_equal(seq.mask[t, where], triples[:, 2] > 0)
                observed = triples[:, 2] > 0
                assert np.allclose(seq.data[t, where][observed], triples[observed, :2], rtol=1e-6, atol=1e-5)
                assert np.allclose(seq.confidence[t, where], triples[:, 2], atol=1e-6)


def test_openpose_agrees_with_pose_formats_reader(tmp_path):
    from pose_format.utils.openpose import load_openpose_directory

    # Every part present in every frame: pose-format's reader shifts the hands into the face's
    # place in a frame whose face list is empty (ours leaves the face unobserved there).
    rng = np.random.default_rng(9)
    for t in range(3):
        (tmp_path / f"x_{t:012d}_keypoints.json").write_text(json.dumps(openpose_frame(rng, people=2)))
    ours = read_openpose_folder(tmp_path, fps=24)
    theirs = load_openpose_directory(str(tmp_path), fps=24)
    data = np.asarray(theirs.body.data.data)[:, 0]  # the first person, as ours reads
    confidence = np.asarray(theirs.body.confidence)[:, 0]
    assert [c.name for c in theirs.header.components] == ours.layout.component_names
    assert np.array_equal(confidence, ours.confidence)
    assert np.allclose(data[ours.mask], ours.data[ours.mask])


def test_openpose_bad_inputs_are_one_line(openpose_data, tmp_path, capsys):
    src, index, frames = openpose_data
    out = str(tmp_path / "corpus")
    args = ["prepare", "openpose", str(src), "--out", out, "--spoken", "en", "--signed", "ase"]
    write_csv(tmp_path / "nameless.csv", ["clip", "text"], [["clip_a", "hello"]])
    assert run([*args, "--index", str(tmp_path / "nameless.csv")]) == 1
    assert "'name'" in one_error_line(capsys)
    write_csv(tmp_path / "typo.csv", ["name", "text", "signed_lang"], [["clip_a", "hello", "ase"]])
    assert run([*args, "--index", str(tmp_path / "typo.csv")]) == 1
    assert "unknown column 'signed_lang'" in one_error_line(capsys)
    write_csv(tmp_path / "gone.csv", ["name", "text"], [["clip_z", "hello"]])
    assert run([*args, "--index", str(tmp_path / "gone.csv")]) == 1
    assert "gone.csv:2" in (line := one_error_line(capsys)) and "clip_z" in line
    frame = frames[("clip_a", 0)]
    frame["people"][0]["face_keypoints_2d"] = frame["people"][0]["face_keypoints_2d"][:-3]
    bad = src / "clip_a" / "clip_a_000000000000_keypoints.json"
    bad.write_text(json.dumps(frame))
    assert run([*args, "--index", str(index)]) == 1
    assert "207 values, expected 210" in one_error_line(capsys)
    bad.write_text("{not json")
    assert run([*args, "--index", str(index)]) == 1
    assert "not OpenPose JSON" in one_error_line(capsys)
    assert not (tmp_path / "corpus").exists()


def test_an_import_into_a_folder_that_is_not_a_corpus_is_refused(openpose_data, tmp_path):
    src, index, _ = openpose_data
    keep = tmp_path / "mine"
    keep.mkdir()
    (keep / "notes.txt").write_text("precious")
    with pytest.raises(Text2SignError, match="not a text2sign corpus"):
        import_openpose(src, index, keep, spoken="en", signed="ase")
    assert (keep / "notes.txt").read_text() == "precious"
    corpus = import_openpose(src, index, tmp_path / "corpus", spoken="en", signed="ase")
    again = import_openpose(src, index, corpus.root, spoken="en", signed="ase")
    assert len(Corpus.load(again.root)) == 2, "a corpus is replaced by a new import"


def test_the_latent_configs_train_on_the_designs_own_layout(latent_data, tmp_path):
    """configs/fs-latent-*.yaml on an imported latent-flow corpus: its 214 values a frame (body and
    hands as manual channels, action units, head pose, gaze and mouth as non-manual ones)."""
    from pathlib import Path

    from text2sign.pipelines import load_pipeline
    from text2sign.training import train
    from text2sign.training.config import load_config

    root, _ = latent_data
    corpus = import_latent_features(root, tmp_path / "corpus", "de", "gsg", trust_pickles=True)
    configs = Path(__file__).resolve().parents[2] / "configs"
    quick = [
        "train.steps=2",
        "train.validate_every=2",
        "train.checkpoint_every=2",
        "train.batch_size=2",
        "train.warmup_steps=0",
        f"data.corpus={corpus.root}",
        "data.max_frames=16",
    ]
    ae = train(load_config(configs / "fs-latent-ae.yaml", [*quick, "model.hand_relative=false"]), tmp_path / "ae")
    flow = train(
        load_config(
            configs / "fs-latent-flow.yaml",
            [
                *quick,
                "objective.dev_metric=loss",
                "init.predictor=null",
                f"init.autoencoder={ae.checkpoint}",
                "model.predictor.min_frames=1",
            ],
        ),
        tmp_path / "flow",
    )
    pipeline = load_pipeline(str(flow.checkpoint))
    pose = pipeline("regen", "de", "gsg", seed=0, steps=2).outputs[0]
    assert pose.layout.name == "latent-flow-214" and pose.num_frames > 0
    features, _ = pose.to_features()
    assert features.shape[1] == 214
