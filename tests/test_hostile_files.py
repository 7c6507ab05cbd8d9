"""Hostile files, one class per test: a file that is broken, oversized or declares more than it
holds ends in one `error:` line naming it (no traceback, no numpy warning) before memory is
allocated for it; what can stream streams (issue 22 §5, §6)."""

import csv
import json
import shutil
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest

from text2sign.cli import run
from text2sign.errors import CheckpointError, ConfigError, Text2SignError
from text2sign.limits import MAX_CHECKPOINT_CONFIG_BYTES, MAX_ITEM_TEXT_CHARS, MAX_LIST_ITEMS, MAX_POSE_FRAMES
from text2sign.pose.io import read_pose, save_pose, write_pose
from text2sign.testing import fake_pose, fake_video, one_error_line


def only_error_line(capsys) -> str:
    """One `error:` line, and no warning printed before it."""
    line = one_error_line(capsys)
    assert "Warning" not in line
    return line


# --- corpus indexes: stats.json and manifest.csv ---------------------------------------------

BROKEN_STATS = {
    "not JSON": (b"{oops", "is not valid JSON"),
    "not a mapping": (b"[1, 2]", "must hold a JSON object"),
    "not UTF-8": ('{"layout": "caf\xe9"}'.encode("latin-1"), "is not UTF-8 text"),
    "nested too deeply": (b"[" * 100_000 + b"]" * 100_000, "is not valid JSON"),
    "a layout that is not a name": (b'{"layout": [1]}', "'layout' must be a layout name"),
}


@pytest.fixture(scope="module")
def corpus_copy(tiny_fs_words, tmp_path_factory):
    def copy(stats: bytes | None = None) -> Path:
        root = tmp_path_factory.mktemp("corpus") / "c"
        shutil.copytree(tiny_fs_words.root, root)
        if stats is not None:
            (root / "stats.json").write_bytes(stats)
        return root

    return copy


@pytest.mark.parametrize(
    "command",
    [
        lambda c, tmp: ["info", str(c)],
        lambda c, tmp: ["generate", "hi", "--lexicon", str(c), "-o", str(tmp / "x.pose")],
        lambda c, tmp: ["recognize", str(c)],
        lambda c, tmp: ["evaluate", "--corpus", str(c), "--out", str(tmp / "e.json"), "--limit", "1", "--gifs", "0"],
        lambda c, tmp: [
            "train",
            "configs/fs-gan-nat.yaml",
            "--set",
            f"data.corpus={c}",
            "--set",
            "train.steps=1",
            "--out",
            str(tmp / "run"),
        ],
    ],
    ids=["info", "lexicon", "recognize", "evaluate", "train"],
)
@pytest.mark.parametrize("kind", list(BROKEN_STATS))
def test_a_broken_stats_json_is_one_line_naming_it(kind, command, corpus_copy, tmp_path, capsys):
    payload, message = BROKEN_STATS[kind]
    corpus = corpus_copy(payload)
    assert run(command(corpus, tmp_path)) == 1
    line = only_error_line(capsys)
    assert str(corpus / "stats.json") in line and message in line, line


@pytest.mark.parametrize(
    "text, message",
    [
        ("caf\xe9".encode("latin-1"), "is not UTF-8 text"),
        (b'"' + b"x" * 200_000 + b'"', "is not a readable CSV manifest"),  # over the csv module's field limit
    ],
)
def test_a_manifest_that_is_not_utf8_csv_is_one_line(text, message, corpus_copy, capsys):
    from text2sign.data.corpus import MANIFEST_COLUMNS

    corpus = corpus_copy()
    lines = (corpus / "manifest.csv").read_bytes().splitlines()
    row = lines[1].split(b",")
    row[MANIFEST_COLUMNS.index("text")] = text
    (corpus / "manifest.csv").write_bytes(b"\n".join([lines[0], b",".join(row)]) + b"\n")
    assert run(["info", str(corpus)]) == 1
    assert message in only_error_line(capsys)


def test_no_importer_writes_an_item_text_that_readers_refuse(tmp_path):
    from text2sign.data.corpus import CorpusWriter

    writer = CorpusWriter(tmp_path / "c")
    with pytest.raises(Text2SignError, match=f"at most {MAX_ITEM_TEXT_CHARS:,}"):
        writer.add(fake_pose(3), id="a", split="train", text="x" * (MAX_ITEM_TEXT_CHARS + 1))


# --- video folders -----------------------------------------------------------------------------


