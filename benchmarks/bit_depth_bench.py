#!/usr/bin/env python3
"""Bit depth benchmark: what 10-bit encodes of an 8-bit (SDR) source buy, per encoder.

HEVC Main 10 and AV1 10-bit are what most services ship, SDR included: the encoders' internal
precision rises with the bit depth, which is said to save bits and banding. This measures it on
the project's two benchmark sources, with pershot's own probes (each shot encoded on its own,
scored against the source at display size; a 10-bit encode against the source's frames at 10 bits):

* ``testvideo``: testvideo.mp4's frames 30-330 at 640x360 (two shots, cut at frame 180, 10 s);
* ``photos``: the ladder benchmark's multi-shot clip made from photographs with motion (640x360).

Grid: x264 medium, x265 medium, SVT-AV1 preset 8, each at 8 and at 10 bits x classes
[360, 270, 180] x 6 CRFs (x264/x265 20..45, SVT-AV1 25..60), VMAF every second frame. Per source,
encoder and metric (VMAF, PSNR-Y), a dense ladder (16 rungs along the title's hull from quality 40,
complexity 1: each shot's own CRF and resolution per rung) is optimized at each depth, and the table
gives the BD-rate of 10 bits against 8 bits and the ratios of their total encode CPU time and of
their scoring CPU time.

    nice python benchmarks/bit_depth_bench.py [-j 2] [--sources testvideo photos]

Prints a table and writes benchmarks/results/bit_depth_bench.csv and .json (atomically).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import ladder_bench as lb  # noqa: E402

from pershot import api, ffmpeg  # noqa: E402
from pershot.atomic import atomic_path  # noqa: E402
from pershot.ladder import LadderSpec, optimize_ladder, prepare  # noqa: E402

GRID = {"heights": [360, 270, 180], "crf": [20, 25, 30, 35, 40, 45], "threads": 1, "keyint": 0,
        "metrics": {"n_subsample": 2},
        "encoders": {"x264": {"presets": ["medium"]}, "x265": {"presets": ["medium"]},
                     "svtav1": {"presets": ["8"], "crf": [25, 32, 39, 46, 53, 60]}}}
DENSE = {"vmaf": LadderSpec.auto(16, min_quality=(("vmaf", 40.0),)),
         "psnr": LadderSpec.auto(16, min_quality=(("psnr", 28.0),))}


def testvideo_360(work: Path) -> Path:
    dst = work / "bitdepth_testvideo360.mp4"
    if not dst.is_file():
        with atomic_path(dst) as tmp:
            ffmpeg.run(["-y", "-v", "error", "-i", str(lb.MEDIA / "testvideo.mp4"), "-vf",
                        "trim=start_frame=30:end_frame=330,setpts=PTS-STARTPTS,scale=640:360:flags=bicubic",
                        "-an", "-c:v", "libx264", "-preset", "slow", "-crf", "12", "-pix_fmt", "yuv420p",
                        "-f", "mp4", str(tmp)], what="making the testvideo source failed")
    return dst


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    lb.add_run_args(ap, "bit_depth_bench")
    ap.add_argument("--sources", nargs="*", default=["testvideo", "photos"], choices=["testvideo", "photos"])
    args = ap.parse_args(argv)
    work = lb.work_dir(args)
    rows = []
    for name in args.sources:
        if name == "testvideo":
            src, shots = testvideo_360(work), None
        else:
            src, shots = lb.build_photo_clip(work / "photos360.mp4")
        probes = {}
        for depth in (8, 10):
            grid = dict(GRID, name=f"bench-bitdepth-{depth}", bit_depth=depth)
            probes[depth] = api.run_probes(src, grid, shots=shots, jobs=args.jobs, cache=True).probes
        for enc in GRID["encoders"]:
            row = {"source": name, "encoder": enc, "shots": int(probes[8]["shot"].nunique())}
            cpu = {d: float(p.loc[p.encoder == enc, "encode_cpu_s"].sum()) for d, p in probes.items()}
            row["cpu_ratio_10_vs_8"] = cpu[10] / cpu[8]
            # what probing costs besides the encodes: scoring (VMAF, PSNR, SSIM at the depth)
            met = {d: float(p.loc[p.encoder == enc, "metric_cpu_s"].sum()) for d, p in probes.items()}
            row["metric_cpu_ratio_10_vs_8"] = met[10] / met[8]
            for metric, spec in DENSE.items():
                curves = {}
                for depth, p in probes.items():
                    lad = optimize_ladder(prepare(p, metric, encoder=enc), spec, 1.0)
                    curves[depth] = lb._curve(lad)
                    row[f"best_{metric}_{depth}"] = float(curves[depth][1].max())
                row[f"bd_{metric}_10_vs_8"] = lb._bd(curves[8], curves[10])
            rows.append(row)
    df = pd.DataFrame(rows)
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(df.to_string(index=False, float_format=lambda v: f"{v:.2f}"))
    lb.write_results(Path(args.out), {"grid": GRID, "ladders": {k: v.to_dict() for k, v in DENSE.items()},
                                      "rows": rows}, df)
    return 0


if __name__ == "__main__":
    sys.exit(main())
