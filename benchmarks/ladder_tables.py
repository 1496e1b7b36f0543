#!/usr/bin/env python3
"""Markdown tables of a ladder_bench.py result (the README's benchmark tables are made with it).

    python benchmarks/ladder_tables.py benchmarks/results/ladder_bench_variants.json
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

COLUMNS = (("testvideo", "vmaf40-95"), ("testvideo", "vmaf40-top"), ("photos", "vmaf40-95"), ("photos", "vmaf40-top"))


def _pct(v) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "n/a"
    return f"{v:+.1f}%".replace("-", "−")


def _header(first: str, cols) -> list[str]:
    names = [f"{s} {ln.replace('vmaf', '').replace('-', '–')}" for s, ln in cols]
    return [f"| {first} | " + " | ".join(names) + " |", "|---" * (len(cols) + 1) + "|"]


def tables(res: dict) -> str:
    by = {(s["source"], s.get("ladder_name")): s for s in res["sources"]}
    cols = [c for c in COLUMNS if c in by]
    out = ["(a) against the fixed medium ladder, default / --per-shot-resolution:", ""]
    out += _header("c", cols)
    cs = sorted({r["c"] for c in cols for r in by[c]["complexity"]})
    for c in cs:
        cells = []
        for col in cols:
            r = next((x for x in by[col]["complexity"] if x["c"] == c), None)
            if r is None or "error" in r:
                cells.append("infeasible")
            else:
                cells.append(f"{_pct(r['bd_vs_fixed_ladder'])} / {_pct(r.get('psr_bd_vs_fixed_ladder'))}")
        out.append(f"| {c:g} | " + " | ".join(cells) + " |")
    out += ["", "(b) against per-shot encoding at each fixed preset, at its own complexity:", ""]
    out += _header("preset", cols)
    presets = [r["preset"] for r in by[cols[0]]["fixed_presets"]]
    means = {col: [] for col in cols}
    for p in presets:
        cells = []
        for col in cols:
            r = next((x for x in by[col]["fixed_presets"] if x["preset"] == p), {})
            v = r.get("bd_pershot")
            if v is not None:
                means[col].append(v)
            cells.append(_pct(v))
        out.append(f"| {p} | " + " | ".join(cells) + " |")
    out.append("| **mean** | " + " | ".join(f"**{_pct(sum(m) / len(m))}**" if m else "n/a"
                                            for m in means.values()) + " |")
    out.append("| worst | " + " | ".join(_pct(max(m)) if m else "n/a" for m in means.values()) + " |")
    out += ["", "Other figures per column:", ""]
    out += _header("figure", cols)
    rows = {
        "smallest feasible c": lambda s: next((f"{r['min_feasible']:g}" for r in s["complexity"]
                                               if r.get("min_feasible")), "n/a"),
        "achieved at c = 1": lambda s: next((f"{r['achieved']:.2f}" for r in s["complexity"]
                                             if r["c"] == 1.0 and "achieved" in r), "n/a"),
        "c in [0.9c, c] for c ≤ 0.5": lambda s: "yes" if all(r.get("in_band") for r in s["complexity"]
                                                              if r["c"] <= 0.5 and "achieved" in r) else "NO",
        "vs fixed hull at c = 1": lambda s: next((_pct(r["bd_vs_fixed_hull"]) for r in s["complexity"]
                                                  if r["c"] == 1.0 and "bd_vs_fixed_hull" in r), "n/a"),
        "exact-DP gap at c = 1 (VMAF)": lambda s: f"{s['optimality_c1']['max_gap']:.3f}"
        if "optimality_c1" in s else "n/a",
        "one resolution per rung vs per-shot, c = 1 / 0.1": lambda s: " / ".join(
            _pct(r.get("bd_one_res_vs_per_shot")) for c in (1.0, 0.1) for r in s["per_shot_resolution"]
            if r["c"] == c),
        "probes (points/shot)": lambda s: f"{s['probes']} ({s['points_per_shot']})",
    }
    for name, f in rows.items():
        out.append(f"| {name} | " + " | ".join(f(by[col]) for col in cols) + " |")
    dec = [by[col].get("decomposition") for col in cols]
    if all(dec):
        out += ["", "Where the gain at c = 1 comes from (against the fixed medium ladder):", ""]
        out += _header("part", cols)
        for key, name in (("fixed_slowest_preset", "fixed ladder at the slowest preset"),
                          ("per_shot_medium", "per-shot CRF and resolution at medium"),
                          ("per_shot_slowest_preset", "both"), ("pershot_c1", "pershot")):
            out.append(f"| {name} | " + " | ".join(_pct(d[key]) for d in dec) + " |")
    return "\n".join(out)


def summary(res: dict) -> str:
    """One table: (a) at c = 0.5 and 1, and the mean and worst of (b)."""
    by = {(s["source"], s.get("ladder_name")): s for s in res["sources"]}
    cols = [c for c in COLUMNS if c in by]
    out = _header("figure", cols)
    for c in (0.5, 1.0):
        cells = []
        for col in cols:
            r = next((x for x in by[col]["complexity"] if x["c"] == c and "error" not in x), None)
            cells.append(f"{_pct(r['bd_vs_fixed_ladder'])} / {_pct(r.get('psr_bd_vs_fixed_ladder'))}" if r else "n/a")
        out.append(f"| (a) c = {c:g} | " + " | ".join(cells) + " |")
    bs = {col: [r["bd_pershot"] for r in by[col]["fixed_presets"] if "bd_pershot" in r] for col in cols}
    out.append("| (b) mean | " + " | ".join(_pct(sum(b) / len(b)) if b else "n/a" for b in bs.values()) + " |")
    out.append("| (b) worst | " + " | ".join(_pct(max(b)) if b else "n/a" for b in bs.values()) + " |")
    return "\n".join(out)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("result", type=Path)
    ap.add_argument("--summary", action="store_true", help="one short table: (a) at c = 0.5 and 1, (b) mean/worst")
    args = ap.parse_args(argv)
    res = json.loads(args.result.read_text())
    print(summary(res) if args.summary else tables(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
