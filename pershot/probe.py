"""Rate-distortion-complexity probes: encode every grid point of every shot and score it.

Work is split into :class:`ProbeJob` s, one per (shot, resolution) that still
has uncached points (split further above :data:`MAX_PROBES_PER_JOB` points). A
job decodes its shot **once** (seek to the keyframe at
or before the first frame, trim by frame index, rotate as displayed, scale)
into two raw Y4M files in a private temporary folder: the encoder input at the
target size and the reference at the source's display size. Then for each
point it runs the encoder alone on the Y4M, scores the bitstream against the
reference (``metric_cpu_s``), writes the cache entry at once, and deletes the
bitstream. ``decode_cpu_s`` is the CPU time of the job's decode/trim/scale
step: one decode of the shot at that resolution, shared by every point of the
job (do not sum it over rows).

``encode_cpu_s`` is the encoder's own CPU time: the ``os.wait4`` user + sys
time of the encode process less ``encode_overhead_cpu_s``, the CPU time of the
same ffmpeg command line with the encoder left out (start-up, Y4M reading,
frames discarded; the fastest of :data:`OVERHEAD_RUNS` runs, measured once per
job). On short, small shots that overhead is a large part of a fast preset's
process (15-20 ms against 20-40 ms for x264 ultrafast on 2 s at 144p) and
would squeeze the ultrafast-to-veryslow range that complexity budgets rely on.

Jobs are independent and picklable; any :class:`~pershot.executors.Executor`
runs them.
"""
from __future__ import annotations

import os
import tempfile
import time
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

from . import encoders
from .bitstream import parameter_sets_key
from .cache import ProbeCache, make_key, open_cache
from .encoders import EncodeParams
from .encoders.base import kv_params, pix_fmt
from .errors import ConfigError, FFmpegError, InputError, ResourceError
from .grid import Grid, load_grid
from .media import (SourceInfo, check_source, check_temp_space, encode_colour, encode_hdr, extract_shot,
                    frame_index, resolutions_for, temp_dir, tonemap_peak, y4m_bytes)
from .metrics import MetricParams, check_scorable, score
from .shots import Shot

#: bump when the probing method changes in a way that changes results
#: (2: encode_cpu_s is the encoder's own CPU time, the ffmpeg process overhead subtracted)
PIPELINE_VERSION = 2
#: how many times a job runs its encoder-less ffmpeg command; the fastest run is the overhead
OVERHEAD_RUNS = 3
#: the encoder's own CPU time is never put below this share of its process's
ENCODER_CPU_FLOOR = 0.01
#: a (shot, resolution) with more uncached points than this is split into several jobs
MAX_PROBES_PER_JOB = 12

#: the public columns of probes.csv, in order
PROBE_COLUMNS = (
    "shot", "start_frame", "end_frame", "frames", "duration_s",
    "encoder", "preset", "preset_rank", "encoder_preset", "params", "width", "height", "bit_depth", "keyint",
    "threads", "rc_mode", "crf",
    "size_bytes", "bitrate_kbps",
    "vmaf", "vmaf_hmean", "vmaf_p5", "vmaf_min", "psnr_y", "ssim", "xpsnr_y",
    "encode_cpu_s", "encode_wall_s", "encode_overhead_cpu_s", "decode_cpu_s", "metric_cpu_s", "metric_wall_s",
    "frames_scored", "n_subsample", "vmaf_model", "encoder_version", "param_sets", "cached", "key",
)

_RESULT_KEYS = ("size_bytes", "vmaf", "vmaf_hmean", "vmaf_p5", "vmaf_min", "psnr_y", "ssim", "encode_cpu_s",
                "encode_wall_s", "encode_overhead_cpu_s", "decode_cpu_s", "metric_cpu_s", "metric_wall_s",
                "frames_scored")


@dataclass(frozen=True)
class ProbeSpec:
    """One point to measure: an encode of one shot, and its cache key."""

    key: str
    encode: EncodeParams
    preset_rank: int
    config: str = ""  #: the grid's name for this configuration (a variant's name); "" = the plain preset


