"""Rate-distortion-complexity allocation across shots and rungs (pure numpy, no I/O).

The problem: for every rung ``k`` of a ladder and every shot ``i`` pick one
probe point ``p`` (resolution, preset, CRF) so that

* a *rate* rung keeps its duration-weighted bitrate ``sum_i d_i r_ip / D``
  within its target and maximises its duration-weighted quality;
* a *quality* rung reaches its target quality at the lowest bitrate;
* the encode CPU of the whole ladder, ``sum_k sum_i t_ip``, stays within a
  budget;
* across rungs, the ladder maximises the sum of the rungs' objectives, each
  times its ``RungTarget.weight`` (1 by default): with weights, rung ``k``'s
  own complexity multiplier is ``mu / w_k``.

Method (Lagrangian relaxation, a rung mix, then a greedy finish):

1. For a complexity multiplier ``mu`` every shot scores its points by
   ``q - mu * t / d`` ("quality net of CPU").  Per shot, only the upper-left
   convex hull of (rate, net quality) can be optimal for some rate slope
   ``lam`` (:func:`pershot.hull.hull_flat`, vectorised over shots).
2. All shots' hull segments are merged by decreasing slope: the equal-slope
   solution for any rate target is a prefix of that list (the title's global
   hull), found with one ``searchsorted`` per rung - exact, no bisection on
   ``lam``.
3. ``mu`` is shared by all rungs (the budget is for the whole ladder) and is
   found by a safeguarded regula falsi on ``log mu`` (small problems: a dense
   sweep of ``mu``).
4. One common ``mu`` can leave CPU unspent at a jump of cpu(mu) (a whole rung
   switching resolution) or starve the top rungs until they stop rising, so
   each rung then picks one of the evaluated solutions (and, on small
   problems, the fixed-preset ladders' rungs): a knapsack DP over CPU that
   keeps the rungs strictly rising.
5. Lagrangian solutions sit on hull vertices and leave rate and CPU unspent; a
   greedy pass takes single (rung, shot) changes - and pairs of changes on
   small problems - that improve the ladder while keeping every constraint
   (rate targets, CPU budget, strictly rising rungs), spending extra rate only
   at least as efficiently as the rung's hull slope.  It only improves its
   start, so the plain Lagrangian is a floor.
6. When nothing evaluated fits the budget, the cheapest ladder (a rate-knapsack
   DP on small problems, then CPU-lowering changes) is the start instead, and
   its CPU is the smallest feasible budget reported otherwise.
7. On small problems (few shots: where the equal-slope solution's duality
   gap is largest) a mixed-integer program over the best candidate points
   finishes the ladder exactly (:mod:`pershot.exact`, HiGHS through scipy);
   its answer is checked against every constraint and kept only when it is
   better, so it too can only improve its start.

"Subsets" restrict the points a rung may use: one resolution per rung (each
rung then picks its best resolution under the shared ``mu``), a maximum
height, or only the slowest preset (the complexity anchor).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any, Sequence

import numpy as np

from .errors import InfeasibleError, OptimizeError
from .hull import hull_flat

__all__ = ["RDCPoints", "RungTarget", "Solution", "solve", "MU_EPS"]

#: relative size of the "zero" complexity multiplier used to break ties toward
#: cheaper encodes when complexity is free
MU_EPS = 1e-9
#: the complexity-multiplier search stops once the Lagrangian ladder's CPU is
#: within this fraction under the budget (the greedy pass spends the rest)
MU_TOL = 2.5e-3
#: ... or once mu is pinned down to this relative width (a jump in cpu(mu))
MU_PIN = 2e-3


@dataclass(frozen=True)
class RDCPoints:
    """Probe points of S shots as padded (S, K) arrays, each row sorted by rate.

    Padding has ``rate = inf``, ``quality = -inf``, ``cpu = inf``, ``height = 0``,
    ``rank = -1``.  ``cpu`` is encode CPU seconds of the whole shot,
    ``duration`` is seconds per shot. ``height`` tells the resolutions apart; a rung's
    ``max_height`` caps ``size_class`` (the p number of :mod:`pershot.geometry`: a portrait
    1080x1920 is 1080p), which defaults to the height itself.
    """

    rate: np.ndarray
    quality: np.ndarray
    cpu: np.ndarray
    height: np.ndarray
    rank: np.ndarray
    duration: np.ndarray
    size_class: np.ndarray | None = None
    #: which points share parameter sets (equal codes; -1 unknown): with ``same_parameter_sets`` each
    #: rung keeps one group, so that its shots can share one MP4 sample entry (HEVC ``hvc1``)
    group: np.ndarray | None = None

    @property
    def p(self) -> np.ndarray:
        """Each point's resolution class, the figure ``max_height`` caps."""
        return self.height if self.size_class is None else self.size_class

    def height_classes(self, heights: np.ndarray, mask: np.ndarray, label: np.ndarray | None = None) -> np.ndarray:
        """The resolution class of each of ``heights``, over the points of ``mask``; with ``label``
        (such as ``group``), of the points whose label is each of ``heights``."""
        lab = self.height if label is None else label
        return np.array([self.p[mask & (lab == h)].max() for h in heights], dtype=int)

    @property
    def valid(self) -> np.ndarray:
        return np.isfinite(self.quality)

    @property
    def shots(self) -> int:
        return int(self.rate.shape[0])

    @classmethod
    def from_lists(cls, rate, quality, cpu=None, duration=None, height=None, rank=None) -> "RDCPoints":
        """Build from ragged per-shot lists (convenient for tests); rows are sorted by rate."""
        S = len(rate)
        K = max(len(r) for r in rate)

        def pad(rows, fill, dtype=float):
            out = np.full((S, K), fill, dtype=dtype)
            for i, row in enumerate(rows):
                out[i, : len(row)] = row
            return out

        r = pad(rate, np.inf)
        q = pad(quality, -np.inf)
        t = pad(cpu if cpu is not None else [np.zeros(len(x)) for x in rate], np.inf)
        h = pad(height if height is not None else [np.zeros(len(x)) for x in rate], 0, int)
        k = pad(rank if rank is not None else [np.zeros(len(x)) for x in rate], -1, int)
        d = np.ones(S) if duration is None else np.asarray(duration, dtype=float)
        order = np.argsort(r, axis=1, kind="stable")
        take = lambda a: np.take_along_axis(a, order, axis=1)  # noqa: E731
        return cls(take(r), take(q), take(t), take(h), take(k), d)


@dataclass(frozen=True)
class RungTarget:
    """One rung for the solver: ``kind`` is "rate" (value in kbps) or "quality" (value in metric units)."""

    kind: str
    value: float
    max_height: int | None = None
    #: the highest bitrate (kbps) any one shot may take in this rung (a peak cap); a shot whose every
    #: point of a subset is above it keeps only its cheapest point there
    max_rate: float | None = None
    #: the lowest quality any one shot may have in this rung (a floor); a shot whose every point of a
    #: subset (under the shot bitrate cap) is below it keeps only its best point there
    min_quality: float | None = None
    #: how much a unit of this rung's objective counts against the other rungs' (quality gained on a
    #: rate rung, quality-equivalent rate saved on a quality rung); see ``pershot.ladder`` for the
    #: area weights it uses by default
    weight: float = 1.0

    def __post_init__(self):
        if self.kind not in ("rate", "quality"):
            raise OptimizeError(f"rung kind must be 'rate' or 'quality', not {self.kind!r}")
        if not math.isfinite(self.value) or (self.kind == "rate" and self.value <= 0):
            raise OptimizeError(f"invalid rung target {self.value!r}")
        if self.max_rate is not None and not (math.isfinite(self.max_rate) and self.max_rate > 0):
            raise OptimizeError(f"invalid shot bitrate cap {self.max_rate!r}")
        if self.min_quality is not None and not math.isfinite(self.min_quality):
            raise OptimizeError(f"invalid shot quality floor {self.min_quality!r}")
        if not (math.isfinite(self.weight) and self.weight > 0):
            raise OptimizeError(f"invalid rung weight {self.weight!r}")


