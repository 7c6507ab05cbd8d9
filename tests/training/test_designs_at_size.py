"""Issue 25: the designs' own sizes (configs/designs/), `train --profile`, bf16 autocast on the CPU,
the out-of-memory fallback, TensorBoard sample videos and the diffusion noise panels."""

import json
import math
from pathlib import Path

import pytest
import torch
import toy_family  # registers the toy families

from text2sign.cli import run as cli_run
from text2sign.errors import ConfigError, TrainingError
from text2sign.families import get_family
from text2sign.training import load_config, parse_experiment, train
from text2sign.training.loop import is_out_of_memory, split_batch
from text2sign.training.profile import gpu_hours, profile, profile_overrides, report_dict, report_lines

ROOT = Path(__file__).resolve().parents[2]
DESIGNS = sorted((ROOT / "configs/designs").glob("*.yaml"))
TOY = """\
family: toy-regression
data: {num_items: 32}
objective: {samples: true}
train: {steps: 4, batch_size: 8, grad_accum: 2, lr: 0.01, ema_decay: 0.0, checkpoint_every: 0, sample_every: 0}
"""


def test_profile_reports_every_field(toy_yaml):
    report = profile(load_config(toy_yaml(TOY)), 3, "toy.yaml")
    assert report.family == "toy-regression" and report.device == "cpu"
    assert report.parameters == {"model": 114, "inference": 114}
    assert report.steps == 3 and report.batch_size == 16 and report.micro_batch == 8
    assert report.seconds_per_step > 0 and report.first_step_seconds > 0
    assert report.samples_per_second == pytest.approx(16 / report.seconds_per_step)
    # Two micro-batches of 8 through Linear(4, 16) and Linear(16, 2), forward and backward.
    assert report.flops_per_step > 0
    assert report.memory == "rss" and report.peak_memory_mb > 0
    assert report.peak_memory_with_sampling_mb >= report.peak_memory_mb
    assert report.samples_drawn == 2 and report.sample_seconds > 0  # a pose and a video; the scalar is not one
    assert report.precision == "fp32" and not report.gradient_checkpointing and report.frame_chunk is None
    assert report.schedule_steps == 4 and report.load_average >= 0
    assert report.activations_mb > 0
    assert gpu_hours(report) == pytest.approx(report.flops_per_step * 4 / (989e12 * 0.4) / 3600)
    text = "\n".join(report_lines(report))
    for part in ("parameters model 114", "samples/s", "GFLOP a step", "peak memory (rss)", "on an H100"):
        assert part in text
    json.dumps(report_dict(report))


def test_profile_command_prints_the_report_and_writes_nothing(toy_yaml, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = toy_yaml(TOY + 'note: "a stand-in corpus"\n')
    assert cli_run(["train", str(cfg), "--profile", "2", "--json", "--precision", "bf16"]) == 0
    out = capsys.readouterr()
    report = json.loads(out.out)
    assert report["steps"] == 2 and report["precision"] == "bf16 autocast"
    assert report["parameters"]["inference"] == 114 and report["gpu_hours_estimate"] > 0
    assert "note: a stand-in corpus" in out.err
    assert not (tmp_path / "runs").exists()
    # Toggles a family cannot take are one line.
    assert cli_run(["train", str(cfg), "--profile", "1", "--checkpointing"]) == 1
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        "error: train.gradient_checkpointing: the toy-regression family's networks do not support it"
    )
    assert cli_run(["train", str(cfg), "--json"]) == 1
    assert capsys.readouterr().err.strip().splitlines()[-1] == "error: --json is for --profile N and --count-only"


def test_profile_overrides():
    assert profile_overrides() == []
    assert profile_overrides(True, 4, "bf16") == [
        "train.gradient_checkpointing=true",
        "model.frame_chunk=4",
        "train.precision=bf16",
        "train.cpu_autocast=true",
    ]
    assert profile_overrides(precision="fp32") == ["train.precision=fp32", "train.cpu_autocast=false"]
    with pytest.raises(ConfigError, match="--precision must be one of fp32, bf16, fp16"):
        profile_overrides(precision="int8")


def test_count_only_measures_a_video_step_on_the_meta_device(tmp_path, capsys, monkeypatch):
    from text2sign.training.profile import count_step

    raw = get_family("video-diffusion").tiny(tmp_path)
    counted = count_step(parse_experiment(raw, "tiny"))
    assert counted["parameters"] > 0 and counted["flops_per_step"] > 0 and counted["activations_mb"] > 0
    assert counted["memory_estimate_mb"] > counted["parameters"] * 20 / 2**20
    # Twice the frames: twice the per-frame work, at least.
    raw["model"]["frames"] = 8
    assert count_step(parse_experiment(raw, "tiny"))["flops_per_step"] >= 2 * counted["flops_per_step"]
    monkeypatch.chdir(tmp_path)
    (tmp_path / "toy.yaml").write_text(TOY)
    assert cli_run(["train", "toy.yaml", "--count-only"]) == 1
    assert capsys.readouterr().err.strip() == "error: --count-only is for video-diffusion configs, not toy-regression"


