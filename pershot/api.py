"""The public Python API: thin functions that chain the pure core stages.

No printing here: progress is reported through optional callbacks so the CLI
(or a notebook) decides how to show it.
"""
from __future__ import annotations

# ---------------------------------------------------------------- core pipeline: probe_source / detect_shots / probe

from typing import TYPE_CHECKING, Any, Callable, NamedTuple, Sequence
import os as _os

if TYPE_CHECKING:  # pragma: no cover
    import pandas

    from .executors import Executor
    from .grid import Grid
    from .media import SourceInfo
    from .shots import Shot


def probe_source(path: "str | _os.PathLike", stream: "int | None" = None) -> "SourceInfo":
    """Facts about a video (PyAV): sizes, rotation, average fps, exact frame count, VFR flag, content hash.

    ``stream``: the index in the file of the video stream to use (default: the one ffmpeg would pick)."""
    from .media import probe_source as _probe_source

    return _probe_source(path, stream)


def detect_shots(path: "str | _os.PathLike | SourceInfo", detector: str = "adaptive", min_shot_s: float = 0.5,
                 max_shot_s: "float | None" = 10.0, threshold: "float | None" = None,
                 progress: "Callable[[int, int], None] | None" = None) -> "list[Shot]":
    """Frame-exact shots covering every frame once (PySceneDetect; long shots split at ``max_shot_s``)."""
    from .shots import detect_shots as _detect

    return _detect(path, detector=detector, min_shot_s=min_shot_s, max_shot_s=max_shot_s, threshold=threshold,
                   progress=progress)


class ProbeRun(NamedTuple):
    """What :func:`run_probes` returns: the source's facts, its shots, and probes.csv as a DataFrame."""

    source: "SourceInfo"
    shots: "list[Shot]"
    probes: "pandas.DataFrame"
    sparse: "Any" = None  #: the :class:`pershot.sparse.SparseRun` of a sparse run (its ladder included)


def _shots_arg(info: "SourceInfo", shots: Any, detector: str, min_shot_s: float, max_shot_s: "float | None",
               threshold: "float | None", progress: "Callable[[int, int], None] | None") -> "list[Shot]":
    from .shots import Shot, detect_shots as _detect, read_shots_csv

    if shots is None:
        return _detect(info, detector=detector, min_shot_s=min_shot_s, max_shot_s=max_shot_s, threshold=threshold,
                       progress=progress)
    if isinstance(shots, (str, _os.PathLike)):
        from .media import frame_times
        from .shots import check_times

        out = read_shots_csv(shots)
        check_times(out, frame_times(info), _os.fspath(shots))
        return out
    out = list(shots)
    if not all(isinstance(s, Shot) for s in out):
        from .errors import InputError

        raise InputError("shots must be Shot objects or the path of a shots.csv")
    return out


def _prepare(path, grid, shots, detector, min_shot_s, max_shot_s, threshold, shot_progress, stream, tonemap, crop,
             bit_depth=None, xpsnr=False, deinterlace=None):
    """(grid, source facts, shots) for a probe run: a bad grid fails before any work, an HDR source
    (without a tone map, with 8-bit encodes) before shot detection. ``bit_depth`` (8 or 10) overrides
    the grid's; ``xpsnr`` turns its XPSNR scoring on."""
    from .grid import load_grid
    from .media import check_sdr, with_crop, with_deinterlace, with_tonemap
    from .media import probe_source as _probe_source

    g = load_grid(grid).with_bit_depth(bit_depth).with_xpsnr(xpsnr)
    info = with_tonemap(_probe_source(path, stream), tonemap)
    check_sdr(info, g.bit_depths)
    info = with_deinterlace(with_crop(info, crop), deinterlace)
    return g, info, _shots_arg(info, shots, detector, min_shot_s, max_shot_s, threshold, shot_progress)


