import json
import shutil

import numpy as np
import pytest
import torch

from text2sign.checkpoints import load_checkpoint, read_meta
from text2sign.config import config_to_dict
from text2sign.data.fingerspelling import FSWordsConfig, build_fs_words
from text2sign.errors import CheckpointError, LanguageError, Text2SignError
from text2sign.evaluation.recognizer import (
    Recognizer,
    greedy_decode,
    letter_swapped,
    shipped_recognizer_dir,
    time_shuffled,
)
from text2sign.families import get_family
from text2sign.models.recognizer import PoseRecognizer, RecognizerConfig
from text2sign.pose.features import first_dims, kinds_layout
from text2sign.pose.layout import DEFAULT_KINDS, get_layout
from text2sign.pose.normalize import compute_feature_stats, normalize_by_shoulders
from text2sign.testing import fake_pose
from text2sign.training import load_config, parse_experiment, train
from text2sign.training.recognizer import RecognizerTrainConfig, train_recognizer

TINY = {"hidden": 32, "dilations": (1, 2), "batch_size": 8, "lr": 3e-3, "num_threads": 1, "evaluate_test": False}
GAN_NAT = shipped_recognizer_dir().parents[2] / "pipelines" / "assets" / "fs-gan-nat"
CONFIG_YAML = shipped_recognizer_dir().parents[4] / "configs" / "fs-words-recognizer.yaml"


@pytest.fixture(scope="module")
def ase_corpus(tmp_path_factory):
    """The ase part of FS-Words, built as the real corpus is: its test words are real, unseen test words."""
    return build_fs_words(tmp_path_factory.mktemp("fsw") / "ase", FSWordsConfig(), ["ase"])


@pytest.fixture(scope="module")
def shipped():
    return Recognizer.from_pretrained()


def random_recognizer(languages=("ase", "gsg"), vocab="abc", seed=0) -> Recognizer:
    torch.manual_seed(seed)
    layout = kinds_layout(get_layout("holistic-178"), DEFAULT_KINDS)
    config = RecognizerConfig(
        hidden=16, dilations=[1, 2], vocab=list(vocab), languages=list(languages), layout=layout.to_dict(), fps=25.0
    )
    poses = [first_dims(normalize_by_shoulders(fake_pose(20, seed=s))[0], 2) for s in range(3)]
    stats = compute_feature_stats(poses, DEFAULT_KINDS, normalize=False)
    return Recognizer(PoseRecognizer(config), stats)


def test_greedy_decode_merges_repeats_and_drops_blanks():
    path = torch.tensor([[1, 1, 0, 1, 2, 2, 0, 0, 3, 3]])
    logits = torch.nn.functional.one_hot(path, 4).float()  # (1, T, V)
    mask = torch.ones(1, 10, dtype=torch.bool)
    assert greedy_decode(logits, mask, ["a", "b", "c"]) == ["aabc"]
    mask[0, 4:] = False
    assert greedy_decode(logits, mask, ["a", "b", "c"]) == ["aa"]


def test_save_load_round_trip_gives_identical_outputs(tmp_path):
    rec = random_recognizer()
    rec.metrics = {"dev/cer": 12.5}
    poses = [fake_pose(n, seed=n) for n in (9, 30, 17)]
    out = rec.save(tmp_path / "ckpt")
    assert sorted(p.name for p in out.iterdir()) == ["config.json", "model.safetensors", "normalization.json"]
    checkpoint = load_checkpoint(out)  # the standard checkpoint format, rebuilt from config.json alone
    assert checkpoint.family.name == "recognizer" and checkpoint.meta.metrics == {"dev/cer": 12.5}
    assert config_to_dict(checkpoint.model_config) == config_to_dict(rec.config)
    loaded = Recognizer.from_pretrained(out)
    assert loaded.vocab == rec.vocab and loaded.languages == rec.languages and loaded.kinds == rec.kinds
    assert loaded.dims == 2 and loaded.layout.same_joints(rec.layout)
    assert np.array_equal(loaded.embed(poses, "gsg"), rec.embed(poses, "gsg"))
    assert loaded.recognize(poses, ["ase", "gsg", "ase"]) == rec.recognize(poses, ["ase", "gsg", "ase"])
    for name, tensor in rec.model.state_dict().items():
        assert torch.equal(loaded.model.state_dict()[name], tensor)
    # saving again replaces the checkpoint atomically and leaves no temporary directories
    random_recognizer(seed=1).save(out)
    assert not np.array_equal(Recognizer.from_pretrained(out).embed(poses, "gsg"), rec.embed(poses, "gsg"))
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt"]


