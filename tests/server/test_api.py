"""The HTTP API in process: every format, every error a client can cause, the queue limit, the
cache and the access log."""

import asyncio
import json
import logging
import time

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("fastapi_offline")
import httpx
from fastapi.testclient import TestClient
from pose_format import Pose

from text2sign.pipelines.base import Pipeline
from text2sign.server import ServerSettings
from text2sign.server.app import create_app
from text2sign.server.service import MAX_BODY_BYTES, Answer, Cache, Models
from text2sign.testing import fake_pose, fake_video

ASL = {"spoken": "en", "signed": "ase"}


class FakePipeline(Pipeline):
    """A model that takes `seconds` per call and signs any text with a fake pose (or video)."""

    name = "fake"

    def __init__(self, seconds: float = 0.0, output: str = "pose"):
        self.seconds = seconds
        self.output = output

    def language_pairs(self):
        return [("en", "ase")]

    def generate(self, texts, spoken, signed, *, num_samples, seed, strict, notes):
        time.sleep(self.seconds)
        make = (lambda: fake_pose(12)) if self.output == "pose" else (lambda: fake_video(6, 32, 32))
        return [[make()] * num_samples for _ in texts]


@pytest.fixture(scope="module")
def client():
    with TestClient(create_app(ServerSettings())) as c:
        yield c


def generate(client, **body):
    return client.post("/api/v1/generate", json={**ASL, **body})


def test_health_says_which_model_is_loaded(client):
    health = client.get("/healthz").json()
    assert health["status"] == "ok" and health["default_model"] == "concat" and "concat" in health["loaded_models"]


def test_languages_of_the_default_model(client):
    answer = client.get("/api/v1/languages").json()
    assert answer["model"] == "concat"
    assert {"spoken": "en", "signed": "ase", "borrows": None} in answer["pairs"]
    assert {"spoken": "fr", "signed": "fsl", "borrows": "ase"} in answer["pairs"]


def test_pose_answer_is_a_pose_file_and_repeats_come_from_the_cache(client):
    first = generate(client, text="hello there")
    assert first.status_code == 200 and first.headers["content-type"] == "application/octet-stream"
    assert first.headers["content-disposition"] == 'attachment; filename="signing.pose"'
    assert first.headers["x-cache"] == "miss" and json.loads(first.headers["x-text2sign-warnings"]) == []
    pose = Pose.read(first.content)
    assert pose.body.data.shape[0] > 20 and pose.body.fps == 25
    again = generate(client, text="hello there")
    assert again.headers["x-cache"] == "hit" and again.content == first.content


def test_json_answer_plays_on_the_page(client):
    answer = generate(client, text="Hello, world.", format="json")
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/json"
    doc = answer.json()
    assert [w["label"] for w in doc["words"]] == ["Hello", "world"]
    assert [p["label"] for p in doc["pauses"]] == [","]
    assert doc["num_frames"] == len(doc["frames"]) and doc["fps"] == 25 and doc["model"] == "concat"
    assert doc["words"][-1]["end"] == doc["num_frames"]


@pytest.mark.parametrize("fmt, magic, media", [("gif", b"GIF89a", "image/gif"), ("mp4", b"ftyp", "video/mp4")])
def test_drawn_formats(client, fmt, magic, media):
    answer = generate(client, text="hi", format=fmt, size=64)
    assert answer.status_code == 200 and answer.headers["content-type"] == media
    assert magic in answer.content[:12]


def test_what_cannot_be_signed_is_a_warning_and_a_clause_of_it_is_skipped(client):
    doc = generate(client, text="hello 42", format="json").json()
    assert doc["warnings"] == ["skipped '4', '2': no sign for them in ase"]
    doc = generate(client, text="hello, 42.", format="json").json()
    assert [w["label"] for w in doc["words"]] == ["hello"] and "skipped '42'" in doc["warnings"][0]


