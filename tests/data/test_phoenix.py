"""PHOENIX-2014T import/export: round trips (real sample and synthetic) and bad inputs."""

import shutil
from pathlib import Path

import numpy as np
import pytest
from pose_format import Pose

from text2sign.data.corpus import Corpus, CorpusWriter
from text2sign.data.phoenix import PHOENIX_FPS, count_items, export_phoenix, find_splits, import_phoenix
from text2sign.errors import CorpusError, InvalidPoseError, PoseFileError
from text2sign.pose.io import parse_skels_line
from text2sign.pose.layout import get_layout
from text2sign.pose.sequence import PoseSequence

SAMPLE = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "phoenix14t-sample"
needs_sample = pytest.mark.skipif(not SAMPLE.is_dir(), reason="PHOENIX-2014T sample not present in ../shared")
PER_FRAME = 151
FILES = ("skels", "text", "gloss", "files")


# --- helpers --------------------------------------------------------------------------------


def skels_line(values: np.ndarray) -> str:
    """As the PHOENIX data writes it: 5-decimal joints, then a 4-decimal counter t/T."""
    frames = values.shape[0]
    return " ".join(" ".join(f"{v:.5f}" for v in row.ravel()) + f" {t / frames:.4f}" for t, row in enumerate(values))


def fake_values(frames: int, rng: np.random.Generator) -> np.ndarray:
    values = np.round(rng.uniform(-0.5, 0.5, size=(frames, 50, 3)), 5)
    values[:, 1] = 0.0  # neck-centred, as the real data
    return values


def write_fake_phoenix(root: Path, splits=("train", "dev", "test"), per_split: int = 3, gloss: bool = True) -> Path:
    rng = np.random.default_rng(7)
    root.mkdir(parents=True, exist_ok=True)
    for split in splits:
        rows = [
            (
                skels_line(fake_values(int(rng.integers(1, 12)), rng)),
                f"am {split} über süddeutschland regen nummer {i} .",
                f"REGEN SUED {split.upper()} {i}",
                f"{split}/01April_2010_Thursday_heute-{i}",
            )
            for i in range(per_split)
        ]
        for column, suffix in enumerate(FILES):
            if suffix == "gloss" and not gloss:
                continue
            (root / f"{split}.{suffix}").write_text("".join(row[column] + "\n" for row in rows), encoding="utf-8")
    return root


def values_of(line: str) -> np.ndarray:
    return np.array(line.split(), dtype=np.float64).reshape(-1, PER_FRAME)


def assert_round_trip(src: Path, out: Path, splits) -> None:
    for split in splits:
        for suffix in ("text", "gloss", "files"):
            name = f"{split}.{suffix}"
            assert (out / name).read_bytes() == (src / name).read_bytes(), name
        original = (src / f"{split}.skels").read_text().splitlines()
        exported = (out / f"{split}.skels").read_text().splitlines()
        assert len(exported) == len(original)
        for a, b in zip(original, exported):
            va, vb = values_of(a), values_of(b)
            assert va.shape == vb.shape
            assert np.allclose(va[:, :-1], vb[:, :-1], atol=1e-5)
            assert np.allclose(va[:, -1], vb[:, -1], atol=1e-4)  # counter t/T
            # Joint values are printed back digit for digit; only the counter's format may differ.
            assert [t for i, t in enumerate(b.split()) if i % PER_FRAME != PER_FRAME - 1] == [
                t for i, t in enumerate(a.split()) if i % PER_FRAME != PER_FRAME - 1
            ]


# --- real sample ----------------------------------------------------------------------------


