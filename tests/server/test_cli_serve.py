"""`text2sign serve` from the command line: starts, answers, stops cleanly; mistakes are one line."""

import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from text2sign.cli import run


def test_serve_has_help(capsys):
    assert run(["serve", "--help"]) == 0
    out = capsys.readouterr().out
    assert "--workers" in out and "--queue" in out and "--cache-size" in out


def test_bad_settings_are_one_line(capsys):
    pytest.importorskip("fastapi")
    assert run(["serve", "--workers", "0"]) == 1
    assert "error: workers must be a whole number from 1 to 64, got 0" in capsys.readouterr().err


def test_without_the_serve_extra_it_says_what_to_install(monkeypatch, capsys):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "fastapi" else real(name, *a))
    assert run(["serve"]) == 1
    assert "pip install 'text2sign[serve]'" in capsys.readouterr().err


def test_a_port_in_use_is_one_line(capsys):
    pytest.importorskip("fastapi")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert run(["serve", "--port", str(port)]) == 1
    assert f"error: cannot listen on 127.0.0.1:{port}" in capsys.readouterr().err


def test_serve_starts_answers_logs_and_stops_on_sigterm(tmp_path):
    pytest.importorskip("fastapi")
    import httpx

    from text2sign.server.loadtest import free_port

    port = free_port()
    log = (tmp_path / "serve.log").open("w+")
    command = [sys.executable, "-c", "from text2sign.cli import main; main()", "serve", "--port", str(port)]
    server = subprocess.Popen(command, stderr=log, stdout=subprocess.DEVNULL, env={**os.environ, "COLUMNS": "200"})
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None and time.monotonic() < deadline, (tmp_path / "serve.log").read_text()
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        answer = httpx.post(
            f"http://127.0.0.1:{port}/api/v1/generate", json={"text": "hi", "spoken": "en", "signed": "ase"}
        )
        assert answer.status_code == 200
    finally:
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=30) == 0
    text = (tmp_path / "serve.log").read_text()
    assert f"serving concat on http://127.0.0.1:{port}" in text
    assert 'POST "/api/v1/generate" 200' in text and text.rstrip().endswith("stopped")


def nan_checkpoint(tmp_path):
    import shutil

    from safetensors.torch import load_file, save_file

    from text2sign.families import MODELS

    poisoned = tmp_path / "nan-model"
    shutil.copytree(MODELS["fs-gan-nat"].checkpoint, poisoned)
    weights = load_file(str(poisoned / "model.safetensors"))
    name = next(k for k, v in weights.items() if v.is_floating_point())
    weights[name][0] = float("nan")
    save_file(weights, str(poisoned / "model.safetensors"))
    return poisoned


def broken_lexicon(tmp_path):
    lexicon = tmp_path / "lexicon"
    lexicon.mkdir()
    (lexicon / "manifest.csv").write_text("id,split\n")
    return lexicon


@pytest.mark.parametrize(
    "flags",
    [
        lambda tmp: ["--model", "nope"],
        lambda tmp: ["--model", str(nan_checkpoint(tmp))],
        lambda tmp: ["--lexicon", str(broken_lexicon(tmp))],
        lambda tmp: ["--model", str(tmp)],  # a folder that is no checkpoint
    ],
)
def test_a_model_or_lexicon_that_cannot_load_is_one_line_before_the_port_is_taken(flags, tmp_path, capsys):
    pytest.importorskip("fastapi")
    # The port is taken: had the server bound it first, the error would be about the port.
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert run(["serve", "--port", str(port), *flags(tmp_path)]) == 1
    err = capsys.readouterr().err.strip()
    assert (
        "Traceback" not in err
        and len(err.splitlines()) == 1
        and err.startswith("error: ")
        and "cannot listen" not in err
    ), err


def test_hundreds_of_idle_connections_leave_the_server_reachable():
    pytest.importorskip("fastapi")
    import httpx

    from text2sign.server.loadtest import running_server

    with running_server() as (url, _):
        port = int(url.rsplit(":", 1)[1])
        idle = [socket.create_connection(("127.0.0.1", port), timeout=30) for _ in range(300)]
        try:
            health = httpx.get(f"{url}/healthz", timeout=30)
            assert health.status_code == 200 and health.json()["status"] == "ok"
            answer = httpx.post(
                f"{url}/api/v1/generate", json={"text": "hi", "spoken": "en", "signed": "ase"}, timeout=30
            )
            assert answer.status_code == 200
        finally:
            for sock in idle:
                sock.close()
