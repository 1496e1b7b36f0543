"""The command line. The only module that prints, shows progress bars or exits.

Each subcommand is a pair: ``_add_<name>(subparsers)`` declares its arguments
and ``_cmd_<name>(args) -> int`` runs it through the public API. User errors
(:class:`~pershot.errors.PershotError`) print one line and exit with the
error's own code; Ctrl-C exits 130; no traceback unless ``--debug``.
"""
from __future__ import annotations

import argparse
import os
import sys
from typing import Callable, Sequence

from . import __version__
from .errors import PershotError

EXIT_INTERRUPTED = 130


def _eprint(*a: object) -> None:
    print(*a, file=sys.stderr)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--ffmpeg", metavar="PATH", help="ffmpeg binary (default: $PERSHOT_FFMPEG, then imageio-ffmpeg's)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar, less output")
    p.add_argument("--debug", action="store_true", help="show tracebacks")


def _exec_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--cache", metavar="DIR", help="probe cache folder (default: $PERSHOT_CACHE or the user cache dir)")
    p.add_argument("--no-cache", action="store_true", help="do not read or write the probe cache")
    p.add_argument("-j", "--jobs", type=int, default=None, help="parallel probe processes (default: CPU count)")
    p.add_argument("--executor", choices=["local", "dask"], default="local", help="where probes run")
    p.add_argument("--scheduler", metavar="ADDR", help="Dask scheduler address (with --executor dask)")


# ---------------------------------------------------------------- core: doctor / shots / probe
# (section owned by the core pipeline)

# ---------------------------------------------------------------- optimizer: ladder / optimize
# (section owned by the optimizer)

# ---------------------------------------------------------------- image codecs: codecs / image / decode / train-codec
# (section owned by the image codecs)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pershot", description="Per-shot rate-distortion-complexity encoding optimizer")
    parser.add_argument("--version", action="version", version=f"pershot {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    g = globals()
    for name in sorted(n for n in g if n.startswith("_add_")):
        g[name](sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    debug = getattr(args, "debug", False)
    try:
        if getattr(args, "ffmpeg", None):
            from .ffmpeg import set_ffmpeg

            set_ffmpeg(args.ffmpeg)
        func: Callable[[argparse.Namespace], int] = args.func
        return int(func(args) or 0)
    except PershotError as ex:
        if debug:
            raise
        msg = str(ex).replace("\n", " ")
        _eprint(f"pershot: error: {msg}")
        return ex.exit_code
    except KeyboardInterrupt:
        _eprint("pershot: interrupted (finished probes are cached; re-run to resume)")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
