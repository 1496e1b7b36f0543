"""Exact finish of small ladders: a mixed-integer program over the best candidate points.

The Lagrangian solution (:mod:`pershot.optimize`) sits on hull vertices and the
greedy pass that follows only takes single and paired changes.  With few shots
the discrete problem can still hold a better ladder: one that trades a point
off one shot's hull against another shot's, which no equal-slope solution
reaches (the duality gap is largest when a rung is the sum of only a handful of
shots).  For such problems this module states the whole ladder as a 0/1 program
and solves it with HiGHS (``scipy.optimize.milp``):

* a binary per candidate point of every (rung, shot), exactly one per pair;
* one resolution per rung (unless per-shot resolution): a binary per (rung,
  resolution) that every shot's choice must follow;
* each rate rung within its target, each quality rung at its target, the whole
  ladder's encode CPU within the budget, and the rungs strictly rising in rate
  and quality (in the order of the starting solution);
* the same objective as the Lagrangian stages (the sum of the rate rungs'
  duration-weighted quality, less the quality rungs' rate at their slope), and
  a cut-off that asks for strictly more than the starting solution.

Candidates per (rung, shot, resolution) are the points that fit the rung,
those not dominated in (rate, quality, CPU) first, each group ranked by the
starting solution's Lagrangian score (a dominated point can still be needed to
keep two rungs strictly apart); all of them when the program stays under
``max_vars``, else an equal share of it per group.  With every candidate in,
an "optimal" status is a proof (up to HiGHS's tolerances, tightened by
``SLACK``); with a cut list it is a large-neighbourhood search around the
start.  The node limit (not a wall-clock limit by default) keeps the result
reproducible from run to run.  Anything the program returns is checked against
every constraint in exact arithmetic before it replaces the start, so the
finish can only improve a ladder.
"""
from __future__ import annotations

import math
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

__all__ = ["ExactResult", "refine", "cheapest", "MAX_VARS", "NODE_LIMIT"]

#: largest program (candidate points over all rungs and shots) the finish builds
MAX_VARS = 2_000
#: below this many candidates per (rung, shot, resolution) the finish is skipped
MIN_CANDIDATES = 4
#: branch-and-bound nodes HiGHS may explore (deterministic, unlike a time limit)
NODE_LIMIT = 2_000
#: HiGHS accepts rows violated by up to its MIP feasibility tolerance (1e-6, on rows scaled to about 1):
#: where an answer fails the exact check, the targets and the budget are tightened by SLACK for a second
#: solve; rungs must rise by at least RISE (relative), so that "rising" cannot come back as "equal"
SLACK = 2e-6
RISE = 1e-5
#: safety net for pathological programs (seconds)
TIME_LIMIT_S = 30.0


@dataclass(frozen=True)
class ExactResult:
    """What the finish did: ``status`` is one of ``optimal`` (no better ladder exists among
    the candidates), ``improved`` (a better ladder; ``proven`` when it is the candidates' optimum),
    ``limit`` (stopped at the node or time limit without a better ladder), ``skipped`` or ``failed``."""

    status: str
    choice: np.ndarray | None  # (R, S) the better ladder, or None
    gain: float  # objective gained
    variables: int
    complete: bool  # every non-dominated point was a candidate
    proven: bool = False
    nodes: int = 0
    note: str = ""

    def describe(self) -> str:
        if self.status in ("skipped", "failed"):
            return f"{self.status}: {self.note}" if self.note else self.status
        what = {"optimal": "no better ladder exists", "improved": f"improved by {self.gain:.4g}",
                "limit": "no better ladder within the node limit"}[self.status]
        scope = "every point" if self.complete else "the best candidates"
        extra = f" ({self.note})" if self.note else ""
        return f"{what}; {self.variables} variables over {scope}{extra}"


