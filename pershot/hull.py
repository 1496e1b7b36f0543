"""Upper-left convex hulls of rate-quality points (pure numpy, no I/O).

The hull of a set of (rate, quality) points is the concave, increasing
frontier that a Lagrangian rate allocation can land on: every point it keeps
maximises ``quality - lam * rate`` for some ``lam >= 0``.  In rate-distortion
terms it is the lower convex hull in (rate, distortion).

Two entry points:

* :func:`upper_hull` for one curve (also used by the image-codec code);
* :func:`batch_upper_hull` for many curves at once, stored as padded 2-D
  arrays (one row per shot), which is what the ladder optimizer needs to stay
  fast on thousands of shots.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

__all__ = ["upper_hull", "hull_slopes", "batch_upper_hull", "hull_flat", "BatchHull"]


def upper_hull(rate, quality) -> np.ndarray:
    """Indices of the upper-left convex hull of the points ``(rate[i], quality[i])``.

    Returns an integer array of indices into the inputs, sorted by rate, such
    that rate and quality are both strictly increasing along it and the slopes
    between consecutive vertices strictly decrease (a concave curve).  The first
    vertex is the cheapest point (the best one among equally cheap points), the
    last is the best point (the cheapest one among equally good points).
    Collinear middle points are not vertices.  Points with a non-finite rate or
    quality are ignored; an input with no finite point gives an empty array.

    Ties are broken deterministically (by input position), so permuting the
    input permutes the indices but selects the same (rate, quality) vertices.
    """
    r = np.asarray(rate, dtype=float).ravel()
    q = np.asarray(quality, dtype=float).ravel()
    if r.shape != q.shape:
        raise ValueError(f"rate and quality differ in length ({r.size} != {q.size})")
    ok = np.flatnonzero(np.isfinite(r) & np.isfinite(q))
    if ok.size == 0:
        return np.empty(0, dtype=np.intp)
    # sort by rate ascending, quality descending, then index: the first point of
    # each rate is the best one at that rate
    order = ok[np.lexsort((ok, -q[ok], r[ok]))]
    rs, qs = r[order], q[order]
    # staircase: keep a point only if it beats every cheaper (or equal-rate) point
    prev_best = np.maximum.accumulate(qs)
    keep = np.ones(order.size, dtype=bool)
    keep[1:] = qs[1:] > prev_best[:-1]
    order, rs, qs = order[keep], rs[keep], qs[keep]
    # Andrew's monotone chain on the staircase (rates now strictly increase)
    stack: list[int] = []
    for j in range(order.size):
        while len(stack) >= 2:
            a, b = stack[-2], stack[-1]
            # drop b if it lies on or below the segment a -> j
            cross = (rs[b] - rs[a]) * (qs[j] - qs[a]) - (qs[b] - qs[a]) * (rs[j] - rs[a])
            if cross >= 0:
                stack.pop()
            else:
                break
        stack.append(j)
    return order[np.asarray(stack, dtype=np.intp)]


def hull_slopes(rate, quality, idx=None) -> np.ndarray:
    """Slopes (d quality / d rate) between consecutive hull vertices (length ``len(idx) - 1``)."""
    r = np.asarray(rate, dtype=float)
    q = np.asarray(quality, dtype=float)
    if idx is None:
        idx = upper_hull(r, q)
    idx = np.asarray(idx, dtype=np.intp)
    return np.diff(q[idx]) / np.diff(r[idx])


class BatchHull(NamedTuple):
    """Hulls of many padded curves.

    ``vertex[s, j]`` is the column (in the caller's arrays) of the j-th hull
    vertex of row ``s``, -1 past ``count[s]``; vertices are in increasing rate.
    """

    vertex: np.ndarray  # (S, H) int, -1 padded
    count: np.ndarray  # (S,) int, >= 1 for rows with a finite point, else 0


def batch_upper_hull(rate: np.ndarray, quality: np.ndarray) -> BatchHull:
    """Upper-left hulls of every row of the padded arrays ``rate`` / ``quality`` (S, K).

    Each row must already be sorted by rate ascending, with non-finite
    ``quality`` (-inf) marking padding or excluded points; ``rate`` must be finite
    where ``quality`` is.  Equal rates are allowed (the better point wins).
    Gives, row by row, the same vertices as :func:`upper_hull`.
    """
    S = quality.shape[0]
    rows, cols = hull_flat(rate, quality)
    count = np.bincount(rows, minlength=S)
    hmax = int(count.max()) if count.size else 0
    pos = np.arange(rows.size) - np.repeat(np.cumsum(count) - count, count)
    vertex = np.full((S, hmax), -1, dtype=np.intp)
    vertex[rows, pos] = cols
    return BatchHull(vertex, count)


def hull_flat(rate: np.ndarray, quality: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Hull vertices of every row as flat ``(rows, cols)`` arrays in row-major order.

    Same input contract as :func:`batch_upper_hull`.  Vectorised over rows
    (no Python loop over rows or points): a staircase filter (a vertex beats
    every cheaper point), then passes over the flat list of survivors that
    drop every point not strictly above the segment joining its surviving
    neighbours (such a point cannot be a vertex), until nothing moves; the
    survivors then form a concave chain.  A handful of passes is typical, each
    O(survivors).
    """
    S, K = quality.shape
    empty = (np.empty(0, dtype=np.intp), np.empty(0, dtype=np.intp))
    if S == 0 or K == 0:
        return empty
    qv = np.where(np.isfinite(quality), quality, -np.inf)
    fin = qv > -np.inf
    # staircase: strictly better than every cheaper point (rows are sorted by
    # rate, so a later equal-rate point with higher quality also passes; the
    # passes below drop the worse one of such a pair)
    run = np.maximum.accumulate(qv, axis=1)
    keep = fin.copy()
    keep[:, 1:] &= qv[:, 1:] > run[:, :-1]
    cnt = keep.sum(axis=1)
    if int(cnt.max()) == 0:
        return empty
    # From here on, work on the flat list of surviving points (row-major, so
    # each row's points are contiguous and still sorted by rate).
    rows, cols = np.nonzero(keep)
    src = rows * K + cols
    fr = rate.ravel().take(src)
    fq = qv.ravel().take(src)
    with np.errstate(invalid="ignore"):
        # passes: drop every point not strictly above the segment joining its
        # surviving neighbours (or sharing its right neighbour's rate)
        while True:
            n = fr.size
            if n < 2:
                break
            same_p = np.zeros(n, dtype=bool)
            same_p[1:] = rows[1:] == rows[:-1]
            same_n = np.zeros(n, dtype=bool)
            same_n[:-1] = same_p[1:]
            rn = np.empty(n)
            qn = np.empty(n)
            rn[:-1], qn[:-1] = fr[1:], fq[1:]
            rn[-1], qn[-1] = np.inf, -np.inf
            ra = np.empty(n)
            qa = np.empty(n)
            ra[1:], qa[1:] = fr[:-1], fq[:-1]
            ra[0], qa[0] = -np.inf, -np.inf
            cross = (fr - ra) * (qn - qa) - (fq - qa) * (rn - ra)
            drop = same_n & ((rn <= fr) | (same_p & (cross >= 0)))
            if not drop.any():
                break
            k = ~drop
            rows, cols, fr, fq = rows[k], cols[k], fr[k], fq[k]
    return rows, cols
