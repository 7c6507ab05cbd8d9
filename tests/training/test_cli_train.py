"""The `text2sign train` command and `python -m text2sign.train`: help, one-line errors, resume, Ctrl-C."""

import signal
import subprocess
import sys
import time

import pytest
import torch
import toy_family  # noqa: F401  (registers the toy families)

from text2sign.checkpoints import list_checkpoints
from text2sign.cli import run as cli_run
from text2sign.train import main as train_main

TOY = "family: toy-regression\ntrain: {steps: 3, batch_size: 4, checkpoint_every: 0}\n"


def test_help_documents_every_flag(capsys):
    assert cli_run(["train", "--help"]) == 0
    text = capsys.readouterr().out
    for flag in ("CONFIG", "--set", "--resume", "--nproc", "--out", "KEY=VALUE"):
        assert flag in text
    with pytest.raises(SystemExit) as exit_:
        train_main(["--help"])
    assert exit_.value.code == 0
    text = capsys.readouterr().out
    for flag in ("config", "--set KEY=VALUE", "--resume DIR", "--out DIR"):
        assert flag in text


@pytest.mark.parametrize(
    "args, message",
    [
        (
            ["{cfg}", "--set", "model.hiden_dim=3"],
            "error: unknown key 'model.hiden_dim' in {cfg} (known: in_dim, hidden_dim, out_dim)",
        ),
        (["{cfg}", "--set", "train.lr"], "error: --set takes key.path=value, got 'train.lr'"),
        (["{tmp}/missing.yaml"], "error: config file not found: {tmp}/missing.yaml"),
        (["--resume", "{tmp}/no-run"], "error: checkpoint not found: {tmp}/no-run"),
        ([], "error: give an experiment CONFIG, or --resume DIR to continue a run"),
    ],
)
def test_user_errors_are_one_line(toy_yaml, tmp_path, capsys, args, message):
    cfg = toy_yaml(TOY)
    args = [a.format(cfg=cfg, tmp=tmp_path) for a in args]
    expected = message.format(cfg=cfg, tmp=tmp_path)
    assert cli_run(["train", *args]) == 1
    assert capsys.readouterr().err.strip() == expected
    assert train_main(args) == 1
    assert capsys.readouterr().err.strip() == expected


def test_train_then_resume_from_the_run_directory(toy_yaml, tmp_path):
    run_dir = tmp_path / "run"
    assert cli_run(["train", str(toy_yaml(TOY)), "--out", str(run_dir)]) == 0
    # No CONFIG: the checkpoint's own config, with --set on top; the run directory stays the same.
    assert cli_run(["train", "--resume", str(run_dir), "--set", "train.steps=5"]) == 0
    assert [step for step, _ in list_checkpoints(run_dir)] == [3, 5]


def test_ctrl_c_saves_a_checkpoint_and_exits_130(toy_yaml, tmp_path, child_env):
    config_path = toy_yaml(
        "family: toy-regression\n"
        "train: {steps: 1000000, batch_size: 4, log_every: 1, checkpoint_every: 0, num_workers: 1}\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "text2sign.train", str(config_path), "--out", str(tmp_path / "run")],
        stderr=subprocess.PIPE,
        text=True,
        env=child_env,
    )
    deadline = time.monotonic() + 60
    line = ""
    while not line.startswith("step ") and time.monotonic() < deadline:
        line = proc.stderr.readline()
        assert line or proc.poll() is None, "training ended before it logged a step"
    proc.send_signal(signal.SIGINT)
    _, rest = proc.communicate(timeout=60)
    assert proc.returncode == 130, rest
    assert "stopping: finishing this step and saving a checkpoint" in rest
    assert "Traceback" not in rest
    [(step, checkpoint)] = list_checkpoints(tmp_path / "run")
    assert step >= 1
    assert f"interrupted; saved {checkpoint} (step {step})" in rest
    state = torch.load(checkpoint / "trainer_state.pt", weights_only=True)
    assert state["step"] == step
