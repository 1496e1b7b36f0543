"""Shared fixtures: the real clips in ../shared/media and a private probe cache.

Tests that need ../shared/media skip with a clear reason where it is absent (a
user's clone); with PERSHOT_REQUIRE_MEDIA=1 (set by .ci/run) that skip is a failure.
"""
from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
MEDIA_DIRS = [
    Path(os.environ["PERSHOT_MEDIA"]) if os.environ.get("PERSHOT_MEDIA") else None,
    REPO.parent / "shared" / "media",
    REPO / "shared" / "media",
]


def _media_dir() -> Path | None:
    for d in MEDIA_DIRS:
        if d is not None and (d / "counter.mp4").is_file():
            return d
    return None


@pytest.fixture(scope="session")
def media_dir() -> Path:
    d = _media_dir()
    if d is None:
        msg = "../shared/media (the test clips) is not beside this checkout"
        if os.environ.get("PERSHOT_REQUIRE_MEDIA") == "1":
            pytest.fail(msg + " and PERSHOT_REQUIRE_MEDIA=1 (CI) requires it")
        pytest.skip(msg)
    return d


@pytest.fixture(autouse=True, scope="session")
def _ctrl_c_as_in_a_terminal():
    """A test run started in the background by a script (``cmd &``) inherits SIGINT ignored, and so
    would every pershot process it starts: the Ctrl-C tests then saw no Ctrl-C at all. They need
    SIGINT as a terminal delivers it (a handler here reverts to the default in child processes)."""
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    yield


@pytest.fixture(autouse=True, scope="session")
def _private_cache(tmp_path_factory: pytest.TempPathFactory):
    """Never touch the user's cache from tests."""
    old = os.environ.get("PERSHOT_CACHE")
    os.environ["PERSHOT_CACHE"] = str(tmp_path_factory.mktemp("pershot-cache"))
    yield
    if old is None:
        os.environ.pop("PERSHOT_CACHE", None)
    else:
        os.environ["PERSHOT_CACHE"] = old


def cut(src: Path, dst: Path, *, start_frame: int = 0, frames: int | None = None, height: int | None = None,
        extra: list[str] | None = None) -> Path:
    """Cut ``frames`` frames from ``src`` starting at ``start_frame`` (frame-exact), optionally scaled to ``height``."""
    from pershot import ffmpeg

    vf = [f"trim=start_frame={start_frame}" + (f":end_frame={start_frame + frames}" if frames else ""), "setpts=PTS-STARTPTS"]
    if height:
        vf.append(f"scale=-2:{height}:flags=bicubic")
    ffmpeg.run(["-y", "-i", str(src), "-vf", ",".join(vf), "-an", "-c:v", "libx264", "-preset", "veryfast",
                "-crf", "16", "-pix_fmt", "yuv420p", *(extra or []), str(dst)], what="cutting test clip failed")
    return dst
