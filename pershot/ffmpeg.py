"""The one place that runs ffmpeg.

* binary lookup: an explicit path (``set_ffmpeg`` / ``--ffmpeg``), then
  ``PERSHOT_FFMPEG``, then the binary shipped in the ``imageio-ffmpeg`` wheel;
* argument lists only, never a shell;
* stderr always captured; failures raise :class:`~pershot.errors.FFmpegError`
  carrying the command and the tail of stderr;
* CPU time of the child measured with ``os.wait4`` (user + sys of that process
  alone), so encoder complexity is the encoder's own.
"""
from __future__ import annotations

import functools
import os
import re
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from .errors import ConfigError, FFmpegError, MissingDependencyError

ENV_VAR = "PERSHOT_FFMPEG"
_explicit: str | None = None


def set_ffmpeg(path: str | os.PathLike | None) -> None:
    """Use this ffmpeg binary from now on (``None`` goes back to the default lookup)."""
    global _explicit
    _explicit = os.fspath(path) if path is not None else None
    if path is not None:
        # child processes (the probe pool) inherit the choice
        os.environ[ENV_VAR] = _explicit
    ffmpeg_info.cache_clear()


def ffmpeg_path() -> str:
    """Path of the ffmpeg binary pershot runs."""
    cand = _explicit or os.environ.get(ENV_VAR)
    if cand:
        p = Path(cand)
        if not (p.is_file() and os.access(p, os.X_OK)):
            raise MissingDependencyError(f"ffmpeg not found or not executable: {cand} (from --ffmpeg/{ENV_VAR})")
        return str(p)
    try:
        import imageio_ffmpeg
    except ImportError as ex:  # pragma: no cover - it is a core dependency
        raise MissingDependencyError("imageio-ffmpeg is not installed and no --ffmpeg/PERSHOT_FFMPEG given") from ex
    try:
        return imageio_ffmpeg.get_ffmpeg_exe()
    except Exception as ex:  # imageio raises RuntimeError when the binary is missing
        raise MissingDependencyError(f"imageio-ffmpeg has no usable ffmpeg binary: {ex}") from ex


@dataclass(frozen=True)
class RunResult:
    """What one ffmpeg process did."""

    cmd: tuple[str, ...]
    returncode: int
    stdout: bytes
    stderr: str
    cpu_user_s: float
    cpu_sys_s: float
    wall_s: float

    @property
    def cpu_s(self) -> float:
        return self.cpu_user_s + self.cpu_sys_s


def run(
    args: Sequence[str | os.PathLike],
    *,
    timeout: float | None = None,
    capture_stdout: bool = False,
    stdin_path: str | os.PathLike | None = None,
    check: bool = True,
    what: str = "ffmpeg failed",
) -> RunResult:
    """Run ``ffmpeg ARGS`` (an argument list, no shell) and measure its CPU time.

    ``args`` excludes the binary itself. ``-hide_banner -nostdin`` are added.
    """
    cmd = [ffmpeg_path(), "-hide_banner", "-nostdin", *[os.fspath(a) for a in args]]
    return run_cmd(cmd, timeout=timeout, capture_stdout=capture_stdout, stdin_path=stdin_path, check=check, what=what)


def run_cmd(
    cmd: Sequence[str],
    *,
    timeout: float | None = None,
    capture_stdout: bool = False,
    stdin_path: str | os.PathLike | None = None,
    check: bool = True,
    what: str = "command failed",
) -> RunResult:
    """Run a full command line (argument list) with rusage accounting."""
    cmd = [os.fspath(c) for c in cmd]
    out_chunks: list[bytes] = []
    with tempfile.TemporaryFile() as err_f:
        stdin = open(stdin_path, "rb") if stdin_path is not None else subprocess.DEVNULL
        try:
            t0 = time.perf_counter()
            try:
                proc = subprocess.Popen(
                    cmd,
                    stdin=stdin,
                    stdout=subprocess.PIPE if capture_stdout else subprocess.DEVNULL,
                    stderr=err_f,
                )
            except OSError as ex:
                raise FFmpegError(f"cannot start {cmd[0]}: {ex}", cmd=cmd) from ex
            reader = None
            if capture_stdout:
                def _read() -> None:
                    assert proc.stdout is not None
                    for chunk in iter(lambda: proc.stdout.read(1 << 16), b""):
                        out_chunks.append(chunk)

                reader = threading.Thread(target=_read, daemon=True)
                reader.start()
            timer = None
            timed_out = threading.Event()
            if timeout is not None:
                def _kill() -> None:
                    timed_out.set()
                    try:
                        proc.kill()
                    except OSError:
                        pass

                timer = threading.Timer(timeout, _kill)
                timer.start()
            try:
                _, status, ru = os.wait4(proc.pid, 0)
            except BaseException:
                # Ctrl-C or another interruption: never leave the child behind
                proc.kill()
                try:
                    os.wait4(proc.pid, 0)
                except ChildProcessError:
                    pass
                raise
            finally:
                if timer is not None:
                    timer.cancel()
            wall = time.perf_counter() - t0
            proc.returncode = os.waitstatus_to_exitcode(status)
            if reader is not None:
                reader.join()
                proc.stdout.close()
        finally:
            if stdin is not subprocess.DEVNULL:
                stdin.close()
        err_f.seek(0)
        stderr = err_f.read().decode("utf-8", "replace")
    res = RunResult(
        cmd=tuple(cmd),
        returncode=proc.returncode,
        stdout=b"".join(out_chunks),
        stderr=stderr,
        cpu_user_s=ru.ru_utime,
        cpu_sys_s=ru.ru_stime,
        wall_s=wall,
    )
    if timed_out.is_set():
        raise FFmpegError(f"{what}: timed out after {timeout:g} s", cmd=cmd, stderr=stderr, returncode=res.returncode)
    if check and res.returncode != 0:
        raise FFmpegError(what, cmd=cmd, stderr=stderr, returncode=res.returncode)
    return res