@dataclass(frozen=True)
class Solution:
    """What :func:`solve` found.  Per-rung arrays are in the order of the input rungs."""

    choice: np.ndarray  # (R, S) column of the chosen point in RDCPoints arrays
    rate: np.ndarray  # (R,) duration-weighted kbps
    quality: np.ndarray  # (R,) duration-weighted quality
    cpu: np.ndarray  # (R,) encode CPU seconds of each rung
    height: np.ndarray  # (R,) the rung's resolution when one per rung, else 0
    mu: float
    lam: np.ndarray  # (R,) rate multipliers (slope of the global hull at each rung)
    budget: float
    binding: bool  # the CPU budget constrains the solution
    lagrangian_rate: np.ndarray
    lagrangian_quality: np.ndarray  # before the greedy pass
    lagrangian_cpu: float
    greedy_moves: int
    evaluations: int
    cpu_min: float | None = None  # CPU of the cheapest Lagrangian ladder (when the budget binds)
    exact: str = ""  # what the exact finish (pershot.exact) did, when it ran

    @property
    def total_cpu(self) -> float:
        return float(self.cpu.sum())


# --------------------------------------------------------------------------- subsets


class _Family:
    """Several subsets of the points, stacked as compact rate-sorted (F*S, Kc) arrays."""

    def __init__(self, pts: RDCPoints, masks: Sequence[np.ndarray]):
        S = pts.shots
        self.S = S
        self.F = len(masks)
        valid = pts.valid
        masks = [np.asarray(m, dtype=bool) & valid for m in masks]
        cnt = np.stack([m.sum(axis=1) for m in masks])  # (F, S)
        kc = max(1, int(cnt.max()) if cnt.size else 1)
        FS = self.F * S
        idx = np.full((FS, kc), -1, dtype=np.intp)
        for f, m in enumerate(masks):
            rows, cols = np.nonzero(m)  # row-major: columns ascending = rate ascending
            c = cnt[f]
            pos = np.arange(rows.size) - np.repeat(np.cumsum(c) - c, c)
            idx[f * S + rows, pos] = cols
        self.idx = idx
        self.count = cnt.reshape(-1)
        shot = np.tile(np.arange(S), self.F)
        self.shot = shot
        ok = idx >= 0
        safe = np.where(ok, idx, 0)
        sh = shot[:, None]
        self.r = np.where(ok, pts.rate[sh, safe], np.inf)
        self.q = np.where(ok, pts.quality[sh, safe], -np.inf)
        self.t = np.where(ok, pts.cpu[sh, safe], np.inf)
        self.d = pts.duration[shot]
        self.tau = self.t / self.d[:, None]
        self.ok = ok
        self.empty = (cnt == 0)  # (F, S): subset has no point for that shot

    def rows(self, f: int) -> slice:
        return slice(f * self.S, (f + 1) * self.S)


class _Eval:
    """Global hulls of every subset of a family at one ``mu``."""

    def __init__(self, fam: _Family, mu: float):
        self.fam = fam
        self.mu = mu
        S, F = fam.S, fam.F
        kc = fam.r.shape[1]
        qp = np.where(fam.ok, fam.q - mu * fam.tau, -np.inf)
        rows, cols = hull_flat(fam.r, qp)
        flat = rows * kc + cols
        d = fam.d[rows]
        vr = fam.r.ravel().take(flat) * d
        vq = fam.q.ravel().take(flat) * d
        vt = fam.t.ravel().take(flat)
        vl = qp.ravel().take(flat) * d
        n = rows.size
        first = np.ones(n, dtype=bool)
        first[1:] = rows[1:] != rows[:-1]
        # each row's cheapest hull vertex, and where its vertices start in the flat list
        self.rowstart = np.full(F * S, -1, dtype=np.intp)
        self.rowstart[rows[first]] = np.flatnonzero(first)
        self.vcol = cols
        fb = rows[first] // S
        self.R0 = np.bincount(fb, weights=vr[first], minlength=F)
        self.Q0 = np.bincount(fb, weights=vq[first], minlength=F)
        self.T0 = np.bincount(fb, weights=vt[first], minlength=F)
        self.L0 = np.bincount(fb, weights=vl[first], minlength=F)
        seg = ~first  # vertex i (not a row's first) closes the segment (i-1, i)
        sv = np.flatnonzero(seg)
        dR = vr[sv] - vr[sv - 1]
        dQ = vq[sv] - vq[sv - 1]
        dT = vt[sv] - vt[sv - 1]
        dL = vl[sv] - vl[sv - 1]
        srow = rows[sv]
        with np.errstate(divide="ignore", invalid="ignore"):
            slope = np.where(dR > 0, dL / dR, np.inf)
        # segments are grouped by subset already (row-major, subsets are row
        # blocks); sort each block by decreasing slope, ties by row
        fidx = srow // S
        nseg = np.bincount(fidx, minlength=F)
        self.start = np.concatenate([[0], np.cumsum(nseg)])
        order = np.empty(sv.size, dtype=np.intp)
        for f in range(F):
            a, b = self.start[f], self.start[f + 1]
            order[a:b] = a + np.argsort(-slope[a:b], kind="stable")
        self.seg_row = srow[order]
        self.seg_slope = slope[order]
        self.cR = np.cumsum(dR[order])
        self.cQ = np.cumsum(dQ[order])
        self.cT = np.cumsum(dT[order])
        self.cL = np.cumsum(dL[order])

    def _cum(self, arr: np.ndarray, f: int, n: int) -> float:
        a = self.start[f]
        if n <= 0:
            return 0.0
        return float(arr[a + n - 1] - (arr[a - 1] if a > 0 else 0.0))

    def rung(self, f: int, kind: str, target_total: float):
        """Prefix length and totals for one rung in subset ``f``; None when out of reach."""
        if self.fam.empty[f].any():
            return None
        a, b = self.start[f], self.start[f + 1]
        off_R = self.cR[a - 1] if a > 0 else 0.0
        if kind == "rate":
            room = target_total - self.R0[f]
            tol = 1e-9 * max(abs(target_total), 1.0)
            if room < -tol:
                return None
            n = int(np.searchsorted(self.cR[a:b] - off_R, room + tol, side="right"))
        else:
            need = target_total - self.Q0[f]
            tol = 1e-9 * max(abs(target_total), 1.0)
            if need <= tol:
                n = 0
            else:
                off_Q = self.cQ[a - 1] if a > 0 else 0.0
                hit = np.flatnonzero(self.cQ[a:b] - off_Q >= need - tol)
                if hit.size == 0:
                    return None
                n = int(hit[0]) + 1
        R = self.R0[f] + self._cum(self.cR, f, n)
        Q = self.Q0[f] + self._cum(self.cQ, f, n)
        T = self.T0[f] + self._cum(self.cT, f, n)
        L = self.L0[f] + self._cum(self.cL, f, n)
        lam = float(self.seg_slope[a + n]) if a + n < b else 0.0
        if kind == "quality" and n > 0:
            lam = float(self.seg_slope[a + n - 1])
        return n, R, Q, T, L, lam

    def choice(self, f: int, n: int) -> np.ndarray:
        """Column (into RDCPoints arrays) of every shot's point for prefix ``n`` of subset ``f``."""
        fam = self.fam
        S = fam.S
        a = self.start[f]
        steps = np.bincount(self.seg_row[a:a + n] - f * S, minlength=S)
        r = np.arange(S) + f * S
        vcol = self.vcol[self.rowstart[r] + steps]
        return fam.idx[r, vcol]


