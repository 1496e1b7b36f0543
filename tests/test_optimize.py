"""The optimizer against brute force on small cases, and its properties on synthetic probes."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

from pershot.errors import InfeasibleError, OptimizeError
from pershot.optimize import RDCPoints, RungTarget, solve


def _toy(rng, shots=3, points=4, cpu=True):
    """A random RDC toy: rates ascending, quality log-like with noise, CPU per point."""
    rate, qual, cpus = [], [], []
    dur = rng.uniform(0.5, 3.0, shots)
    for s in range(shots):
        r = np.sort(rng.uniform(100, 3000, points))
        rate.append(r)
        qual.append(np.clip(30 * np.log(r / 50) + rng.normal(0, 5, points), 0, 100))
        cpus.append(rng.uniform(0.1, 5.0, points) * dur[s])
    return RDCPoints.from_lists(rate, qual, cpus if cpu else None, dur)


def _all_combos(p: RDCPoints):
    """Every choice of one point per shot: (choices, duration-weighted rate, quality, total CPU)."""
    S = p.shots
    combos = np.array(list(itertools.product(*[np.flatnonzero(p.valid[s]) for s in range(S)])))
    ar = np.arange(S)
    d, D = p.duration, p.duration.sum()
    return combos, (p.rate[ar, combos] * d).sum(1) / D, (p.quality[ar, combos] * d).sum(1) / D, \
        p.cpu[ar, combos].sum(1)


def _global_hull_rates(p: RDCPoints):
    """Rates of every vertex of the title's global hull (Lagrangian solutions for all slopes)."""
    d = p.duration
    lams = []
    for s in range(p.shots):
        ok = p.valid[s]
        r, q = p.rate[s, ok], p.quality[s, ok]
        for i in range(r.size):
            for j in range(r.size):
                if r[j] > r[i]:
                    lams.append((q[j] - q[i]) / (r[j] - r[i]))
    out = set()
    for lam in sorted(set(lams)) + [0.0, 1e9]:
        for l2 in (lam * (1 - 1e-9), lam * (1 + 1e-9)):
            c = np.argmax(np.where(p.valid, p.quality - l2 * p.rate, -np.inf), axis=1)
            out.add(float((p.rate[np.arange(p.shots), c] * d).sum() / d.sum()))
    return sorted(out)


def test_brute_force_agrees_at_every_global_hull_vertex():
    """Rate targets on the global hull: the Lagrangian optimum is the true optimum, and we find it."""
    rng = np.random.default_rng(7)
    checked = 0
    for _ in range(40):
        p = _toy(rng, cpu=False)
        _, R, Q, _ = _all_combos(p)
        for tgt in _global_hull_rates(p):
            sol = solve(p, [RungTarget("rate", tgt)])
            best = Q[R <= tgt * (1 + 1e-12)].max()
            assert sol.rate[0] <= tgt * (1 + 1e-9)
            assert sol.quality[0] == pytest.approx(best, abs=1e-9)
            checked += 1
    assert checked > 200


def test_brute_force_agrees_on_lagrangian_ladders_with_complexity():
    """Targets and budget taken from a Lagrangian solution at random (lambda_k, mu) - Everett's theorem
    makes that solution optimal for them - must be solved exactly: 2 rungs x 3 shots x 4 points."""
    rng = np.random.default_rng(11)
    n = 0
    for _ in range(300):
        p = _toy(rng)
        lam = np.sort(rng.uniform(0.001, 0.1, 2))[::-1]
        mu = rng.uniform(0, 3)
        d, D = p.duration, p.duration.sum()
        ar = np.arange(p.shots)
        ch = [np.argmax(p.quality - lm * p.rate - mu * p.cpu / d[:, None], axis=1) for lm in lam]
        tg = [float((p.rate[ar, c] * d).sum() / D) for c in ch]
        qs = [float((p.quality[ar, c] * d).sum() / D) for c in ch]
        budget = float(sum(p.cpu[ar, c].sum() for c in ch))
        if tg[1] <= tg[0] * 1.0001 or qs[1] <= qs[0] + 1e-9:
            continue
        sol = solve(p, [RungTarget("rate", tg[0]), RungTarget("rate", tg[1])], cpu_budget=budget)
        assert sol.total_cpu <= budget * (1 + 1e-9)
        assert np.all(sol.rate <= np.array(tg) * (1 + 1e-9))
        # brute force over all 64 x 64 choices agrees with the Lagrangian value
        _, R, Q, T = _all_combos(p)
        i1, i2 = np.flatnonzero(R <= tg[0] * (1 + 1e-12)), np.flatnonzero(R <= tg[1] * (1 + 1e-12))
        QQ = Q[i1][:, None] + Q[i2][None, :]
        TT = T[i1][:, None] + T[i2][None, :]
        best = QQ[TT <= budget * (1 + 1e-12)].max()
        assert best == pytest.approx(sum(qs), abs=1e-7)
        assert sol.quality.sum() == pytest.approx(best, abs=1e-7)
        n += 1
    assert n > 100


