"""The exact (mixed-integer) finish of small ladders: brute force agrees, constraints hold, it only improves."""
from __future__ import annotations

import numpy as np
import pytest

from pershot.exact import refine
from pershot.ladder import LadderSpec, optimize_ladder
from pershot.optimize import RDCPoints, RungTarget, solve
from pershot.synthetic import synthetic_probes

from test_optimize import _all_combos, _toy, _two_rung_case


def _brute_two_rungs(p, t1, t2, budget, heights=None):
    """Best quality sum of two strictly rising rate rungs within the budget (one height per rung if given)."""
    combos, R, Q, T = _all_combos(p)
    if heights is not None:
        h = p.height[np.arange(p.shots), combos]
        same = (h == h[:, :1]).all(axis=1)
        R, Q, T = np.where(same, R, np.inf), np.where(same, Q, -np.inf), np.where(same, T, np.inf)
    i1, i2 = np.flatnonzero(R <= t1 * (1 + 1e-12)), np.flatnonzero(R <= t2 * (1 + 1e-12))
    QQ = Q[i1][:, None] + Q[i2][None, :]
    TT = T[i1][:, None] + T[i2][None, :]
    ok = (Q[i1][:, None] + 1e-3 < Q[i2][None, :]) & (R[i1][:, None] < R[i2][None, :]) & (TT <= budget)
    return (QQ[ok].max() if ok.any() else None), (TT.min() if TT.size else None)


def test_exact_finish_reaches_brute_force_on_random_targets():
    """Arbitrary rate targets and budgets (where the Lagrangian has duality gaps): with the exact finish
    the ladder is the brute-force optimum, always feasible and never worse than without it."""
    rng = np.random.default_rng(3)
    n = hit = improved = 0
    for _ in range(120):
        case = _two_rung_case(rng)
        if case is None:
            continue
        p, t1, t2, budget = case
        best, _ = _brute_two_rungs(p, t1, t2, budget)
        if best is None:
            continue
        rungs = [RungTarget("rate", t1), RungTarget("rate", t2)]
        try:
            sol = solve(p, rungs, cpu_budget=budget)
        except Exception:  # noqa: BLE001 - the greedy start may miss a feasible rising ladder
            continue
        base = solve(p, rungs, cpu_budget=budget, exact=False)
        assert sol.total_cpu <= budget * (1 + 1e-9)
        assert np.all(sol.rate <= np.array([t1, t2]) * (1 + 1e-9))
        assert sol.rate[1] > sol.rate[0] and sol.quality[1] > sol.quality[0]
        assert sol.quality.sum() >= base.quality.sum() - 1e-9
        assert sol.quality.sum() <= best + 1e-9
        n += 1
        hit += abs(sol.quality.sum() - best) < 1e-6
        improved += sol.quality.sum() > base.quality.sum() + 1e-9
    assert n > 60
    assert hit == n, f"{hit}/{n} optimal"
    assert improved > 0  # the finish did something on these gaps


def test_exact_finish_quality_rungs_reach_the_minimum_rate():
    rng = np.random.default_rng(9)
    n = 0
    for _ in range(60):
        p = _toy(rng, cpu=False)
        _, R, Q, _ = _all_combos(p)
        tq = rng.uniform(np.percentile(Q, 20), Q.max() - 0.01)
        best = R[Q >= tq + 2e-6 * max(abs(tq), 1.0)].min()
        sol = solve(p, [RungTarget("quality", tq)])
        assert sol.quality[0] >= tq - 1e-9
        assert sol.rate[0] == pytest.approx(best, rel=1e-9)
        n += 1
    assert n == 60


