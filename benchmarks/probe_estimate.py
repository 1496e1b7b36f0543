#!/usr/bin/env python3
"""How close ``pershot probe|ladder --dry-run`` comes to what the probes then cost.

For each source, the estimate (:func:`pershot.estimate.estimate_plan`, its calibration run fresh)
of a run with nothing in the cache, against the CPU seconds the probes measured:

* ``sample``: examples/sample.mp4 with presets/grid-sample.toml, probed here into a fresh
  temporary cache (so the figures are from this run);
* ``testvideo``, ``photos``: the ladder benchmark's clips and grids (benchmarks/ladder_bench.py,
  4 heights x 11 CRFs x 9 presets), their probes read back from the probe cache with the CPU
  seconds measured when they ran (run ladder_bench.py first; a source whose probes are not all
  cached is skipped).

Actual: every probe's encode process (``encode_cpu_s + encode_overhead_cpu_s``) plus each job's
start-up measurement runs; its scoring (``metric_cpu_s``); each job's decode and scaling. Jobs are
the plan's (shot, size) groups, as a fresh run would make them.

Prints a table and writes benchmarks/results/probe_estimate.csv and .json (atomically).

    nice python benchmarks/probe_estimate.py [--sources sample testvideo photos] [--repeat 3]
"""
from __future__ import annotations

import argparse
import csv
import io
import json
import os
import platform
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(HERE))

from pershot import api  # noqa: E402
from pershot.atomic import write_text  # noqa: E402
from pershot.estimate import estimate_plan  # noqa: E402
from pershot.grid import load_grid  # noqa: E402
from pershot.media import probe_source  # noqa: E402
from pershot.probe import OVERHEAD_RUNS, plan_probes  # noqa: E402

RESULTS = HERE / "results"


def actual(plan, df) -> dict:
    """CPU seconds the probes of ``plan`` measured (rows of ``df``, by cache key)."""
    rows = df.set_index("key")
    enc = met = dec = 0.0
    for j in plan.jobs:
        sub = rows.loc[[s.key for s in j.probes]]
        enc += float((sub["encode_cpu_s"] + sub["encode_overhead_cpu_s"]).sum())
        enc += OVERHEAD_RUNS * float(sub["encode_overhead_cpu_s"].mean())
        met += float(sub["metric_cpu_s"].sum())
        dec += float(sub["decode_cpu_s"].mean())
    return {"encode": enc, "metric": met, "decode": dec, "total": enc + met + dec}


def one(name: str, src, grid, shots, df, repeat: int) -> list[dict]:
    info = probe_source(src)
    g = load_grid(grid)
    shot_list = shots if shots is not None else api.detect_shots(info)
    plan = plan_probes(info, shot_list, g, None)  # nothing cached: the run a fresh cache would make
    act = actual(plan, df)
    out = []
    for k in range(repeat):
        est = estimate_plan(info, plan, g)
        e = {"encode": est.encode_cpu_s, "metric": est.metric_cpu_s, "decode": est.decode_cpu_s,
             "total": est.total_cpu_s}
        row = {"source": name, "run": k, "probes": plan.total, "calibration_cpu_s": round(est.calibration_cpu_s, 2),
               "sample": est.sample}
        for part in ("encode", "metric", "decode", "total"):
            row[f"{part}_est_s"] = round(e[part], 2)
            row[f"{part}_actual_s"] = round(act[part], 2)
            row[f"{part}_error_pct"] = round(100.0 * (e[part] / act[part] - 1.0), 1) if act[part] > 0 else None
        out.append(row)
        print(f"{name:<10} run {k}: total {e['total']:8.1f} s estimated, {act['total']:8.1f} s actual "
              f"({row['total_error_pct']:+.1f}%); encode {row['encode_error_pct']:+.1f}%, metrics "
              f"{row['metric_error_pct']:+.1f}%, decode {row['decode_error_pct']:+.1f}%; calibration "
              f"{est.calibration_cpu_s:.1f} s", flush=True)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sources", nargs="*", default=["sample", "testvideo", "photos"])
    ap.add_argument("--repeat", type=int, default=3, help="estimates per source (the calibration is timed afresh)")
    ap.add_argument("--out", default=str(RESULTS / "probe_estimate"))
    args = ap.parse_args(argv)
    rows: list[dict] = []
    for name in args.sources:
        if name == "sample":
            with tempfile.TemporaryDirectory(prefix="pershot-est-") as d:
                grid = REPO / "presets" / "grid-sample.toml"
                run = api.run_probes(REPO / "examples" / "sample.mp4", grid, cache=d, jobs=1)
                rows += one(name, REPO / "examples" / "sample.mp4", grid, run.shots, run.probes, args.repeat)
            continue
        import ladder_bench as lb

        work = REPO / "bench_out" / "ladder"
        if name == "testvideo":
            src, shots = work / "testvideo270.mp4", None
        else:
            src, shots = work / "photos360.mp4", lb.build_photo_clip(work / "photos360.mp4")[1]
        if not src.is_file():
            print(f"{name}: {src} missing (run benchmarks/ladder_bench.py first); skipped")
            continue
        grid = lb.GRIDS[name]
        info = probe_source(src)
        shot_list = shots if shots is not None else api.detect_shots(info)
        from pershot.cache import open_cache

        plan = plan_probes(info, shot_list, load_grid(grid), open_cache(True))
        if plan.jobs:
            print(f"{name}: {sum(len(j.probes) for j in plan.jobs)} probes not in the cache (run "
                  "benchmarks/ladder_bench.py first); skipped")
            continue
        df = api.run_probes(src, grid, shots=shot_list, cache=True, jobs=1).probes
        rows += one(name, src, grid, shot_list, df, args.repeat)
    out = Path(args.out)
    if rows:
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
        write_text(out.with_suffix(".csv"), buf.getvalue())
        meta = {"platform": platform.platform(), "cpus": os.cpu_count(), "python": platform.python_version()}
        write_text(out.with_suffix(".json"), json.dumps({"meta": meta, "rows": rows}, indent=2))
        print(f"wrote {out.with_suffix('.csv')} and {out.with_suffix('.json')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
