import json

import numpy as np
import pytest
import torch

from text2sign.data.torch_data import PoseItem, collate_pose_batch
from text2sign.errors import CheckpointError, LanguageError, Text2SignError, TextError
from text2sign.models.gan_nat import DiscriminatorConfig, GanNatConfig
from text2sign.objectives.gan_nat import GanNatObjectiveConfig, build_gan_nat_objective
from text2sign.pipelines.gan_nat import GanNatInferenceConfig, GanNatPipeline
from text2sign.pose.features import pose_features
from text2sign.pose.normalize import compute_feature_stats, normalize_by_shoulders
from text2sign.pose.sequence import PoseSequence
from text2sign.testing import fake_pose
from text2sign.text import TextEncoderConfig

KINDS = ("body", "left_hand", "right_hand")


def make_objective(seqs, texts, languages=("ase", "gsg")):
    torch.manual_seed(0)
    stats = compute_feature_stats(seqs, KINDS)
    model = GanNatConfig(
        text=TextEncoderConfig(d_model=16, layers=1, heads=2, dropout=0.0),
        d_model=16, layers=1, heads=2, dropout=0.0, noise_dim=4, min_frames=4, max_frames=40,
    )  # fmt: skip
    objective = build_gan_nat_objective(
        model, GanNatObjectiveConfig(adversarial=0.0, discriminator=DiscriminatorConfig(channels=8, layers=1)),
        layout="holistic-178", stats=stats, texts=texts, signed_languages=list(languages), fps=25.0,
    )  # fmt: skip
    return objective, stats


@pytest.fixture(scope="module")
def pipeline():
    objective, stats = make_objective([fake_pose(10, seed=s) for s in range(2)], ["hello", "world"])
    return GanNatPipeline(objective.generator, stats, language_pairs=[("en", "ase"), ("de", "gsg")])


def test_returns_pose_sequences_in_the_layout(pipeline):
    out = pipeline(["hello", "low"], "en", "ase").outputs
    assert len(out) == 2
    for seq in out:
        assert isinstance(seq, PoseSequence)
        assert seq.layout.name == "holistic-178" and seq.fps == 25.0 and 4 <= seq.num_frames <= 40
        face = seq.layout.kind_indices("face")
        assert not seq.mask[:, face].any()
        # visibility is predicted per component: a hand is wholly shown or wholly left out
        for hand in ("left_hand", "right_hand"):
            shown = seq.mask[:, seq.layout.kind_indices(hand)]
            assert (shown.all(axis=1) | ~shown.any(axis=1)).all()
        assert np.isfinite(seq.data).all()
    predicted = pipeline.generator.predict_lengths(*pipeline.generator.encode(["hello"], ["ase"]))
    assert out[0].num_frames == int(predicted[0])


def test_frames_override_and_errors(pipeline):
    out = pipeline(["hello", "world"], "en", "ase", frames=17).outputs
    assert [s.num_frames for s in out] == [17, 17]
    assert pipeline("hello", "en", "ase", frames=1).outputs[0].num_frames == 1
    with pytest.raises(Text2SignError, match="frames must be from 1 to 160, got 0"):
        pipeline("hello", "en", "ase", frames=0)
    with pytest.raises(LanguageError, match="signed language 'bfi' is not supported by gan-nat; supported: ase, gsg"):
        pipeline("hello", "en", "bfi")
    with pytest.raises(LanguageError, match="signs gsg from de, not from 'en'"):
        pipeline("hello", "en", "gsg")
    with pytest.raises(TextError, match="text is empty"):
        pipeline(["hello", " "], "en", "ase")
    with pytest.raises(TextError, match="text has 1001 characters; the limit is 1000"):
        pipeline("a" * 1001, "en", "ase")
    # one rule with concat: what the model cannot sign is skipped and named, fails with strict,
    # and fails when nothing is left
    skipped = pipeline("hez", "en", "ase", frames=6)
    assert skipped.warnings == ["skipped 'z': gan-nat has never seen it in ase"]
    assert np.allclose(skipped.outputs[0].data, pipeline("he", "en", "ase", frames=6).outputs[0].data)
    with pytest.raises(TextError, match="nothing in 'zzz 42' can be signed by gan-nat"):
        pipeline("zzz 42", "en", "ase")
    with pytest.raises(TextError, match="gan-nat cannot sign 'z'"):
        pipeline("hez", "en", "ase", strict=True)


