#!/usr/bin/env python3
"""Sparse probing benchmark: how many probes ``pershot ladder --sparse`` measures, and what its ladder
loses against the full grid's.

Sources and grid: the ladder benchmark's (benchmarks/ladder_bench.py): testvideo at 270p (5 shots) and
the photos clip (8 shots), x264 ultrafast..veryslow x 4 heights x 11 CRFs, 396 points per shot, every
point probed (through the probe cache: run ladder_bench.py first, or this script probes them).

1. Simulation, exact: :func:`pershot.sparse.refine` - the same rounds ``--sparse`` runs - on each full
   table, with "measure" looking the point up in the table. For c in {1, 0.5, 0.2, 0.1, 0.05}, on the
   ladder benchmark's primary ladder (8 rungs, VMAF 40-95): points measured, their share of the full
   grid's probe CPU (encode + decode + metrics), rounds, and the BD-rate (VMAF) of the sparse ladder
   against the full grid's ladder at the same c. For comparison, full grids of about the same probe
   cost (fewer presets or fewer CRFs), optimized the same way.
2. ``--variants``: the grid plus the ladder benchmark's six x264 variants (660 points per shot), full and
   sparse, against the plain full grid: does sparse probing make the wider grid affordable?
3. One real run, ``--real SOURCE``: ``api.ladder(..., sparse=True)`` on an empty cache at c = 0.1,
   with wall time, probe CPU and the ladder's BD-rate against the full grid's.

    nice python benchmarks/sparse_bench.py [--sources testvideo photos] [--real testvideo] [-j 2]
    nice python benchmarks/sparse_bench.py --variants --sources testvideo --out benchmarks/results/sparse_bench_variants

Prints a table and writes benchmarks/results/sparse_bench.csv and .json (atomically).
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import ladder_bench as lb  # noqa: E402

from pershot import api  # noqa: E402
from pershot.ladder import optimize_ladder  # noqa: E402
from pershot.predict import skeleton  # noqa: E402
from pershot.sparse import refine  # noqa: E402

COMPLEXITIES = (1.0, 0.5, 0.2, 0.1, 0.05)
CRF6 = [18, 23, 28, 33, 38, 43]
SMALL_GRIDS = {  # full grids of a similar probe cost: (presets or None = all nine, CRFs or None = all eleven)
    "4 presets x 6 CRFs": (["ultrafast", "veryfast", "medium", "veryslow"], CRF6),
    "5 presets x 6 CRFs": (["ultrafast", "veryfast", "fast", "slow", "veryslow"], CRF6),
    "3 presets x 11 CRFs": (["ultrafast", "medium", "veryslow"], None),
    "9 presets x 3 CRFs": (None, [18, 28, 38]),
}
TODO_COLS = ["shot", "start_frame", "end_frame", "frames", "duration_s", "encoder", "preset", "preset_rank",
             "encoder_preset", "params", "width", "height", "rc_mode", "crf", "key"]


def probe_cpu(df: pd.DataFrame) -> float:
    cols = [c for c in ("encode_cpu_s", "encode_overhead_cpu_s", "decode_cpu_s", "metric_cpu_s") if c in df.columns]
    return float(df[cols].fillna(0).to_numpy().sum())


def source(name: str, work: Path):
    if name == "testvideo":
        return lb.testvideo_small(work / "testvideo270.mp4"), None
    return lb.build_photo_clip(work / "photos360.mp4")


def simulate(name: str, full: pd.DataFrame, spec, calib_heights: int = 2) -> list[dict]:
    full = full.reset_index(drop=True)
    by_key = full.set_index("key", drop=False)
    m = skeleton(full, calib_heights=calib_heights)
    rows = []
    for c in COMPLEXITIES:
        ref = optimize_ladder(full, spec, c)
        t0 = time.process_time()
        measured, lad, rounds, converged = refine(
            full[m], full.loc[~m, TODO_COLS], lambda keys: by_key.loc[keys].reset_index(drop=True),
            lambda df, final, _c=c: optimize_ladder(df, spec, _c, exact=final))
        rows.append({"source": name, "complexity": c, "method": "sparse", "points": len(measured),
                     "grid_points": len(full), "points_share": len(measured) / len(full),
                     "probe_cpu_share": probe_cpu(measured) / probe_cpu(full), "rounds": rounds,
                     "converged": converged,
                     "bd_rate_vs_full_pct": lb._bd(lb._curve(ref), lb._curve(lad)),
                     "achieved_complexity": lad.complexity_ratio,
                     "optimizer_cpu_s": time.process_time() - t0})
        for gname, (presets, crfs) in SMALL_GRIDS.items():
            sel = pd.Series(True, index=full.index)
            if presets:
                sel &= full["preset"].isin(presets)
            if crfs:
                sel &= full["crf"].isin(crfs)
            sub = full[sel]
            try:
                lad = optimize_ladder(sub, spec, c)
                bd, ach = lb._bd(lb._curve(ref), lb._curve(lad)), lad.complexity_ratio
            except Exception as ex:  # an infeasible c for a small grid is a result too
                bd, ach = float("nan"), float("nan")
                print(f"  {name} {gname} c={c}: {ex}")
            rows.append({"source": name, "complexity": c, "method": gname, "points": len(sub),
                         "grid_points": len(full), "points_share": len(sub) / len(full),
                         "probe_cpu_share": probe_cpu(sub) / probe_cpu(full), "rounds": 0, "converged": True,
                         "bd_rate_vs_full_pct": bd, "achieved_complexity": ach, "optimizer_cpu_s": float("nan")})
    return rows


def variants(name: str, plain: pd.DataFrame, spec, work: Path, jobs: int) -> list[dict]:
    """The variants grid, full and sparse, against the plain full grid (BD-rate and probe CPU)."""
    src, shots = source(name, work)
    grid = dict(lb.GRIDS[name])
    grid["encoders"] = {"x264": dict(grid["encoders"]["x264"], variants=lb.VARIANTS)}
    full = api.run_probes(src, grid, shots=shots, jobs=jobs, cache=True).probes.reset_index(drop=True)
    by_key = full.set_index("key", drop=False)
    m = skeleton(full)
    rows = []
    for c in COMPLEXITIES:
        ref = optimize_ladder(plain, spec, c)
        wide = optimize_ladder(full, spec, c)
        measured, lad, rounds, _ = refine(
            full[m], full.loc[~m, TODO_COLS], lambda keys: by_key.loc[keys].reset_index(drop=True),
            lambda df, final, _c=c: optimize_ladder(df, spec, _c, exact=final))
        for method, table, ld, n in (("variants, full", full, wide, 0), ("variants, sparse", measured, lad, rounds)):
            rows.append({"source": name, "complexity": c, "method": method, "points": len(table),
                         "grid_points": len(plain), "points_share": len(table) / len(plain),
                         "probe_cpu_share": probe_cpu(table) / probe_cpu(plain), "rounds": n, "converged": True,
                         "bd_rate_vs_full_pct": lb._bd(lb._curve(ref), lb._curve(ld)),
                         "achieved_complexity": ld.complexity_ratio, "optimizer_cpu_s": float("nan")})
    return rows


def real_run(name: str, full: pd.DataFrame, spec, work: Path, jobs: int, c: float = 0.1) -> dict:
    src, shots = source(name, work)
    with tempfile.TemporaryDirectory(prefix="pershot-sparse-bench-") as d:
        t0 = time.perf_counter()
        lad = api.ladder(src, c, spec, grid=lb.GRIDS[name], shots=shots, out_dir=Path(d) / "out", plots=False,
                         jobs=jobs, cache=Path(d) / "cache", sparse=True)
        wall = time.perf_counter() - t0
        probes = pd.read_csv(Path(d) / "out" / "probes.csv")
    ref = optimize_ladder(full, spec, c)
    return {"source": name, "complexity": c, "wall_s": wall, "points": len(probes), "grid_points": len(full),
            "probe_cpu_s": probe_cpu(probes), "full_probe_cpu_s": probe_cpu(full),
            "rounds": lad.stats["sparse"]["rounds"], "bd_rate_vs_full_pct": lb._bd(lb._curve(ref), lb._curve(lad)),
            "achieved_complexity": lad.complexity_ratio}


def _table(rows: list[dict]) -> str:
    out = ["| source | c | method | points (share) | probe CPU share | rounds | BD-rate vs full grid | achieved c |",
           "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        out.append(f"| {r['source']} | {r['complexity']:g} | {r['method']} | {r['points']} "
                   f"({100 * r['points_share']:.0f}%) | {100 * r['probe_cpu_share']:.0f}% | {r['rounds']} | "
                   f"{r['bd_rate_vs_full_pct']:+.2f}% | {r['achieved_complexity']:.3f} |")
    return "\n".join(out)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sources", nargs="*", default=["testvideo", "photos"], choices=["testvideo", "photos"])
    ap.add_argument("--real", nargs="*", default=[], choices=["testvideo", "photos"],
                    help="also run --sparse for real on these sources, from an empty cache")
    ap.add_argument("--variants", action="store_true",
                    help="instead: the grid with the x264 variants, full and sparse, against the plain full grid "
                         "(shares and BD-rates are against the plain grid)")
    ap.add_argument("--calib-heights", type=int, choices=[1, 2], default=2,
                    help="simulate a skeleton calibrated at 2 heights (the default) or at the middle one")
    lb.add_run_args(ap, "sparse_bench")
    args = ap.parse_args(argv)
    work = lb.work_dir(args)
    spec = lb.LADDERS["vmaf40-95"]
    rows, real = [], []
    for name in dict.fromkeys(args.sources + args.real):
        src, shots = source(name, work)
        run = api.run_probes(src, lb.GRIDS[name], shots=shots, jobs=args.jobs, cache=True)
        print(f"{name}: {len(run.probes)} probes ({int(run.probes['cached'].sum())} from the cache)", flush=True)
        if name in args.sources:
            rows.extend(variants(name, run.probes, spec, work, args.jobs) if args.variants
                        else simulate(name, run.probes, spec, args.calib_heights))
        if name in args.real:
            real.append(real_run(name, run.probes, spec, work, args.jobs))
            print(f"  real run: {real[-1]}", flush=True)
    print(_table(rows))
    for r in real:
        print(f"\nreal --sparse run, {r['source']}, c = {r['complexity']:g}: {r['points']} of {r['grid_points']} points, "
              f"probe CPU {r['probe_cpu_s']:.0f} s of the full grid's {r['full_probe_cpu_s']:.0f} s, "
              f"{r['wall_s']:.0f} s wall, {r['rounds']} rounds, BD-rate vs the full grid "
              f"{r['bd_rate_vs_full_pct']:+.2f}%, complexity {r['achieved_complexity']:.3f}")
    lb.write_results(Path(args.out), {"grids": {n: lb.GRIDS[n] for n in args.sources}, "simulated": rows, "real": real},
                     pd.DataFrame(rows + [dict(r, method="sparse (real run)") for r in real]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