@needs_sample
def test_real_sample_import(tmp_path):
    ticks = []
    corpus = import_phoenix(SAMPLE, tmp_path / "corpus", on_item=lambda: ticks.append(1))
    assert len(corpus) == 15 == len(ticks)
    summary = corpus.summary()
    assert summary["items"] == {"train": 5, "dev": 5, "test": 5}
    assert summary["frames"] == {"train": 636, "dev": 536, "test": 770}
    assert summary["languages"] == {"de->gsg": 15}
    first = corpus.split("dev")[0]
    assert first.id == "dev/11August_2010_Wednesday_tagesschau-2"
    assert first.gloss == "DRUCK TIEF KOMMEN"
    assert first.text == "tiefer luftdruck bestimmt in den nächsten tagen unser wetter ."
    assert (first.spoken_language, first.signed_language, first.signer, first.fps) == ("de", "gsg", "", 25.0)
    assert first.path.endswith(".pose")
    assert corpus.stats["source"] == "phoenix"
    assert "divided by 3" in corpus.stats["note"] and "neck" in corpus.stats["note"]
    assert corpus.layout_name == "phoenix-50"
    stats = corpus.feature_stats()
    assert stats is not None and stats.frames == 636 and stats.mean.shape == (150,)

    reloaded = Corpus.load(tmp_path / "corpus")
    seq = reloaded.load_pose(first)
    original = parse_skels_line((SAMPLE / "dev.skels").read_text().splitlines()[0])
    assert seq.layout.name == "phoenix-50" and seq.num_frames == first.num_frames
    assert seq.allclose(original, atol=1e-6)


@needs_sample
def test_real_sample_round_trip(tmp_path):
    import_phoenix(SAMPLE, tmp_path / "corpus")
    written = export_phoenix(tmp_path / "corpus", tmp_path / "out")
    assert written == {"train": 5, "dev": 5, "test": 5}
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(
        f"{s}.{x}" for s in ("train", "dev", "test") for x in FILES
    )
    assert_round_trip(SAMPLE, tmp_path / "out", ("train", "dev", "test"))


@needs_sample
def test_real_sample_round_trip_is_byte_identical(tmp_path):
    import_phoenix(SAMPLE, tmp_path / "corpus")
    export_phoenix(tmp_path / "corpus", tmp_path / "out")
    for split in ("train", "dev", "test"):
        assert (tmp_path / "out" / f"{split}.skels").read_bytes() == (SAMPLE / f"{split}.skels").read_bytes()


# --- synthetic data ---------------------------------------------------------------------------


def test_synthetic_round_trip(tmp_path):
    src = write_fake_phoenix(tmp_path / "src")
    corpus = import_phoenix(src, tmp_path / "corpus")
    assert len(corpus) == 9
    assert [i.id for i in corpus.split("dev")] == [f"dev/01April_2010_Thursday_heute-{i}" for i in range(3)]
    written = export_phoenix(tmp_path / "corpus", tmp_path / "out")
    assert written == {"train": 3, "dev": 3, "test": 3}
    assert_round_trip(src, tmp_path / "out", ("train", "dev", "test"))


def test_pose_files_show_the_joints_on_a_pixel_canvas(tmp_path):
    """pose-format sees pixels (500 per PT unit, neck at 320, 260); text2sign reads PT's units."""
    src = write_fake_phoenix(tmp_path / "src", splits=("dev",))
    corpus = import_phoenix(src, tmp_path / "corpus")
    item = corpus.items[0]
    original = parse_skels_line((src / "dev.skels").read_text().splitlines()[0])
    pose = Pose.read((corpus.root / item.path).read_bytes())
    assert (pose.header.dimensions.width, pose.header.dimensions.height) == (640, 640)
    pixels = np.asarray(pose.body.data.data)[:, 0]
    assert np.allclose(pixels[..., :2], original.data[..., :2] * 500 + (320, 260), atol=1e-3)
    assert np.allclose(pixels[:, 1, :2], (320, 260))  # the neck
    assert corpus.load_pose(item).allclose(original, atol=1e-7)


def test_only_some_splits_and_no_gloss(tmp_path):
    src = write_fake_phoenix(tmp_path / "src", splits=("dev",), gloss=False)
    assert find_splits(src) == ["dev"]
    corpus = import_phoenix(src, tmp_path / "corpus")
    assert corpus.summary()["items"] == {"train": 0, "dev": 3, "test": 0}
    assert all(item.gloss == "" for item in corpus.items)
    assert export_phoenix(tmp_path / "corpus", tmp_path / "out") == {"dev": 3}
    assert (tmp_path / "out" / "dev.gloss").read_text() == "\n\n\n"
    assert not (tmp_path / "out" / "train.skels").exists()


