#!/usr/bin/env python3
"""Encoder-tuning benchmark (issue 3, target (a)): how much of a "better than the fixed ladder" figure an
x264 tuning buys on its own, and whether per-shot optimization gains more or less under it.

The ladder benchmark compares pershot with a fixed medium ladder at x264's defaults. x264's psychovisual
options (psy-rd, adaptive quantization) spend bits where the eye looks, not where VMAF, PSNR or SSIM
look, so switching them off moves every metric-based BD-rate, for a fixed ladder as much as for pershot.
This script measures that, on the ladder benchmark's two sources (same clips, same shots, medium only,
4 heights x 11 CRFs):

A. title level: the best fixed ladder (upper hull of one (height, CRF) for all shots) under each tuning
   against the same under x264's defaults, in VMAF, PSNR and SSIM;
B. per-shot gain under each tuning: pershot (medium only, c = 1, 8 rungs VMAF 40-95) against the fixed ladder
   of that same tuning at pershot's rungs; and against the fixed ladder at x264's defaults, the figure one
   would quote if the tuning were counted as pershot's gain;
C. per-shot choice of tuning: per shot, the VMAF hull over every tuning's points against the hull of the best
   single tuning for all shots (duration-weighted mean BD-rate over shots).

Prints a table; writes benchmarks/results/tuning_bench.csv and .json (atomically).

    nice python benchmarks/tuning_bench.py [-j 2]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import ladder_bench as lb  # noqa: E402  (the same clips, grids and ladder)

from pershot import api  # noqa: E402
from pershot.atomic import atomic_path, write_text  # noqa: E402
from pershot.baselines import fixed_ladder, fixed_ladder_hull  # noqa: E402
from pershot.hull import upper_hull  # noqa: E402
from pershot.ladder import optimize_ladder, prepare  # noqa: E402

# name -> x264-params added to every probe (x264's own option names)
TUNINGS = {
    "default": {},
    "aq-mode=0": {"aq-mode": 0},
    "aq-strength=0.6": {"aq-strength": 0.6},
    "psy=0": {"psy": 0},
    "aq-strength=0.6,psy=0": {"aq-strength": 0.6, "psy": 0},
}
METRICS = ("vmaf", "psnr", "ssim")
LADDER = lb.LADDERS["vmaf40-95"]


def grid_for(source: str, params: dict) -> dict:
    g = dict(lb.GRIDS[source])
    g.update(name=f"{g['name']}-medium", encoders={"x264": {"presets": ["medium"], "params": params}})
    return g


def _hull_curve(df: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    r, q = df["bitrate_kbps"].to_numpy(float), df["vmaf"].to_numpy(float)
    idx = upper_hull(r, q)
    return r[idx], q[idx]


def per_shot_choice(probes: dict[str, pd.DataFrame]) -> dict:
    """C: per shot, the hull over all tunings against the hull of each single tuning; the best single tuning
    is the one with the lowest duration-weighted mean over shots."""
    names = list(probes)
    shots = sorted(probes[names[0]]["shot"].unique())
    dur = probes[names[0]].groupby("shot")["duration_s"].first()
    bd = {n: [] for n in names}
    for s in shots:
        union = _hull_curve(pd.concat([p[p["shot"] == s] for p in probes.values()]))
        for n in names:
            bd[n].append(lb._bd(_hull_curve(probes[n][probes[n]["shot"] == s]), union))
    w = dur.loc[shots].to_numpy(float)
    means = {n: float(np.average(np.array(v), weights=w)) for n, v in bd.items()}
    best = max(means, key=means.get)  # the single tuning the union gains least over
    return {"union_vs_each": means, "best_single": best, "union_vs_best_single": means[best]}


def analyse(source: str, probes: dict[str, pd.DataFrame]) -> dict:
    out: dict = {"source": source, "tunings": []}
    preps = {n: {m: prepare(p, m) for m in METRICS} for n, p in probes.items()}
    base_hull = {m: fixed_ladder_hull(preps["default"][m]) for m in METRICS}
    for n in probes:
        row: dict = {"tuning": n, "params": TUNINGS[n],
                     "encode_cpu_s": float(probes[n]["encode_cpu_s"].sum())}
        for m in METRICS:  # A
            h = fixed_ladder_hull(preps[n][m])
            row[f"fixed_hull_bd_{m}"] = lb._bd((base_hull[m]["bitrate_kbps"].to_numpy(), base_hull[m]["quality"].to_numpy()),
                                              (h["bitrate_kbps"].to_numpy(), h["quality"].to_numpy()))
        prep = preps[n]["vmaf"]  # B
        lad = optimize_ladder(prep, LADDER, 1.0)
        r, q = lb._curve(lad)
        targets = [x.spec.kbps for x in lad.rungs]
        for label, p in (("same_tuning", prep), ("defaults", preps["default"]["vmaf"])):
            fl = fixed_ladder(p, targets).dropna(subset=["bitrate_kbps"])
            row[f"pershot_bd_vs_fixed_{label}"] = lb._bd((fl["bitrate_kbps"].to_numpy(), fl["quality"].to_numpy()),
                                                         (r, q))
        out["tunings"].append(row)
    out["per_shot_choice"] = per_shot_choice(probes)
    return out


def _table(results: dict) -> str:
    lines = []
    for src in results["sources"]:
        lines.append(f"\n{src['source']}: BD-rate (%), medium, 4 heights x 11 CRFs")
        lines.append(f"{'tuning':<24}{'fixed VMAF':>11}{'PSNR':>8}{'SSIM':>8}{'ps/same':>9}{'ps/dflt':>9}{'CPU s':>8}")
        for t in src["tunings"]:
            lines.append(f"{t['tuning']:<24}{t['fixed_hull_bd_vmaf']:>11.1f}{t['fixed_hull_bd_psnr']:>8.1f}"
                         f"{t['fixed_hull_bd_ssim']:>8.1f}{t['pershot_bd_vs_fixed_same_tuning']:>9.1f}"
                         f"{t['pershot_bd_vs_fixed_defaults']:>9.1f}{t['encode_cpu_s']:>8.0f}")
        c = src["per_shot_choice"]
        lines.append(f"per-shot choice of tuning vs the best single one ({c['best_single']}): "
                     f"{c['union_vs_best_single']:.1f}%")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sources", nargs="*", default=["testvideo", "photos"], choices=["testvideo", "photos"])
    lb.add_run_args(ap, "tuning_bench")
    args = ap.parse_args(argv)
    work = lb.work_dir(args)
    results: dict = {"ladder": LADDER.to_dict(), "sources": []}
    for source in args.sources:
        if source == "testvideo":
            src, shots = lb.testvideo_small(work / "testvideo270.mp4"), None
        else:
            src, shots = lb.build_photo_clip(work / "photos360.mp4")
        probes = {}
        for n, params in TUNINGS.items():
            t0 = time.perf_counter()
            run = api.run_probes(src, grid_for(source, params), shots=shots, jobs=args.jobs, cache=True)
            probes[n] = run.probes
            print(f"{source} {n}: {len(run.probes)} probes ({int(run.probes['cached'].sum())} cached) in "
                  f"{time.perf_counter() - t0:.0f} s", flush=True)
        results["sources"].append(analyse(source, probes))
    print(_table(results))
    stem = Path(args.out)
    write_text(stem.with_suffix(".json"), json.dumps(results, indent=2, default=float) + "\n")
    rows = [{"source": s["source"], **{k: v for k, v in t.items() if k != "params"},
             "params": json.dumps(t["params"])} for s in results["sources"] for t in s["tunings"]]
    with atomic_path(stem.with_suffix(".csv")) as tmp:
        pd.DataFrame(rows).to_csv(tmp, index=False, float_format="%.6g")
    print(f"\nresults: {stem.with_suffix('.json')}, {stem.with_suffix('.csv')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
