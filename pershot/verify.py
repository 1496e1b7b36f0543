"""Quality control of encoded renditions: each rung's file scored against the source, as the probes were.

The ladder predicts each rung's quality from its probes: every shot encoded and scored on its own.
A rendition is those same shot encodes, joined. :func:`verify_jobs` plans one scoring run per rung:
the rendition decoded whole (a rung whose resolution changes shot by shot keeps one filter graph, so
every frame is scaled and scored) against the source decoded in the same run and brought to the
frames the probes compared against (trim, deinterlace, tone map, rotation, crop, then the source's
display size at the encodes' bit depth): no reference file on disk, whatever the title's length.
An interlaced source's frames are deinterlaced as within the whole stream, as the probes and the encodes
had them (each range is decoded with a neighbour on either side: see :func:`pershot.media.decoded_span`).
Frames are paired by index; every frame is scored (VMAF too), with the VMAF model the ladder
records (``auto`` where it records none).

Each shot's frames are pooled as its probe's were (the mean over the shot), and the shots weighed by
duration, as the ladder weighs them. What to expect: PSNR-Y and SSIM per frame are the probes' own, so
a rung's figures match the ladder's to within rounding. VMAF
can move a little: its motion feature now sees across shot boundaries, and the probes may have
scored every n-th frame only (the grid's ``n_subsample``). A larger gap means the rendition is not
what the ladder measured: another encoder build, a command edited by hand, frames lost or shifted.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np

from .errors import InputError
from .media import SourceInfo, shown_filters, shown_index, sized_filter
from .metrics import MetricParams, metric_graph, run_scoring

__all__ = ["VerifyJob", "RungScore", "verify_jobs", "verify_args", "run_verify", "mismatches", "VERIFY_COLUMNS"]

#: the columns :class:`RungScore` adds to renditions.csv (NaN on rows not verified)
VERIFY_COLUMNS = ("vmaf", "psnr_y", "ssim", "worst_shot_vmaf", "ladder_vmaf", "ladder_psnr_y", "ladder_ssim",
                  "vmaf_model", "verify_cpu_s")


@dataclass(frozen=True)
class VerifyJob:
    """Score one rendition (a rung) against the source frames its shots cover."""

    source: SourceInfo
    rung: int
    path: str
    shots: tuple[tuple[int, int], ...]  #: (start_frame, end_frame) of each shot, in order, contiguous
    durations: tuple[float, ...]  #: each shot's duration, the ladder's weights
    bit_depth: int
    params: MetricParams  #: a named VMAF model, n_subsample 1
    ladder: tuple[float, float, float]  #: the ladder's (vmaf, psnr_y, ssim) for the rung (NaN where absent)
    work_dir: str | None = None

    @property
    def frames(self) -> int:
        return self.shots[-1][1] - self.shots[0][0]


@dataclass(frozen=True)
class RungScore:
    """A rendition's measured quality beside the ladder's prediction."""

    rung: int
    path: str
    frames: int
    vmaf: float
    psnr_y: float
    ssim: float
    worst_shot_vmaf: float  #: the lowest of the shots' mean VMAF, as measured in the rendition
    ladder_vmaf: float
    ladder_psnr_y: float
    ladder_ssim: float
    vmaf_model: str
    verify_cpu_s: float

    def as_dict(self) -> dict[str, Any]:
        return {c: getattr(self, c) for c in VERIFY_COLUMNS}


def _num(v: Any) -> float:
    try:
        x = float(v)
    except (TypeError, ValueError):
        return float("nan")
    return x if math.isfinite(x) else float("nan")


def verify_jobs(doc: Mapping[str, Any], info: SourceInfo, renditions: Sequence[Any],
                work_dir: str | None = None) -> list[VerifyJob]:
    """One job per video rendition of ``doc``'s rungs (``renditions``: :class:`~pershot.renditions.Rendition`
    rows). Raises InputError where a rung's shots are not one contiguous span of the source."""
    model = str(doc.get("vmaf_model") or "auto")
    params = MetricParams(vmaf_model=model).for_display(info.display_width, info.display_height)
    rungs = {int(r["rung"]): r for r in doc["rungs"]}
    jobs = []
    for rend in renditions:
        if getattr(rend, "kind", "video") != "video" or rend.rung not in rungs:
            continue
        r = rungs[rend.rung]
        spans = tuple((int(s["start_frame"]), int(s["end_frame"])) for s in r["shots"])
        if any(b[0] != a[1] for a, b in zip(spans, spans[1:])):
            raise InputError(f"rung {rend.rung}: its shots leave gaps in the source, so its rendition cannot be "
                             "checked frame by frame against it")
        depths = {int(s.get("bit_depth") or 8) for s in r["shots"]}
        durations = tuple(_num(s.get("duration_s")) for s in r["shots"])
        if not all(d > 0 for d in durations):  # a hand-made ladder without durations: weigh by frames
            durations = tuple(float(b - a) for a, b in spans)
        jobs.append(VerifyJob(source=info, rung=rend.rung, path=rend.path, shots=spans, durations=durations,
                              bit_depth=max(depths), params=params,
                              ladder=(_num(r.get("vmaf")), _num(r.get("psnr_y")), _num(r.get("ssim"))),
                              work_dir=work_dir))
    return jobs


