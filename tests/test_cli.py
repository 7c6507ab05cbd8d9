"""The CLI end to end: what a user types, what they see, what is left on disk."""

import importlib
import json

import av
import numpy as np
import pytest
from PIL import Image

from text2sign.cli import run
from text2sign.pose.io import load_pose, write_npz
from text2sign.testing import fake_pose, one_error_line


def test_generate_writes_pose_gif_and_mp4_that_decode(tmp_path, capsys):
    pose_path, gif_path, mp4_path = tmp_path / "hello.pose", tmp_path / "hello.gif", tmp_path / "hello.mp4"
    code = run(
        [
            "generate",
            "hello",
            "--spoken",
            "en",
            "--signed",
            "ase",
            "-o",
            str(pose_path),
            "--gif",
            str(gif_path),
            "--mp4",
            str(mp4_path),
            "--size",
            "128",
        ]
    )
    assert code == 0
    pose = load_pose(pose_path)
    # five letters of at least 8 frames each, at the lexicon's 25 fps
    assert pose.num_frames >= 40 and pose.fps == 25
    assert pose.layout.name == "holistic-178"
    with Image.open(gif_path) as gif:
        assert gif.n_frames == pose.num_frames
        assert gif.size == (128, 128)
    with av.open(str(mp4_path)) as container:
        frames = list(container.decode(video=0))
    assert len(frames) == pose.num_frames
    assert f"{pose.num_frames} frames" in capsys.readouterr().out


def test_generate_npz_round_trips_through_info(tmp_path, capsys):
    out = tmp_path / "hi.npz"
    assert run(["generate", "hi", "-o", str(out)]) == 0
    capsys.readouterr()
    assert run(["info", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "holistic-178" in printed
    assert str(load_pose(out).num_frames) in printed


def test_unsignable_characters_warn_but_strict_fails(tmp_path, capsys):
    out = tmp_path / "x.pose"
    assert run(["generate", "hi 42", "-o", str(out)]) == 0
    assert "warning:" in capsys.readouterr().err
    assert run(["generate", "hi 42", "--strict", "-o", str(tmp_path / "y.pose")]) == 1
    assert "'4', '2'" in one_error_line(capsys)
    assert not (tmp_path / "y.pose").exists()


def test_languages_json_lists_pairs_and_borrowing(capsys):
    assert run(["languages", "--model", "concat", "--json"]) == 0
    pairs = json.loads(capsys.readouterr().out)
    assert {"spoken": "en", "signed": "ase", "borrows": None} in pairs
    assert any(p["signed"] == "fsl" and p["borrows"] == "ase" for p in pairs)
    # The learned, character-level model reads text of any spoken language.
    assert run(["languages", "--model", "fs-gan-nat", "--json"]) == 0
    pairs = json.loads(capsys.readouterr().out)
    assert len(pairs) == 19 and {"spoken": "*", "signed": "gsg", "borrows": None} in pairs


def test_render_contact_sheet(tmp_path, capsys):
    src = tmp_path / "fake.npz"
    write_npz(fake_pose(12), src)
    out = tmp_path / "sheet.png"
    assert run(["render", str(src), "-o", str(out), "--width", "64", "--height", "64"]) == 0
    with Image.open(out) as sheet:
        assert sheet.size[0] >= 64 and sheet.size[1] >= 64


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["generate", "", "-o", "{tmp}/x.pose"], "text is empty"),
        (["generate", "   ", "-o", "{tmp}/x.pose"], "text is empty"),
        (["generate", "a" * 1001, "-o", "{tmp}/x.pose"], "the limit is 1000"),
        (["generate", "hi", "--signed", "xyz", "-o", "{tmp}/x.pose"], "signed language 'xyz'"),
        (["generate", "hi", "--model", "nope", "-o", "{tmp}/x.pose"], "unknown model 'nope'"),
        (
            ["generate", "hi", "--model", "concat", "--lexicon", "{tmp}/no-lexicon", "-o", "{tmp}/x.pose"],
            "corpus directory not found",
        ),
        (
            ["generate", "hi", "--model", "fs-gan-nat", "--lexicon", "{tmp}/no-lexicon", "-o", "{tmp}/x.pose"],
            "--lexicon applies to concat, fs-lookup-flow, fs-pose-video, not to 'fs-gan-nat'",
        ),
        (["generate", "hi", "-o", "{tmp}/garbage.pose/x.pose"], "garbage.pose is not a directory"),
        (["generate", "hi", "-o", "{tmp}/x.txt"], "unknown pose file type .txt"),
        (["generate", "hi", "--hide", "tail", "-o", "{tmp}/x.pose"], "--hide takes component kinds"),
        (["info", "{tmp}/missing.pose"], "not found"),
        (["render", "{tmp}/missing.pose", "-o", "{tmp}/x.gif"], "pose file not found"),
        (["render", "{tmp}/garbage.pose", "-o", "{tmp}/x.gif"], "is not a readable .pose file"),
        (["render", "{tmp}/nan.npz", "-o", "{tmp}/x.gif"], "NaN"),
        (["info", "{tmp}/no-corpus-here"], "not found"),
    ],
)
def test_user_errors_end_in_one_line_and_leave_nothing(tmp_path, capsys, argv, message):
    (tmp_path / "garbage.pose").write_bytes(b"not a pose file")
    seq = fake_pose(5)
    seq.data[2, 3, 0] = np.nan
    np.savez(
        tmp_path / "nan.npz",
        data=seq.data,
        mask=seq.mask,
        fps=np.float64(seq.fps),
        layout=np.array(seq.layout.to_json()),
    )
    before = set(tmp_path.iterdir())
    code = run([arg.replace("{tmp}", str(tmp_path)) for arg in argv])
    assert code == 1
    assert message in one_error_line(capsys)
    assert set(tmp_path.iterdir()) == before


def test_failed_render_leaves_no_partial_output(tmp_path, capsys, monkeypatch):
    src = tmp_path / "fake.npz"
    write_npz(fake_pose(8), src)

    def broken_encoder(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(importlib.import_module("text2sign.rendering.render"), "iter_frames", broken_encoder)
    assert run(["render", str(src), "-o", str(tmp_path / "x.gif")]) == 130
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fake.npz"]


def test_every_command_documents_its_flags(capsys):
    for command in (
        ["generate"],
        ["render"],
        ["info"],
        ["languages"],
        ["prepare", "fingerspelling"],
        ["prepare", "phoenix"],
        ["export", "phoenix"],
    ):
        assert run([*command, "--help"]) == 0
        assert "--help" in capsys.readouterr().out
