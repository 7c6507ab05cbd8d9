"""`python -m text2sign.train` (what torchrun runs) takes the same arguments as `text2sign train`."""

import toy_family  # noqa: F401  (registers the toy families)

from text2sign.cli import run as cli_run
from text2sign.train import main as train_main

CONFIG = """\
family: toy-regression
data: {num_items: 32, dev_items: 16}
train: {steps: 8, batch_size: 8, lr: 0.05, ema_decay: 0.0, checkpoint_every: 0, validate_every: 2, keep_last_k: 1}
"""


def test_dry_run_and_device_are_taken_by_both_entry_points(toy_yaml, tmp_path, capsys):
    config = toy_yaml(CONFIG)
    argv = [str(config), "--dry-run", "--device", "cpu", "--set", "train.steps=20", "--out", str(tmp_path / "run")]
    assert train_main(argv) == 0
    module_lines = capsys.readouterr().out.splitlines()
    assert cli_run(["train", *argv]) == 0
    cli_lines = capsys.readouterr().out.splitlines()
    assert module_lines[0] == cli_lines[0] == "toy-regression on cpu: parameters model 114, inference 114"
    assert "20 steps" in module_lines[2] and "20 steps" in cli_lines[2]
    assert not (tmp_path / "run").exists()
    assert train_main([str(config), "--dry-run", "--device", "tpu"]) == 1
    assert capsys.readouterr().err.strip() == "error: --device must be cpu, cuda or mps, got 'tpu'"


def test_a_config_names_a_shipped_model_and_works_from_any_directory(tmp_path, monkeypatch):
    from pathlib import Path

    from text2sign.families.registry import MODELS
    from text2sign.training import load_config

    config = Path(__file__).resolve().parents[2] / "configs" / "fs-latent-flow.yaml"
    monkeypatch.chdir(tmp_path)
    shipped = str(MODELS["fs-gan-nat"].checkpoint)
    assert load_config(config).init["predictor"] == shipped
    assert load_config(config, ["init.predictor=fs-gan-nat"]).init["predictor"] == shipped
    (tmp_path / "fs-gan-nat").mkdir()  # the user's own directory of that name is what they meant
    assert load_config(config, ["init.predictor=fs-gan-nat"]).init["predictor"] == "fs-gan-nat"
    assert "predictor" not in load_config(config, ["init.predictor=null"]).init
