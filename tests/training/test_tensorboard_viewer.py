"""README's way to see the training curves, `tensorboard --logdir RUN`, works in the installed
environment (core or with every extra: the [extract] extra pins an older tensorboard that needs
setuptools' pkg_resources) and shows a run's scalars."""

import json
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest


def tensorboard_command() -> str | None:
    beside_python = Path(sys.executable).with_name("tensorboard")
    return str(beside_python) if beside_python.exists() else shutil.which("tensorboard")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def get_json(url: str, deadline: float):
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError:
            raise
        except OSError:  # not listening yet
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_tensorboard_serves_a_runs_scalars(tmp_path):
    command = tensorboard_command()
    if command is None:
        pytest.skip("no tensorboard console script beside this Python")
    from torch.utils.tensorboard import SummaryWriter

    run = tmp_path / "run" / "tensorboard"
    with SummaryWriter(str(run)) as writer:
        for step, loss in enumerate([1.0, 0.5, 0.25]):
            writer.add_scalar("train/loss", loss, step)
    port = free_port()
    server = subprocess.Popen(
        [command, "--logdir", str(tmp_path / "run"), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        try:
            tags = get_json(f"http://127.0.0.1:{port}/data/plugin/scalars/tags", deadline)
        except OSError:
            server.kill()
            pytest.fail(f"tensorboard did not answer; it printed:\n{server.communicate()[1][-2000:]}")
        assert list(tags) == ["tensorboard"] and "train/loss" in tags["tensorboard"]
        values = get_json(
            f"http://127.0.0.1:{port}/data/plugin/scalars/scalars?run=tensorboard&tag=train/loss", deadline
        )
        assert [round(v[2], 2) for v in values] == [1.0, 0.5, 0.25]
    finally:
        server.kill()
        server.wait()