def test_deterministic_and_independent_of_batch(pipeline):
    a = pipeline(["world", "hello"], "en", "ase", frames=12).outputs
    b = pipeline(["hello"], "en", "ase", frames=12).outputs
    assert np.allclose(a[1].data, b[0].data, atol=1e-4)
    assert np.array_equal(
        pipeline("hello", "en", "ase").outputs[0].data, pipeline("hello", "en", "ase").outputs[0].data
    )
    assert not np.allclose(
        pipeline("hello", "en", "ase", seed=1).outputs[0].data, pipeline("hello", "en", "ase", seed=2).outputs[0].data
    )
    assert not pipeline.generator.training


def test_samples_differ_by_seed_and_repeat_with_it(pipeline):
    result = pipeline(["hello", "low"], "en", "ase", num_samples=3, seed=5, frames=10)
    assert [len(s) for s in result.samples] == [3, 3]
    first, second, third = result.samples[0]
    assert not np.allclose(first.data, second.data) and not np.allclose(second.data, third.data)
    # sample k is seed + k: the second sample of seed 5 is the first of seed 6
    alone = pipeline("hello", "en", "ase", seed=6, frames=10).outputs[0]
    assert np.allclose(second.data, alone.data, atol=1e-5)


def generator_features(pipeline, text: str, frames: int) -> np.ndarray:
    """What the generator makes for `text` with seed 0, de-standardized: shoulder-normalized."""
    gen = pipeline.generator
    with torch.inference_mode():
        states, mask = gen.encode([text], ["ase"])
        noise = torch.randn(frames, 4, generator=torch.Generator().manual_seed(0))[None]
        feats = gen(states, mask, torch.tensor([frames]), noise)[0].numpy()
    return pipeline.stats.destandardize(feats).reshape(frames, -1, 3)  # (T, J', 3)


def test_output_is_destandardized_generator_output_in_the_corpus_frame(pipeline):
    """Placed by the inference section's frame; a format-1 checkpoint gets FS-Words' defaults."""
    out = pipeline("hello", "en", "ase", frames=9).outputs[0]
    defaults = GanNatInferenceConfig()
    expected = generator_features(pipeline, "hello", 9) * defaults.shoulder_width + np.asarray(defaults.shoulder_center)
    index = out.layout.kind_indices(*KINDS)
    assert np.allclose(out.data[:, index], expected, atol=1e-3)
    assert out.canvas[0] >= defaults.canvas[0] and out.canvas[1] >= defaults.canvas[1]


def test_outputs_are_drawn_on_the_canvas_of_the_inference_frame(pipeline):
    frame = GanNatInferenceConfig(shoulder_center=(100.0, 80.0, 0.0), shoulder_width=20.0, canvas=(300, 200))
    placed = GanNatPipeline(pipeline.generator, pipeline.stats, inference=frame)
    out = placed("hello", "en", "ase", frames=9).outputs[0]
    index = out.layout.kind_indices(*KINDS)
    assert np.allclose(
        out.data[:, index], generator_features(pipeline, "hello", 9) * 20.0 + (100.0, 80.0, 0.0), atol=1e-4
    )
    assert out.canvas == (300, 200)
    # A frame that would put joints off the canvas moves the signing by whole pixels onto it.
    off = GanNatPipeline(
        pipeline.generator,
        pipeline.stats,
        inference=GanNatInferenceConfig(shoulder_center=(0.0, 0.0, 0.0), shoulder_width=20.0, canvas=(30, 30)),
    )
    moved = off("hello", "en", "ase", frames=9).outputs[0]
    points = moved.data[moved.mask][:, :2]
    assert (points >= 0).all() and (points < moved.canvas).all()
    shift = moved.data[:, index, :2] - out.data[:, index, :2] + (100.0, 80.0)
    assert np.allclose(shift, np.round(shift), atol=1e-3)
    with pytest.raises(CheckpointError, match="shoulder_center has 2 values; layout holistic-178 has 3 dims"):
        GanNatPipeline(pipeline.generator, pipeline.stats, inference=GanNatInferenceConfig(shoulder_center=(1.0, 2.0)))


