import json

import pytest

from text2sign.cli import run
from text2sign.data.fingerspelling import FSWordsConfig, build_fs_words


@pytest.fixture(scope="module")
def tiny_corpus(tmp_path_factory):
    return build_fs_words(
        tmp_path_factory.mktemp("fsw") / "tiny", FSWordsConfig(train_words=3, dev_words=2, test_words=2), ["ase"]
    )


def test_recognize_reads_what_generate_spelled(tmp_path, capsys):
    pose = tmp_path / "hello.pose"
    assert run(["generate", "hello", "--model", "concat", "--spoken", "en", "--signed", "ase", "-o", str(pose)]) == 0
    capsys.readouterr()
    assert run(["recognize", str(pose), "--signed", "ase"]) == 0
    assert capsys.readouterr().out.strip() == "hello"


def test_recognize_scores_a_corpus_split_and_its_corruptions(tiny_corpus, capsys):
    assert run(["recognize", str(tiny_corpus.root), "--split", "test"]) == 0
    out = capsys.readouterr().out
    assert "test" in out and "CER" in out and "2" in out
    assert run(["recognize", str(tiny_corpus.root), "--split", "test", "--corrupt", "time-shuffle"]) == 0
    assert "test (time-shuffle)" in capsys.readouterr().out


def test_train_recognizer_writes_a_checkpoint_and_prints_scores(tiny_corpus, tmp_path, capsys):
    out = tmp_path / "rec"
    argv = ["train-recognizer", str(tiny_corpus.root), "--out", str(out), "--epochs", "2", "--batch-size", "8"]
    argv += ["--hidden", "16", "--dilations", "1,2", "--threads", "1", "--no-augment"]
    assert run(argv) == 0
    printed = capsys.readouterr().out
    assert "dev" in printed and "test time-shuffled" in printed and "test letter-swapped" in printed
    assert "best epoch" in printed and str(out) in printed.replace("\n", "")
    config = json.loads((out / "config.json").read_text())
    assert config["format"] == "text2sign-checkpoint" and config["family"] == "recognizer"
    model = config["model"]
    assert model["hidden"] == 16 and model["dilations"] == [1, 2] and model["languages"] == ["ase"]
    training = config["metadata"]["training"]
    assert training["config"]["augment"] is False and len(training["history"]) == 2
    assert config["experiment"]["objective"]["augment"] is False
    assert set(config["metrics"]["scores"]) == {"dev", "test", "test time-shuffled", "test letter-swapped"}
    assert run(["recognize", str(tiny_corpus.root), "--model", str(out), "--split", "dev"]) == 0


def test_train_runs_the_recognizer_family_and_recognize_reads_the_run(tiny_corpus, tmp_path, capsys):
    config = tmp_path / "recognizer.yaml"
    config.write_text(
        f"family: recognizer\ndata: {{corpus: {tiny_corpus.root}}}\nmodel: {{hidden: 16, dilations: [1]}}\n"
        "train: {steps: 2, batch_size: 8, validate_every: 1, sample_every: 0}\n"
    )
    assert run(["train", str(config), "--out", str(tmp_path / "run")]) == 0
    assert (tmp_path / "run" / "checkpoints" / "best" / "config.json").is_file()
    capsys.readouterr()
    assert run(["recognize", str(tiny_corpus.root), "--model", str(tmp_path / "run"), "--split", "dev"]) == 0
    assert "dev" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["recognize", "missing.pose"], "error: not found: missing.pose"),
        (["recognize", "{pose}", "--model", "{tmp}/nowhere"], "error: recognizer checkpoint not found"),
        (["recognize", "{pose}", "--model", "{old}"], "is a recognizer in the old 'text2sign-recognizer' format"),
        (["recognize", "{pose}", "--signed", "xyz"], "error: the recognizer does not know signed language xyz"),
        (["recognize", "{pose}", "--corrupt", "time-shuffle"], "error: --corrupt needs a corpus directory"),
        (["recognize", "{corpus}", "--corrupt", "mirror"], "error: unknown corruption 'mirror'"),
        (["recognize", "{corpus}", "--split", "valid"], "error: unknown split 'valid'"),
        (
            ["train-recognizer", "{corpus}", "--out", "{tmp}/old-recognizer/config.json/r"],
            "config.json is not a directory",
        ),
        (
            ["train-recognizer", "{corpus}", "--out", "{tmp}/r", "--kinds", "hands"],
            "kinds must be distinct names from body, face, left_hand",
        ),
        (["train-recognizer", "{tmp}/nothing", "--out", "{tmp}/r"], "error: corpus directory not found"),
    ],
)
def test_user_errors_are_one_line(argv, message, tiny_corpus, tmp_path, capsys):
    pose = tiny_corpus.root / tiny_corpus.split("test")[0].path
    old = tmp_path / "old-recognizer"
    old.mkdir()
    (old / "config.json").write_text(json.dumps({"format": "text2sign-recognizer", "version": 1}))
    values = {"pose": str(pose), "tmp": str(tmp_path), "corpus": str(tiny_corpus.root), "old": str(old)}
    assert run([a.format(**values) for a in argv]) == 1
    err = capsys.readouterr().err
    assert message.format(**values) in err.replace("\n", " ") or message.format(**values) in err
    assert "Traceback" not in err