@dataclass(frozen=True)
class ProbeJob:
    """All the points of one (shot, resolution) that still need measuring."""

    source: SourceInfo
    shot: Shot
    width: int
    height: int
    probes: tuple[ProbeSpec, ...]
    metric: MetricParams
    encoder_versions: tuple[tuple[str, str], ...] = ()
    cache_dir: str | None = None
    work_dir: str | None = None
    bit_depth: int = 8  #: of every encode of the job, and of the frames it decodes (8 or 10)


def job_temp_bytes(job: ProbeJob) -> int:
    """Temporary disk a job holds at once: the shot's frames as Y4M at the display size (the
    reference) and at the encode size, plus a tenth for the bitstream and the metric logs."""
    info, frames = job.source, job.shot.frames
    ref = (info.display_width, info.display_height)
    d = job.bit_depth
    raw = y4m_bytes(*ref, frames, d) + (y4m_bytes(job.width, job.height, frames, d)
                                        if (job.width, job.height) != ref else 0)
    return raw + raw // 10


def check_job_space(jobs: Sequence[ProbeJob], workers: int) -> None:
    """:func:`~pershot.media.check_temp_space` for probe jobs run ``workers`` at a time."""
    check_temp_space([(temp_dir(j.work_dir), job_temp_bytes(j)) for j in jobs], workers, "probing",
                     ", or shorten shots with --max-shot")


@dataclass(frozen=True)
class ProbeResult:
    """One row of probes.csv (plus the per-frame scores, kept out of the CSV)."""

    shot: int
    start_frame: int
    end_frame: int
    frames: int
    duration_s: float
    encoder: str
    preset: str  #: the configuration: a preset, or the name of a grid variant
    preset_rank: int
    encoder_preset: str  #: the preset the encoder is given
    params: str  #: the encoder's extra options, key=value:key=value ("" when none)
    width: int
    height: int
    bit_depth: int  #: bits per sample of the encode (8 or 10)
    rc_mode: str
    crf: float  #: the CRF, or the QP when rc_mode == "qp"
    size_bytes: int
    bitrate_kbps: float
    vmaf: float
    vmaf_hmean: float
    vmaf_p5: float
    vmaf_min: float
    psnr_y: float
    ssim: float
    encode_cpu_s: float  #: the encoder's own CPU seconds (process less overhead)
    encode_wall_s: float  #: wall seconds of the whole encode process
    encode_overhead_cpu_s: float  #: CPU seconds of the encode's ffmpeg process without the encoder
    decode_cpu_s: float
    metric_cpu_s: float
    metric_wall_s: float
    frames_scored: int
    n_subsample: int
    vmaf_model: str  #: the libvmaf model that scored it (``auto`` chooses by the source's size)
    encoder_version: str
    cached: bool
    key: str
    per_frame: Mapping[str, Any] | None = field(default=None, compare=False, repr=False)
    #: a digest of the encode's parameter sets (SPS/PPS...): encodes with equal ones can share one MP4
    #: sample entry (``hvc1``); "" where unknown (probes cached before pershot recorded it)
    param_sets: str = ""
    #: XPSNR-Y, where the grid's metrics ask for it (``[metrics] xpsnr = true``); NaN otherwise
    xpsnr_y: float = float("nan")
    #: the grid's GOP length (0: one GOP per shot) and encoder threads, which ``pershot optimize`` puts in
    #: the ladder's commands
    keyint: int = 0
    threads: int = 1

    def row(self) -> dict[str, Any]:
        return {c: getattr(self, c) for c in PROBE_COLUMNS}


# ---------------------------------------------------------------- keys and rows


