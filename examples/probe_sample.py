#!/usr/bin/env python3
"""Probe examples/sample.mp4 over the sample grid with pershot's Python API."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import pershot  # noqa: E402
from pershot.executors import LocalExecutor  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("input", nargs="?", default=str(HERE / "sample.mp4"))
    ap.add_argument("--grid", default="sample")
    ap.add_argument("-j", "--jobs", type=int, default=None)
    ap.add_argument("--no-cache", action="store_true")
    ap.add_argument("-o", "--out", default=None, help="also write shots.csv and probes.csv here")
    a = ap.parse_args()

    info = pershot.probe_source(a.input)
    print(f"{Path(info.path).name}: {info.display_width}x{info.display_height}, {float(info.fps):.3f} fps, "
          f"{info.frame_count} frames, rotation {info.rotation}, VFR {info.is_vfr}")
    shots = pershot.detect_shots(info)
    print("shots:", ", ".join(f"[{s.start_frame}, {s.end_frame})" for s in shots))

    def progress(done: int, total: int) -> None:
        print(f"\rprobes {done}/{total}", end="", file=sys.stderr, flush=True)

    with LocalExecutor(a.jobs) as ex:
        df = pershot.probe(a.input, a.grid, shots=shots, executor=ex, cache=not a.no_cache, progress=progress,
                           out_dir=a.out)
    print(file=sys.stderr)
    anchor = df[df.preset_rank == df.preset_rank.max()].encode_cpu_s.sum()
    table = df.groupby("preset", sort=False).agg(encode_cpu_s=("encode_cpu_s", "sum"), vmaf=("vmaf", "mean"),
                                                 kbps=("bitrate_kbps", "mean"), rank=("preset_rank", "first"))
    table["cpu_vs_slowest"] = table.encode_cpu_s / anchor
    print(table.sort_values("rank").drop(columns="rank").round(3).to_string())
    print(f"{len(df)} probes, {int(df.cached.sum())} from cache")
    return 0


if __name__ == "__main__":
    sys.exit(main())
