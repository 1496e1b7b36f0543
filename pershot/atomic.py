"""Atomic file output: write to a temporary name beside the target, then rename.

A crash or Ctrl-C never leaves a half-written report or cache entry behind.
"""
from __future__ import annotations

import contextlib
import os
import signal
import tempfile
import threading
from pathlib import Path
from typing import Iterator


def _read_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK = _read_umask()


@contextlib.contextmanager
def deferred_signals() -> Iterator[None]:
    """Hold SIGINT and SIGTERM for the duration of the block; deliver them after it.

    Makes short bookkeeping (creating or removing a temporary file) all-or-nothing under
    Ctrl-C and a pool's SIGTERM: a second signal arriving while the first one's cleanup runs
    would otherwise cut that cleanup short. Python signal handlers can only be set in the
    main thread; elsewhere the block runs as it is."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pending: list[tuple[int, object]] = []

    def hold(signum, frame):  # noqa: ANN001
        pending.append((signum, frame))

    old = {}
    try:
        # inside the try: a signal that lands between the two settings still gets the first restored
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                old[sig] = signal.signal(sig, hold)
            except (ValueError, OSError):  # pragma: no cover - not settable here
                pass
        yield
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)
        for signum, frame in pending:
            handler = old.get(signum)
            if callable(handler):
                handler(signum, frame)
            elif handler == signal.SIG_DFL:
                signal.raise_signal(signum)


@contextlib.contextmanager
def atomic_path(dest: str | os.PathLike, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path in ``dest``'s folder; rename it onto ``dest`` on success.

    The temporary name keeps ``dest``'s suffix (or ``suffix``) so tools that
    pick a format from the extension (ffmpeg, matplotlib) still work. Creating the
    temporary file and removing it on failure are shielded from Ctrl-C/SIGTERM
    (:func:`deferred_signals`), so an interrupt never leaves one behind.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    sfx = suffix if suffix is not None else "".join(dest.suffixes[-1:])
    tmp_path: Path | None = None
    try:
        with deferred_signals():
            fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp" + sfx, dir=dest.parent)
            os.close(fd)
            tmp_path = Path(tmp)
            # mkstemp creates 0600; give the final file the usual permissions (0666 less the umask)
            os.chmod(tmp_path, 0o666 & ~_UMASK)
        yield tmp_path
        os.replace(tmp_path, dest)
    except BaseException:
        if tmp_path is not None:
            _remove(tmp_path)
        raise


@contextlib.contextmanager
def atomic_dir(dest: str | os.PathLike) -> Iterator[Path]:
    """Yield an empty folder ``dest.part`` beside ``dest`` (one left by an earlier run is cleared);
    on success it replaces ``dest`` whole, on failure it is removed: a package folder (HLS, DASH)
    appears complete or not at all."""
    import shutil

    dest = Path(dest)
    tmp = dest.with_name(dest.name + ".part")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        yield tmp
        with deferred_signals():
            if dest.exists():
                shutil.rmtree(dest)
            tmp.rename(dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _remove(path: Path) -> None:
    """Remove ``path`` (gone already is fine), even when a second signal lands before the first
    one's cleanup holds signals: a Ctrl-C reaches a worker, and its pool's SIGTERM follows
    within milliseconds. That second interrupt is dropped here (the first one goes on); it is
    tried again only while the file is still there."""
    while True:
        try:
            with deferred_signals(), contextlib.suppress(FileNotFoundError):
                path.unlink()
            return
        except KeyboardInterrupt:
            if not path.exists():
                return


def write_bytes(dest: str | os.PathLike, data: bytes) -> Path:
    with atomic_path(dest) as tmp:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
    return Path(dest)


def write_text(dest: str | os.PathLike, text: str) -> Path:
    return write_bytes(dest, text.encode("utf-8"))
