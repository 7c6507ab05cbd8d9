"""Hostile input, one class per test: each ends in one `error:` line and a non-zero exit (or a
correct success), and leaves nothing behind."""

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from text2sign.cli import run
from text2sign.errors import ConfigError
from text2sign.families import MODELS
from text2sign.fileio import atomic_path
from text2sign.pose.io import save_pose
from text2sign.testing import fake_pose, one_error_line


@pytest.mark.parametrize(
    "argv, message",
    [
        (["generate", "hi", "-o", "/proc/x.pose"], "cannot write to /proc"),
        (["generate", "hi", "-o", "{tmp}/ok.pose", "--gif", "/proc/x.gif"], "cannot write to /proc"),
        (
            ["generate", "hi", "-o", "{tmp}/ok.pose", "--size", "0", "--gif", "{tmp}/x.gif"],
            "--size must be a whole number of pixels from 2 to 4096",
        ),
        (["generate", "hi", "-o", "{tmp}/ok.pose", "--mp4", "{tmp}/x.gif"], "--mp4 takes a file name ending in .mp4"),
        (["generate", "hi", "-o", "{tmp}/ok.pose", "--gif", "{tmp}/x.png"], "--gif takes a file name ending in .gif"),
        (["generate", "hi", "-o", "{tmp}/ok.pose", "--seed", "-3"], "seed must be an integer from 0"),
        (["render", "{pose}", "-o", "{tmp}/r.mp4", "--fps", "100000"], "--fps must be from 1 to 120 frames a second"),
        (["render", "{pose}", "-o", "{tmp}/r.mp4", "--fps", "0.001"], "--fps must be from 1 to 120"),
        (
            ["render", "{pose}", "-o", "{tmp}/r.mp4", "--width", "8192"],
            "--width must be a whole number of pixels from 2 to 4096",
        ),
        (["render", "{pose}", "-o", "/proc/r.gif"], "cannot write to /proc"),
    ],
)
def test_bad_outputs_fail_before_any_work(argv, message, tmp_path, capsys):
    pose = tmp_path / "in.pose"
    save_pose(fake_pose(4), pose)
    argv = [a.format(tmp=tmp_path, pose=pose) for a in argv]
    assert run(argv) == 1
    assert message in one_error_line(capsys)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.pose"]


def test_a_checkpoint_with_nan_weights_is_refused(tmp_path, capsys):
    from safetensors.torch import load_file, save_file

    poisoned = tmp_path / "nan-model"
    shutil.copytree(MODELS["fs-gan-nat"].checkpoint, poisoned)
    weights = load_file(str(poisoned / "model.safetensors"))
    name = next(k for k, v in weights.items() if v.is_floating_point())
    weights[name][0] = float("nan")
    save_file(weights, str(poisoned / "model.safetensors"))
    assert run(["generate", "hi", "--model", str(poisoned), "-o", str(tmp_path / "x.pose")]) == 1
    assert f"weight '{name}' holds NaN or infinite values" in one_error_line(capsys)
    assert not (tmp_path / "x.pose").exists()


@pytest.mark.parametrize(
    "override, message",
    [
        ("train.betas=[1.5, 2.0]", r"betas must each be in \[0, 1\)"),
        ("model.d_model=-128", "'model.d_model' in .* must be >= 8"),
        ("model.d_model=10000000", "'model.d_model' in .* must be <= 4096"),
        ("model.dropout=2.0", "'model.dropout' in .* must be <= 0.9"),
        ("model.kinds=[body, tail]", "kinds must be distinct names from body"),
        ("model.kinds=[]", "kinds must be distinct names"),
        ("model.text.heads=0", "'model.text.heads' in .* must be >= 1"),
        ("objective.discriminator.kernel_size=64", "must be <= 31"),
        ("train.lr=1000", "'train.lr' in .* must be <= 10"),
        ("train.optimizers={generator: {betas: [0.9, 1.0]}}", r"betas must each be in \[0, 1\)"),
    ],
)
def test_configs_are_checked_by_range_when_read(override, message):
    from text2sign.training import load_config

    with pytest.raises(ConfigError, match=message):
        load_config("configs/fs-gan-nat.yaml", [override])


