"""The server signs text as video with the shipped pose-to-video model: ``model: fs-pose-video``
with ``format: mp4`` or ``gif`` (concat's poses, animated), and says what else to ask for."""

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("fastapi_offline")
pytest.importorskip("diffusers")
from fastapi.testclient import TestClient

from text2sign.server import ServerSettings
from text2sign.server.app import create_app


@pytest.fixture(scope="module")
def client():
    with TestClient(create_app(ServerSettings(warm_up=False))) as c:
        yield c


@pytest.mark.parametrize("fmt, magic, media", [("gif", b"GIF89a", "image/gif"), ("mp4", b"ftyp", "video/mp4")])
def test_fs_pose_video_answers_drawn_video(client, fmt, magic, media):
    body = {"text": "hi", "spoken": "en", "signed": "ase", "model": "fs-pose-video", "format": fmt, "steps": 2}
    answer = client.post("/api/v1/generate", json=body)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == media and magic in answer.content[:12]


def test_fs_pose_video_is_listed_and_refuses_pose_formats(client):
    listed = {row["name"]: row for row in client.get("/api/v1/models").json()}
    assert listed["fs-pose-video"]["output"] == "video" and listed["fs-pose-video"]["family"] == "pose-video"
    body = {"text": "hi", "spoken": "en", "signed": "ase", "model": "fs-pose-video", "format": "pose"}
    answer = client.post("/api/v1/generate", json=body)
    assert answer.status_code == 400 and "ask for format gif or mp4" in answer.json()["error"]