# --------------------------------------------------------------------------- solver


@dataclass
class _RungPlan:
    target: RungTarget
    subsets: list  # family indices the rung may use


def _plan(pts: RDCPoints, rungs: Sequence[RungTarget], per_shot_resolution: bool,
          preset_mask: np.ndarray | None, same_group: bool = False):
    """Subset masks and, per rung, which subsets it may choose from. ``same_group``: each subset holds
    one group of ``pts.group`` as well (one set of parameter sets per rung)."""
    valid = pts.valid if preset_mask is None else (pts.valid & preset_mask)
    if same_group:
        if pts.group is None or (pts.group[valid] < 0).any():
            raise OptimizeError("one set of parameter sets per rung needs the probes' param_sets, which probes "
                                "made before pershot recorded them lack: probe again without the cache (--no-cache)")
        groups = [int(g) for g in np.unique(pts.group[valid])]
    heights = np.unique(pts.height[valid])
    heights = heights[heights > 0] if (heights > 0).any() else heights
    classes = pts.height_classes(heights, valid)
    masks: list[np.ndarray] = []
    keys: dict = {}

    def subset(key, make):
        if key not in keys:
            keys[key] = len(masks)
            masks.append(make())
        return keys[key]

    def capped(m: np.ndarray, max_rate: float | None) -> np.ndarray:
        """Points of ``m`` at or under the shot bitrate cap; a shot with none keeps its cheapest point."""
        if max_rate is None:
            return m
        out = m & (pts.rate <= max_rate)
        over = m.any(axis=1) & ~out.any(axis=1)
        if over.any():
            rows = np.flatnonzero(over)
            out[rows, np.argmax(m[rows], axis=1)] = True  # rows are rate-sorted: the first is the cheapest
        return out

    def floored(m: np.ndarray, min_quality: float | None) -> np.ndarray:
        """Points of ``m`` at or above the shot quality floor; a shot with none keeps its best point."""
        if min_quality is None:
            return m
        with np.errstate(invalid="ignore"):
            out = m & (pts.quality >= min_quality)
        under = m.any(axis=1) & ~out.any(axis=1)
        if under.any():
            rows = np.flatnonzero(under)
            q = np.where(m[rows], pts.quality[rows], -np.inf)
            out[rows, np.argmax(q, axis=1)] = True
        return out

    def limited(m: np.ndarray, rt: RungTarget) -> np.ndarray:
        """``m`` under the rung's shot bitrate cap first (a delivery limit), then its quality floor."""
        return floored(capped(m, rt.max_rate), rt.min_quality)

    def reaching(cands: list, rt: RungTarget) -> list:
        """The candidate subsets ``(key, base mask maker)`` in which every shot can reach the rung's
        quality floor (under its bitrate cap), where there are any: else all of them (each shot short
        of the floor then gets its best point)."""
        if rt.min_quality is None or len(cands) < 2:
            return cands
        full = []
        for _, base in cands:
            m = base()
            with np.errstate(invalid="ignore"):
                full.append(bool(((capped(m, rt.max_rate) & (pts.quality >= rt.min_quality)).any(axis=1)
                                  | ~m.any(axis=1)).all()))
        return [c for c, ok in zip(cands, full) if ok] or cands

    plans = []
    for rt in rungs:
        cap = rt.max_height if rt.max_height else None
        lim = (rt.max_rate, rt.min_quality)
        # candidate subsets: (key, maker of the base mask), made only when a key is new (or a floor asks)
        if same_group:  # parameter sets name the picture size: a group is one resolution too
            cands = [(("g", g, cap, lim),
                      lambda g=g: valid & (pts.group == g) & (True if cap is None else pts.p <= cap)) for g in groups]
        elif per_shot_resolution or heights.size == 0:
            cands = [(("cap", cap, lim), lambda: valid if cap is None else valid & (pts.p <= cap))]
        else:
            cands = [(("h", int(h), lim), lambda h=h: valid & (pts.height == h))
                     for h, p in zip(heights, classes) if cap is None or p <= cap]
        plans.append(_RungPlan(rt, [subset(key, lambda base=base: limited(base(), rt))
                                    for key, base in reaching(cands, rt)]))
    return masks, plans


def _pick(ev: _Eval, plans: list[_RungPlan], D: float):
    """Best subset per rung at this mu: (f, n, R, Q, T, L, lam) or None per rung."""
    out = []
    for p in plans:
        tgt = p.target.value * D
        cands = []
        for f in p.subsets:
            res = ev.rung(f, p.target.kind, tgt)
            if res is not None:
                cands.append((f, *res))
        if not cands:
            out.append(None)
            continue
        w = p.target.weight
        if p.target.kind == "rate":
            # c[5] is quality net of CPU at this mu: c[3] - mu * c[4]
            best = max(cands, key=lambda c: (c[5] + (w - 1.0) * c[3], -c[4], -c[0]))
        else:
            lams = [c[6] for c in cands if c[6] > 0]
            lam = float(np.median(lams)) if lams else 0.0
            if lam > 0:
                best = min(cands, key=lambda c: (w * lam * c[2] + ev.mu * c[4], c[0]))
            else:
                best = min(cands, key=lambda c: (c[2], c[4], c[0]))
        out.append(best)
    return out


def _mu_scale(pts: RDCPoints) -> float:
    v = pts.valid
    q = pts.quality[v]
    tau = (pts.cpu / pts.duration[:, None])[v]
    qspan = float(np.ptp(q)) if q.size else 1.0
    tpos = tau[tau > 0]
    tmed = float(np.median(tpos)) if tpos.size else 1.0
    return max(qspan, 1e-12) / max(tmed, 1e-300)


