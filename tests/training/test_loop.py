import numpy as np
import pytest
import torch
import toy_family  # noqa: F401  (registers the toy families)
from PIL import Image

from text2sign.checkpoints import list_checkpoints
from text2sign.errors import CheckpointError, ConfigError
from text2sign.training import load_config, train

REGRESSION = """\
family: toy-regression
data: {num_items: 40}
objective: {input_noise: 0.1}
train: {steps: 20, batch_size: 8, grad_accum: 2, lr: 0.01, warmup_steps: 3, ema_decay: 0.9,
        checkpoint_every: 0, log_every: 5}
"""
GAN = """\
family: toy-gan
data: {num_items: 40}
train: {steps: 20, batch_size: 8, lr: 0.01, warmup_steps: 3, checkpoint_every: 0,
        optimizers: {discriminator: {lr: 0.005}}}
"""


def run(config, run_dir, resume=None, stop_after=None):
    """Train and return (result, losses per step); `stop_after` raises KeyboardInterrupt there, like Ctrl-C."""
    losses = []

    def record(info):
        losses.append(info.losses)
        if info.step == stop_after:
            raise KeyboardInterrupt

    return train(config, run_dir, resume=resume, callbacks=[record]), losses


def objective_weights(checkpoint):
    return torch.load(checkpoint / "trainer_state.pt", weights_only=True)["objective"]


@pytest.mark.parametrize("text", [REGRESSION, GAN], ids=["regression", "gan"])
def test_interrupt_and_resume_equals_uninterrupted_run(toy_yaml, tmp_path, text):
    config = load_config(toy_yaml(text))
    full, full_losses = run(config, tmp_path / "full")
    assert full.step == 20 and not full.interrupted

    first, first_losses = run(config, tmp_path / "split", stop_after=10)
    assert first.interrupted and first.step == 10
    assert first.checkpoint.name == "step-000010"
    # 40 items / batch 8 = 5 batches per epoch: step 10 stops mid-epoch for the regression
    # (2 micro-batches per step), at an epoch boundary for the GAN.
    second, second_losses = run(config, tmp_path / "split", resume=tmp_path / "split")
    assert second.step == 20 and not second.interrupted

    assert len(full_losses) == 20
    assert first_losses + second_losses == full_losses
    a, b = objective_weights(full.checkpoint), objective_weights(second.checkpoint)
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_gradient_accumulation_matches_a_larger_batch(toy_yaml, tmp_path):
    text = "family: toy-regression\ndata: {num_items: 16}\ntrain: {steps: 6, lr: 0.05, checkpoint_every: 0}\n"
    accumulated = load_config(toy_yaml(text), ["train.batch_size=1", "train.grad_accum=2"])
    large = load_config(toy_yaml(text), ["train.batch_size=2", "train.grad_accum=1"])
    r1, l1 = run(accumulated, tmp_path / "accum")
    r2, l2 = run(large, tmp_path / "large")
    a, b = objective_weights(r1.checkpoint), objective_weights(r2.checkpoint)
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=1e-5, atol=1e-6)
    assert [x["model/loss"] for x in l1] == pytest.approx([x["model/loss"] for x in l2], rel=1e-5)


def test_loss_goes_down(toy_yaml, tmp_path):
    config = load_config(
        toy_yaml(
            "family: toy-regression\ntrain: {steps: 80, batch_size: 16, lr: 0.03, "
            "warmup_steps: 5, checkpoint_every: 0}\n"
        )
    )
    _, losses = run(config, tmp_path / "run")
    values = [x["model/loss"] for x in losses]
    assert np.mean(values[-10:]) < 0.3 * np.mean(values[:10])


def test_keep_last_k_checkpoints(toy_yaml, tmp_path):
    config = load_config(toy_yaml(REGRESSION), ["train.steps=12", "train.checkpoint_every=3", "train.keep_last_k=2"])
    result, _ = run(config, tmp_path / "run")
    assert [step for step, _ in list_checkpoints(tmp_path / "run")] == [9, 12]
    assert result.checkpoint == tmp_path / "run/checkpoints/step-000012"
    assert not [p for p in (tmp_path / "run/checkpoints").iterdir() if p.name.startswith(".")]


