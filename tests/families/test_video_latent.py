"""Latent video diffusion on a trained per-frame autoencoder: the `video-ae` stage and
`init: {autoencoder: RUN}` in the video-diffusion family."""

import shutil
import sys

import numpy as np
import pytest
import torch

pytest.importorskip("diffusers")

from text2sign.checkpoints import load_checkpoint
from text2sign.data.video_corpus import VideoCorpus, fit_frames, frames_to_unit
from text2sign.data.video_frames import SingleFrames
from text2sign.errors import ConfigError
from text2sign.families import MODELS, get_family
from text2sign.families.video_diffusion import tiny_config as tiny_video_config
from text2sign.models.frame_codec import FrameAutoencoder, FrameAutoencoderConfig
from text2sign.models.video_diffusion import VideoDiffusionConfig
from text2sign.objectives.frame_autoencoder import FrameAutoencoderObjective, FrameAutoencoderObjectiveConfig
from text2sign.pipelines import list_models, load_pipeline
from text2sign.testing import tiny_video_corpus
from text2sign.training import parse_experiment, train

AE = {"channels": [8, 8], "latent_channels": 2, "norm_groups": 4}


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("video-latent")


@pytest.fixture(scope="module")
def autoencoder_run(workdir):
    """The tiny video-ae trained for a few steps: enough for latents that vary."""
    raw = get_family("video-ae").tiny(workdir)
    raw["train"] = {**raw["train"], "steps": 4, "validate_every": 4, "checkpoint_every": 4}
    run = workdir / "ae"
    train(parse_experiment(raw, source="test"), run)
    return run


def latent_config(workdir, autoencoder, **model):
    raw = tiny_video_config(workdir)
    raw["init"] = {"autoencoder": str(autoencoder)}
    raw["model"] = {**raw["model"], "patch": 2, **model}
    return raw


def test_single_frames_are_the_corpus_frames_in_unit_range(workdir):
    corpus = VideoCorpus.load(tiny_video_corpus(workdir))
    items = corpus.split("train")
    every_third = SingleFrames(corpus, items, 16, stride=3)
    assert len(every_third) == sum(len(range(0, i.num_frames, 3)) for i in items)
    second_clip_frame_3 = every_third[len(range(0, items[0].num_frames, 3)) + 1]
    expected = corpus.frames(items[1])[3].astype(np.float32).transpose(2, 0, 1) / 127.5 - 1.0
    assert second_clip_frame_3.shape == (3, 16, 16) and torch.allclose(second_clip_frame_3, torch.from_numpy(expected))
    assert len(SingleFrames(corpus, items, 8, limit=5)) == 5 and SingleFrames(corpus, items, 8, limit=5)[0].shape == (
        3,
        8,
        8,
    )


def test_autoencoder_config_errors_are_one_line():
    with pytest.raises(ConfigError, match="not divisible by model.norm_groups 16"):
        FrameAutoencoderConfig(channels=[32, 40])
    with pytest.raises(ConfigError, match="do not halve 2 times"):
        FrameAutoencoderConfig(size=30, channels=[16, 16, 16])
    with pytest.raises(ConfigError, match="two latent spaces"):
        VideoDiffusionConfig(vae="sd", autoencoder=FrameAutoencoderConfig())


def test_a_video_model_diffuses_over_the_trained_autoencoder_and_loads_alone(workdir, autoencoder_run):
    family = get_family("video-diffusion")
    config = parse_experiment(latent_config(workdir, autoencoder_run), source="test")
    experiment = family.build(config)
    net = experiment.objective.net
    ae = load_checkpoint(autoencoder_run).model
    # The autoencoder's weights are copied in, and kept in the model's own state.
    ae_state = ae.vae.state_dict()
    own = {k.removeprefix("frame_vae.vae."): v for k, v in net.state_dict().items() if k.startswith("frame_vae.vae.")}
    assert own.keys() == ae_state.keys() and all(torch.equal(own[k], ae_state[k]) for k in own)
    # Building encodes nothing (a dry run needs one batch); the loop's prepare encodes every clip once
    # and measures the latents' spread: what a batch holds is then what encoding the clip now gives,
    # at unit spread.
    assert net.config.autoencoder.scaling_factor == 1.0 and not experiment.train_data.encoded.any()
    experiment.prepare()
    assert experiment.train_data.encoded.all()
    scaling = net.config.autoencoder.scaling_factor
    assert scaling != 1.0 and net.frame_vae.scaling == scaling
    latents = np.stack([experiment.train_data[i][0] for i in range(len(experiment.train_data))])
    assert latents.shape[1:] == (2, 4, 8, 8) and np.std(latents) == pytest.approx(1.0, rel=1e-3)
    corpus = VideoCorpus.load(config.data.corpus)
    first = corpus.split("train")[0]
    video = torch.from_numpy(frames_to_unit(fit_frames(corpus.frames(first), 4)))[None]
    assert torch.allclose(net.to_latent(video)[0], torch.from_numpy(latents[0]), atol=1e-5)
    batch = experiment.collate_fn([experiment.train_data[0], experiment.train_data[1]])
    assert batch.encoded and float(experiment.objective(batch, "model")["loss"].detach()) > 0

    run = workdir / "latent-video"
    result = train(config, run)
    moved = workdir / "ae-moved"
    shutil.move(autoencoder_run, moved)  # the model must not need the autoencoder's run any more
    try:
        checkpoint = load_checkpoint(result.checkpoint)
        assert checkpoint.model.config.autoencoder.scaling_factor == pytest.approx(scaling)
        pipeline = load_pipeline(str(result.checkpoint))
        clip = pipeline(["ab"], "en", "ase", seed=0).outputs[0]
        assert clip.frames.shape == (4, 16, 16, 3) and clip.frames.dtype == np.uint8
    finally:
        shutil.move(moved, autoencoder_run)


