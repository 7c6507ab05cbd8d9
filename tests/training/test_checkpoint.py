import json
import shutil

import pytest
import torch
import toy_family

from text2sign.checkpoints import from_pretrained, load_checkpoint, save_checkpoint
from text2sign.errors import CheckpointError
from text2sign.pose.normalize import FeatureStats
from text2sign.training import load_config, read_config, train
from text2sign.training.checkpoint import load_trainer_state

TEXT = """\
family: toy-regression
model: {hidden_dim: 12}
train: {steps: 6, batch_size: 4, lr: 0.05, ema_decay: 0.5, checkpoint_every: 3}
"""


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    path = tmp_path_factory.mktemp("ckpt") / "toy.yaml"
    path.write_text(TEXT)
    config = load_config(path)
    result = train(config, path.parent / "run")
    return config, result


def test_checkpoint_directory_contents(trained):
    config, result = trained
    ckpt = result.checkpoint
    assert sorted(p.name for p in ckpt.iterdir()) == ["config.json", "model.safetensors", "trainer_state.pt"]
    meta = json.loads((ckpt / "config.json").read_text())
    assert meta["format"] == "text2sign-checkpoint" and meta["step"] == 6
    assert meta["model"] == meta["experiment"]["model"] == {"in_dim": 4, "hidden_dim": 12, "out_dim": 2}
    assert meta["family"] == "toy-regression" and meta["version"] == 2
    assert meta["model_class"] == "toy_family.ToyNet"
    # every file as readable as a plain open() makes it (safetensors alone writes 0600)
    modes = {p.name: p.stat().st_mode & 0o777 for p in ckpt.iterdir()}
    assert len(set(modes.values())) == 1 and modes["config.json"] & 0o044, modes
    assert read_config(ckpt) == config


def test_trainer_state_loads_with_weights_only(trained):
    _, result = trained
    state = torch.load(result.checkpoint / "trainer_state.pt", map_location="cpu", weights_only=True)
    assert (state["step"], state["world_size"]) == (6, 1)
    assert set(state) == {
        "step",
        "epoch",
        "batch_in_epoch",
        "world_size",
        "objective",
        "optimizers",
        "schedulers",
        "scaler",
        "ema",
        "validation",
        "rng",
    }
    assert set(state["optimizers"]) == {"model"}
    assert state["ema"]["num_updates"] == 6
    assert len(state["rng"]) == 1 and set(state["rng"][0]) == {"python", "numpy", "torch", "cuda"}


def test_from_pretrained_rebuilds_the_ema_network(trained):
    _, result = trained
    net = from_pretrained(result.checkpoint)
    assert isinstance(net, toy_family.ToyNet) and not net.training
    assert net.config.hidden_dim == 12
    state = load_trainer_state(result.checkpoint)
    ema = state["ema"]["weights"]
    for k, v in net.state_dict().items():
        assert torch.equal(v, ema[k])
    # The raw weights differ from their average: the saved model really is the EMA copy.
    assert not torch.equal(state["objective"]["net.layers.0.weight"], ema["layers.0.weight"])
    x = torch.randn(3, 4)
    reference = toy_family.ToyNet(toy_family.ToyModelConfig(hidden_dim=12))
    reference.load_state_dict(ema)
    assert torch.equal(net(x), reference(x))
    # A run directory resolves to its latest checkpoint.
    assert load_checkpoint(result.run_dir).path == result.checkpoint


def copy_checkpoint(result, tmp_path):
    dst = tmp_path / "ckpt"
    shutil.copytree(result.checkpoint, dst)
    return dst


def edit_config(ckpt, edit):
    meta = json.loads((ckpt / "config.json").read_text())
    edit(meta)
    (ckpt / "config.json").write_text(json.dumps(meta))


