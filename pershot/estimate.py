"""How much a probe run will cost, before it runs (``pershot probe|ladder --dry-run``).

The plan (:func:`pershot.probe.plan_probes`) says which probes the cache already holds and which
must run. Their CPU time is estimated from a calibration: every configuration of the grid (preset
or variant) is probed for real on a short sample of the source (``sample_frames`` frames from the
middle of its longest shot, and a quarter of them; not cached), at one size (the grid's median
size) and at the grid's lowest and highest CRF/QP. Each cost is a fixed part per process plus a
part per frame, which the two sample lengths separate: the encoder's (interpolated in CRF, its
per-frame part scaled by pixel count against the calibration size); the scoring (done at the
display size, so the same for every probe); and per job, the decode and scaling of its shot and
the encode process's start-up overhead (measured once per job).

What it cannot see: content that is harder or easier than the sample, and how speed per pixel
changes with size. ``benchmarks/probe_estimate.py`` measures how close it comes.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from .encoders import EncodeParams
from .grid import Grid
from .geometry import describe as describe_size
from .media import TMP_ENV, SourceInfo
from .probe import OVERHEAD_RUNS, Plan, ProbeJob, ProbeSpec, job_temp_bytes
from .shots import Shot

#: frames in the calibration sample
SAMPLE_FRAMES = 24


@dataclass(frozen=True)
class ProbeEstimate:
    """A probe run's size and estimated CPU seconds (all of them: a pool of N processes takes
    about ``total_cpu_s / N`` of wall time)."""

    shots: int
    probes: int  #: grid points over all shots
    cached: int  #: of which the cache holds
    jobs: int  #: (shot, size) groups to run
    encode_cpu_s: float  #: the encoders (and their processes' start-up)
    metric_cpu_s: float  #: scoring (VMAF, PSNR, SSIM)
    decode_cpu_s: float  #: decoding and scaling the shots, once per job
    calibration_cpu_s: float  #: what the calibration itself took
    sample: str  #: what the calibration ran on
    #: ((encoder, configuration), estimated CPU seconds of its probes to run), slowest last
    by_config: tuple[tuple[tuple[str, str], float], ...] = ()
    #: with ``--sparse``: the full grid's points (``probes`` is then the skeleton, cached points included)
    grid_points: int | None = None
    #: the encode sizes of the plan, largest first
    sizes: tuple[tuple[int, int], ...] = ()
    #: per job to run, the temporary disk it holds at once (raw frames), largest first
    temp_bytes: tuple[int, ...] = ()

    @property
    def to_run(self) -> int:
        return self.probes - self.cached

    @property
    def total_cpu_s(self) -> float:
        return self.encode_cpu_s + self.metric_cpu_s + self.decode_cpu_s


def _interp(x: float, x0: float, y0: float, x1: float, y1: float) -> float:
    if x1 == x0:
        return 0.5 * (y0 + y1)
    t = min(1.0, max(0.0, (x - x0) / (x1 - x0)))
    return y0 + t * (y1 - y0)


def _calibration_job(info: SourceInfo, plan: Plan, grid: Grid, sample: Shot, size: tuple[int, int],
                     high_too: bool) -> tuple[ProbeJob, dict[tuple[str, str], tuple[float, float]]]:
    """Every configuration of the grid on ``sample`` at ``size``, at the lowest value of each rate-control
    mode (and the highest, with ``high_too``); not cached."""
    from . import encoders
    from .probe import probe_key

    probes: list[ProbeSpec] = []
    values: dict[tuple[str, str], tuple[float, float]] = {}
    colour, hdr = plan.jobs[0].probes[0].encode.colour, plan.jobs[0].probes[0].encode.hdr
    for e in grid.encoders:
        spec = encoders.get(e.encoder)
        for mode in ("crf", "qp"):
            vals = [v for m, v in e.rc_points() if m == mode]
            if not vals:
                continue
            values[(e.encoder, mode)] = (min(vals), max(vals))
            for name, preset, params in e.configs():
                for v in (sorted({min(vals), max(vals)}) if high_too else [min(vals)]):
                    p = EncodeParams(encoder=e.encoder, preset=preset, rc_mode=mode, value=float(v), width=size[0],
                                     height=size[1], fps=info.fps, frames=sample.frames, threads=grid.threads,
                                     keyint=grid.keyint, extra=params, colour=colour, bit_depth=e.bit_depth,
                                     hdr=hdr)
                    spec.check(p)
                    key = probe_key(info, sample, p, plan.jobs[0].metric, "calibration", "calibration")
                    probes.append(ProbeSpec(key=key, encode=p, preset_rank=e.preset_rank(name),
                                            config=name if name != preset else ""))
    job = ProbeJob(source=info, shot=sample, width=size[0], height=size[1], probes=tuple(probes),
                   metric=plan.jobs[0].metric,
                   encoder_versions=plan.jobs[0].encoder_versions, cache_dir=None, work_dir=plan.jobs[0].work_dir,
                   bit_depth=max(grid.bit_depths))  # an encode of another depth converts the frames itself
    return job, values


def _line(y_short: float, y_long: float, n_short: int, n_long: int) -> tuple[float, float]:
    """(fixed, per frame) through two measurements; a per-frame cost that timing noise made
    negative becomes the long run's average instead."""
    slope = (y_long - y_short) / (n_long - n_short) if n_long > n_short else 0.0
    if slope <= 0:
        return 0.0, y_long / max(1, n_long)
    return max(0.0, y_short - slope * n_short), slope


