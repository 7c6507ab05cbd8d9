"""Validation in the loop (best/, patience), starting from earlier runs (init:), and --dry-run."""

import json
import shutil

import pytest
import torch
import toy_family  # noqa: F401  (registers the toy families)

from text2sign.checkpoints import best_dir, from_pretrained, list_checkpoints, load_checkpoint
from text2sign.cli import run as cli_run
from text2sign.errors import CheckpointError, ConfigError
from text2sign.training import load_config, train

VALIDATED = """\
family: toy-regression
data: {num_items: 32, dev_items: 16}
train: {steps: 8, batch_size: 8, lr: 0.05, ema_decay: 0.0, checkpoint_every: 0, validate_every: 2, keep_last_k: 1}
"""


def test_best_checkpoint_is_the_lowest_dev_loss(toy_yaml, tmp_path):
    result = train(load_config(toy_yaml(VALIDATED)), tmp_path / "run")
    assert [v["step"] for v in result.validations] == [2, 4, 6, 8]
    losses = [v["dev/loss"] for v in result.validations]
    best_step = result.validations[losses.index(min(losses))]["step"]
    assert result.best == best_dir(tmp_path / "run") and result.best_score == min(losses)
    meta = json.loads((result.best / "config.json").read_text())
    assert meta["step"] == best_step and meta["metrics"]["dev/loss"] == pytest.approx(min(losses))
    assert not (result.best / "trainer_state.pt").exists()
    # keep_last_k prunes step checkpoints only; best/ stays beside them
    assert [s for s, _ in list_checkpoints(tmp_path / "run")] == [8]
    # a run directory loads its best checkpoint for inference, its latest for resuming
    assert load_checkpoint(tmp_path / "run").path == result.best


def test_patience_stops_a_run_that_no_longer_improves(toy_yaml, tmp_path):
    # lr 0: the dev loss never changes, so only the first pass is an improvement.
    config = load_config(
        toy_yaml(VALIDATED), ["train.lr=0.0", "train.validate_every=1", "train.patience=2", "train.steps=50"]
    )
    result = train(config, tmp_path / "run")
    assert result.stopped_early and not result.interrupted and result.step == 3
    assert [s for s, _ in list_checkpoints(tmp_path / "run")] == [3]
    assert json.loads((result.best / "config.json").read_text())["step"] == 1


def test_resume_keeps_the_best_score_and_the_patience_count(toy_yaml, tmp_path):
    config = load_config(
        toy_yaml(VALIDATED), ["train.lr=0.0", "train.validate_every=1", "train.patience=3", "train.steps=2"]
    )
    first = train(config, tmp_path / "run")
    assert not first.stopped_early
    more = load_config(
        toy_yaml(VALIDATED), ["train.lr=0.0", "train.validate_every=1", "train.patience=3", "train.steps=50"]
    )
    resumed = train(more, tmp_path / "run", resume=tmp_path / "run")
    # one pass without gain before the resume, two after it
    assert resumed.stopped_early and resumed.step == 4
    assert resumed.best_score == first.best_score


def test_init_model_starts_from_another_runs_weights(toy_yaml, tmp_path):
    source = train(load_config(toy_yaml(VALIDATED)), tmp_path / "a")
    frozen = load_config(toy_yaml(VALIDATED), ["train.lr=0.0", "train.steps=1", f"init.model={source.checkpoint}"])
    result = train(frozen, tmp_path / "b")
    for name, value in from_pretrained(source.checkpoint).state_dict().items():
        assert torch.equal(from_pretrained(result.checkpoint).state_dict()[name], value)
    wider = load_config(toy_yaml(VALIDATED), ["model.hidden_dim=8", f"init.model={source.checkpoint}"])
    with pytest.raises(
        CheckpointError, match=r"init.model .* does not fit this model: weight 'layers.0.weight' has shape \(16, 4\)"
    ):
        train(wider, tmp_path / "c")
    with pytest.raises(ConfigError, match="unknown key 'init.teacher'.*starts from: model"):
        load_config(toy_yaml(VALIDATED), [f"init.teacher={source.checkpoint}"])


def test_a_later_stage_copies_the_earlier_one_and_loads_alone(toy_yaml, tmp_path):
    first = train(load_config(toy_yaml(VALIDATED)), tmp_path / "first")
    stacked = toy_yaml(
        f"family: toy-stacked\ninit: {{first_stage: {first.checkpoint}}}\n"
        "train: {steps: 4, batch_size: 8, lr: 0.05, ema_decay: 0.0}\n",
        name="stacked.yaml",
    )
    second = train(load_config(stacked), tmp_path / "second")
    x = torch.randn(3, 4)
    with torch.no_grad():
        expected = from_pretrained(second.checkpoint)(x)
        shutil.rmtree(tmp_path / "first")
        loaded = load_checkpoint(second.checkpoint)
        assert torch.equal(loaded.model(x), expected)
    assert loaded.model_config.first.hidden_dim == 16
    with pytest.raises(ConfigError, match="toy-stacked needs init.first_stage"):
        train(load_config(stacked, ["init={}"]), tmp_path / "third")


def test_dry_run_reports_and_writes_nothing(toy_yaml, tmp_path, capsys):
    config = toy_yaml(VALIDATED)
    assert cli_run(["train", str(config), "--dry-run", "--device", "cpu", "--out", str(tmp_path / "run")]) == 0
    out = capsys.readouterr().out
    assert "parameters model 114, inference 114" in out and "ms a step; 8 steps" in out and "peak memory" in out
    assert not (tmp_path / "run").exists()
    assert cli_run(["train", str(config), "--dry-run", "--device", "tpu"]) == 1
    assert "--device must be cpu, cuda or mps" in capsys.readouterr().err
    if not torch.cuda.is_available():
        assert cli_run(["train", str(config), "--dry-run", "--device", "cuda"]) == 1
        assert "no CUDA device is available" in capsys.readouterr().err