@pytest.fixture
def video_folder(tmp_path):
    from text2sign.video import save_video

    root = tmp_path / "videos"
    root.mkdir()
    for i in range(2):
        save_video(fake_video(10 + i, 24, 32, fps=10, seed=i), root / f"clip{i}.gif")
        (root / f"clip{i}.txt").write_text(f"word {i}", encoding="utf-8")
    return root


@pytest.mark.parametrize(
    "text, message",
    [
        ("café".encode("latin-1"), "is not UTF-8 text"),
        (b"x" * 1_000_000, "a clip's text may have at most"),
    ],
)
def test_a_clip_text_that_is_not_utf8_or_too_long_is_one_line_and_leaves_nothing(
    text, message, video_folder, tmp_path, capsys
):
    (video_folder / "clip1.txt").write_bytes(text)
    out = tmp_path / "corpus"
    assert run(["prepare", "video-folder", str(video_folder), "--out", str(out)]) == 1
    line = only_error_line(capsys)
    assert "clip1.txt" in line and message in line
    assert not out.exists()


def test_a_video_corpus_with_a_broken_index_is_one_line(video_folder, tmp_path, capsys):
    out = tmp_path / "corpus"
    assert run(["prepare", "video-folder", str(video_folder), "--out", str(out)]) == 0
    capsys.readouterr()
    for name, payload in (("stats.json", b"[]"), ("stats.json", b'{"height": "x"}'), ("manifest.csv", b"id\n\xff\n")):
        backup = (out / name).read_bytes()
        (out / name).write_bytes(payload)
        assert run(["info", str(out)]) == 1
        assert name in only_error_line(capsys)
        (out / name).write_bytes(backup)


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"frames": 7},
        {"frames": 25, "resize": 16},
        {"fps": 4.0, "crop": 20},
        {"fps": 25.0, "frames": 9, "resize": 12, "crop": 12},
    ],
)
def test_video_folder_streams_each_clip_and_shapes_it_as_a_whole_clip_would_be(
    options, video_folder, tmp_path, monkeypatch
):
    from text2sign.data.video_corpus import FolderOptions, fit_frames, import_video_folder
    from text2sign.video import io as video_io

    expected = {}
    for path in sorted(video_folder.glob("*.gif")):
        clip = video_io.load_video(path)
        if options.get("fps"):
            clip = clip.resample(options["fps"])
        if options.get("resize"):
            scale = options["resize"] / min(clip.width, clip.height)
            clip = clip.resize(round(clip.width * scale), round(clip.height * scale))
        if options.get("crop"):
            clip = clip.center_crop(options["crop"])
        expected[path.stem] = (fit_frames(clip.frames, options.get("frames")), clip.fps)

    def whole(*args, **kwargs):
        raise AssertionError("a clip was decoded whole")

    monkeypatch.setattr(video_io, "load_video", whole)
    monkeypatch.setattr(video_io, "_read_av", whole)
    corpus, _ = import_video_folder(
        video_folder, tmp_path / "corpus", FolderOptions(**options, dev_fraction=0, test_fraction=0)
    )
    for item in corpus.items:
        frames, fps = expected[item.id]
        assert np.array_equal(corpus.frames(item), frames) and item.fps == pytest.approx(fps)


# --- experiment configs (YAML) ---------------------------------------------------------------


def alias_bomb(levels: int = 12) -> str:
    lines = ["family: gan-nat", "a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(
    "content, message",
    [
        (alias_bomb().encode(), "values (YAML aliases counted at each use)"),
        (b"family: gan-nat\nmodel: " + b"[" * 5000 + b"]" * 5000 + b"\n", "nested too deeply"),
        (b"family: gan-nat\nmodel: " + b"{a: " * 100 + b"1" + b"}" * 100 + b"\n", "nested too deeply"),
        ("family: gan-nat\nname: café\n".encode("latin-1"), "is not UTF-8 text"),
        (b"family: gan-nat\n" + b"# padding\n" * 200_000, "an experiment config may have at most"),
    ],
)
def test_a_hostile_yaml_config_is_refused_as_it_is_read(content, message, tmp_path, capsys):
    from text2sign.training import load_config

    path = tmp_path / "config.yaml"
    path.write_bytes(content)
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_config(path)
    assert run(["train", str(path), "--out", str(tmp_path / "run")]) == 1
    assert message in only_error_line(capsys)


@pytest.mark.parametrize("value", ["1,,x", "1,x", ",", "1.5,2", "a"])
def test_a_list_flag_that_is_not_numbers_is_one_line(value, tiny_fs_words, tmp_path, capsys):
    assert run(["train-recognizer", str(tiny_fs_words.root), "--out", str(tmp_path / "r"), "--dilations", value]) == 1
    assert "--dilations takes whole numbers separated by commas" in only_error_line(capsys)


