"""The latent-flow design's details (issue 25 section 2): the prior on the design's objective with
its transformer fallback, the learned sync head, and the regressor's learnable queries."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from text2sign.errors import ConfigError, Text2SignError
from text2sign.models import latent as latent_models
from text2sign.models.latent import SyncHead, TransformerPrior, resolve_prior
from text2sign.objectives.latent import motion_targets
from text2sign.pipelines.latent import motion_sync_loss


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("latent-design")


def design_config(workdir, **model):
    from text2sign.families.latent_flow import tiny_config

    raw = tiny_config(workdir)
    raw["model"].update(
        {"prior": "ssm", "prior_d_model": 8, "prior_layers": 1, "sync_head": True, "sync_head_hidden": 8, **model}
    )
    raw["objective"] = {"prior_loss": "design", "ssm_prior": 0.1}
    return raw


@pytest.fixture(scope="module")
def design_flow(workdir):
    """A tiny flow with the transformer prior (as on a core install), the sync head and learned queries."""
    from text2sign.training import parse_experiment, train

    raw = design_config(workdir, prior="transformer", queries="learned", num_queries=6)
    return train(parse_experiment(raw, source="test"), workdir / "design-flow").checkpoint


def test_ssm_falls_back_to_the_transformer_prior_without_mambapy_and_says_so(workdir, monkeypatch, capsys):
    from text2sign.families.latent_flow import build
    from text2sign.training import parse_experiment

    monkeypatch.setattr(latent_models, "mamba_available", lambda: False)
    assert resolve_prior("ssm") == "transformer" and resolve_prior("none") == "none"
    generator = build(parse_experiment(design_config(workdir), source="test")).objective.generator
    # The checkpoint records the prior that was built, so it loads the same way anywhere.
    assert generator.cfg.prior == "transformer" and isinstance(generator.prior, TransformerPrior)
    notes = [line for line in capsys.readouterr().err.splitlines() if line.startswith("note: model.prior")]
    assert len(notes) == 1 and "transformer" in notes[0] and "text2sign[ssm]" in notes[0]
    monkeypatch.setattr(latent_models, "mamba_available", lambda: True)
    assert resolve_prior("ssm") == "mamba"


def test_an_explicit_mamba_prior_without_mambapy_is_one_clear_error(workdir):
    pytest.importorskip("text2sign")
    if latent_models.mamba_available():
        pytest.skip("mambapy is installed: the mamba prior builds")
    with pytest.raises(ConfigError, match=r"pip install 'text2sign\[ssm\]'"):
        latent_models.SSMPrior(4, 8, 1, 8)


def test_the_transformer_prior_keeps_padding_out_of_real_frames():
    torch.manual_seed(0)
    prior = TransformerPrior(latent_dim=4, d_model=8, layers=2, time_features=6).eval()
    z, tf = torch.randn(1, 7, 4), torch.randn(1, 7, 6)
    mask = torch.tensor([[True] * 5 + [False] * 2])
    first = prior(z, tf, mask)
    z[:, 5:] = 1e3  # whatever the padding holds
    assert torch.allclose(first[:, :5], prior(z, tf, mask)[:, :5], atol=1e-6)


def flow_batch_objective(workdir, prior_loss: str):
    from text2sign.families.latent_flow import build
    from text2sign.training import parse_experiment

    raw = design_config(workdir, prior="transformer")
    raw["objective"]["prior_loss"] = prior_loss
    raw["objective"]["pose"] = 0.0
    experiment = build(parse_experiment(raw, source="test"))
    batch = experiment.collate_fn([experiment.train_data[i] for i in range(3)])
    return experiment.objective.eval(), batch


def test_the_design_prior_loss_pulls_flow_and_prior_together_and_the_marginal_one_only_the_prior(workdir):
    for prior_loss, flow_is_pulled in (("design", True), ("marginal", False)):
        objective, batch = flow_batch_objective(workdir, prior_loss)
        torch.manual_seed(0)
        losses = objective(batch)
        objective.zero_grad()
        # Only the prior's term, to see which networks it reaches.
        torch.manual_seed(0)
        objective.cfg = dataclasses.replace(objective.cfg, flow=0.0, length=0.0, prior=0.0, duration=0.0, sync_head=0.0)
        objective(batch)["loss"].backward()
        prior_grad = sum(float(p.grad.abs().sum()) for p in objective.generator.prior.parameters())
        flow_grad = sum(
            float(p.grad.abs().sum()) for p in objective.generator.predictor.out.parameters() if p.grad is not None
        )
        assert prior_grad > 0 and float(losses["ssm_prior"]) > 0
        assert (flow_grad > 0) == flow_is_pulled, prior_loss


def test_the_design_prior_loss_is_the_squared_velocity_gap_annealed_by_one_minus_t(workdir):
    objective, batch = flow_batch_objective(workdir, "design")
    generator, seen = objective.generator, {}

    def prior_velocity(z, t, mask):
        seen.update(t=t, mask=mask)
        return torch.zeros_like(z)

    generator.velocity = lambda states, text_mask, lengths, z_t, t, h=None, durations=None: torch.ones_like(z_t)
    generator.prior_velocity = prior_velocity
    loss = float(objective(batch)["ssm_prior"])
    frames = seen["mask"].sum(1).float()  # real latent frames per item; every gap is 1
    assert loss == pytest.approx(float(((1 - seen["t"]) * frames).sum() / frames.sum()), rel=1e-5)


def test_motion_targets_are_the_observed_hand_and_face_motion_per_latent_frame():
    columns = {"body": torch.tensor([0]), "face": torch.tensor([1]), "left_hand": torch.tensor([2])}
    features = torch.zeros(1, 4, 3)
    features[0, :, 2] = torch.tensor([0.0, 1.0, 3.0, 3.0])  # the hand moves 1, then 2, then 0
    weights = torch.ones(1, 4, 3, dtype=torch.bool)
    weights[0, 3, 1] = False  # the face's last frame is out of view
    motion, observed = motion_targets(features, weights, columns, downsample=2, num_latent=2)
    # Latent frame 0 holds frames 0 (no motion yet) and 1; latent frame 1 frames 2 and 3.
    assert motion[0, :, 0].tolist() == [1.0, 1.0]
    assert motion[0, :, 1].tolist() == [0.0, 0.0]
    assert observed[0].tolist() == [[True, True], [True, True]]
    weights[0, :, 1] = False  # no face at all: nothing to learn about it
    _, observed = motion_targets(features, weights, columns, downsample=2, num_latent=2)
    assert observed[0, :, 1].tolist() == [False, False] and observed[0, :, 0].all()


def test_the_sync_head_trains_and_its_gradient_lowers_its_sync_loss():
    torch.manual_seed(0)
    head = SyncHead(latent_dim=4, hidden=16, time_features=2)
    z, tf, mask = torch.randn(2, 12, 4), torch.zeros(2, 12, 2), torch.ones(2, 12, dtype=torch.bool)
    target = torch.stack([z[..., 0].abs(), z[..., 1].abs()], -1)  # a motion the latent holds
    optimiser = torch.optim.Adam(head.parameters(), lr=1e-2)
    first = None
    for _ in range(60):
        loss = ((head(z, tf, mask) - target) ** 2).mean()
        first = float(loss.detach()) if first is None else first
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    assert float(loss.detach()) < 0.5 * first
    # Guidance: a small step against the gradient makes hands and face (as the head sees them) more in sync.
    z = z.requires_grad_(True)

    def score(z):
        motion = head(z, tf, mask)
        return motion_sync_loss(motion[..., 0], motion[..., 1], 1)

    (grad,) = torch.autograd.grad(score(z), z)
    with torch.no_grad():
        assert float(score(z - 0.05 * grad)) < float(score(z))


def test_learned_queries_are_cut_or_padded_to_the_length_and_start_from_the_positional_ones(design_flow):
    from text2sign.checkpoints import load_checkpoint

    generator = load_checkpoint(design_flow).model
    assert generator.cfg.queries == "learned" and generator.queries.shape[0] == 6
    states, mask = generator.encode(["ab"], ["ase"])
    lengths = torch.tensor([9])
    with torch.no_grad():
        plain = generator.predictor.frame_condition(states, mask, lengths, 9).queries
        learned = generator.frame_condition(states, mask, lengths, 9).queries
    assert torch.allclose(learned[0, :6] - plain[0, :6], generator.queries, atol=1e-5)  # cut to the first 6 ...
    assert torch.equal(learned[0, 6:], plain[0, 6:])  # ... and nothing past them (the design's padding)
    with torch.no_grad():
        generator.queries.zero_()
        positional = dataclasses.replace(generator.cfg, queries="positional")
        twin = latent_models.LatentGenerator(positional).eval()
        twin.load_state_dict({k: v for k, v in generator.state_dict().items() if k != "queries"})
        z_t, t = torch.randn(1, 9, generator.cfg.autoencoder.latent_dim), torch.tensor([0.3])
        v = generator.velocity(states, mask, lengths, z_t, t)
        assert torch.allclose(v, twin.velocity(states, mask, lengths, z_t, t), atol=1e-6)


def test_the_design_flow_saves_loads_and_guides_through_its_head(design_flow):
    from text2sign.pipelines import load_pipeline

    flow, again = load_pipeline(str(design_flow)), load_pipeline(str(design_flow))
    assert flow.generator.cfg.prior == "transformer" and flow.generator.sync_head is not None
    spoken, signed = flow.language_pairs()[0]
    base = flow("ab", spoken, signed, seed=0).outputs[0].data
    assert np.array_equal(base, again("ab", spoken, signed, seed=0).outputs[0].data)
    head = flow("ab", spoken, signed, seed=0, sync_guidance=5.0).outputs[0].data
    pose = flow("ab", spoken, signed, seed=0, sync_guidance=5.0, sync_score="pose").outputs[0].data
    assert np.isfinite(head).all() and not np.array_equal(base, head) and not np.array_equal(head, pose)
    assert np.array_equal(
        head, flow("ab", spoken, signed, seed=0, sync_guidance=5.0, sync_score="head").outputs[0].data
    )
    assert not np.array_equal(base, flow("ab", spoken, signed, seed=0, lambda_prior=1.0).outputs[0].data)
    with pytest.raises(Text2SignError, match="sync_score must be one of auto, head, pose"):
        flow("ab", spoken, signed, sync_score="face")


def test_the_shipped_student_keeps_its_old_behaviour_and_refuses_a_head_it_lacks():
    from text2sign.pipelines import load_pipeline

    shipped = load_pipeline("fs-latent-flow")
    cfg = shipped.generator.cfg
    assert (cfg.prior, cfg.queries, cfg.sync_head) == ("none", "positional", False)
    assert shipped.generator.queries is None and shipped.generator.sync_head is None
    with pytest.raises(Text2SignError, match="has no sync head"):
        shipped("hallo", "de", "gsg", sync_guidance=1.0, sync_score="head")


def test_a_sync_head_needs_hands_and_face(workdir):
    from text2sign.families.latent_flow import build
    from text2sign.training import parse_experiment, train

    ae_raw = {
        "family": "latent-ae",
        "data": {"corpus": str(workdir / "fs-ase"), "max_frames": 60},
        "model": {"d_model": 16, "heads": 2, "encoder_layers": 1, "latent_dim": 8, "kinds": ["body", "left_hand"]},
        "train": {"steps": 1, "batch_size": 4, "lr": 1e-3, "ema_decay": 0.0, "sample_every": 0},
    }
    design_config(workdir)  # makes the tiny corpus
    ae = train(parse_experiment(ae_raw, source="test"), workdir / "no-face-ae").checkpoint
    raw = design_config(workdir, prior="none")
    raw["init"] = {"autoencoder": str(ae)}
    with pytest.raises(ConfigError, match="sync head learns hand-face timing"):
        build(parse_experiment(raw, source="test"))


def test_the_design_config_trains_on_a_core_install_with_the_transformer_prior(workdir, monkeypatch, capsys):
    """configs/fs-latent-flow-design.yaml as shipped, only the corpus, the earlier stage and the
    sizes made tiny, where mambapy is absent (the core install): it trains, saves which prior it
    built, and the checkpoint loads and guides through its sync head."""
    from pathlib import Path

    from text2sign.pipelines import load_pipeline
    from text2sign.testing import tiny_autoencoder
    from text2sign.training import train
    from text2sign.training.config import load_config

    monkeypatch.setattr(latent_models, "mamba_available", lambda: False)
    config = Path(__file__).resolve().parents[2] / "configs" / "fs-latent-flow-design.yaml"
    overrides = [
        f"data.corpus={workdir / 'fs-ase'}",
        "data.max_frames=60",
        f"init.autoencoder={tiny_autoencoder(workdir)}",
        "init.predictor=null",
        "objective.dev_metric=loss",
        "model.predictor.text={kind: char, d_model: 16, layers: 1, heads: 2}",
        "model.predictor.d_model=16",
        "model.predictor.layers=1",
        "model.predictor.heads=2",
        "model.predictor.max_frames=40",
        "model.prior_d_model=8",
        "train.steps=1",
        "train.batch_size=4",
        "train.warmup_steps=0",
        "train.validate_every=1",
        "train.checkpoint_every=1",
    ]
    run = train(load_config(config, overrides), workdir / "design-config")
    assert "the prior is the design's transformer fallback" in capsys.readouterr().err
    flow = load_pipeline(str(run.checkpoint))
    assert flow.generator.cfg.prior == "transformer" and flow.generator.sync_head is not None
    spoken, signed = flow.language_pairs()[0]
    pose = flow("ab", spoken, signed, seed=0, steps=2, sync_guidance=1.0).outputs[0]
    assert np.isfinite(pose.data[pose.mask]).all()


@pytest.mark.parametrize("alignment", ["attention", "uniform"])
def test_every_stage_trains_and_samples_with_an_alignment_without_durations(workdir, alignment):
    """Only ``alignment: durations`` has a duration head: the others train without the
    alignment search's losses and sample, distilled too (this was a traceback)."""
    from text2sign.families.latent_distill import tiny_config as distill_config
    from text2sign.families.latent_flow import tiny_config as flow_config
    from text2sign.families.latent_regressor import tiny_config as regressor_config
    from text2sign.pipelines import load_pipeline
    from text2sign.training import parse_experiment, train

    runs = {}
    for name, make in (("regressor", regressor_config), ("flow", flow_config)):
        raw = make(workdir)
        raw["model"]["predictor"]["alignment"] = alignment
        runs[name] = train(parse_experiment(raw, source="test"), workdir / f"{alignment}-{name}").checkpoint
    raw = distill_config(workdir)
    raw["init"] = {"teacher": str(runs["flow"])}
    runs["student"] = train(parse_experiment(raw, source="test"), workdir / f"{alignment}-student").checkpoint
    for name, checkpoint in runs.items():
        pipeline = load_pipeline(str(checkpoint))
        spoken, signed = pipeline.language_pairs()[0]
        pose = pipeline("ab", spoken, signed, seed=0, steps=2 if name != "regressor" else None).outputs[0]
        assert pose.num_frames > 0 and np.isfinite(pose.data[pose.mask]).all(), name