def test_outputs_do_not_depend_on_batch_padding_layout_or_fps():
    rec = random_recognizer()
    short, long = fake_pose(12, seed=1), fake_pose(80, seed=2)
    alone = rec.embed([short], "ase")
    padded = rec.embed([short, long], "ase")[:1]
    assert np.allclose(alone, padded, atol=1e-5)
    full = fake_pose(12, layout="holistic", seed=3)  # more joints than the recognizer reads: picked by name
    assert np.allclose(rec.embed([full], "ase"), rec.embed([full.to_layout("holistic-178")], "ase"), atol=1e-5)
    slow = rec.prepare(short.resample(fps=50.0))[0]
    assert slow.shape[0] == 12
    assert rec.embed([short], "ase").shape == (1, rec.model.embedding_dim)


def test_unknown_language_and_bad_checkpoints_are_clear_errors(tmp_path):
    rec = random_recognizer()
    with pytest.raises(LanguageError, match="does not know signed language xyz; it knows: ase, gsg"):
        rec.recognize([fake_pose(10)], ["xyz"])
    with pytest.raises(CheckpointError, match="recognizer checkpoint not found"):
        Recognizer.from_pretrained(tmp_path / "nowhere")
    out = rec.save(tmp_path / "ckpt")
    broken = shutil.copytree(out, tmp_path / "no-weights")
    (broken / "model.safetensors").unlink()
    with pytest.raises(CheckpointError, match="model.safetensors is missing"):
        Recognizer.from_pretrained(broken)
    no_stats = shutil.copytree(out, tmp_path / "no-stats")
    (no_stats / "normalization.json").unlink()
    with pytest.raises(CheckpointError, match="a recognizer needs its normalization.json"):
        Recognizer.from_pretrained(no_stats)
    config = json.loads((out / "config.json").read_text())
    config["model"]["hidden"] = 24
    (out / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match="does not match the model that config.json describes"):
        Recognizer.from_pretrained(out)
    config["model"]["hidden"] = 16
    config["model"]["vocab"] = ["a"]
    (out / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match=r"weight 'head.weight' has shape \(4, 16\) in the file but \(2, 16\)"):
        Recognizer.from_pretrained(out)
    with pytest.raises(CheckpointError, match="holds a gan-nat model, not a recognizer"):
        Recognizer.from_pretrained(GAN_NAT)
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("mine")
    with pytest.raises(CheckpointError, match="refusing to overwrite"):
        rec.save(tmp_path / "busy")


def test_an_old_format_recognizer_is_one_clear_error(tmp_path):
    old = tmp_path / "old"
    old.mkdir()
    (old / "config.json").write_text(json.dumps({"format": "text2sign-recognizer", "version": 1, "model": {}}))
    (old / "model.safetensors").write_bytes(b"")
    with pytest.raises(CheckpointError) as caught:
        Recognizer.from_pretrained(old)
    message = str(caught.value)
    assert "old 'text2sign-recognizer' format" in message and "train-recognizer" in message
    assert "\n" not in message


def test_corruptions_keep_frames_but_change_their_order(ase_corpus):
    item = ase_corpus.split("test")[0]
    seq = ase_corpus.load_pose(item)
    shuffled = time_shuffled(seq, np.random.default_rng(0))
    assert shuffled.data.shape == seq.data.shape
    assert np.allclose(np.sort(shuffled.data[:, :, 0], axis=0), np.sort(seq.data[:, :, 0], axis=0))
    from text2sign.data.lexicon import Lexicon

    swapped = letter_swapped("sop", "ase", Lexicon.fingerspelling(), np.random.default_rng(0))
    assert swapped.layout.name == seq.layout.name and swapped.num_frames > 20