# --- bf16 autocast on the CPU ---------------------------------------------------------------------


def _first_layer_dtypes(config, tmp_path) -> set:
    net_dtypes = set()
    handles = []

    def attach(info):
        if not handles:
            handles.append(info.objective.net.layers[0].register_forward_hook(lambda m, i, o: net_dtypes.add(o.dtype)))

    result = train(config, tmp_path / "run", callbacks=[attach], quiet=True)
    assert result.step == config.train.steps
    return net_dtypes


def test_cpu_autocast_is_opt_in(toy_yaml, tmp_path):
    # precision bf16 alone (what GPU configs say) keeps the CPU in fp32, as before.
    # (No samples: drawing them is inference, which never autocasts.)
    default = load_config(toy_yaml(TOY), ["train.precision=bf16", "objective.samples=false"])
    assert _first_layer_dtypes(default, tmp_path / "a") == {torch.float32}
    autocast = load_config(
        toy_yaml(TOY), ["train.precision=bf16", "train.cpu_autocast=true", "objective.samples=false"]
    )
    assert _first_layer_dtypes(autocast, tmp_path / "b") == {torch.bfloat16}
    with pytest.raises(ConfigError, match="train.cpu_autocast is for precision bf16"):
        load_config(toy_yaml(TOY), ["train.precision=fp16", "train.cpu_autocast=true"])


def test_bf16_cpu_autocast_trains_a_video_diffusion_step(tmp_path):
    raw = get_family("video-diffusion").tiny(tmp_path)
    raw["train"].update(precision="bf16", cpu_autocast=True, steps=2)
    losses = []
    result = train(
        parse_experiment(raw, "tiny"), tmp_path / "run", callbacks=[lambda i: losses.append(i.losses)], quiet=True
    )
    assert result.step == 2
    assert all(math.isfinite(v) for step in losses for v in step.values())


# --- out of memory --------------------------------------------------------------------------------


@pytest.fixture
def oom_above(monkeypatch):
    """The toy regression runs out of memory on micro-batches above a size."""
    limit = {"size": None, "seen": []}
    forward = toy_family.ToyRegression.forward

    def tight(self, batch, group):
        limit["seen"].append(batch[0].shape[0])
        if limit["size"] is not None and batch[0].shape[0] > limit["size"]:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return forward(self, batch, group)

    monkeypatch.setattr(toy_family.ToyRegression, "forward", tight)
    return limit


def test_out_of_memory_halves_the_micro_batch_and_keeps_the_effective_batch(toy_yaml, tmp_path, oom_above, capsys):
    config = load_config(toy_yaml(TOY))
    losses_full = []
    full = train(config, tmp_path / "full", callbacks=[lambda i: losses_full.append(i.losses)], quiet=True)
    oom_above["size"], oom_above["seen"] = 2, []
    losses_tight = []
    tight = train(config, tmp_path / "tight", callbacks=[lambda i: losses_tight.append(i.losses)], quiet=True)
    assert tight.step == full.step == 4
    # 8 -> 4 -> 2 in the first step, then every step at 2: 2 loaded batches x 4 pieces.
    assert oom_above["seen"][:3] == [8, 4, 2] and oom_above["seen"][-8:] == [2] * 8
    # The same mean loss over the same 16 items a step, so the same training.
    for a, b in zip(losses_full, losses_tight, strict=True):
        assert a["model/loss"] == pytest.approx(b["model/loss"], rel=1e-5)
    err = capsys.readouterr().err
    note = "note: out of memory at step 1 (CUDA out of memory. Tried to allocate 2.00 GiB); micro-batches of 8 -> 4"
    assert note in err
    assert "effective batch still 16" in err


def test_out_of_memory_that_halving_cannot_fix_is_one_line(toy_yaml, tmp_path, oom_above):
    oom_above["size"] = 0
    with pytest.raises(TrainingError, match=r"out of memory at step 1 with micro-batches of 1 \(the micro-batch is"):
        train(load_config(toy_yaml(TOY)), tmp_path / "a", quiet=True)
    with pytest.raises(TrainingError, match=r"\(train.adapt_batch_on_oom is off\)"):
        train(load_config(toy_yaml(TOY), ["train.adapt_batch_on_oom=false"]), tmp_path / "b", quiet=True)
    assert not (tmp_path / "a").exists()


