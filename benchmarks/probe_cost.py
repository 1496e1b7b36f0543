#!/usr/bin/env python3
"""What one probe costs: decode/scale, encode per x264 preset, and each metric.

On one shot of ../shared/media/testvideo.mp4 (default: frames 30-179, 150
frames) at 720p, with the same code paths as ``pershot probe``:

* decode/scale: the job's Y4M extraction (seek, trim by frame index, scale),
  CPU seconds of that ffmpeg process;
* ffmpeg overhead: the encode's ffmpeg command without the encoder, reading the Y4M and
  discarding it (start-up + Y4M parsing; probes subtract it from every ``encode_cpu_s``);
* encode: the encoder process alone on the Y4M, one thread, for every x264
  preset ultrafast..veryslow at CRF 23 (best of ``--repeat`` runs);
* metrics: pershot's scoring pass (psnr + ssim + libvmaf in one graph), then
  each metric alone on the same pair: VMAF, VMAF with n_subsample 2 and 5,
  PSNR, SSIM (ffmpeg filter), libvmaf's float_ssim and XPSNR, and the bare
  decode + bicubic upscale they all include. Frames per second = frames /
  CPU seconds (one thread).

Prints a table and writes benchmarks/results/probe_cost.csv and .json (atomically).

    nice python benchmarks/probe_cost.py [--height 720] [--shot 30:180] [--repeat 2] [--crf 23]
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
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from pershot import encoders, ffmpeg, media, metrics  # noqa: E402
from pershot.atomic import write_text  # noqa: E402
from pershot.media import _escape_filter_value, input_arg  # noqa: E402
from pershot.probe import encoder_cpu_s  # noqa: E402

PRESETS = ["ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow"]


def best_of(n: int, fn):
    """Run ``fn`` n times; keep the run with the least CPU (the least disturbed by other load)."""
    runs = [fn() for _ in range(max(1, n))]
    return min(runs, key=lambda r: r.cpu_s)


def metric_only(kind: str, dist: Path, ref: str, size: tuple[int, int], fps, log_dir: Path) -> ffmpeg.RunResult:
    """One metric alone on (dist, ref), through the same decode + bicubic upscale as pershot's pass."""
    w, h = size
    rate = f"{fps.numerator}/{fps.denominator}"
    log = _escape_filter_value(str(log_dir / f"{kind}.log"))
    pre = (f"[0:v:0]scale={w}:{h}:flags=bicubic,setsar=1,format=yuv420p,settb=1,setpts=N[d];"
           f"[1:v:0]format=yuv420p,settb=1,setpts=N[r];[d][r]")
    filters = {
        "vmaf": "libvmaf=n_threads=1",
        "vmaf_sub2": "libvmaf=n_threads=1:n_subsample=2",
        "vmaf_sub5": "libvmaf=n_threads=1:n_subsample=5",
        "psnr": f"psnr=stats_file={log}",
        "ssim": f"ssim=stats_file={log}",
        "float_ssim": "libvmaf=n_threads=1:feature=name=float_ssim",
        "xpsnr": "xpsnr",
    }
    tail = ["-f", "null", "-"]
    if kind == "decode_upscale_only":  # what every metric run pays before comparing: both streams, no metric
        graph = pre[:-len("[d][r]")]
        tail = ["-map", "[d]", "-map", "[r]", "-f", "null", "-"]
    else:
        graph = pre + filters[kind]
    return ffmpeg.run(["-y", "-v", "error", "-threads", "1", "-r", rate, "-f", "h264", "-i", input_arg(dist),
                       "-r", rate, "-f", "yuv4mpegpipe", "-i", input_arg(ref), "-filter_threads", "1",
                       "-filter_complex", graph, *tail], what=f"{kind} failed")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--source", default=str(HERE.parent.parent / "shared" / "media" / "testvideo.mp4"))
    ap.add_argument("--height", type=int, default=720)
    ap.add_argument("--shot", default="30:180", help="frames A:B (B exclusive)")
    ap.add_argument("--crf", type=float, default=23)
    ap.add_argument("--repeat", type=int, default=2, help="runs per measurement; the lowest CPU is kept")
    ap.add_argument("--presets", default=",".join(PRESETS))
    ap.add_argument("--out", default=str(HERE / "results" / "probe_cost"))
    a = ap.parse_args()

    src = Path(a.source)
    if not src.is_file():
        print(f"probe_cost: source not found: {src}", file=sys.stderr)
        return 2
    info = media.probe_source(src)
    s0, s1 = (int(x) for x in a.shot.split(":"))
    frames = s1 - s0
    size = media.target_size(info, a.height)
    ref_size = (info.display_width, info.display_height)
    rows: list[dict] = []

    def add(stage: str, item: str, res, n_frames: int = frames, **extra) -> dict:
        row = {"stage": stage, "item": item, "cpu_s": round(res.cpu_s, 4), "wall_s": round(res.wall_s, 4),
               "frames": n_frames, "fps_cpu": round(n_frames / res.cpu_s, 1) if res.cpu_s > 0 else None, **extra}
        rows.append(row)
        return row

    t_start = time.time()
    with tempfile.TemporaryDirectory(prefix="pershot-bench-") as d:
        dd = Path(d)
        # decode / trim / scale: exactly the job's extraction (reference at display size + the encode size)
        def extract():
            for p in dd.glob("*.y4m"):
                p.unlink()
            return media.extract_shot(info, s0, s1, dd, [size])

        ex = min((extract() for _ in range(max(1, a.repeat))), key=lambda e: e.cpu_s)
        add("decode_scale", f"extract {s1 - s0} frames -> {size[0]}x{size[1]} (+ reference {ref_size[0]}x{ref_size[1]})",
            ex, seeked=ex.seeked)
        y4m = ex.scaled[size]
        p0 = encoders.EncodeParams("x264", "medium", "crf", a.crf, size[0], size[1], info.fps, frames)
        base = best_of(a.repeat, lambda: ffmpeg.run(encoders.overhead_args(p0, y4m)))
        add("overhead", "ffmpeg start-up + Y4M read (subtracted from every encode_cpu_s)", base)

        enc = encoders.get("x264")
        bitstreams: dict[str, Path] = {}
        for preset in a.presets.split(","):
            p = encoders.EncodeParams("x264", preset, "crf", a.crf, size[0], size[1], info.fps, frames)
            out = dd / f"{preset}.264"
            r = best_of(a.repeat, lambda: ffmpeg.run(encoders.encode_args(enc, p, y4m, out)))
            bitstreams[preset] = out
            add("encode", f"x264 {preset} crf {a.crf:g}", r, preset=preset, size_bytes=out.stat().st_size,
                kbps=round(out.stat().st_size * 8 / (frames / float(info.fps)) / 1000, 1))

        # metrics on the medium encode (falls back to the last preset measured)
        dist = bitstreams.get("medium") or list(bitstreams.values())[-1]
        sc = metrics.score(dist, "h264", ex.reference, ref_size, info.fps, frames, metrics.MetricParams(), work_dir=dd)
        rows.append({"stage": "metric", "item": "pershot pass: psnr + ssim + libvmaf (n_subsample 1)",
                     "cpu_s": round(sc.cpu_s, 4), "wall_s": round(sc.wall_s, 4), "frames": frames,
                     "fps_cpu": round(frames / sc.cpu_s, 1), "vmaf": round(sc.vmaf, 3), "psnr_y": round(sc.psnr_y, 3),
                     "ssim": round(sc.ssim, 5)})
        sc5 = metrics.score(dist, "h264", ex.reference, ref_size, info.fps, frames, metrics.MetricParams(n_subsample=5),
                            work_dir=dd)
        rows.append({"stage": "metric", "item": "pershot pass, n_subsample 5", "cpu_s": round(sc5.cpu_s, 4),
                     "wall_s": round(sc5.wall_s, 4), "frames": frames, "fps_cpu": round(frames / sc5.cpu_s, 1),
                     "vmaf": round(sc5.vmaf, 3)})
        for kind in ("decode_upscale_only", "psnr", "ssim", "vmaf", "vmaf_sub2", "vmaf_sub5", "xpsnr", "float_ssim"):
            if kind == "xpsnr" and not ffmpeg.has_filter("xpsnr"):
                continue
            r = best_of(a.repeat if kind not in ("float_ssim",) else 1,
                        lambda: metric_only(kind, dist, ex.reference, ref_size, info.fps, dd))
            add("metric_alone", kind, r)

    elapsed = time.time() - t_start
    by = {(r["stage"], r.get("preset") or r["item"]): r for r in rows}
    dec = by[("decode_scale", rows[0]["item"])]["cpu_s"]
    bare = by[("metric_alone", "decode_upscale_only")]["cpu_s"]
    summary = {
        "decode_scale_cpu_s": dec,
        "ffmpeg_overhead_cpu_s": by[("overhead", rows[1]["item"])]["cpu_s"],
        "encode_cpu_s": {p: by[("encode", p)]["cpu_s"] for p in a.presets.split(",") if ("encode", p) in by},
        "metric_pass_cpu_s": round(sc.cpu_s, 4),
        "metric_pass_sub5_cpu_s": round(sc5.cpu_s, 4),
        # the metric's own speed: its run minus the bare decode + upscale (None when within noise)
        "metric_fps_net_of_decode_upscale": {
            k: (round(frames / (by[("metric_alone", k)]["cpu_s"] - bare), 1)
                if by[("metric_alone", k)]["cpu_s"] - bare > 0.05 * bare else None)
            for k in ("psnr", "ssim", "vmaf", "vmaf_sub2", "vmaf_sub5", "xpsnr", "float_ssim") if ("metric_alone", k) in by
        },
    }
    enc_cpu = summary["encode_cpu_s"]
    if "ultrafast" in enc_cpu and "veryslow" in enc_cpu:
        summary["veryslow_over_ultrafast"] = round(enc_cpu["veryslow"] / enc_cpu["ultrafast"], 2)
        over = summary["ffmpeg_overhead_cpu_s"]  # what probes subtract (pershot.probe.encoder_cpu_s)
        summary["veryslow_over_ultrafast_net_of_overhead"] = round(
            encoder_cpu_s(enc_cpu["veryslow"], over) / encoder_cpu_s(enc_cpu["ultrafast"], over), 2)
    if "medium" in enc_cpu:
        summary["probe_cpu_s_medium"] = {"decode_scale_share": "see decode_scale_cpu_s (once per shot x resolution)",
                                         "encode": enc_cpu["medium"], "metric": round(sc.cpu_s, 4)}
    meta = {
        "source": src.name, "shot_frames": [s0, s1], "frames": frames, "encode_size": list(size),
        "reference_size": list(ref_size), "fps": str(info.fps), "crf": a.crf, "repeat": a.repeat,
        "ffmpeg": ffmpeg.ffmpeg_info().version, "x264": encoders.version("x264"),
        "machine": platform.platform(), "cpus": os.cpu_count(),
        "load_avg_at_end": os.getloadavg(), "elapsed_s": round(elapsed, 1),
        "note": "CPU = user+sys of each ffmpeg process (os.wait4), one thread; best of --repeat runs",
    }

    # table
    print(f"probe cost: {src.name} frames {s0}-{s1} ({frames}), encode {size[0]}x{size[1]}, "
          f"reference {ref_size[0]}x{ref_size[1]}, x264 CRF {a.crf:g}, {meta['x264']}, ffmpeg {meta['ffmpeg']}")
    print(f"{'stage':<13} {'item':<62} {'cpu_s':>8} {'wall_s':>8} {'fps(cpu)':>9}")
    for r in rows:
        print(f"{r['stage']:<13} {r['item'][:62]:<62} {r['cpu_s']:>8.3f} {r['wall_s']:>8.3f} "
              f"{(r['fps_cpu'] or 0):>9.1f}")
    print("summary:", json.dumps(summary, indent=None))

    out = Path(a.out)
    fields = sorted({k for r in rows for k in r}, key=lambda k: (["stage", "item", "cpu_s", "wall_s", "frames",
                                                                  "fps_cpu"] + [k]).index(k))
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    write_text(out.with_suffix(".csv"), buf.getvalue())
    write_text(out.with_suffix(".json"), json.dumps({"meta": meta, "summary": summary, "rows": rows}, indent=2))
    print(f"wrote {out.with_suffix('.csv')} and {out.with_suffix('.json')} ({elapsed:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
