"""The call every pipeline shares: argument checks, samples per text, per-call warnings."""

import threading

import pytest

from text2sign.errors import LanguageError, Text2SignError, TextError
from text2sign.pipelines.base import MAX_SAMPLES, MAX_TEXTS, GenerationResult, Pipeline


class Echo(Pipeline):
    """Returns (text, seed, sample index); warns about every 'x' in a text."""

    name = "echo"
    options = frozenset({"frames"})

    def language_pairs(self):
        return [("en", "ase"), ("*", "bfi")]

    def generate(self, texts, spoken, signed, *, num_samples, seed, strict, notes, frames=None):
        for text in texts:
            if "x" in text:
                notes.warn(f"no x in {signed}")
        return [[(text, seed, k, frames) for k in range(num_samples)] for text in texts]


def test_samples_per_text_and_first_outputs():
    result = Echo()(["a", "b"], "en", "ase", num_samples=3, seed=7, frames=4)
    assert isinstance(result, GenerationResult)
    assert result.samples[1] == [("b", 7, 0, 4), ("b", 7, 1, 4), ("b", 7, 2, 4)]
    assert result.outputs == [("a", 7, 0, 4), ("b", 7, 0, 4)]
    assert Echo()("a", "en", "ase").outputs == [("a", None, 0, None)]


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda p: p([], "en", "ase"), TextError, "no text to sign"),
        (lambda p: p(["a"] * (MAX_TEXTS + 1), "en", "ase"), TextError, f"the limit is {MAX_TEXTS}"),
        (lambda p: p([" "], "en", "ase"), TextError, "text is empty"),
        (lambda p: p([3], "en", "ase"), TextError, "text must be a string, got int"),
        (lambda p: p("a", "en", "ase", num_samples=0), Text2SignError, f"from 1 to {MAX_SAMPLES}, got 0"),
        (lambda p: p("a", "en", "ase", num_samples=True), Text2SignError, "num_samples must be an integer"),
        (lambda p: p("a", "en", "ase", seed=-1), Text2SignError, "seed must be an integer from 0"),
        (
            lambda p: p("a", "en", "ase", steps=4),
            Text2SignError,
            r"option steps does not apply to model echo \(its options: frames\)",
        ),
        (lambda p: p("a", "de", "ase"), LanguageError, "echo signs ase from en, not from 'de'"),
        (lambda p: p("a", "en", "gsg"), LanguageError, "supported: ase, bfi"),
    ],
)
def test_bad_arguments_are_one_clear_error(call, error, message):
    with pytest.raises(error, match=message):
        call(Echo())


def test_any_spoken_language_and_unset_options_are_accepted():
    assert Echo()("a", "fr", "bfi", frames=None).outputs == [("a", None, 0, None)]


def test_warnings_belong_to_their_own_call_even_across_threads():
    pipeline = Echo()
    results = {}

    def call(name, text):
        results[name] = pipeline([text] * 50, "en", "ase").warnings

    threads = [threading.Thread(target=call, args=(f"t{i}", "x" if i % 2 else "a")) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(results[f"t{i}"] == (["no x in ase"] if i % 2 else []) for i in range(8))
