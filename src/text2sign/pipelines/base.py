"""The Pipeline protocol: one call signature for every model family.

    result = pipeline(["hello", "world"], spoken="en", signed="ase", num_samples=2, seed=0)
    result.outputs        # [PoseSequence | VideoClip, ...]: the first sample of each text
    result.samples[1][0]  # text 1, sample 0
    result.warnings       # what this call skipped or guessed, as sentences

A result carries its own warnings: a threaded server keeps one request's warnings apart from
another's, which the global ``warnings`` module cannot. Options beyond the common ones
(``frames``, ``steps``, ``guidance_scale``, ...) are accepted only by pipelines that declare them
in ``options`` (:class:`~text2sign.pipelines.options.Option` records: name, type, range, help);
anything else, or a value out of its range, is a one-line error naming the option. The CLI's flags
and the server's request fields are built from the same declarations.

A subclass sets ``name``, ``output`` (``"pose"`` or ``"video"``), ``options`` (and
``load_options``, those it is built with) and ``stochastic``, and implements
:meth:`Pipeline.generate` and :meth:`Pipeline.language_pairs`.
"""

from __future__ import annotations

import abc
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from text2sign.errors import LanguageError, Text2SignError, TextError
from text2sign.pipelines.options import Option, declared

MAX_TEXT_CHARS = 1000
MAX_SAMPLES = 16
MAX_TEXTS = 256


@dataclass
class GenerationResult:
    """Outputs per text (``samples[i]`` has ``num_samples`` items) and this call's warnings."""

    samples: list[list[Any]]
    warnings: list[str] = field(default_factory=list)

    @property
    def outputs(self) -> list[Any]:
        """The first sample of each text."""
        return [s[0] for s in self.samples]


class Notes:
    """Warnings collected during one call, each said once, in order."""

    def __init__(self) -> None:
        self.messages: list[str] = []

    def warn(self, message: str) -> None:
        if message not in self.messages:
            self.messages.append(message)


