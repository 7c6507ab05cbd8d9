import json

import pytest
from PIL import Image

from text2sign.cli import run
from text2sign.evaluation.harness import evaluate, markdown_header, markdown_row, write_report
from text2sign.training.recognizer import RecognizerTrainConfig, train_recognizer


@pytest.fixture(scope="module")
def fixture(tiny_fs_words, tmp_path_factory):
    """A tiny recognizer trained for one epoch (its scores do not matter here, only that the
    harness runs it)."""
    out = tmp_path_factory.mktemp("harness") / "recognizer"
    cfg = RecognizerTrainConfig(epochs=1, hidden=16, dilations=(1,), augment=False, evaluate_test=False)
    train_recognizer(tiny_fs_words.root, out, cfg)
    return tiny_fs_words, out


def test_reference_scores_zero_pose_error_against_itself(fixture, tmp_path):
    corpus, recognizer = fixture
    report = evaluate("reference", corpus, "test", recognizer_dir=recognizer, gif_dir=tmp_path, num_gifs=2)
    m = report["metrics"]
    assert report["items"] == 3 and report["failures"] == 0
    assert m["dtw_mje"] == pytest.approx(0.0, abs=1e-6)
    assert m["ndtw_mje_ham2pose"] == pytest.approx(0.0, abs=1e-6)
    assert m["ndtw_mje_pose_evaluation"] == pytest.approx(0.0, abs=1e-6)
    assert m["mae_hands"] == pytest.approx(0.0, abs=1e-6)
    assert m["frechet"] == pytest.approx(0.0, abs=1e-3)
    assert m["generation_ms_mean"] is None
    assert m["cer"] >= 0.0  # CER counts insertions too, so a bad recognizer can exceed 100
    gifs = sorted(tmp_path.glob("*.gif"))
    assert len(gifs) == 2
    with Image.open(gifs[0]) as gif:
        assert gif.size[0] == 2 * gif.size[1]  # generated | reference panels


def test_concat_differs_from_references_only_in_timing(fixture):
    corpus, recognizer = fixture
    report = evaluate("concat", corpus, "test", recognizer_dir=recognizer)
    m = report["metrics"]
    assert report["failures"] == 0
    # Same letter clips, different rhythm: small but non-zero error after alignment.
    assert 0.0 < m["dtw_mje"] < 0.5
    # Both per-keypoint variants see the timing difference; they are different measures.
    assert m["ndtw_mje_ham2pose"] > 0.0 and m["ndtw_mje_pose_evaluation"] > 0.0
    assert m["ndtw_mje_ham2pose"] != pytest.approx(m["ndtw_mje_pose_evaluation"])
    assert m["generation_ms_mean"] > 0
    assert set(m) >= {
        "bleu1",
        "bleu4",
        "rouge_l",
        "wer",
        "cer",
        "mse_body",
        "mae_face",
        "sync_correlation",
        "diversity",
    }


def test_report_files_and_markdown_row(fixture, tmp_path):
    corpus, recognizer = fixture
    report = evaluate("reference", corpus, "test", recognizer_dir=recognizer, limit=2)
    json_path, md_path = write_report(report, tmp_path / "ref.json")
    assert json.loads(json_path.read_text())["items"] == 2
    header, row = md_path.read_text().strip().splitlines()[0], md_path.read_text().strip().splitlines()[-1]
    assert header == markdown_header().splitlines()[0]
    assert "| DTW-MJE (SLRTP) | nDTW-MJE (Ham2Pose) | nDTW-MJE (pose-evaluation) |" in header
    assert row == markdown_row(report)
    assert row.startswith("| reference | 2 | 0 | 0.0000 |")
    assert row.count("|") == header.count("|")


def test_evaluate_cli_writes_report_and_gifs(fixture, tmp_path, capsys):
    import csv

    from text2sign.pose.io import load_pose

    corpus, recognizer = fixture
    out = tmp_path / "reports" / "new" / "concat.json"  # report folders are made
    code = run(
        [
            "evaluate",
            "--model",
            "concat",
            "--corpus",
            str(corpus.root),
            "--out",
            str(out),
            "--recognizer",
            str(recognizer),
            "--gifs",
            "1",
            "--save-predictions",
            str(tmp_path / "pred"),
            "--seed",
            "3",
        ]
    )
    assert code == 0
    report = json.loads(out.read_text())
    assert report["model"] == "concat" and report["predictions"] == str(tmp_path / "pred")
    assert out.with_suffix(".md").is_file()
    assert len(list((tmp_path / "reports" / "new" / "concat-gifs").glob("*.gif"))) == 1
    assert "| concat | 3 | 0 |" in capsys.readouterr().out
    with open(tmp_path / "pred" / "predictions.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["id"] for r in rows] == [i.id for i in corpus.split("test")]
    assert [r["read"] for r in rows][:3] == [s["read"] for s in report["samples"]][:3]
    first = load_pose(tmp_path / "pred" / rows[0]["file"])
    assert first.layout.name == "holistic-178" and first.num_frames > 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--model", "nope"], "unknown model 'nope'"),
        (["--split", "nothing"], "unknown split 'nothing'"),
        (["--recognizer", "{tmp}/missing"], "recognizer checkpoint not found"),
    ],
)
def test_evaluate_cli_errors(fixture, tmp_path, capsys, args, message):
    corpus, recognizer = fixture
    argv = [
        "evaluate",
        "--corpus",
        str(corpus.root),
        "--out",
        str(tmp_path / "r.json"),
        "--recognizer",
        str(recognizer),
    ]
    argv += [a.replace("{tmp}", str(tmp_path)) for a in args]
    assert run(argv) == 1
    assert message in capsys.readouterr().err
    assert not (tmp_path / "r.json").exists()