def test_count_items_and_progress(tmp_path):
    src = write_fake_phoenix(tmp_path / "src", per_split=2)
    assert count_items(src) == {"train": 2, "dev": 2, "test": 2}
    ticks = []
    import_phoenix(src, tmp_path / "corpus", on_item=lambda: ticks.append(1))
    assert len(ticks) == 6


def test_crlf_and_missing_final_newline_are_read(tmp_path):
    src = write_fake_phoenix(tmp_path / "src", splits=("train",))
    text = src / "train.text"
    text.write_bytes(text.read_bytes().replace(b"\n", b"\r\n"))
    files = src / "train.files"
    files.write_bytes(files.read_bytes().rstrip(b"\n"))
    corpus = import_phoenix(src, tmp_path / "corpus")
    assert corpus.items[0].text == "am train über süddeutschland regen nummer 0 ."
    assert corpus.items[-1].id == "train/01April_2010_Thursday_heute-2"


def test_export_resamples_other_frame_rates_to_25_fps(tmp_path):
    layout = get_layout("phoenix-50")
    rng = np.random.default_rng(0)
    writer = CorpusWriter(tmp_path / "corpus")
    seq = PoseSequence(fake_values(20, rng), np.ones((20, 50), bool), 50.0, layout)
    writer.add(seq, id="a", split="train", text="t")
    writer.close()
    export_phoenix(tmp_path / "corpus", tmp_path / "out")
    (line,) = (tmp_path / "out" / "train.skels").read_text().splitlines()
    assert values_of(line).shape == (int(20 * PHOENIX_FPS / 50), PER_FRAME)


# --- errors -----------------------------------------------------------------------------------


def test_mismatched_line_counts(tmp_path):
    src = write_fake_phoenix(tmp_path / "src", splits=("train",))
    with (src / "train.text").open("a", encoding="utf-8") as f:
        f.write("eine zeile zu viel .\n")
    with pytest.raises(CorpusError, match=r"train\.text has 4 lines but .*train\.skels has 3"):
        import_phoenix(src, tmp_path / "corpus")
    assert not (tmp_path / "corpus").exists(), "nothing is written before the files are checked"


def test_mismatched_gloss_count(tmp_path):
    src = write_fake_phoenix(tmp_path / "src", splits=("dev",))
    lines = (src / "dev.gloss").read_text().splitlines()
    (src / "dev.gloss").write_text("\n".join(lines[:2]) + "\n")
    with pytest.raises(CorpusError, match=r"dev\.gloss has 2 lines but .*dev\.skels has 3"):
        import_phoenix(src, tmp_path / "corpus")


def test_non_numeric_value(tmp_path):
    src = write_fake_phoenix(tmp_path / "src", splits=("train",))
    lines = (src / "train.skels").read_text().splitlines()
    lines[1] = " ".join(["abc"] + lines[1].split()[1:])
    (src / "train.skels").write_text("\n".join(lines) + "\n")
    with pytest.raises(PoseFileError, match=r"train\.skels:2: non-numeric"):
        import_phoenix(src, tmp_path / "corpus")


def test_value_count_not_a_multiple_of_151(tmp_path):
    src = write_fake_phoenix(tmp_path / "src", splits=("test",))
    lines = (src / "test.skels").read_text().splitlines()
    lines[2] += " 0.12345"
    (src / "test.skels").write_text("\n".join(lines) + "\n")
    with pytest.raises(PoseFileError, match=r"test\.skels:3: .* not a multiple of 151"):
        import_phoenix(src, tmp_path / "corpus")


def test_nan_value_names_file_and_line(tmp_path):
    src = write_fake_phoenix(tmp_path / "src", splits=("dev",))
    lines = (src / "dev.skels").read_text().splitlines()
    lines[0] = " ".join(["nan"] + lines[0].split()[1:])
    (src / "dev.skels").write_text("\n".join(lines) + "\n")
    with pytest.raises(InvalidPoseError, match=r"dev\.skels:1: .*NaN"):
        import_phoenix(src, tmp_path / "corpus")