def solve(
    pts: RDCPoints,
    rungs: Sequence[RungTarget],
    *,
    cpu_budget: float | None = None,
    per_shot_resolution: bool = False,
    preset_mask: np.ndarray | None = None,
    greedy: bool = True,
    mu: float | None = None,
    max_greedy_moves: int | None = None,
    candidates_per_shot: int = 24,
    cache: dict | None = None,
    exact: bool = True,
    same_group: bool = False,
) -> Solution:
    """Solve a ladder: one point per (rung, shot) under rate/quality targets and a CPU budget.

    ``cpu_budget`` (seconds, whole ladder) ``None`` means unlimited.  ``mu``
    fixes the complexity multiplier instead of searching it.  ``preset_mask``
    restricts the usable points (e.g. to the slowest preset for the anchor).
    ``greedy=False`` returns the plain Lagrangian solution (the floor).
    ``cache``: a dict reused across calls on the same points and rungs (the
    subsets and the complexity-free evaluation are computed once).
    ``exact``: finish small problems with the mixed-integer program of
    :mod:`pershot.exact` (only with ``greedy``; it can only improve the ladder).
    ``same_group``: every rung keeps one group of ``pts.group`` (points whose encodes share parameter
    sets), as it keeps one resolution by default.
    Raises :class:`InfeasibleError` when a rung cannot be met with any point or
    the budget is below the cheapest ladder found; its ``min_feasible`` is then
    that ladder's CPU in seconds.
    """
    if not rungs:
        raise OptimizeError("no rungs to solve")
    S = pts.shots
    if S == 0:
        raise OptimizeError("no shots")
    D = float(pts.duration.sum())
    key = (tuple(rungs), bool(per_shot_resolution), None if preset_mask is None else id(preset_mask),
           bool(same_group))
    if cache is not None and cache.get("key") == key:
        plans, fam, scale, first = cache["plans"], cache["fam"], cache["scale"], cache["mu0"]
    else:
        masks, plans = _plan(pts, rungs, per_shot_resolution, preset_mask, same_group)
        fam = _Family(pts, masks)
        scale = _mu_scale(pts)
        first = None
    if same_group:  # parameter sets name the picture size: every rung has one resolution
        per_shot_resolution = False
    mu0 = MU_EPS * scale
    budget = math.inf if cpu_budget is None else float(cpu_budget)
    small = fam.r.size <= SMALL_PROBLEM
    evals = 0
    history: list = []  # (ev, picks) of every evaluated mu with all rungs in reach

    def at(m):
        nonlocal evals
        evals += 1
        ev = _Eval(fam, m)
        picks = _pick(ev, plans, D)
        if all(p is not None for p in picks):
            history.append((ev, picks))
        return ev, picks

    def total(picks):
        return float(sum(p[4] for p in picks))

    def finish(sol_choice, sol_mu, sol_lam, sub_f, binding, cmin):
        return _finish(pts, fam, plans, sol_choice, sol_mu, sol_lam, sub_f, budget, D, per_shot_resolution,
                       binding, greedy, max_greedy_moves, candidates_per_shot, evals, cmin)

    def from_mix(mix, binding, cmin):
        lam = np.array([c[6] for _, c in mix])
        choice = np.stack([e.choice(c[0], c[1]) for e, c in mix])
        m = max(e.mu for e, _ in mix)
        sub_f = [c[0] if e.fam is fam else _subset_of(fam, plans[k], choice[k]) for k, (e, c) in enumerate(mix)]
        return finish(choice, m, lam, sub_f, binding, cmin)

    if mu is not None:
        ev, picks = at(mu)
        _check(picks, rungs)
        return from_mix([(ev, c) for c in picks], False, None)

    if first is not None:
        ev0, picks0 = first
        history.append(first)
    else:
        ev0, picks0 = at(mu0)
        _check(picks0, rungs)
        if cache is not None:
            cache.update(key=key, plans=plans, fam=fam, scale=scale, mu0=(ev0, picks0))
    qs = max(float(np.abs(pts.quality[pts.valid]).max()), 1.0)
    eps_q, eps_r = 1e-9 * qs, 1e-9 * max(c[2] for c in picks0)
    binding = total(picks0) > budget * (1 + 1e-12)
    if not binding and (not small or not math.isfinite(budget)):
        sol = from_mix([(ev0, c) for c in picks0], False, None)
        if greedy and exact and _sol_rising(sol, eps_r, eps_q):
            sol = _exact_finish(pts, fam, plans, sol, budget, D, per_shot_resolution, eps_r, eps_q)
        return sol

    cmin = None
    ev_hi, picks_hi = ev0, picks0
    if binding:
        mu_max = scale * 1e7
        for _ in range(8):  # quality rungs may be out of reach when CPU is all that counts
            ev_max, picks_max = at(mu_max)
            if all(p is not None for p in picks_max):
                break
            mu_max /= 100.0
        _check(picks_max, rungs)
        cmin = total(picks_max)
        ev_hi, picks_hi = ev_max, picks_max
    if small:
        # cheap to evaluate: sweep mu over the whole useful range (4 per decade)
        for m in scale * np.logspace(-7, 4, 45):
            at(float(m))
    elif binding and cmin <= budget:
        ev_hi, picks_hi = _search_mu(at, total, budget, mu0, mu_max, scale, picks0, ev_max, picks_max, cmin)
    order = list(np.argsort([c[2] for c in picks0], kind="stable"))
    cands: list[Solution] = []
    # the best common-mu solution within the budget, then the best per-rung mix
    fits = [(e, p) for e, p in history if total(p) <= budget * (1 + 1e-12)]
    if fits:
        best = max(fits, key=lambda ep: _value(plans, ep[1], [c[6] for c in ep[1]]))
        if not greedy:  # the plain Lagrangian keeps one common mu
            sol = from_mix([(best[0], c) for c in best[1]], binding, cmin)
        else:
            if not _rising(best[1], order, eps_r, eps_q) and not small and binding:
                # one common mu starves some rung: offer the rung mix a wider range of mu
                for f in (1 / 30, 1 / 10, 1 / 3, 3.0):
                    at(best[0].mu * f)
            if not small and binding:
                # weighted rungs: rung k's own Lagrangian is quality - (mu / w_k) * CPU (weights to
                # two significant digits: one evaluation per distinct weight, not per rung)
                for w in sorted({float(f"{p.target.weight:.2g}") for p in plans} - {1.0}):
                    at(best[0].mu / w)
            opts = _options(history, len(plans))
            if small and preset_mask is None:
                _preset_options(opts, pts, rungs, per_shot_resolution, D, same_group)
            fb = [_opt(best[0], c) for c in best[1]]
            mix = _mix_rungs(opts, plans, budget, fb, order, eps_r, eps_q)
            choice = np.stack([o[7] for o in mix])
            sub_f = [_subset_of(fam, plans[k], choice[k]) for k in range(len(plans))]
            sol = finish(choice, best[0].mu, np.array([o[6] for o in mix]), sub_f, binding, cmin)
        if sol.total_cpu <= budget * (1 + 1e-9):
            cands.append(sol)
    if not cands or (greedy and not _sol_rising(cands[0], eps_r, eps_q)):
        # Nothing evaluated fits, or it does not rise: start from the cheapest ladder
        # instead.  On small problems a knapsack DP finds (nearly) the cheapest ladder;
        # single and paired changes lower its CPU further; the greedy pass then
        # spends the budget while keeping the rungs rising.
        lam_hi = np.array([c[6] for c in picks_hi])
        ch = np.stack([ev_hi.choice(c[0], c[1]) for c in picks_hi])
        sub_f = [c[0] for c in picks_hi]
        if small:
            dp = _min_cpu_dp(pts, fam, plans, D)
            if dp is not None:
                for k, (ck, fk) in enumerate(dp):
                    if ck is not None and pts.cpu[np.arange(S), ck].sum() < pts.cpu[np.arange(S), ch[k]].sum():
                        ch[k], sub_f[k] = ck, fk
        ch, _ = _greedy(pts, fam, ev_hi.mu, plans, sub_f, ch, lam_hi, math.inf, D, m_cand=candidates_per_shot,
                        mode="cpu")
        c_desc = float(_totals(pts, ch, D)[2].sum())
        cmin = c_desc if cmin is None else min(cmin, c_desc)
        if c_desc <= budget * (1 + 1e-12):
            cands.append(finish(ch, ev_hi.mu, lam_hi, sub_f, binding, cmin))
        if small and greedy:
            # the rungs chosen one by one need not rise, nor is the descent's ladder the cheapest: the
            # mixed-integer program finds the rising ladder of least CPU (a proof of the minimum where
            # every point was a candidate)
            cheap, proof = _cheapest(pts, fam, plans, order, per_shot_resolution, eps_r, eps_q)
            if cheap is not None:
                c_x = float(_totals(pts, cheap, D)[2].sum())
                cmin = c_x if proof else min(cmin, c_x)
                if c_x <= budget * (1 + 1e-12):
                    cands.append(finish(cheap, ev_hi.mu, lam_hi, [_subset_of(fam, plans[k], cheap[k])
                                                                  for k in range(len(plans))], binding, cmin))
                elif proof and not any(_sol_rising(c, eps_r, eps_q) for c in cands):
                    raise InfeasibleError(f"CPU budget {budget:.4g} s is below the cheapest strictly rising "
                                          f"ladder's {c_x:.4g} s", min_feasible=c_x)
        if not cands:
            raise InfeasibleError(f"CPU budget {budget:.4g} s is below the cheapest ladder's {cmin:.4g} s",
                                  min_feasible=cmin)
    # prefer a strictly rising ladder, then the better objective
    sol = max(cands, key=lambda sl: (_sol_rising(sl, eps_r, eps_q), _sol_value(plans, sl)))
    if greedy and exact and _sol_rising(sol, eps_r, eps_q):
        sol = _exact_finish(pts, fam, plans, sol, budget, D, per_shot_resolution, eps_r, eps_q)
    return sol


