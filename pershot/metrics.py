"""Quality of one encode against its source shot: VMAF, PSNR-Y and SSIM (and, on request, XPSNR-Y)
in one ffmpeg run.

The encode is decoded, scaled back to the source's *display* resolution
(bicubic) and compared with the reference frames (the source shot as
displayed, 4:2:0 at the encode's bit depth). One filter graph chains ffmpeg's ``psnr`` and
``ssim`` filters (every frame) and ``libvmaf`` (every ``n_subsample``-th frame).
Frames are paired by index: both streams get timestamps ``0, 1, 2...``.

Why not libvmaf's own ``float_ssim`` feature: measured here, it costs about
3 s of CPU for 150 frames at 360p, 30 times ffmpeg's ``ssim`` filter and three
times VMAF itself. libvmaf's ``psnr`` feature and ffmpeg's ``psnr`` filter
agree; the filter is used so PSNR covers every frame even when VMAF is
subsampled.

Pooling (from the per-frame scores, which the probe cache keeps):

* ``vmaf``: arithmetic mean; ``vmaf_hmean``: libvmaf's harmonic mean
  ``n / sum(1 / (1 + v)) - 1``; ``vmaf_p5``: 5th percentile (linear
  interpolation); ``vmaf_min``;
* ``psnr_y``: mean of per-frame PSNR-Y, each frame capped at 60 dB (so
  identical frames give 60, never infinity; libvmaf caps 8-bit PSNR the same way);
* ``ssim``: mean of per-frame SSIM on luma (ffmpeg's ``ssim`` filter, ``Y``);
* ``xpsnr_y`` (with ``MetricParams(xpsnr=True)``; NaN otherwise): XPSNR-Y, ffmpeg's ``xpsnr``
  filter (Fraunhofer HHI's perceptually weighted PSNR, used in MPEG and JVET codec tests: each block's
  squared error weighted by the spatial and temporal activity of the *source*, so the source goes in
  first), on every frame, each capped at 60 dB, pooled as the filter pools them,
  ``-20 log10(mean 10^(-x/20))``: the mean of the frames' root weighted squared errors.

``n_subsample = k`` runs VMAF on frames 0, k, 2k... only, dividing its time by about k.

VMAF model: ``auto`` (the default) scores a source whose picture is 4K class (1800p and up: 3840x2160,
4096x2160, a 3840x1600 scope film, 2160x3840 upright) with ``vmaf_4k_v0.6.1``, the model Netflix trained
for a 4K display seen from 1.5 screen heights, and anything smaller with ``vmaf_v0.6.1`` (a 1080p display
at 3 screen heights). Scoring happens at the source's display size, so the model follows the source:
``auto-neg`` does the same with the two "no enhancement gain" models. Any other name is a libvmaf
built-in model version, used as given (:func:`pershot.ffmpeg.check_vmaf_model` proves it loads).
A probe's cache key holds the model it was scored with, never ``auto``.
"""
from __future__ import annotations

import json
import math
import os
import re
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Callable, Sequence

from .errors import ConfigError, FFmpegError

#: the model chosen by the source's size (see the module docstring)
DEFAULT_VMAF_MODEL = "auto"
#: ``auto``/``auto-neg`` -> (model below 4K, model at 4K)
AUTO_VMAF_MODELS = {"auto": ("vmaf_v0.6.1", "vmaf_4k_v0.6.1"), "auto-neg": ("vmaf_v0.6.1neg", "vmaf_4k_v0.6.1neg")}
#: pictures of this resolution class and up (see :func:`pershot.geometry.size_class`) get the 4K model:
#: nearer 2160p than 1440p
VMAF_4K_MIN_CLASS = 1800
#: libvmaf's PSNR cap for 8-bit video (identical frames)
PSNR_MAX_8BIT = 60.0
SCALE_FLAGS = ("bicubic", "bilinear", "lanczos", "spline", "area", "neighbor")
#: smallest frame side libvmaf scores: below 18 pixels (width or height) this ffmpeg's libvmaf
#: crashes (SIGSEGV, measured: 17x17, 16x200, 320x17); 18x18, 18x1000 and 1000x18 score
VMAF_MIN_SIDE = 18


def check_scorable(width: int, height: int, name: str = "the source") -> None:
    """Raise MediaError when frames of ``width`` x ``height`` are too small for libvmaf."""
    if min(width, height) < VMAF_MIN_SIDE:
        from .errors import MediaError

        raise MediaError(f"{name} is {width}x{height} as displayed: too small to score "
                         f"(VMAF needs at least {VMAF_MIN_SIDE}x{VMAF_MIN_SIDE} pixels)")