def probe_key(info: SourceInfo, shot: Shot, p: EncodeParams, metric: MetricParams, encoder_version: str,
              ffmpeg_version: str, frames_by_count: bool = False) -> str:
    """The cache key of one probe (see :mod:`pershot.cache`). ``frames_by_count``: the source's
    shots are cut by frame count (guessed timestamps, ``FrameIndex.pts_exact`` false); such
    probes get keys of their own, apart from ones cached before shots were cut that way."""
    extra: dict[str, Any] = {"frames_by": "count"} if frames_by_count else {}
    rev = encoders.get(p.encoder).args_revision
    if rev != 1:  # revision 1 (the first argument builders) keeps the keys made before revisions existed
        extra["args_revision"] = rev
    if info.stream is not None:  # a stream asked for by index (the automatic choice keeps its old keys)
        extra["stream"] = info.stream
    if info.interlaced:  # deinterlaced frames, with their neighbours (2); progressive sources keep their old keys
        extra["deinterlace"] = "bwdif2-field" if info.field_rate else "bwdif2"
    if info.crop is not None:  # a cut picture (the reference size below changes with it)
        extra["crop"] = list(info.crop)
    if info.tonemap:  # tone-mapped HDR: the curve, the peak it maps from, luma kept within limited range (2)
        extra["tonemap"] = {"curve": info.tonemap, "peak": tonemap_peak(info), "limited": 2}
    if p.colour:  # tagged encodes (and full range converted); an untagged source keeps its old keys
        extra["colour"] = [list(x) for x in p.colour]
    if p.bit_depth != 8:  # 10-bit encodes (8-bit ones keep the keys made before bit depths)
        extra["bit_depth"] = p.bit_depth
    hdr = p.hdr_options()
    if hdr:  # the HDR metadata the stream carries
        extra["hdr"] = [list(x) for x in hdr]
    return make_key({
        **extra,
        "pipeline": PIPELINE_VERSION,
        "source": info.content_hash,
        "start_frame": shot.start_frame,
        "end_frame": shot.end_frame,
        "ffmpeg": ffmpeg_version,
        "encoder": p.encoder,
        "encoder_version": encoder_version,
        "encode": {
            "preset": p.preset, "rc_mode": p.rc_mode, "value": float(p.value), "width": p.width, "height": p.height,
            "fps": f"{Fraction(p.fps).numerator}/{Fraction(p.fps).denominator}", "threads": p.threads,
            "gop": p.gop(), "extra": [list(x) for x in p.extra],
        },
        "metric": metric.for_display(info.display_width, info.display_height).key(),
        "reference": {"width": info.display_width, "height": info.display_height, "rotation": info.rotation},
    })


def encoder_cpu_s(process_cpu_s: float, overhead_cpu_s: float) -> float:
    """The encoder's own CPU time: its process's, less the process overhead measured without the
    encoder; never below :data:`ENCODER_CPU_FLOOR` of the process's (timer noise on tiny encodes)."""
    return max(process_cpu_s - overhead_cpu_s, ENCODER_CPU_FLOOR * process_cpu_s)


def bitrate_kbps(size_bytes: int, duration_s: float) -> float:
    """size_bytes * 8 / duration_s / 1000."""
    return size_bytes * 8.0 / duration_s / 1000.0 if duration_s > 0 else float("nan")


def _result(shot: Shot, spec: ProbeSpec, data: Mapping[str, Any], metric: MetricParams, encoder_version: str,
            cached: bool, per_frame: Mapping[str, Any] | None) -> ProbeResult:
    p = spec.encode
    size = int(data["size_bytes"])
    return ProbeResult(
        shot=shot.index, start_frame=shot.start_frame, end_frame=shot.end_frame, frames=shot.frames,
        duration_s=shot.duration_s, encoder=p.encoder, preset=spec.config or p.preset, preset_rank=spec.preset_rank,
        encoder_preset=p.preset, params=kv_params(p.extra),
        width=p.width, height=p.height, bit_depth=p.bit_depth, rc_mode=p.rc_mode, crf=float(p.value), size_bytes=size,
        bitrate_kbps=bitrate_kbps(size, shot.duration_s),
        vmaf=float(data["vmaf"]), vmaf_hmean=float(data["vmaf_hmean"]), vmaf_p5=float(data["vmaf_p5"]),
        vmaf_min=float(data["vmaf_min"]), psnr_y=float(data["psnr_y"]), ssim=float(data["ssim"]),
        encode_cpu_s=float(data["encode_cpu_s"]), encode_wall_s=float(data["encode_wall_s"]),
        encode_overhead_cpu_s=float(data["encode_overhead_cpu_s"]), decode_cpu_s=float(data["decode_cpu_s"]),
        metric_cpu_s=float(data["metric_cpu_s"]), metric_wall_s=float(data["metric_wall_s"]),
        frames_scored=int(data["frames_scored"]),
        n_subsample=metric.n_subsample, vmaf_model=metric.vmaf_model, encoder_version=encoder_version, cached=cached,
        key=spec.key, per_frame=per_frame,
        param_sets=str(data.get("param_sets") or ""), xpsnr_y=float(data.get("xpsnr_y", "nan")),
        keyint=int(p.keyint), threads=int(p.threads),
    )


