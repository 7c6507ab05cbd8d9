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
        answer = httpx.post(f"http://127.0.0.1:{port}/api/v1/generate", json={"text": "hi", "spoken": "en", "signed": "ase"})
        assert answer.status_code == 200
    finally:
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=30) == 0
    text = (tmp_path / "serve.log").read_text()
    assert f"serving concat on http://127.0.0.1:{port}" in text
    assert 'POST "/api/v1/generate" 200' in text and text.rstrip().endswith("stopped")