def run_probes(
    path: "str | _os.PathLike",
    grid: "Grid | str | _os.PathLike | None" = None,
    out_dir: "str | _os.PathLike | None" = None,
    *,
    shots: "Sequence[Shot] | str | _os.PathLike | None" = None,
    detector: str = "adaptive",
    min_shot_s: float = 0.5,
    max_shot_s: "float | None" = 10.0,
    threshold: "float | None" = None,
    executor: "Executor | None" = None,
    jobs: "int | None" = None,
    cache: Any = True,
    progress: "Callable[[int, int], None] | None" = None,
    shot_progress: "Callable[[int, int], None] | None" = None,
    work_dir: "str | None" = None,
    stream: "int | None" = None,
    tonemap: "str | None" = None,
    crop: "str | Sequence[int] | None" = None,
    sparse: "Any" = None,
    bit_depth: "int | None" = None,
    xpsnr: bool = False,
    deinterlace: "str | None" = None,
) -> ProbeRun:
    """Probe a source end to end: facts, shots (detected unless given), every grid point of every shot.

    ``grid``: a Grid, a TOML path or a bundled name (default ``default``). ``cache``: True
    (default folder), False/None (no cache), a folder or a ProbeCache. ``executor``: any
    :class:`~pershot.executors.Executor` (default: a process pool of ``jobs`` workers).
    ``progress(done, total)`` is called as probes finish. With ``out_dir``, writes
    ``shots.csv`` (after detection) and ``probes.csv`` (at the end), both atomically.
    ``stream``: the index in the file of the video stream to use (default: the one ffmpeg
    would pick; see :func:`probe_source`). ``tonemap``: a curve (``mobius``, ``hable``...) that maps an HDR
    source to SDR BT.709 before anything is encoded or scored (an HDR source without one is an
    error; an SDR source ignores it). ``crop``: ``"auto"`` cuts black borders found by ffmpeg's
    ``cropdetect``, ``"W:H:X:Y"`` (or four integers) cuts that box of the picture as displayed; the
    probes, their reference and the renditions all see the cut picture. ``bit_depth`` (8 or 10): every
    encode at this depth, whatever the grid says; 10 makes an HDR source's ladder an HDR one.
    ``xpsnr=True``: score XPSNR-Y too (probes.csv ``xpsnr_y``), whatever the grid's ``[metrics]`` say.
    ``deinterlace``: ``"field"`` shows an interlaced source one frame per field (30i as 60p: shots, probes
    and renditions count fields); ``"frame"`` (the default) one frame per frame; a progressive source ignores it.
    ``sparse``: a :class:`pershot.sparse.SparseSpec` (:func:`ladder` with ``sparse=True`` passes one):
    probe a skeleton of the grid, predict the other points and measure only what the ladder chooses
    (:mod:`pershot.sparse`); probes.csv then holds the measured points.
    """
    from pathlib import Path

    from .cache import open_cache
    from .errors import PershotError
    from .executors import LocalExecutor
    from .probe import plan_probes, results_to_frame, run_plan, write_probes_csv
    from .shots import write_shots_csv

    g, info, shot_list = _prepare(path, grid, shots, detector, min_shot_s, max_shot_s, threshold, shot_progress,
                                  stream, tonemap, crop, bit_depth, xpsnr, deinterlace)
    out = Path(out_dir) if out_dir is not None else None
    if out is not None:
        write_shots_csv(shot_list, out / "shots.csv")
    c = open_cache(cache)
    ex = executor if executor is not None else LocalExecutor(jobs)
    sp = None
    try:
        if sparse is not None:
            from .sparse import sparse_ladder

            try:
                sp = sparse_ladder(info, shot_list, g, sparse.optimize, cache=c, executor=ex, progress=progress,
                                   work_dir=work_dir, encoder=sparse.encoder)
            except PershotError as err:  # the optimizer failed: the points measured are still written
                if out is not None and getattr(err, "probes", None) is not None:
                    write_probes_csv(err.probes, out / "probes.csv")
                raise
            df = sp.probes
        else:
            plan = plan_probes(info, shot_list, g, c, work_dir=work_dir)
            df = results_to_frame(run_plan(plan, executor=ex, cache=c, progress=progress))
    finally:
        if executor is None:
            ex.close()
    df.attrs.update({"source": info.path, "grid": g.name, "fps": str(info.fps),
                     "display_width": info.display_width, "display_height": info.display_height})
    if out is not None:
        write_probes_csv(df, out / "probes.csv")
    return ProbeRun(info, shot_list, df, sp)


#: probes.csv columns for the grid's GOP and thread settings, which every encode of a grid shares
ENCODE_SETTINGS = ("keyint", "threads")


def _with_encode_settings(df: "pandas.DataFrame", grid: "Grid") -> "pandas.DataFrame":
    """``df`` with the grid's ``keyint`` and ``threads`` as its columns (after ``bit_depth``)."""
    df = df.drop(columns=[c for c in ENCODE_SETTINGS if c in df.columns])
    at = list(df.columns).index("bit_depth") + 1 if "bit_depth" in df.columns else len(df.columns)
    df.insert(at, "keyint", int(grid.keyint))
    df.insert(at + 1, "threads", int(grid.threads))
    return df