@dataclass(frozen=True)
class FFmpegInfo:
    path: str
    version: str
    encoders: frozenset[str]
    filters: frozenset[str]
    bsfs: frozenset[str] = frozenset()  #: bitstream filters
    muxers: frozenset[str] = frozenset()  #: output formats


@functools.lru_cache(maxsize=4)
def ffmpeg_info() -> FFmpegInfo:
    """Version, encoders and filters of the ffmpeg binary (cached per process)."""
    path = ffmpeg_path()
    ver = run_cmd([path, "-hide_banner", "-version"], capture_stdout=True, what="ffmpeg -version failed")
    first = ver.stdout.decode("utf-8", "replace").splitlines()[:1]
    m = re.match(r"ffmpeg version (\S+)", first[0]) if first else None
    version = m.group(1) if m else (first[0] if first else "unknown")
    enc = run_cmd([path, "-hide_banner", "-encoders"], capture_stdout=True, what="ffmpeg -encoders failed")
    encoders = set()
    for line in enc.stdout.decode("utf-8", "replace").splitlines():
        m = re.match(r"\s*[VAS][\.F][\.S][\.X][\.B][\.D]\s+(\S+)", line)
        if m:
            encoders.add(m.group(1))
    flt = run_cmd([path, "-hide_banner", "-filters"], capture_stdout=True, what="ffmpeg -filters failed")
    filters = set()
    for line in flt.stdout.decode("utf-8", "replace").splitlines():
        m = re.match(r"\s*[\.T][\.S][\.C]?\s+(\S+)\s+\S+->\S+", line)
        if m:
            filters.add(m.group(1))
    bsf = run_cmd([path, "-hide_banner", "-bsfs"], capture_stdout=True, what="ffmpeg -bsfs failed")
    bsfs = {ln.strip() for ln in bsf.stdout.decode("utf-8", "replace").splitlines()[1:] if ln.strip()}
    mux = run_cmd([path, "-hide_banner", "-muxers"], capture_stdout=True, what="ffmpeg -muxers failed")
    muxers = set()
    for line in mux.stdout.decode("utf-8", "replace").splitlines():
        m = re.match(r"\s*[D\.]?E[d\.]?\s+(\S+)", line)
        if m:
            muxers.update(m.group(1).split(","))
    return FFmpegInfo(path=path, version=version, encoders=frozenset(encoders), filters=frozenset(filters),
                      bsfs=frozenset(bsfs), muxers=frozenset(muxers))


def has_encoder(name: str) -> bool:
    return name in ffmpeg_info().encoders


@functools.lru_cache(maxsize=16)
def _encoder_pix_fmts(path: str, name: str) -> frozenset[str]:
    res = run_cmd([path, "-hide_banner", "-h", f"encoder={name}"], capture_stdout=True,
                  what=f"ffmpeg -h encoder={name} failed")
    for line in res.stdout.decode("utf-8", "replace").splitlines():
        if "Supported pixel formats:" in line:
            return frozenset(line.split(":", 1)[1].split())
    return frozenset()


def encoder_pix_fmts(name: str) -> frozenset[str]:
    """The pixel formats encoder ``name`` takes in this ffmpeg (``ffmpeg -h encoder=NAME``; cached):
    an x264 or x265 built for 8 bits alone lacks ``yuv420p10le``."""
    return _encoder_pix_fmts(ffmpeg_path(), name)


#: libvmaf's usual built-in models, named in the error for one that does not load
BUILTIN_VMAF_MODELS = ("vmaf_v0.6.1", "vmaf_v0.6.1neg", "vmaf_4k_v0.6.1", "vmaf_4k_v0.6.1neg")


@functools.lru_cache(maxsize=32)
def _vmaf_model_error(path: str, model: str) -> str:
    """"" when libvmaf loads built-in ``model`` (scoring two tiny frames), else the last line ffmpeg wrote."""
    res = run_cmd([path, "-hide_banner", "-nostdin", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=64x64:rate=10",
                   "-f", "lavfi", "-i", "testsrc2=size=64x64:rate=10",
                   "-lavfi", f"[0:v][1:v]libvmaf=model=version={model}:n_threads=1", "-frames:v", "2", "-f", "null",
                   "-"], check=False, what="libvmaf model check")
    if res.returncode == 0:
        return ""
    lines = [ln.strip() for ln in res.stderr.splitlines() if ln.strip()]
    return lines[-1] if lines else f"exit code {res.returncode}"


def check_vmaf_model(model: str) -> None:
    """Raise ConfigError unless this ffmpeg's libvmaf loads built-in model version ``model`` (cached per
    ffmpeg binary and model; two 64x64 frames, well under a second)."""
    err = _vmaf_model_error(ffmpeg_path(), model)
    if err:
        raise ConfigError(f"this ffmpeg's libvmaf has no built-in VMAF model {model!r} ({err}); the usual ones are "
                          f"{', '.join(BUILTIN_VMAF_MODELS)}, or 'auto' (the default: by the source's size)")


def vmaf_models() -> tuple[str, ...]:
    """Those of :data:`BUILTIN_VMAF_MODELS` this ffmpeg's libvmaf loads (``pershot doctor``)."""
    return tuple(m for m in BUILTIN_VMAF_MODELS if not _vmaf_model_error(ffmpeg_path(), m))


def has_filter(name: str) -> bool:
    return name in ffmpeg_info().filters


def has_bsf(name: str) -> bool:
    return name in ffmpeg_info().bsfs


def has_muxer(name: str) -> bool:
    return name in ffmpeg_info().muxers
