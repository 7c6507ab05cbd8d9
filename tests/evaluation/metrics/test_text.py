import numpy as np
import pytest

from text2sign.errors import MetricInputError
from text2sign.evaluation import metrics as M


def test_bleu_identical_is_100_and_known_ngrams():
    sentences = ["am tag scheint die sonne im süden", "über nacht regen und gewitter"]
    assert M.bleu(sentences, sentences) == {f"bleu{n}": pytest.approx(100.0) for n in range(1, 5)}
    scores = M.bleu(["a b c d"], ["a b c e"])
    assert scores["bleu1"] == pytest.approx(75.0)
    assert scores["bleu2"] == pytest.approx(100 * np.sqrt(0.75 * 2 / 3))
    assert scores["bleu3"] == pytest.approx(100 * (0.75 * 2 / 3 * 0.5) ** (1 / 3))
    assert scores["bleu4"] == 0.0  # no smoothing, as raw_corpus_bleu


def test_rouge_l_hand_computed_and_non_ascii():
    expected = 100 * (1 + 1.44) * (2 / 3) * 0.5 / (0.5 + 1.44 * (2 / 3))
    assert M.rouge_l(["a b c"], ["a c d e"]) == pytest.approx(expected)
    assert M.rouge_l(["größer äöü ß"], ["größer äöü ß"]) == pytest.approx(100.0)
    assert M.rouge_l(["größer"], ["grosser"]) == 0.0
    assert M.rouge_l([""], ["a b"]) == 0.0


def test_wer_and_cer_known_edits():
    assert M.wer(["das wetter war gut"], ["das wetter ist gut"]) == pytest.approx(25.0)
    assert M.wer(["Das Wetter, ist gut."], ["das wetter ist gut"]) == 0.0
    assert M.wer([""], ["das wetter"]) == pytest.approx(100.0)
    assert M.cer(["abd"], ["abc"]) == pytest.approx(100 / 3)


def test_text_metric_errors():
    with pytest.raises(MetricInputError, match="2 hypotheses but 1 references"):
        M.bleu(["a", "b"], ["a"])
    with pytest.raises(MetricInputError, match="not a single string"):
        M.wer("a b", "a b")
    with pytest.raises(MetricInputError, match="no hypotheses"):
        M.rouge_l([], [])
    with pytest.raises(MetricInputError, match="reference 1 is empty"):
        M.wer(["a", "b"], ["a", "..."])
    with pytest.raises(MetricInputError, match="hypothesis 0 is a NoneType"):
        M.cer([None], ["a"])
