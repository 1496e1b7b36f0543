"""Rung weights and the ladder objective: area weights, brute force on weighted rungs, the ladder, the CLI."""
from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from pershot.errors import ConfigError, OptimizeError
from pershot.ladder import LadderSpec, area_weights, optimize_ladder
from pershot.optimize import RungTarget, solve
from pershot.synthetic import synthetic_probes

from test_optimize import _all_combos, _two_rung_case


def test_area_weights_are_the_trapezoid_rule_in_log_rate():
    # a geometric ladder: interior rungs alike, the two ends half as much
    w = area_weights(np.array([100.0, 200.0, 400.0, 800.0, 1600.0]))
    np.testing.assert_allclose(w, np.array([0.5, 1, 1, 1, 0.5]) / 0.8)
    assert w.mean() == pytest.approx(1.0)
    # uneven spacing: each rung covers half the log-rate gap to each neighbour; input order is kept
    r = np.array([900.0, 100.0, 200.0])
    w = area_weights(r)
    g1, g2 = math.log(2), math.log(4.5)
    np.testing.assert_allclose(w, np.array([g2 / 2, g1 / 2, (g1 + g2) / 2]) / ((g1 + g2) / 3))
    r = np.array([100.0, 110.0, 1000.0, 1100.0])
    w = area_weights(r)
    assert w[1] > w[0] and w[2] > w[3] and w[1] == pytest.approx(w[2])
    # the area it measures: sum_k w_k q_k is the trapezoid area over ln r (up to the normalisation)
    q = np.array([40.0, 45.0, 80.0, 82.0])
    lr = np.log(r)
    area = float(np.sum((q[1:] + q[:-1]) / 2 * np.diff(lr)))
    assert float(w @ q) * (lr[-1] - lr[0]) / len(r) == pytest.approx(area)


@pytest.mark.parametrize("rates", [[], [500.0], [100.0, 900.0], [100.0, 100.0, 400.0], [100.0, np.nan, 400.0],
                                   [0.0, 100.0, 200.0]])
def test_area_weights_fall_back_to_equal_weights(rates):
    w = area_weights(np.array(rates, dtype=float))
    assert w.shape == (len(rates),)
    assert np.all(w == 1.0)


@pytest.mark.parametrize("bad", [0.0, -1.0, float("nan"), float("inf")])
def test_rung_weight_must_be_positive_and_finite(bad):
    with pytest.raises(OptimizeError, match="weight"):
        RungTarget("rate", 500.0, weight=bad)


def _brute_weighted(p, t1, t2, w1, w2, budget):
    """Best w1*Q1 + w2*Q2 of two strictly rising rate rungs within the budget."""
    _, R, Q, T = _all_combos(p)
    i1, i2 = np.flatnonzero(R <= t1 * (1 + 1e-12)), np.flatnonzero(R <= t2 * (1 + 1e-12))
    V = w1 * Q[i1][:, None] + w2 * Q[i2][None, :]
    TT = T[i1][:, None] + T[i2][None, :]
    ok = (Q[i1][:, None] + 1e-3 < Q[i2][None, :]) & (R[i1][:, None] < R[i2][None, :]) & (TT <= budget)
    return V[ok].max() if ok.any() else None


def test_weighted_rungs_reach_brute_force():
    """With unequal rung weights the solver maximises the weighted sum: every constraint holds, the
    plain Lagrangian and the greedy pass stay below brute force, and the exact finish reaches it."""
    rng = np.random.default_rng(11)
    n = hit = flat = 0
    moved = 0
    for _ in range(120):
        case = _two_rung_case(rng)
        if case is None:
            continue
        p, t1, t2, budget = case
        w1, w2 = np.exp(rng.uniform(-1.2, 1.2, 2))
        best = _brute_weighted(p, t1, t2, w1, w2, budget)
        if best is None:
            continue
        rungs = [RungTarget("rate", t1, weight=w1), RungTarget("rate", t2, weight=w2)]
        try:
            sol = solve(p, rungs, cpu_budget=budget)
            greedy = solve(p, rungs, cpu_budget=budget, exact=False)
        except Exception:  # noqa: BLE001 - the greedy start may miss a feasible rising ladder
            continue
        if not (sol.rate[1] > sol.rate[0] and sol.quality[1] > sol.quality[0]):
            # both rungs at the toy's quality ceiling (100): the ladder layer drops such a rung
            flat += 1
            continue
        for s in (sol, greedy):
            assert s.total_cpu <= budget * (1 + 1e-9)
            assert np.all(s.rate <= np.array([t1, t2]) * (1 + 1e-9))
            assert s.rate[1] > s.rate[0] and s.quality[1] > s.quality[0]
            assert w1 * s.quality[0] + w2 * s.quality[1] <= best + 1e-9
        v = w1 * sol.quality[0] + w2 * sol.quality[1]
        assert v >= w1 * greedy.quality[0] + w2 * greedy.quality[1] - 1e-9
        n += 1
        hit += abs(v - best) < 1e-6
        # the weights matter: the unweighted optimum is often a different ladder
        plain = solve(p, [RungTarget("rate", t1), RungTarget("rate", t2)], cpu_budget=budget)
        moved += not np.array_equal(plain.choice, sol.choice)
    assert n > 60 and flat <= 2
    assert hit == n, f"{hit}/{n} optimal"
    assert moved > 0


