"""Flags built from what the chosen model declares (:mod:`text2sign.pipelines.options`).

``generate``, ``evaluate`` and ``bench`` take ``--NAME VALUE`` for each option the model named by
``--model`` declares (``--steps``, ``--guidance-scale``, ``--plan FILE.pose``, ...) and for its load
options (``--lexicon``, ``--plan-model``); ``serve`` and ``languages`` take the load options. The
model is found in the command line before it is parsed (a name or a checkpoint's config.json: no
weights load), so its flags exist when they are parsed. A flag another model declares is one error
line naming the models that take it; ``--help`` without ``--model`` lists every model's options.

The flags are made by Typer itself, from a function signature written for the declarations, so
they parse and show in ``--help`` exactly as the commands' own flags do.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperCommand

from text2sign.errors import Text2SignError

try:  # Typer 0.2x carries its own copy of click
    from typer._click.exceptions import NoSuchOption
except ImportError:  # pragma: no cover -- older Typer runs on click itself
    from click.exceptions import NoSuchOption

FLAGS = "text2sign.model_flags"
GIVEN = "text2sign.model_options"
TYPES = {int: int, float: float, str: str, Path: Path, object: str}


@dataclass
class ModelFlags:
    model: str
    own: Any  # the model's ModelOptions; None when the model could not be read
    params: dict[str, Any] = field(default_factory=dict)  # option name -> its flag (a Typer parameter)
    load_names: frozenset[str] = frozenset()
    union: bool = False  # every model's options (--help without --model)


@dataclass
class ModelArgs:
    """What the user gave of the model's options: `call` (checked by the call) and `load`."""

    call: dict[str, Any] = field(default_factory=dict)
    load: dict[str, Any] = field(default_factory=dict)


class ModelCommand(TyperCommand):
    """A command whose flags include the options of the model it is given (see the module docstring)."""

    call_options = True  # the model's call options too (serve, languages: load options only)
    not_models: tuple[str, ...] = ()  # values of --model that name no model (evaluate's "reference")
    default_model = "default"  # the model without --model
    skipped_options: tuple[str, ...] = ()  # options the command gives itself (animate's pose argument)

    def parse_args(self, ctx, args: list[str]) -> list[str]:
        ctx.meta[FLAGS] = flags = self._flags(args)
        try:
            return super().parse_args(ctx, args)
        except NoSuchOption as exc:
            from text2sign.pipelines.options import refusal

            line = None if flags.union else refusal(exc.option_name, flags.model, flags.own)
            if line is None:
                raise
            raise Text2SignError(line) from None

    def get_params(self, ctx) -> list:
        extra = list(ctx.meta[FLAGS].params.values()) if FLAGS in ctx.meta else []
        help_option = self.get_help_option(ctx)
        return [*self.params, *extra, *([help_option] if help_option is not None else [])]

    def invoke(self, ctx) -> Any:
        flags: ModelFlags | None = ctx.meta.get(FLAGS)
        given = {name: ctx.params.pop(name) for name in (flags.params if flags else {})}
        given = {name: value for name, value in given.items() if value is not None}
        load = {name: value for name, value in given.items() if name in flags.load_names}
        ctx.meta[GIVEN] = ModelArgs({k: v for k, v in given.items() if k not in load}, load)
        return super().invoke(ctx)

    def _flags(self, args: list[str]) -> ModelFlags:
        from text2sign.pipelines.options import every_family_options, model_options

        model = _value_of("--model", args) or self.default_model
        fixed = {opt for param in self.params for opt in param.opts} | {"--help"}
        if model in self.not_models:
            return ModelFlags(model, None)
        try:
            own = model_options(model)
        except Text2SignError:
            own = None
        unknown = [a.split("=")[0] for a in args if a.startswith("--") and a.split("=")[0] not in fixed]
        listing = "--help" in args and _value_of("--model", args) is None
        if own is not None and not listing:
            declared = {**(own.call if self.call_options else {}), **own.load}
            declared = {n: o for n, o in declared.items() if n not in self.skipped_options}
            params = _params({n: (o, "") for n, o in declared.items()}, fixed, f"Options of {model}")
            return ModelFlags(model, own, params, frozenset(own.load))
        if not (unknown or listing):
            return ModelFlags(model, own)  # the command says what is wrong with the model
        options, loads = _union(every_family_options(), self.call_options)
        return ModelFlags(
            model, own, _params(options, fixed, "Options of every model", strict=False), loads, union=True
        )


def model_args(ctx: typer.Context) -> ModelArgs:
    """The model options given to the running command; file-valued ones read by their loader."""
    given: ModelArgs = ctx.meta.get(GIVEN) or ModelArgs()
    flags: ModelFlags | None = ctx.meta.get(FLAGS)
    for name, value in list(given.call.items()):
        option = flags.own.call.get(name) if flags is not None and flags.own is not None else None
        if option is not None and option.load is not None:
            given.call[name] = option.load(Path(value))
    return given


def _value_of(flag: str, args: list[str]) -> str | None:
    """The value of `flag` in `args` as click will read it: the last one given, before any ``--``."""
    found = None
    for i, arg in enumerate(args):
        if arg == "--":
            break
        if arg == flag and i + 1 < len(args):
            found = args[i + 1]
        elif arg.startswith(flag + "="):
            found = arg.split("=", 1)[1]
    return found


def _union(families: dict, call_options: bool) -> tuple[dict[str, tuple[Any, str]], frozenset[str]]:
    """Option name -> (its first declaration, which models take it) over every family, and the
    names that are load options."""
    from text2sign.pipelines.options import takers

    found: dict[str, Any] = {}
    loads: set[str] = set()
    for call, load in families.values():
        for option in [*(call.values() if call_options else ()), *load.values()]:
            found.setdefault(option.name, option)
        loads |= set(load)
    return {name: (option, takers(name, families)) for name, option in found.items()}, frozenset(loads)


def _params(options: dict[str, tuple[Any, str]], fixed: set[str], panel: str, strict: bool = True) -> dict[str, Any]:
    """Typer's own parameters for `options` (name -> (declaration, which models take it)), made
    from a function signature so that they behave as the command's written flags do."""
    signature, hints = [], {}
    for name, (option, who) in options.items():
        if option.flag in fixed:
            if strict:
                raise Text2SignError(
                    f"the model declares option {option.flag}, which this command already has as its own flag"
                )
            continue
        help = option.describe().replace("[", "\\[") + (f" \\[models: {who}]" if who else "")
        hints[name] = Annotated[
            TYPES[option.type] | None,
            typer.Option(
                option.flag,
                help=help[:1].upper() + help[1:] + ".",
                metavar=option.metavar,
                rich_help_panel=panel,
                show_default=False,
            ),
        ]
        signature.append(inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=hints[name]))
    if not signature:
        return {}

    def declared(**values: Any) -> None:
        """The declared options, as a function Typer reads."""

    declared.__signature__ = inspect.Signature(signature)
    declared.__annotations__ = hints
    maker = typer.Typer(add_completion=False)
    maker.command()(declared)
    return {param.name: param for param in typer.main.get_command(maker).params}
