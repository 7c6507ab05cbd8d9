"""The latent-flow stages beyond the family contract: masking, shapes, sampling options, sync, prior."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from text2sign.errors import Text2SignError
from text2sign.models.latent import LatentAutoencoderConfig, PoseAutoencoder
from text2sign.objectives.latent import AutoencoderObjective, AutoencoderObjectiveConfig
from text2sign.pipelines.latent import sync_loss
from text2sign.schedulers.flow import euler_sample

LAYOUT = "holistic-178"


def tiny_ae(downsample: int = 2) -> PoseAutoencoder:
    cfg = LatentAutoencoderConfig(
        d_model=16,
        heads=2,
        encoder_layers=1,
        latent_dim=4,
        downsample=downsample,
        feature_dim=178 * 3,
        layout=LAYOUT,
        fps=25.0,
    )
    return PoseAutoencoder(cfg)


@pytest.mark.parametrize("downsample", [1, 2, 4])
def test_autoencoder_latents_are_downsampled_and_decoded_back_to_every_frame(downsample):
    torch.manual_seed(0)
    ae = tiny_ae(downsample).eval()
    features, mask = torch.randn(2, 11, 178 * 3), torch.ones(2, 11, dtype=torch.bool)
    mask[1, 7:] = False
    recon, visibility, latents = ae(features, mask)
    assert latents.shape == (2, -(-11 // downsample), 4)
    assert recon.shape == features.shape and visibility.shape == (2, 11, 4)
    assert torch.all(recon[1, 7:] == 0)


def batch_with_hidden_hand():
    from text2sign.data.torch_data import PoseBatch

    features = torch.randn(2, 9, 178 * 3)
    joint_mask = torch.ones(2, 9, 178, dtype=torch.bool)
    joint_mask[:, :, 136:157] = False  # the left hand out of view
    return PoseBatch(
        features,
        joint_mask,
        torch.ones(2, 9, dtype=torch.bool),
        torch.tensor([9, 9]),
        ["ab", "cd"],
        ["", ""],
        ["ase", "ase"],
        ["en", "en"],
        ["0", "1"],
    )


def test_unobserved_joints_never_enter_the_loss_and_errors_are_reported_per_group():
    torch.manual_seed(0)
    objective = AutoencoderObjective(tiny_ae(), AutoencoderObjectiveConfig()).eval()
    batch = batch_with_hidden_hand()
    first = objective(batch)
    batch.features[:, :, 136 * 3 : 157 * 3] = 1e3  # whatever a hidden joint holds
    # The encoder reads it; the loss terms must not compare against it.
    assert float(first["rec_left_hand"]) == 0.0
    assert {"rec_body", "rec_face", "rec_left_hand", "rec_right_hand"} <= set(first)
    second = objective(batch)
    assert float(second["rec_left_hand"]) == 0.0 and torch.isfinite(second["loss"])


def test_euler_follows_the_velocity_and_guides_only_inside_its_window():
    z = torch.zeros(1, 2, 3)
    out = euler_sample(lambda z, t, h: torch.ones_like(z), z, 4)
    assert torch.allclose(out, torch.ones_like(z))
    calls = []
    euler_sample(
        lambda z, t, h: torch.zeros_like(z),
        z,
        4,
        guide=lambda z, t: calls.append(float(t[0])) or z * 0,
        guide_window=(0.25, 0.75),
    )
    assert calls == [0.25, 0.5]
    seen = []
    euler_sample(lambda z, t, h: seen.append(float(h[0])) or z * 0, z, 2, step_input=True)
    assert seen == [0.5, 0.5]


def test_sync_loss_prefers_hands_and_face_moving_together():
    t = torch.linspace(0, 6.28, 40)
    pulse = torch.sin(3 * t).abs()[None, :, None]  # (1, T, 1)
    hands, face = torch.arange(0, 3), torch.arange(3, 6)
    together = torch.cat([pulse.cumsum(1).expand(-1, -1, 3), pulse.cumsum(1).expand(-1, -1, 3)], dim=-1)
    apart = torch.cat([pulse.cumsum(1).expand(-1, -1, 3), torch.randn(1, 40, 3).cumsum(1)], dim=-1)
    assert float(sync_loss(together, hands, face, 2)) < float(sync_loss(apart, hands, face, 2))
    x = apart.clone().requires_grad_(True)
    sync_loss(x, hands, face, 2).backward()
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("latent")


@pytest.fixture(scope="module")
def flow(workdir):
    from text2sign.pipelines import load_pipeline
    from text2sign.testing import tiny_teacher

    return load_pipeline(str(tiny_teacher(workdir)))


def test_flow_signs_every_channel_with_per_call_steps_and_guidance(flow):
    spoken, signed = flow.language_pairs()[0]
    pose = flow("ab", spoken, signed, seed=0, frames=13).outputs[0]
    assert pose.num_frames == 13
    face = pose.layout.kind_indices("face")
    assert pose.mask[:, face].any() or not pose.mask.any()
    base = flow("ab", spoken, signed, seed=0).outputs[0].data
    assert not np.array_equal(base, flow("ab", spoken, signed, seed=0, steps=1).outputs[0].data)
    assert not np.array_equal(base, flow("ab", spoken, signed, seed=0, guidance_scale=1.0).outputs[0].data)
    assert np.isfinite(flow("ab", spoken, signed, seed=0, sync_guidance=5.0).outputs[0].data).all()
    with pytest.raises(Text2SignError, match="steps"):
        flow("ab", spoken, signed, steps=0)
    with pytest.raises(Text2SignError, match="guidance_scale must be a number from 0 to 20"):
        flow("ab", spoken, signed, guidance_scale=float("nan"))
    with pytest.raises(Text2SignError, match="does not apply"):
        flow("ab", spoken, signed, temperature=2.0)


def test_the_ssm_prior_trains_and_steers_sampling(workdir):
    pytest.importorskip("mambapy")
    from text2sign.families.latent_flow import tiny_config
    from text2sign.pipelines import load_pipeline
    from text2sign.training import parse_experiment, train

    raw = tiny_config(workdir)
    raw["model"]["prior"] = "mamba"
    raw["model"]["prior_d_model"] = 8
    raw["model"]["prior_layers"] = 1
    raw["train"]["steps"] = 1
    result = train(parse_experiment(raw, source="test"), workdir / "prior-run")
    flow = load_pipeline(str(result.checkpoint))
    spoken, signed = flow.language_pairs()[0]
    off = flow("ab", spoken, signed, seed=0, lambda_prior=0.0).outputs[0].data
    on = flow("ab", spoken, signed, seed=0, lambda_prior=1.0).outputs[0].data
    assert not np.array_equal(off, on)


def test_an_autoencoder_is_evaluated_on_its_reconstructions_of_the_references(workdir, monkeypatch):
    from text2sign.data.corpus import Corpus
    from text2sign.evaluation.harness import evaluate
    from text2sign.pipelines import load_pipeline, load_reconstruction
    from text2sign.pose.normalize import shoulder_normalization
    from text2sign.testing import tiny_autoencoder

    checkpoint = tiny_autoencoder(workdir)
    corpus = Corpus.load(workdir / "fs-ase")
    item = corpus.split("test")[0]
    reference = corpus.load_pose(item)
    reconstruction = load_reconstruction(checkpoint)(reference)
    assert reconstruction.num_frames == reference.num_frames
    assert reconstruction.canvas == reference.canvas
    # Back in the reference's pixel frame, not in shoulder-normalized units.
    assert np.allclose(
        shoulder_normalization(reconstruction).center,
        shoulder_normalization(reference).center,
        atol=0.5 * shoulder_normalization(reference).scale,
    )
    assert load_reconstruction("concat") is None

    report = evaluate(str(checkpoint), corpus, split="train", limit=2)
    assert report["items"] == 2 and report["failures"] == 0
    assert report["metrics"]["dtw_mje"] > 0
    with pytest.raises(Text2SignError, match="no text-to-sign|does not generate"):
        load_pipeline(str(checkpoint))
    with pytest.raises(Text2SignError, match="takes no generation options"):
        evaluate(str(checkpoint), corpus, split="test", limit=1, options={"steps": 2})
    # A long recording is reconstructed in chunks: every frame comes back.
    from text2sign.pipelines import latent

    monkeypatch.setattr(latent, "RECONSTRUCTION_CHUNK", 4)
    chunked = load_reconstruction(checkpoint)(reference)
    assert chunked.num_frames == reference.num_frames and np.isfinite(chunked.data[chunked.mask]).all()


def test_the_pose_space_baseline_runs_the_same_flow_on_frames(workdir):
    from text2sign.errors import ConfigError
    from text2sign.families.latent_flow import tiny_config
    from text2sign.pipelines import load_pipeline
    from text2sign.training import parse_experiment, train

    with pytest.raises(ConfigError, match="downsample: 1"):
        LatentAutoencoderConfig(space="pose", downsample=2)
    raw = tiny_config(workdir)
    ae_raw = {
        "family": "latent-ae",
        "data": raw["data"],
        "model": {"d_model": 16, "heads": 2, "encoder_layers": 1, "downsample": 1, "space": "pose"},
        "train": {"steps": 2, "batch_size": 4, "lr": 1e-3, "ema_decay": 0.0, "sample_every": 0},
    }
    ae = train(parse_experiment(ae_raw, source="test"), workdir / "pose-space-ae").checkpoint
    raw["init"] = {"autoencoder": str(ae)}
    flow = load_pipeline(str(train(parse_experiment(raw, source="test"), workdir / "pose-space-flow").checkpoint))
    generator = flow.generator
    assert generator.cfg.autoencoder.latent_dim == generator.cfg.autoencoder.feature_dim
    assert generator.cfg.predictor.fps == generator.cfg.autoencoder.fps  # one latent per frame
    spoken, signed = flow.language_pairs()[0]
    pose = flow("ab", spoken, signed, seed=0, frames=9).outputs[0]
    assert pose.num_frames == 9 and np.isfinite(pose.data).all()


ROOT = Path(__file__).resolve().parents[2]
CONFIGS = ROOT / "configs"
PHOENIX_SAMPLE = ROOT / ".." / "shared" / "data" / "phoenix14t-sample"


@pytest.mark.skipif(not PHOENIX_SAMPLE.is_dir(), reason="PHOENIX-2014T sample not present in ../shared")
def test_the_fs_words_latent_configs_train_every_stage_on_a_phoenix_corpus(tmp_path):
    """The shipped configs, only the corpus and sizes changed: no face in PHOENIX's skeleton, German
    text (so no FS-Words predictor to start from) and no FS-Words recognizer to pick checkpoints."""
    from text2sign.data.phoenix import import_phoenix
    from text2sign.pipelines import load_pipeline
    from text2sign.training import train
    from text2sign.training.config import load_config

    corpus = import_phoenix(PHOENIX_SAMPLE, tmp_path / "phoenix")
    quick = [
        "train.steps=2",
        "train.validate_every=2",
        "train.checkpoint_every=2",
        "train.batch_size=4",
        "train.warmup_steps=0",
        f"data.corpus={corpus.root}",
    ]
    ae = train(
        load_config(CONFIGS / "fs-latent-ae.yaml", [*quick, "model.kinds=[body, left_hand, right_hand]"]),
        tmp_path / "ae",
    )
    stage2 = [*quick, "objective.dev_metric=loss", "init.predictor=null"]
    flow = train(
        load_config(CONFIGS / "fs-latent-flow.yaml", [*stage2, f"init.autoencoder={ae.checkpoint}"]), tmp_path / "flow"
    )
    student = train(
        load_config(CONFIGS / "fs-latent-distill.yaml", [*stage2, f"init.teacher={flow.checkpoint}"]),
        tmp_path / "student",
    )
    pipeline = load_pipeline(str(student.checkpoint))
    assert pipeline.language_pairs() == [("de", "gsg")]
    pose = pipeline("am tag regen", "de", "gsg", seed=0, steps=2).outputs[0]
    assert pose.layout.name == "phoenix-50" and pose.num_frames > 0
    assert np.isfinite(pose.data[pose.mask]).all()


def test_a_flow_can_start_from_an_earlier_flows_predictor_but_keeps_its_own_decoder(workdir):
    from text2sign.checkpoints import load_checkpoint
    from text2sign.families.latent_flow import build, tiny_config
    from text2sign.testing import tiny_teacher
    from text2sign.training import parse_experiment

    earlier = load_checkpoint(tiny_teacher(workdir)).model
    raw = tiny_config(workdir)
    raw["init"]["predictor"] = str(tiny_teacher(workdir))
    generator = build(parse_experiment(raw, source="test")).objective.generator
    for name, tensor in earlier.predictor.state_dict().items():
        assert torch.equal(generator.predictor.state_dict()[name], tensor), name
    raw["init"]["predictor"] = str(workdir / "tiny-latent-ae")
    with pytest.raises(Text2SignError, match="not gan-nat or a latent stage"):
        build(parse_experiment(raw, source="test"))