def test_save_and_load_pretrained(tmp_path, pipeline):
    from text2sign.checkpoints import from_pretrained

    pipeline.save_pretrained(tmp_path / "ckpt")
    assert {p.name for p in (tmp_path / "ckpt").iterdir()} == {"config.json", "model.safetensors", "normalization.json"}
    loaded = GanNatPipeline.from_pretrained(tmp_path / "ckpt")
    assert np.array_equal(loaded("hello", "en", "ase").outputs[0].data, pipeline("hello", "en", "ase").outputs[0].data)
    with pytest.raises(LanguageError, match="not from 'en'"):
        loaded("hello", "en", "gsg")
    # One checkpoint format: what the pipeline saves, the training loop's reader rebuilds.
    generator = from_pretrained(tmp_path / "ckpt")
    assert generator.cfg == pipeline.generator.cfg
    for name, value in pipeline.generator.state_dict().items():
        assert torch.equal(generator.state_dict()[name], value)


def test_from_pretrained_errors(tmp_path, pipeline):
    with pytest.raises(CheckpointError, match="checkpoint not found"):
        GanNatPipeline.from_pretrained(tmp_path / "none")
    ckpt = pipeline.save_pretrained(tmp_path / "ckpt")
    meta = json.loads((ckpt / "config.json").read_text())
    edited = {**meta, "model": {**meta["model"], "d_model": 32, "heads": 2}}
    (ckpt / "config.json").write_text(json.dumps(edited))
    with pytest.raises(CheckpointError, match="does not match the model that config.json describes"):
        GanNatPipeline.from_pretrained(ckpt)
    (ckpt / "config.json").write_text(json.dumps({**meta, "family": "no-such-family"}))
    with pytest.raises(CheckpointError, match="unknown family 'no-such-family'"):
        GanNatPipeline.from_pretrained(ckpt)
    (ckpt / "config.json").write_text(json.dumps(meta))
    (ckpt / "normalization.json").unlink()
    with pytest.raises(CheckpointError, match="normalization.json is missing"):
        GanNatPipeline.from_pretrained(ckpt)


@pytest.mark.slow
def test_trained_generator_reproduces_its_sign():
    seq = fake_pose(12, seed=3)
    seq.data[:, :, 2] = 0.0
    objective, stats = make_objective([seq, fake_pose(12, seed=4)], ["ab"], languages=["ase"])
    feats, joint_mask = pose_features(seq, stats, KINDS)
    batch = collate_pose_batch([PoseItem(feats, joint_mask, "ab", signed_language="ase", id="ab")])
    target, _ = normalize_by_shoulders(seq)
    index = target.layout.kind_indices(*KINDS)

    def error() -> float:
        pipe = GanNatPipeline(objective.generator, stats)
        # Its own shoulders, as the target's: the output is also moved by whole pixels onto its canvas.
        out, _ = normalize_by_shoulders(pipe("ab", "en", "ase", frames=12).outputs[0])
        return float(np.abs(out.data[:, index] - target.data[:, index]).mean())

    before = error()
    opt = torch.optim.Adam(objective.param_groups()["generator"], lr=1e-2)
    objective.train()
    for _ in range(100):
        loss = objective(batch, "generator")["loss"]
        opt.zero_grad()
        loss.backward()
        opt.step()
    after = error()
    assert after < 0.2 * before, (before, after)
    pipe = GanNatPipeline(objective.generator, stats)
    assert pipe("ab", "en", "ase").outputs[0].num_frames == 12  # the length predictor learned the length