def _exact_groups(pts: RDCPoints, fam: "_Family", plans) -> list:
    """The points each rung may use, as :mod:`pershot.exact` takes them: per rung, an (S, K) mask per subset."""
    S = pts.shots
    masks = {}
    for p in plans:
        for f in p.subsets:
            if f not in masks:
                m = np.zeros(pts.rate.shape, dtype=bool)
                rows = np.repeat(np.arange(S), fam.count[fam.rows(f)])
                cols = fam.idx[fam.rows(f)][fam.ok[fam.rows(f)]]
                m[rows, cols] = True
                masks[f] = m
    return [[masks[f] for f in p.subsets] for p in plans]


def _cheapest(pts, fam, plans, order, per_shot_resolution, eps_r, eps_q) -> tuple[np.ndarray | None, bool]:
    """(the rising ladder of least CPU, rungs rising in ``order``, by :func:`pershot.exact.cheapest`, or None
    when the program finds none; whether it is proven the least over every point)."""
    from . import exact as _exact

    res = _exact.cheapest(pts, _exact_groups(pts, fam, plans), [p.target.kind for p in plans],
                          [p.target.value for p in plans], order, per_rung_subsets=not per_shot_resolution,
                          eps_r=eps_r, eps_q=eps_q)
    return res.choice, bool(res.proven and res.complete)


def _exact_finish(pts, fam, plans, sol: Solution, budget, D, per_shot_resolution, eps_r, eps_q) -> Solution:
    """Step 7: the mixed-integer finish of :mod:`pershot.exact` on small problems."""
    from . import exact as _exact

    res = _exact.refine(pts, _exact_groups(pts, fam, plans), [p.target.kind for p in plans],
                        [p.target.value for p in plans], budget, sol.choice, sol.lam, sol.mu,
                        per_rung_subsets=not per_shot_resolution, eps_r=eps_r, eps_q=eps_q,
                        weights=[p.target.weight for p in plans])
    if res.choice is None:
        return replace(sol, exact=res.describe())
    rate, quality, cpu = _totals(pts, res.choice, D)
    height = _rung_heights(pts, res.choice, per_shot_resolution)
    return replace(sol, choice=res.choice, rate=rate, quality=quality, cpu=cpu, height=height,
                   exact=res.describe())


def _sol_rising(sol: Solution, eps_r: float, eps_q: float) -> bool:
    o = np.argsort(sol.rate, kind="stable")
    return bool(np.all(np.diff(sol.rate[o]) > eps_r / 10) and np.all(np.diff(sol.quality[o]) > eps_q / 10))


def _sol_value(plans, sol: Solution) -> float:
    return float(sum(p.target.weight * (sol.quality[k] if p.target.kind == "rate"
                                        else -max(sol.lam[k], 1e-12) * sol.rate[k])
                     for k, p in enumerate(plans)))


def _opt(ev: "_Eval", c) -> tuple:
    """A rung option for the mix: the pick tuple plus every shot's chosen column."""
    return (*c, ev.choice(c[0], c[1]))


def _options(history, n_rungs: int) -> list[list]:
    opts: list[list] = []
    for k in range(n_rungs):
        seen: dict = {}
        for ev, picks in history:
            c = picks[k]
            key = (round(c[2], 9), round(c[3], 9), round(c[4], 9))
            if key not in seen:
                seen[key] = _opt(ev, c)
        opts.append(list(seen.values()))
    return opts


def _preset_options(opts, pts, rungs, per_shot_resolution, D, same_group=False) -> None:
    """Add, per rung, the ladder with every shot at one preset (for each preset) to the rung options.

    On few shots the all-presets Lagrangian can land on a hull vertex worse
    than a single preset's ladder (a duality gap); those fixed-preset ladders
    are exactly what pershot must never lose to, so they join the rung mix.
    """
    for r in np.unique(pts.rank[pts.valid]):
        try:
            sol = solve(pts, rungs, per_shot_resolution=per_shot_resolution, preset_mask=pts.rank == r,
                        exact=False, same_group=same_group)
        except InfeasibleError:
            continue
        for k in range(len(rungs)):
            opts[k].append((None, None, sol.rate[k] * D, sol.quality[k] * D, sol.cpu[k], None, sol.lam[k],
                            sol.choice[k]))


#: families up to this many (subset x shot x point) cells are "small": the
#: complexity multiplier is then swept densely instead of searched
SMALL_PROBLEM = 40_000


def _min_cpu_dp(pts: RDCPoints, fam: _Family, plans, D: float, bins: int = 4096):
    """Per rate rung, the cheapest-CPU choice within its rate target: a knapsack DP over rate bins.

    Rates are rounded up to the bin, so the result always meets the target
    (and is optimal up to one bin of rate).  Returns, per rung, (choice, subset)
    or (None, None) for quality rungs; None when the problem is too large.
    """
    S = pts.shots
    if fam.r.size * bins > 2e8:
        return None
    out = []
    for p in plans:
        if p.target.kind != "rate":
            out.append((None, None))
            continue
        cap = p.target.value * D
        unit = cap / bins
        best = (math.inf, None, None)
        for f in p.subsets:
            if fam.empty[f].any():
                continue
            rs = fam.rows(f)
            idx, r, t, dd = fam.idx[rs], fam.r[rs], fam.t[rs], fam.d[rs]
            dp = np.zeros(bins + 1)
            arg = np.zeros((S, bins + 1), dtype=np.intp)
            for i in range(S):
                new = np.full(bins + 1, np.inf)
                for j in np.flatnonzero(idx[i] >= 0):
                    w = int(math.ceil(r[i, j] * dd[i] / unit - 1e-9))
                    if w > bins:
                        continue
                    cand = np.full(bins + 1, np.inf)
                    cand[w:] = dp[: bins + 1 - w] + t[i, j]
                    better = cand < new
                    new[better] = cand[better]
                    arg[i, better] = j
                dp = new
            if dp[bins] < best[0]:
                # walk back
                b = bins
                cols = np.empty(S, dtype=np.intp)
                for i in range(S - 1, -1, -1):
                    j = arg[i, b]
                    cols[i] = idx[i, j]
                    b -= int(math.ceil(r[i, j] * dd[i] / unit - 1e-9))
                best = (dp[bins], cols, f)
        out.append((best[1], best[2]))
    return out


def _subset_of(fam: "_Family", plan, cols: np.ndarray) -> int:
    """The subset of ``plan`` (in ``fam``) holding every shot's chosen point."""
    for f in plan.subsets:
        if ((fam.idx[fam.rows(f)] == cols[:, None]).any(axis=1)).all():
            return f
    return plan.subsets[0]


def _value(plans, picks, lams) -> float:
    """The ladder's objective: quality of rate rungs, minus slope-weighted rate of quality rungs, each
    rung times its weight."""
    v = 0.0
    for p, c, lam in zip(plans, picks, lams):
        v += p.target.weight * (c[3] if p.target.kind == "rate" else -max(lam, 1e-12) * c[2])
    return v