@pytest.mark.parametrize(
    "body, status, says",
    [
        ({"text": "hi", "signed": "xx"}, 400, "supported: ase, asq"),
        ({"text": "hi", "spoken": "xx"}, 400, "supported for ase: en"),
        ({"text": "hi", "model": "/etc"}, 400, "unknown model '/etc'; this server has: default, concat"),
        ({"text": "hi", "frames": 30}, 400, "option frames does not apply to model concat"),
        ({"text": "hi", "steps": 10}, 400, "option steps does not apply"),
        ({"text": "hi 4", "strict": True}, 400, "no sign for '4' in ase"),
        ({"text": "   "}, 400, "text is empty"),
        ({"text": "!?"}, 400, "no words to sign"),
        ({"text": ""}, 422, "text: String should have at least 1 character"),
        ({"text": "a" * 201}, 422, "text: String should have at most 200 characters"),
        ({"text": "hi", "format": "png"}, 422, "format: Input should be 'pose', 'json', 'gif' or 'mp4'"),
        ({"text": "hi", "seed": -1}, 422, "seed: Input should be greater than or equal to 0"),
        ({"text": "hi", "seed": "1"}, 422, "seed: Input should be a valid integer"),
        ({"text": "hi", "size": 10_000}, 422, "size: Input should be less than or equal to 768"),
        ({"text": "hi", "steps": 0}, 422, "steps: Input should be greater than or equal to 1"),
        ({"text": "hi", "colour": "red"}, 422, "colour: unknown field"),
        ({"text": 5}, 422, "text: Input should be a valid string"),
        ({"spoken": None}, 422, "text: Field required"),
        ({"text": "a " * 99 + "b", "format": "gif"}, 400, "limited to 750; ask for format pose or json"),
    ],
)
def test_every_bad_request_is_a_4xx_that_says_what_is_wrong(client, body, status, says):
    answer = generate(client, **body)
    assert answer.status_code == status, answer.text
    assert says in answer.json()["error"]


@pytest.mark.parametrize(
    "content, headers, status, says",
    [
        (b'{"text": "hi",', {"content-type": "application/json"}, 422, "body is not valid JSON"),
        (b"[1, 2]", {"content-type": "application/json"}, 422, "valid dictionary"),
        (
            b'{"text": "\\ud800", "spoken": "en", "signed": "ase"}',
            {"content-type": "application/json"},
            422,
            "text: Input should be a valid string, unable to parse raw data as a unicode string",
        ),
        (b"x" * (MAX_BODY_BYTES + 1), {"content-type": "application/json"}, 413, "request body over 16384 bytes"),
    ],
)
def test_malformed_and_oversized_bodies(client, content, headers, status, says):
    answer = client.post("/api/v1/generate", content=content, headers=headers)
    assert answer.status_code == status and says in answer.json()["error"]


def test_unknown_routes_and_methods_answer_json(client):
    assert client.get("/api/v1/nothing").json() == {"error": "Not Found"}
    assert client.get("/api/v1/generate").status_code == 405
    assert client.get("/api/v1/languages", params={"model": "nope"}).status_code == 400


def test_page_docs_and_static_files_are_served_from_here(client):
    page = client.get("/")
    assert page.status_code == 200 and "default-src 'self'" in page.headers["content-security-policy"]
    for path in ("/static/app.js", "/static/style.css", "/docs", "/openapi.json"):
        answer = client.get(path)
        assert answer.status_code == 200, path
        assert "cdn." not in answer.text and "https://" not in answer.text.replace("https://github.com", ""), path


def test_model_list_marks_this_servers_default(monkeypatch):
    from text2sign import pipelines

    rows = [pipelines.ModelInfo("concat", "concat", "pose", [("en", "ase")], 1, "lookup", default=True)]
    monkeypatch.setattr(pipelines, "list_models", lambda load: rows)
    app = create_app(ServerSettings(warm_up=False), Models("fake", pipelines={"fake": FakePipeline()}))
    with TestClient(app) as c:
        listed = {row["name"]: row for row in c.get("/api/v1/models").json()}
    assert listed["fake"]["default"] and not listed["concat"]["default"]
    assert listed["fake"]["languages"] == [["en", "ase"]] and listed["fake"]["family"] == "fake"


def test_a_video_model_answers_gif_and_mp4_only():
    app = create_app(ServerSettings(warm_up=False), Models("fake", pipelines={"fake": FakePipeline(output="video")}))
    with TestClient(app) as c:
        assert (
            "ask for format gif or mp4"
            in c.post("/api/v1/generate", json={**ASL, "text": "hi", "format": "json"}).json()["error"]
        )
        assert c.post("/api/v1/generate", json={**ASL, "text": "hi", "format": "gif"}).content[:6] == b"GIF89a"


def test_past_the_workers_and_the_queue_the_server_says_busy():
    app = create_app(
        ServerSettings(workers=1, queue=1, warm_up=False), Models("fake", pipelines={"fake": FakePipeline(0.4)})
    )

    async def burst():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            calls = [http.post("/api/v1/generate", json={**ASL, "text": f"text {i}"}) for i in range(4)]
            return await asyncio.gather(*calls)

    answers = asyncio.run(burst())
    assert sorted(a.status_code for a in answers) == [200, 200, 503, 503]
    busy = next(a for a in answers if a.status_code == 503)
    assert busy.headers["retry-after"] == "1" and "busy" in busy.json()["error"]
    assert app.state.service.pool.in_flight == 0