def test_a_run_that_fails_before_its_first_checkpoint_leaves_no_run_directory(tmp_path):
    sys.path.insert(0, str(Path(__file__).parent / "training"))
    import toy_family  # noqa: F401

    from text2sign.training import parse_experiment, train

    config = parse_experiment({"family": "toy-regression", "train": {"steps": 5, "checkpoint_every": 0}}, "test")

    def boom(info):
        raise ValueError("the data broke")

    with pytest.raises(ValueError, match="the data broke"):
        train(config, tmp_path / "run", callbacks=[boom])
    assert not (tmp_path / "run").exists()


def test_temporaries_of_a_killed_writer_are_removed_and_a_live_ones_kept(tmp_path):
    target = tmp_path / "x.pose"
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True
    ).stdout.strip()
    stale = tmp_path / f".x.pose.{dead}.abc123.tmp.pose"
    live = tmp_path / f".x.pose.{os.getpid()}.def456.tmp.pose"
    stale.write_text("half")
    live.write_text("in progress")
    with atomic_path(target) as tmp:
        tmp.write_text("done")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([live.name, "x.pose"])


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_stopped_render_leaves_nothing(tmp_path, sig):
    pose = tmp_path / "long.pose"
    save_pose(fake_pose(3000), pose)
    out = tmp_path / "long.mp4"
    cli = shutil.which("text2sign", path=str(Path(sys.executable).parent))
    # A shell's background job inherits SIGINT ignored; the child must get it as a terminal would send it: a launcher
    # restores its default and execs the command (in the same process; preexec_fn would run Python in a fork of this
    # process, which is unsafe with threads).
    launcher = (
        f"import os, signal, sys; signal.signal(signal.{sig.name}, signal.SIG_DFL); os.execv(sys.argv[1], sys.argv[1:])"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", launcher, cli, "render", str(pose), "-o", str(out), "--width", "512", "--height", "512"],
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 30
    while not any(p.name.startswith(".long.mp4.") for p in tmp_path.iterdir()) and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["long.pose"]


def test_outputs_with_nan_never_reach_a_file():
    from text2sign.errors import Text2SignError
    from text2sign.pipelines.base import Pipeline

    class Broken(Pipeline):
        name = "broken"

        def language_pairs(self):
            return [("en", "ase")]

        def generate(self, texts, spoken, signed, *, num_samples, seed, strict, notes):
            pose = fake_pose(3)
            pose.data[1, 2, 0] = np.nan
            return [[pose] for _ in texts]

    with pytest.raises(Text2SignError, match="model broken produced NaN or infinite coordinates"):
        Broken()("hi", "en", "ase")


def test_a_two_person_file_must_say_which_person(tmp_path, capsys):
    from pose_format.numpy.pose_body import NumPyPoseBody

    from text2sign.pose.io import read_pose, to_pose_format

    one = to_pose_format(fake_pose(5, seed=1))
    two_people = np.concatenate([one.body.data, one.body.data + 50], axis=1)  # (T, 2, J, D)
    one.body = NumPyPoseBody(
        fps=one.body.fps, data=two_people, confidence=np.concatenate([one.body.confidence] * 2, axis=1)
    )
    path = tmp_path / "two.pose"
    with open(path, "wb") as f:
        one.write(f)
    assert run(["info", str(path)]) == 1
    assert "holds 2 people; pick one with --person 0 to 1" in one_error_line(capsys)
    assert run(["render", str(path), "--person", "1", "-o", str(tmp_path / "two.gif")]) == 0
    second = read_pose(path, person=1)
    assert np.allclose(second.data[second.mask], read_pose(path, person=0).data[second.mask] + 50)
    assert run(["info", str(path), "--person", "2"]) == 1
    assert "person 2 does not exist" in one_error_line(capsys)


@pytest.mark.parametrize("model", ["concat", "fs-gan-nat", "spoken-to-signed"])
def test_every_model_applies_one_rule_to_what_it_cannot_sign(model, tmp_path, capsys):
    out = tmp_path / "x.pose"
    for text in ("2026", "مرحبا", "👋🏽🎉"):
        assert run(["generate", text, "--model", model, "-o", str(out)]) == 1
        assert "can be signed" in one_error_line(capsys)
    assert run(["generate", "hi 👋🏽", "--model", model, "-o", str(out)]) == 0
    assert "warning: skipped '👋', '🏽'" in capsys.readouterr().err
    assert run(["generate", "hi 👋🏽", "--model", model, "--strict", "-o", str(tmp_path / "y.pose")]) == 1
    assert "'👋'" in one_error_line(capsys) and not (tmp_path / "y.pose").exists()


@pytest.mark.parametrize("model", ["fs-gan-nat", "fs-latent-flow"])
def test_errors_name_the_model_as_the_user_named_it(model, tmp_path, capsys):
    assert run(["generate", "hi 👋", "--model", model, "--strict", "-o", str(tmp_path / "x.pose")]) == 1
    assert f"{model} cannot sign '👋'" in one_error_line(capsys)  # not its family's or pipeline's name


def test_the_same_seed_gives_byte_identical_files(tmp_path):
    paths = [tmp_path / f"{n}.pose" for n in "abc"]
    for path, seed in zip(paths, ("5", "5", "6")):
        assert run(["generate", "hello", "--model", "fs-gan-nat", "--seed", seed, "-o", str(path)]) == 0
    assert paths[0].read_bytes() == paths[1].read_bytes() != paths[2].read_bytes()


# --- nothing of the user's is destroyed ------------------------------------------------------

CONFIG = Path(__file__).resolve().parent.parent / "configs" / "fs-gan-nat.yaml"


def snapshot(root: Path) -> list:
    """Every path under `root` with its bytes: what a refused command must leave exactly as it was."""
    return sorted((str(p.relative_to(root)), p.read_bytes() if p.is_file() else None) for p in root.rglob("*"))


@pytest.fixture
def inputs(tmp_path, tiny_fs_words):
    """What the commands below read: a pose corpus, a video folder, a PHOENIX folder, a dictionary
    folder; each a copy of its own, so that a command that wrongly deletes one harms nothing else."""
    from text2sign.video import fake_video, save_video

    corpus = tmp_path / "corpus"
    shutil.copytree(tiny_fs_words.root, corpus)
    videos = tmp_path / "vf"
    videos.mkdir()
    save_video(fake_video(6, 16, 16), videos / "clip.gif")
    (videos / "clip.txt").write_text("hello")
    phoenix = tmp_path / "phoenix"
    phoenix.mkdir()
    for suffix, line in (("skels", "1 2 3"), ("text", "hallo"), ("files", "dev/x")):
        (phoenix / f"train.{suffix}").write_text(line + "\n")
    signs = tmp_path / "signs"
    signs.mkdir()
    save_pose(fake_pose(12), signs / "hello.pose")
    (signs / "index.csv").write_text("path,text\nhello.pose,hello\n")
    openpose = tmp_path / "openpose"
    (openpose / "clip").mkdir(parents=True)
    (openpose / "clip" / "clip_000000000000_keypoints.json").write_text('{"version": 1.3, "people": []}')
    (openpose / "index.csv").write_text("name,text\nclip,hello\n")
    meta = tmp_path / "meta.csv"
    meta.write_text("feature_path,sentence_text\nfeatures/a.npy,hello\n")
    return {
        "tmp": tmp_path,
        "corpus": corpus,
        "vf": videos,
        "phoenix": phoenix,
        "signs": signs,
        "config": CONFIG,
        "openpose": openpose,
        "meta": meta,
    }


EVALUATE = ["evaluate", "--model", "reference", "--corpus", "{corpus}", "--out", "{tmp}/report.json", "--gifs", "0"]
WRITERS = [
    ["prepare", "video-folder", "{vf}", "--out", "{target}"],
    ["prepare", "video", "--from", "{corpus}", "--out", "{target}"],
    ["prepare", "fingerspelling", "--languages", "ase", "--out", "{target}"],
    ["prepare", "phoenix", "{phoenix}", "--out", "{target}"],
    ["prepare", "lexicon", "{signs}", "--out", "{target}", "--spoken", "en", "--signed", "ase"],
    ["export", "phoenix", "{corpus}", "--out", "{target}"],
    ["extract", "{vf}", "-o", "{target}"],
    ["train", "{config}", "--set", "data.corpus={corpus}", "--out", "{target}"],
    ["train-recognizer", "{corpus}", "--out", "{target}"],
    [*EVALUATE, "--save-predictions", "{target}"],
    [
        "prepare",
        "openpose",
        "{openpose}",
        "--index",
        "{openpose}/index.csv",
        "--out",
        "{target}",
        "--spoken",
        "en",
        "--signed",
        "ase",
    ],
    ["prepare", "gan-nat-csv", "{meta}", "--out", "{target}", "--spoken", "en", "--signed", "ase"],
    [
        "prepare",
        "latent-features",
        "{phoenix}",
        "--out",
        "{target}",
        "--spoken",
        "de",
        "--signed",
        "gsg",
        "--trust-pickles",
    ],
]


@pytest.mark.parametrize("argv", WRITERS, ids=lambda argv: " ".join(argv[:2]))
def test_no_command_overwrites_a_folder_it_did_not_make(argv, inputs, capsys):
    victim = inputs["tmp"] / "victim"
    (victim / "sub").mkdir(parents=True)
    (victim / "notes.txt").write_text("my own notes")
    (victim / "sub" / "data.bin").write_bytes(b"\x00\x01")
    before = snapshot(inputs["tmp"])
    assert run([a.format(target=victim, **inputs) for a in argv]) == 1
    assert f"refusing to overwrite {victim}: it is not empty" in one_error_line(capsys)
    assert snapshot(inputs["tmp"]) == before


@pytest.mark.parametrize(
    "argv, target, relation",
    [
        (WRITERS[0], "{vf}", "is"),
        (WRITERS[0], "{vf}/corpus", "lies inside"),
        (WRITERS[1], "{corpus}", "is"),
        (WRITERS[1], "{corpus}/videos", "lies inside"),
        (WRITERS[1], "{tmp}", "contains"),
        (WRITERS[3], "{phoenix}/corpus", "lies inside"),
        (WRITERS[4], "{signs}/lexicon", "lies inside"),
        (WRITERS[5], "{corpus}", "is"),
        (WRITERS[6], "{vf}/poses", "lies inside"),
        (WRITERS[7], "{corpus}/run", "lies inside"),
        (WRITERS[8], "{corpus}/recognizer", "lies inside"),
        (WRITERS[9], "{corpus}/predictions", "lies inside"),
        (WRITERS[10], "{openpose}/corpus", "lies inside"),
        (WRITERS[11], "{meta}", "is"),
        (WRITERS[12], "{phoenix}/corpus", "lies inside"),
    ],
    ids=lambda v: v if isinstance(v, str) else " ".join(v[:2]),
)
def test_an_output_that_is_contains_or_lies_inside_an_input_is_refused(argv, target, relation, inputs, capsys):
    before = snapshot(inputs["tmp"])
    target = target.format(**inputs)
    assert run([a.format(target=target, **inputs) for a in argv]) == 1
    assert f"{target} {relation} the input" in one_error_line(capsys)
    assert snapshot(inputs["tmp"]) == before


def test_an_output_is_replaced_only_by_a_command_that_writes_its_kind(inputs, capsys):
    videos = inputs["tmp"] / "videos"
    assert run(["prepare", "video-folder", str(inputs["vf"]), "--out", str(videos)]) == 0
    assert run(["prepare", "video-folder", str(inputs["vf"]), "--out", str(videos)]) == 0  # its own: replaced
    other = inputs["tmp"] / "other-corpus"
    shutil.copytree(inputs["corpus"], other)
    assert run(["prepare", "video", "--from", str(inputs["corpus"]), "--out", str(other)]) == 1
    assert "is not a text2sign video corpus" in one_error_line(capsys)
    assert run(["train-recognizer", str(inputs["corpus"]), "--out", str(videos)]) == 1
    assert "is not a text2sign checkpoint" in one_error_line(capsys)
    assert (videos / "frames.u8").is_file() and (other / "manifest.csv").is_file()


def test_a_failed_command_leaves_no_output_folder(inputs, capsys):
    out = inputs["tmp"] / "out"
    assert run(["prepare", "phoenix", str(inputs["phoenix"]), "--out", str(out)]) == 1
    assert "train.skels:1" in one_error_line(capsys)
    assert not out.exists()
    assert (
        run(["export", "phoenix", str(inputs["corpus"]), "--out", str(out)]) == 1
    )  # holistic poses have no PHOENIX layout
    one_error_line(capsys)
    assert not out.exists()
    assert sorted(p.name for p in inputs["tmp"].iterdir()) == [
        "corpus",
        "meta.csv",
        "openpose",
        "phoenix",
        "signs",
        "vf",
    ]


# --- files are read only from inside the folder a command was given ----------------------------


@pytest.mark.parametrize("row", ["../outside.pose", "{outside}", "link.pose", "sub/../../outside.pose"])
def test_an_index_row_leading_outside_the_folder_is_refused(row, inputs, capsys):
    outside = inputs["tmp"] / "outside.pose"
    save_pose(fake_pose(12), outside)
    signs = inputs["signs"]
    (signs / "link.pose").symlink_to(outside)
    (signs / "sub").mkdir()
    (signs / "index.csv").write_text(f"path,text\nhello.pose,hello\n{row.format(outside=outside)},bye\n")
    out = inputs["tmp"] / "lexicon"
    argv = ["prepare", "lexicon", str(signs), "--out", str(out), "--spoken", "en", "--signed", "ase"]
    assert run(argv) == 1
    line = one_error_line(capsys)
    assert f"{signs / 'index.csv'}:3:" in line and "leads outside" in line and "--allow-outside-paths" in line
    assert not out.exists()
    assert run([*argv, "--allow-outside-paths"]) == 0  # the user says so


def test_an_openpose_row_leading_outside_the_folder_is_refused(inputs, capsys):
    clip = inputs["tmp"] / "elsewhere"
    clip.mkdir()
    (clip / "x_000000000000_keypoints.json").write_text('{"version": 1.3, "people": []}')
    src = inputs["openpose"]
    (src / "index.csv").write_text("name,text\n../elsewhere,hello\n")
    assert (
        run(
            [
                "prepare",
                "openpose",
                str(src),
                "--index",
                str(src / "index.csv"),
                "--out",
                str(inputs["tmp"] / "op"),
                "--spoken",
                "en",
                "--signed",
                "ase",
            ]
        )
        == 1
    )
    assert f"{src / 'index.csv'}:2: ../elsewhere leads outside {src}" in one_error_line(capsys)


def test_a_symlink_out_of_a_video_folder_is_refused(inputs, capsys):
    secret = inputs["tmp"] / "secret.txt"
    secret.write_text("the user's private text")
    from text2sign.video import fake_video, save_video

    save_video(fake_video(6, 16, 16), inputs["vf"] / "leak.gif")
    (inputs["vf"] / "leak.txt").symlink_to(secret)
    out = inputs["tmp"] / "videos"
    assert run(["prepare", "video-folder", str(inputs["vf"]), "--out", str(out)]) == 1
    assert f"{inputs['vf'] / 'leak.txt'}: leak.txt leads outside" in one_error_line(capsys)
    assert not out.exists()


@pytest.mark.parametrize("path", ["/etc/hostname", "../../outside.pose", "poses/../../outside.pose"])
def test_a_corpus_manifest_path_leading_outside_the_corpus_is_refused_by_every_reader(path, inputs, capsys):
    corpus = inputs["corpus"]
    save_pose(fake_pose(12), inputs["tmp"] / "outside.pose")
    manifest = (corpus / "manifest.csv").read_text().splitlines()
    columns = manifest[0].split(",")
    for n in range(1, len(manifest)):
        row = manifest[n].split(",")
        row[columns.index("path")] = path
        manifest[n] = ",".join(row)
    (corpus / "manifest.csv").write_text("\n".join(manifest) + "\n")
    for argv in (
        [*EVALUATE],
        ["recognize", str(corpus)],
        ["generate", "hi", "--model", "concat", "--lexicon", str(corpus), "-o", str(inputs["tmp"] / "x.pose")],
        ["prepare", "video", "--from", str(corpus), "--out", str(inputs["tmp"] / "v")],
    ):
        assert run([a.format(**inputs) for a in argv]) == 1
        line = one_error_line(capsys)
        assert f"{corpus / 'manifest.csv'}:2: {path} leads outside {corpus}" in line, argv[0]
    assert not (inputs["tmp"] / "x.pose").exists() and not (inputs["tmp"] / "v").exists()


# --- no code is imported because a file names it ------------------------------------------------


@pytest.fixture
def planted_module(tmp_path, monkeypatch):
    """A module on sys.path that leaves a mark when imported: what a hostile file would name."""
    mark = tmp_path / "imported"
    (tmp_path / "planted_family.py").write_text(f"open({str(mark)!r}, 'w').close()\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield mark
    sys.modules.pop("planted_family", None)


def test_a_checkpoint_or_config_naming_a_module_imports_nothing(planted_module, tmp_path, capsys):
    import json

    checkpoint = tmp_path / "ckpt"
    shutil.copytree(MODELS["fs-gan-nat"].checkpoint, checkpoint)
    config = json.loads((checkpoint / "config.json").read_text())
    config["family"] = "planted_family:gan-nat"
    (checkpoint / "config.json").write_text(json.dumps(config))
    assert run(["generate", "hi", "--model", str(checkpoint), "-o", str(tmp_path / "x.pose")]) == 1
    assert "family 'planted_family:gan-nat' in" in one_error_line(capsys)
    assert not planted_module.exists()
    experiment = tmp_path / "exp.yaml"
    experiment.write_text(CONFIG.read_text().replace("family: gan-nat", "family: planted_family:gan-nat"))
    assert "planted_family:gan-nat" in experiment.read_text()
    assert run(["train", str(experiment), "--dry-run"]) == 1
    assert "names a module to import" in one_error_line(capsys)
    assert not planted_module.exists() and "planted_family" not in sys.modules


def test_families_come_from_entry_points_and_plugins_the_user_installed_or_named(tmp_path, monkeypatch):
    from text2sign.families import get_family, registered_families, registry

    site = tmp_path / "site"
    site.mkdir()
    for module, family in (("ep_family", "ep-toy"), ("plugin_family", "plugin-toy")):
        (site / f"{module}.py").write_text(
            "from text2sign.families import register_family\n"
            f"register_family({family!r}, output='pose', pipeline=None)\n"
        )
    dist = site / "ep_toy-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: ep-toy\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[text2sign.families]\nep-toy = ep_family\n")
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setenv("TEXT2SIGN_PLUGINS", "plugin_family")
    try:
        assert "ep-toy" in registered_families() and "ep_family" not in sys.modules  # listed, not imported
        assert get_family("ep-toy").name == "ep-toy"
        assert get_family("plugin-toy").name == "plugin-toy"
        with pytest.raises(ConfigError, match="unknown family 'nobody' in the config"):
            get_family("nobody")
    finally:
        for module, family in (("ep_family", "ep-toy"), ("plugin_family", "plugin-toy")):
            sys.modules.pop(module, None)
            registry._FAMILIES.pop(family, None)
        registry._imported_plugins.discard("plugin_family")


def test_a_video_corpus_whose_frames_lead_outside_is_refused(tmp_path, capsys):
    from text2sign.data.video_corpus import VideoCorpus
    from text2sign.errors import CorpusError
    from text2sign.testing import tiny_video_corpus

    corpus = Path(tiny_video_corpus(tmp_path / "tiny"))
    VideoCorpus.load(corpus)
    outside = tmp_path / "elsewhere.u8"
    (corpus / "frames.u8").rename(outside)
    (corpus / "frames.u8").symlink_to(outside)
    with pytest.raises(CorpusError, match="frames.u8 leads outside"):
        VideoCorpus.load(corpus)