def _encode_settings_of(df: "pandas.DataFrame", grid: Any) -> "tuple[pandas.DataFrame, str | None]":
    """The probes with ``keyint`` and ``threads`` columns where they can be known (every probes.csv since they
    were recorded has them; older ones not, nor hand-made tables) and are not the defaults
    (the table's own, the ``grid``'s, or the probe cache's entry of one of its probes), and a warning where
    they cannot be known."""
    from .errors import OptimizeError, PershotError

    has = all(c in df.columns for c in ENCODE_SETTINGS)
    if grid is not None:
        from .grid import load_grid

        g = load_grid(grid)
        if has:
            for c, want in (("keyint", g.keyint), ("threads", g.threads)):
                got = sorted({int(v) for v in _numeric(df[c]) if v == v})
                if got and got != [int(want)]:
                    raise OptimizeError(f"the probes were made with {c} {', '.join(map(str, got))} and grid "
                                        f"{g.name} has {c} {want}: give the grid the probes were made with")
        return _with_encode_settings(df, g), None
    if has:
        return df, None
    if "key" in df.columns and len(df):
        from .cache import open_cache

        try:
            cache = open_cache(True)
        except (PershotError, OSError):  # no cache folder to read: nothing to recover
            cache = None
        # the cache keeps each encode's GOP (the grid's keyint, or the shot's length without one): a shot as
        # long as the keyint cannot tell them apart, so one shot of another length decides, longest first
        rows = df.assign(_n=df["end_frame"] - df["start_frame"]).drop_duplicates("shot").sort_values(
            "_n", ascending=False) if {"shot", "start_frame", "end_frame"} <= set(df.columns) else df.iloc[:0]
        found = None
        for _, rec in rows.head(64).iterrows() if cache is not None else ():
            try:
                entry = cache.get(str(rec["key"]))
                gop, threads = int(entry["params"]["gop"]), int(entry["params"]["threads"])
                frames = int(rec["_n"])
            except (KeyError, TypeError, ValueError):
                continue
            found = (0 if gop == frames else gop, threads)
            if gop != frames:
                break
        if found is not None:
            keyint, threads = found
            return (df if keyint == 0 and threads == 1 else df.assign(keyint=keyint, threads=threads)), None
    return df, ("the probes do not record the grid's keyint and threads (probes.csv made before pershot recorded "
                "them, or with the defaults), nor does the probe cache hold them: ladder.json's commands use one "
                "GOP per shot and one thread; give the probes' grid (--grid) if it set keyint or threads")


def _numeric(col: Any) -> list:
    import pandas as pd

    return pd.to_numeric(col, errors="coerce").tolist()


def estimate_probes(
    path: "str | _os.PathLike",
    grid: "Grid | str | _os.PathLike | None" = None,
    *,
    shots: "Sequence[Shot] | str | _os.PathLike | None" = None,
    detector: str = "adaptive",
    min_shot_s: float = 0.5,
    max_shot_s: "float | None" = 10.0,
    threshold: "float | None" = None,
    cache: Any = True,
    shot_progress: "Callable[[int, int], None] | None" = None,
    stream: "int | None" = None,
    tonemap: "str | None" = None,
    crop: "str | Sequence[int] | None" = None,
    sparse: bool = False,
    encoder: "str | None" = None,
    bit_depth: "int | None" = None,
    xpsnr: bool = False,
    deinterlace: "str | None" = None,
) -> "ProbeEstimate":
    """What :func:`run_probes` with the same arguments would do, and about how much CPU it would take,
    without running it: shots are detected (unless given), the cache is looked up, and a short
    calibration is probed for real (see :mod:`pershot.estimate`). Writes nothing. ``sparse=True``
    estimates the skeleton a sparse ladder for ``encoder`` measures first (see :mod:`pershot.sparse`)."""
    from .cache import open_cache
    from .estimate import estimate_plan
    from .probe import plan_probes

    g, info, shot_list = _prepare(path, grid, shots, detector, min_shot_s, max_shot_s, threshold, shot_progress,
                                  stream, tonemap, crop, bit_depth, xpsnr, deinterlace)
    c = open_cache(cache)
    if not sparse:
        return estimate_plan(info, plan_probes(info, shot_list, g, c), g)
    from dataclasses import replace

    from .probe import Plan, jobs_for
    from .sparse import skeleton_keys

    start = skeleton_keys(info, shot_list, g, c, encoder=encoder)
    skel = [p for k, p in start.pending.items() if k in start.want]
    plan = Plan(cached=tuple(start.results.values()), jobs=jobs_for(info, g, skel),
                total=len(start.results) + len(start.want), sizes=())
    return replace(estimate_plan(info, plan, g), grid_points=len(start.results) + len(start.pending))