def test_hand_edited_config_is_caught(trained, tmp_path):
    _, result = trained
    ckpt = copy_checkpoint(result, tmp_path)
    edit_config(ckpt, lambda e: e["model"].update(hidden_dim=8))
    with pytest.raises(CheckpointError) as err:
        from_pretrained(ckpt)
    assert str(err.value) == (
        f"{ckpt / 'model.safetensors'} does not match the model that config.json describes: "
        "weight 'layers.0.weight' has shape (12, 4) in the file but (8, 4) in the model"
    )
    edit_config(ckpt, lambda e: e["model"].update(hidden_dim=12, extra=1))
    with pytest.raises(CheckpointError, match=r"unknown key 'model.extra' in .*ckpt/config.json"):
        from_pretrained(ckpt)
    edit_config(ckpt, lambda e: e["model"].pop("extra"))
    # Inference reads family, model and inference only: training sections may change freely.
    edit_config(ckpt, lambda e: (e["experiment"]["train"].update(renamed_flag=1), e["experiment"].pop("objective")))
    assert from_pretrained(ckpt).layers[0].weight.shape == (12, 4)
    edit_config(ckpt, lambda e: e.update(family="gone"))
    with pytest.raises(CheckpointError, match="unknown family 'gone'"):
        from_pretrained(ckpt)


def test_weights_from_another_model_are_caught(trained, tmp_path):
    from safetensors.torch import save_file

    _, result = trained
    ckpt = copy_checkpoint(result, tmp_path)
    save_file({"other.weight": torch.zeros(2)}, str(ckpt / "model.safetensors"))
    with pytest.raises(CheckpointError, match="weight 'layers.0.weight' is missing from the file"):
        from_pretrained(ckpt)
    (ckpt / "model.safetensors").write_bytes(b"not safetensors")
    with pytest.raises(CheckpointError, match="model.safetensors is unreadable"):
        from_pretrained(ckpt)


def test_missing_or_broken_checkpoints(trained, tmp_path):
    _, result = trained
    with pytest.raises(CheckpointError, match="checkpoint not found: .*nowhere"):
        from_pretrained(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CheckpointError, match="neither a checkpoint .* nor a run directory with checkpoints"):
        from_pretrained(tmp_path / "empty")
    ckpt = copy_checkpoint(result, tmp_path)
    (ckpt / "config.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="config.json is not valid JSON"):
        from_pretrained(ckpt)
    (ckpt / "config.json").write_text('{"format": "something-else"}')
    with pytest.raises(CheckpointError, match="is not a text2sign checkpoint config"):
        from_pretrained(ckpt)
    shutil.copy(result.checkpoint / "config.json", ckpt / "config.json")
    (ckpt / "model.safetensors").unlink()
    with pytest.raises(CheckpointError, match="is incomplete: model.safetensors is missing"):
        from_pretrained(ckpt)
    (ckpt / "trainer_state.pt").write_bytes(b"garbage")
    with pytest.raises(CheckpointError, match="trainer_state.pt is unreadable"):
        load_trainer_state(ckpt)
    (ckpt / "trainer_state.pt").unlink()
    with pytest.raises(CheckpointError, match="cannot be resumed: trainer_state.pt is missing"):
        load_trainer_state(ckpt)


def test_checkpoint_writes_are_atomic(trained, tmp_path, monkeypatch):
    config, _ = trained
    net = toy_family.ToyNet(config.model)
    stats = FeatureStats(mean=torch.zeros(3).numpy(), std=torch.ones(3).numpy(), layout="holistic-178")
    target = tmp_path / "checkpoints" / "step-000001"
    save_checkpoint(target, config.family, net, config.model, trainer_state={"step": 1}, feature_stats=stats, step=1)
    assert FeatureStats.load(target / "normalization.json").layout == "holistic-178"
    assert load_checkpoint(target).feature_stats.layout == "holistic-178"

    def fail(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", fail)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(target, config.family, net, config.model, trainer_state={"step": 2}, step=2)
    # The old checkpoint is untouched and no temporary directory is left behind.
    assert json.loads((target / "config.json").read_text())["step"] == 1
    assert [p.name for p in target.parent.iterdir()] == ["step-000001"]
    monkeypatch.undo()
    save_checkpoint(target, config.family, net, config.model, trainer_state={"step": 3}, step=3)
    assert json.loads((target / "config.json").read_text())["step"] == 3
    assert [p.name for p in target.parent.iterdir()] == ["step-000001"]