# --- checkpoints ---------------------------------------------------------------------------------


def test_a_checkpoint_vocabulary_past_the_limit_is_refused_before_the_model_is_built(tmp_path, monkeypatch, capsys):
    from text2sign import checkpoints
    from text2sign.families import MODELS

    ckpt = tmp_path / "big-vocab"
    shutil.copytree(MODELS["fs-gan-nat"].checkpoint, ckpt)
    config = json.loads((ckpt / "config.json").read_text())
    config["model"]["text"]["vocab"] = [f"w{i}" for i in range(MAX_LIST_ITEMS + 1)]
    (ckpt / "config.json").write_text(json.dumps(config))
    monkeypatch.setattr(checkpoints, "load_weights", lambda *a: pytest.fail("the model was built"))
    assert run(["generate", "hi", "--model", str(ckpt), "-o", str(tmp_path / "x.pose")]) == 1
    assert f"a config's lists may have at most {MAX_LIST_ITEMS:,}" in only_error_line(capsys)
    with open(ckpt / "config.json", "r+b") as f:
        f.truncate(MAX_CHECKPOINT_CONFIG_BYTES + 1)  # sparse: no disk is used
    with pytest.raises(CheckpointError, match="a checkpoint's config may have at most"):
        checkpoints.read_meta(ckpt)


# --- pose files ---------------------------------------------------------------------------------


def test_a_pose_file_padded_to_gigabytes_reads_only_its_data(tmp_path):
    path = tmp_path / "padded.pose"
    write_pose(fake_pose(20), path)
    expected = read_pose(path)
    with open(path, "r+b") as f:
        f.truncate(2 * 1024**3)  # sparse
    tracemalloc.start()
    try:
        padded = read_pose(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert np.array_equal(padded.data, expected.data) and peak < 20 * 1024**2


def test_a_pose_header_declaring_billions_of_frames_is_refused_before_reading(tmp_path, capsys):
    import struct

    path = tmp_path / "liar.pose"
    write_pose(fake_pose(2), path)
    payload = bytearray(path.read_bytes())
    body = payload.find(struct.pack("<f", 25.0) + struct.pack("<I", 2))
    payload[body + 4 : body + 8] = struct.pack("<I", 4_000_000_000)
    path.write_bytes(bytes(payload))
    assert run(["info", str(path)]) == 1
    assert f"declares 4,000,000,000 frames; a pose may have at most {MAX_POSE_FRAMES:,}" in only_error_line(capsys)


def npz_declaring(path: Path, shapes: dict[str, tuple[tuple[int, ...], str]]) -> Path:
    """An .npz whose members declare these shapes and dtypes but hold no data (a bomb's header)."""
    with zipfile.ZipFile(path, "w") as archive:
        for name, (shape, dtype) in shapes.items():
            with archive.open(f"{name}.npy", "w") as member:
                np.lib.format.write_array_header_1_0(
                    member, {"descr": np.dtype(dtype).str, "fortran_order": False, "shape": shape}
                )
    return path


@pytest.mark.parametrize(
    "shapes, message",
    [
        ({"data": ((10**7, 178, 3), "<f4")}, "declares 10,000,000 rows"),
        ({"data": ((1000, 178, 3), "<f4"), "extra": ((50_000, 100_000), "<f8")}, "bytes of arrays"),
        ({"data": ((5, 178, 3), "<c8")}, "must hold real numbers, not complex64"),
        ({"data": ((5, 178, 3), "|O")}, "must hold real numbers"),
    ],
)
def test_an_npz_is_checked_by_its_declared_arrays_before_any_is_read(shapes, message, tmp_path, capsys):
    base = {"mask": ((5, 178), "|b1"), "fps": ((), "<f8"), "layout": ((), "<U10")}
    path = npz_declaring(tmp_path / "bomb.npz", {**base, **shapes})
    assert run(["info", str(path)]) == 1
    line = only_error_line(capsys)
    assert str(path) in line and message in line


def test_values_beyond_float32_are_one_line_naming_the_file_without_numpy_warnings(tmp_path, capsys):
    from text2sign.pose.io import read_skels, write_npz

    seq = fake_pose(4)
    write_npz(seq, tmp_path / "ok.npz")
    arrays = dict(np.load(tmp_path / "ok.npz"))
    arrays["data"] = arrays["data"].astype(np.float64)
    arrays["data"][1, 2, 0] = 1e308
    np.savez(tmp_path / "big.npz", **arrays)
    assert run(["info", str(tmp_path / "big.npz")]) == 1
    assert "big.npz: pose data has 1 NaN or infinite" in only_error_line(capsys)
    (tmp_path / "big.skels").write_text(" ".join(["1e308"] * 150 + ["0.0"]) + "\n")
    with _no_warnings(), pytest.raises(Text2SignError, match="big.skels:1: pose data has 50 NaN or infinite"):
        read_skels(tmp_path / "big.skels")


class _no_warnings:
    def __enter__(self):
        import warnings

        self._catch = warnings.catch_warnings(record=True)
        self.caught = self._catch.__enter__()
        warnings.simplefilter("always")
        return self

    def __exit__(self, *exc):
        self._catch.__exit__(*exc)
        assert not self.caught, [str(w.message) for w in self.caught]


def test_a_complex_or_out_of_range_feature_file_is_one_line(tmp_path, capsys):
    for name, features in (("complex", np.ones((4, 540), np.complex64)), ("huge", np.full((4, 540), 0.5))):
        if name == "huge":
            features[1, 0] = 1e308
        np.save(tmp_path / f"{name}.npy", features)
        with open(tmp_path / f"{name}.csv", "w", newline="") as f:
            csv.writer(f).writerows([["feature_path", "sentence_text"], [f"{name}.npy", "hi"]])
        assert (
            run(
                [
                    "prepare",
                    "gan-nat-csv",
                    str(tmp_path / f"{name}.csv"),
                    "--out",
                    str(tmp_path / f"out-{name}"),
                    "--spoken",
                    "en",
                    "--signed",
                    "ase",
                ]
            )
            == 1
        )
        line = only_error_line(capsys)
        assert f"{name}.npy" in line and ("not complex64" in line or "out-of-range value at frame 1" in line), line


# --- OpenPose --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "numbers, message",
    [
        ((0, 999_999_999_999), "frame number 999,999,999,999 is out of range"),
        ((0, 300_000), "frame number 300,000 is out of range"),
        ((0, 50_000), "its last frame is number 50,000 but it has 2 frame files"),
    ],
)
def test_an_openpose_frame_number_cannot_ask_for_more_frames_than_the_clip_has(numbers, message, tmp_path, capsys):
    clip = tmp_path / "src" / "clip"
    clip.mkdir(parents=True)
    for n in numbers:
        (clip / f"v_{n:012d}_keypoints.json").write_text(json.dumps({"people": [{"pose_keypoints_2d": [1.0] * 75}]}))
    (tmp_path / "index.csv").write_text("name,text\nclip,hi\n")
    argv = [
        "prepare",
        "openpose",
        str(tmp_path / "src"),
        "--index",
        str(tmp_path / "index.csv"),
        "--out",
        str(tmp_path / "out"),
        "--spoken",
        "en",
        "--signed",
        "ase",
    ]
    assert run(argv) == 1
    assert message in only_error_line(capsys)
    assert not (tmp_path / "out").exists()