def _entry(job: ProbeJob, spec: ProbeSpec, data: Mapping[str, Any], per_frame: Mapping[str, Any],
           encoder_version: str) -> dict[str, Any]:
    p = spec.encode
    return {
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "params": {
            "source": job.source.content_hash, "source_path": job.source.path,
            "start_frame": job.shot.start_frame, "end_frame": job.shot.end_frame,
            "encoder": p.encoder, "encoder_version": encoder_version, "preset": p.preset, "rc_mode": p.rc_mode,
            "value": float(p.value), "width": p.width, "height": p.height, "bit_depth": p.bit_depth,
            "threads": p.threads, "gop": p.gop(),
            "metric": job.metric.key(),
        },
        "result": {**{k: data[k] for k in _RESULT_KEYS}, "param_sets": data.get("param_sets", ""),
                   **({"xpsnr_y": data["xpsnr_y"]} if "xpsnr_y" in data else {})},
        "per_frame": dict(per_frame),
    }


def _from_entry(shot: Shot, spec: ProbeSpec, metric: MetricParams, entry: Mapping[str, Any]) -> ProbeResult | None:
    """A cached result as a row of this run (shot number and preset rank are the run's own)."""
    try:
        return _result(shot, spec, entry["result"], metric,
                       entry.get("params", {}).get("encoder_version", ""), True, entry.get("per_frame"))
    except (KeyError, TypeError, ValueError):
        return None  # an entry from an older layout: measure again


# ---------------------------------------------------------------- the job (runs in a worker)


def run_job(job: ProbeJob) -> list[ProbeResult]:
    """Decode the shot once, then encode + score every point; cache each result as it completes."""
    from . import ffmpeg

    cache = ProbeCache(job.cache_dir) if job.cache_dir else None
    versions = dict(job.encoder_versions)
    shot, info = job.shot, job.source
    ref_size = (info.display_width, info.display_height)
    out: list[ProbeResult] = []
    todo: list[ProbeSpec] = []
    for spec in job.probes:
        entry = cache.get(spec.key) if cache is not None else None
        res = _from_entry(shot, spec, job.metric, entry) if entry else None
        if res is not None:
            out.append(res)  # finished meanwhile (another run or worker)
        else:
            todo.append(spec)
    if not todo:
        return out
    work_dir = temp_dir(job.work_dir)
    with tempfile.TemporaryDirectory(prefix="pershot-probe-", dir=work_dir) as d:
        ex = extract_shot(info, shot.start_frame, shot.end_frame, d, [(job.width, job.height)],
                          bit_depth=job.bit_depth)
        src = ex.scaled[(job.width, job.height)]
        overhead = min(ffmpeg.run(encoders.overhead_args(todo[0].encode, src),
                                  what=f"reading shot {shot.index} at {job.width}x{job.height} failed").cpu_s
                       for _ in range(OVERHEAD_RUNS))
        for i, spec in enumerate(todo):
            p = spec.encode
            enc = encoders.get(p.encoder)
            bitstream = Path(d) / f"enc{i}{enc.ext}"
            r = ffmpeg.run(encoders.encode_args(enc, p, src, bitstream),
                           what=f"{p.encoder} {p.preset} {p.rc_mode} {p.value:g} {p.width}x{p.height} "
                                f"on shot {shot.index} failed")
            size = bitstream.stat().st_size
            param_sets = parameter_sets_key(bitstream.read_bytes(), enc.muxer)
            if size <= 0:
                raise FFmpegError(f"{p.encoder} wrote an empty bitstream for shot {shot.index}", cmd=r.cmd,
                                  stderr=r.stderr)
            sc = score(bitstream, enc.muxer, ex.reference, ref_size, info.fps, shot.frames, job.metric, work_dir=d,
                       bit_depth=job.bit_depth)
            bitstream.unlink()
            data = {"size_bytes": size, **sc.pooled(), "encode_cpu_s": encoder_cpu_s(r.cpu_s, overhead),
                    "encode_wall_s": r.wall_s, "encode_overhead_cpu_s": overhead, "decode_cpu_s": ex.cpu_s,
                    "metric_cpu_s": sc.cpu_s, "metric_wall_s": sc.wall_s,
                    "frames_scored": sc.frames_scored, "param_sets": param_sets}
            version = versions.get(p.encoder, "")
            per_frame = sc.per_frame()
            if cache is not None:
                cache.put(spec.key, _entry(job, spec, data, per_frame, version))
            out.append(_result(shot, spec, data, job.metric, version, False, per_frame))
    return out


