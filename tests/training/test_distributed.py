"""Multi-process training: torchrun + DDP on gloo, in real subprocesses."""

import sys

import pytest
import torch
import toy_family  # noqa: F401  (registers the toy families)
from safetensors.torch import load_file

from text2sign.checkpoints import list_checkpoints
from text2sign.cli import run as cli_run
from text2sign.train import torchrun_command
from text2sign.training import load_config, train

DDP = """\
family: toy-regression
data: {num_items: 32, dev_items: 8}
objective: {dump_final_weights: true}
train: {steps: 6, batch_size: 4, lr: 0.05, ema_decay: 0.5, checkpoint_every: 0, validate_every: 2, patience: 5}
"""


@pytest.mark.slow
def test_two_processes_end_with_equal_weights_equal_to_one_big_batch(toy_yaml, tmp_path, child_env):
    config_path = toy_yaml(DDP)
    # `text2sign train --nproc 2` runs
    # `python -m torch.distributed.run --standalone --nproc_per_node 2 -m text2sign.train`.
    code = cli_run(["train", str(config_path), "--nproc", "2", "--out", str(tmp_path / "ddp")])
    assert code == 0
    rank0 = load_file(str(tmp_path / "ddp/rank0.safetensors"))
    rank1 = load_file(str(tmp_path / "ddp/rank1.safetensors"))
    assert rank0.keys() == rank1.keys()
    assert all(torch.equal(rank0[k], rank1[k]) for k in rank0)
    # Each rank reads half of every global batch and DDP averages the gradients, so two processes
    # with batch 4 follow the same path as one process with batch 8.
    single = load_config(config_path, ["train.batch_size=8"])
    train(single, tmp_path / "single")
    reference = load_file(str(tmp_path / "single/rank0.safetensors"))
    for k in reference:
        torch.testing.assert_close(rank0[k], reference[k], rtol=1e-5, atol=1e-6)
    assert [step for step, _ in list_checkpoints(tmp_path / "ddp")] == [6]
    # rank 0 validated every 2 steps while rank 1 waited, and kept the best
    assert (tmp_path / "ddp/checkpoints/best/config.json").is_file()
    state = torch.load(tmp_path / "ddp/checkpoints/step-000006/trainer_state.pt", weights_only=True)
    assert state["world_size"] == 2 and len(state["rng"]) == 2
    assert not torch.equal(state["rng"][0]["torch"], state["rng"][1]["torch"])


def test_torchrun_command():
    cmd = torchrun_command(4, ["cfg.yaml", "--set", "train.lr=0.1"])
    assert cmd == [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "4",
        "-m",
        "text2sign.train",
        "cfg.yaml",
        "--set",
        "train.lr=0.1",
    ]


@pytest.mark.slow
def test_the_latent_flow_trains_under_torchrun(tmp_path, child_env):
    """The latent-flow stage (frozen decoder inside, durations aligned per batch) under two ranks."""
    import yaml

    from text2sign.families.latent_flow import tiny_config
    from text2sign.pipelines import load_pipeline

    raw = tiny_config(tmp_path)
    raw["train"].update(steps=2, batch_size=2, validate_every=2, checkpoint_every=2)
    config_path = tmp_path / "flow.yaml"
    config_path.write_text(yaml.safe_dump(raw))
    assert cli_run(["train", str(config_path), "--nproc", "2", "--out", str(tmp_path / "ddp")]) == 0
    assert [step for step, _ in list_checkpoints(tmp_path / "ddp")] == [2]
    state = torch.load(tmp_path / "ddp/checkpoints/step-000002/trainer_state.pt", weights_only=True)
    assert state["world_size"] == 2
    flow = load_pipeline(str(tmp_path / "ddp"))
    spoken, signed = flow.language_pairs()[0]
    assert flow("ab", spoken, signed, seed=0, steps=2).outputs[0].num_frames > 0


def test_a_video_model_trains_through_the_multi_node_rendezvous(tmp_path, child_env):
    """The README's multi-node command (torchrun's c10d rendezvous at an explicit endpoint) with
    one node of two ranks on this machine: the path several machines take, short of the network."""
    import socket
    import subprocess

    import yaml

    from text2sign.families.video_diffusion import tiny_config
    from text2sign.pipelines import load_pipeline

    raw = tiny_config(tmp_path)
    raw["train"].update(steps=2, batch_size=2, validate_every=2, checkpoint_every=2)
    config_path = tmp_path / "video.yaml"
    config_path.write_text(yaml.safe_dump(raw))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nnodes",
        "1",
        "--nproc-per-node",
        "2",
        "--rdzv-backend",
        "c10d",
        "--rdzv-endpoint",
        f"127.0.0.1:{port}",
        "--rdzv-id",
        "text2sign-test",
        "-m",
        "text2sign.train",
        str(config_path),
        "--out",
        str(tmp_path / "ddp"),
    ]
    done = subprocess.run(command, env=child_env, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    state = torch.load(tmp_path / "ddp/checkpoints/step-000002/trainer_state.pt", weights_only=True)
    assert state["world_size"] == 2
    video = load_pipeline(str(tmp_path / "ddp"))
    spoken, signed = video.language_pairs()[0]
    clip = video(["a"], spoken, signed, seed=0).outputs[0]
    assert clip.frames.shape[1:] == (16, 16, 3)
