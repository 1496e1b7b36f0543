"""The project's exceptions.

Every error a user can cause is a :class:`PershotError` subclass with its own
``exit_code``; the CLI prints ``str(err)`` on one line and exits with that code.
Library code never calls ``sys.exit``.
"""
from __future__ import annotations

from typing import Sequence


class PershotError(Exception):
    """Base class of every error pershot raises on purpose."""

    exit_code = 1


class InputError(PershotError, ValueError):
    """Bad input from the user: a missing file, an argument out of range."""

    exit_code = 2


class MediaError(InputError):
    """The source cannot be used: not a video, no video stream, corrupt or truncated."""

    exit_code = 3


class ConfigError(InputError):
    """A malformed grid or ladder TOML, an unknown encoder or codec name."""

    exit_code = 4


class FFmpegError(PershotError, RuntimeError):
    """An ffmpeg process failed. Carries the command and the tail of its stderr."""

    exit_code = 5

    def __init__(self, message: str, cmd: Sequence[str] = (), stderr: str = "", returncode: int | None = None):
        self.cmd = list(cmd)
        self.stderr = stderr or ""
        self.returncode = returncode
        tail = [l for l in self.stderr.strip().splitlines() if l.strip()][-5:]
        full = message
        if returncode is not None:
            full += f" (exit {returncode})"
        if tail:
            full += ": " + " | ".join(tail)
        super().__init__(full)

    def details(self) -> str:
        """Multi-line description with the full command, for logs and --verbose."""
        import shlex

        return f"{self}\ncommand: {shlex.join(self.cmd)}\nstderr (tail):\n" + "\n".join(
            self.stderr.strip().splitlines()[-20:]
        )


class OptimizeError(PershotError, ValueError):
    """The optimizer cannot honour the request (bad probes, empty ladder...)."""

    exit_code = 6


class InfeasibleError(OptimizeError):
    """The complexity budget (or a rung target) cannot be met by any choice of points."""

    exit_code = 7

    def __init__(self, message: str, min_feasible: float | None = None):
        self.min_feasible = min_feasible
        super().__init__(message)


class CodecError(PershotError, ValueError):
    """An image codec failure: corrupt or truncated bitstream, bad weights, unsupported image."""

    exit_code = 8


class MissingDependencyError(PershotError, ImportError):
    """An optional dependency (torch, compressai, dask) or ffmpeg feature is not installed."""

    exit_code = 9


class ResourceError(PershotError, OSError):
    """This machine lacks what the run needs (temporary disk space), found before the work starts."""

    exit_code = 10