# ---------------------------------------------------------------- planning and running


@dataclass(frozen=True)
class Plan:
    """Every probe of a run: cached results, and jobs for the rest."""

    cached: tuple[ProbeResult, ...]
    jobs: tuple[ProbeJob, ...]
    total: int
    sizes: tuple[tuple[int, int], ...]
    #: with ``defer``: the points not cached, left to the caller (no jobs made): (shot, spec)
    deferred: tuple[tuple[Shot, ProbeSpec], ...] = ()


def plan_probes(
    info: SourceInfo,
    shots: Sequence[Shot],
    grid: Grid,
    cache: ProbeCache | None = None,
    work_dir: str | None = None,
    max_probes_per_job: int = MAX_PROBES_PER_JOB,
    defer: bool = False,
) -> Plan:
    """Expand the grid over the shots, look every point up in the cache, group the rest into jobs
    (:func:`jobs_for`); with ``defer``, list the rest in ``Plan.deferred`` instead.

    A job holds the uncached points of one (shot, resolution); a group larger than
    ``max_probes_per_job`` is dealt round-robin into equal jobs (each decodes the shot
    again: a small cost next to its encodes and metrics, for finer progress and
    better load balance).
    """
    from . import ffmpeg

    if not shots:
        raise InputError("no shots to probe")
    for s in shots:
        if not (0 <= s.start_frame < s.end_frame <= info.frame_count):
            raise InputError(f"shot {s.index} frames [{s.start_frame}, {s.end_frame}) outside the source's "
                             f"{info.frame_count} frames")
    ffv = ffmpeg.ffmpeg_info().version
    versions: dict[str, str] = {}
    for e in grid.encoders:
        spec = encoders.get(e.encoder)
        if not ffmpeg.has_encoder(spec.ffmpeg_name):
            raise ConfigError(f"this ffmpeg has no {spec.ffmpeg_name} encoder (needed by grid {grid.name})")
        for b in spec.bsfs:
            if not ffmpeg.has_bsf(b):
                raise ConfigError(f"this ffmpeg has no {b} bitstream filter (needed by {spec.name} in grid {grid.name})")
        if e.bit_depth > 8 and pix_fmt(e.bit_depth) not in ffmpeg.encoder_pix_fmts(spec.ffmpeg_name):
            raise ConfigError(f"this ffmpeg's {spec.ffmpeg_name} cannot encode {e.bit_depth}-bit video (needed by grid "
                              f"{grid.name}); use another with --ffmpeg, or --bit-depth 8")
        versions[e.encoder] = encoders.version(e.encoder)
    if not ffmpeg.has_filter("libvmaf"):
        from .errors import MissingDependencyError

        raise MissingDependencyError("this ffmpeg has no libvmaf filter (needed to score probes)")
    if grid.metric.xpsnr and not ffmpeg.has_filter("xpsnr"):
        raise ConfigError("this ffmpeg has no xpsnr filter (needed to score XPSNR, asked for by --xpsnr, --metric "
                          "xpsnr or the grid's [metrics] xpsnr); use another with --ffmpeg")
    check_scorable(info.display_width, info.display_height, name=os.path.basename(info.path))
    metric = grid.metric.for_display(info.display_width, info.display_height)  # "auto": the model for its size
    ffmpeg.check_vmaf_model(metric.vmaf_model)
    check_source(info, grid.bit_depths)
    colour = encode_colour(info)
    hdr = encode_hdr(info)
    by_count = not frame_index(info.path, info.stream).pts_exact
    cached: list[ProbeResult] = []
    todo: list[tuple[Shot, ProbeSpec]] = []
    total = 0
    all_sizes: set[tuple[int, int]] = set()
    for e in grid.encoders:
        sizes = resolutions_for(info, e.heights)
        all_sizes.update(sizes)
    sizes_sorted = sorted(all_sizes, key=lambda wh: (-wh[1], -wh[0]))
    for shot in shots:
        for (w, h) in sizes_sorted:
            specs: list[ProbeSpec] = []
            for e in grid.encoders:
                esizes = resolutions_for(info, e.heights)
                if (w, h) not in esizes:
                    continue
                for name, preset, params in e.configs():
                    for mode, v in e.rc_points():
                        p = EncodeParams(encoder=e.encoder, preset=preset, rc_mode=mode, value=float(v), width=w,
                                         height=h, fps=info.fps, frames=shot.frames, threads=grid.threads,
                                         keyint=grid.keyint, extra=params, colour=colour, bit_depth=e.bit_depth,
                                         hdr=hdr)
                        encoders.get(e.encoder).check(p)
                        key = probe_key(info, shot, p, metric, versions[e.encoder], ffv, by_count)
                        specs.append(ProbeSpec(key=key, encode=p, preset_rank=e.preset_rank(name),
                                               config=name if name != preset else ""))
            if not specs:
                continue
            total += len(specs)
            for sp in specs:
                entry = cache.get(sp.key) if cache is not None else None
                res = _from_entry(shot, sp, metric, entry) if entry else None
                if res is not None:
                    cached.append(res)
                else:
                    todo.append((shot, sp))
    if defer:
        return Plan(cached=tuple(cached), jobs=(), total=total - len(todo), sizes=tuple(sizes_sorted),
                    deferred=tuple(todo))
    jobs = jobs_for(info, grid, todo, cache, work_dir, max_probes_per_job)
    return Plan(cached=tuple(cached), jobs=jobs, total=total, sizes=tuple(sizes_sorted))