@pytest.mark.slow
def test_tiny_recognizer_trained_by_the_loop_lowers_the_loss(ase_corpus, tmp_path):
    steps = []
    cfg = RecognizerTrainConfig(epochs=7, **TINY)
    metrics = train_recognizer(
        ase_corpus.root, tmp_path / "rec", cfg, on_progress=lambda s, n, i: steps.append((s, n, i))
    )
    per_epoch = len(ase_corpus.split("train")) // 8  # the loop drops the last incomplete batch
    losses = [h["loss"] for h in metrics["history"]]
    assert len(losses) == 7 and [s for s, _, _ in steps] == list(range(1, 7 * per_epoch + 1))
    assert steps[-1][1] == metrics["steps"] == 7 * per_epoch and steps[-1][2]["epoch"] == 7
    assert losses[-1] < 0.6 * losses[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rec"]  # the loop's run directory is gone
    meta = read_meta(tmp_path / "rec")
    assert meta.family == "recognizer" and meta.step == metrics["best_epoch"] * per_epoch
    assert meta.metrics["dev/cer"] == metrics["history"][metrics["best_epoch"] - 1]["dev_cer"]
    assert meta.metrics["scores"] == metrics["scores"] and meta.experiment["train"]["validate_every"] == per_epoch
    rec = Recognizer.from_pretrained(tmp_path / "rec")
    assert rec.languages == ["ase"] and "z" in rec.vocab and rec.training["best_epoch"] == metrics["best_epoch"]
    assert metrics["scores"]["dev"]["n"] == 8
    assert rec.evaluate_split(ase_corpus, "dev")["cer"] == pytest.approx(metrics["scores"]["dev"]["cer"])


def test_train_recognizer_keeps_the_epoch_with_the_best_dev_cer(tiny_fs_words, tmp_path, monkeypatch):
    import text2sign.families.recognizer as family

    scripted = iter([60.0, 20.0, 40.0])  # dev CER after epochs 1, 2, 3: the second is the best
    monkeypatch.setattr(family, "_dev_cer", lambda dev_set, stats: lambda model, device: {"dev/cer": next(scripted)})
    shown = []
    cfg = RecognizerTrainConfig(epochs=3, hidden=8, dilations=(1,), batch_size=8, num_threads=1, evaluate_test=False)
    metrics = train_recognizer(tiny_fs_words.root, tmp_path / "rec", cfg, lambda s, n, i: shown.append(i["dev_cer"]))
    per_epoch = len(tiny_fs_words.split("train")) // 8
    assert [h["dev_cer"] for h in metrics["history"]] == [60.0, 20.0, 40.0] and metrics["best_epoch"] == 2
    meta = read_meta(tmp_path / "rec")
    assert meta.step == 2 * per_epoch and meta.metrics["dev/cer"] == 20.0
    # the progress shows the best dev CER so far: none in epoch 1, then 60, then 20
    assert np.isnan(shown[0]) and shown[per_epoch] == 60.0 and shown[-1] == 20.0


def test_the_family_trains_with_text2sign_train_and_its_run_is_a_recognizer(tmp_path):
    family = get_family("recognizer")
    assert family.output == "text" and family.pipeline is None and family.trainable
    config = parse_experiment(family.tiny(tmp_path), "tiny")
    result = train(config, tmp_path / "run")
    assert [v["step"] for v in result.validations] == [2, 4] and result.best is not None
    best = min(result.validations, key=lambda v: v["dev/cer"])
    assert read_meta(result.best).metrics["dev/cer"] == best["dev/cer"]
    rec = Recognizer.from_pretrained(tmp_path / "run")  # a run directory: its best checkpoint
    assert rec.config.layout and rec.fps == 25.0 and rec.languages == ["ase"]


def test_the_yaml_config_is_what_train_recognizer_runs_for_fs_words():
    yaml = config_to_dict(load_config(CONFIG_YAML))
    options = config_to_dict(RecognizerTrainConfig().experiment("data/fs-words", 1208))
    assert {**options, "name": yaml["name"]} == yaml
    assert yaml["train"]["steps"] == 50 * 75 and yaml["train"]["validate_every"] == 75


def test_train_config_rejects_bad_values():
    with pytest.raises(Text2SignError, match="kinds must be distinct names from"):
        RecognizerTrainConfig(kinds=("hands",))
    with pytest.raises(Text2SignError, match="kernel_size must be odd"):
        RecognizerTrainConfig(kernel_size=4)
    with pytest.raises(Text2SignError, match="'model.hidden' in the train-recognizer options must be >= 1"):
        RecognizerTrainConfig(hidden=0)
    with pytest.raises(Text2SignError, match="epochs must be >= 1"):
        RecognizerTrainConfig(epochs=0)


def test_shipped_recognizer_is_a_standard_checkpoint_with_its_training_record():
    checkpoint = load_checkpoint(shipped_recognizer_dir())
    assert checkpoint.family.name == "recognizer" and checkpoint.meta.version == 2
    assert sum(p.numel() for p in checkpoint.model.parameters()) == 618012
    training = checkpoint.metadata["training"]
    assert training["best_epoch"] == 44 and len(training["history"]) == 50
    assert checkpoint.meta.metrics["scores"]["test"]["cer"] == pytest.approx(7.8431, abs=1e-4)


def test_shipped_recognizer_reads_real_test_words_and_not_corrupted_ones(shipped, ase_corpus):
    assert shipped_recognizer_dir().is_dir() and len(shipped.languages) == 19
    items = ase_corpus.split("test")
    read = shipped.recognize([ase_corpus.load_pose(i) for i in items], "ase")
    correct = [i.text for i, r in zip(items, read) if r == i.text]
    assert len(correct) >= len(items) // 2, read
    real = shipped.evaluate_split(ase_corpus, "test")
    shuffled = shipped.evaluate_split(ase_corpus, "test", corruption="time-shuffle")
    swapped = shipped.evaluate_split(ase_corpus, "test", corruption="letter-swap")
    assert real["n"] == 8 and real["cer"] <= 15.0
    assert shuffled["cer"] >= real["cer"] + 40.0
    assert swapped["cer"] >= real["cer"] + 40.0