def probe(
    path: "str | _os.PathLike",
    grid: "Grid | str | _os.PathLike | None" = None,
    shots: "Sequence[Shot] | str | _os.PathLike | None" = None,
    executor: "Executor | None" = None,
    cache: Any = True,
    progress: "Callable[[int, int], None] | None" = None,
    **kw: Any,
) -> "pandas.DataFrame":
    """probes.csv as a DataFrame: one row per (shot, encoder, preset, resolution, CRF/QP).

    Keywords as :func:`run_probes` (jobs, detector, min_shot_s, max_shot_s, out_dir...).
    """
    return run_probes(path, grid, shots=shots, executor=executor, cache=cache, progress=progress, **kw).probes


# ---------------------------------------------------------------- optimizer: optimize / ladder

_LADDER_DIR = "ladders"


def load_ladder(ladder: Any = None) -> "LadderSpec":
    """A ladder request from: None (the bundled ``default`` ladder), a bundled name (``default``, ``hls``),
    a TOML path, a rung count (int: rungs spaced along the title's hull), a list of kbps, a mapping or a LadderSpec."""
    from pathlib import Path

    from .errors import ConfigError
    from .ladder import LadderSpec, parse_ladder_toml

    if ladder is None:
        ladder = "default"
    if isinstance(ladder, (str, _os.PathLike)):
        p = Path(ladder)
        if not p.is_file():
            name = ladder[:-5] if isinstance(ladder, str) and ladder.endswith(".toml") else ladder
            bundled = Path(__file__).resolve().parent / "presets" / _LADDER_DIR / f"{name}.toml"
            if isinstance(ladder, str) and _os.sep not in ladder and bundled.is_file():  # streaming, streaming.toml
                p = bundled
            else:
                names = sorted(x.stem for x in bundled.parent.glob("*.toml"))
                raise ConfigError(f"ladder {str(ladder)!r}: no such file or bundled ladder "
                                  f"(bundled: {', '.join(names)})")
        try:
            text = p.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as ex:
            raise ConfigError(f"cannot read ladder {str(p)!r}: {ex}") from None
        return parse_ladder_toml(text, p.stem)
    return LadderSpec.coerce(ladder)


def _rung_count(rungs: Any) -> int:
    """``rungs`` as a positive int (a NumPy integer too); else ConfigError."""
    import numbers

    from .errors import ConfigError

    if isinstance(rungs, bool) or not isinstance(rungs, numbers.Integral) or int(rungs) < 1:
        raise ConfigError(f"rungs must be a positive integer, not {rungs!r}")
    return int(rungs)


def _read_probes(probes: Any) -> "pandas.DataFrame":
    import pandas as pd

    from .errors import InputError

    if isinstance(probes, pd.DataFrame):
        return probes
    if isinstance(probes, (str, _os.PathLike)):
        try:
            return pd.read_csv(probes)
        except FileNotFoundError:
            raise InputError(f"no such probes file: {str(probes)!r}") from None
        except (OSError, ValueError, pd.errors.ParserError, UnicodeDecodeError) as ex:
            raise InputError(f"cannot read probes {str(probes)!r}: {str(ex).splitlines()[0]}") from None
    raise InputError(f"probes must be a DataFrame or the path of a probes.csv, not {type(probes).__name__}")


def optimize(
    probes: Any,
    ladder: Any = None,
    complexity: float = 0.1,
    metric: str = "vmaf",
    *,
    rungs: "int | None" = None,
    encoder: "str | None" = None,
    per_shot_resolution: bool = False,
    peak_ratio: "float | None" = None,
    exact: bool = True,
    objective: str = "area",
    same_parameter_sets: "bool | None" = False,
    grid: "Grid | str | _os.PathLike | None" = None,
) -> "Ladder":
    """Optimize a ladder from probes (a DataFrame as :func:`probe` returns, or a probes.csv path) - no encoding.

    ``ladder``: see :func:`load_ladder` (None: the bundled default ladder);
    ``rungs=N`` instead spaces N rungs along the title's global hull.
    ``complexity`` in (0, 1] caps the whole ladder's encode CPU at that
    fraction of the anchor (every shot at the slowest probed preset).
    ``peak_ratio`` (>= 1) caps every shot's bitrate in a bitrate rung at that
    multiple of the rung's target (default: the ladder's own ``peak_ratio``, else none).
    ``metric``: vmaf, psnr, ssim or xpsnr.  ``exact=False`` skips the mixed-integer
    finish of small problems (:mod:`pershot.exact`).  ``objective``: how the
    rungs share the encode budget, ``"area"`` (the area under the ladder's
    quality-vs-log-bitrate curve, the default) or ``"mean"`` (the rungs'
    mean quality).  ``same_parameter_sets``: each rung's shots share one set of parameter sets
    (HEVC renditions then package as ``hvc1``, which Apple devices need; None: where the probes say
    which encodes share them; see :func:`pershot.ladder.optimize_ladder`).  Raises InfeasibleError
    (naming the smallest feasible complexity) when the budget cannot be met.
    ``grid``: the grid the probes were made with, for its ``keyint`` and ``threads`` (what the ladder's
    encode commands carry); default: probes.csv's ``keyint`` and ``threads`` columns, else the probe
    cache's entries, else one GOP per shot and one thread (with a warning).
    """
    from .errors import ConfigError
    from .ladder import optimize_ladder

    if rungs is not None:
        if ladder is not None:
            raise ConfigError("give a ladder or a rung count, not both")
        ladder = _rung_count(rungs)
    spec = load_ladder(ladder)
    if peak_ratio is not None:
        from dataclasses import replace

        spec = replace(spec, peak_ratio=peak_ratio)  # validated by LadderSpec
    df = _read_probes(probes)
    df, note = _encode_settings_of(df, grid)
    lad = optimize_ladder(df, spec, complexity, metric, encoder=encoder, per_shot_resolution=per_shot_resolution,
                          exact=exact, objective=objective, same_parameter_sets=same_parameter_sets)
    if note is not None:
        from dataclasses import replace

        lad = replace(lad, warnings=(*lad.warnings, note))
    return lad


