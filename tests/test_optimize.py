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


def _two_rung_case(rng):
    """A random toy, two rate targets at least 5% apart inside its range, and a CPU budget; None when the
    targets drawn are too close."""
    p = _toy(rng)
    _, R, _, _ = _all_combos(p)
    t1, t2 = np.sort(rng.uniform(R.min(), R.max(), 2))
    if t2 / t1 < 1.05:
        return None
    return p, t1, t2, rng.uniform(0.3, 1.0) * p.cpu[p.valid].sum()


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
    """Arbitrary targets and budgets (duality gaps): always feasible, never below the plain Lagrangian
    (when that is a valid, strictly rising ladder), never above brute force, and equal to the brute-force
    optimum over strictly rising ladders in the large majority of cases."""
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
        rising = (Q[i1][:, None] < Q[i2][None, :]) & (R[i1][:, None] < R[i2][None, :])
        budget = rng.uniform(TT.min(), TT.max())
        best = QQ[TT <= budget].max()
        if not (rising & (TT <= budget)).any():
            continue
        best_rising = QQ[rising & (TT <= budget)].max()
        rungs = [RungTarget("rate", t1), RungTarget("rate", t2)]
        sol = solve(p, rungs, cpu_budget=budget)
        floor = solve(p, rungs, cpu_budget=budget, greedy=False)
        assert sol.total_cpu <= budget * (1 + 1e-9)
        assert np.all(sol.rate <= np.array([t1, t2]) * (1 + 1e-9))
        assert sol.quality.sum() <= best + 1e-9
        if floor.quality[1] > floor.quality[0] and floor.rate[1] > floor.rate[0]:
            assert sol.quality.sum() >= floor.quality.sum() - 1e-9
        n += 1
        exact += abs(sol.quality.sum() - best_rising) < 1e-7
    assert n > 90
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


# --------------------------------------------------------------------------- ladder level (synthetic probes)

import pandas as pd  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from pershot.errors import ConfigError  # noqa: E402
from pershot.ladder import LadderSpec, RungSpec, optimize_ladder  # noqa: E402
from pershot.synthetic import X264_PRESETS, synthetic_probes  # noqa: E402

ALL_PRESETS = list(X264_PRESETS)


def _check_ladder(lad, c):
    assert lad.cpu_s <= c * lad.anchor_cpu_s * (1 + 1e-9)
    rates = [r.bitrate_kbps for r in lad.rungs]
    quals = [r.quality for r in lad.rungs]
    assert all(b > a for a, b in zip(rates, rates[1:])), rates
    assert all(b > a for a, b in zip(quals, quals[1:])), quals
    for r in lad.rungs:
        if r.target_kbps is not None:
            assert r.bitrate_kbps <= r.target_kbps * (1 + 1e-9)
        else:
            assert r.quality >= r.target_quality - 1e-9
    n_shots = lad.prepared.points.shots
    assert len(lad.table) == n_shots * len(lad.rungs)
    assert sorted(lad.table.groupby("rung")["shot"].nunique().unique()) == [n_shots]
    # the table's figures are the duration-weighted rung figures
    t = lad.table
    for r in lad.rungs:
        sub = t[t["rung"] == r.index]
        d = sub["duration_s"].to_numpy()
        assert (sub["bitrate_kbps"] * d).sum() / d.sum() == pytest.approx(r.bitrate_kbps, rel=1e-9)
        assert sub["encode_cpu_s"].sum() == pytest.approx(r.encode_cpu_s, rel=1e-9)