@dataclass(frozen=True)
class MetricParams:
    """How encodes are scored. Part of every probe's cache key."""

    vmaf_model: str = DEFAULT_VMAF_MODEL
    n_subsample: int = 1
    scale_flags: str = "bicubic"  #: scaler used to bring the encode back to display size
    threads: int = 1
    xpsnr: bool = False  #: also score XPSNR-Y (off by default: probes made without it keep their keys)

    def __post_init__(self) -> None:
        if not isinstance(self.n_subsample, int) or self.n_subsample < 1:
            raise ConfigError(f"n_subsample must be an integer >= 1, got {self.n_subsample!r}")
        if self.scale_flags not in SCALE_FLAGS:
            raise ConfigError(f"unknown scaler {self.scale_flags!r} (choose from {', '.join(SCALE_FLAGS)})")
        if not self.vmaf_model or any(c in self.vmaf_model for c in ":=|\\'[],; "):
            raise ConfigError(f"bad VMAF model name {self.vmaf_model!r}")
        if not isinstance(self.threads, int) or self.threads < 1:
            raise ConfigError(f"metric threads must be an integer >= 1, got {self.threads!r}")
        if not isinstance(self.xpsnr, bool):
            raise ConfigError(f"xpsnr must be true or false, got {self.xpsnr!r}")

    def for_display(self, width: int, height: int) -> "MetricParams":
        """These parameters for a source displayed at ``width`` x ``height``: ``auto`` (``auto-neg``)
        becomes the model for that size (see the module docstring); a named model stays."""
        pair = AUTO_VMAF_MODELS.get(self.vmaf_model)
        if pair is None:
            return self
        from dataclasses import replace

        from .geometry import size_class

        return replace(self, vmaf_model=pair[1] if size_class(width, height) >= VMAF_4K_MIN_CLASS else pair[0])

    def key(self) -> dict:
        if self.vmaf_model in AUTO_VMAF_MODELS:
            raise ValueError("a probe key needs the VMAF model chosen for the source (MetricParams.for_display)")
        extra = {"xpsnr": "xpsnr-y/v1"} if self.xpsnr else {}  # without it, the keys made before XPSNR
        return {"vmaf_model": self.vmaf_model, "n_subsample": self.n_subsample, "scale_flags": self.scale_flags,
                "metric_impl": "libvmaf+psnr+float_ssim/v1", **extra}


@dataclass(frozen=True)
class Scores:
    """Pooled scores of one encode plus its per-frame values (frame numbers within the shot)."""

    vmaf: float
    vmaf_hmean: float
    vmaf_p5: float
    vmaf_min: float
    psnr_y: float
    ssim: float
    frames_scored: int  #: frames VMAF scored (PSNR and SSIM score every frame)
    frame: tuple[int, ...]  #: frame numbers (within the shot) of vmaf_frames
    vmaf_frames: tuple[float, ...]
    psnr_y_frames: tuple[float, ...]  #: every frame of the shot
    ssim_frames: tuple[float, ...]  #: every frame of the shot
    cpu_s: float = 0.0
    wall_s: float = 0.0
    xpsnr_y: float = float("nan")  #: NaN where not scored
    xpsnr_y_frames: tuple[float, ...] = ()  #: every frame of the shot, where scored

    def pooled(self) -> dict[str, float]:
        """The pooled scores; ``xpsnr_y`` only where it was scored."""
        extra = {"xpsnr_y": self.xpsnr_y} if self.xpsnr_y_frames else {}
        return {"vmaf": self.vmaf, "vmaf_hmean": self.vmaf_hmean, "vmaf_p5": self.vmaf_p5, "vmaf_min": self.vmaf_min,
                "psnr_y": self.psnr_y, "ssim": self.ssim, **extra}

    def per_frame(self) -> dict[str, list]:
        extra = {"xpsnr_y": list(self.xpsnr_y_frames)} if self.xpsnr_y_frames else {}
        return {"vmaf_frame": list(self.frame), "vmaf": list(self.vmaf_frames), "psnr_y": list(self.psnr_y_frames),
                "ssim": list(self.ssim_frames), **extra}


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


def xpsnr_pool(values: Sequence[float]) -> float:
    """XPSNR of a sequence from its frames' (dB), as ffmpeg's ``xpsnr`` filter pools them: the mean of
    the frames' root weighted squared errors, ``-20 log10(mean 10^(-x/20))`` (an infinite frame adds
    no error)."""
    if not values:
        return float("nan")
    amp = sum(10.0 ** (-x / 20.0) for x in values) / len(values)
    return -20.0 * math.log10(amp) if amp > 0 else float("inf")