def write_ladder(ladder: "Ladder", out_dir: "str | _os.PathLike", **kw: Any) -> "dict":
    """Write ladder.json, ladder.csv, summary.csv, hulls.csv and plots/ (see :func:`pershot.report.write_ladder`).
    A ladder from :func:`optimize` knows no video: its ladder.json has no ``source`` (``pershot encode`` then
    needs ``--source``) unless ``source=`` gives one; :func:`ladder` with ``out_dir`` writes it whole."""
    from .report import write_ladder as _write

    return _write(ladder, out_dir, **kw)


def ladder(
    path: "str | _os.PathLike",
    complexity: float = 0.1,
    ladder: Any = None,
    *,
    rungs: "int | None" = None,
    metric: str = "vmaf",
    grid: "Grid | str | _os.PathLike | None" = None,
    out_dir: "str | _os.PathLike | None" = None,
    encoder: "str | None" = None,
    per_shot_resolution: bool = False,
    peak_ratio: "float | None" = None,
    exact: bool = True,
    objective: str = "area",
    plots: bool = True,
    thumbnails: "bool | dict" = False,
    sparse: bool = False,
    same_parameter_sets: "bool | None" = False,
    **probe_kw: Any,
) -> "Ladder":
    """End to end: shots -> probes -> optimized ladder (and, with ``out_dir``, every report).

    ``probe_kw`` go to :func:`run_probes` (shots, detector, min_shot_s,
    max_shot_s, threshold, executor, jobs, cache, progress, shot_progress).
    With ``out_dir``: shots.csv, probes.csv, ladder.json, ladder.csv,
    summary.csv, hulls.csv and plots/*.png, all written atomically.
    ``thumbnails`` (True, or a dict of :func:`pershot.thumbnails.code_thumbnails`
    options: height, target_psnr, complexity, codecs, progress) also codes one
    thumbnail per shot into ``out_dir/thumbnails/``, listed in ladder.json and
    thumbnails.csv.
    ``sparse=True`` measures a skeleton of the grid, predicts the other points and measures only
    those the ladder and its anchor choose, round after round (:mod:`pershot.sparse`): a fraction
    of the probes for a ladder close to the full grid's; every figure the ladder reports is measured.
    """
    from .grid import load_grid

    spec_arg = ladder
    from .ladder import METRICS

    if metric not in METRICS:  # before any work, as prepare() would after the probes
        from .errors import OptimizeError

        raise OptimizeError(f"unknown metric {metric!r}; choose one of {', '.join(METRICS)}")
    # --metric xpsnr scores XPSNR in the probes
    g = load_grid(grid).with_bit_depth(probe_kw.pop("bit_depth", None)).with_xpsnr(
        bool(probe_kw.pop("xpsnr", False)) or metric == "xpsnr")
    from .errors import ConfigError, InfeasibleError, OptimizeError
    from .ladder import _canonical, check_complexity, check_objective

    if rungs is None:
        load_ladder(spec_arg)  # a bad ladder fails before any encode
    elif spec_arg is not None:
        raise ConfigError("give a ladder or a rung count, not both")
    else:
        _rung_count(rungs)
    check_complexity(complexity)  # a bad complexity too
    check_objective(objective)  # and a bad objective
    names = sorted({e.encoder for e in g.encoders})
    if encoder is not None:  # an encoder the grid does not probe: before any probe, not after them all
        same = [n for n in names if _canonical(n) == _canonical(encoder)]
        if not same:
            raise OptimizeError(f"no probes for encoder {encoder!r} (grid {g.name} has: {', '.join(names)})")
        encoder = same[0]
    if peak_ratio is not None:
        from dataclasses import replace

        from .ladder import LadderSpec

        replace(LadderSpec.auto(1), peak_ratio=peak_ratio)  # a bad peak_ratio too
    thumb_opts = (dict(thumbnails) if isinstance(thumbnails, dict) else {}) if thumbnails else None
    if thumb_opts is not None:
        from .thumbnails import candidate_codecs

        candidate_codecs(**thumb_opts)  # bad thumbnail options fail before any encode
    def opt(probes, final=True):  # sparse rounds before the last skip the exact finish
        return optimize(probes, spec_arg, complexity, metric, rungs=rungs, encoder=encoder,
                        per_shot_resolution=per_shot_resolution, peak_ratio=peak_ratio, exact=exact and final,
                        objective=objective, same_parameter_sets=same_parameter_sets, grid=g)

    from .sparse import SparseSpec

    try:
        run = run_probes(path, g, out_dir, sparse=SparseSpec(opt, encoder) if sparse else None, **probe_kw)
    except InfeasibleError as ex:
        if not sparse or getattr(ex, "probes", None) is None:
            raise
        raise InfeasibleError(f"{ex} (sparse probes: over the {len(ex.probes)} points measured"
                              + (", written to probes.csv" if out_dir is not None else "")
                              + "; the full grid may allow less)", min_feasible=ex.min_feasible) from None
    if run.sparse is not None:
        from dataclasses import replace

        sp = run.sparse
        extra = () if len(names) == 1 else (
            f"sparse probes: the grid holds {', '.join(names)}; only {sp.probes['encoder'].iloc[0]}, the ladder's "
            "encoder, was probed" + (" (choose with --encoder)" if encoder is None else ""),)
        extra += () if sp.converged else (
            f"sparse probes: after {sp.rounds} rounds the predictions still drew unmeasured points (the ladder "
            "is optimized over the measured points, as always)",)
        lad = replace(sp.ladder, warnings=(*sp.ladder.warnings, *extra),
                      stats={**sp.ladder.stats, "sparse": {"grid_points": sp.grid_points, "measured": sp.measured,
                                                           "rounds": sp.rounds, "converged": sp.converged}})
    else:
        lad = opt(run.probes)
    from dataclasses import replace

    from .media import source_class

    src, top = run.source, max(g.heights)
    if source_class(src) > top:  # the grid stops below the source: say how to reach its full resolution
        lad = replace(lad, warnings=(*lad.warnings, (
            f"the source is {source_class(src)}p ({src.display_width}x{src.display_height}) and the grid {g.name} "
            f"stops at {top}p: add {source_class(src)} to its heights to probe the full resolution")))
    depth = max(g.bit_depths)
    if src.bit_depth > depth and not src.hdr_transfer:  # (an HDR source is refused at 8 bits, or tone-mapped)
        lad = replace(lad, warnings=(*lad.warnings, (
            f"the source is {src.bit_depth}-bit and the grid {g.name} encodes at {depth} bits: the probes are "
            f"scored against the source reduced to {depth} bits, so what the reduction loses (banding in "
            "gradients) is not measured; bit_depth = 10 in the grid keeps it")))
    if src.hdr_kept and metric in ("vmaf", "ssim"):
        lad = replace(lad, warnings=(*lad.warnings, (
            f"an HDR ({src.hdr_kept}) ladder scored by {metric.upper()}: its model was made for SDR, and on "
            f"{src.hdr_kept} code values it ranks encodes but is not calibrated (--metric psnr compares "
            "the code values themselves)")))
    if out_dir is not None:
        info = run.source
        from .media import deinterlace_mode, encode_colour, encode_hdr, frame_index

        source = {"path": str(info.path), "stream": frame_index(info.path, info.stream).stream_index,
                  "width": info.display_width, "height": info.display_height,
                  "fps": f"{info.fps.numerator}/{info.fps.denominator}", "frames": info.frame_count,
                  "grid": g.name, "shots": len(run.shots), "colour": dict(encode_colour(info)),
                  "interlaced": info.interlaced, "deinterlace": deinterlace_mode(info),
                  "tonemap": info.tonemap or None,
                  "crop": list(info.crop) if info.crop else None,
                  "hdr": info.hdr_kept,
                  "hdr_metadata": hdr.as_dict() if (hdr := encode_hdr(info)) is not None else None}
        thumbs = None
        if thumb_opts is not None:
            from .thumbnails import code_thumbnails

            thumbs = code_thumbnails(info, run.shots, out_dir, **thumb_opts)
        write_ladder(lad, out_dir, plots=plots, fps=info.fps, threads=g.threads, keyint=g.keyint, source=source,
                     thumbnails=thumbs)
    return lad