def estimate_plan(info: SourceInfo, plan: Plan, grid: Grid, sample_frames: int = SAMPLE_FRAMES) -> ProbeEstimate:
    """Estimate the CPU seconds of ``plan``'s jobs (runs the calibration probes: a few seconds).

    Costs are modelled as a fixed part per process plus a part per frame (and, for the encoder and
    the encode process's reading of its input, per pixel of the encode size): the calibration runs
    every configuration on a sample of ``sample_frames`` frames and on a quarter of it, so the two
    parts separate."""
    import time

    from .probe import run_job

    shots = {j.shot.index: j.shot for j in plan.jobs}
    n_shots = len({r.shot for r in plan.cached} | set(shots))
    if not plan.jobs:
        return ProbeEstimate(shots=n_shots, probes=plan.total, cached=len(plan.cached), jobs=0, encode_cpu_s=0.0,
                             metric_cpu_s=0.0, decode_cpu_s=0.0, calibration_cpu_s=0.0, sample="nothing to run",
                             sizes=tuple(plan.sizes))
    longest = max(shots.values(), key=lambda s: s.frames)
    n = max(min(2, longest.frames), min(sample_frames, longest.frames))  # a one-frame source: that frame
    a = longest.start_frame + (longest.frames - n) // 2
    n_short = max(1, n // 4)
    long_s = Shot(index=longest.index, start_frame=a, end_frame=a + n, start_s=0.0, end_s=0.0)
    short_s = Shot(index=longest.index, start_frame=a, end_frame=a + n_short, start_s=0.0, end_s=0.0)
    sizes = sorted({(j.width, j.height) for j in plan.jobs}, key=lambda wh: wh[0] * wh[1])
    cw, ch = sizes[len(sizes) // 2]
    job_l, values = _calibration_job(info, plan, grid, long_s, (cw, ch), high_too=True)
    job_s, _ = _calibration_job(info, plan, grid, short_s, (cw, ch), high_too=False)
    t0 = time.process_time()
    res_l, res_s = run_job(job_l), run_job(job_s)
    cal_cpu = time.process_time() - t0  # this process; ffmpeg's CPU is in the results themselves
    cal_cpu += sum(r.encode_cpu_s + r.encode_overhead_cpu_s + r.metric_cpu_s for r in res_l + res_s)
    cal_cpu += res_l[0].decode_cpu_s + res_s[0].decode_cpu_s
    px = float(cw * ch)
    key = lambda r: (r.encoder, r.preset, r.rc_mode, float(r.crf))  # noqa: E731
    short = {key(r): r for r in res_s}
    # per configuration and value: (fixed, per frame and pixel) of the encoder itself
    # the lowest value, measured at both lengths, gives the fixed part; a higher value keeps that
    # fixed part and gets its own per-frame part from its one measurement
    enc: dict[tuple[str, str, str, float], tuple[float, float]] = {}
    for r in res_l:
        if float(r.crf) == values[(r.encoder, r.rc_mode)][0]:
            rs = short.get(key(r))
            fixed, per = _line(rs.encode_cpu_s if rs else 0.0, r.encode_cpu_s, n_short, n)
            enc[key(r)] = (fixed, per / px)
    for r in res_l:
        lo = values[(r.encoder, r.rc_mode)][0]
        if float(r.crf) != lo:
            fixed = enc[(r.encoder, r.preset, r.rc_mode, lo)][0]
            enc[key(r)] = (fixed, max(0.0, (r.encode_cpu_s - fixed) / n) / px)
    mean = lambda rs, f: sum(f(r) for r in rs) / len(rs)  # noqa: E731
    ov0, ov1 = _line(mean(res_s, lambda r: r.encode_overhead_cpu_s), mean(res_l, lambda r: r.encode_overhead_cpu_s),
                     n_short, n)
    m0, m1 = _line(mean(res_s, lambda r: r.metric_cpu_s), mean(res_l, lambda r: r.metric_cpu_s), n_short, n)
    d0, d1 = _line(res_s[0].decode_cpu_s, res_l[0].decode_cpu_s, n_short, n)
    ov1 /= px
    e_total = m_total = d_total = 0.0
    by_config: dict[tuple[str, str], float] = {}
    for j in plan.jobs:
        f = j.shot.frames
        jpx = float(j.width * j.height)
        overhead = ov0 + ov1 * f * jpx  # one encode process, without its encoder
        d_total += d0 + d1 * f
        e_total += OVERHEAD_RUNS * overhead
        for sp in j.probes:
            p = sp.encode
            name = sp.config or p.preset
            lo, hi = values[(p.encoder, p.rc_mode)]
            f_lo, p_lo = enc[(p.encoder, name, p.rc_mode, lo)]
            f_hi, p_hi = enc[(p.encoder, name, p.rc_mode, hi)]
            cost = _interp(p.value, lo, f_lo, hi, f_hi) + _interp(p.value, lo, p_lo, hi, p_hi) * f * jpx + overhead
            e_total += cost
            m_total += m0 + m1 * f
            by_config[(p.encoder, name)] = by_config.get((p.encoder, name), 0.0) + cost + m0 + m1 * f
    return ProbeEstimate(
        shots=n_shots, probes=plan.total, cached=len(plan.cached), jobs=len(plan.jobs), encode_cpu_s=e_total,
        metric_cpu_s=m_total, decode_cpu_s=d_total, calibration_cpu_s=cal_cpu,
        sample=f"{n} and {n_short} frames of shot {longest.index} at {cw}x{ch}",
        by_config=tuple(sorted(by_config.items(), key=lambda kv: kv[1])), sizes=tuple(plan.sizes),
        temp_bytes=tuple(sorted((job_temp_bytes(j) for j in plan.jobs), reverse=True)))


def describe(est: ProbeEstimate, jobs: int) -> list[str]:
    """Lines for the CLI."""
    def hm(s: float) -> str:
        return f"{s / 3600:.1f} h" if s >= 3600 else f"{s / 60:.1f} min" if s >= 60 else f"{s:.0f} s"

    lines = [f"plan: {est.shots} shots, {est.probes} probes ({est.cached} in the cache, {est.to_run} to run "
             f"in {est.jobs} jobs)"]
    if est.grid_points:
        lines[0] = lines[0].replace("plan:", "plan (--sparse):", 1) + f", the skeleton of the grid's {est.grid_points}"
        lines.append("--sparse: the rounds after the skeleton measure what the ladder chooses and add more (in "
                     "benchmarks/sparse_bench.py a whole run measured 30-39% of the grid, its skeleton 23%)")
    if est.to_run:
        lines.append(f"estimate: {hm(est.total_cpu_s)} of CPU (encode {hm(est.encode_cpu_s)}, metrics "
                     f"{hm(est.metric_cpu_s)}, decode {hm(est.decode_cpu_s)}): about {hm(est.total_cpu_s / max(1, jobs))} "
                     f"with {jobs} processes")
        lines.append(f"calibrated on {est.sample} ({hm(est.calibration_cpu_s)} of CPU)")
        lines.append("by configuration: " + ", ".join(f"{e} {c} {hm(s)}" for (e, c), s in est.by_config))
    if est.sizes:
        lines.append("sizes: " + ", ".join(f"{w}x{h} ({describe_size(w, h)})" for w, h in est.sizes))
    if est.temp_bytes:
        at_once = sum(est.temp_bytes[:max(1, jobs)])
        lines.append(f"temporary disk: up to {at_once / 1e9:.2f} GB at once with {jobs} processes (raw frames of "
                     f"the largest shots; {TMP_ENV} moves it)")
    return lines


__all__: Sequence[str] = ("ProbeEstimate", "estimate_plan", "describe", "SAMPLE_FRAMES")
