"""The ``text2sign`` command line. Thin on purpose: commands parse arguments, call the library, print.

One module per group of commands (:mod:`.generating`, :mod:`.scoring`, :mod:`.corpora`,
:mod:`.extracting`, :mod:`.info`, :mod:`.training`); the flags of a model's own options are built
from what its pipeline declares (:mod:`.model_flags`). Importing this package stays light: each
command imports what it needs when it runs (``generate --model concat`` never imports torch).
"""

from __future__ import annotations

import sys

# Imported for what they do on import: register their commands on `app`.
from text2sign.cli import corpora, extracting, generating, info, scoring, training  # noqa: F401
from text2sign.cli.common import app, err_console
from text2sign.errors import Text2SignError

__all__ = ["app", "main", "run"]


def run(argv: list[str] | None = None) -> int:
    """Run the CLI; user errors become one line on stderr and exit code 1 (2 for bad usage)."""
    try:
        app(args=argv, prog_name="text2sign")
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except Text2SignError as exc:
        err_console.print(f"error: {exc}", style="red", highlight=False, markup=False, soft_wrap=True)
        return 1
    except OSError as exc:
        # A disk that fills up or a path that vanishes mid-run: the atomic writers left nothing behind.
        where = f"{exc.filename}: " if exc.filename else ""
        err_console.print(
            f"error: {where}{exc.strerror or exc}", style="red", highlight=False, markup=False, soft_wrap=True
        )
        return 1
    except KeyboardInterrupt:
        err_console.print("interrupted", style="red")
        return 130
    return 0


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def main() -> None:
    import signal

    # `kill` (SIGTERM) stops like Ctrl-C: temporaries are removed, training saves a checkpoint.
    signal.signal(signal.SIGTERM, _interrupt)
    sys.exit(run())
