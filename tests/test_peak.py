"""Shot bitrate caps (``peak_ratio``): brute force on small cases, the ladder layer, the TOML and the CLI."""
from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from pershot.errors import ConfigError, InfeasibleError, OptimizeError
from pershot.ladder import LadderSpec, optimize_ladder, parse_ladder_toml
from pershot.optimize import RDCPoints, RungTarget, solve
from pershot.synthetic import X264_PRESETS, synthetic_probes


def _toy(rng, shots=3, points=5):
    rate, qual = [], []
    dur = rng.uniform(0.5, 3.0, shots)
    for s in range(shots):
        # shots of very different difficulty: a hard shot needs several times the rate for the same quality
        k = rng.uniform(0.3, 3.0)
        r = np.sort(rng.uniform(100, 3000, points)) * k
        rate.append(r)
        qual.append(np.clip(30 * np.log(r / (50 * k)) + rng.normal(0, 3, points), 0, 100))
    return RDCPoints.from_lists(rate, qual, None, dur)


def test_brute_force_with_a_shot_bitrate_cap():
    """One rate rung with a cap: never better than brute force over the capped choices, equal to it in the
    large majority of cases, every shot at or under the cap (or at its cheapest point when nothing fits)."""
    rng = np.random.default_rng(21)
    n = exact = 0
    for _ in range(200):
        p = _toy(rng)
        S = p.shots
        ar = np.arange(S)
        d, D = p.duration, p.duration.sum()
        combos = np.array(list(itertools.product(*[np.flatnonzero(p.valid[s]) for s in range(S)])))
        R = (p.rate[ar, combos] * d).sum(1) / D
        Q = (p.quality[ar, combos] * d).sum(1) / D
        target = float(rng.uniform(R.min(), R.max()))
        cap = target * float(rng.uniform(1.0, 2.5))
        allowed = p.valid & (p.rate <= cap)
        none = ~allowed.any(axis=1)
        allowed[none, 0] = True  # a shot with no point under the cap keeps its cheapest
        ok = allowed[ar, combos].all(axis=1) & (R <= target * (1 + 1e-12))
        if not ok.any():
            with pytest.raises(Exception):
                solve(p, [RungTarget("rate", target, max_rate=cap)])
            continue
        best = Q[ok].max()
        sol = solve(p, [RungTarget("rate", target, max_rate=cap)])
        chosen = sol.choice[0]
        assert allowed[ar, chosen].all()
        assert sol.rate[0] <= target * (1 + 1e-9)
        assert sol.quality[0] <= best + 1e-9
        n += 1
        exact += abs(sol.quality[0] - best) < 1e-7
    assert n > 120
    assert exact >= 0.85 * n, f"only {exact}/{n} optimal"


def test_cap_binds_and_costs_quality():
    # shot 1 is hard: uncapped, the rung gives it most of the rate
    rate = [[100, 200, 400], [300, 900, 2000]]
    qual = [[70, 80, 85], [40, 70, 90]]
    p = RDCPoints.from_lists(rate, qual)
    free = solve(p, [RungTarget("rate", 1100.0)])
    assert p.rate[1, free.choice[0, 1]] == 2000
    capped = solve(p, [RungTarget("rate", 1100.0, max_rate=1100.0 * 1.5)])
    assert p.rate[1, capped.choice[0, 1]] == 900
    assert capped.quality[0] < free.quality[0]
    with pytest.raises(OptimizeError):
        RungTarget("rate", 100.0, max_rate=0.0)


def _df():
    return synthetic_probes(10, presets=list(X264_PRESETS)[::2], heights=(720, 540, 360), crfs=(18, 24, 30, 36, 42),
                            seed=4)


def _spread(df):
    """Make the shots' difficulty differ several-fold, as on real titles (sports next to a talking head)."""
    df = df.copy()
    f = np.geomspace(0.4, 3.0, df["shot"].nunique())
    df["bitrate_kbps"] = df["bitrate_kbps"] * df["shot"].map(dict(enumerate(f)))
    df["size_bytes"] = (df["bitrate_kbps"] * 1000 / 8 * df["duration_s"]).round().astype(int)
    return df


