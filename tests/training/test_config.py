import json

import pytest
import toy_family

from text2sign.errors import ConfigError
from text2sign.training import apply_overrides, config_to_dict, load_config, parse_experiment
from text2sign.training.config import TrainConfig

BASE = """\
family: toy-regression
model:
  hidden_dim: 8
train:
  steps: 5
"""


def test_reads_sections_into_the_family_dataclasses(toy_yaml):
    config = load_config(toy_yaml(BASE + "  lr: 1e-3\n  betas: [0.5, 0.9]\n", name="my-exp.yaml"))
    assert type(config.model).__name__ == "ToyModelConfig"
    assert config.model.hidden_dim == 8 and config.model.in_dim == 4
    assert type(config.data).__name__ == "ToyDataConfig"
    # YAML reads `1e-3` (no dot) as a string; a float field accepts it as the number it is.
    assert config.train.lr == 1e-3 and isinstance(config.train.lr, float)
    assert config.train.betas == (0.5, 0.9)
    assert config.train.batch_size == TrainConfig().batch_size
    assert config.name == "my-exp"


def test_round_trips_through_plain_data(toy_yaml):
    config = load_config(toy_yaml(BASE + "  optimizers:\n    model: {lr: 0.5}\n"))
    raw = json.loads(json.dumps(config_to_dict(config)))
    assert parse_experiment(raw, "round trip") == config


@pytest.mark.parametrize(
    "extra, message",
    [
        ("  hiden_dim: 3\n", "unknown key 'train.hiden_dim' in "),
        ("  optimizers:\n    model: {lrr: 1.0}\n", "unknown key 'train.optimizers.model.lrr'"),
        ("  batch_size: 2.5\n", "'train.batch_size' in {path} must be an integer, got float 2.5"),
        ("  batch_size: true\n", "'train.batch_size' in {path} must be an integer, got bool True"),
        ("  lr: fast\n", "'train.lr' in {path} must be a finite number, got str 'fast'"),
        ("  betas: [0.9]\n", "'train.betas' in {path} must have 2 items, got 1"),
        ("  precision: fp8\n", "'train.precision' in {path} must be one of 'fp32', 'bf16', 'fp16', got str 'fp8'"),
        ("  grad_accum: 0\n", "'train.grad_accum' in {path} must be >= 1, got 0"),
        ("  ema_decay: 1.5\n", "'train.ema_decay' in {path} must be <= 1.0, got 1.5"),
        ("  optimizers: [1]\n", "'train.optimizers' in {path} must be a mapping, got list [1]"),
    ],
)
def test_bad_values_name_the_key_and_file(toy_yaml, extra, message):
    path = toy_yaml(BASE + extra)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert message.format(path=path) in str(err.value)
    assert "\n" not in str(err.value)


def test_unknown_model_key_and_top_level_key(toy_yaml):
    with pytest.raises(
        ConfigError, match=r"unknown key 'model.hiden_dim' in .*toy.yaml \(known: in_dim, hidden_dim, out_dim\)"
    ):
        load_config(toy_yaml(BASE.replace("hidden_dim", "hiden_dim")))
    with pytest.raises(ConfigError, match="unknown key 'trian'"):
        load_config(toy_yaml(BASE + "trian: {}\n"))
    with pytest.raises(ConfigError, match="'model' in .* must be a section"):
        load_config(toy_yaml("family: toy-regression\nmodel: 3\n"))


def test_family_errors(toy_yaml):
    with pytest.raises(ConfigError, match="missing key 'family'"):
        load_config(toy_yaml("train: {steps: 3}\n"))
    with pytest.raises(ConfigError, match=r"unknown family 'no-such' in .*registered:"):
        load_config(toy_yaml("family: no-such\n"))
    with pytest.raises(ConfigError, match="family 'no_such_module:x' in .* names a module to import"):
        load_config(toy_yaml("family: no_such_module:x\n"))


def test_missing_required_key(toy_yaml):
    from dataclasses import dataclass

    from text2sign.families import register_family

    @dataclass
    class NeedsCorpus:
        corpus: str

    register_family(
        "needs-corpus",
        output="pose",
        pipeline=None,
        model_config=toy_family.ToyModelConfig,
        objective_config=toy_family.ToyObjectiveConfig,
        build=toy_family.build_regression,
        build_model=toy_family.ToyNet,
        data_config=NeedsCorpus,
    )
    with pytest.raises(ConfigError, match=r"missing key 'data.corpus' in .*toy.yaml"):
        load_config(toy_yaml("family: needs-corpus\n"))
    assert load_config(toy_yaml("family: needs-corpus\ndata: {corpus: here}\n")).data.corpus == "here"


def test_set_overrides_go_through_the_same_checks(toy_yaml):
    path = toy_yaml(BASE)
    config = load_config(
        path,
        [
            "model.hidden_dim=256",
            "train.lr=3e-4",
            "train.betas=[0.5, 0.99]",
            "train.grad_clip=null",
            "objective.input_noise=0.5",
            "name=run-a",
        ],
    )
    assert config.model.hidden_dim == 256
    assert config.train.lr == 3e-4
    assert config.train.betas == (0.5, 0.99)
    assert config.train.grad_clip is None
    assert config.objective.input_noise == 0.5
    assert config.name == "run-a"
    with pytest.raises(ConfigError, match="unknown key 'model.hiden_dim'"):
        load_config(path, ["model.hiden_dim=256"])
    with pytest.raises(ConfigError, match="'model.hidden_dim' in .* must be an integer, got str 'big'"):
        load_config(path, ["model.hidden_dim=big"])
    with pytest.raises(ConfigError, match="--set takes key.path=value, got 'model.hidden_dim'"):
        load_config(path, ["model.hidden_dim"])
    with pytest.raises(ConfigError, match="'model.hidden_dim' is a value, not a section"):
        load_config(path, ["model.hidden_dim.x=1"])
    with_init = toy_yaml(BASE + "init:\n  model: runs/a\n  other: runs/b\n", name="with-init.yaml")
    assert load_config(with_init, ["init.other=null"]).init == {"model": "runs/a"}
    with pytest.raises(ConfigError, match="'init' in .* must map names to checkpoint directories"):
        load_config(with_init, ["init.other=3"])


def test_overrides_do_not_touch_the_input():
    raw = {"train": {"lr": 1.0}}
    assert apply_overrides(raw, ["train.lr=2.0", "model.a.b=1"]) == {"train": {"lr": 2.0}, "model": {"a": {"b": 1}}}
    assert raw == {"train": {"lr": 1.0}}


def test_file_errors(tmp_path, toy_yaml):
    with pytest.raises(ConfigError, match="config file not found: .*nope.yaml"):
        load_config(tmp_path / "nope.yaml")
    with pytest.raises(ConfigError, match="is not valid YAML"):
        load_config(toy_yaml("family: [unclosed\n"))
    with pytest.raises(ConfigError, match="must hold a mapping"):
        load_config(toy_yaml("- a\n- b\n"))


def test_unknown_optimizer_group_is_an_error(tmp_path, toy_yaml):
    from text2sign.training import train

    config = load_config(toy_yaml(BASE + "  optimizers:\n    generator: {lr: 0.1}\n"))
    with pytest.raises(
        ConfigError, match="unknown key 'train.optimizers.generator': the objective's optimizer groups are model"
    ):
        train(config, tmp_path / "run")


def test_checks_in_post_init_name_the_section(toy_yaml):
    with pytest.raises(ConfigError, match=r"'objective' in .*toy.yaml: input_noise must be >= 0, got -1.0"):
        load_config(toy_yaml(BASE + "objective: {input_noise: -1.0}\n"))