def test_shipped_fs_gan_nat_model_generates_every_language():
    from text2sign.checkpoints import read_meta
    from text2sign.families import MODELS
    from text2sign.pipelines import load_pipeline

    assert read_meta(MODELS["fs-gan-nat"].checkpoint).metadata["alphabets"]["ase"] == "abcdefghijklmnopqrstuvwxyz"
    shipped = load_pipeline("fs-gan-nat")
    assert len(shipped.signed_languages) == 19
    (hello,) = shipped(["hello"], spoken="en", signed="ase").outputs
    assert hello.layout.name == "holistic-178" and hello.fps == 25.0
    # five letters at 6-11 frames each, plus transitions
    assert 30 <= hello.num_frames <= 80
    assert np.isfinite(hello.data).all()
    assert hello.mask[:, hello.layout.kind_indices("body")].all()
    with pytest.raises(LanguageError, match="not supported"):
        shipped(["hello"], spoken="en", signed="xyz")


def test_build_measures_the_training_corpus_frame_into_the_inference_section(tiny_fs_words, tmp_path):
    from text2sign.data.corpus import Corpus
    from text2sign.data.selection import corpus_frame
    from text2sign.families import get_family
    from text2sign.families.gan_nat import tiny_config
    from text2sign.training import parse_experiment

    raw = tiny_config(tmp_path)
    raw["data"]["corpus"] = str(tiny_fs_words.root)
    experiment = get_family("gan-nat").build(parse_experiment(raw, source="test"))
    inference = experiment.config.inference
    corpus = Corpus.load(tiny_fs_words.root)
    frame, canvas = corpus_frame(corpus, corpus.split("train"))
    assert inference.shoulder_center == pytest.approx(
        frame.center.tolist()
    ) and inference.shoulder_width == pytest.approx(frame.scale)
    assert inference.canvas == canvas
    # Real letter clips of the corpus the defaults were measured on: the same frame, give or take a signer.
    defaults = GanNatInferenceConfig()
    assert abs(inference.shoulder_width - defaults.shoulder_width) < 0.25 * defaults.shoulder_width
    # Training's samples (and dev CER) come from a pipeline in that frame too.
    for sample in experiment.sample(experiment.objective.generator, "cpu").values():
        assert sample.canvas[0] >= canvas[0] and sample.canvas[1] >= canvas[1]


def test_a_format_1_checkpoint_still_loads_and_signs_the_same(tmp_path):
    """fs-gan-nat shipped in format 1 (the whole experiment only) until 2026-12-01; such a
    checkpoint must load and sign exactly as its format-2 conversion does."""
    import shutil

    from text2sign.checkpoints import read_meta
    from text2sign.families import MODELS
    from text2sign.pipelines import load_pipeline

    old = tmp_path / "fs-gan-nat-v1"
    shutil.copytree(MODELS["fs-gan-nat"].checkpoint, old)
    meta = read_meta(old)
    experiment = {**meta.experiment, "model": meta.model}
    v1 = {
        "format": "text2sign-checkpoint",
        "version": 1,
        "step": meta.step,
        "model_class": "x",
        "experiment": experiment,
    }
    (old / "config.json").write_text(json.dumps(v1))
    assert read_meta(old).version == 1
    loaded, shipped = load_pipeline(str(old)), load_pipeline("fs-gan-nat")
    assert np.array_equal(loaded("hello", "en", "ase").outputs[0].data, shipped("hello", "en", "ase").outputs[0].data)