class Pipeline(abc.ABC):
    name: ClassVar[str] = "pipeline"
    output: ClassVar[str] = "pose"
    # What a call may add (checked, then given to generate) and what loading takes (lexicon, ...).
    options: ClassVar[tuple[Option, ...] | frozenset[str]] = ()
    load_options: ClassVar[tuple[Option, ...]] = ()
    # False: the same text always gives the same output, whatever the seed.
    stochastic: ClassVar[bool] = False
    max_chars: int = MAX_TEXT_CHARS

    @property
    def label(self) -> str:
        """What messages call the model: the name or directory it was loaded by, else its family."""
        return self.__dict__.get("_label") or self.name

    def labelled(self, label: str) -> Pipeline:
        self._label = label
        return self

    def __call__(
        self,
        texts: str | Sequence[str],
        spoken: str,
        signed: str,
        *,
        num_samples: int = 1,
        seed: int | None = None,
        strict: bool = False,
        **options: Any,
    ) -> GenerationResult:
        """Signing for each text: `num_samples` outputs each (samples differ only where the model is
        stochastic); `seed` fixes them (None: the model's default seed); `strict` turns text the
        model cannot sign into an error instead of a warning."""
        texts = [texts] if isinstance(texts, str) else list(texts)
        if not texts:
            raise TextError("no text to sign")
        if len(texts) > MAX_TEXTS:
            raise TextError(f"{len(texts)} texts in one call; the limit is {MAX_TEXTS}")
        for text in texts:
            check_text(text, self.max_chars)
        check_samples_and_seed(num_samples, seed)
        options = self.check_options(options)
        self.check_languages(spoken, signed)
        notes = Notes()
        samples = self.generate(
            texts, spoken, signed, num_samples=num_samples, seed=seed, strict=strict, notes=notes, **options
        )
        for text_samples in samples:
            for output in text_samples:
                self._check_output(output)
        # Viewers (pose-format's, sign.mt's pose-viewer) draw only what lies on the canvas.
        samples = [[_on_canvas(output) for output in text_samples] for text_samples in samples]
        return GenerationResult(samples, notes.messages)

    def call_options(self) -> dict[str, Option]:
        """The options this model takes, by name: its class's declarations, which a subclass may
        narrow for one checkpoint (a student distilled for 1-4 steps)."""
        return declared(self.options)

    def check_options(self, options: dict[str, Any]) -> dict[str, Any]:
        """The options given (None: not given), each checked against its declaration; an option
        this model does not declare, or a value out of range, is one error line."""
        own = self.call_options()
        unknown = sorted(k for k, v in options.items() if v is not None and k not in own)
        if unknown:
            raise Text2SignError(
                f"option {', '.join(unknown)} does not apply to model {self.label} (its options: "
                f"{', '.join(own) or 'none'})"
            )
        return {k: own[k].check(v) for k, v in options.items() if v is not None}

    def _check_output(self, output: Any) -> None:
        """Refuse what no file should hold: non-finite coordinates, or a pose with nothing observed."""
        data = getattr(output, "data", None)
        if data is None:
            return
        import numpy as np

        if not np.isfinite(data).all():
            raise Text2SignError(f"model {self.label} produced NaN or infinite coordinates; its weights may be corrupt")
        if output.num_frames == 0 or not output.mask.any():
            raise Text2SignError(f"model {self.label} produced a pose with no observed joint")

    def frames_at_least(self, text: str, signed: str, **options: Any) -> int:
        """A lower bound on the frames :meth:`__call__` would make for `text` with `options`,
        found without generating (0: no bound known), so a caller with a length limit can refuse
        before spending the work. It never raises: a text the model refuses bounds nothing."""
        return 0

    @abc.abstractmethod
    def generate(
        self,
        texts: list[str],
        spoken: str,
        signed: str,
        *,
        num_samples: int,
        seed: int | None,
        strict: bool,
        notes: Notes,
        **options: Any,
    ) -> list[list[Any]]:
        """``num_samples`` outputs for each (already checked) text; warnings go to `notes`."""

    @abc.abstractmethod
    def language_pairs(self) -> list[tuple[str, str]]:
        """Known (spoken, signed) pairs; "*" as spoken when the model reads text of any language."""

    def check_languages(self, spoken: str, signed: str) -> None:
        pairs = self.language_pairs()
        signed_known = sorted({si for _, si in pairs})
        if signed not in signed_known:
            raise LanguageError(
                f"signed language {signed!r} is not supported by {self.label}; supported: {', '.join(signed_known)}"
            )
        spoken_for = sorted(sp for sp, si in pairs if si == signed)
        if "*" not in spoken_for and spoken not in spoken_for:
            raise LanguageError(f"{self.label} signs {signed} from {', '.join(spoken_for)}, not from {spoken!r}")

    def to(self, device: Any) -> Pipeline:
        """Move to `device`; pipelines without a network run on the CPU only."""
        if str(device) != "cpu":
            raise Text2SignError(f"model {self.label} runs on the CPU only")
        return self


def _on_canvas(output: Any) -> Any:
    from text2sign.pose.sequence import PoseSequence

    return output.fit_canvas() if isinstance(output, PoseSequence) else output


def check_samples_and_seed(num_samples: int, seed: int | None) -> None:
    """`num_samples` from 1 to :data:`MAX_SAMPLES`, and `seed` None or from 0 to 2**63 - 1."""
    if isinstance(num_samples, bool) or not isinstance(num_samples, int) or not 1 <= num_samples <= MAX_SAMPLES:
        raise Text2SignError(f"num_samples must be an integer from 1 to {MAX_SAMPLES}, got {num_samples!r}")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**63):
        raise Text2SignError(f"seed must be an integer from 0 to 2**63 - 1, got {seed!r}")


def check_text(text: str, max_chars: int = MAX_TEXT_CHARS) -> None:
    """Text a pipeline can take: a non-blank string of at most `max_chars` characters."""
    if not isinstance(text, str):
        raise TextError(f"text must be a string, got {type(text).__name__}")
    if not text or not text.strip():
        raise TextError("text is empty")
    if len(text) > max_chars:
        raise TextError(f"text has {len(text)} characters; the limit is {max_chars}")


def split_words(text: str) -> list[str]:
    """Words of `text`: punctuation separates words and is not signed."""
    cleaned = "".join(" " if unicodedata.category(ch).startswith(("P", "Z", "C")) else ch for ch in text)
    return cleaned.split()


def skipped(unknown: Sequence[str], reason: str) -> str:
    """The one warning for characters a model skips: ``skipped 'x', 'y': <reason> them``."""
    distinct = list(dict.fromkeys(unknown))
    return f"skipped {', '.join(repr(u) for u in distinct)}: {reason.format(it='it' if len(distinct) == 1 else 'them')}"
