"""Quality of one encode against its source shot: VMAF, PSNR-Y and SSIM in one ffmpeg run.

The encode is decoded, scaled back to the source's *display* resolution
(bicubic) and compared with the reference frames (the source shot as
displayed, 8-bit 4:2:0) by libvmaf, which also computes the ``psnr`` and
``float_ssim`` features in the same pass. Frames are paired by index: both
streams get timestamps ``0, 1, 2...``.

Pooling (from the per-frame scores, which the probe cache keeps):

* ``vmaf``: arithmetic mean; ``vmaf_hmean``: libvmaf's harmonic mean
  ``n / sum(1 / (1 + v)) - 1``; ``vmaf_p5``: 5th percentile (linear
  interpolation); ``vmaf_min``;
* ``psnr_y``: mean of per-frame PSNR-Y (libvmaf caps a frame's PSNR at
  60 dB for 8-bit video, so identical frames give 60, never infinity);
* ``ssim``: mean of per-frame SSIM on luma (libvmaf ``float_ssim``).

``n_subsample = k`` scores every k-th frame only (frames 0, k, 2k...), which
divides metric time by about k.
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Sequence

from .errors import ConfigError, FFmpegError

DEFAULT_VMAF_MODEL = "vmaf_v0.6.1"
#: libvmaf's PSNR cap for 8-bit video (identical frames)
PSNR_MAX_8BIT = 60.0
SCALE_FLAGS = ("bicubic", "bilinear", "lanczos", "spline", "area", "neighbor")


@dataclass(frozen=True)
class MetricParams:
    """How encodes are scored. Part of every probe's cache key."""

    vmaf_model: str = DEFAULT_VMAF_MODEL
    n_subsample: int = 1
    scale_flags: str = "bicubic"  #: scaler used to bring the encode back to display size
    threads: int = 1

    def __post_init__(self) -> None:
        if not isinstance(self.n_subsample, int) or self.n_subsample < 1:
            raise ConfigError(f"n_subsample must be an integer >= 1, got {self.n_subsample!r}")
        if self.scale_flags not in SCALE_FLAGS:
            raise ConfigError(f"unknown scaler {self.scale_flags!r} (choose from {', '.join(SCALE_FLAGS)})")
        if not self.vmaf_model or any(c in self.vmaf_model for c in ":=|\\'[],; "):
            raise ConfigError(f"bad VMAF model name {self.vmaf_model!r}")
        if not isinstance(self.threads, int) or self.threads < 1:
            raise ConfigError(f"metric threads must be an integer >= 1, got {self.threads!r}")

    def key(self) -> dict:
        return {"vmaf_model": self.vmaf_model, "n_subsample": self.n_subsample, "scale_flags": self.scale_flags,
                "metric_impl": "libvmaf+psnr+float_ssim/v1"}


@dataclass(frozen=True)
class Scores:
    """Pooled scores of one encode plus its per-frame values (frame numbers within the shot)."""

    vmaf: float
    vmaf_hmean: float
    vmaf_p5: float
    vmaf_min: float
    psnr_y: float
    ssim: float
    frames_scored: int
    frame: tuple[int, ...]
    vmaf_frames: tuple[float, ...]
    psnr_y_frames: tuple[float, ...]
    ssim_frames: tuple[float, ...]
    cpu_s: float = 0.0
    wall_s: float = 0.0

    def pooled(self) -> dict[str, float]:
        return {"vmaf": self.vmaf, "vmaf_hmean": self.vmaf_hmean, "vmaf_p5": self.vmaf_p5, "vmaf_min": self.vmaf_min,
                "psnr_y": self.psnr_y, "ssim": self.ssim}

    def per_frame(self) -> dict[str, list]:
        return {"frame": list(self.frame), "vmaf": list(self.vmaf_frames), "psnr_y": list(self.psnr_y_frames),
                "ssim": list(self.ssim_frames)}


# ---------------------------------------------------------------- pooling (pure)


def harmonic_mean(values: Sequence[float]) -> float:
    """libvmaf's harmonic mean, safe at 0: ``n / sum(1 / (1 + v)) - 1``."""
    if not values:
        return float("nan")
    return len(values) / sum(1.0 / (1.0 + v) for v in values) - 1.0


