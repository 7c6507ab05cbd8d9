import json
import shutil

import numpy as np
import pytest
import torch

from text2sign.data.fingerspelling import FSWordsConfig, build_fs_words
from text2sign.data.torch_data import first_dims, kinds_layout
from text2sign.errors import CheckpointError, LanguageError, Text2SignError
from text2sign.evaluation.recognizer import (
    DEFAULT_KINDS,
    Recognizer,
    RecognizerTrainConfig,
    greedy_decode,
    letter_swapped,
    shipped_recognizer_dir,
    time_shuffled,
    train_recognizer,
)
from text2sign.models.recognizer import PoseRecognizer
from text2sign.pose.layout import get_layout
from text2sign.pose.normalize import compute_feature_stats, normalize_by_shoulders
from text2sign.testing import fake_pose

TINY = dict(hidden=32, dilations=(1, 2), batch_size=8, lr=3e-3, num_threads=1, evaluate_test=False)


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
    joints = int(layout.kind_indices(*DEFAULT_KINDS).size)
    model = PoseRecognizer(joints * 2, joints, len(vocab) + 1, len(languages), hidden=16, dilations=(1, 2))
    poses = [first_dims(normalize_by_shoulders(fake_pose(20, seed=s))[0], 2) for s in range(3)]
    stats = compute_feature_stats(poses, DEFAULT_KINDS, normalize=False)
    return Recognizer(model, list(vocab), list(languages), DEFAULT_KINDS, layout, 25.0, stats, dims=2)


def test_greedy_decode_merges_repeats_and_drops_blanks():
    path = torch.tensor([[1, 1, 0, 1, 2, 2, 0, 0, 3, 3]])
    logits = torch.nn.functional.one_hot(path, 4).float()  # (1, T, V)
    mask = torch.ones(1, 10, dtype=torch.bool)
    assert greedy_decode(logits, mask, ["a", "b", "c"]) == ["aabc"]
    mask[0, 4:] = False
    assert greedy_decode(logits, mask, ["a", "b", "c"]) == ["aa"]


def test_save_load_round_trip_gives_identical_outputs(tmp_path):
    rec = random_recognizer()
    poses = [fake_pose(n, seed=n) for n in (9, 30, 17)]
    out = rec.save(tmp_path / "ckpt")
    assert sorted(p.name for p in out.iterdir()) == ["config.json", "model.safetensors", "normalization.json"]
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


def test_unknown_language_and_missing_checkpoints_are_clear_errors(tmp_path):
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
    config = json.loads((out / "config.json").read_text())
    config["model"]["hidden"] = 24
    (out / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match="does not fit config.json"):
        Recognizer.from_pretrained(out)
    config["vocab"] = ["a"]
    (out / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match="vocab_size is 4 but the checkpoint needs 2"):
        Recognizer.from_pretrained(out)
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("mine")
    with pytest.raises(CheckpointError, match="refusing to overwrite"):
        rec.save(tmp_path / "busy")


def test_corruptions_keep_frames_but_change_their_order(ase_corpus):
    item = ase_corpus.split("test")[0]
    seq = ase_corpus.load_pose(item)
    shuffled = time_shuffled(seq, np.random.default_rng(0))
    assert shuffled.data.shape == seq.data.shape
    assert np.allclose(np.sort(shuffled.data[:, :, 0], axis=0), np.sort(seq.data[:, :, 0], axis=0))
    from text2sign.data.lexicon import Lexicon

    swapped = letter_swapped("sop", "ase", Lexicon.fingerspelling(), np.random.default_rng(0))
    assert swapped.layout.name == seq.layout.name and swapped.num_frames > 20


def test_tiny_recognizer_training_lowers_the_loss_and_writes_a_checkpoint(ase_corpus, tmp_path):
    steps = []
    cfg = RecognizerTrainConfig(epochs=7, **TINY)
    metrics = train_recognizer(ase_corpus.root, tmp_path / "rec", cfg, on_progress=lambda s, n, i: steps.append((s, n)))
    losses = [h["loss"] for h in metrics["history"]]
    assert len(losses) == 7 and steps[-1] == (7 * 8, 7 * 8)
    assert losses[-1] < 0.6 * losses[0]
    assert 1 <= metrics["best_epoch"] <= 7 and "dev" in metrics["scores"] and metrics["scores"]["dev"]["n"] == 8
    rec = Recognizer.from_pretrained(tmp_path / "rec")
    assert rec.languages == ["ase"] and "z" in rec.vocab and rec.training["best_epoch"] == metrics["best_epoch"]
    assert rec.evaluate_split(ase_corpus, "dev")["cer"] == pytest.approx(metrics["scores"]["dev"]["cer"])


def test_train_config_rejects_bad_values():
    with pytest.raises(Text2SignError, match="kinds must be among"):
        RecognizerTrainConfig(kinds=("hands",))
    with pytest.raises(Text2SignError, match="kernel_size must be odd"):
        RecognizerTrainConfig(kernel_size=4)


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