def test_exact_finish_keeps_one_resolution_per_rung():
    rng = np.random.default_rng(21)
    n = 0
    for _ in range(40):
        S, K = 3, 6
        rate, qual, cpu, height = [], [], [], []
        for _s in range(S):
            h = rng.choice([360, 720], K)
            r = np.sort(rng.uniform(100, 3000, K))
            rate.append(r)
            qual.append(np.clip(30 * np.log(r / 50) + (h == 720) * rng.normal(3, 4, K) + rng.normal(0, 4, K), 0, 100))
            cpu.append(rng.uniform(0.1, 5.0, K))
            height.append(h)
        p = RDCPoints.from_lists(rate, qual, cpu, rng.uniform(0.5, 3.0, S), height=height)
        t1, t2 = np.sort(rng.uniform(600, 2500, 2))
        if t2 / t1 < 1.1:
            continue
        budget = 0.6 * p.cpu[p.valid].sum()
        best, _ = _brute_two_rungs(p, t1, t2, budget, heights=True)
        if best is None:
            continue
        try:
            sol = solve(p, [RungTarget("rate", t1), RungTarget("rate", t2)], cpu_budget=budget)
        except Exception:  # noqa: BLE001
            continue
        for k in range(2):
            assert len(set(p.height[np.arange(S), sol.choice[k]].tolist())) == 1
        assert sol.total_cpu <= budget * (1 + 1e-9)
        assert sol.quality.sum() == pytest.approx(best, abs=1e-6)
        n += 1
    assert n > 15


def test_refine_only_returns_checked_improvements():
    """refine() on a start that is already optimal says so, and returns no new choice."""
    p = RDCPoints.from_lists([[100.0, 200.0, 400.0], [100.0, 200.0, 400.0]], [[50.0, 60.0, 70.0], [40.0, 58.0, 65.0]],
                             [[1.0, 1.0, 1.0], [1.0, 1.0, 1.0]])
    start = np.array([[1, 1]])  # 200 + 200 kbps within 200 kbps: the best single-rung choice at 200
    masks = [[p.valid]]
    res = refine(p, masks, ["rate"], [200.0], float("inf"), start, np.array([0.05]), 0.0,
                 per_rung_subsets=False, eps_r=1e-9, eps_q=1e-9)
    assert res.status == "optimal" and res.choice is None and res.complete
    worse = np.array([[0, 2]])  # 50 + 65 at 100 + 400: feasible but not the best
    res = refine(p, masks, ["rate"], [250.0], float("inf"), worse, np.array([0.05]), 0.0,
                 per_rung_subsets=False, eps_r=1e-9, eps_q=1e-9)
    assert res.status == "improved" and res.gain > 0
    r = (p.rate[[0, 1], res.choice[0]] * p.duration).sum() / p.duration.sum()
    assert r <= 250.0


def test_exact_finish_is_skipped_on_large_problems():
    df = synthetic_probes(200, presets=["ultrafast", "medium", "veryslow"], heights=(720, 540, 360),
                          crfs=(20, 26, 32, 38), seed=4)
    lad = optimize_ladder(df, LadderSpec.auto(4), 0.3)
    assert lad.stats["exact_finish"].startswith("skipped")


def test_ladder_reports_the_exact_finish_and_it_only_improves():
    df = synthetic_probes(5, presets=["ultrafast", "veryfast", "medium", "slow", "veryslow"],
                          heights=(720, 540, 360), crfs=tuple(range(18, 44, 3)), seed=12)
    spec = LadderSpec.auto(5)
    for c in (0.1, 0.3, 1.0):
        a = optimize_ladder(df, spec, c)
        b = optimize_ladder(df, spec, c, exact=False)
        assert a.stats["exact_finish"] != "not run"
        assert b.stats["exact_finish"] == "not run"
        assert a.cpu_s <= c * a.anchor_cpu_s * (1 + 1e-9)
        if [r.spec for r in a.rungs] == [r.spec for r in b.rungs]:
            assert sum(r.quality for r in a.rungs) >= sum(r.quality for r in b.rungs) - 1e-9
        q = [r.quality for r in a.rungs]
        assert all(x < y for x, y in zip(q, q[1:]))


def test_native_stdout_is_silenced_only_while_highs_runs(capfd):
    """HiGHS writes some debug lines straight to descriptor 1; the guard around milp drops what is written
    there meanwhile, and puts the descriptor back."""
    import os

    from pershot.exact import _native_stdout_silenced

    os.write(1, b"before\n")
    with _native_stdout_silenced():
        os.write(1, b"HighsMipSolverData::transformNewIntegerFeasibleSolution tmpSolver.run();\n")
    os.write(1, b"after\n")
    assert capfd.readouterr().out == "before\nafter\n"
