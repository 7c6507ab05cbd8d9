import numpy as np
import pytest

from text2sign.data.corpus import Corpus
from text2sign.data.fingerspelling import FSWordsConfig, build_fs_words, pseudo_words
from text2sign.data.lexicon import Lexicon, borrowed_alphabets, read_fingerspelling_entries
from text2sign.errors import CorpusError, LanguageError, Text2SignError

SMALL = FSWordsConfig(train_words=6, dev_words=3, test_words=3, seed=7)


@pytest.fixture(scope="module")
def fs_words(tmp_path_factory):
    return build_fs_words(tmp_path_factory.mktemp("fsw") / "corpus", SMALL, ["ase", "gss"])


def test_package_lexicon_has_19_recorded_alphabets_and_fsl_borrows_ase():
    entries = read_fingerspelling_entries()
    assert len(entries) == 600
    assert len({e.signed_language for e in entries}) == 19
    assert borrowed_alphabets() == {"fsl": "ase"}


def test_counts_per_split(fs_words):
    summary = fs_words.summary()
    letters = len(Lexicon.fingerspelling().keys("ase")) + len(Lexicon.fingerspelling().keys("gss"))
    assert summary["items"] == {"train": letters + 12, "dev": 6, "test": 6}
    assert summary["languages"] == {"el->gss": letters - 26 + 6 + 6, "en->ase": 26 + 6 + 6}
    assert fs_words.stats["word_source"] == {"ase": "dictionary", "gss": "dictionary"}


def test_splits_are_disjoint_and_words_are_spelled_in_the_gloss(fs_words):
    words = {
        s: {(i.signed_language, i.text) for i in fs_words.split(s) if "-letter-" not in i.id}
        for s in ("train", "dev", "test")
    }
    assert not words["train"] & words["test"] and not words["train"] & words["dev"] and not words["dev"] & words["test"]
    for item in fs_words.items:
        if "-letter-" in item.id:
            assert item.split == "train" and len(item.gloss.split()) == 1
        else:
            assert "".join(item.gloss.split()).lower() == item.text
            assert 3 <= len(item.gloss.split()) <= 8


def test_poses_load_with_manifest_lengths_and_stats(fs_words):
    again = Corpus.load(fs_words.root)
    assert len(again) == len(fs_words)
    for item in again.split("test"):
        pose = again.load_pose(item)
        assert pose.num_frames == item.num_frames and pose.layout.name == "holistic-178" and pose.fps == 25.0
    stats = again.feature_stats()
    assert stats.mean.shape == (178 * 3,) and (stats.std > 0).all()


def test_references_vary_in_rhythm(fs_words):
    """The same letters composed twice with the seeded jitter must not come out identical."""
    lengths = [i.num_frames / len(i.gloss.split()) for i in fs_words.items if "-letter-" not in i.id]
    assert np.std(lengths) > 0.5


def test_build_is_reproducible(tmp_path, fs_words):
    again = build_fs_words(tmp_path / "again", SMALL, ["gss"])
    first = {i.id: i.num_frames for i in fs_words.items if i.signed_language == "gss"}
    assert {i.id: i.num_frames for i in again.items} == first


def test_unknown_and_borrowed_languages_are_explained(tmp_path):
    with pytest.raises(LanguageError, match="no fingerspelling alphabet for xyz"):
        build_fs_words(tmp_path / "c", SMALL, ["xyz"])
    with pytest.raises(LanguageError, match="fsl borrows ase's clips"):
        build_fs_words(tmp_path / "c", SMALL, ["fsl"])


def test_output_parent_is_made_unless_it_is_a_file(tmp_path):
    (tmp_path / "a-file").write_text("mine")
    with pytest.raises(Text2SignError, match="a-file is not a directory"):
        build_fs_words(tmp_path / "a-file" / "corpus", SMALL, ["ase"])
    assert (tmp_path / "a-file").read_text() == "mine"
    corpus = build_fs_words(tmp_path / "data" / "fs-words", SMALL, ["ase"])
    assert Corpus.load(tmp_path / "data" / "fs-words").items == corpus.items


def test_pseudo_words_use_the_alphabet():
    rng = np.random.default_rng(0)
    words = pseudo_words(list("abcdefgh"), 20, rng, (3, 5))
    assert len(words) == 20 and all(set(w) <= set("abcdefgh") and 3 <= len(w) <= 5 for w in words)


def test_corpus_errors(tmp_path):
    with pytest.raises(CorpusError, match="corpus directory not found"):
        Corpus.load(tmp_path / "nothing")
    with pytest.raises(CorpusError, match="manifest.csv is missing"):
        Corpus.load(tmp_path)
    (tmp_path / "manifest.csv").write_text("id,split\nx,train\n")
    with pytest.raises(CorpusError, match="lacks the columns"):
        Corpus.load(tmp_path)