def encode_renditions(
    ladder: "str | _os.PathLike | dict | Sequence[str | _os.PathLike | dict]",
    out_dir: "str | _os.PathLike",
    *,
    source: "str | _os.PathLike | None" = None,
    rungs: "Sequence[int] | None" = None,
    executor: "Executor | None" = None,
    jobs: "int | None" = None,
    progress: "Callable[[int, int], None] | None" = None,
    audio: "str | int | None" = None,
    crop: "str | Sequence[int] | None" = None,
    tonemap: "str | None" = None,
    deinterlace: "str | None" = None,
    hls: bool = False,
    dash: bool = False,
    cfr: bool = False,
    verify: bool = False,
    verify_progress: "Callable[[int, int], None] | None" = None,
    segment_s: "float | None" = None,
    audio_stream: "int | str | Sequence[int | str] | None" = None,
    subtitles: "int | str | Sequence[int | str] | None" = None,
    subtitle_files: "Sequence[str | _os.PathLike | tuple] | None" = None,
    audio_loudness: "float | None" = None,
) -> list:
    """Run a ladder's encodes and join each rung into one file in ``out_dir`` (see :mod:`pershot.renditions`).

    ``ladder``: a ladder.json path (as :func:`ladder` and :func:`write_ladder` write it) or
    its parsed document. ``source``: the video (default: the path ladder.json records).
    Writes ``rungNN_<class>p.mp4``, named by the resolution class of :mod:`pershot.geometry`
    (MPEG-TS where a rung's resolution changes shot by shot) and ``renditions.csv``; returns the
    :class:`pershot.renditions.Rendition` rows.
    ``audio``: ``"aac"`` or ``"aac:KBPS"`` also writes one audio rendition (``audio_aac128.m4a``),
    cut to the span of the video and starting with it; default: video only. ``audio_stream``: which of
    the source's audio streams (0 = its first, the default; or a language tag such as ``"fra"``), a list of
    those (``["eng", "fra"]``: an audio rendition each, rungs -1, -2...), or ``"all"``; each rendition
    keeps its language tag, and HLS (``LANGUAGE``; one audio group, the first the default) and DASH
    (``lang``; an adaptation set each, the first with Role ``main``) say it. ``crop``/``tonemap``/``deinterlace``:
    as the probes had them (see :func:`run_probes`), for a ladder that does not record them (one
    written by ``pershot optimize``). ``hls``: also package the renditions as HLS in
    ``out_dir/hls/master.m3u8`` (H.264: MPEG-TS segments; HEVC and AV1: fragmented MP4; ladders of one
    resolution per rung). ``dash``: also package them as MPEG-DASH in ``out_dir/dash/manifest.mpd``
    (fragmented-MP4 segments; x264, x265 or SVT-AV1 ladders of one resolution per rung). A VFR
    source's renditions keep its frames' own times, unless ``cfr``: then they are evenly spaced at
    its average rate. ``verify``: score each rung's file against the source, every frame, as the probes
    were scored (:mod:`pershot.verify`); the rows (and renditions.csv) then carry the measured ``vmaf``,
    ``psnr_y``, ``ssim`` and ``worst_shot_vmaf`` beside the ladder's ``ladder_vmaf``, ``ladder_psnr_y``
    and ``ladder_ssim``; ``verify_progress(done, total)`` is called as each rung's check finishes.
    ``segment_s``: the HLS/DASH segment duration aimed at (default 6 s); segments start at key frames, so
    they last at least that long and end at the next shot start (or GOP start, with a grid ``keyint``).
    ``subtitles``: the source's text subtitle streams to carry as WebVTT (``subtitles.vtt``; several:
    ``subtitles_0_eng.vtt``...), in step with the video: ``"all"``, the N-th subtitle stream, the first
    of a language (``"fra"`` or ``"fr"``), or a list of those; ``subtitle_files``: subtitle files to carry
    too (``"film.srt"``, ``"film.srt:fr"`` or ``(path, lang)``; SubRip, WebVTT, ASS..., timed from the
    title's first frame). Their rows are kind ``subtitles`` (rungs -101, -102...); HLS gets a ``SUBTITLES``
    group (segmented WebVTT), DASH a ``text/vtt`` adaptation set each (see :mod:`pershot.subtitles`).
    ``audio_loudness``: normalize each audio rendition to this integrated loudness, in LUFS (-23: EBU R128;
    -24: ATSC A/85), in two passes of ffmpeg's ``loudnorm`` (a linear gain where the true peak, held at
    -2 dBTP, allows it); the rows' ``loudness_lufs`` is what the second pass measured.

    ``ladder`` can also be a list of ladders of one title, one per codec (an x264 ladder beside an
    x265 one, made from the same shots): each is encoded into ``out_dir/<encoder>/`` and, with
    ``hls``, all go into one master playlist (:func:`pershot.renditions.encode_ladders`).
    """
    from .renditions import encode_ladders, encode_renditions as _encode

    kw = dict(source=source, executor=executor, jobs=jobs, progress=progress, audio=audio, crop=crop,
              tonemap=tonemap, deinterlace=deinterlace, hls=hls, dash=dash, cfr=cfr, verify=verify,
              verify_progress=verify_progress, segment_s=segment_s, audio_pick=audio_stream, subtitles=subtitles,
              subtitle_files=subtitle_files, audio_loudness=audio_loudness)
    if isinstance(ladder, (list, tuple)):
        if rungs is not None:
            from .errors import InputError

            raise InputError("several ladders are encoded whole: rungs picks rungs of one ladder")
        return encode_ladders(ladder, out_dir, **kw)
    return _encode(ladder, out_dir, rungs=rungs, **kw)


