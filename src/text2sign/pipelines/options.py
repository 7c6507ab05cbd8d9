"""The options a model takes, declared once, by its pipeline class.

A pipeline lists the keyword options of its call (``options``: ``steps``, ``guidance_scale``,
``frames``, ...) and those it is loaded with (``load_options``: ``lexicon``, ...) as
:class:`Option` records: name, type, range, help. Everything that takes options is built from them:

* :meth:`Pipeline.__call__ <text2sign.pipelines.base.Pipeline.__call__>` refuses an option the model
  does not declare and checks every value against its range, in one line naming the option;
* ``text2sign generate``, ``evaluate`` and ``bench`` have a flag ``--NAME`` for each option of the
  model they are given (``--model``), and their ``--help`` lists the options of every model;
* ``text2sign serve``'s request body has a field for each option of the models it serves (all but
  file-valued ones), with its range, capped by ``serve_max``, in the OpenAPI document.

A new family's option therefore reaches all of them without an edit there. The declarations are
read from the family's registration without loading weights (:func:`model_options`), and this
module imports nothing heavy: the CLI reads it before it parses a command line.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from text2sign.errors import Text2SignError

TYPES = (int, float, str, Path, object)  # object: any value, checked by the pipeline itself
# Keywords of every pipeline call (and the CLI's --model): no option may take these names.
RESERVED = frozenset({"texts", "spoken", "signed", "num_samples", "seed", "strict", "notes", "model"})
MAX_TEXT_OPTION = 1000  # characters of a text-valued option


@dataclass(frozen=True)
class Option:
    """One option of a model.

    name:       the keyword (``guidance_scale``); the CLI flag is ``--guidance-scale``.
    type:       int, float, str, or Path (a file; with `load`, what the call receives is what
                ``load(path)`` returns, e.g. a pose sequence read from a ``.pose`` file); object:
                any value, checked by the pipeline (the CLI passes text; the server leaves it out).
    help:       one line for ``--help`` and the OpenAPI document.
    low, high:  the range of a number (None: unbounded on that side).
    serve_max:  the most a request to ``text2sign serve`` may ask (work a client may make a shared
                server do; None: `high`).
    served:     False keeps it out of the server's requests (file-valued options always are).
    why:        said after a range error (what a checkpoint's narrower range comes from).
    """

    name: str
    type: type = str
    help: str = ""
    low: float | None = None
    high: float | None = None
    load: Callable[[Path], Any] | None = field(default=None, compare=False)
    metavar: str | None = None
    serve_max: float | None = None
    served: bool = True
    why: str = ""

    def __post_init__(self) -> None:
        if not self.name.isidentifier() or self.name in RESERVED:
            raise ValueError(
                f"option name {self.name!r} is not an identifier or is reserved ({', '.join(sorted(RESERVED))})"
            )
        if self.type not in TYPES:
            raise ValueError(
                f"option {self.name}: type must be one of int, float, str, Path, object, got {self.type!r}"
            )
        if self.load is not None and self.type is not Path:
            raise ValueError(f"option {self.name}: a loader reads a file, so its type must be Path")

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def numeric(self) -> bool:
        return self.type in (int, float)

    @property
    def http(self) -> bool:
        """Whether a request to the server may carry it (never a file: no client makes the server read its disk)."""
        return self.served and self.type in (int, float, str)

    def within(self, low: float | None = None, high: float | None = None, why: str = "") -> Option:
        """This option with a narrower range (one checkpoint's: a distilled student's steps)."""
        low = self.low if low is None else low if self.low is None else max(low, self.low)
        high = self.high if high is None else high if self.high is None else min(high, self.high)
        return replace(self, low=low, high=high, why=why or self.why)

    def range_text(self, high: float | None = None) -> str:
        high = self.high if high is None else high
        if self.low is not None and high is not None:
            return f"from {self.low:g} to {high:g}"
        if self.low is not None:
            return f"at least {self.low:g}"
        return f"at most {high:g}" if high is not None else ""

    def check(self, value: Any) -> Any:
        """`value` as this option's type, or one error line naming the option and its range."""
        if self.load is not None:
            return value  # what the loader made (a pose sequence): the pipeline knows what it takes
        if self.numeric:
            number = isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
            kind = "a whole number" if self.type is int else "a number"
            if not number or (self.type is int and value != int(value)):
                raise Text2SignError(
                    f"{self.name} must be {kind} {self.range_text()}, got {value!r}".replace("  ", " ")
                )
            if (self.low is not None and value < self.low) or (self.high is not None and value > self.high):
                why = f" ({self.why})" if self.why else ""
                raise Text2SignError(f"{self.name} must be {self.range_text()}, got {value!r}{why}")
            return self.type(value)
        if self.type is str:
            if not isinstance(value, str) or not value.strip():
                raise Text2SignError(f"{self.name} must be a non-empty text, got {value!r}")
            if len(value) > MAX_TEXT_OPTION:
                raise Text2SignError(f"{self.name} has {len(value)} characters; the limit is {MAX_TEXT_OPTION}")
        return value

    def describe(self) -> str:
        """The help line with the range: what ``--help`` and the OpenAPI document say."""
        shown = self.range_text()
        return f"{self.help} ({shown})" if shown and self.help else self.help or shown


def declared(options: Iterable[Option | str]) -> dict[str, Option]:
    """Declarations by name. A bare name (the older ``frozenset({"frames"})`` form) is an option
    of any value, which the pipeline checks itself."""
    out: dict[str, Option] = {}
    for option in options:
        record = option if isinstance(option, Option) else Option(str(option), object)
        out[record.name] = record
    return out


# --- shared declarations ----------------------------------------------------------------------

LEXICON = Option(
    "lexicon", Path, "corpus of isolated signs to look words up in (default: fingerspelling)", metavar="DIR"
)
# Its most frames are the checkpoint's (a multiple of its longest trained length).
FRAMES_PER_WORD = Option("frames", int, "frames per word instead of the predicted length", 1, serve_max=400)
SIGNER = Option("signer", str, "models trained with signers (data.signer): whose style to sign in")
GLOSS = Option(
    "gloss", str, "models trained on glosses (data.input gloss or both): the gloss of the text", served=False
)  # one gloss per text, and the server signs a text as several clauses


def steps_option(high: int, help: str = "sampling steps (default: the model's own)") -> Option:
    return Option("steps", int, help, 1, high, serve_max=200)


def guidance_option(high: float) -> Option:
    return Option(
        "guidance_scale", float, "classifier-free guidance scale (1: off; default: the model's own)", 0.0, high
    )


def eta_option() -> Option:
    return Option(
        "eta", float, "diffusion: DDIM eta (0: deterministic, 1: ancestral; default: the model's own)", 0.0, 1.0
    )


def pose_file_option(name: str, help: str) -> Option:
    """A pose file a call takes (``--plan``, ``--pose``), read by :func:`~text2sign.pose.io.load_pose`."""
    from text2sign.pose.io import load_pose

    return Option(name, Path, help, load=load_pose, metavar="FILE.pose")


# --- the declarations of a model, without loading it --------------------------------------------


@dataclass(frozen=True)
class ModelOptions:
    """What a model (a name or a checkpoint directory) takes, read from its family's registration."""

    model: str
    family: str | None
    call: dict[str, Option]
    load: dict[str, Option]
    stochastic: bool = True

    @property
    def flags(self) -> list[str]:
        return [o.flag for o in (*self.call.values(), *self.load.values())]


def pipeline_class(pipeline: Any) -> type | None:
    """The class of what ``register_family(pipeline=...)`` makes: the class itself, or the class
    of a classmethod such as ``MyPipeline.from_checkpoint``; None for another function."""
    if isinstance(pipeline, type):
        return pipeline
    owner = getattr(pipeline, "__self__", None)
    return owner if isinstance(owner, type) else None


def family_options(family: Any) -> tuple[dict[str, Option], dict[str, Option], bool]:
    """A registered family's (call options, load options, stochastic), from its pipeline class.
    Its ``load_options`` names are declared by the class, else taken as text."""
    cls = pipeline_class(family.pipeline)
    call = declared(getattr(cls, "options", ())) if family.pipeline is not None else {}
    records = declared(getattr(cls, "load_options", ()))
    load = {name: records.get(name) or Option(name, str) for name in family.load_options}
    return call, load, bool(getattr(cls, "stochastic", True))


def model_options(model: str) -> ModelOptions:
    """The options of `model`, from its family (a named model's, or the one a checkpoint's
    config.json names), without loading weights. Raises what naming a bad model raises."""
    from text2sign.families.registry import get_family
    from text2sign.pipelines import model_family

    name = model_family(model)
    call, load, stochastic = family_options(get_family(name, str(model)))
    return ModelOptions(model, name, call, load, stochastic)


def every_family_options() -> dict[str, tuple[dict[str, Option], dict[str, Option]]]:
    """Family name -> (call options, load options) of every registered family that loads here
    (one whose code or extra is missing is left out): what ``--help`` and refusals list."""
    from text2sign.errors import Text2SignError as Refused
    from text2sign.families.registry import get_family, registered_families

    out = {}
    for name in registered_families():
        try:
            call, load, _ = family_options(get_family(name))
        except (Refused, ImportError):
            continue
        out[name] = (call, load)
    return out


def takers(option: str, families: dict[str, tuple[dict, dict]] | None = None) -> str:
    """Which models take `option`: named models, else the families whose checkpoints do."""
    from text2sign.families.registry import MODELS

    families = every_family_options() if families is None else families
    owners = {name for name, (call, load) in families.items() if option in call or option in load}
    named = [m.name for m in MODELS.values() if m.family in owners]
    if named:
        return ", ".join(named)
    return f"checkpoints of {', '.join(sorted(owners))}" if owners else ""


def refusal(flag: str, model: str, own: ModelOptions | None) -> str | None:
    """The one line refusing `flag` for `model` when another model declares it (None: no model does)."""
    name = flag.lstrip("-").replace("-", "_")
    who = takers(name)
    if not who:
        return None
    its = ", ".join(own.flags) if own is not None else ""
    return f"{flag} applies to {who}, not to {model!r} (its options: {its or 'none'})"
