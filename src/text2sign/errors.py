"""Errors a user can cause. The CLI prints their message as one line and exits non-zero."""


class Text2SignError(Exception):
    """Base class for every error caused by user input (bad text, file, flag or data)."""


class PoseFileError(Text2SignError):
    """A pose file is missing, unreadable, truncated or not in a known format."""


class InvalidPoseError(Text2SignError):
    """Pose data is malformed: NaN/infinite values, wrong shape or an incompatible layout."""


class LanguageError(Text2SignError):
    """A spoken or signed language code that the chosen model does not support."""


class TextError(Text2SignError):
    """Input text that cannot be signed: empty, too long, or with characters nobody can sign."""


class CorpusError(Text2SignError):
    """A corpus directory that is missing, incomplete or inconsistent."""


class MetricInputError(Text2SignError):
    """Inputs a metric cannot score: empty, mismatched shapes or layouts, NaN values."""


class CheckpointError(Text2SignError):
    """A model directory that is missing, incomplete, or whose config does not match its weights."""


class ConfigError(Text2SignError):
    """An experiment config with an unknown key, a wrong type or an invalid value."""


class TrainingError(Text2SignError):
    """A run that cannot go on with its settings (e.g. a loss that became NaN or infinite)."""


def first_line(exc: BaseException) -> str:
    """An exception's first line of text (its type's name if it has none), for one-line errors."""
    return next(iter(str(exc).strip().splitlines()), type(exc).__name__)
