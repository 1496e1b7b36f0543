"""Sparse probing, end to end: measure a skeleton of the grid, predict the rest, optimize, measure what
the ladder and its anchor chose, and repeat until the ladder rests on measured probes only.

The predictions are :mod:`pershot.predict`'s; this module runs the rounds of probes (through the
same plan, cache and executor as a full grid) and the optimizer between them.  Once a round's
ladder and its complexity anchor use measured points only, the final ladder is optimized over the
measured points alone: every figure it reports (hulls and plots included) is a measurement, and
``pershot optimize`` on the probes.csv written reproduces it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, NamedTuple, Sequence

import pandas as pd

from .errors import InfeasibleError, PershotError
from .predict import POINT, predict, skeleton
from .probe import Plan, ProbeResult, jobs_for, plan_probes, point_row, result_order, results_to_frame, run_plan

__all__ = ["SparseRun", "SparseSpec", "refine", "skeleton_keys", "sparse_ladder", "MAX_ROUNDS"]

#: rounds of verification before giving up on predictions (the ladder is then optimized over the
#: measured points alone)
MAX_ROUNDS = 20


@dataclass(frozen=True)
class SparseSpec:
    """What a sparse probe run needs from the ladder it serves."""

    optimize: Callable[[pd.DataFrame, bool], Any]  #: ``optimize(probes, final) -> Ladder`` (see :func:`refine`)
    encoder: str | None = None  #: the ladder's encoder, when the grid has several


@dataclass(frozen=True)
class SparseRun:
    probes: pd.DataFrame  #: the measured probes (what probes.csv holds)
    ladder: Any  #: the final Ladder
    grid_points: int  #: points in the full grid
    measured: int  #: points measured (or found in the cache)
    rounds: int  #: rounds of probes after the skeleton
    converged: bool  #: False when MAX_ROUNDS ran out while predictions still drew unmeasured points


def _point_keys(df: pd.DataFrame) -> pd.Series:
    """One hashable value per row naming its grid point (shot, encoder, mode, configuration, size, CRF)."""
    k = df[POINT].copy()
    k["crf"] = k["crf"].astype(float)
    return pd.Series(list(map(tuple, k.itertuples(index=False, name=None))), index=df.index)


def refine(
    measured: pd.DataFrame,
    todo: pd.DataFrame,
    measure: Callable[[list], pd.DataFrame],
    optimize: Callable[[pd.DataFrame, bool], Any],
    max_rounds: int = MAX_ROUNDS,
    neighbours: bool = True,
) -> tuple[pd.DataFrame, Any, int, bool]:
    """The rounds: predict ``todo`` (grid points with a ``key`` column) from ``measured``, optimize,
    ``measure(keys)`` the predicted points the ladder or its anchor chose (it returns their probe
    rows), until none is chosen.  ``optimize(probes, final)`` builds a ladder (``final`` for the last
    one, over the measured points alone).  With ``neighbours``, each round also measures the CRF
    steps on either side of every chosen point, and the next faster and slower configuration at the
    ladder's chosen resolution and CRF: the two directions in which the ladder trades quality for
    rate and CPU, so that the choice is refined locally on measurements; and once the predictions
    draw nothing new, the final ladder's own neighbourhood is measured too (then the rounds go on
    if that changed anything).  Where measured and predicted points together look infeasible (an
    :class:`InfeasibleError`: a prediction can be off either way), the round falls back to the measured
    points alone, so that an error names the smallest complexity over what was measured.  Returns
    (measured, ladder, rounds, converged); with ``converged`` False the rounds ran out and the ladder is
    the one over the measured points at that time."""
    rounds = 0
    steps = _crf_steps(measured, todo) if neighbours else {}
    configs = _config_steps(measured, todo) if neighbours else {}

    def wanted(lad) -> set:
        on_ladder = set(_point_keys(lad.table))
        chosen = set(on_ladder)
        if lad.anchor_table is not None:
            chosen |= set(_point_keys(lad.anchor_table))
        if neighbours:
            chosen |= {(*k[:-1], c) for k in list(chosen) for c in steps.get(k, ())}
            # POINT: shot, encoder, rc_mode, configuration, width, height, CRF
            chosen |= {(*k[:3], p, *k[4:]) for k in on_ladder for p in configs.get(k[1:4], ())}
        return chosen

    def missing(lad) -> list:  # the keys of the points ``lad`` wants that are not measured yet
        return todo["key"][_point_keys(todo).isin(wanted(lad))].tolist() if len(todo) else []

    while True:
        need = []
        if len(todo):
            pred = predict(measured, todo)
            try:
                need = missing(optimize(pd.concat([measured.assign(predicted=False), pred], ignore_index=True)
                                        if len(pred) else measured, False))
            except InfeasibleError:
                # the predictions make the budget look infeasible (a predicted point can be wrong, either
                # way): fall back to the measured points, whose own ladder (or error) is the answer
                need = []
        final = None
        if not need:
            # the predictions draw nothing new: the ladder over the measured points alone, once the
            # neighbourhood of its own choices is measured too
            final = optimize(measured, True)
            need = missing(final)
            if not need:
                return measured, final, rounds, True
        if rounds >= max_rounds:
            return measured, final if final is not None else optimize(measured, True), rounds, False
        new = measure(need)
        measured = pd.concat([measured, new], ignore_index=True)
        todo = todo[~todo["key"].isin(set(new["key"]))]
        rounds += 1


def _crf_steps(measured: pd.DataFrame, todo: pd.DataFrame) -> dict:
    """For every grid point, the neighbouring CRFs of its configuration and resolution."""
    pts = pd.concat([measured[POINT], todo[POINT]], ignore_index=True) if len(todo) else measured[POINT]
    out = {}
    for key, g in pts.groupby(POINT[:-1], sort=False):
        crfs = sorted(set(g["crf"].astype(float)))
        for i, c in enumerate(crfs):
            out[(*key, c)] = tuple(crfs[j] for j in (i - 1, i + 1) if 0 <= j < len(crfs))
    return out


def _config_steps(measured: pd.DataFrame, todo: pd.DataFrame) -> dict:
    """For every (encoder, rate-control mode, configuration), the next faster and slower configuration
    (by preset rank, then name: a grid variant sits next to its preset)."""
    cols = ["encoder", "rc_mode", "preset", "preset_rank"]
    pts = pd.concat([measured[cols], todo[cols]], ignore_index=True) if len(todo) else measured[cols]
    out = {}
    for (enc, mode), g in pts.drop_duplicates(["encoder", "rc_mode", "preset"]).groupby(["encoder", "rc_mode"],
                                                                                       sort=False):
        names = [str(p) for p in g.sort_values(["preset_rank", "preset"], kind="stable")["preset"]]
        for i, p in enumerate(names):
            out[(enc, mode, p)] = tuple(names[j] for j in (i - 1, i + 1) if 0 <= j < len(names))
    return out


class Start(NamedTuple):
    """Where a sparse run starts."""

    results: dict  #: key -> ProbeResult: the points the cache already holds
    pending: dict  #: key -> (Shot, ProbeSpec): the points not measured
    todo: pd.DataFrame  #: the pending points as rows (probes.csv's identifying columns and ``key``)
    want: set  #: the skeleton's keys still to measure


def skeleton_keys(info, shots: Sequence, grid, cache=None, encoder: str | None = None) -> Start:
    """The starting point of a sparse run: one pass over the grid and the cache.  A ladder is built for one
    encoder, so a grid with several is probed for ``encoder`` only (default: the one the ladder picks, x264
    if present)."""
    from .errors import OptimizeError
    from .ladder import default_encoder

    names = [e.encoder for e in grid.encoders]
    enc = encoder if encoder is not None else default_encoder(names)
    if enc not in names:  # as the full grid's run says it, once its probes are done
        raise OptimizeError(f"no probes for encoder {enc!r} (probes have: {', '.join(sorted(set(names)))})")
    first = plan_probes(info, shots, grid, cache, defer=True)
    results: dict[str, ProbeResult] = {r.key: r for r in first.cached if r.encoder == enc}
    pending = {sp.key: (sh, sp) for sh, sp in first.deferred if sp.encode.encoder == enc}
    todo = pd.DataFrame([point_row(sh, sp) for sh, sp in pending.values()])
    allp = pd.concat([pd.DataFrame([r.row() for r in results.values()]), todo], ignore_index=True)
    want = set(allp.loc[skeleton(allp), "key"]) - set(results)
    return Start(results, pending, todo, want)


def sparse_ladder(
    info,
    shots: Sequence,
    grid,
    optimize: Callable[[pd.DataFrame, bool], Any],
    *,
    cache=None,
    executor=None,
    progress: Callable[[int, int], None] | None = None,
    work_dir: str | None = None,
    max_rounds: int = MAX_ROUNDS,
    encoder: str | None = None,
) -> SparseRun:
    """Probe ``shots`` sparsely and optimize (see :func:`refine` for ``optimize``); only ``encoder``'s
    points when the grid has several (see :func:`skeleton_keys`). A :class:`PershotError` of the optimizer
    is raised with the points measured so far as its ``probes`` (a probes.csv DataFrame)."""
    results, pending, todo, want = skeleton_keys(info, shots, grid, cache, encoder)
    grid_points = len(results) + len(pending)
    count = [len(results), len(results)]  # done, planned

    def measure(keys) -> pd.DataFrame:
        count[1] += len(keys)
        base = count[0]

        def prog(done: int, _total: int) -> None:
            if progress is not None:
                progress(base + done, count[1])

        # the points are pending, so not cached: jobs straight from them, no new pass over the grid
        ks = set(keys)
        jobs = jobs_for(info, grid, [pending.pop(k) for k in [k for k in pending if k in ks]], cache, work_dir)
        got = run_plan(Plan(cached=(), jobs=jobs, total=len(keys), sizes=()), executor=executor, cache=cache,
                       progress=prog)
        for r in got:
            results[r.key] = r
        count[0] = len(results)
        return results_to_frame(got)

    measure(want)
    measured = results_to_frame(sorted(results.values(), key=result_order))
    todo = todo[~todo["key"].isin(set(results))] if len(todo) else todo
    try:
        _, lad, rounds, converged = refine(measured, todo, measure, optimize, max_rounds)
    except PershotError as ex:  # what was measured is kept (the caller writes probes.csv from it)
        ex.probes = results_to_frame(sorted(results.values(), key=result_order))
        raise
    probes = results_to_frame(sorted(results.values(), key=result_order))
    return SparseRun(probes=probes, ladder=lad, grid_points=grid_points, measured=len(results), rounds=rounds,
                     converged=converged)
