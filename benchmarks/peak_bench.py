#!/usr/bin/env python3
"""Peak bitrate benchmark: what a shot bitrate cap (``--peak-ratio``) costs, and what it holds.

Per-shot encoding gives hard shots more bits than easy ones, so a rung's busiest shot can run well
above the rung's average; Apple's HLS authoring spec asks VOD renditions to keep their peak under
twice their average. ``peak_ratio = R`` caps every shot of a bitrate rung at R x the rung's target.

Sources (probed through the probe cache):

* ``testvideo`` and ``photos``: the ladder benchmark's two clips and grids (benchmarks/ladder_bench.py);
* ``mixed``: a clip built here from six shots of very different difficulty (ffmpeg's testsrc2,
  mandelbrot, life and cellauto sources, and two scikit-image photographs, one panned and one still),
  640x360 at 24 fps, 2 s each, probed with x264 {ultrafast, veryfast, medium, veryslow} x 3 heights x
  6 CRFs.

For each source, the ladder benchmark's primary ladder (8 rungs from VMAF 40 to 95 along the title's
hull, one resolution per rung), at complexity 1 and 0.1, with no cap and with R = 3, 2, 1.5: the
largest peak-to-average ratio of any rung (the busiest shot's bitrate over the rung's average), the
largest peak over the rung's target, how many (rung, shot) encodes stay above the cap (shots that
cannot get under it at any probe), and the BD-rate (VMAF) against the uncapped ladder at the same
complexity.

    nice python benchmarks/peak_bench.py [-j 2] [--sources testvideo photos mixed]

Prints a table and writes benchmarks/results/peak_bench.csv and .json (atomically).
"""
from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import ladder_bench as lb  # noqa: E402

from pershot import api  # noqa: E402
from pershot.ladder import optimize_ladder, prepare  # noqa: E402

RATIOS = (None, 3.0, 2.0, 1.5)
COMPLEXITIES = (1.0, 0.1)
MIXED_GRID = {"name": "bench-peak-mixed", "description": "x264 4 presets x 3 heights x 6 CRFs",
              "heights": [360, 270, 180], "crf": [18, 23, 28, 33, 38, 43], "threads": 1, "keyint": 0,
              "metrics": {"n_subsample": 2},
              "encoders": {"x264": {"presets": ["ultrafast", "veryfast", "medium", "veryslow"]}}}


def analyse(name: str, probes: pd.DataFrame) -> list[dict]:
    prep = prepare(probes, "vmaf")
    spec0 = lb.LADDERS["vmaf40-95"]
    rows = []
    for c in COMPLEXITIES:
        base = None
        for ratio in RATIOS:
            spec = replace(spec0, peak_ratio=ratio)
            t0 = time.process_time()
            lad = optimize_ladder(prep, spec, c)
            cpu = time.process_time() - t0
            if ratio is None:
                base = lad
            over = sum(int((lad.table.loc[lad.table["rung"] == r.index, "bitrate_kbps"]
                            > r.peak_cap_kbps * (1 + 1e-9)).sum()) for r in lad.rungs if r.peak_cap_kbps)
            rows.append({
                "source": name, "complexity": c, "peak_ratio": ratio if ratio is not None else "none",
                "rungs": len(lad.rungs),
                "max_peak_to_average": max(r.peak_ratio for r in lad.rungs),
                "mean_peak_to_average": float(np.mean([r.peak_ratio for r in lad.rungs])),
                "max_peak_to_target": max(r.peak_kbps / r.target_kbps for r in lad.rungs),
                "encodes_over_cap": over, "encodes": int(len(lad.table)),
                "bd_rate_vs_uncapped_pct": lb._bd(lb._curve(base), lb._curve(lad)) if ratio is not None else 0.0,
                "achieved_complexity": lad.complexity_ratio, "optimizer_cpu_s": cpu,
            })
    return rows


def _table(rows: list[dict]) -> str:
    out = ["| source | c | cap | peak/avg max | peak/avg mean | peak/target max | encodes over cap | BD-rate vs no cap | achieved c |",
           "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        cap = "none" if r["peak_ratio"] == "none" else f"{r['peak_ratio']:g}x"
        out.append(f"| {r['source']} | {r['complexity']:g} | {cap} | {r['max_peak_to_average']:.2f} | "
                   f"{r['mean_peak_to_average']:.2f} | {r['max_peak_to_target']:.2f} | "
                   f"{r['encodes_over_cap']}/{r['encodes']} | {r['bd_rate_vs_uncapped_pct']:+.2f}% | "
                   f"{r['achieved_complexity']:.3f} |")
    return "\n".join(out)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sources", nargs="*", default=["testvideo", "photos", "mixed"],
                    choices=["testvideo", "photos", "mixed"])
    lb.add_run_args(ap, "peak_bench")
    args = ap.parse_args(argv)
    work = lb.work_dir(args)
    rows: list[dict] = []
    grids = {}
    for name in args.sources:
        if name == "testvideo":
            src, shots, grid = lb.testvideo_small(work / "testvideo270.mp4"), None, lb.GRIDS["testvideo"]
        elif name == "photos":
            (src, shots), grid = lb.build_photo_clip(work / "photos360.mp4"), lb.GRIDS["photos"]
        else:
            (src, shots), grid = lb.build_mixed_clip(work / "mixed360.mp4"), MIXED_GRID
        grids[name] = grid
        t0 = time.perf_counter()
        run = api.run_probes(src, grid, shots=shots, jobs=args.jobs, cache=True)
        print(f"{name}: {len(run.shots)} shots, {len(run.probes)} probes in {time.perf_counter() - t0:.0f} s "
              f"({int(run.probes['cached'].sum())} cached)", flush=True)
        rows.extend(analyse(name, run.probes))
    print(_table(rows))
    lb.write_results(Path(args.out), {"grids": grids, "rows": rows}, pd.DataFrame(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