def _search_mu(at, total, budget, mu0, mu_max, scale, picks0, ev_max, picks_max, cmin):
    """Find mu whose Lagrangian ladder just fits the budget (large problems)."""
    lo, hi = math.log(mu0), math.log(mu_max)
    cpu_lo, cpu_hi = total(picks0), cmin
    ev_hi, picks_hi = ev_max, picks_max
    # bracket: decade steps from a data-scaled guess
    x = math.log(scale * 1e-2)
    for _ in range(12):
        if not (lo < x < hi):
            break
        ev_x, picks_x = at(math.exp(x))
        if any(p is None for p in picks_x):
            lo = x
            x += math.log(10.0)
            continue
        cx = total(picks_x)
        if cx > budget:
            lo, cpu_lo = x, cx
            x += math.log(10.0)
        else:
            hi, cpu_hi, ev_hi, picks_hi = x, cx, ev_x, picks_x
            x -= math.log(10.0)
        if hi - lo <= math.log(10.0) + 1e-9:
            break
    # Illinois regula falsi on g(x) = log(cpu(e^x) / budget), with a bisection
    # step every fourth try.  It stops within MU_TOL under the budget, or when
    # mu is pinned down (a jump in cpu(mu): one resolution switching for a
    # whole rung); the rung mix and the greedy pass spend what is left.
    tiny = budget * 1e-12 + 1e-300
    g_lo = math.log(max(cpu_lo, tiny) / budget)
    g_hi = math.log(max(cpu_hi, tiny) / budget)
    last = 0
    for it in range(60):
        w = hi - lo
        if w < MU_PIN or cpu_hi >= budget * (1 - MU_TOL):
            break
        if it % 4 == 3 or not (g_lo > 0 > g_hi):
            x = lo + 0.5 * w
        else:
            x = hi - g_hi * w / (g_hi - g_lo)
            x = min(max(x, lo + 0.02 * w), hi - 0.02 * w)
        ev_x, picks_x = at(math.exp(x))
        if any(p is None for p in picks_x):
            lo, last = x, 0
            continue
        cx = total(picks_x)
        gx = math.log(max(cx, tiny) / budget)
        if cx > budget:
            lo, g_lo = x, gx
            if last == 1:
                g_hi *= 0.5
            last = 1
        else:
            hi, g_hi, cpu_hi, ev_hi, picks_hi = x, gx, cx, ev_x, picks_x
            if last == -1:
                g_lo *= 0.5
            last = -1
    return ev_hi, picks_hi


def _finish(pts, fam, plans, choice, mu, lam, sub_f, budget, D, per_shot_resolution, binding, greedy,
            max_greedy_moves, candidates_per_shot, evals, cmin) -> Solution:
    height = _rung_heights(pts, choice, per_shot_resolution)
    lag_rate, lag_q, lag_t = _totals(pts, choice, D)
    moves = 0
    if greedy:
        choice, moves = _greedy(pts, fam, mu, plans, sub_f, choice, lam, budget, D,
                                max_moves=max_greedy_moves, m_cand=candidates_per_shot)
    rate, quality, cpu = _totals(pts, choice, D)
    return Solution(choice=choice, rate=rate, quality=quality, cpu=cpu, height=height, mu=float(mu), lam=lam,
                    budget=budget, binding=bool(binding), lagrangian_rate=lag_rate, lagrangian_quality=lag_q,
                    lagrangian_cpu=float(lag_t.sum()), greedy_moves=moves, evaluations=evals, cpu_min=cmin)


def _rung_heights(pts: RDCPoints, choice: np.ndarray, per_shot_resolution: bool) -> np.ndarray:
    """Each rung's resolution when it keeps one (else 0)."""
    height = np.zeros(choice.shape[0], dtype=int)
    if not per_shot_resolution:
        for k in range(choice.shape[0]):
            hs = np.unique(pts.height[np.arange(pts.shots), choice[k]])
            height[k] = int(hs[0]) if hs.size == 1 else 0
    return height


def _rising(picks, order, eps_r, eps_q) -> bool:
    R = np.array([picks[k][2] for k in order])
    Q = np.array([picks[k][3] for k in order])
    return bool(np.all(np.diff(R) > eps_r) and np.all(np.diff(Q) > eps_q))


def _mix_rungs(opts, plans, budget, fallback, order, eps_r, eps_q, bins: int = 4000):
    """Per rung, pick one option: the best mix within the budget whose rungs rise strictly
    in rate and quality (in ``order``).

    Options are every evaluated ``mu``'s solution of each rung (valid choices
    for that rung alone) and, on small problems, the fixed-preset ladders'
    rungs.  Mixing them is a small multiple-choice knapsack over rungs (value:
    quality of rate rungs, rate saved on quality rungs weighed by the rung's
    slope; weight: CPU), with the extra rule that each rung must beat the one
    below it.  Solved exactly by dynamic programming over a CPU grid whose
    state also holds the previous rung's option.  It matters where cpu(mu)
    jumps (a whole rung switching resolution at once) and where one common
    ``mu`` starves the top rungs until they stop rising.  Returns ``fallback``
    (the common-mu solution) when nothing better, or nothing rising, is found.
    """
    R_ = len(plans)
    if not math.isfinite(budget):
        return fallback
    opts = [list(o) + [fallback[k]] for k, o in enumerate(opts)]
    lam_ref = [fallback[k][6] for k in range(R_)]
    fb_ok = _rising(fallback, order, eps_r, eps_q) and sum(c[4] for c in fallback) <= budget * (1 + 1e-12)
    fb_val = sum(_rung_value(plans, lam_ref, k, fallback[k]) for k in range(R_))
    # CPU rounded down (may overshoot: then checked, with a tighter grid), else up (never overshoots)
    for rounding, cap in ((math.floor, 1.0), (math.floor, 0.999), (math.floor, 0.995), (math.floor, 0.98),
                          (math.ceil, 1.0)):
        pick = _mix_dp(opts, plans, lam_ref, budget * cap, order, eps_r, eps_q, bins, rounding)
        if pick is None or sum(c[4] for c in pick) > budget * (1 + 1e-12):
            continue
        mix_val = sum(_rung_value(plans, lam_ref, k, pick[k]) for k in range(R_))
        if fb_ok and mix_val <= fb_val + 1e-12 * abs(fb_val):
            return fallback
        return pick
    return fallback


def _rung_value(plans, lam_ref, k, c) -> float:
    return plans[k].target.weight * (c[3] if plans[k].target.kind == "rate" else -max(lam_ref[k], 1e-12) * c[2])


def _mix_dp(opts, plans, lam_ref, budget, order, eps_r, eps_q, bins, rounding):
    R_ = len(plans)
    unit = budget / bins
    NEG = -np.inf

    def value(k, c):
        return _rung_value(plans, lam_ref, k, c)

    def weight(c):
        return int(rounding(c[4] / unit + (1e-9 if rounding is math.floor else -1e-9))) if c[4] > 0 else 0

    prev_best = None  # (n_prev, bins+1): best value so far ending with option j of the previous rung
    prev_opts = None
    backs = []
    for k in order:
        ok_k = opts[k]
        n = len(ok_k)
        cur = np.full((n, bins + 1), NEG)
        back = np.full((n, bins + 1), -1, dtype=np.intp)
        for i, c in enumerate(ok_k):
            w = weight(c)
            if w > bins:
                continue
            v = value(k, c)
            if prev_best is None:
                cur[i, w:] = v
                continue
            allowed = [j for j, cj in enumerate(prev_opts) if cj[2] < c[2] - eps_r and cj[3] < c[3] - eps_q]
            if not allowed:
                continue
            sub = prev_best[allowed]
            arg = np.argmax(sub, axis=0)
            best = sub[arg, np.arange(bins + 1)]
            cur[i, w:] = best[: bins + 1 - w] + v
            back[i, w:] = np.asarray(allowed)[arg[: bins + 1 - w]]
        # "within w units": make each row non-decreasing in w
        idx = np.maximum.accumulate(np.where(np.isfinite(cur), np.arange(bins + 1)[None, :], 0), axis=1)
        cur = np.take_along_axis(cur, idx, axis=1)
        back = np.take_along_axis(back, idx, axis=1)
        backs.append((back, idx))
        prev_best, prev_opts = cur, ok_k
    if prev_best is None or not np.isfinite(prev_best[:, bins]).any():
        return None
    # walk back from the top rung
    i = int(np.argmax(prev_best[:, bins]))
    w = bins
    pick: list = [None] * R_
    for pos in range(R_ - 1, -1, -1):
        k = order[pos]
        back, idx = backs[pos]
        w = int(idx[i, w])
        c = opts[k][i]
        pick[k] = c
        j = int(back[i, w])
        w -= weight(c)
        i = j
    return pick


