"""A family added from outside the package goes through every front door: train (with dev
validation), load by name, generate, evaluate, bench and models, with no shared file edited."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import pytest
import yaml

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import toy_families

from text2sign.cli import run
from text2sign.families import MODELS, register_model
from text2sign.pipelines import load_pipeline
from text2sign.pose.io import load_pose
from text2sign.testing import one_error_line
from text2sign.video import load_video


@pytest.fixture(scope="module", params=["toy-pose", "toy-video"])
def named_model(request, tmp_path_factory):
    """The family trained with `text2sign train`, then registered as a named model."""
    name = request.param
    root = tmp_path_factory.mktemp(name)
    raw = toy_families.tiny(name)(root)
    raw["train"].update(steps=4, validate_every=2, checkpoint_every=2)
    config = root / f"{name}.yaml"
    config.write_text(yaml.safe_dump(raw))
    assert run(["train", str(config), "--out", str(root / "run")]) == 0
    register_model(f"{name}-test", raw["family"], f"{name} trained in a test", root / "run" / "checkpoints" / "best")
    yield name, root, raw
    MODELS.pop(f"{name}-test")


def test_training_validated_and_kept_the_best(named_model, capsys):
    _, root, _ = named_model
    run_dir = root / "run"
    best = json.loads((run_dir / "checkpoints" / "best" / "config.json").read_text())
    assert best["metrics"]["dev/loss"] > 0 and best["step"] in (2, 4)
    assert run(["info", str(run_dir)]) == 0
    shown = capsys.readouterr().out
    assert "step-000004" in shown and "best" in shown and "dev/loss" in shown


def test_loaded_by_name_and_generated_by_the_cli(named_model, tmp_path, capsys):
    name, _, _ = named_model
    pipeline = load_pipeline(f"{name}-test")
    assert pipeline.output == ("pose" if name == "toy-pose" else "video")
    if name == "toy-pose":
        out = tmp_path / "ab.pose"
        assert (
            run(["generate", "ab", "--model", f"{name}-test", "-o", str(out), "--gif", str(tmp_path / "ab.gif")]) == 0
        )
        assert load_pose(out).num_frames == 8
    else:
        out = tmp_path / "ab.mp4"
        assert run(["generate", "ab", "--model", f"{name}-test", "-o", str(out), "--seed", "2"]) == 0
        assert load_video(out).num_frames == 4
        frames = tmp_path / "frames"
        assert run(["generate", "ab", "--model", f"{name}-test", "-o", str(frames)]) == 0
        assert min(p.name for p in frames.iterdir()) == "frame-000000.png"
        assert run(["generate", "ab", "--model", f"{name}-test", "-o", str(tmp_path / "x.pose")]) == 1
        assert ".pose" in capsys.readouterr().err
    assert (tmp_path / "ab.gif").exists() == (name == "toy-pose")
    assert run(["generate", "abz", "--model", f"{name}-test", "-o", str(out)]) == 0
    assert "never seen 'z'" in capsys.readouterr().err


def test_evaluated_and_benchmarked_by_output_kind(named_model, tmp_path, capsys):
    name, _, raw = named_model
    report_path = tmp_path / "eval.json"
    args = [
        "evaluate",
        "--model",
        f"{name}-test",
        "--corpus",
        raw["data"]["corpus"],
        "--out",
        str(report_path),
        "--gifs",
        "1",
        "--save-predictions",
        str(tmp_path / "kept"),
    ]
    assert run(args) == 0
    kept = sorted(p.suffix for p in (tmp_path / "kept").iterdir())
    assert kept == [".csv"] + [".pose" if name == "toy-pose" else ".mp4"] * 2
    report = json.loads(report_path.read_text())
    assert report["failures"] == 0 and report["items"] == 2
    if name == "toy-pose":
        assert report["output"] == "pose" and report["metrics"]["dtw_mje"] > 0
    else:
        assert report["output"] == "video" and 0 < report["metrics"]["psnr"] < 100
        assert 0 <= report["metrics"]["temporal_consistency"] <= 1 and report["metrics"]["ssim"] is not None
        # The shipped video recognizer read every clip back, and predictions.csv says what it read.
        assert 0 <= report["metrics"]["cer"] and report["recognizer"] == "shipped FS-Words video recognizer"
        assert [s["id"] for s in report["samples"]] == [
            r["id"] for r in csv.DictReader((tmp_path / "kept" / "predictions.csv").open())
        ]
    assert list((tmp_path / "eval-gifs").glob("*.gif"))
    capsys.readouterr()
    assert run(["bench", "--model", f"{name}-test", "--text", "ab", "--repeats", "2"]) == 0
    bench = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert (
        bench["model"] == f"{name}-test"
        and bench["family"] == raw["family"]
        and bench["output"] == report["output"]
        and bench["p50_ms"] > 0
    )


def test_listed_by_models(named_model, capsys):
    name, _, _ = named_model
    assert run(["models", "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    row = rows[f"{name}-test"]
    assert row["family"] == name and row["languages"] == [["en", "ase"]] and row["size_bytes"] > 0
    assert rows["concat"]["default"] and rows["concat"]["output"] == "pose" and not rows["fs-gan-nat"]["default"]


# A family's own option, declared once by its pipeline (toy_families.ToyPipeline.options: wobble, 0..2;
# toy-pose also like, a pose file), reaches every front door with no edit there.


def test_a_familys_own_option_reaches_generate(named_model, tmp_path, capsys):
    name, _, _ = named_model
    model = f"{name}-test"
    suffix = ".pose" if name == "toy-pose" else ""  # a video as a folder of PNG frames: lossless, so comparable
    read = load_pose if name == "toy-pose" else load_video

    def generated(*flags: str):
        out = tmp_path / f"out-{len(list(tmp_path.iterdir()))}{suffix}"
        assert run(["generate", "ab", "--model", model, "-o", str(out), "--seed", "1", *flags]) == 0, (
            capsys.readouterr().err
        )
        return read(out)

    plain, still, same = generated(), generated("--wobble", "0"), generated("--wobble", "1")  # 1: as trained
    data = (lambda s: s.data) if name == "toy-pose" else (lambda v: v.frames)
    assert (data(plain) == data(same)).all() and not (data(plain) == data(still)).all()
    capsys.readouterr()
    assert run(["generate", "--model", model, "--help"]) == 0
    shown = capsys.readouterr().out
    assert "--wobble" in shown and "from 0 to 2" in shown and ("--like" in shown) == (name == "toy-pose")
    assert run(["generate", "--help"]) == 0  # every model's options, each saying which models take it
    assert f"[models: {model}" in capsys.readouterr().out
    if name == "toy-pose":
        like = tmp_path / "like.pose"
        from text2sign.pose.io import save_pose
        from text2sign.testing import fake_pose

        save_pose(fake_pose(13), like)
        assert generated("--like", str(like)).num_frames == 13


@pytest.mark.parametrize("command", ["generate", "evaluate", "bench"])
def test_out_of_range_and_foreign_options_are_one_error_line(named_model, command, tmp_path, capsys):
    name, _, raw = named_model
    args = {
        "generate": ["generate", "ab", "-o", str(tmp_path / ("x.pose" if name == "toy-pose" else "x.mp4"))],
        "evaluate": ["evaluate", "--corpus", raw["data"]["corpus"], "-o", str(tmp_path / "eval.json")],
        "bench": ["bench", "--text", "ab", "--repeats", "1"],
    }[command]
    assert run([*args, "--model", f"{name}-test", "--wobble", "5"]) == 1
    assert one_error_line(capsys) == "error: wobble must be from 0 to 2, got 5.0"
    assert run([*args, "--model", "concat", "--wobble", "1"]) == 1
    line = one_error_line(capsys)
    assert line.startswith("error: --wobble applies to ") and f"{name}-test" in line and "not to 'concat'" in line
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_a_familys_own_option_reaches_evaluate_and_bench(named_model, tmp_path, capsys):
    name, _, raw = named_model
    report_path = tmp_path / "eval.json"
    args = [
        "evaluate",
        "--model",
        f"{name}-test",
        "--corpus",
        raw["data"]["corpus"],
        "-o",
        str(report_path),
        "--gifs",
        "0",
    ]
    assert run([*args, "--wobble", "0", "--seed", "3"]) == 0
    still = json.loads(report_path.read_text())
    assert run([*args, "--wobble", "2", "--seed", "3"]) == 0
    moved = json.loads(report_path.read_text())
    assert still["failures"] == moved["failures"] == 0 and still["metrics"] != moved["metrics"]
    capsys.readouterr()
    assert run(["bench", "--model", f"{name}-test", "--text", "ab", "--repeats", "1", "--wobble", "0.5"]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["p50_ms"] > 0


def test_a_familys_own_option_is_in_the_servers_request_schema(named_model):
    pytest.importorskip("fastapi")
    pytest.importorskip("fastapi_offline")
    from fastapi.testclient import TestClient

    from text2sign.server import ServerSettings
    from text2sign.server.app import create_app

    name, _, _ = named_model
    model = f"{name}-test"
    with TestClient(create_app(ServerSettings(warm_up=False, cache_size=0))) as client:
        schema = client.get("/openapi.json").json()["components"]["schemas"]["GenerateRequest"]["properties"]
        wobble = schema["wobble"]["anyOf"][0]
        assert wobble["type"] == "number" and wobble["minimum"] == 0 and wobble["maximum"] == 2
        assert f"{model} (from 0 to 2)" in schema["wobble"]["description"]
        assert "like" not in schema  # a file: no request makes the server read its disk
        assert "steps" in schema and "fs-latent-flow" in schema["steps"]["description"]
        body = {
            "text": "ab",
            "spoken": "en",
            "signed": "ase",
            "model": model,
            "format": "gif" if name == "toy-video" else "pose",
        }
        still, moved = (client.post("/api/v1/generate", json={**body, "seed": 1, "wobble": w}) for w in (0.0, 2.0))
        assert still.status_code == moved.status_code == 200 and still.content != moved.content
        over = client.post("/api/v1/generate", json={**body, "wobble": 5})
        assert over.status_code == 422 and over.json()["error"] == "wobble: Input should be less than or equal to 2"
        concat = client.post("/api/v1/generate", json={**body, "model": "concat", "format": "pose", "wobble": 1})
        assert concat.status_code == 400 and "option wobble does not apply to model concat" in concat.json()["error"]


def test_a_familys_own_option_in_python_is_checked_by_the_call(named_model):
    from text2sign.errors import Text2SignError

    name, _, _ = named_model
    pipeline = load_pipeline(f"{name}-test")
    assert pipeline("ab", "en", "ase", wobble=0.5).outputs
    with pytest.raises(Text2SignError, match="wobble must be a number from 0 to 2, got 'x'"):
        pipeline("ab", "en", "ase", wobble="x")