def verify_args(job: VerifyJob, log_dir: str | os.PathLike) -> list[str]:
    """The one ffmpeg command that scores ``job``'s rendition against the source (see the module docstring)."""
    from .media import input_arg

    info = job.source
    idx = shown_index(info)
    ref = (info.display_width, info.display_height)
    by_count = not idx.pts_exact
    sized = sized_filter(info, *ref, bit_depth=job.bit_depth)
    # every filter gives each frame what it gives it within the whole stream (the deinterlacer reads the
    # neighbours of a range: see media.decoded_span): one trim of the whole span is the shots joined
    start, end = job.shots[0][0], job.shots[-1][1]
    chain = [*shown_filters(info, idx, start, end, by_count, job.bit_depth), sized]
    graph = metric_graph(ref, job.params, log_dir, job.bit_depth, ref_input=f"[1:{idx.stream_index}]",
                         ref_filters=chain)
    t = str(job.params.threads)
    return ["-y", "-v", "error", "-threads", t,
            # a rung whose size changes shot by shot: one graph throughout (a rebuilt one restarts its logs)
            "-reinit_filter", "0", "-i", input_arg(job.path),
            "-noautorotate", "-copyts", "-i", input_arg(info.path),
            "-filter_threads", t,
            "-filter_complex", graph,
            "-f", "null", "-"]


def _shot_means(frame: Sequence[int], values: Sequence[float], shots: Sequence[tuple[int, int]]) -> np.ndarray:
    """Each shot's mean of per-frame ``values`` (at rendition frame numbers ``frame``)."""
    f = np.asarray(frame, dtype=int)
    v = np.asarray(values, dtype=float)
    base = shots[0][0]
    out = np.full(len(shots), np.nan)
    for i, (a, b) in enumerate(shots):
        sel = (f >= a - base) & (f < b - base)
        if sel.any():
            out[i] = v[sel].mean()
    return out


def run_verify(job: VerifyJob) -> RungScore:
    """Score one rendition (runs in a worker). Each shot's frames are pooled as its probe's were, and the
    shots weighed by duration, as the ladder weighs them."""
    sc = run_scoring(lambda d: verify_args(job, d), job.frames, job.params, job.work_dir)
    every = range(job.frames)
    shot_vmaf = _shot_means(sc.frame, sc.vmaf_frames, job.shots)
    w = np.asarray(job.durations, dtype=float)

    def weighted(x: np.ndarray) -> float:
        return float((x * w).sum() / w.sum())

    lv, lp, ls = job.ladder
    return RungScore(rung=job.rung, path=job.path, frames=job.frames, vmaf=weighted(shot_vmaf),
                     psnr_y=weighted(_shot_means(every, sc.psnr_y_frames, job.shots)),
                     ssim=weighted(_shot_means(every, sc.ssim_frames, job.shots)),
                     worst_shot_vmaf=float(np.min(shot_vmaf)), ladder_vmaf=lv, ladder_psnr_y=lp, ladder_ssim=ls,
                     vmaf_model=job.params.vmaf_model, verify_cpu_s=sc.cpu_s)


#: a rendition whose PSNR-Y is further than this from the ladder's is not what the ladder measured (the
#: frames are the probes' own, so they agree to rounding)
PSNR_TOLERANCE_DB = 0.05
#: VMAF's motion feature sees across shot boundaries in a rendition, and the probes may have scored every
#: n-th frame: a gap beyond this many points is reported
VMAF_TOLERANCE = 1.0


def mismatches(rows: Sequence[Any]) -> list[str]:
    """One line per verified rendition (rows with ``vmaf``, ``ladder_vmaf``...) whose measured quality is
    not the ladder's, within :data:`PSNR_TOLERANCE_DB` and :data:`VMAF_TOLERANCE`."""
    out = []
    for r in rows:
        dp, dv = r.psnr_y - r.ladder_psnr_y, r.vmaf - r.ladder_vmaf
        if abs(dp) > PSNR_TOLERANCE_DB or abs(dv) > VMAF_TOLERANCE:  # NaN (not verified) compares false
            out.append(f"rung {r.rung}'s rendition measures VMAF {r.vmaf:.2f} and PSNR-Y {r.psnr_y:.3f} dB, the ladder "
                       f"predicted {r.ladder_vmaf:.2f} and {r.ladder_psnr_y:.3f} dB: it is not the encode the ladder "
                       "measured (another encoder build, an edited command, frames shifted?)")
    return out