def _check(picks, rungs):
    bad = [k for k, p in enumerate(picks) if p is None]
    if bad:
        desc = ", ".join(f"#{k} ({rungs[k].kind} {rungs[k].value:g})" for k in bad)
        raise InfeasibleError(f"rung(s) {desc} out of reach of the probed points")


def _totals(pts: RDCPoints, choice: np.ndarray, D: float):
    S = pts.shots
    ar = np.arange(S)
    d = pts.duration
    r = (pts.rate[ar, choice] * d).sum(axis=1) / D
    q = (pts.quality[ar, choice] * d).sum(axis=1) / D
    t = pts.cpu[ar, choice].sum(axis=1)
    return r, q, t


# --------------------------------------------------------------------------- greedy finish


def _greedy(pts, fam, mu, plans, sub_f, choice, lam, budget, D, *, max_moves=None, m_cand=24, mode="quality"):
    """Spend leftover rate and CPU with single (rung, shot) changes that improve the ladder.

    ``mode="cpu"`` instead lowers the ladder's CPU as far as single and paired
    changes can while every rung keeps its target (used to find the cheapest
    ladder when the Lagrangian one does not fit the budget).

    Each step takes the best feasible change of every rung (quality gained per
    unit of the rung's rate slack and of the ladder's CPU slack; for quality
    rungs, rate saved), applying them one by one while every constraint
    holds: rate targets, quality targets, the CPU budget, and rung rates and
    qualities strictly rising.  Stops when no change improves anything.
    """
    R_, S = choice.shape
    ar = np.arange(S)
    d = pts.duration
    choice = choice.copy()
    # candidate columns per (rung, shot): the best by the final Lagrangian score
    cand = []
    for k, f in enumerate(sub_f):
        rs = fam.rows(f)
        idx = fam.idx[rs]
        with np.errstate(invalid="ignore"):
            sc = plans[k].target.weight * d[:, None] * (fam.q[rs] - lam[k] * fam.r[rs]) - mu * fam.t[rs]
        sc = np.where(idx >= 0, sc, -np.inf)
        kc = idx.shape[1]
        if kc > m_cand:
            top = np.argpartition(-sc, m_cand - 1, axis=1)[:, :m_cand]
            c = np.take_along_axis(idx, top, axis=1)
        else:
            c = idx
        cand.append(c)
    M = max(c.shape[1] for c in cand)
    C = np.full((R_, S, M), -1, dtype=np.intp)
    for k, c in enumerate(cand):
        C[k, :, : c.shape[1]] = c
    ok = C >= 0
    Cs = np.where(ok, C, 0)
    sh = ar[None, :, None]
    cr = np.where(ok, pts.rate[sh, Cs], np.inf) * d[None, :, None]
    cq = np.where(ok, pts.quality[sh, Cs], -np.inf) * d[None, :, None]
    ct = np.where(ok, pts.cpu[sh, Cs], np.inf)
    kinds = np.array([p.target.kind == "rate" for p in plans])
    tgt = np.array([p.target.value * D for p in plans])
    wk = np.array([p.target.weight for p in plans])[:, None, None]

    def cur_vals():
        r = pts.rate[ar, choice] * d
        q = pts.quality[ar, choice] * d
        t = pts.cpu[ar, choice]
        return r, q, t

    r_cur, q_cur, t_cur = cur_vals()
    Rk = r_cur.sum(axis=1)
    Qk = q_cur.sum(axis=1)
    T = float(t_cur.sum())
    order = np.argsort(Rk, kind="stable")  # rungs by rate: neighbours for the ordering rule
    pos = np.empty(R_, dtype=int)
    pos[order] = np.arange(R_)
    qscale = max(float(np.nanmax(np.abs(pts.quality[pts.valid]))), 1.0)
    eps_q = 1e-9 * qscale * D
    eps_r = 1e-9 * max(float(Rk.max()), 1.0)
    eps_t = 1e-12 * max(T, 1e-300)
    limit = max_moves if max_moves is not None else 50 * R_ + 2 * S
    moves = 0
    while moves < limit:
        dR = cr - r_cur[:, :, None]
        dQ = cq - q_cur[:, :, None]
        dT = ct - t_cur[:, :, None]
        slackT = budget - T
        fin = np.isfinite(dR) & np.isfinite(dQ) & np.isfinite(dT)
        feas = fin & (dT <= slackT)
        # neighbour bounds for strictly rising rungs
        lo_R = np.full(R_, -np.inf)
        hi_R = np.full(R_, np.inf)
        lo_Q = np.full(R_, -np.inf)
        hi_Q = np.full(R_, np.inf)
        for k in range(R_):
            p = pos[k]
            if p > 0:
                j = order[p - 1]
                lo_R[k], lo_Q[k] = Rk[j] + eps_r, Qk[j] + eps_q
            if p < R_ - 1:
                j = order[p + 1]
                hi_R[k], hi_Q[k] = Rk[j] - eps_r, Qk[j] - eps_q
        newR = Rk[:, None, None] + dR
        newQ = Qk[:, None, None] + dQ
        feas &= (newR >= lo_R[:, None, None]) & (newR <= hi_R[:, None, None])
        feas &= (newQ >= lo_Q[:, None, None]) & (newQ <= hi_Q[:, None, None])
        with np.errstate(divide="ignore", invalid="ignore"):
            tslack_n = np.maximum(dT, 0.0) / max(slackT, 1e-300) if math.isfinite(slackT) else np.zeros_like(dT)
            # rate rungs: gain quality within the rate target
            slackR = tgt - Rk
            rfeas = feas & kinds[:, None, None] & (newR <= tgt[:, None, None] * (1 + 1e-12)) & (dQ > eps_q)
            # extra rate only at least as efficiently as the rung's hull slope: a flatter
            # step would add quality but sink the rung below the rate-quality curve
            rfeas &= (dR <= 0) | (dQ >= RATE_SLOPE_FLOOR * np.maximum(lam, 0.0)[:, None, None] * dR)
            use_r = np.maximum(dR, 0.0) / np.maximum(slackR, 1e-300)[:, None, None]
            score_r = np.where(rfeas, dQ / (use_r + tslack_n + 1e-12), -np.inf)
            # quality rungs: save rate while the quality target holds
            slackQ = Qk - tgt
            qfeas = feas & ~kinds[:, None, None] & (newQ >= tgt[:, None, None] - 1e-12 * np.abs(tgt)[:, None, None]) \
                & (dR < -eps_r)
            use_q = np.maximum(-dQ, 0.0) / np.maximum(slackQ, 1e-300)[:, None, None]
            gain_q = -dR * np.maximum(lam, 1e-12)[:, None, None]
            score_q = np.where(qfeas, gain_q / (use_q + tslack_n + 1e-12), -np.inf)
        score = np.maximum(score_r, score_q) * wk
        if mode == "cpu":
            keep_t = np.where(kinds[:, None, None], newR <= tgt[:, None, None] * (1 + 1e-12),
                              newQ >= tgt[:, None, None] - 1e-12 * np.abs(tgt)[:, None, None])
            score = np.where(feas & keep_t & (dT < -eps_t), -dT, -np.inf)
        flat = score.reshape(R_, -1)
        best = flat.argmax(axis=1)
        bval = flat[np.arange(R_), best]
        applied = 0
        for k in np.argsort(-bval, kind="stable"):
            if not np.isfinite(bval[k]) or moves >= limit:
                break
            i, m = divmod(int(best[k]), M)
            ddR, ddQ, ddT = dR[k, i, m], dQ[k, i, m], dT[k, i, m]
            # re-check against the state after the moves already applied in this step
            if T + ddT > budget:
                continue
            if applied and not _still_ok(k, Rk + 0, Qk + 0, ddR, ddQ, order, pos, eps_r, eps_q, kinds, tgt):
                continue
            choice[k, i] = C[k, i, m]
            r_cur[k, i] += ddR
            q_cur[k, i] += ddQ
            t_cur[k, i] += ddT
            Rk[k] += ddR
            Qk[k] += ddQ
            T += ddT
            moves += 1
            applied += 1
        if applied == 0:
            # stalled: try a pair of changes (one trading its resource to the other) -
            # across rungs on tiny problems, within each rung on small ones
            eps_v = eps_t if mode == "cpu" else eps_q
            if R_ * S * M <= PAIR_LIMIT:
                found = _best_pair(dR, dQ, dT, C, kinds, tgt, lam, Rk, Qk, T, budget, order, eps_r, eps_v,
                                   cpu_mode=mode == "cpu", weight=wk[:, 0, 0])
            elif S * M <= PAIR_LIMIT:
                found = None
                for k in range(R_):
                    f = _best_pair(dR, dQ, dT, C, kinds, tgt, lam, Rk, Qk, T, budget, order, eps_r, eps_v,
                                   cpu_mode=mode == "cpu", only_rung=k, weight=wk[:, 0, 0])
                    if f is not None and (found is None or f[0] > found[0]):
                        found = f
            else:
                found = None
            if found is None:
                break
            pair = found[1]
            for k, i, m in pair:
                choice[k, i] = C[k, i, m]
                r_cur[k, i] += dR[k, i, m]
                q_cur[k, i] += dQ[k, i, m]
                t_cur[k, i] += dT[k, i, m]
                Rk[k] += dR[k, i, m]
                Qk[k] += dQ[k, i, m]
                T += dT[k, i, m]
            moves += 2
    return choice, moves