def test_the_cache_drops_the_least_recently_used_by_count_and_by_bytes():
    cache = Cache(max_items=2, max_bytes=400)
    for key in "abc":
        cache.put(key, Answer(b"x" * 10, "application/octet-stream"))
    assert cache.get("a") is None and cache.get("b") is not None and len(cache) == 2
    cache.put("d", Answer(b"x" * 10, "x"))
    assert cache.get("c") is None and cache.get("b") is not None
    cache.put("big", Answer(b"x" * 101, "x"))  # over a quarter of the bytes: never kept
    assert cache.get("big") is None and cache.bytes == 20
    assert len(Cache(max_items=0)) == 0


def test_every_request_leaves_an_access_log_line(client, caplog):
    with caplog.at_level(logging.INFO, logger="text2sign.server.access"):
        generate(client, text="log me")
        client.get("/no%0Awhere")
    lines = [r.getMessage() for r in caplog.records if r.name == "text2sign.server.access"]
    assert any(
        'POST "/api/v1/generate" 200' in line and "model=concat format=pose cache=miss" in line for line in lines
    )
    assert any('GET "/no\\nwhere" 404' in line for line in lines)


class DrawingBlocks(FakePipeline):
    """Signs at once, except that making a drawing's pose waits until `release` is set."""

    def __init__(self):
        super().__init__()
        import threading

        self.release = threading.Event()

    def generate(self, texts, spoken, signed, *, num_samples, seed, strict, notes):
        if texts[0].startswith("draw"):
            assert self.release.wait(60), "never released"
        return super().generate(texts, spoken, signed, num_samples=num_samples, seed=seed, strict=strict, notes=notes)


def test_pose_requests_do_not_wait_behind_drawings():
    pipeline = DrawingBlocks()
    app = create_app(
        ServerSettings(workers=1, draw_workers=1, queue=2, warm_up=False), Models("fake", pipelines={"fake": pipeline})
    )

    async def mixed():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test", timeout=60) as http:
            drawings = [
                asyncio.ensure_future(
                    http.post("/api/v1/generate", json={**ASL, "text": f"draw {i}", "format": "gif", "size": 64})
                )
                for i in range(3)
            ]
            await asyncio.sleep(0.1)
            # Every drawing worker and its queue are taken; poses, the model list and health still answer.
            poses = [await http.post("/api/v1/generate", json={**ASL, "text": f"pose {i}"}) for i in range(3)]
            health = (await http.get("/healthz")).json()
            over = await http.post("/api/v1/generate", json={**ASL, "text": "draw more", "format": "mp4", "size": 64})
            pipeline.release.set()
            return poses, health, over, await asyncio.gather(*drawings)

    poses, health, over, drawings = asyncio.run(mixed())
    assert [a.status_code for a in poses] == [200] * 3
    assert health["in_flight"] == 3 and health["capacity"] == 6
    assert over.status_code == 503 and over.headers["retry-after"] == "1"
    assert [a.status_code for a in drawings] == [200] * 3 and all(a.content[:6] == b"GIF89a" for a in drawings)


@pytest.mark.parametrize("model", ["fs-gan-nat", "fs-latent-flow"])
@pytest.mark.parametrize("format, frames, words", [("pose", 400, 66), ("json", 200, 20), ("gif", 100, 10)])
def test_a_length_over_the_limit_is_refused_before_the_model_runs(model, format, frames, words, monkeypatch):
    from text2sign.pipelines.gan_nat import GanNatPipeline
    from text2sign.pipelines.latent import LatentPipeline

    def never(*args, **kwargs):
        raise AssertionError("the model ran")

    monkeypatch.setattr(GanNatPipeline, "_generate", never)
    monkeypatch.setattr(LatentPipeline, "_generate", never)
    app = create_app(ServerSettings(warm_up=False))
    with TestClient(app) as c:
        answer = c.post(
            "/api/v1/generate",
            json={**ASL, "model": model, "text": " ".join(["hi"] * words), "frames": frames, "format": format},
        )
    assert answer.status_code == 400, answer.text
    error = answer.json()["error"]
    assert "the signing has at least" in error and "or ask for fewer frames" in error
    assert int(error.split("at least ")[1].split()[0]) >= words * frames