def test_out_of_memory_is_recognised_and_batches_split():
    assert is_out_of_memory(torch.OutOfMemoryError("CUDA out of memory"))
    assert is_out_of_memory(RuntimeError("[enforce fail at alloc.cpp:117] DefaultCPUAllocator: can't allocate memory"))
    assert not is_out_of_memory(RuntimeError("mat1 and mat2 shapes cannot be multiplied"))
    from text2sign.objectives.video_diffusion import VideoBatch

    batch = VideoBatch(torch.zeros(5, 3, 2, 4, 4), list("abcde"), ["ase"] * 5, encoded=True)
    first, second = split_batch(batch, 2)
    assert first.videos.shape[0] == 2 and second.videos.shape[0] == 3
    assert first.texts == ["a", "b"] and second.languages == ["ase"] * 3 and second.encoded
    x, y = split_batch((torch.arange(4), torch.ones(4, 2)), 2)
    assert torch.equal(x[0], torch.tensor([0, 1])) and y[1].shape == (2, 2)
    x, y = split_batch([torch.arange(4), torch.ones(4, 2)], 2)  # what default collation makes of (x, y) items
    assert isinstance(x, list) and torch.equal(x[0], torch.tensor([0, 1])) and y[1].shape == (2, 2)
    with pytest.raises(TypeError, match="cannot be cut"):
        split_batch(torch.zeros(1, 3), 2)


# --- TensorBoard: sample videos and noise panels --------------------------------------------------


def _events(run_dir):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(run_dir / "tensorboard"), size_guidance={"images": 0, "histograms": 0})
    events.Reload()
    return events


def test_video_samples_go_to_tensorboard_as_videos(toy_yaml, tmp_path, monkeypatch):
    from text2sign.training.logs import RunLogger

    calls = []
    add_video = RunLogger.add_video
    monkeypatch.setattr(RunLogger, "add_video", lambda self, *a: calls.append(a[0]) or add_video(self, *a))
    train(load_config(toy_yaml(TOY), ["train.steps=2"]), tmp_path / "run", quiet=True)
    assert calls == ["videos/video"]  # the video sample, not the pose sample
    events = _events(tmp_path / "run")
    (video,) = events.Images("videos/video")
    assert video.encoded_image_string.startswith(b"GIF8") and (video.width, video.height) == (32, 24)


def test_diffusion_validation_logs_noise_panels(tmp_path):
    raw = get_family("video-diffusion").tiny(tmp_path)
    raw["train"].update(steps=1)
    train(parse_experiment(raw, "tiny"), tmp_path / "run", quiet=True)
    events = _events(tmp_path / "run")
    scalars = set(events.Tags()["scalars"])
    # Five noise levels of the tiny schedule's 100 timesteps: 10, 30, 50, 70, 90.
    for t in ("0010", "0050", "0090"):
        assert {f"noise/loss_t{t}", f"noise/snr_db_t{t}", f"noise/prediction_std_t{t}"} <= scalars
        assert f"noise_hist/target_t{t}" in events.Tags()["histograms"]
    snr = [events.Scalars(f"noise/snr_db_t{t}")[0].value for t in ("0010", "0050", "0090")]
    assert snr == sorted(snr, reverse=True)  # more noise, lower SNR


# --- the designs' configs -------------------------------------------------------------------------


def test_there_is_a_config_for_every_design():
    names = {p.stem for p in DESIGNS}
    assert {
        "gan-nat",
        "unet3d-video",
        "unet3d-small",
        "unet3d-standard",
        "unet3d-large",
        "dit-frame",
        "dit-3d",
        "dit-factorized",
        "latent-ae",
        "latent-regressor",
        "latent-flow",
    } <= names


@pytest.mark.parametrize("path", DESIGNS, ids=[p.stem for p in DESIGNS])
def test_design_configs_parse(path):
    config = load_config(path)
    assert config.name == f"design-{path.stem}"
    assert config.note, "a design config says in one line what it runs on"
    if config.family == "video-diffusion":
        assert config.train.precision == "bf16" and not config.train.cpu_autocast


def _stage_one_ready(config) -> bool:
    return all((ROOT / path).exists() for path in config.init.values())


@pytest.mark.slow
@pytest.mark.parametrize("path", DESIGNS, ids=[p.stem for p in DESIGNS])
def test_design_configs_build(path, monkeypatch):
    """Every design builds at its own size (the latent stages once runs/design-latent-ae exists)."""
    monkeypatch.chdir(ROOT)
    config = load_config(path)
    if not (ROOT / config.data.corpus).exists():
        pytest.skip(f"{config.data.corpus} is not here")
    if not _stage_one_ready(config):
        pytest.skip(f"train {', '.join(config.init.values())} first (configs/designs/latent-ae.yaml)")
    experiment = get_family(config.family).build(config)
    assert sum(p.numel() for p in experiment.objective.inference_model().parameters()) > 1_000_000
