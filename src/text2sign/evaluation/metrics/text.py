"""Back-translation text metrics: BLEU-1..4, ROUGE-L, WER and CER of recognised sentences.

All take ``(hypotheses, references)``, two lists of strings with one reference per hypothesis,
and return numbers on a 0-100 scale: BLEU and ROUGE-L are higher-is-better, WER and CER
lower-is-better (and can exceed 100). The definitions follow what Progressive Transformers,
Sign Language Transformers and the SLRTP 2025 sign production challenge report:

``bleu(hypotheses, references) -> {"bleu1": .., "bleu2": .., "bleu3": .., "bleu4": ..}``
    Their ``raw_corpus_bleu``, reproduced with sacrebleu 2.
``rouge_l(hypotheses, references, beta=1.2) -> float``
    The MS-COCO caption ``Rouge`` (LCS F-score on whitespace tokens), script-neutral.
``wer(hypotheses, references)``, ``cer(hypotheses, references) -> float``
    jiwer's corpus error rates after SLRTP's lowercasing and punctuation removal.

Inputs are validated and problems raise :class:`~text2sign.errors.MetricInputError` with one
line: a single string instead of a list, lists of different lengths, a non-string entry, an
empty reference for WER/CER.
"""

from __future__ import annotations

from collections.abc import Sequence

import jiwer
from sacrebleu.metrics import BLEU

from text2sign.errors import MetricInputError

__all__ = ["bleu", "cer", "rouge_l", "wer"]


def _check_texts(hypotheses, references) -> tuple[list[str], list[str]]:
    if isinstance(hypotheses, str) or isinstance(references, str):
        raise MetricInputError("pass lists of strings (one per sentence), not a single string")
    hyps, refs = list(hypotheses), list(references)
    if not hyps and not refs:
        raise MetricInputError("no hypotheses and no references to score")
    if len(hyps) != len(refs):
        raise MetricInputError(f"{len(hyps)} hypotheses but {len(refs)} references: one reference per hypothesis")
    for kind, texts in (("hypothesis", hyps), ("reference", refs)):
        for i, text in enumerate(texts):
            if not isinstance(text, str):
                raise MetricInputError(f"{kind} {i} is a {type(text).__name__}, not a string")
    return hyps, refs


def bleu(hypotheses: Sequence[str], references: Sequence[str]) -> dict[str, float]:
    """Corpus BLEU-1..4 (0-100) as Progressive Transformers, Sign Language Transformers and SLRTP report it.

    Their ``raw_corpus_bleu`` (a sacrebleu 1.4 copy) applies no tokenisation (whitespace split),
    no lowercasing and no smoothing (floor 0.0), and BLEU-n is the brevity penalty times the
    geometric mean of the 1..n-gram precisions. Reproduced with sacrebleu 2's ``BLEU`` per n
    (``max_ngram_order=n``, ``effective_order=False``), so an n-gram order that no hypothesis
    reaches gives 0, as it does there (identical one-word sentences score BLEU-2 = 0).
    """
    hyps, refs = _check_texts(hypotheses, references)
    scores = {}
    for n in range(1, 5):
        metric = BLEU(
            tokenize="none",
            smooth_method="floor",
            smooth_value=0.0,
            max_ngram_order=n,
            effective_order=False,
            force=True,
        )
        scores[f"bleu{n}"] = float(metric.corpus_score(hyps, [refs]).score)
    return scores


def _lcs_length(a: list[str], b: list[str]) -> int:
    previous = [0] * (len(b) + 1)
    for token in a:
        current = [0]
        for j, other in enumerate(b):
            current.append(previous[j] + 1 if token == other else max(previous[j + 1], current[j]))
        previous = current
    return previous[-1]


def rouge_l(hypotheses: Sequence[str], references: Sequence[str], beta: float = 1.2) -> float:
    """ROUGE-L (0-100): the mean over sentences of the LCS F-score on whitespace tokens.

    As Sign Language Transformers / SLRTP compute it (the MS-COCO caption ``Rouge`` with
    beta = 1.2, one reference per sentence). Written here rather than taken from the
    ``rouge-score`` package because its default tokenizer lowercases and keeps only [a-z0-9],
    which deletes umlauts, accents and every non-Latin script: German or Greek sentences would
    score on fragments. Two empty sentences are identical (100); one empty side scores 0.
    """
    hyps, refs = _check_texts(hypotheses, references)
    total = 0.0
    for hyp, ref in zip(hyps, refs):
        h, r = hyp.split(), ref.split()
        if not h or not r:
            total += 1.0 if not h and not r else 0.0
            continue
        lcs = _lcs_length(r, h)
        if lcs == 0:
            continue
        precision, recall = lcs / len(h), lcs / len(r)
        total += (1 + beta**2) * precision * recall / (recall + beta**2 * precision)
    return 100.0 * total / len(hyps)


def _jiwer_transform(characters: bool) -> jiwer.Compose:
    # SLRTP's normalisation minus ExpandCommonEnglishContractions, which would rewrite
    # non-English text ("it's" rules have no place in German or Greek).
    return jiwer.Compose(
        [
            jiwer.ToLowerCase(),
            jiwer.RemovePunctuation(),
            jiwer.RemoveMultipleSpaces(),
            jiwer.Strip(),
            jiwer.ReduceToListOfListOfChars() if characters else jiwer.ReduceToListOfListOfWords(),
        ]
    )


def _error_rate(hypotheses, references, characters: bool) -> float:
    hyps, refs = _check_texts(hypotheses, references)
    words = _jiwer_transform(characters=False)
    empty = [i for i, ref in enumerate(refs) if not words([ref])[0]]
    if empty:
        raise MetricInputError(
            f"reference {empty[0]} is empty after lowercasing and removing punctuation: "
            f"{'CER' if characters else 'WER'} is undefined"
        )
    transform = _jiwer_transform(characters)
    measure = jiwer.cer if characters else jiwer.wer
    return 100.0 * float(measure(refs, hyps, reference_transform=transform, hypothesis_transform=transform))


def wer(hypotheses: Sequence[str], references: Sequence[str]) -> float:
    """Corpus word error rate in percent (jiwer): edits / reference words, after lowercasing and
    removing punctuation as SLRTP does. Can exceed 100 when hypotheses are longer than references."""
    return _error_rate(hypotheses, references, characters=False)


def cer(hypotheses: Sequence[str], references: Sequence[str]) -> float:
    """Corpus character error rate in percent (jiwer), with the same normalisation as :func:`wer`;
    spaces count as characters."""
    return _error_rate(hypotheses, references, characters=True)