def _pareto(r: np.ndarray, q: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Indices of the points not dominated in (lower rate, higher quality, lower CPU)."""
    n = r.size
    if n <= 1:
        return np.arange(n)
    le_r = r[None, :] <= r[:, None]
    ge_q = q[None, :] >= q[:, None]
    le_t = t[None, :] <= t[:, None]
    strict = (r[None, :] < r[:, None]) | (q[None, :] > q[:, None]) | (t[None, :] < t[:, None])
    dom = (le_r & ge_q & le_t & strict).any(axis=1)
    # equal points: keep the first
    same = (r[None, :] == r[:, None]) & (q[None, :] == q[:, None]) & (t[None, :] == t[:, None])
    dup = np.tril(same, k=-1).any(axis=1)
    return np.flatnonzero(~dom & ~dup)


def refine(pts, groups, kinds, targets, budget: float, choice: np.ndarray, lam: np.ndarray, mu: float,
           *, per_rung_subsets: bool, eps_r: float, eps_q: float, max_vars: int = MAX_VARS,
           node_limit: int = NODE_LIMIT, time_limit: float = TIME_LIMIT_S, weights=None) -> ExactResult:
    """Try to improve ``choice`` (R, S columns into ``pts``) by solving the ladder exactly.

    ``groups[k]`` lists, for rung ``k``, the allowed points as (S, K) boolean
    masks, one per resolution subset the rung may use (one-resolution rungs:
    one mask per height; otherwise a single mask).  ``kinds[k]`` is "rate" or
    "quality"; ``targets[k]`` the rung's target (kbps or quality); ``lam`` the
    rungs' rate slopes and ``mu`` the complexity multiplier of the start;
    ``weights[k]`` what a unit of rung ``k``'s objective counts (default 1).
    """
    return _run(pts, groups, kinds, targets, budget, choice, lam, mu, per_rung_subsets=per_rung_subsets, eps_r=eps_r,
                eps_q=eps_q, max_vars=max_vars, node_limit=node_limit, time_limit=time_limit, weights=weights)


def cheapest(pts, groups, kinds, targets, order, *, per_rung_subsets: bool, eps_r: float, eps_q: float,
             max_vars: int = MAX_VARS, node_limit: int = NODE_LIMIT, time_limit: float = TIME_LIMIT_S) -> ExactResult:
    """The ladder of least encode CPU that meets every rung's target, keeps one resolution per rung (with
    ``per_rung_subsets``) and rises strictly in rate and quality in rung ``order`` (lowest first); arguments
    as :func:`refine`'s. ``status`` ``optimal`` with ``proven``: no cheaper ladder exists (over every point
    when ``complete``); ``choice`` None when none was found (``limit``: within the node limit; ``optimal``:
    none exists among the candidates)."""
    return _run(pts, groups, kinds, targets, math.inf, None, np.zeros(len(kinds)), 0.0,
                per_rung_subsets=per_rung_subsets, eps_r=eps_r, eps_q=eps_q, max_vars=max_vars,
                node_limit=node_limit, time_limit=time_limit, order=np.asarray(order))


def _run(pts, groups, kinds, targets, budget: float, choice, lam: np.ndarray, mu: float, *, per_rung_subsets: bool,
         eps_r: float, eps_q: float, max_vars: int, node_limit: int, time_limit: float, weights=None,
         order=None) -> ExactResult:
    """:func:`refine` (``choice`` given: the better ladder), or :func:`cheapest` (``choice`` None: the ladder
    of least CPU, rungs rising in ``order``)."""
    try:
        from scipy.optimize import Bounds, LinearConstraint, milp
        from scipy.sparse import csr_matrix
    except ImportError:  # pragma: no cover - scipy is a core dependency
        return ExactResult("skipped", None, 0.0, 0, False, note="scipy.optimize.milp is not available")
    least_cpu = choice is None
    R_, S = len(kinds), pts.shots
    ar = np.arange(S)
    d = pts.duration
    D = float(d.sum())
    valid = pts.valid

    def totals(ch):
        r = (pts.rate[ar, ch] * d).sum(axis=1) / D
        q = (pts.quality[ar, ch] * d).sum(axis=1) / D
        t = pts.cpu[ar, ch].sum(axis=1)
        return r, q, t

    wlam = np.array([max(float(x), 1e-12) for x in lam])
    is_rate = np.array([k == "rate" for k in kinds])
    tg = np.asarray(targets, dtype=float)
    wk = np.ones(R_) if weights is None else np.asarray(weights, dtype=float)

    def value(r, q):
        return float((wk * np.where(is_rate, q, -wlam * r)).sum())

    n_groups = sum(len(g) for g in groups) * S
    if n_groups * MIN_CANDIDATES > max_vars:
        return ExactResult("skipped", None, 0.0, 0, False,
                           note=f"{n_groups} (rung, shot, resolution) groups; the finish handles at most "
                                f"{max_vars // MIN_CANDIDATES}")
    if least_cpu:
        v0 = 0.0
    else:
        r0, q0, t0 = totals(choice)
        v0 = value(r0, q0)
        order = np.argsort(r0, kind="stable")  # the rungs rise in the start's order

    # candidates per (rung, shot, subset): the points that fit, best first
    pools = []  # (k, i, f, ranked columns)
    for k in range(R_):
        for f, m in enumerate(groups[k]):
            m = m & valid
            if not m.any(axis=1).all():
                continue  # some shot has no point in this subset: the rung cannot use it
            rmin_other = None
            if is_rate[k]:
                rmin = np.array([(pts.rate[i, m[i]] * d[i]).min() for i in range(S)])
                rmin_other = rmin.sum() - rmin
            group = []
            for i in range(S):
                cols = np.flatnonzero(m[i])
                if rmin_other is not None:  # the point must fit next to the others' cheapest
                    cols = cols[pts.rate[i, cols] * d[i] <= tg[k] * D * (1 + 1e-9) - rmin_other[i]]
                if cols.size == 0:
                    group = []
                    break
                # non-dominated points first, then dominated ones (which can still be needed to keep
                # the rungs strictly rising), each by the start's Lagrangian score (the cheapest first
                # for the ladder of least CPU)
                front = np.zeros(cols.size, dtype=bool)
                front[_pareto(pts.rate[i, cols], pts.quality[i, cols], pts.cpu[i, cols])] = True
                sc = -pts.cpu[i, cols] if least_cpu else (
                    wk[k] * d[i] * (pts.quality[i, cols] - lam[k] * pts.rate[i, cols]) - mu * pts.cpu[i, cols])
                group.append((k, i, f, cols[np.lexsort((-sc, ~front))]))
            pools.extend(group)
    n_pools = len(pools)  # the groups left once subsets some shot cannot fit are dropped
    if n_pools == 0:
        return ExactResult("skipped", None, 0.0, 0, False, note="no candidate")
    full = sum(p[3].size for p in pools)
    complete = full <= max_vars
    if complete:
        per = None
    else:
        per = max_vars // n_pools
        if per < MIN_CANDIDATES:
            return ExactResult("skipped", None, 0.0, full, False,
                               note=f"{full} candidate points; the finish handles at most {max_vars}")
    K_, I_, F_, C_ = [], [], [], []
    for k, i, f, cols in pools:
        take = cols if per is None else cols[:per]
        if per is not None and not least_cpu and choice[k, i] in cols and choice[k, i] not in take:
            take = np.concatenate([take[:-1], [choice[k, i]]])  # keep the start reachable
        K_.append(np.full(take.size, k))
        I_.append(np.full(take.size, i))
        F_.append(np.full(take.size, f))
        C_.append(take)
    kk, ii, ff, cc = (np.concatenate(a) for a in (K_, I_, F_, C_))
    nx = kk.size
    xr = pts.rate[ii, cc] * d[ii] / D
    xq = pts.quality[ii, cc] * d[ii] / D
    xt = pts.cpu[ii, cc]

    # one resolution per rung: y[k, f] for rungs with several subsets
    ykeys = []
    if per_rung_subsets:
        for k in range(R_):
            fs = sorted(set(ff[kk == k].tolist()))
            if len(groups[k]) > 1:
                ykeys.extend((k, f) for f in fs)
    ycol = {key: nx + j for j, key in enumerate(ykeys)}
    n = nx + len(ykeys)
    key = kk * S + ii
    o = np.argsort(key, kind="stable")
    bounds = np.flatnonzero(np.diff(np.concatenate([[-1], key[o], [R_ * S]])))
    if len(set(key.tolist())) != R_ * S:
        return ExactResult("skipped", None, 0.0, nx, complete, note="a (rung, shot) has no candidate")
    obj = xt if least_cpu else wk[kk] * np.where(is_rate[kk], xq, -wlam[kk] * xr)

    def program(slack: float):
        """The constraint rows, with the targets and the budget tightened by ``slack``."""
        rows, cols_, vals, lo, hi = [], [], [], [], []

        def add(idx, coef, lb, ub):
            rows.append(np.full(len(idx), len(lo)))
            cols_.append(np.asarray(idx))
            vals.append(np.asarray(coef, dtype=float))
            lo.append(lb)
            hi.append(ub)

        # exactly one point per (rung, shot)
        for a, b in zip(bounds[:-1], bounds[1:]):
            add(o[a:b], np.ones(b - a), 1.0, 1.0)
        # rung targets (scaled to about 1)
        for k in range(R_):
            idx = np.flatnonzero(kk == k)
            if is_rate[k]:
                add(idx, xr[idx] / tg[k], -np.inf, 1.0 - slack)
            else:
                sc = max(abs(tg[k]), 1.0)
                add(idx, xq[idx] / sc, tg[k] / sc + slack, np.inf)
        # the CPU budget
        if math.isfinite(budget):
            add(np.arange(nx), xt / budget, -np.inf, 1.0 - slack)
        # one resolution per rung
        for k in range(R_):
            ks = [(kk_, f) for (kk_, f) in ykeys if kk_ == k]
            if not ks:
                continue
            add([ycol[x] for x in ks], np.ones(len(ks)), 1.0, 1.0)
            for (_, f) in ks:
                for i in range(S):
                    idx = np.flatnonzero((kk == k) & (ii == i) & (ff == f))
                    add(np.concatenate([idx, [ycol[(k, f)]]]), np.concatenate([np.ones(idx.size), [-1.0]]),
                        -np.inf, 0.0)
        # strictly rising rungs, in ``order``
        rscale = max(float(pts.rate[valid].max() if least_cpu else np.abs(r0).max()), 1e-12)
        qscale = max(float(np.abs(pts.quality[valid]).max() if least_cpu else np.abs(q0).max()), 1.0)
        for a, b in zip(order[:-1], order[1:]):
            ia, ib = np.flatnonzero(kk == a), np.flatnonzero(kk == b)
            idx = np.concatenate([ib, ia])
            # a margin above HiGHS's tolerance, so that "rising" cannot come back as "equal"
            add(idx, np.concatenate([xr[ib], -xr[ia]]) / rscale, max(2 * eps_r / rscale, RISE), np.inf)
            add(idx, np.concatenate([xq[ib], -xq[ia]]) / qscale, max(2 * eps_q / qscale, RISE), np.inf)
        if not least_cpu:  # the cut-off: strictly better than the start
            vscale = max(abs(v0), 1e-12)
            add(np.arange(nx), obj / vscale, (v0 + max(SLACK * vscale, 1e-9)) / vscale, np.inf)
        A = csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols_))), shape=(len(lo), n))
        return LinearConstraint(A, np.array(lo), np.array(hi))

    def passes(new, r1, q1, t1) -> bool:
        """``new`` meets every constraint, in exact arithmetic."""
        ok = bool(np.all(np.where(is_rate, r1 <= tg * (1 + 1e-9), q1 >= tg - 1e-9 * np.maximum(np.abs(tg), 1.0))))
        ok &= (not math.isfinite(budget)) or float(t1.sum()) <= budget * (1 + 1e-12)
        o1 = np.argsort(r1, kind="stable")
        ok &= bool(np.all(np.diff(r1[o1]) > eps_r) and np.all(np.diff(q1[o1]) > eps_q))
        if least_cpu:  # in the order asked for
            ok &= bool(np.all(np.diff(r1[order]) > 0))
        if per_rung_subsets:
            for k in range(R_):
                if len(groups[k]) > 1:
                    ok &= any(m[ar, new[k]].all() for m in groups[k])
        return ok

    c = np.concatenate([obj if least_cpu else -obj, np.zeros(n - nx)])
    # HiGHS accepts rows violated by up to its feasibility tolerance: the program is first solved as it is
    # (a ladder exactly at a target or at the budget is a ladder), and only where its answer fails the
    # exact check once more with the targets and the budget tightened by SLACK
    for slack in (0.0, SLACK):
        try:
            with _native_stdout_silenced():
                res = milp(c, constraints=program(slack), integrality=np.ones(n), bounds=Bounds(0.0, 1.0),
                           options={"node_limit": int(node_limit), "time_limit": float(time_limit),
                                    "mip_rel_gap": 1e-7, "presolve": True, "disp": False})
        except Exception as ex:  # noqa: BLE001 - the finish is optional: keep the start
            return ExactResult("failed", None, 0.0, nx, complete, note=f"{type(ex).__name__}: {ex}")
        nodes = int(getattr(res, "mip_node_count", 0) or 0)
        if res.x is None:
            if slack:  # the tightened program: no proof about the program as it is
                return ExactResult("limit", None, 0.0, nx, complete, nodes=nodes,
                                   note="the tightened program found nothing that passes the exact check")
            # status 2: infeasible, i.e. nothing beats the start (under the cut-off); no ladder at all
            if res.status == 2:
                return ExactResult("optimal", None, 0.0, nx, complete, proven=True, nodes=nodes)
            return ExactResult("limit", None, 0.0, nx, complete, nodes=nodes,
                               note=str(res.message).split("(")[0].strip())
        x = res.x[:nx]
        new = np.zeros((R_, S), dtype=np.intp) if least_cpu else choice.copy()
        for a, b in zip(bounds[:-1], bounds[1:]):
            g = o[a:b]
            j = g[int(np.argmax(x[g]))]
            new[kk[j], ii[j]] = cc[j]
        r1, q1, t1 = totals(new)
        if passes(new, r1, q1, t1):
            break
    else:
        return ExactResult("failed", None, 0.0, nx, complete, nodes=nodes,
                           note="the program's answer failed the exact check; kept the start")
    proven = res.status == 0 and not slack  # the optimum of the program as it is, not of a tightened one
    if least_cpu:
        return ExactResult("optimal" if proven else "limit", new, float(t1.sum()), nx, complete, proven=proven,
                           nodes=nodes)
    v1 = value(r1, q1)
    if not v1 > v0:
        return ExactResult("optimal" if proven else "limit", None, 0.0, nx, complete, proven=proven, nodes=nodes)
    return ExactResult("improved", new, v1 - v0, nx, complete, proven=proven, nodes=nodes)


@contextmanager
def _native_stdout_silenced():
    """HiGHS can print debug lines straight to file descriptor 1, whatever ``disp`` says (seen:
    ``HighsMipSolverData::transformNewIntegerFeasibleSolution tmpSolver.run();``), into the middle of a
    program's output: point descriptor 1 at the null device while it runs."""
    import os
    import sys

    fd = 1  # where native code writes, whatever Python's sys.stdout is
    try:
        saved = os.dup(fd)
    except OSError:  # descriptor 1 closed: nothing to guard
        yield
        return
    try:
        sys.stdout.flush()
    except (AttributeError, OSError, ValueError):
        pass
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), fd)
        yield
    finally:
        os.dup2(saved, fd)
        os.close(saved)
