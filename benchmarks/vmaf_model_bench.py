#!/usr/bin/env python3
"""VMAF model benchmark: what scoring a 4K source with the 4K model (``vmaf_model = "auto"``) changes
against scoring it with the HD model (``vmaf_v0.6.1``, pershot's only model before ``auto``).

Two 4K (3840x2160) sources, made at run time, 2 s each: 60 frames of testvideo.mp4 (a photograph
panning, 720p upscaled with lanczos: soft at 4K) and ffmpeg's ``mandelbrot`` (detail down to the pixel).
Each is probed twice on one grid (x264 veryfast, 2160/1080/720/540/360p, CRF 22-40), once per model;
the encodes are the same, only the scoring differs. Reported per source:

A. per encode height: the mean VMAF of the 4K model minus the HD model's;
B. a 5-rung bitrate ladder (complexity 1) under each model: the resolution each picks per rung;
C. target-quality rungs (VMAF 60, 70, 80, 90): the bitrate each model's ladder spends to reach them.

Prints a table; writes benchmarks/results/vmaf_model_bench.csv and .json (atomically).

    nice python benchmarks/vmaf_model_bench.py [-j 2]
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from pershot import api, ffmpeg  # noqa: E402
from pershot.atomic import write_text  # noqa: E402
from pershot.shots import Shot  # noqa: E402

MEDIA = HERE.parent.parent / "shared" / "media"
GRID = {"name": "vmaf-model", "heights": [2160, 1080, 720, 540, 360], "crf": [22, 28, 34, 40],
        "metrics": {"n_subsample": 3}, "encoders": {"x264": {"presets": ["veryfast"]}}}
MODELS = {"hd": "vmaf_v0.6.1", "auto": "auto"}


def make_sources(d: Path) -> dict[str, Path]:
    out = {"testvideo-up": d / "testvideo_uhd.mp4", "mandelbrot": d / "mandelbrot_uhd.mp4"}
    enc = ["-an", "-c:v", "libx264", "-preset", "veryfast", "-crf", "12", "-pix_fmt", "yuv420p"]
    ffmpeg.run(["-y", "-i", str(MEDIA / "testvideo.mp4"), "-vf",
                "trim=start_frame=200:end_frame=260,setpts=PTS-STARTPTS,scale=3840:2160:flags=lanczos", *enc,
                str(out["testvideo-up"])], what="making the upscaled source failed")
    ffmpeg.run(["-y", "-f", "lavfi", "-i", "mandelbrot=size=3840x2160:rate=30:maxiter=256", "-frames:v", "60", *enc,
                str(out["mandelbrot"])], what="making the mandelbrot source failed")
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-j", "--jobs", type=int, default=2)
    ap.add_argument("--out", default=str(HERE / "results" / "vmaf_model_bench"))
    a = ap.parse_args()
    rows, ladders, targets = [], [], []
    with tempfile.TemporaryDirectory(prefix="pershot-vmafbench-") as td:
        t0 = time.perf_counter()
        srcs = make_sources(Path(td))
        for name, src in srcs.items():
            n = api.probe_source(src).frame_count
            shots = [Shot(0, 0, n, 0.0, n / 30.0)]  # one shot (the mandelbrot zoom has no cut)
            per_model = {}
            for tag, model in MODELS.items():
                grid = dict(GRID, metrics={**GRID["metrics"], "vmaf_model": model})
                res = api.run_probes(src, grid, shots=shots, jobs=a.jobs)
                per_model[tag] = res.probes
            hd, auto = per_model["hd"], per_model["auto"]
            keys = ["height", "crf"]
            m = hd.merge(auto, on=keys, suffixes=("_hd", "_4k"))
            assert (m["size_bytes_hd"] == m["size_bytes_4k"]).all(), "the same encodes, scored twice"
            for h, g in m.groupby("height"):
                rows.append({"source": name, "height": int(h), "vmaf_hd_model": float(g["vmaf_hd"].mean()),
                             "vmaf_4k_model": float(g["vmaf_4k"].mean()),
                             "delta": float((g["vmaf_4k"] - g["vmaf_hd"]).mean()),
                             "model_auto_chose": str(auto["vmaf_model"].iloc[0])})
            lo, hi = float(hd["bitrate_kbps"].min()), float(hd["bitrate_kbps"].max())
            kbps = [round(float(x)) for x in np.geomspace(lo * 1.3, hi * 0.9, 5)]
            spec = {"min_step": 1.01, "max_step": 100.0, "rung": [{"kbps": k} for k in kbps]}
            for tag in MODELS:
                lad = api.optimize(per_model[tag], spec, complexity=1.0)
                for r in lad.rungs:
                    ladders.append({"source": name, "model": str(per_model[tag]["vmaf_model"].iloc[0]),
                                    "target_kbps": r.target_kbps, "height": r.height, "vmaf": r.quality,
                                    "bitrate_kbps": r.bitrate_kbps})
                for q in (60, 70, 80, 90):
                    try:
                        (r,) = api.optimize(per_model[tag], {"rung": [{"vmaf": q}]}, complexity=1.0).rungs
                    except Exception as ex:  # out of reach for this source and grid
                        targets.append({"source": name, "model": MODELS[tag], "target_vmaf": q,
                                        "note": str(ex).split(";")[0]})
                        continue
                    targets.append({"source": name, "model": str(per_model[tag]["vmaf_model"].iloc[0]),
                                    "target_vmaf": q, "bitrate_kbps": r.bitrate_kbps, "height": r.height})
        wall = time.perf_counter() - t0
    df, ld = pd.DataFrame(rows), pd.DataFrame(ladders)
    print("A. mean VMAF by encode height, the same encodes scored by each model (4K sources)")
    print(df.to_string(index=False, float_format=lambda v: f"{v:.2f}"))
    print("\nB. the rung resolutions each model picks (complexity 1, the same bitrate targets)")
    piv = ld.pivot_table(index=["source", "target_kbps"], columns="model", values="height", aggfunc="first")
    print(piv.to_string())
    tg = pd.DataFrame(targets)
    print("\nC. the bitrate (kbps) that reaches each VMAF target, by the model that judges it")
    if "bitrate_kbps" in tg.columns:
        print(tg.pivot_table(index=["source", "target_vmaf"], columns="model", values="bitrate_kbps",
                             aggfunc="first").round(0).to_string())
    print(f"\nwall {wall:.0f} s")
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_text(out.with_suffix(".csv"), df.to_csv(index=False))
    write_text(out.with_suffix(".json"), json.dumps({"grid": GRID, "by_height": rows, "ladders": ladders,
                                                     "targets": targets, "wall_s": wall}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