#: the greedy pass spends a rung's leftover rate only on changes whose quality gained per
#: kbps is at least this fraction of the rung's Lagrangian slope
RATE_SLOPE_FLOOR = 1.0

#: below this many (rung, shot, candidate) triples the greedy pass also tries
#: pairs of changes (one trading its resource to the other), which makes it
#: exact far more often on small instances
PAIR_LIMIT = 600


def _order_ok(Rk, Qk, order, eps_r, eps_q) -> bool:
    r, q = Rk[order], Qk[order]
    return bool(np.all(np.diff(r) >= eps_r) and np.all(np.diff(q) >= eps_q))


def _best_pair(dR, dQ, dT, C, kinds, tgt, lam, Rk, Qk, T, budget, order, eps_r, eps_v, cpu_mode=False,
               only_rung=None, weight=None):
    """Best improving pair of changes (different (rung, shot)) that keeps every constraint, as (gain, pair),
    or None.  ``only_rung`` restricts both changes to one rung."""
    eps_q = 1e-9 * max(float(np.abs(Qk).max()), 1.0)
    ok = (C >= 0) & np.isfinite(dR) & np.isfinite(dQ) & np.isfinite(dT)
    if only_rung is not None:
        keep = np.zeros(ok.shape[0], dtype=bool)
        keep[only_rung] = True
        ok &= keep[:, None, None]
    kk, ii, mm = np.nonzero(ok)
    if kk.size < 2:
        return None
    a_R, a_Q, a_T = dR[kk, ii, mm], dQ[kk, ii, mm], dT[kk, ii, mm]
    val = -a_T if cpu_mode else np.where(kinds[kk], a_Q, -np.maximum(lam[kk], 1e-12) * a_R) * (
        1.0 if weight is None else weight[kk])
    same_slot = (kk[:, None] == kk[None, :]) & (ii[:, None] == ii[None, :])
    same_rung = kk[:, None] == kk[None, :]
    tot = val[:, None] + val[None, :]
    feas = ~same_slot & (tot > eps_v) & (T + a_T[:, None] + a_T[None, :] <= budget)
    feas &= np.triu(np.ones_like(feas), 1)
    # per-rung targets
    rR = Rk[kk] + a_R  # alone
    rQ = Qk[kk] + a_Q
    alone_ok = np.where(kinds[kk], rR <= tgt[kk] * (1 + 1e-12), rQ >= tgt[kk] - 1e-12 * np.abs(tgt[kk]))
    both_R = Rk[kk][:, None] + a_R[:, None] + a_R[None, :]
    both_Q = Qk[kk][:, None] + a_Q[:, None] + a_Q[None, :]
    kind_a = kinds[kk][:, None]
    tgt_a = tgt[kk][:, None]
    joint_ok = np.where(kind_a, both_R <= tgt_a * (1 + 1e-12), both_Q >= tgt_a - 1e-12 * np.abs(tgt_a))
    feas &= np.where(same_rung, joint_ok, alone_ok[:, None] & alone_ok[None, :])
    if not feas.any():
        return None
    cand = np.flatnonzero(feas)
    best = cand[np.argsort(-tot.ravel()[cand], kind="stable")[:32]]
    n = kk.size
    for b in best:
        a, c = divmod(int(b), n)
        R2, Q2 = Rk.copy(), Qk.copy()
        for e in (a, c):
            R2[kk[e]] += a_R[e]
            Q2[kk[e]] += a_Q[e]
        if _order_ok(R2, Q2, order, eps_r, eps_q):
            return float(tot.ravel()[b]), [(int(kk[a]), int(ii[a]), int(mm[a])), (int(kk[c]), int(ii[c]), int(mm[c]))]
    return None


def _still_ok(k, Rk, Qk, ddR, ddQ, order, pos, eps_r, eps_q, kinds, tgt) -> bool:
    nR, nQ = Rk[k] + ddR, Qk[k] + ddQ
    p = pos[k]
    if p > 0:
        j = order[p - 1]
        if nR < Rk[j] + eps_r or nQ < Qk[j] + eps_q:
            return False
    if p < len(order) - 1:
        j = order[p + 1]
        if nR > Rk[j] - eps_r or nQ > Qk[j] - eps_q:
            return False
    if kinds[k]:
        return nR <= tgt[k] * (1 + 1e-12)
    return nQ >= tgt[k] - 1e-12 * abs(tgt[k])


# ``pershot.optimize`` is both this module and the public API function ``pershot.optimize(...)``:
# importing the submodule rebinds the package attribute to the module, so the
# module itself is made callable (it forwards to :func:`pershot.api.optimize`) and
# both spellings keep working (as pershot/probe.py does for ``pershot.probe``).
class _CallableModule(type(math)):
    def __call__(self, *args: Any, **kwargs: Any):
        from .api import optimize as _api

        return _api(*args, **kwargs)


import sys as _sys  # noqa: E402

_sys.modules[__name__].__class__ = _CallableModule
