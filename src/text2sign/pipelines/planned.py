"""What the pipelines whose network reads a pose plan share (``lookup-flow``, ``pose-video``): the
planner that turns text into that plan -- the lookup over the default or the user's lexicon, or
another pose model -- and the languages, which are the planner's."""

from __future__ import annotations

from pathlib import Path

from text2sign.errors import Text2SignError
from text2sign.pipelines.base import Pipeline


class PlannedPipeline(Pipeline):
    """A pipeline with a ``planner`` (set by :meth:`use_planner`) and ``trained_pairs``, the
    language pairs of its training data."""

    planner: Pipeline
    trained_pairs: list[tuple[str, str]]

    def use_planner(
        self, model: str | None, lexicon: str | Path | None, layout: str, device, flag: str, trained_pairs=None
    ) -> None:
        """Plan with pose model `model` (named by the option `flag` in messages), else with the
        lookup over `lexicon` in `layout`."""
        if model is not None:
            from text2sign.pipelines import load_pipeline

            planner = load_pipeline(model, device, lexicon=lexicon)
            if planner.output != "pose":
                raise Text2SignError(f"{flag} {model} makes {planner.output}, and a plan is a pose sequence")
        else:
            from text2sign.pipelines.concat import ConcatPipeline

            planner = ConcatPipeline(lexicon, layout=layout)
        self.planner = planner
        self.trained_pairs = [tuple(p) for p in trained_pairs] if trained_pairs else []

    def plan_for(self, text: str, spoken: str, signed: str, strict: bool, notes, given=None, seed=None):
        """The pose plan of `text`: `given` when the caller passed one, else the planner's (called
        with `seed` when given), its warnings added to `notes`."""
        if given is not None:
            return given
        options = {} if seed is None else {"seed": seed}
        result = self.planner([text], spoken, signed, strict=strict, **options)
        for message in result.warnings:
            notes.warn(message)
        return result.outputs[0]

    def language_pairs(self) -> list[tuple[str, str]]:
        """The pairs it was trained on that its planner can plan (the network reads poses, not
        languages, so any pair the planner plans is accepted; these are the ones it saw)."""
        planned = self.planner.language_pairs()
        trained = [p for p in self.trained_pairs if p in set(planned)]
        return sorted(trained) if trained else planned

    def check_languages(self, spoken: str, signed: str) -> None:
        self.planner.check_languages(spoken, signed)

    def size_bytes(self) -> int:
        planner = getattr(self.planner, "size_bytes", None)
        return planner() if planner is not None else 0