# --- drawing -----------------------------------------------------------------------------------------


def test_a_contact_sheet_is_encoded_a_row_of_cells_at_a_time(tmp_path):
    from PIL import Image

    from text2sign.rendering.render import _draw, write_contact_sheet

    seq, size = fake_pose(40), 512
    write_contact_sheet(seq, tmp_path / "warm.png", width=16, height=16)  # imports, outside the measure
    tracemalloc.start()
    try:
        write_contact_sheet(seq, tmp_path / "sheet.png", columns=6, frames=30, width=size, height=size)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    sheet = np.asarray(Image.open(tmp_path / "sheet.png").convert("RGB"))
    assert sheet.shape == (5 * size, 6 * size, 3)
    assert peak < sheet.nbytes / 2  # a row of cells at a time, not the whole sheet
    picks = np.unique(np.round(np.linspace(0, seq.num_frames - 1, 30)).astype(int))
    cells = list(_draw(seq, size, size, ("world",), (255, 255, 255), None, picks))
    assert np.array_equal(sheet[size : 2 * size, 2 * size : 3 * size], cells[8])


def test_a_glitched_joint_near_float32s_limit_still_draws(tmp_path, capsys):
    seq = fake_pose(6)
    seq.data[2, 5, :2] = 3e38
    save_pose(seq, tmp_path / "glitch.npz")
    for suffix in ("gif", "png"):
        assert run(["render", str(tmp_path / "glitch.npz"), "-o", str(tmp_path / f"glitch.{suffix}")]) == 0
    assert "Warning" not in capsys.readouterr().err