def test_tensorboard_scalars_and_sample_gifs(toy_yaml, tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    config = load_config(
        toy_yaml(REGRESSION),
        ["train.steps=10", "train.sample_every=5", "objective.samples=true", "train.histogram_every=5"],
    )
    run(config, tmp_path / "run")
    events = EventAccumulator(str(tmp_path / "run/tensorboard"), size_guidance={"tensors": 0, "histograms": 0})
    events.Reload()
    scalars = set(events.Tags()["scalars"])
    assert {
        "train/model/loss",
        "train/model/mae",
        "lr/model",
        "grad_norm/model",
        "perf/steps_per_s",
        "perf/peak_rss_mb",
        "parameters/model",
        "parameters/inference",
        "sample/output_norm",
    } <= scalars
    assert events.Scalars("parameters/inference")[0].value == 4 * 16 + 16 + 16 * 2 + 2
    assert {"weights/layers.0.weight", "weights/layers.2.bias"} <= set(events.Tags()["histograms"])
    assert [e.step for e in events.Histograms("weights/layers.0.weight")] == [5, 10]
    texts = {
        tag: events.Tensors(tag)[0].tensor_proto.string_val[0].decode()
        for tag in ("config/text_summary", "parameters/text_summary")
    }
    assert "    family: toy-regression" in texts["config/text_summary"]
    assert "| inference | 114 |" in texts["parameters/text_summary"]
    assert [e.step for e in events.Scalars("train/model/loss")] == [5, 10]
    assert {"samples/pose sample", "samples/video"} <= set(events.Tags()["images"])
    for step in (5, 10):
        with Image.open(tmp_path / f"run/samples/step-{step:06d}/pose_sample.gif") as gif:
            assert gif.size == (256, 256) and gif.n_frames > 1
        with Image.open(tmp_path / f"run/samples/step-{step:06d}/video.gif") as gif:
            assert gif.size == (32, 24) and gif.n_frames == 3
    assert (tmp_path / "run/config.yaml").is_file()


def test_samples_do_not_change_training(toy_yaml, tmp_path):
    config = load_config(toy_yaml(REGRESSION), ["train.steps=6"])
    sampled = load_config(toy_yaml(REGRESSION), ["train.steps=6", "train.sample_every=2", "objective.samples=true"])
    assert run(config, tmp_path / "a")[1] == run(sampled, tmp_path / "b")[1]


def test_refuses_to_overwrite_a_run_and_to_resume_a_different_model(toy_yaml, tmp_path):
    config = load_config(toy_yaml(REGRESSION), ["train.steps=2"])
    run(config, tmp_path / "run")
    with pytest.raises(ConfigError, match="already holds checkpoints: continue with --resume"):
        run(config, tmp_path / "run")
    other = load_config(toy_yaml(REGRESSION), ["train.steps=4", "model.hidden_dim=8"])
    with pytest.raises(
        CheckpointError, match=r"differs from the checkpoint's at 'model.hidden_dim' \(16 in the checkpoint, 8 now\)"
    ):
        run(other, tmp_path / "run", resume=tmp_path / "run")
    with pytest.raises(
        ConfigError, match="step-000002 is at step 2 and train.steps is 2: raise it, e.g. --set train.steps=4"
    ):
        run(config, tmp_path / "run", resume=tmp_path / "run")
    longer = load_config(toy_yaml(REGRESSION), ["train.steps=4"])
    result, losses = run(longer, tmp_path / "run", resume=tmp_path / "run")
    assert result.step == 4 and len(losses) == 2
    state_file = result.checkpoint / "trainer_state.pt"
    state = torch.load(state_file, weights_only=True)
    state["optimizers"] = {"generator": state["optimizers"]["model"]}
    torch.save(state, state_file)
    with pytest.raises(
        CheckpointError, match="cannot resume .*step-000004: its trainer state does not fit this experiment"
    ):
        run(load_config(toy_yaml(REGRESSION), ["train.steps=6"]), tmp_path / "run", resume=result.checkpoint)


def test_too_little_data_is_a_config_error(toy_yaml, tmp_path):
    config = load_config(toy_yaml(REGRESSION), ["data.num_items=4"])
    with pytest.raises(ConfigError, match="the training data has 4 items: too few for train.batch_size=8"):
        run(config, tmp_path / "run")


class Numbers(torch.utils.data.Dataset):
    def __init__(self, n):
        self.n = n
        self.epochs = []

    def set_epoch(self, epoch):
        self.epochs.append(epoch)

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return i


def test_epoch_order_is_seeded_sharded_and_skippable():
    from text2sign.training.loader import BatchStream, epoch_loader

    data = Numbers(10)
    full = [b.tolist() for b in epoch_loader(data, 2, epoch=1, seed=7, rank=0, world_size=1)]
    assert data.epochs == [1]
    assert sorted(i for batch in full for i in batch) == list(range(10))
    assert [b.tolist() for b in epoch_loader(data, 2, epoch=1, seed=7, rank=0, world_size=1)] == full
    assert [b.tolist() for b in epoch_loader(data, 2, epoch=2, seed=7, rank=0, world_size=1)] != full
    assert [b.tolist() for b in epoch_loader(data, 2, epoch=1, seed=7, rank=0, world_size=1, skip_batches=3)] == full[
        3:
    ]
    # Two ranks split the same permutation: disjoint halves, equal batch counts (the odd item is dropped).
    shards = [[i for b in epoch_loader(data, 2, 1, 7, r, 2) for i in b.tolist()] for r in (0, 1)]
    assert len(shards[0]) == len(shards[1]) == 4 and not set(shards[0]) & set(shards[1])

    stream = BatchStream(lambda ep, skip: epoch_loader(data, 4, ep, 7, 0, 1, skip))
    taken = [stream.take(1)[0].tolist() for _ in range(5)]  # 2 batches per epoch
    assert stream.position == (2, 1)
    resumed = BatchStream(lambda ep, skip: epoch_loader(data, 4, ep, 7, 0, 1, skip), epoch=1, batch_in_epoch=1)
    assert [resumed.take(1)[0].tolist() for _ in range(2)] == taken[3:5]