@st.composite
def _problems(draw):
    shots = draw(st.integers(1, 5))
    presets = draw(st.lists(st.sampled_from(ALL_PRESETS), min_size=2, max_size=5, unique=True))
    heights = draw(st.lists(st.sampled_from([1080, 720, 540, 360]), min_size=1, max_size=3, unique=True))
    crfs = draw(st.lists(st.integers(16, 44), min_size=2, max_size=5, unique=True))
    seed = draw(st.integers(0, 10_000))
    df = synthetic_probes(shots, presets=presets, heights=heights, crfs=crfs, seed=seed)
    return df


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_problems(), st.floats(0.03, 1.0), st.booleans(), st.integers(1, 5), st.integers(0, 2**31 - 1))
def test_ladder_properties(df, c, per_shot, n_rungs, perm_seed):
    """Budget respected, rungs strictly rising in rate and quality, one resolution per rung by default,
    and the same ladder whatever the order of the probe rows."""
    try:
        lad = optimize_ladder(df, n_rungs, c, per_shot_resolution=per_shot)
    except InfeasibleError as ex:
        assert ex.min_feasible is not None and ex.min_feasible > c
        return
    except OptimizeError as ex:  # every rung dropped (a flat source): must say so
        assert "no rung" in str(ex)
        return
    _check_ladder(lad, c)
    if not per_shot:
        assert all(r.height is not None for r in lad.rungs)
        assert (lad.table.groupby("rung")["height"].nunique() == 1).all()
    shuffled = df.sample(frac=1.0, random_state=perm_seed % (2**32)).reset_index(drop=True)
    lad2 = optimize_ladder(shuffled, n_rungs, c, per_shot_resolution=per_shot)
    cols = ["rung", "shot", "preset", "height", "crf", "bitrate_kbps", "vmaf", "encode_cpu_s"]
    a = lad.table[cols].sort_values(["rung", "shot"]).reset_index(drop=True)
    b = lad2.table[cols].sort_values(["rung", "shot"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b)


def test_a_budgeted_solve_that_loses_the_rising_order_falls_back_to_the_free_ladder():
    """Found by the property test above: 5 auto rungs over two shots of 2 CRFs x 5 presets. The budgeted
    solve (area weights) at complexity 1 did not rise strictly, and the ladder raised "infeasible at every
    complexity up to 1" although the ladder solved without a budget rises and fits: it is now the ladder."""
    df = synthetic_probes(2, presets=["ultrafast", "placebo", "fast", "slow", "slower"], heights=[720], crfs=[43, 25],
                          seed=2485)
    lad = optimize_ladder(df, 5, 1.0)
    _check_ladder(lad, 1.0)
    assert len(lad.rungs) == 5
    with pytest.raises(InfeasibleError) as ex:
        optimize_ladder(df, 5, 0.2)
    assert ex.value.min_feasible is not None and ex.value.min_feasible > 0.2
    _check_ladder(optimize_ladder(df, 5, ex.value.min_feasible), ex.value.min_feasible)


def test_complexity_lands_in_the_target_band():
    """Achieved complexity inside [0.9c, c] for c from 0.03 to 1, or the (cheaper) unconstrained optimum."""
    df = synthetic_probes(24, presets=ALL_PRESETS, heights=(1080, 720, 540, 360, 270), crfs=(18, 23, 28, 33, 38, 43),
                          seed=1)
    spec = LadderSpec.from_kbps([300, 600, 1000, 1600, 2500, 4000])
    for c in (0.03, 0.05, 0.1, 0.2, 0.35, 0.5, 0.75, 1.0):
        lad = optimize_ladder(df, spec, c)
        _check_ladder(lad, c)
        if lad.budget_binds:
            assert 0.9 * c <= lad.complexity_ratio <= c, (c, lad.complexity_ratio)
        else:
            assert lad.unconstrained_ratio <= c
            assert lad.complexity_ratio <= c


def test_more_budget_never_hurts_much_and_binds_where_it_should():
    df = synthetic_probes(12, presets=ALL_PRESETS, heights=(720, 540, 360), crfs=(20, 26, 32, 38), seed=3)
    spec = LadderSpec.from_kbps([400, 800, 1600])
    quals = []
    for c in (0.05, 0.1, 0.3, 1.0):
        lad = optimize_ladder(df, spec, c)
        quals.append(np.mean([r.quality for r in lad.rungs]))
    assert quals[-1] >= quals[0]
    assert all(b >= a - 0.5 for a, b in zip(quals, quals[1:]))


def test_infeasible_complexity_names_the_smallest_feasible_value():
    df = synthetic_probes(4, presets=["fast", "medium", "veryslow"], heights=(720,), crfs=(22, 30, 38), seed=5)
    with pytest.raises(InfeasibleError) as ei:
        optimize_ladder(df, 3, 0.01)
    mf = ei.value.min_feasible
    assert 0.01 < mf <= 1.0
    assert f"{mf:g}" in str(ei.value)
    lad = optimize_ladder(df, 3, mf)  # the named value works
    _check_ladder(lad, mf)


def test_unconstrained_optimum_is_reported_when_cheaper():
    df = synthetic_probes(6, seed=8)
    lad = optimize_ladder(df, 4, 1.0)
    if not lad.budget_binds:
        assert lad.unconstrained_ratio <= 1.0
        assert any("does not bind" in w for w in lad.warnings)
        s = lad.summary()
        assert not s["budget_binds"].any()


@pytest.mark.parametrize("c", [0.0, -0.1, 1.01, float("nan"), float("inf"), True])
def test_complexity_out_of_range(c):
    df = synthetic_probes(2, seed=1)
    with pytest.raises(OptimizeError, match="complexity"):
        optimize_ladder(df, 3, c)


def test_missing_columns_and_bad_probes():
    df = synthetic_probes(3, seed=1)
    with pytest.raises(OptimizeError, match="encode_cpu_s"):
        optimize_ladder(df.drop(columns=["encode_cpu_s"]), 3, 0.5)
    with pytest.raises(OptimizeError, match="vmaf"):
        optimize_ladder(df.drop(columns=["vmaf"]), 3, 0.5)
    with pytest.raises(OptimizeError, match="no probes"):
        optimize_ladder(df.iloc[:0], 3, 0.5)
    bad = df.copy()
    bad.loc[bad["shot"] == 1, "duration_s"] = np.where(np.arange((bad["shot"] == 1).sum()) % 2, 1.0, 2.0)
    with pytest.raises(OptimizeError, match="contradictory duration"):
        optimize_ladder(bad, 3, 0.5)


def test_nan_metrics_are_dropped_with_a_warning_and_a_shot_without_scores_is_an_error():
    df = synthetic_probes(3, seed=1)
    some = df.copy()
    some.loc[some.index[::7], "vmaf"] = np.nan
    lad = optimize_ladder(some, 3, 0.5)
    assert any("ignored" in w for w in lad.warnings)
    assert lad.table["vmaf"].notna().all()
    none = df.copy()
    none.loc[none["shot"] == 2, "vmaf"] = np.nan
    with pytest.raises(OptimizeError, match=r"shot\(s\) \[2\]"):
        optimize_ladder(none, 3, 0.5)


def test_infinite_psnr_is_capped():
    df = synthetic_probes(3, seed=2)
    df.loc[df["crf"] == df["crf"].min(), "psnr_y"] = np.inf  # identical frames
    lad = optimize_ladder(df, 3, 0.5, metric="psnr")
    assert any("infinite psnr_y" in w for w in lad.warnings)
    assert np.isfinite(lad.table["psnr_y"]).all() and lad.table["psnr_y"].max() <= max(60.0, df["psnr_y"][
        np.isfinite(df["psnr_y"])].max())
    import json

    json.dumps(lad.to_dict(), allow_nan=False)  # strict JSON


def test_single_shot_and_single_frame_shot():
    df = synthetic_probes(1, seed=3, min_frames=1, max_frames=1)
    assert (df["frames"] == 1).all()
    lad = optimize_ladder(df, 3, 0.5)
    _check_ladder(lad, 0.5)
    assert len(lad.table) == len(lad.rungs)


def test_quality_rungs_reach_their_target():
    df = synthetic_probes(5, seed=4)
    spec = LadderSpec(rungs=(RungSpec(quality=85.0, metric="vmaf"), RungSpec(quality=93.0, metric="vmaf")))
    lad = optimize_ladder(df, spec, 1.0)
    assert [r.target_quality for r in lad.rungs] == [85.0, 93.0]
    for r in lad.rungs:
        assert r.quality >= r.target_quality
    with pytest.raises(ConfigError, match="--metric vmaf"):
        optimize_ladder(df, spec, 1.0, metric="psnr")


def test_cli_target_gives_quality_rungs_and_their_metric(tmp_path, capsys):
    """``--target vmaf=85,93`` is the ladder of those two quality rungs (the same as a ladder TOML of
    them) and sets the metric; a contradicting --metric, or a malformed target, fails before any work."""
    from pershot.cli import main

    df = synthetic_probes(5, seed=4)
    probes = tmp_path / "probes.csv"
    df.to_csv(probes, index=False)
    assert main(["optimize", str(probes), "--target", "vmaf=85,93", "-c", "1", "-o", str(tmp_path / "a"),
                 "--no-plots", "-q"]) == 0
    got = pd.read_csv(tmp_path / "a" / "summary.csv")
    spec = LadderSpec(rungs=(RungSpec(quality=85.0, metric="vmaf"), RungSpec(quality=93.0, metric="vmaf")))
    want = optimize_ladder(df, spec, 1.0)
    assert list(got["target_quality"]) == [85.0, 93.0] and (got["quality"] >= got["target_quality"]).all()
    assert np.allclose(got["bitrate_kbps"], [r.bitrate_kbps for r in want.rungs])
    assert main(["optimize", str(probes), "--target", "psnr=38", "-c", "1", "-o", str(tmp_path / "b"),
                 "--no-plots", "-q"]) == 0
    assert set(pd.read_csv(tmp_path / "b" / "summary.csv")["metric"]) == {"psnr"}
    capsys.readouterr()
    assert main(["optimize", str(probes), "--target", "psnr=38", "--metric", "vmaf", "-o", str(tmp_path / "c"),
                 "-q"]) == 2
    assert "--metric psnr" in capsys.readouterr().err and not (tmp_path / "c").exists()
    for bad in ("vmaf", "vmaf=x", "bitrate=3", "vmaf=nan"):
        with pytest.raises(SystemExit) as ex:
            main(["optimize", str(probes), "--target", bad, "-o", str(tmp_path / "d"), "-q"])
        assert ex.value.code == 2


def _cheapest_at_floor(df: pd.DataFrame, floor: float, by_height: bool) -> float:
    """Brute force: the duration-weighted rate of every shot at its cheapest probe reaching ``floor``
    (per resolution, the best resolution where every shot reaches it)."""
    ok = df[df["vmaf"] >= floor]
    d = df.groupby("shot")["duration_s"].first()
    if not by_height:
        r = ok.groupby("shot")["bitrate_kbps"].min()
        return float((r * d).sum() / d.sum())
    best = np.inf
    for _, g in ok.groupby("height"):
        r = g.groupby("shot")["bitrate_kbps"].min()
        if len(r) == len(d):
            best = min(best, float((r * d).sum() / d.sum()))
    return best


def test_shot_floors_known_optima():
    """A quality rung whose floor is its target is each shot at its cheapest probe reaching it (Av1an's
    target-quality mode, per shot): checked against brute force, with and without one resolution per
    rung; the same rung without the floor is cheaper on average, with a shot below the target."""
    df = synthetic_probes(6, seed=7)
    for psr in (True, False):
        floored = LadderSpec(rungs=(RungSpec(quality=90.0, metric="vmaf", min_shot_quality=90.0,
                                             min_shot_metric="vmaf"),))
        lad = optimize_ladder(df, floored, 1.0, per_shot_resolution=psr)
        (r,) = lad.rungs
        assert r.worst_quality >= 90.0 and lad.table["vmaf"].min() >= 90.0
        assert r.bitrate_kbps == pytest.approx(_cheapest_at_floor(df, 90.0, by_height=not psr), rel=1e-9)
        free = optimize_ladder(df, LadderSpec(rungs=(RungSpec(quality=90.0, metric="vmaf"),)), 1.0,
                               per_shot_resolution=psr)
        assert free.rungs[0].bitrate_kbps < r.bitrate_kbps and free.rungs[0].worst_quality < 90.0
        s = lad.summary()
        assert s.loc[0, "min_shot_quality"] == 90.0 and s.loc[0, "worst_shot_quality"] == pytest.approx(r.worst_quality)


def test_a_shot_floor_on_a_bitrate_rung_and_in_a_ladder_file():
    df = synthetic_probes(6, seed=2)
    spec = LadderSpec.coerce({"rung": [{"kbps": 600}, {"kbps": 2500, "min_shot_vmaf": 88}]})
    assert spec.rungs[1].min_shot_quality == 88.0 and spec.rungs[1].min_shot_metric == "vmaf"
    assert LadderSpec.coerce(spec.to_dict()) == spec
    lad = optimize_ladder(df, spec, 0.5)
    top = lad.rungs[1]
    assert top.worst_quality >= 88.0 and top.bitrate_kbps <= 2500 * (1 + 1e-9)
    # one rung, no budget: a floor above the free rung's worst shot binds, and costs mean quality
    free = optimize_ladder(df, LadderSpec.coerce({"rung": [{"kbps": 2500}]}), 1.0)
    floor = free.rungs[0].worst_quality + 0.5
    one = optimize_ladder(df, LadderSpec.coerce({"rung": [{"kbps": 2500, "min_shot_vmaf": floor}]}), 1.0)
    assert one.rungs[0].worst_quality >= floor and one.rungs[0].bitrate_kbps <= 2500 * (1 + 1e-9)
    assert free.rungs[0].quality >= one.rungs[0].quality - 1e-9
    # a floor out of reach of the rung's bitrate: dropped with the reason
    low = optimize_ladder(df, LadderSpec.coerce({"rung": [{"kbps": 600, "min_shot_vmaf": 97}, {"kbps": 2500}]}), 1.0)
    assert [d.spec.kbps for d in low.dropped] == [600.0] and "every shot at vmaf 97" in low.dropped[0].reason
    with pytest.raises(ConfigError, match="--metric vmaf"):
        optimize_ladder(df, spec, 0.5, metric="psnr")
    with pytest.raises(ConfigError, match="mix metrics"):
        LadderSpec.coerce({"rung": [{"vmaf": 90}, {"kbps": 2500, "min_shot_psnr": 40}]})
    with pytest.raises(ConfigError, match="several shot floors"):
        LadderSpec.coerce({"rung": [{"kbps": 2500, "min_shot_psnr": 40, "min_shot_vmaf": 80}]})


def test_cli_each_shot(tmp_path, capsys):
    from pershot.cli import main

    df = synthetic_probes(5, seed=4)
    probes = tmp_path / "probes.csv"
    df.to_csv(probes, index=False)
    assert main(["optimize", str(probes), "--target", "vmaf=90", "--each-shot", "-c", "1", "-o",
                 str(tmp_path / "a"), "--no-plots", "-q"]) == 0
    assert pd.read_csv(tmp_path / "a" / "ladder.csv")["vmaf"].min() >= 90.0
    capsys.readouterr()
    assert main(["optimize", str(probes), "--each-shot", "-o", str(tmp_path / "b"), "-q"]) == 2
    assert "--each-shot goes with --target" in capsys.readouterr().err


def test_out_of_reach_rungs_are_dropped_not_duplicated():
    df = synthetic_probes(3, seed=1)
    spec = LadderSpec.from_kbps([1, 300, 600, 1_000_000, 2_000_000])
    lad = optimize_ladder(df, spec, 0.5)
    reasons = {d.spec.kbps: d.reason for d in lad.dropped}
    assert "below the cheapest" in reasons[1.0]
    assert "above the best" in reasons[1_000_000.0] and "above the best" in reasons[2_000_000.0]
    assert [r.target_kbps for r in lad.rungs] == [300.0, 600.0]
    s = lad.summary()
    assert (s["status"] == "dropped").sum() == 3


def test_multiple_encoders_pick_one_with_a_warning():
    a = synthetic_probes(2, seed=1, encoder="x264")
    b = synthetic_probes(2, seed=1, encoder="x265")
    lad = optimize_ladder(pd.concat([a, b]), 2, 0.5)
    assert lad.encoder == "x264" and any("--encoder" in w for w in lad.warnings)
    lad = optimize_ladder(pd.concat([a, b]), 2, 0.5, encoder="x265")
    assert set(lad.table["encoder"]) == {"x265"}
    with pytest.raises(OptimizeError, match="no probes for encoder"):
        optimize_ladder(a, 2, 0.5, encoder="svtav1")


def test_api_names_stay_callable_after_module_imports(tmp_path):
    import pershot
    import pershot.ladder  # noqa: F401 - rebinds pershot.ladder to the module
    import pershot.optimize  # noqa: F401

    df = synthetic_probes(2, seed=1)
    p = tmp_path / "probes.csv"
    df.to_csv(p, index=False)
    lad = pershot.optimize(str(p), complexity=0.5, rungs=3)
    assert isinstance(lad, pershot.Ladder)
    assert callable(pershot.ladder)


def test_generated_rungs_span_the_quality_range_without_duplicates():
    from pershot.ladder import _auto_targets, _Reach, prepare

    df = synthetic_probes(6, seed=12)
    prep = prepare(df)
    for spec in (LadderSpec.auto(8), LadderSpec.auto(8, min_quality=(("vmaf", 60.0),), max_quality=(("vmaf", 90.0),)),
                 LadderSpec.auto(12, min_step=1.5, max_step=2.0, min_quality=(("vmaf", 85.0),),
                                 max_quality=(("vmaf", 90.0),))):
        kb = [r.kbps for r in _auto_targets(_Reach(prep.points), spec, prep)]
        assert all(b > a for a, b in zip(kb, kb[1:])), kb
        steps = [b / a for a, b in zip(kb, kb[1:])]
        assert all(1.5 * 0.99 <= x <= 2.0 * 1.01 for x in steps), steps
        lad = optimize_ladder(prep, spec, 1.0)
        q = [r.quality for r in lad.rungs]
        if spec.floor("vmaf") is not None:
            assert q[0] >= spec.floor("vmaf") - 1.0 and q[-1] <= spec.ceiling("vmaf") + 1.0


def test_one_set_of_parameter_sets_per_rung():
    """``same_parameter_sets``: every rung's shots share one ``param_sets`` digest (x265's presets write
    four sets: ultrafast, superfast, veryfast...slow, slower...), within the budget and rising; the free
    ladder mixes them. Probes without digests: an error when asked for, a warning when left to chance."""
    family = {"ultrafast": "A", "veryfast": "C", "medium": "C", "slow": "C", "veryslow": "D"}
    df = synthetic_probes(12, presets=list(family), heights=(720, 540, 360), crfs=(18, 24, 30, 36, 42), seed=3)
    df["param_sets"] = [f"ps{family[p]}{h}" for p, h in zip(df["preset"], df["height"])]
    mixed = 0
    for c in (0.05, 0.1, 0.3, 1.0):
        free = optimize_ladder(df, 6, c)
        mixed += int((free.table.groupby("rung")["param_sets"].nunique() > 1).sum())
        lad = optimize_ladder(df, 6, c, same_parameter_sets=True)
        _check_ladder(lad, c)
        assert (lad.table.groupby("rung")["param_sets"].nunique() == 1).all()
        assert (lad.table.groupby("rung")["height"].nunique() == 1).all()
    assert mixed > 0  # the constraint had something to do
    with pytest.raises(OptimizeError, match="param_sets"):
        optimize_ladder(df.drop(columns="param_sets"), 6, 0.3, same_parameter_sets=True)
    auto = optimize_ladder(df.assign(param_sets=""), 6, 0.3, same_parameter_sets=None)
    assert any("--no-cache" in w for w in auto.warnings)
    known = optimize_ladder(df, 6, 0.3, same_parameter_sets=None)  # known digests: applied
    assert (known.table.groupby("rung")["param_sets"].nunique() == 1).all()
    # a shot whose encodes share no set with the others' (a one-frame shot, coded intra-only): out of reach;
    # asked for, an error; left to chance, the free ladder with a warning
    alone = df.assign(param_sets=np.where(df["shot"] == 0, "psalone" + df["preset"], df["param_sets"]))
    with pytest.raises((InfeasibleError, OptimizeError)):
        optimize_ladder(alone, 6, 0.3, same_parameter_sets=True)
    fallback = optimize_ladder(alone, 6, 0.3, same_parameter_sets=None)
    assert any("out of reach" in w for w in fallback.warnings)
    _check_ladder(fallback, 0.3)
    assert fallback.stats["same_parameter_sets"] is False and known.stats["same_parameter_sets"] is True


def test_probes_without_a_preset_or_crf_are_an_error_not_a_ladder_without_a_command():
    """A blank preset crashed the optimizer (arrays of two lengths); a blank CRF gave a ladder.json whose shot
    had no command, which pershot encode then blamed on the pershot version (found by a review)."""
    df = synthetic_probes(3, presets=("fast", "medium"), heights=(720,), crfs=(22, 30, 38), seed=2)
    for col, msg in (("preset", "missing preset"), ("crf", "missing CRF/QP")):
        bad = df.copy()
        bad[col] = bad[col].astype(object)
        bad.loc[bad.index[4], col] = None
        with pytest.raises(OptimizeError, match=msg):
            optimize_ladder(bad, 2, 0.5)