def pool(frames: Sequence[int], vmaf: Sequence[float], psnr_y: Sequence[float], ssim: Sequence[float],
         cpu_s: float = 0.0, wall_s: float = 0.0, xpsnr_y: Sequence[float] = ()) -> Scores:
    """Pooled scores from per-frame values (``xpsnr_y``: empty where not scored)."""
    v = [_finite(x) for x in vmaf]
    p = [_finite(x, PSNR_MAX_8BIT) for x in psnr_y]
    s = [_finite(x) for x in ssim]
    x = [_finite(f, PSNR_MAX_8BIT) for f in xpsnr_y]
    mean = lambda xs: (sum(xs) / len(xs)) if xs else float("nan")  # noqa: E731
    return Scores(
        vmaf=mean(v), vmaf_hmean=harmonic_mean(v), vmaf_p5=percentile(v, 5.0), vmaf_min=min(v) if v else float("nan"),
        psnr_y=mean(p), ssim=mean(s), frames_scored=len(v),
        frame=tuple(int(f) for f in frames), vmaf_frames=tuple(v), psnr_y_frames=tuple(p), ssim_frames=tuple(s),
        cpu_s=cpu_s, wall_s=wall_s, xpsnr_y=xpsnr_pool(x), xpsnr_y_frames=tuple(x),
    )


def parse_vmaf_json(text: str) -> tuple[list[int], list[float]]:
    """Per-frame (frame numbers, VMAF) from libvmaf's JSON log."""
    try:
        doc = json.loads(text)
        out_f, out_v = [], []
        for fr in doc["frames"]:
            out_f.append(int(fr["frameNum"]))
            out_v.append(float(fr["metrics"]["vmaf"]))
    except (ValueError, KeyError, TypeError) as ex:
        raise FFmpegError(f"unreadable libvmaf log: {ex}") from ex
    return out_f, out_v


def parse_xpsnr(text: str) -> list[float]:
    """Per-frame XPSNR-Y from an ``xpsnr`` ``stats_file`` (``n: 1  XPSNR y: 38.7030  XPSNR u: ...``);
    'inf' kept as inf. The summary line at its end (``XPSNR average, ...``) is not a frame."""
    out = []
    for line in text.splitlines():
        if not line.startswith("n:"):
            continue
        m = re.search(r"XPSNR y:\s*(\S+)", line)
        try:
            out.append(float(m.group(1)))  # type: ignore[union-attr]
        except (AttributeError, ValueError) as ex:
            raise FFmpegError(f"unreadable XPSNR line {line.strip()!r} in metric stats") from ex
    return out


def parse_stats(text: str, field: str) -> list[float]:
    """One ``field`` per line from a psnr/ssim ``stats_file`` (``psnr_y:..``, ``Y:..``); 'inf' kept as inf."""
    out = []
    tag = field + ":"
    for line in text.splitlines():
        for tok in line.split():
            if tok.startswith(tag):
                v = tok[len(tag):]
                try:
                    out.append(float(v))
                except ValueError as ex:
                    raise FFmpegError(f"unreadable {field} value {v!r} in metric stats") from ex
                break
    return out


# ---------------------------------------------------------------- the ffmpeg run


def metric_graph(
    ref_size: tuple[int, int],
    params: MetricParams,
    log_dir: str | os.PathLike,
    bit_depth: int = 8,
    ref_input: str = "[1:v:0]",
    ref_filters: Sequence[str] = (),
) -> str:
    """The scoring filter graph: input 0's first video stream (the encode) scaled to ``ref_size``, against
    ``ref_input`` (input 1's first video stream: a Y4M reference; or the source itself, brought to its
    displayed frames by ``ref_filters``): psnr -> ssim (-> xpsnr) -> libvmaf, logs in ``log_dir``
    (``psnr.log``, ``ssim.log``, ``vmaf.json``; ``xpsnr.log`` where ``params.xpsnr``). Both are compared
    at ``bit_depth`` bits, the depth of the encode and of its reference: PSNR's (and XPSNR's) peak is
    then 1023, and libvmaf scales its features to the depth. Frames are paired by index."""
    from .encoders.base import pix_fmt

    from .media import _escape_filter_value

    w, h = ref_size
    logs = {n: _escape_filter_value(os.path.join(os.path.abspath(os.fspath(log_dir)), n))
            for n in ("psnr.log", "ssim.log", "vmaf.json", "xpsnr.log")}
    fmt = pix_fmt(bit_depth)
    # both inputs get the same colour tags first: the encode signals the source's colour description and
    # the Y4M reference cannot, and ffmpeg would otherwise convert one to the other's matrix before scoring
    same = "setparams=color_primaries=unknown:color_trc=unknown:colorspace=unknown:range=tv"
    x = params.xpsnr
    ref_chain = ",".join([*ref_filters, same])
    return (
        f"[0:v:0]{same},scale={w}:{h}:flags={params.scale_flags},setsar=1,format={fmt},settb=1,setpts=N[d0];"
        f"{ref_input}{ref_chain},format={fmt},setsar=1,settb=1,setpts=N,split={4 if x else 3}[r0][r1][r2]"
        f"{'[r3]' if x else ''};"
        f"[d0][r0]psnr=stats_file={logs['psnr.log']}[d1];"
        f"[d1][r1]ssim=stats_file={logs['ssim.log']}[d2];"
        # XPSNR weighs each block by the activity of its first input: the source goes first; its output
        # (the source again) ends in a nullsink
        + (f"[d2]split[d3][dx];[r3][dx]xpsnr=stats_file={logs['xpsnr.log']},nullsink;" if x else "")
        + f"[{'d3' if x else 'd2'}][r2]libvmaf=model=version={params.vmaf_model}"
        f":n_threads={params.threads}:n_subsample={params.n_subsample}"
        f":log_fmt=json:log_path={logs['vmaf.json']}"
    )


