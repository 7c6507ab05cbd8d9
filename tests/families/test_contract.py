"""The contract every registered family keeps, run from the family's own tiny config.

A family gets these tests by registering with ``tiny=``: one optimisation step lowers the loss
on a fixed batch when repeated; a sample has the data's kind, shape and layout; saving and
loading gives identical outputs for a fixed seed; the pipeline honours ``seed``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import toy_families

from text2sign.checkpoints import Checkpoint, CheckpointMeta, load_checkpoint
from text2sign.data.corpus import Corpus
from text2sign.families import loaded_families
from text2sign.pipelines import load_pipeline
from text2sign.pose.sequence import PoseSequence
from text2sign.training import parse_experiment, train
from text2sign.training.loop import seed_everything
from text2sign.video import VideoClip

FAMILIES = [
    pytest.param(
        f.name,
        marks=pytest.mark.skipif(f.missing_extra is not None, reason=f"the {f.name} family needs: {f.missing_extra}"),
    )
    for f in sorted((f for f in loaded_families() if f.tiny is not None), key=lambda f: f.name)
]
LOWERING_STEPS = 5


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("contract")


def tiny_experiment(name: str, workdir: Path):
    from text2sign.families import get_family

    family = get_family(name)
    config = parse_experiment(family.tiny(workdir), source=f"{name} tiny config")
    config.name = name
    return family, config


@pytest.fixture(scope="module")
def trained(workdir):
    """Each family trained through the real loop once, shared by the tests below."""
    runs = {}

    def get(name: str):
        if name not in runs:
            family, config = tiny_experiment(name, workdir)
            result = train(config, workdir / f"run-{name}")
            runs[name] = (family, config, result)
        return runs[name]

    return get


def test_toy_families_are_registered_without_touching_the_package():
    names = {param.values[0] for param in FAMILIES}
    assert {"toy-pose", "toy-video"} <= names
    assert {"gan-nat", "recognizer"} <= names
    assert toy_families.ToyVideoPipeline.output == "video"


@pytest.mark.parametrize("name", FAMILIES)
def test_repeated_steps_lower_the_loss_on_a_fixed_batch(name, workdir):
    family, config = tiny_experiment(name, workdir)
    seed_everything(0)
    experiment = family.build(config)
    objective = experiment.objective
    collate = experiment.collate_fn or torch.utils.data.default_collate
    batch = collate([experiment.train_data[i] for i in range(min(4, len(experiment.train_data)))])
    groups = objective.param_groups()
    optimizers = {g: torch.optim.Adam(params, lr=config.train.lr) for g, params in groups.items()}

    def dev_loss() -> float:
        objective.eval()
        torch.manual_seed(0)
        with torch.no_grad():
            loss = float(objective.dev_losses(batch)["loss"])
        objective.train()
        return loss

    before = dev_loss()
    for step in range(LOWERING_STEPS):
        for group in objective.schedule(step):
            optimizers[group].zero_grad()
            torch.manual_seed(step)
            objective(batch, group)["loss"].backward()
            optimizers[group].step()
    assert dev_loss() < before


@pytest.mark.parametrize("name", FAMILIES)
def test_trained_checkpoint_loads_alone_and_samples_like_the_data(name, trained):
    family, config, result = trained(name)
    assert result.checkpoint is not None and result.best is not None  # every tiny family validates
    checkpoint = load_checkpoint(result.checkpoint)
    assert checkpoint.family.name == family.name and not checkpoint.model.training
    if family.pipeline is None:
        # A recognizer or an autoencoder stage: no text-to-sign pipeline (tests/evaluation,
        # tests/families/test_video_latent.py).
        return
    pipeline = load_pipeline(str(result.checkpoint))
    assert pipeline.output == family.output
    spoken, signed = pipeline.language_pairs()[0]
    signing = pipeline(["ab"], spoken, signed, seed=0).outputs[0]
    if family.output == "pose":
        corpus = Corpus.load(config.data.corpus)
        assert isinstance(signing, PoseSequence)
        assert signing.layout.name == corpus.layout_name and signing.fps == corpus.split("train")[0].fps
        assert np.isfinite(signing.data[signing.mask]).all() and signing.num_frames > 0
    else:
        assert isinstance(signing, VideoClip) and signing.frames.dtype == np.uint8
        assert signing.frames.ndim == 4 and signing.frames.shape[-1] == 3 and signing.num_frames > 0


@pytest.mark.parametrize("name", FAMILIES)
def test_save_then_load_gives_the_same_output_and_seed_is_honoured(name, trained):
    family, _, result = trained(name)
    if family.pipeline is None:
        pytest.skip(
            "no text-to-sign pipeline; a recognizer's save/load is tested in tests/evaluation, an autoencoder "
            "stage's in tests/families/test_video_latent.py"
        )
    # In memory: the same checkpoint object the pipeline gets from disk, built from the weights.
    loaded = load_checkpoint(result.checkpoint)
    fresh = family.build_model(loaded.model_config)
    fresh.load_state_dict(loaded.model.state_dict())
    meta = CheckpointMeta(Path("memory"), 2, family.name, {}, {}, loaded.metadata, {}, None, None)
    in_memory = family.pipeline(
        Checkpoint(family, fresh.eval(), loaded.model_config, loaded.inference, loaded.feature_stats, meta)
    )
    from_disk = load_pipeline(str(result.checkpoint))
    spoken, signed = from_disk.language_pairs()[0]

    def output(pipeline, seed):
        signing = pipeline(["abc"], spoken, signed, seed=seed).outputs[0]
        return signing.data if isinstance(signing, PoseSequence) else signing.frames

    assert np.array_equal(output(in_memory, 3), output(from_disk, 3))
    assert np.array_equal(output(from_disk, 3), output(from_disk, 3))
    if from_disk.stochastic:
        assert not np.array_equal(output(from_disk, 3), output(from_disk, 4))


def test_the_default_is_the_shipped_model_that_reads_back_best():
    from text2sign.families import DEFAULT_MODEL, MODELS
    from text2sign.families.registry import NamedModel, best_measured_model

    measured = [m for m in MODELS.values() if m.test_cer is not None]
    assert {m.name for m in measured} == {
        "concat",
        "fs-gan-nat",
        "fs-latent-flow",
        "fs-lookup-flow",
        "spoken-to-signed",
    }
    assert DEFAULT_MODEL == min(measured, key=lambda m: m.test_cer).name == "concat"
    tie = {n: NamedModel(n, "x", "", test_cer=5.0, p50_ms=ms) for n, ms in (("slow", 9.0), ("fast", 1.0))}
    assert best_measured_model(tie) == "fast"