def _sw(lad) -> float:
    return float(sum(w * r.quality for w, r in zip(lad.weights, lad.rungs)))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_area_objective_ladder(seed):
    """The area ladder meets the same constraints as the mean ladder, scores at least as well on the
    weighted objective it maximises, while the mean ladder scores at least as well on mean quality."""
    df = synthetic_probes(4, presets=("ultrafast", "fast", "veryslow"), heights=(720, 360), crfs=(20, 26, 32, 38),
                          seed=seed)
    spec = LadderSpec.auto(5)
    for c in (0.2, 0.5):
        area = optimize_ladder(df, spec, c)
        mean = optimize_ladder(df, spec, c, objective="mean")
        assert area.objective == "area" and mean.objective == "mean"
        assert [r.spec for r in area.rungs] == [r.spec for r in mean.rungs]
        assert len(area.weights) == len(area.rungs)
        assert np.mean(area.weights) == pytest.approx(1.0)
        assert area.weights[0] < area.weights[1] and area.weights[-1] < area.weights[-2]  # the ends: half-cells
        assert mean.weights == (1.0,) * len(mean.rungs)
        for lad in (area, mean):
            assert lad.complexity_ratio <= c * (1 + 1e-9)
            r = np.array([x.bitrate_kbps for x in lad.rungs])
            q = np.array([x.quality for x in lad.rungs])
            assert np.all(np.diff(r) > 0) and np.all(np.diff(q) > 0)
            assert np.all(r <= np.array([x.target_kbps for x in lad.rungs]) * (1 + 1e-9))
        w = np.array(area.weights)
        assert _sw(area) >= float(w @ np.array([x.quality for x in mean.rungs])) - 1e-6
        assert np.mean([x.quality for x in mean.rungs]) >= np.mean([x.quality for x in area.rungs]) - 1e-6


def test_objective_is_reported_and_checked(tmp_path):
    from pershot import api
    from pershot.cli import main

    df = synthetic_probes(3, presets=("ultrafast", "veryslow"), heights=(720, 360), crfs=(20, 28, 36), seed=4)
    probes = tmp_path / "probes.csv"
    df.to_csv(probes, index=False)
    for obj in ("area", "mean"):
        out = tmp_path / obj
        assert main(["optimize", str(probes), "--rungs", "4", "-c", "0.5", "--objective", obj, "-o", str(out),
                     "--no-plots", "-q"]) == 0
        doc = json.loads((out / "ladder.json").read_text())
        assert doc["objective"]["name"] == obj
        assert len(doc["objective"]["weights"]) == len(doc["rungs"])
        lad = api.optimize(pd.read_csv(probes), rungs=4, complexity=0.5, objective=obj)
        assert [r.bitrate_kbps for r in lad.rungs] == pytest.approx([r["bitrate_kbps"] for r in doc["rungs"]])
    with pytest.raises(SystemExit) as ex:
        main(["optimize", str(probes), "--objective", "psnr", "-o", str(tmp_path / "x")])
    assert ex.value.code == 2
    with pytest.raises(ConfigError, match="objective"):
        api.optimize(df, rungs=3, objective="sum")
    with pytest.raises(ConfigError, match="objective"):
        api.ladder(tmp_path / "missing.mp4", objective="sum")  # before the source is even opened