@pytest.mark.parametrize("per_shot", [False, True])
def test_ladder_respects_peak_ratio_and_reports_it(per_shot):
    df = _spread(_df())
    free = optimize_ladder(df, 5, 0.3, per_shot_resolution=per_shot)
    assert max(r.peak_kbps / r.target_kbps for r in free.rungs) > 2.0  # the test needs a cap that binds
    spec = LadderSpec.from_kbps([r.target_kbps for r in free.rungs], peak_ratio=2.0)
    lad = optimize_ladder(df, spec, 0.3, per_shot_resolution=per_shot)
    t = lad.table
    for r in lad.rungs:
        sub = t[t["rung"] == r.index]
        assert r.peak_cap_kbps == pytest.approx(2.0 * r.target_kbps)
        assert r.peak_kbps == pytest.approx(sub["bitrate_kbps"].max())
        assert r.peak_ratio == pytest.approx(r.peak_kbps / r.bitrate_kbps)
        over = sub["bitrate_kbps"] > r.peak_cap_kbps * (1 + 1e-9)
        if over.any():  # only shots that cannot get under the cap at all, and the ladder says so
            cheapest = df.groupby("shot")["bitrate_kbps"].min()
            assert (sub.loc[over, "bitrate_kbps"].to_numpy() == cheapest[sub.loc[over, "shot"]].to_numpy()).all()
            assert any("shot cap" in w for w in lad.warnings)
        assert r.bitrate_kbps <= r.target_kbps * (1 + 1e-9)
    assert lad.cpu_s <= 0.3 * lad.anchor_cpu_s * (1 + 1e-9)
    assert sum(r.quality for r in lad.rungs) <= sum(r.quality for r in free.rungs) + 1e-6
    s = lad.summary()
    assert {"peak_kbps", "peak_ratio", "peak_cap_kbps"} <= set(s.columns)
    d = lad.to_dict()
    assert d["ladder_spec"]["peak_ratio"] == 2.0
    assert d["rungs"][0]["peak_cap_kbps"] == pytest.approx(2.0 * lad.rungs[0].target_kbps)


@pytest.mark.parametrize("seed", [0, 4, 5, 11])
def test_a_cap_the_ladder_already_meets_changes_nothing(seed):
    # the uncapped ladder's busiest shot sets the cap, a hair above it: the capped ladder is as good
    # (the area objective's rung weights come from the ladder without caps, and the ladder solved
    # without caps is kept where it meets them and is better)
    df = synthetic_probes(6, presets=("ultrafast", "veryfast", "medium", "veryslow"), heights=(720, 540, 360),
                          crfs=(20, 24, 28, 32, 36, 40), seed=seed)
    rungs = tuple(r.spec for r in optimize_ladder(df, LadderSpec.auto(6), 0.3).rungs)
    for c in (0.1, 0.3, 1.0):
        try:
            free = optimize_ladder(df, LadderSpec(rungs=rungs), c)
        except InfeasibleError:  # too tight for these rungs at all (seed 11 at 0.1)
            continue
        cap = max(r.peak_kbps / r.spec.kbps for r in free.rungs) * 1.001
        capped = optimize_ladder(df, LadderSpec(rungs=rungs, peak_ratio=cap), c)
        assert capped.weights == pytest.approx(free.weights)
        w = np.array(free.weights)
        assert w @ [r.quality for r in capped.rungs] >= w @ [r.quality for r in free.rungs] - 1e-9
        assert capped.complexity_ratio <= c and all(r.peak_kbps <= r.peak_cap_kbps * (1 + 1e-9)
                                                    for r in capped.rungs)


def test_peak_ratio_in_toml_and_bad_values():
    spec = parse_ladder_toml("peak_ratio = 2.0\n[[rung]]\nkbps = 400\n[[rung]]\nkbps = 800\n")
    assert spec.peak_ratio == 2.0
    for bad in ("0.5", "true", '"2"', "nan"):
        with pytest.raises(ConfigError):
            parse_ladder_toml(f"peak_ratio = {bad}\n[[rung]]\nkbps = 400\n")


def test_quality_rungs_are_not_capped_and_the_ladder_says_so():
    df = _df()
    spec = LadderSpec.coerce({"peak_ratio": 1.5, "rung": [{"kbps": 300}, {"vmaf": 90}]})
    lad = optimize_ladder(df, spec, 1.0)
    q = [r for r in lad.rungs if r.target_quality is not None]
    assert q and q[0].peak_cap_kbps is None
    assert any("quality rungs are not capped" in w for w in lad.warnings)


def test_cli_peak_ratio(tmp_path):
    from pershot.cli import main

    probes = tmp_path / "probes.csv"
    _spread(_df()).to_csv(probes, index=False)
    out = tmp_path / "out"
    assert main(["optimize", str(probes), "--rungs", "4", "-c", "0.5", "--peak-ratio", "2", "-o", str(out),
                 "--no-plots", "-q"]) == 0
    s = pd.read_csv(out / "summary.csv")
    ok = s[s["status"] == "ok"]
    assert (ok["peak_cap_kbps"] == 2 * ok["target_kbps"]).all()
    with pytest.raises(SystemExit) as ex:
        main(["optimize", str(probes), "--peak-ratio", "0.9", "-o", str(out)])
    assert ex.value.code == 2