def test_empty_sequence_name(tmp_path):
    src = write_fake_phoenix(tmp_path / "src", splits=("dev",))
    names = (src / "dev.files").read_text().splitlines()
    names[1] = "  "
    (src / "dev.files").write_text("\n".join(names) + "\n")
    with pytest.raises(CorpusError, match=r"dev\.files:2: empty sequence name"):
        import_phoenix(src, tmp_path / "corpus")


def test_duplicate_sequence_name(tmp_path):
    src = write_fake_phoenix(tmp_path / "src", splits=("dev",))
    names = (src / "dev.files").read_text().splitlines()
    (src / "dev.files").write_text("\n".join([names[0], names[0], names[2]]) + "\n")
    with pytest.raises(CorpusError, match="duplicate"):
        import_phoenix(src, tmp_path / "corpus")


def test_non_utf8_text(tmp_path):
    src = write_fake_phoenix(tmp_path / "src", splits=("dev",))
    (src / "dev.text").write_bytes("a\nüber\nc\n".encode("latin-1"))
    with pytest.raises(CorpusError, match=r"dev\.text:2: not UTF-8"):
        import_phoenix(src, tmp_path / "corpus")


def test_missing_directory(tmp_path):
    with pytest.raises(CorpusError, match="not found"):
        import_phoenix(tmp_path / "nope", tmp_path / "corpus")


def test_directory_without_any_split(tmp_path):
    src = write_fake_phoenix(tmp_path / "src", splits=("train",))
    (src / "train.files").unlink()
    with pytest.raises(CorpusError, match=r"no PHOENIX split.*found only train\.gloss, train\.skels, train\.text"):
        import_phoenix(src, tmp_path / "corpus")
    shutil.rmtree(src)
    src.mkdir()
    with pytest.raises(CorpusError, match="no PHOENIX split"):
        import_phoenix(src, tmp_path / "corpus")


def test_import_makes_missing_parents_but_not_through_a_file(tmp_path):
    src = write_fake_phoenix(tmp_path / "src", splits=("train",))
    import_phoenix(src, tmp_path / "a" / "b")
    assert (tmp_path / "a" / "b" / "manifest.csv").is_file()
    (tmp_path / "file").write_text("mine")
    with pytest.raises(CorpusError, match="file is not a directory"):
        import_phoenix(src, tmp_path / "file" / "b")


def test_export_of_a_non_phoenix_layout(tmp_path):
    layout = get_layout("holistic-178")
    rng = np.random.default_rng(1)
    data = rng.normal(size=(4, layout.num_joints, 3))
    writer = CorpusWriter(tmp_path / "corpus")
    writer.add(PoseSequence(data, np.ones((4, layout.num_joints), bool), 25.0, layout), id="x", split="dev", text="x")
    writer.close()
    with pytest.raises(InvalidPoseError, match=r"cannot be exported as PHOENIX .skels \(layout holistic-178"):
        export_phoenix(tmp_path / "corpus", tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_export_of_multi_line_text(tmp_path):
    rng = np.random.default_rng(2)
    writer = CorpusWriter(tmp_path / "corpus")
    seq = PoseSequence(fake_values(3, rng), np.ones((3, 50), bool), 25.0, get_layout("phoenix-50"))
    writer.add(seq, id="x", split="train", text="zwei\nzeilen")
    writer.close()
    with pytest.raises(CorpusError, match="text spans several lines"):
        export_phoenix(tmp_path / "corpus", tmp_path / "out")


def test_export_makes_missing_parents_but_not_through_a_file(tmp_path):
    import_phoenix(write_fake_phoenix(tmp_path / "src", splits=("dev",)), tmp_path / "corpus")
    export_phoenix(tmp_path / "corpus", tmp_path / "a" / "b")
    assert any((tmp_path / "a" / "b").iterdir())
    (tmp_path / "file").write_text("mine")
    with pytest.raises(CorpusError, match="file is not a directory"):
        export_phoenix(tmp_path / "corpus", tmp_path / "file" / "b")


def test_export_of_a_missing_corpus(tmp_path):
    with pytest.raises(CorpusError, match="not found"):
        export_phoenix(tmp_path / "nope", tmp_path / "out")
