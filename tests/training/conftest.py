import os
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
# The toy families live next to the tests (importing toy_family registers them); YAML configs name
# them by family name alone.
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))


@pytest.fixture
def toy_yaml(tmp_path):
    """Write a toy experiment YAML and return its path."""

    def write(text: str, name: str = "toy.yaml") -> Path:
        path = tmp_path / name
        path.write_text(text)
        return path

    return write


@pytest.fixture
def child_env(monkeypatch):
    """Child processes register the toy families as a user's plugin (TEXT2SIGN_PLUGINS) and use one
    thread each (the cores are shared)."""
    paths = [str(HERE), os.environ.get("PYTHONPATH", "")]
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in paths if p))
    monkeypatch.setenv("TEXT2SIGN_PLUGINS", "toy_family")
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    return dict(os.environ)