def test_random_targets_between_lagrangian_floor_and_brute_force():
    """Arbitrary targets and budgets (duality gaps): always feasible, never below the plain Lagrangian,
    never above brute force, and equal to brute force in the large majority of cases."""
    rng = np.random.default_rng(3)
    n = exact = 0
    for _ in range(150):
        p = _toy(rng)
        _, R, Q, T = _all_combos(p)
        t1, t2 = np.sort(rng.uniform(R.min(), R.max(), 2))
        if t2 / t1 < 1.05:
            continue
        i1, i2 = np.flatnonzero(R <= t1 * (1 + 1e-12)), np.flatnonzero(R <= t2 * (1 + 1e-12))
        QQ = Q[i1][:, None] + Q[i2][None, :]
        TT = T[i1][:, None] + T[i2][None, :]
        budget = rng.uniform(TT.min(), TT.max())
        best = QQ[TT <= budget].max()
        rungs = [RungTarget("rate", t1), RungTarget("rate", t2)]
        sol = solve(p, rungs, cpu_budget=budget)
        floor = solve(p, rungs, cpu_budget=budget, greedy=False)
        assert sol.total_cpu <= budget * (1 + 1e-9)
        assert np.all(sol.rate <= np.array([t1, t2]) * (1 + 1e-9))
        assert sol.quality.sum() <= best + 1e-9
        assert sol.quality.sum() >= floor.quality.sum() - 1e-9
        n += 1
        exact += abs(sol.quality.sum() - best) < 1e-7
    assert n > 100
    assert exact >= 0.8 * n, f"only {exact}/{n} optimal"


def test_single_rung_random_targets_mostly_exact():
    rng = np.random.default_rng(5)
    exact = 0
    for _ in range(150):
        p = _toy(rng, cpu=False)
        _, R, Q, _ = _all_combos(p)
        tgt = rng.uniform(R.min(), R.max())
        sol = solve(p, [RungTarget("rate", tgt)])
        best = Q[R <= tgt * (1 + 1e-12)].max()
        assert sol.rate[0] <= tgt * (1 + 1e-9) and sol.quality[0] <= best + 1e-9
        exact += abs(sol.quality[0] - best) < 1e-9
    assert exact >= 0.95 * 150


def test_quality_target_minimises_rate():
    rng = np.random.default_rng(9)
    for _ in range(60):
        p = _toy(rng, cpu=False)
        _, R, Q, _ = _all_combos(p)
        tq = rng.uniform(np.percentile(Q, 20), Q.max())
        sol = solve(p, [RungTarget("quality", tq)])
        best = R[Q >= tq - 1e-12].min()
        assert sol.quality[0] >= tq - 1e-9
        assert sol.rate[0] >= best - 1e-9
        assert sol.rate[0] <= best * 1.25  # within the duality gap of 3 shots


def test_infeasible_budget_names_the_cheapest_ladder():
    rng = np.random.default_rng(2)
    p = _toy(rng)
    _, R, Q, T = _all_combos(p)
    tgt = float(np.median(R))
    cheapest = T[R <= tgt].min()
    with pytest.raises(InfeasibleError) as ei:
        solve(p, [RungTarget("rate", tgt)], cpu_budget=cheapest * 0.5)
    assert ei.value.min_feasible == pytest.approx(cheapest, rel=1e-9)
    sol = solve(p, [RungTarget("rate", tgt)], cpu_budget=ei.value.min_feasible)
    assert sol.total_cpu <= ei.value.min_feasible * (1 + 1e-9)


def test_unreachable_rung_is_an_error():
    p = RDCPoints.from_lists([[100.0, 200.0]], [[50.0, 60.0]])
    with pytest.raises(InfeasibleError):
        solve(p, [RungTarget("rate", 50.0)])
    with pytest.raises(InfeasibleError):
        solve(p, [RungTarget("quality", 70.0)])
    with pytest.raises(OptimizeError):
        RungTarget("rate", -1.0)
    with pytest.raises(OptimizeError):
        solve(p, [])


def test_one_resolution_per_rung():
    # two shots, two resolutions; shot 0 is cheap at 360p, shot 1 is better at 720p
    rate = [[100, 200, 400, 800], [100, 200, 400, 800]]
    qual = [[60, 70, 65, 90], [50, 55, 75, 85]]
    height = [[360, 360, 720, 720], [360, 360, 720, 720]]
    p = RDCPoints.from_lists(rate, qual, height=height)
    free = solve(p, [RungTarget("rate", 300.0)], per_shot_resolution=True)
    one = solve(p, [RungTarget("rate", 300.0)])
    assert set(p.height[[0, 1], free.choice[0]]) == {360, 720}  # mixed when allowed
    assert len(set(p.height[[0, 1], one.choice[0]])) == 1 and one.height[0] in (360, 720)
    assert free.quality[0] >= one.quality[0]
