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


def probe_source(path: "str | _os.PathLike") -> "SourceInfo":
    """Facts about a video (PyAV): sizes, rotation, average fps, exact frame count, VFR flag, content hash."""
    from .media import probe_source as _probe_source

    return _probe_source(path)


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


def _shots_arg(info: "SourceInfo", shots: Any, detector: str, min_shot_s: float, max_shot_s: "float | None",
               threshold: "float | None", progress: "Callable[[int, int], None] | None") -> "list[Shot]":
    from .shots import Shot, detect_shots as _detect, read_shots_csv

    if shots is None:
        return _detect(info, detector=detector, min_shot_s=min_shot_s, max_shot_s=max_shot_s, threshold=threshold,
                       progress=progress)
    if isinstance(shots, (str, _os.PathLike)):
        return read_shots_csv(shots)
    out = list(shots)
    if not all(isinstance(s, Shot) for s in out):
        from .errors import InputError

        raise InputError("shots must be Shot objects or the path of a shots.csv")
    return out


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
) -> ProbeRun:
    """Probe a source end to end: facts, shots (detected unless given), every grid point of every shot.

    ``grid``: a Grid, a TOML path or a bundled name (default ``default``). ``cache``: True
    (default folder), False/None (no cache), a folder or a ProbeCache. ``executor``: any
    :class:`~pershot.executors.Executor` (default: a process pool of ``jobs`` workers).
    ``progress(done, total)`` is called as probes finish. With ``out_dir``, writes
    ``shots.csv`` (after detection) and ``probes.csv`` (at the end), both atomically.
    """
    from pathlib import Path

    from .cache import open_cache
    from .executors import LocalExecutor
    from .grid import load_grid
    from .media import probe_source as _probe_source
    from .probe import plan_probes, results_to_frame, run_plan, write_probes_csv
    from .shots import write_shots_csv

    g = load_grid(grid)  # a bad grid fails before any work
    info = _probe_source(path)
    shot_list = _shots_arg(info, shots, detector, min_shot_s, max_shot_s, threshold, shot_progress)
    out = Path(out_dir) if out_dir is not None else None
    if out is not None:
        write_shots_csv(shot_list, out / "shots.csv")
    c = open_cache(cache)
    plan = plan_probes(info, shot_list, g, c, work_dir=work_dir)
    ex = executor if executor is not None else LocalExecutor(jobs)
    try:
        results = run_plan(plan, executor=ex, cache=c, progress=progress)
    finally:
        if executor is None:
            ex.close()
    df = results_to_frame(results)
    df.attrs.update({"source": info.path, "grid": g.name, "fps": str(info.fps),
                     "display_width": info.display_width, "display_height": info.display_height})
    if out is not None:
        write_probes_csv(df, out / "probes.csv")
    return ProbeRun(info, shot_list, df)


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