def compare_ladders(ladders: "Sequence[str | _os.PathLike | dict | Ladder]",
                    names: "Sequence[str] | None" = None) -> "pandas.DataFrame":
    """Ladders of one title side by side (see :mod:`pershot.compare`): the BD-rate of each against the
    first in VMAF, PSNR-Y, SSIM (and XPSNR-Y where scored), its BD-VMAF, and its encode CPU over the
    first's. ``ladders``: ladder.json paths, their parsed documents or :class:`Ladder` objects;
    ``names`` label the rows (default: the paths, or "ladder N")."""
    from .compare import compare_ladders as _compare
    from .renditions import load_ladder_json

    docs, labels = [], []
    for i, x in enumerate(ladders):
        if isinstance(x, (str, _os.PathLike)):
            docs.append(load_ladder_json(x))
            labels.append(_os.fspath(x))
        else:
            docs.append(x)
            labels.append(f"ladder {i + 1}")
    return _compare(docs, list(names) if names is not None else labels)


if TYPE_CHECKING:  # pragma: no cover
    from .estimate import ProbeEstimate
    from .ladder import Ladder, LadderSpec


# ---------------------------------------------------------------- image codecs: code_image / decode_image / image_codecs
# (section owned by the image codecs; torch is imported only when a learned codec codes an image)

