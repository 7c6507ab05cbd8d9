"""What a new user tripped on going through the README (issue 21): listing models loads none,
`info` on a checkpoint fits a screen, a video corpus given where a pose corpus belongs (or drawn
at a size the recognizer did not learn) is named as such, `prepare video` draws what the shipped
video models read."""

import json
from pathlib import Path

import pytest

from text2sign import pipelines
from text2sign.cli import run
from text2sign.data.video_corpus import render_pose_corpus
from text2sign.families.registry import MODELS, SHIPPED_VIDEO_SIZE
from text2sign.testing import one_error_line


def test_listing_models_loads_no_checkpoint(monkeypatch, capsys):
    def no_checkpoints(name, **options):
        if MODELS[name].checkpoint is not None:
            raise AssertionError(f"listing loaded {name}")
        return pipelines.load_pipeline(name, **options)

    rows = {row.name: row for row in pipelines.list_models(load=no_checkpoints)}
    assert set(rows) == set(MODELS)
    # From config.json alone, the same pairs the loaded pipeline knows.
    assert sorted(rows["fs-gan-nat"].languages) == sorted(pipelines.load_pipeline("fs-gan-nat").language_pairs())
    assert ("en", "ase") in rows["fs-latent-flow"].languages and rows["fs-video"].output == "video"
    monkeypatch.setattr(pipelines, "load_pipeline", no_checkpoints)
    assert run(["models", "--json"]) == 0
    assert {row["name"] for row in json.loads(capsys.readouterr().out)} == set(MODELS)


def test_info_on_a_checkpoint_abridges_long_lists_unless_asked(capsys):
    checkpoint = str(MODELS["fs-gan-nat"].checkpoint)
    assert run(["info", checkpoint]) == 0
    short = capsys.readouterr().out
    assert len(short.splitlines()) < 100 and "vocab: '157 items: <pad>, <unk>, a, b, c, d, e, f, ...'" in short
    assert run(["info", checkpoint, "--full"]) == 0
    assert len(capsys.readouterr().out.splitlines()) > 200


@pytest.fixture(scope="module")
def videos_64(tiny_fs_words, tmp_path_factory):
    return render_pose_corpus(tiny_fs_words, tmp_path_factory.mktemp("videos") / "v64", size=64, fps=12.5)


def test_a_video_corpus_where_a_pose_corpus_belongs_is_named(videos_64, tmp_path, capsys):
    assert run(["evaluate", "--model", "concat", "--corpus", str(videos_64.root), "--out", str(tmp_path / "eval")]) == 1
    line = one_error_line(capsys)
    assert "is a video corpus" in line and "give the pose corpus it was drawn from" in line


def test_the_video_recognizer_refuses_a_corpus_drawn_at_another_size(videos_64, capsys):
    assert run(["recognize", str(videos_64.root), "--split", "test"]) == 1
    line = one_error_line(capsys)
    assert "drawn at 64 x 64 px" in line and f"prepare video --size {SHIPPED_VIDEO_SIZE}" in line


def test_prepare_video_draws_at_the_size_the_shipped_video_models_read(tiny_fs_words, tmp_path):
    from text2sign.data.video_corpus import VideoCorpus

    for name in ("fs-video",):
        config = json.loads((Path(MODELS[name].checkpoint) / "config.json").read_text())
        assert config["model"]["size"] == SHIPPED_VIDEO_SIZE
    from text2sign.evaluation.video_recognizer import VideoRecognizer

    assert VideoRecognizer.from_pretrained().size == SHIPPED_VIDEO_SIZE
    assert run(["prepare", "video", "--from", str(tiny_fs_words.root), "--out", str(tmp_path / "v")]) == 0
    corpus = VideoCorpus.load(tmp_path / "v")
    assert (corpus.width, corpus.height) == (SHIPPED_VIDEO_SIZE, SHIPPED_VIDEO_SIZE)


def test_a_pose_without_shoulders_reads_as_nothing_and_the_others_still_read():
    from text2sign.evaluation.recognizer import Recognizer
    from text2sign.pipelines import load_pipeline

    hello = load_pipeline("concat")("hello", "en", "ase").outputs[0]
    no_shoulders = hello.copy()
    left, right = no_shoulders.layout.shoulders
    no_shoulders.mask[:, [left, right]] = False
    recognizer = Recognizer.from_pretrained()
    alone = recognizer.recognize([hello], "ase")
    assert recognizer.recognize([no_shoulders, hello], "ase") == ["", alone[0]]


def test_a_failed_evaluation_leaves_no_folder_it_would_have_made(tiny_fs_words, tmp_path, capsys):
    report = tmp_path / "new" / "eval" / "x.json"
    argv = ["evaluate", "--corpus", str(tiny_fs_words.root), "--split", "test", "-o", str(report)]
    assert run([*argv, "--model", "nope"]) == 1
    assert "unknown model 'nope'" in one_error_line(capsys)
    assert not (tmp_path / "new").exists()
    assert run([*argv, "--model", "concat"]) == 0
    assert report.is_file() and (tmp_path / "new" / "eval" / "x-gifs").is_dir()