def percentile(values: Sequence[float], q: float) -> float:
    """Percentile with linear interpolation between closest ranks (numpy's default)."""
    if not values:
        return float("nan")
    xs = sorted(values)
    pos = (len(xs) - 1) * q / 100.0
    lo = math.floor(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def _finite(v: object, cap: float | None = None) -> float:
    x = float(v)  # type: ignore[arg-type]
    if math.isnan(x):
        return x
    if math.isinf(x):
        return cap if cap is not None else x
    return min(x, cap) if cap is not None else x


def pool(frames: Sequence[int], vmaf: Sequence[float], psnr_y: Sequence[float], ssim: Sequence[float],
         cpu_s: float = 0.0, wall_s: float = 0.0) -> Scores:
    """Pooled scores from per-frame values."""
    v = [_finite(x) for x in vmaf]
    p = [_finite(x, PSNR_MAX_8BIT) for x in psnr_y]
    s = [_finite(x) for x in ssim]
    mean = lambda xs: (sum(xs) / len(xs)) if xs else float("nan")  # noqa: E731
    return Scores(
        vmaf=mean(v), vmaf_hmean=harmonic_mean(v), vmaf_p5=percentile(v, 5.0), vmaf_min=min(v) if v else float("nan"),
        psnr_y=mean(p), ssim=mean(s), frames_scored=len(v),
        frame=tuple(int(f) for f in frames), vmaf_frames=tuple(v), psnr_y_frames=tuple(p), ssim_frames=tuple(s),
        cpu_s=cpu_s, wall_s=wall_s,
    )


def parse_vmaf_json(text: str) -> tuple[list[int], list[float], list[float], list[float]]:
    """Per-frame (frame, vmaf, psnr_y, float_ssim) from libvmaf's JSON log."""
    try:
        doc = json.loads(text)
        frames = doc["frames"]
        out_f, out_v, out_p, out_s = [], [], [], []
        for fr in frames:
            m = fr["metrics"]
            out_f.append(int(fr["frameNum"]))
            out_v.append(float(m["vmaf"]))
            out_p.append(float(m.get("psnr_y", "nan")))
            out_s.append(float(m.get("float_ssim", "nan")))
    except (ValueError, KeyError, TypeError) as ex:
        raise FFmpegError(f"unreadable libvmaf log: {ex}") from ex
    return out_f, out_v, out_p, out_s


# ---------------------------------------------------------------- the ffmpeg run


def metric_args(
    dist: str | os.PathLike,
    dist_format: str,
    ref: str | os.PathLike,
    ref_size: tuple[int, int],
    fps: Fraction,
    params: MetricParams,
    log_path: str | os.PathLike,
) -> list[str]:
    """ffmpeg arguments that score ``dist`` (a raw bitstream of ``dist_format``, or ``yuv4mpegpipe``)
    against the Y4M reference ``ref`` at ``ref_size`` with libvmaf (+ psnr, float_ssim)."""
    from .media import _escape_filter_value, input_arg

    w, h = ref_size
    fr = Fraction(fps)
    rate = f"{fr.numerator}/{fr.denominator}"
    log = _escape_filter_value(os.path.abspath(os.fspath(log_path)))
    t = params.threads
    graph = (
        f"[0:v:0]scale={w}:{h}:flags={params.scale_flags},setsar=1,format=yuv420p,settb=1,setpts=N[dist];"
        f"[1:v:0]format=yuv420p,settb=1,setpts=N[ref];"
        f"[dist][ref]libvmaf=model=version={params.vmaf_model}"
        f":feature=name=psnr|name=float_ssim"
        f":n_threads={t}:n_subsample={params.n_subsample}"
        f":log_fmt=json:log_path={log}"
    )
    return [
        "-y", "-v", "error", "-threads", str(t),
        "-r", rate, "-f", dist_format, "-i", input_arg(dist),
        "-r", rate, "-f", "yuv4mpegpipe", "-i", input_arg(ref),
        "-filter_threads", str(t), "-filter_complex", graph,
        "-f", "null", "-",
    ]


def score(
    dist: str | os.PathLike,
    dist_format: str,
    ref: str | os.PathLike,
    ref_size: tuple[int, int],
    fps: Fraction,
    frames: int,
    params: MetricParams = MetricParams(),
    work_dir: str | os.PathLike | None = None,
) -> Scores:
    """Score one encode (``frames`` frames) against the reference; checks every frame was scored."""
    import tempfile

    from . import ffmpeg

    with tempfile.TemporaryDirectory(prefix="pershot-vmaf-", dir=work_dir) as d:
        log = Path(d) / "vmaf.json"
        args = metric_args(dist, dist_format, ref, ref_size, fps, params, log)
        res = ffmpeg.run(args, what="scoring (libvmaf) failed")
        try:
            text = log.read_text(encoding="utf-8")
        except OSError as ex:
            raise FFmpegError("libvmaf wrote no log", cmd=res.cmd, stderr=res.stderr) from ex
    f, v, p, s = parse_vmaf_json(text)
    expected = len(range(0, frames, params.n_subsample))
    if len(f) != expected:
        raise FFmpegError(f"libvmaf scored {len(f)} frames, expected {expected} "
                          f"(the encode has {'fewer' if len(f) < expected else 'more'} frames than the shot)",
                          cmd=res.cmd, stderr=res.stderr)
    return pool(f, v, p, s, cpu_s=res.cpu_s, wall_s=res.wall_s)
