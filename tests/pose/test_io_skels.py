"""Progressive Transformers ``.skels`` lines: parse/format, the counter column, bad files."""

from pathlib import Path

import numpy as np
import pytest

from text2sign.errors import InvalidPoseError, PoseFileError, Text2SignError
from text2sign.pose.io import format_skels_line, parse_skels_line, read_skels, write_skels
from text2sign.pose.layout import get_layout
from text2sign.pose.sequence import PoseSequence

SAMPLE = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "phoenix14t-sample"
PER_FRAME = 151  # 50 joints x 3 + counter


def original_line(values: np.ndarray) -> str:
    """A line as the PHOENIX data writes it: 5-decimal joints, then a 4-decimal counter t/T."""
    frames = values.shape[0]
    return " ".join(" ".join(f"{v:.5f}" for v in row.ravel()) + f" {t / frames:.4f}" for t, row in enumerate(values))


def random_values(frames: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.round(rng.uniform(-0.6, 0.6, size=(frames, 50, 3)), 5)


def tokens_without_counter(line: str) -> list[str]:
    return [tok for i, tok in enumerate(line.split()) if i % PER_FRAME != PER_FRAME - 1]


def counters(line: str) -> list[str]:
    return line.split()[PER_FRAME - 1 :: PER_FRAME]


def test_parse_gives_phoenix_layout_frames_and_fps():
    values = random_values(7)
    seq = parse_skels_line(original_line(values), fps=30.0)
    assert seq.layout.name == "phoenix-50"
    assert seq.data.shape == (7, 50, 3)
    assert seq.fps == 30.0
    assert seq.mask.all()
    assert np.allclose(seq.data, values, atol=1e-6)


def test_format_is_inverse_of_parse_on_joint_values():
    line = original_line(random_values(12, seed=1))
    again = format_skels_line(parse_skels_line(line))
    # float32 keeps 5-decimal values below 1 exactly enough to print them back unchanged.
    assert tokens_without_counter(again) == tokens_without_counter(line)


def test_parse_is_inverse_of_format():
    seq = PoseSequence(random_values(9, seed=2), np.ones((9, 50), bool), 25.0, get_layout("phoenix-50"))
    back = parse_skels_line(format_skels_line(seq))
    assert back.allclose(seq, atol=1e-5)


def test_negative_zero_survives():
    values = random_values(2)
    values[0, 3] = -0.0
    line = original_line(values)
    assert "-0.00000" in line
    assert tokens_without_counter(format_skels_line(parse_skels_line(line))) == tokens_without_counter(line)


def test_counter_column_is_t_over_T():
    frames = 13
    line = format_skels_line(parse_skels_line(original_line(random_values(frames))))
    assert len(line.split()) == frames * PER_FRAME
    assert np.allclose([float(c) for c in counters(line)], np.arange(frames) / frames, atol=1e-4)


def test_counter_value_is_ignored_when_parsing():
    values = random_values(3)
    tokens = original_line(values).split()
    tokens[PER_FRAME - 1 :: PER_FRAME] = ["42.0", "-1", "7"]
    assert np.allclose(parse_skels_line(" ".join(tokens)).data, values, atol=1e-6)


def test_counter_has_four_decimals_like_the_original_data():
    line = original_line(random_values(7))
    assert format_skels_line(parse_skels_line(line)) == line


def test_masked_joints_are_written_as_zero():
    values = random_values(2) + 1.0
    mask = np.ones((2, 50), bool)
    mask[1, 30:] = False
    seq = PoseSequence(values, mask, 25.0, get_layout("phoenix-50"))
    back = parse_skels_line(format_skels_line(seq))
    assert (back.data[1, 30:] == 0).all()
    assert np.allclose(back.data[0], values[0], atol=1e-5)


def test_format_rejects_a_layout_without_phoenix_joints():
    layout = get_layout("holistic-178")
    seq = PoseSequence.empty_like(layout, 25.0, num_frames=2)
    with pytest.raises(InvalidPoseError, match="phoenix-50"):
        format_skels_line(seq)


@pytest.mark.parametrize(
    ("line", "match"),
    [
        ("", "0 values"),
        ("   ", "0 values"),
        (" ".join(["0.1"] * 150), "150 values, not a multiple of 151"),
        (" ".join(["0.1"] * 152), "152 values, not a multiple of 151"),
        (" ".join(["0.1"] * 150 + ["x"]), "non-numeric"),
        (" ".join(["0.1"] * 149 + ["1,5", "0.0"]), "non-numeric"),
    ],
)
def test_parse_rejects_bad_lines(line, match):
    with pytest.raises(PoseFileError, match=match):
        parse_skels_line(line, where="somewhere:3: ")
    with pytest.raises(PoseFileError, match="^somewhere:3: "):
        parse_skels_line(line, where="somewhere:3: ")


def test_parse_rejects_nan():
    line = " ".join(["nan"] + ["0.1"] * 149 + ["0.0"])
    with pytest.raises(InvalidPoseError, match="NaN"):
        parse_skels_line(line)


def test_write_then_read_several_sequences(tmp_path):
    layout = get_layout("phoenix-50")
    seqs = [PoseSequence(random_values(n, seed=n), np.ones((n, 50), bool), 25.0, layout) for n in (1, 4, 9)]
    path = write_skels(seqs, tmp_path / "x.skels")
    text = path.read_text()
    assert text.endswith("\n") and text.count("\n") == 3
    back = read_skels(path, fps=25.0)
    assert [s.num_frames for s in back] == [1, 4, 9]
    assert all(b.allclose(s, atol=1e-5) for b, s in zip(back, seqs))
    assert not [p for p in tmp_path.iterdir() if p.name != "x.skels"], "no temporary file left behind"


def test_write_makes_a_missing_directory_and_fails_cleanly_under_a_file(tmp_path):
    seq = parse_skels_line(original_line(random_values(2)))
    write_skels([seq], tmp_path / "made" / "x.skels")
    assert (tmp_path / "made" / "x.skels").is_file()
    (tmp_path / "file").write_text("mine")
    with pytest.raises(Text2SignError, match="file is not a directory"):
        write_skels([seq], tmp_path / "file" / "x.skels")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file", "made"]


def test_read_missing_file(tmp_path):
    with pytest.raises(PoseFileError, match="not found"):
        read_skels(tmp_path / "missing.skels")


def test_read_binary_file(tmp_path):
    path = tmp_path / "bin.skels"
    path.write_bytes(b"\xff\xfe\x00\x81" * 64)
    with pytest.raises(PoseFileError, match="not a text .skels file"):
        read_skels(path)


def test_read_names_file_and_line_of_a_bad_line(tmp_path):
    good = original_line(random_values(2))
    path = tmp_path / "bad.skels"
    path.write_text(f"{good}\n{good} 0.5\n")
    with pytest.raises(PoseFileError, match=r"bad\.skels:2: .*has 303 values, not a multiple of 151"):
        read_skels(path)
    # a blank line would shift every later sequence against its .text line: an error, not skipped
    path.write_text(f"{good}\n\n{good}\n")
    with pytest.raises(PoseFileError, match=r"bad\.skels:2: .*has 0 values"):
        read_skels(path)
    path.write_text(f"{good}\n{good.replace('0.', 'O.', 1)}\n")
    with pytest.raises(PoseFileError, match=r"bad\.skels:2: non-numeric"):
        read_skels(path)


@pytest.mark.skipif(not SAMPLE.is_dir(), reason="PHOENIX-2014T sample not present in ../shared")
def test_real_sample_reads_with_readme_frame_counts():
    expected = {"train": 636, "dev": 536, "test": 770}
    for split, frames in expected.items():
        seqs = read_skels(SAMPLE / f"{split}.skels")
        assert len(seqs) == 5
        assert sum(s.num_frames for s in seqs) == frames
        neck = seqs[0].layout.joint_index("Neck")
        assert all((s.data[:, neck] == 0).all() for s in seqs), "PHOENIX poses are neck-centred"


@pytest.mark.skipif(not SAMPLE.is_dir(), reason="PHOENIX-2014T sample not present in ../shared")
def test_real_sample_lines_reformat_to_the_same_joint_values():
    for line in (SAMPLE / "dev.skels").read_text().splitlines():
        again = format_skels_line(parse_skels_line(line))
        assert tokens_without_counter(again) == tokens_without_counter(line)
        assert np.allclose([float(c) for c in counters(again)], [float(c) for c in counters(line)], atol=1e-4)
