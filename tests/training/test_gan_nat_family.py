"""GAN-NAT through the real front door: a YAML, `text2sign train`, then the checkpoint as a model."""

import json

import pytest

from text2sign.cli import run
from text2sign.pipelines import load_pipeline
from text2sign.pose.io import load_pose

TINY = """
family: gan-nat
data:
  corpus: {corpus}
model:
  text: {{kind: char, d_model: 16, layers: 1, heads: 2}}
  d_model: 16
  layers: 1
  heads: 2
  max_frames: 120
objective:
  adversarial: 0.05
  adversarial_start: 2
  discriminator: {{channels: 16, layers: 2}}
train:
  steps: 4
  batch_size: 4
  lr: 1.0e-3
  log_every: 2
  sample_every: 4
  checkpoint_every: 2
"""


@pytest.fixture(scope="module")
def trained(tiny_fs_words, tmp_path_factory):
    root = tmp_path_factory.mktemp("gan-nat")
    config = root / "tiny.yaml"
    config.write_text(TINY.format(corpus=tiny_fs_words.root))
    assert run(["train", str(config), "--out", str(root / "run")]) == 0
    return root / "run"


def test_run_dir_has_checkpoints_samples_and_curves(trained):
    checkpoints = sorted(p.name for p in (trained / "checkpoints").iterdir())
    # the dev split is validated at the end; the best pass so far is kept as best/
    assert checkpoints == ["best", "step-000002", "step-000004"]
    last = trained / "checkpoints" / "step-000004"
    assert {p.name for p in last.iterdir()} >= {
        "config.json",
        "model.safetensors",
        "normalization.json",
        "trainer_state.pt",
    }
    best = json.loads((trained / "checkpoints" / "best" / "config.json").read_text())
    assert best["metrics"]["dev/loss"] > 0 and not (trained / "checkpoints" / "best" / "trainer_state.pt").exists()
    assert best["metadata"]["language_pairs"] == [["en", "ase"]]
    model = json.loads((last / "config.json").read_text())["model"]
    # the builder filled the model config in from the corpus
    assert model["layout"] == "holistic-178" and model["feature_dim"] == 50 * 3
    assert "a" in model["text"]["vocab"] and model["text"]["signed_languages"] == ["ase"]
    assert list((trained / "samples").rglob("*.gif"))
    assert list((trained / "tensorboard").iterdir())


def test_checkpoint_is_a_model_for_generate_and_evaluate(trained, tiny_fs_words, tmp_path, capsys):
    pipeline = load_pipeline(str(trained))
    (one_word,) = pipeline(["abc"], spoken="en", signed="ase").outputs
    (two_words,) = pipeline(["abc abc"], spoken="en", signed="ase").outputs
    # word-level model: two words are the word twice with a 6-frame bridge
    assert two_words.num_frames == 2 * one_word.num_frames + 6
    assert one_word.layout.name == "holistic-178" and one_word.fps == 25

    out = tmp_path / "abc.pose"
    assert run(["generate", "abc", "--model", str(trained), "--frames", "12", "-o", str(out)]) == 0
    assert load_pose(out).num_frames == 12

    report = tmp_path / "eval.json"
    assert (
        run(
            [
                "evaluate",
                "--model",
                str(trained),
                "--corpus",
                str(tiny_fs_words.root),
                "--out",
                str(report),
                "--gifs",
                "0",
            ]
        )
        == 0
    )
    result = json.loads(report.read_text())
    assert result["failures"] == 0 and result["metrics"]["dtw_mje"] > 0


def test_resume_continues_from_the_last_checkpoint(trained, tmp_path):
    assert run(["train", "--resume", str(trained), "--set", "train.steps=6"]) == 0
    assert (trained / "checkpoints" / "step-000006").is_dir()


def test_generate_errors_for_learned_models(trained, tmp_path, capsys):
    out = str(tmp_path / "x.pose")
    assert run(["generate", "abc", "--model", str(trained), "--signed", "gsg", "-o", out]) == 1
    assert f"signed language 'gsg' is not supported by {trained}; supported: ase" in capsys.readouterr().err
    assert run(["generate", "abc", "--model", "concat", "--frames", "10", "-o", out]) == 1
    assert "--frames applies to fs-gan-nat, fs-latent-flow, fs-video, not to 'concat'" in capsys.readouterr().err
    assert run(["generate", "abc", "--model", str(tmp_path / "nothing"), "-o", out]) == 1
    assert "unknown model" in capsys.readouterr().err


def test_items_without_the_models_input_are_left_out_of_training():
    from types import SimpleNamespace

    from text2sign.data.selection import has_model_input

    text_only, gloss_only, both, neither = (
        SimpleNamespace(text=t, gloss=g) for t, g in (("ab", ""), ("", "AB"), ("ab", "AB"), (" ", ""))
    )
    assert [has_model_input(i, "text") for i in (text_only, gloss_only, both, neither)] == [True, False, True, False]
    assert [has_model_input(i, "gloss") for i in (text_only, gloss_only, both, neither)] == [False, True, True, False]
    assert [has_model_input(i, "both") for i in (text_only, gloss_only, both, neither)] == [False, False, True, False]