def test_init_autoencoder_is_a_video_ae_or_a_latent_model_that_carries_one_of_the_model_size(
    workdir, autoencoder_run, tmp_path
):
    family = get_family("video-diffusion")
    with pytest.raises(ConfigError, match="learnt 16 px frames"):
        family.build(parse_experiment(latent_config(workdir, autoencoder_run, size=32), source="test"))
    other = tiny_video_config(workdir)
    other["train"] = {**other["train"], "steps": 1, "checkpoint_every": 1}
    not_an_ae = tmp_path / "pixels"
    train(parse_experiment(other, source="test"), not_an_ae)
    with pytest.raises(ConfigError, match="is a video-diffusion checkpoint without a frame autoencoder"):
        family.build(parse_experiment(latent_config(workdir, not_an_ae), source="test"))
    # A latent model's own autoencoder is reused as it was trained (fs-video's, for fs-pose-video).
    latent = latent_config(workdir, autoencoder_run)
    latent["train"] = {**latent["train"], "steps": 1, "checkpoint_every": 1}
    train(parse_experiment(latent, source="test"), tmp_path / "latent")
    again = family.build(parse_experiment(latent_config(workdir, tmp_path / "latent"), source="test"))
    reused = again.objective.net.frame_vae.vae.state_dict()
    trained = load_checkpoint(autoencoder_run).model.vae.state_dict()
    assert all(torch.equal(reused[k], trained[k]) for k in trained)


def test_motion_weight_counts_each_pixel_by_its_distance_from_the_mean_frame():
    torch.manual_seed(0)
    net = FrameAutoencoder(FrameAutoencoderConfig(size=8, channels=[8, 8], latent_channels=2, norm_groups=4))
    frames = torch.zeros(1, 3, 8, 8)
    frames[..., 0, 0] = 1.0  # the one pixel away from the (all-zero) mean frame, by 1
    config = FrameAutoencoderObjectiveConfig(motion_weight=9.0, kl_weight=0.0)
    objective = FrameAutoencoderObjective(net, config, mean_frame=torch.zeros(3, 8, 8)).eval()
    with torch.no_grad():
        reconstructions, _ = net(frames, sample=False)
        weight = torch.ones(8, 8)
        weight[0, 0] = 10.0
        expected = ((reconstructions - frames).abs() * weight).sum() / (3 * weight.sum())
        assert float(objective(frames, "model")["rec"]) == pytest.approx(float(expected), rel=1e-5)
    with pytest.raises(ValueError, match="mean frame"):
        FrameAutoencoderObjective(net, config)


def test_the_shipped_fs_video_writes_an_mp4_of_its_frames(tmp_path):
    import av

    from text2sign.cli import run

    out = tmp_path / "hello.mp4"
    assert run(["generate", "hello", "--model", "fs-video", "--steps", "2", "-o", str(out)]) == 0
    with av.open(str(out)) as container:
        stream = container.streams.video[0]
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(stream)]
        rate = float(stream.average_rate)
    config = load_checkpoint(MODELS["fs-video"].checkpoint).model_config
    assert len(frames) == config.frames == 48 and frames[0].shape == (32, 32, 3) and rate == pytest.approx(12.5)


def test_models_lists_fs_video_where_diffusers_is_missing(monkeypatch):
    monkeypatch.setitem(sys.modules, "diffusers", None)
    rows = {row.name: row for row in list_models()}
    assert "cannot load here" in rows["fs-video"].about and "text2sign[video]" in rows["fs-video"].about
    assert ("en", "ase") in rows["fs-video"].languages and rows["fs-video"].output == "video"
    assert rows["concat"].default
