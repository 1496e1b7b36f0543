#!/usr/bin/env python3
"""Picture shape benchmark: what resolution classes give a scope film and a phone video.

A grid's ``heights`` are resolution classes (``pershot/geometry.py``): 1080p is 1920x1080, 1920x800
for a 2.4:1 film and 1080x1920 for a phone video. Before, they were literal picture heights: a
2.4:1 source lost every height above its own (and was never probed at its full size unless its
height happened to be in the grid), and a portrait source was probed at heights up to the grid's
largest, 608x1080 for a 1080x1920 phone video.

Two sources cut from testvideo.mp4 (frames 30-330: two shots, cut at frame 180, 10 s):

* ``scope``: the middle 1280x536 (2.39:1) scaled to 640x268, a 360p-class scope picture;
* ``portrait``: the middle 405x720 scaled to 360x640, a 360p-class phone picture.

Each is probed with x264 {veryfast, medium} x 6 CRFs at the sizes the grid [360, 270, 180, 144]
gives it, once as classes (now) and once as literal heights (before: ``media.target_size`` of each
height up to the source's), and each gets the auto ladder (6 rungs from VMAF 40 to its best probe,
complexity 1). The table gives the sizes probed, the best VMAF reachable, the ladder's top rung and the
BD-rate (VMAF) of classes against heights over the qualities both reach (16-rung ladders, so that it
compares the titles' hulls rather than where six rungs happen to fall).

    nice python benchmarks/shape_bench.py [-j 2]

Prints a table and writes benchmarks/results/shape_bench.csv and .json (atomically).
"""
from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import ladder_bench as lb  # noqa: E402

from pershot import api, ffmpeg  # noqa: E402
from pershot.atomic import atomic_path  # noqa: E402
from pershot.geometry import size_class  # noqa: E402
from pershot.ladder import LadderSpec, optimize_ladder, prepare  # noqa: E402
from pershot.media import probe_source, resolutions_for, target_size  # noqa: E402

CLASSES = [360, 270, 180, 144]
SOURCES = {  # name: filter making it from testvideo.mp4's frames 30-330
    "scope": "crop=1280:536,scale=640:268:flags=bicubic,setsar=1",
    "portrait": "crop=405:720,scale=360:640:flags=bicubic,setsar=1",
}
GRID = {"crf": [20, 25, 30, 35, 40, 45], "threads": 1, "keyint": 0, "metrics": {"n_subsample": 2},
        "encoders": {"x264": {"presets": ["veryfast", "medium"]}}}
LADDER = LadderSpec.auto(6, min_quality=(("vmaf", 40.0),))
DENSE = LadderSpec.auto(16, min_quality=(("vmaf", 40.0),))  # for the BD-rate: the title's hull, densely


def make_source(name: str, work: Path) -> Path:
    dst = work / f"shape_{name}.mp4"
    if not dst.is_file():
        with atomic_path(dst) as tmp:
            ffmpeg.run(["-y", "-v", "error", "-i", str(lb.MEDIA / "testvideo.mp4"), "-vf",
                        f"trim=start_frame=30:end_frame=330,setpts=PTS-STARTPTS,{SOURCES[name]}",
                        "-an", "-c:v", "libx264", "-preset", "slow", "-crf", "12", "-pix_fmt", "yuv420p",
                        "-f", "mp4", str(tmp)], what=f"making the {name} source failed")
    return dst


def literal_classes(info) -> list[int]:
    """Classes that give (to a pixel or two) the sizes literal heights gave before."""
    sizes = [target_size(info, h) for h in CLASSES if h <= info.display_height] or \
        [(info.display_width, info.display_height)]
    return sorted({size_class(w, h) for w, h in sizes}, reverse=True)


def main(argv=None) -> int:
    args, work = lb.run_args(__doc__, "shape_bench", argv)
    rows = []
    for name in SOURCES:
        src = make_source(name, work)
        info = probe_source(src)
        ladders = {}
        for mode, classes in (("classes", CLASSES), ("heights", literal_classes(info))):
            grid = dict(GRID, name=f"bench-shape-{name}-{mode}", heights=classes)
            run = api.run_probes(src, grid, jobs=args.jobs, cache=True)
            prep = prepare(run.probes, "vmaf")
            lad = optimize_ladder(prep, LADDER, 1.0)
            ladders[mode] = optimize_ladder(prep, DENSE, 1.0)
            rows.append({"source": name, "display": f"{info.display_width}x{info.display_height}", "mode": mode,
                         "sizes": " ".join(f"{w}x{h}" for w, h in reversed(resolutions_for(info, classes))),
                         "shots": len(run.shots), "probes": len(run.probes),
                         "best_vmaf": float(run.probes.groupby("shot")["vmaf"].max().mean()),
                         "top_rung": f"{lad.rungs[-1].width}x{lad.rungs[-1].height}",
                         "top_rung_vmaf": lad.rungs[-1].quality, "top_rung_kbps": lad.rungs[-1].bitrate_kbps,
                         "rungs": len(lad.rungs)})
        bd = lb._bd(lb._curve(ladders["heights"]), lb._curve(ladders["classes"]))
        rows[-2]["bd_vs_heights"] = bd
    df = pd.DataFrame(rows)
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(df.to_string(index=False, float_format=lambda v: f"{v:.2f}"))
    lb.write_results(Path(args.out), {"grid": GRID, "classes": CLASSES, "ladder": LADDER.to_dict(),
                                      "bd_ladder": DENSE.to_dict(), "rows": rows}, df)
    return 0


if __name__ == "__main__":
    sys.exit(main())