def code_image(image: "Any", codec: "str | None" = None, level: "int | None" = None,
               target_bpp: "float | None" = None, target_psnr: "float | None" = None,
               complexity: "float | None" = None, *, progress: "Callable[[int, int], None] | None" = None,
               points: "list | None" = None, codecs: "Sequence[str] | None" = None) -> "Any":
    """Code one image (array or path): a codec at a level, or the choice on the image's RDC hull for a
    target bpp or PSNR under a decode-complexity cap (among ``codecs``, default every usable codec).
    Returns a :class:`pershot.codecs.select.ImageResult`."""
    from .codecs.select import code_image as _code_image

    return _code_image(image, codec=codec, level=level, target_bpp=target_bpp, target_psnr=target_psnr,
                       complexity=complexity, progress=progress, points=points, codecs=codecs)


def decode_image(data: "bytes | str | _os.PathLike", *, isolate: bool = True) -> "Any":
    """Decode a bitstream (bytes or a file) made by any registered image codec; returns ``(image, codec_name)``.

    A learned codec's bitstream is decoded in a child process (``isolate=True``): CompressAI's entropy decoder
    reads past the end of a crafted payload and can kill the process; here that is a CodecError. The child
    imports torch and loads the weights on every call (seconds); ``isolate=False`` decodes in this process,
    for bitstreams from a trusted source (made by this program, for instance)."""
    from .codecs import _reg, codec_for_bitstream, decode_bytes
    from .codecs.imageio import read_bytes
    from .codecs.learned import DECODE_CHILD_ENV, LearnedCodec, decode_isolated

    if isinstance(data, (str, _os.PathLike)):
        data = read_bytes(data, "bitstream")
    data = bytes(data)
    if isolate and _os.environ.get(DECODE_CHILD_ENV) != "1":  # (the child of `pershot decode` is isolated)
        codec = codec_for_bitstream(data)
        if isinstance(codec, LearnedCodec) and _reg.sources.get(codec.name) == "builtin":
            codec.check_bitstream(data)  # a bad header is refused without starting a child
            return decode_isolated(data)
    img, codec = decode_bytes(data)
    return img, codec.name


def image_codecs() -> "list":
    """What every registered image codec is (:class:`pershot.codecs.CodecInfo`), plugins included."""
    from .codecs import list_codecs

    return list_codecs()
