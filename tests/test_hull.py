"""Upper-left convex hulls: known cases and properties (hypothesis)."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pershot.hull import batch_upper_hull, hull_slopes, upper_hull

finite = st.floats(min_value=0.0, max_value=1000.0, allow_nan=False, allow_infinity=False)
grid = st.integers(min_value=0, max_value=12).map(float)  # many ties and collinear points


def _check_hull(r, q, idx):
    r, q = np.asarray(r, float), np.asarray(q, float)
    if idx.size == 0:
        return
    hr, hq = r[idx], q[idx]
    # sorted by rate, strictly increasing rate and quality
    assert np.all(np.diff(hr) > 0) and np.all(np.diff(hq) > 0)
    # concave: each vertex strictly above the chord of its neighbours (cross products, no division)
    a, b, c = slice(None, -2), slice(1, -1), slice(2, None)
    cross = (hr[b] - hr[a]) * (hq[c] - hq[a]) - (hq[b] - hq[a]) * (hr[c] - hr[a])
    assert np.all(cross < 0)
    # first vertex is the cheapest point (the best among the equally cheap), last the best point
    assert hr[0] == r.min() and hq[0] == q[r == r.min()].max()
    assert hq[-1] == q.max() and hr[-1] == r[q == q.max()].min()
    # every point lies on or under the hull (within its rate span; beyond it, under the top)
    inside = (r >= hr[0]) & (r <= hr[-1])
    interp = np.interp(r[inside], hr, hq)
    assert np.all(q[inside] <= interp + 1e-9 * (1 + np.abs(interp)))
    assert np.all(q[r > hr[-1]] <= hq[-1])


def test_known_example():
    r = [1, 2, 3, 4, 5, 2.5, 6]
    q = [10, 20, 24, 27, 28, 15, 28]
    idx = upper_hull(r, q)
    assert list(idx) == [0, 1, 2, 3, 4]
    assert np.allclose(hull_slopes(r, q, idx), [10, 4, 3, 1])


def test_collinear_points_are_not_vertices_and_nan_is_ignored():
    r = [0, 1, 2, 3, np.nan, 1.5]
    q = [0, 1, 2, 3, 50, np.inf]
    assert list(upper_hull(r, q)) == [0, 3]
    assert upper_hull([], []).size == 0
    assert list(upper_hull([5.0], [1.0])) == [0]


def test_equal_rates_keep_the_best_point():
    assert list(upper_hull([1, 1, 2], [5, 7, 6])) == [1]
    assert list(upper_hull([1, 1, 2], [5, 7, 9])) == [1, 2]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.one_of(finite, grid), st.one_of(finite, grid)), min_size=1, max_size=40))
def test_hull_properties(points):
    r = np.array([p[0] for p in points])
    q = np.array([p[1] for p in points])
    idx = upper_hull(r, q)
    _check_hull(r, q, idx)
    # a Lagrangian pick (max of q - lam r) always lands on a hull vertex's value
    for lam in (0.0, 0.01, 0.5, 3.0, 100.0):
        assert np.max(q - lam * r) == pytest.approx(np.max(q[idx] - lam * r[idx]), abs=1e-9)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.one_of(finite, grid), st.one_of(finite, grid)), min_size=1, max_size=30),
       st.randoms(use_true_random=False))
def test_hull_invariant_to_point_order(points, rnd):
    r = np.array([p[0] for p in points])
    q = np.array([p[1] for p in points])
    perm = list(range(len(points)))
    rnd.shuffle(perm)
    perm = np.array(perm)
    a = upper_hull(r, q)
    b = perm[upper_hull(r[perm], q[perm])]
    assert list(zip(r[a], q[a])) == list(zip(r[b], q[b]))


@settings(max_examples=100, deadline=None)
@given(st.integers(min_value=1, max_value=8), st.integers(min_value=1, max_value=25), st.integers(0, 2**32 - 1))
def test_batch_hull_equals_single(rows, cols, seed):
    rng = np.random.default_rng(seed)
    r = np.sort(np.round(rng.random((rows, cols)) * 20) / 2, axis=1)
    q = np.where(rng.random((rows, cols)) < 0.5, np.sqrt(r) * 3, np.round(rng.random((rows, cols)) * 10))
    q[rng.random((rows, cols)) < 0.2] = -np.inf  # padding / excluded
    b = batch_upper_hull(r, q)
    for s in range(rows):
        ok = np.flatnonzero(np.isfinite(q[s]))
        want = ok[upper_hull(r[s, ok], q[s, ok])]
        got = b.vertex[s, : b.count[s]]
        assert list(zip(r[s, want], q[s, want])) == list(zip(r[s, got], q[s, got]))
        assert np.all(b.vertex[s, b.count[s]:] == -1)