def jobs_for(
    info: SourceInfo,
    grid: Grid,
    points: Sequence[tuple[Shot, ProbeSpec]],
    cache: ProbeCache | None = None,
    work_dir: str | None = None,
    max_probes_per_job: int = MAX_PROBES_PER_JOB,
) -> tuple[ProbeJob, ...]:
    """Jobs measuring ``points`` (of a plan of ``grid``): one per (shot, resolution), in the points' order;
    a group larger than ``max_probes_per_job`` is dealt round-robin into equal jobs; biggest jobs first."""
    versions = tuple(sorted({e.encoder: encoders.version(e.encoder) for e in grid.encoders}.items()))
    metric = grid.metric.for_display(info.display_width, info.display_height)
    cache_dir = str(cache.base) if cache is not None else None
    groups: dict[tuple[int, int, int, int], tuple[Shot, list[ProbeSpec]]] = {}
    for shot, sp in points:
        p = sp.encode
        groups.setdefault((shot.index, p.width, p.height, p.bit_depth), (shot, []))[1].append(sp)
    jobs: list[ProbeJob] = []
    for (_, w, h, depth), (shot, specs) in groups.items():
        n_jobs = -(-len(specs) // max(1, max_probes_per_job))
        for part in range(n_jobs):
            jobs.append(ProbeJob(source=info, shot=shot, width=w, height=h, probes=tuple(specs[part::n_jobs]),
                                 metric=metric, encoder_versions=versions, cache_dir=cache_dir,
                                 work_dir=work_dir, bit_depth=depth))
    # biggest jobs first: better packing on a pool
    jobs.sort(key=lambda j: -(j.shot.frames * j.width * j.height * len(j.probes)))
    return tuple(jobs)


def point_row(shot: Shot, spec: ProbeSpec) -> dict[str, Any]:
    """The identifying columns of probes.csv for a grid point not measured (yet)."""
    p = spec.encode
    return {"shot": shot.index, "start_frame": shot.start_frame, "end_frame": shot.end_frame, "frames": shot.frames,
            "duration_s": shot.duration_s, "encoder": p.encoder, "preset": spec.config or p.preset,
            "preset_rank": spec.preset_rank, "encoder_preset": p.preset, "params": kv_params(p.extra),
            "width": p.width, "height": p.height, "bit_depth": p.bit_depth, "rc_mode": p.rc_mode, "crf": float(p.value),
            "key": spec.key}


def run_plan(
    plan: Plan,
    executor=None,
    cache: ProbeCache | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> list[ProbeResult]:
    """Run a plan's jobs; results (cached ones included) sorted like probes.csv."""
    from .executors import LocalExecutor

    results = list(plan.cached)
    done = len(results)
    if progress is not None:
        progress(done, plan.total)
    if plan.jobs:
        by_key = {s.key: (j, s) for j in plan.jobs for s in j.probes}
        ex = executor if executor is not None else LocalExecutor()
        if isinstance(ex, LocalExecutor):  # remote workers have disks of their own
            try:
                check_job_space(plan.jobs, ex.workers)
            except ResourceError:
                if executor is None:
                    ex.close()
                raise
        try:
            for _, job_results in ex.map(run_job, list(plan.jobs)):
                for r in job_results:
                    # a worker that could not reach the cache folder (remote Dask worker): store it here
                    if cache is not None and not r.cached and r.per_frame is not None and cache.get(r.key) is None:
                        job, spec = by_key[r.key]
                        data = {**{k: getattr(r, k) for k in _RESULT_KEYS}, "param_sets": r.param_sets}
                        cache.put(r.key, _entry(job, spec, data, r.per_frame, r.encoder_version))
                results.extend(job_results)
                done += len(job_results)
                if progress is not None:
                    progress(done, plan.total)
        finally:
            if executor is None:
                ex.close()
    results.sort(key=result_order)
    return results


def result_order(r: ProbeResult) -> tuple:
    """The order of probes.csv: shot, encoder, configuration (fastest first, a variant after its preset),
    resolution (highest first), rate control, CRF."""
    return (r.shot, r.encoder, r.preset_rank, r.preset != r.encoder_preset, r.preset, -r.height, r.rc_mode, r.crf)


def results_to_frame(results: Iterable[ProbeResult]):
    """probes.csv as a pandas DataFrame (columns :data:`PROBE_COLUMNS`)."""
    import pandas as pd

    rows = [r.row() for r in results]
    df = pd.DataFrame(rows, columns=list(PROBE_COLUMNS))
    return df


def write_probes_csv(df, dest: str | os.PathLike) -> None:
    """Write probes.csv atomically."""
    from .atomic import atomic_path

    with atomic_path(dest) as tmp:
        df.to_csv(tmp, index=False, float_format="%.6g")


def probe_shots(
    info: SourceInfo,
    shots: Sequence[Shot],
    grid: "Grid | str | os.PathLike | None" = None,
    executor=None,
    cache: "ProbeCache | str | os.PathLike | bool | None" = True,
    progress: Callable[[int, int], None] | None = None,
    work_dir: str | None = None,
) -> list[ProbeResult]:
    """Probe ``shots`` of a probed source over ``grid``; returns every result."""
    g = load_grid(grid)
    c = open_cache(cache)
    plan = plan_probes(info, shots, g, c, work_dir=work_dir)
    return run_plan(plan, executor=executor, cache=c, progress=progress)


# ``pershot.probe`` is both this module and the public API function ``pershot.probe(path, grid, ...)``:
# importing the submodule rebinds the package attribute to the module, so the module itself is
# made callable (it forwards to :func:`pershot.api.probe`) and both spellings keep working.
class _CallableModule(type(os)):
    def __call__(self, *args: Any, **kwargs: Any):
        from .api import probe as _api_probe

        return _api_probe(*args, **kwargs)


import sys as _sys  # noqa: E402

_sys.modules[__name__].__class__ = _CallableModule
