"""GAN-NAT conditioned as its design asks: on the gloss when a corpus has one, and on the signer."""

import numpy as np
import pytest

from text2sign.cli import run
from text2sign.data.corpus import CorpusWriter
from text2sign.errors import Text2SignError, TextError
from text2sign.pipelines import load_pipeline
from text2sign.pose.io import load_pose
from text2sign.testing import fake_pose
from text2sign.training import parse_experiment, train

WORDS = [("ab", "AB"), ("ba", "BA"), ("abab", "AB-AB")]
# Pixels signer "right" holds the hands further right than signer "left" (relative to the
# shoulders: the model reads shoulder-normalised poses, so only the shape of signing is learnable).
SHIFT = 60.0


@pytest.fixture(scope="module")
def two_signer_corpus(tmp_path_factory):
    writer = CorpusWriter(tmp_path_factory.mktemp("signers") / "corpus")
    for split in ("train", "dev"):
        for signer, shift in (("left", 0.0), ("right", SHIFT)):
            for n, (text, gloss) in enumerate(WORDS):
                pose = fake_pose(12, seed=n)
                pose.data[:, pose.layout.kind_indices("left_hand", "right_hand"), 0] += shift
                writer.add(
                    pose,
                    id=f"{split}-{signer}-{text}",
                    split=split,
                    text=text,
                    gloss=gloss,
                    spoken_language="en",
                    signed_language="ase",
                    signer=signer,
                )
    return writer.close()


def tiny(corpus, **data) -> dict:
    return {
        "family": "gan-nat",
        "data": {"corpus": str(corpus.root), **data},
        "model": {
            "text": {"kind": "char", "d_model": 16, "layers": 1, "heads": 2, "dropout": 0.0},
            "d_model": 16,
            "layers": 1,
            "heads": 2,
            "dropout": 0.0,
            "max_frames": 40,
            "min_frames": 4,
        },
        "objective": {"adversarial": 0.0},
        "train": {"steps": 400, "batch_size": 6, "lr": 1e-2, "ema_decay": 0.0, "sample_every": 0, "log_every": 50},
    }


@pytest.fixture(scope="module")
def signer_model(two_signer_corpus, tmp_path_factory):
    config = parse_experiment(tiny(two_signer_corpus, signer=True), "test")
    return train(config, tmp_path_factory.mktemp("signer-run") / "run").checkpoint


def test_two_signers_of_one_model_sign_where_each_stands(signer_model, tmp_path):
    pipeline = load_pipeline(str(signer_model))
    assert pipeline.generator.cfg.text.signers == ["left", "right"]
    left = pipeline("ab", "en", "ase", signer="left", frames=12).outputs[0]
    right = pipeline("ab", "en", "ase", signer="right", frames=12).outputs[0]
    hands = left.layout.kind_indices("left_hand", "right_hand")
    gap = right.data[:, hands, 0].mean() - left.data[:, hands, 0].mean()
    assert gap > 0.5 * SHIFT, gap  # learned from the data, not an accident of initialisation
    # the CLI and the default (the first signer) agree
    out = tmp_path / "r.pose"
    assert (
        run(["generate", "ab", "--model", str(signer_model), "--signer", "right", "--frames", "12", "-o", str(out)])
        == 0
    )
    assert np.allclose(load_pose(out).data[:, hands, 0].mean(), right.data[:, hands, 0].mean(), atol=1.0)
    default = pipeline("ab", "en", "ase", frames=12).outputs[0]
    assert np.array_equal(default.data, left.data)
    with pytest.raises(Text2SignError, match="unknown signer 'nobody'; this model knows: left, right"):
        pipeline("ab", "en", "ase", signer="nobody")


def test_a_model_without_signers_refuses_one():
    with pytest.raises(Text2SignError, match="trained without signers"):
        load_pipeline("fs-gan-nat")("hello", "en", "ase", signer="left")


def test_a_gloss_model_reads_glosses(two_signer_corpus, tmp_path):
    config = parse_experiment(
        {**tiny(two_signer_corpus, input="gloss"), "train": {**tiny(two_signer_corpus)["train"], "steps": 2}}, "test"
    )
    pipeline = load_pipeline(str(train(config, tmp_path / "run").checkpoint))
    assert pipeline.generator.cfg.input == "gloss"
    assert set(pipeline.generator.cfg.text.vocab) >= {"a", "b", "-"}  # built from the glosses
    assert pipeline("hello", "en", "ase", gloss="AB").warnings == []
    both = parse_experiment(
        {**tiny(two_signer_corpus, input="both"), "train": {**tiny(two_signer_corpus)["train"], "steps": 2}}, "test"
    )
    both_model = load_pipeline(str(train(both, tmp_path / "both").checkpoint))
    with pytest.raises(TextError, match="reads text and gloss: give the gloss too"):
        both_model("ab", "en", "ase")
    assert both_model("ab", "en", "ase", gloss="AB").outputs[0].num_frames > 0
    with pytest.raises(Text2SignError, match="reads text only; a gloss does not apply"):
        load_pipeline("fs-gan-nat")("hello", "en", "ase", gloss="HELLO")