def metric_args(
    dist: str | os.PathLike,
    dist_format: str,
    ref: str | os.PathLike,
    ref_size: tuple[int, int],
    fps: Fraction,
    params: MetricParams,
    log_dir: str | os.PathLike,
    bit_depth: int = 8,
) -> list[str]:
    """ffmpeg arguments that score ``dist`` (a raw bitstream of ``dist_format``, or ``yuv4mpegpipe``)
    against the Y4M reference ``ref`` at ``ref_size`` (see :func:`metric_graph`)."""
    from .media import input_arg

    fr = Fraction(fps)
    rate = f"{fr.numerator}/{fr.denominator}"
    t = params.threads
    return [
        "-y", "-v", "error", "-threads", str(t),
        "-r", rate, "-f", dist_format, "-i", input_arg(dist),
        "-r", rate, "-f", "yuv4mpegpipe", "-i", input_arg(ref),
        "-filter_threads", str(t), "-filter_complex", metric_graph(ref_size, params, log_dir, bit_depth),
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
    bit_depth: int = 8,
) -> Scores:
    """Score one encode (``frames`` frames) against the reference; checks every frame was scored."""
    check_scorable(*ref_size, name=f"reference {Path(ref).name}")
    params = params.for_display(*ref_size)
    return run_scoring(lambda d: metric_args(dist, dist_format, ref, ref_size, fps, params, d, bit_depth), frames,
                       params, work_dir)


def run_scoring(make_args: "Callable[[str], list[str]]", frames: int, params: MetricParams,
                work_dir: str | os.PathLike | None = None) -> Scores:
    """Run the scoring command ``make_args(log_dir)`` (its graph from :func:`metric_graph`, ``params`` with
    a named VMAF model) and pool its logs; checks every one of ``frames`` frames was scored."""
    import tempfile

    from . import ffmpeg

    with tempfile.TemporaryDirectory(prefix="pershot-metric-", dir=work_dir) as d:
        res = ffmpeg.run(make_args(d), what=f"scoring (psnr/ssim{'/xpsnr' if params.xpsnr else ''}/libvmaf) failed")
        try:
            vmaf_text = (Path(d) / "vmaf.json").read_text(encoding="utf-8")
            psnr_text = (Path(d) / "psnr.log").read_text(encoding="utf-8")
            ssim_text = (Path(d) / "ssim.log").read_text(encoding="utf-8")
            xpsnr_text = (Path(d) / "xpsnr.log").read_text(encoding="utf-8") if params.xpsnr else ""
        except OSError as ex:
            raise FFmpegError(f"a metric filter wrote no log: {ex}", cmd=res.cmd, stderr=res.stderr) from ex
    f, v = parse_vmaf_json(vmaf_text)
    p = parse_stats(psnr_text, "psnr_y")
    s = parse_stats(ssim_text, "Y")
    x = parse_xpsnr(xpsnr_text)
    expected = len(range(0, frames, params.n_subsample))
    if len(f) != expected or len(p) != frames or len(s) != frames or len(x) != (frames if params.xpsnr else 0):
        raise FFmpegError(f"metrics scored {len(p)} frames (VMAF {len(f)}), expected {frames} (VMAF {expected}): "
                          "the encode and the shot differ in length", cmd=res.cmd, stderr=res.stderr)
    return pool(f, v, p, s, cpu_s=res.cpu_s, wall_s=res.wall_s, xpsnr_y=x)
