#!/usr/bin/env python3
"""Target-quality benchmark: what it costs to make *every* shot reach a quality target (``--target
vmaf=Q --each-shot``, Av1an's target-quality mode done per shot) rather than the title's
duration-weighted mean (``--target vmaf=Q``).

Sources, grid and probes are the ladder benchmark's (benchmarks/ladder_bench.py: testvideo at 270p
and the 18 s photos clip, x264 ultrafast..veryslow x 4 heights x 11 CRFs, found in the probe cache
after a ladder_bench run). For each target VMAF and complexity, one target-quality rung, one
resolution per rung (the default), and per-shot resolution:

* ``mean``: the lowest bitrate whose duration-weighted VMAF reaches the target;
* ``each``: the lowest bitrate with every shot at or above it (shot floor = target);

and their bitrates, mean VMAF and worst shot. ``extra_rate_pct`` is what the floor costs in bitrate.
Complexity is each ladder's own: the anchor keeps the floor, so at c < 1 the floored ladder's budget
(0.1 of a dearer anchor) is larger in CPU seconds (``*_cpu_s``): compare bitrates at c = 1.

Prints a table; writes benchmarks/results/target_bench.csv and .json (atomically).

    nice python benchmarks/target_bench.py [-j 2]
"""
from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import ladder_bench as lb  # noqa: E402

from pershot import api  # noqa: E402
from pershot.errors import PershotError  # noqa: E402
from pershot.ladder import LadderSpec, RungSpec, optimize_ladder, prepare  # noqa: E402

TARGETS = (70.0, 80.0, 88.0, 93.0)
COMPLEXITIES = (1.0, 0.1)


def one(prep, target: float, floor: bool, complexity: float, psr: bool) -> dict:
    spec = LadderSpec(rungs=(RungSpec(quality=target, metric="vmaf", min_shot_quality=target if floor else None,
                                      min_shot_metric="vmaf" if floor else None),))
    try:
        lad = optimize_ladder(prep, spec, complexity, per_shot_resolution=psr)
    except PershotError as ex:
        return {"error": str(ex)}
    if not lad.rungs:
        return {"error": "; ".join(d.reason for d in lad.dropped)}
    r = lad.rungs[0]
    return {"kbps": r.bitrate_kbps, "vmaf": r.quality, "worst_vmaf": r.worst_quality,
            "complexity": lad.complexity_ratio, "cpu_s": lad.cpu_s, "anchor_cpu_s": lad.anchor_cpu_s,
            "height": r.height}


def main(argv=None) -> int:
    args, work = lb.run_args(__doc__, "target_bench", argv)
    rows = []
    for name in ("testvideo", "photos"):
        if name == "testvideo":
            src, shots = lb.testvideo_small(work / "testvideo270.mp4"), None
        else:
            src, shots = lb.build_photo_clip(work / "photos360.mp4")
        run = api.run_probes(src, dict(lb.GRIDS[name]), shots=shots, jobs=args.jobs, cache=True)
        print(f"{name}: {len(run.shots)} shots, {len(run.probes)} probes "
              f"({int(run.probes['cached'].sum())} cached)", flush=True)
        prep = prepare(run.probes, "vmaf")
        for psr in (False, True):
            for c in COMPLEXITIES:
                for q in TARGETS:
                    mean, each = one(prep, q, False, c, psr), one(prep, q, True, c, psr)
                    row = {"source": name, "shots": len(run.shots), "per_shot_resolution": psr, "complexity": c,
                           "target_vmaf": q, **{f"mean_{k}": v for k, v in mean.items()},
                           **{f"each_{k}": v for k, v in each.items()}}
                    if "kbps" in mean and "kbps" in each:
                        row["extra_rate_pct"] = 100.0 * (each["kbps"] / mean["kbps"] - 1.0)
                    rows.append(row)
    df = pd.DataFrame(rows)
    cols = ["source", "per_shot_resolution", "complexity", "target_vmaf", "mean_kbps", "mean_worst_vmaf",
            "each_kbps", "each_vmaf", "each_worst_vmaf", "extra_rate_pct", "mean_cpu_s", "each_cpu_s"]
    with pd.option_context("display.width", 200, "display.max_columns", 20, "display.float_format", "{:.2f}".format):
        print(df[[c for c in cols if c in df.columns]].to_string(index=False))
    lb.write_results(Path(args.out), {"targets": list(TARGETS), "complexities": list(COMPLEXITIES),
                                      "grids": {n: lb.GRIDS[n] for n in ("testvideo", "photos")}, "rows": rows}, df)
    return 0


if __name__ == "__main__":
    sys.exit(main())
