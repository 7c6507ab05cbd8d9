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
from text2sign.testing import fake_pose
from text2sign.testing import one_error_line




@pytest.mark.parametrize(
    "argv, message",
    [
        (["generate", "hi", "-o", "/proc/x.pose"], "cannot write to /proc"),
        (["generate", "hi", "-o", "{tmp}/ok.pose", "--gif", "/proc/x.gif"], "cannot write to /proc"),
        (["generate", "hi", "-o", "{tmp}/ok.pose", "--size", "0", "--gif", "{tmp}/x.gif"], "--size must be a whole number of pixels from 2 to 4096"),
        (["generate", "hi", "-o", "{tmp}/ok.pose", "--mp4", "{tmp}/x.gif"], "--mp4 takes a file name ending in .mp4"),
        (["generate", "hi", "-o", "{tmp}/ok.pose", "--gif", "{tmp}/x.png"], "--gif takes a file name ending in .gif"),
        (["generate", "hi", "-o", "{tmp}/ok.pose", "--seed", "-3"], "seed must be an integer from 0"),
        (["render", "{pose}", "-o", "{tmp}/r.mp4", "--fps", "100000"], "--fps must be from 1 to 120 frames a second"),
        (["render", "{pose}", "-o", "{tmp}/r.mp4", "--fps", "0.001"], "--fps must be from 1 to 120"),
        (["render", "{pose}", "-o", "{tmp}/r.mp4", "--width", "8192"], "--width must be a whole number of pixels from 2 to 4096"),
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

    config = parse_experiment({"family": "toy_family:toy-regression", "train": {"steps": 5, "checkpoint_every": 0}}, "test")

    def boom(info):
        raise ValueError("the data broke")

    with pytest.raises(ValueError, match="the data broke"):
        train(config, tmp_path / "run", callbacks=[boom])
    assert not (tmp_path / "run").exists()


def test_temporaries_of_a_killed_writer_are_removed_and_a_live_ones_kept(tmp_path):
    target = tmp_path / "x.pose"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True).stdout.strip()
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
    # A shell's background job inherits SIGINT ignored; the child must get it as a terminal would send it.
    proc = subprocess.Popen([cli, "render", str(pose), "-o", str(out), "--width", "512", "--height", "512"],
                            stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(sig, signal.SIG_DFL))  # noqa: PLW1509 -- the child only resets one signal before exec
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
    one.body = NumPyPoseBody(fps=one.body.fps, data=two_people, confidence=np.concatenate([one.body.confidence] * 2, axis=1))
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
