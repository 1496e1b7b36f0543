"""Benchmark: learned image codecs against JPEG, WebP, AVIF, HEVC intra and JPEG XL.

On pictures training never saw (``pershot.codecs.dataset.heldout_images``: a
testvideo.mp4 frame of the deer shot, scikit-image's coffee and
stereo_motorcycle, all box-downscaled 2x, none JPEG-decoded at their coded
size), every level of every codec is coded and decoded. Reported:

* BD-rate (pchip, ``pershot.bdrate.bd_rate``) of each learned codec against
  each conventional one, on PSNR-RGB and on MS-SSIM in dB
  (-10 log10(1 - MS-SSIM)), per picture and averaged over the pictures;
* the light decoder against the full hyperprior (BD-rate and MAC ratio);
* decode (and encode) CPU milliseconds per megapixel: this process's CPU time
  for in-process codecs, the ffmpeg child's rusage for ffmpeg ones;
* decoder kMAC per pixel (``torch.utils.flop_counter``, FLOPs / 2) counted on
  each picture's padded size;
* the training behind each learned model (from the weights manifest).

Writes benchmarks/results/image_codecs.csv (every point) and .json (summary).

    nice python benchmarks/image_codecs.py [--media DIR] [--quick] [--codecs a,b,...]
"""
from __future__ import annotations

import argparse
import csv
import io
import json
import math
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from pershot import codecs  # noqa: E402
from pershot.atomic import write_text  # noqa: E402
from pershot.bdrate import bd_rate  # noqa: E402
from pershot.codecs import dataset, learned, metrics  # noqa: E402
from pershot.codecs.select import measure  # noqa: E402
from pershot.errors import PershotError  # noqa: E402

CONVENTIONAL = ["jpeg", "webp", "avif", "hevc", "jxl"]
TARGET_VS_JPEG = -0.10
TARGET_LITE_MAC_RATIO = 0.25
TARGET_LITE_BD = 0.10


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _bd(points: list[dict], a: str, b: str, q: str) -> float:
    ra = [(p["bpp"], p[q]) for p in points if p["codec"] == a and math.isfinite(p[q])]
    rb = [(p["bpp"], p[q]) for p in points if p["codec"] == b and math.isfinite(p[q])]
    try:
        return bd_rate(np.array(ra), np.array(rb))
    except PershotError:
        return float("nan")  # the curves do not overlap in quality


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--media", default=str(REPO.parent / "shared" / "media"))
    ap.add_argument("--codecs", help="comma-separated codec names (default: every usable codec)")
    ap.add_argument("--quick", action="store_true", help="the video frame only")
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results"))
    a = ap.parse_args(argv)

    images = dataset.heldout_images(a.media)
    if a.quick:
        images = images[:1]
    names = a.codecs.split(",") if a.codecs else codecs.codec_names(available_only=True)
    learned_names = [n for n in names if codecs.get_codec(n).kind == "learned"]
    conv_names = [n for n in CONVENTIONAL if n in names]
    import torch

    load0 = os.getloadavg()[0]
    t0 = time.time()
    points: list[dict] = []
    macs: dict[str, list[float]] = {}
    for iname, img in images:
        h, w = img.shape[:2]
        for n in names:
            c = codecs.get_codec(n)
            if c.kind == "learned":
                from pershot.codecs import _nets

                model = c.model()
                macs.setdefault(n, []).append(_nets.decoder_macs(model, h, w, c.decoder) / (h * w) / 1000)
            for lv in c.levels:
                r = measure(img, c, lv)
                points.append({"image": iname, "width": w, "height": h, "codec": n, "kind": c.kind, "level": lv,
                               "bytes": r.bytes, "bpp": r.bpp, "psnr_rgb": r.psnr_rgb, "psnr_y": r.psnr_y,
                               "ms_ssim": r.ms_ssim, "ms_ssim_db": metrics.ms_ssim_db(r.ms_ssim),
                               "encode_cpu_s": r.encode_cpu_s, "decode_cpu_s": r.decode_cpu_s})
            last = [p for p in points if p["image"] == iname and p["codec"] == n]
            print(f"{iname:<22} {n:<20} " + " ".join(f"{p['bpp']:.3f}/{p['psnr_rgb']:.2f}" for p in last), flush=True)
    elapsed = time.time() - t0

    # BD-rates per image, then the mean over images
    bd: dict[str, dict[str, dict[str, float]]] = {}
    for ln in learned_names + [n for n in conv_names if n != "jpeg"]:
        for ref in conv_names + [x for x in learned_names if x != ln]:
            if ref == ln:
                continue
            for q in ("psnr_rgb", "ms_ssim_db"):
                per = {iname: _bd([p for p in points if p["image"] == iname], ref, ln, q) for iname, _ in images}
                fin = [v for v in per.values() if math.isfinite(v)]
                bd.setdefault(ln, {}).setdefault(ref, {})[q] = float(np.mean(fin)) if fin else float("nan")
                bd[ln][ref][q + "_per_image"] = per

    speed = {}
    mp_total = sum(img.shape[0] * img.shape[1] for _, img in images) / 1e6
    for n in names:
        ps = [p for p in points if p["codec"] == n]
        levels = len(codecs.get_codec(n).levels)
        dec = sum(p["decode_cpu_s"] for p in ps) / levels / mp_total * 1000
        enc = sum(p["encode_cpu_s"] for p in ps) / levels / mp_total * 1000
        speed[n] = {"decode_ms_per_mp": dec, "encode_ms_per_mp": enc,
                    "kmac_per_px": float(np.mean(macs[n])) if n in macs else None}

    manifest = json.loads((learned.WEIGHTS_DIR / "manifest.json").read_text())
    training = {}
    for key, m in manifest["models"].items():
        for cname in m["decoders"]:
            training[cname] = m["training"]

    # targets
    targets = {}
    if learned_names and "jpeg" in conv_names:
        best = min(learned_names, key=lambda n: bd[n]["jpeg"]["psnr_rgb"]
                   if math.isfinite(bd[n]["jpeg"]["psnr_rgb"]) else 9e9)
        v = bd[best]["jpeg"]["psnr_rgb"]
        targets["best_learned_vs_jpeg_psnr"] = {"codec": best, "bd_rate": v, "target": TARGET_VS_JPEG,
                                                "met": bool(v <= TARGET_VS_JPEG)}
        if "webp" in conv_names:
            targets["best_learned_vs_webp_psnr"] = {"codec": best, "bd_rate": bd[best]["webp"]["psnr_rgb"]}
    if "lic-hyperprior" in learned_names and "lic-hyperprior-lite" in learned_names:
        largest = max(learned_names, key=lambda n: speed[n]["kmac_per_px"] or 0)
        ratio = speed["lic-hyperprior-lite"]["kmac_per_px"] / speed[largest]["kmac_per_px"]
        v = bd["lic-hyperprior-lite"][largest]["psnr_rgb"]
        targets["lite_vs_largest"] = {"largest": largest, "mac_ratio": ratio, "bd_rate_psnr": v,
                                      "bd_rate_ms_ssim": bd["lic-hyperprior-lite"][largest]["ms_ssim_db"],
                                      "met": bool(ratio <= TARGET_LITE_MAC_RATIO and v <= TARGET_LITE_BD)}

    # table
    print()
    print(f"BD-rate (mean over {len(images)} held-out pictures; negative = fewer bits than the reference)")
    refs = conv_names
    print(f"{'codec':<20} " + " ".join(f"{'vs ' + r:>18}" for r in refs))
    for n in learned_names + [x for x in conv_names if x != "jpeg"]:
        cells = []
        for r in refs:
            if r == n:
                cells.append(f"{'-':>18}")
                continue
            v = bd[n][r]
            cells.append(f"{v['psnr_rgb'] * 100:+7.1f}% / {v['ms_ssim_db'] * 100:+6.1f}%".rjust(18))
        print(f"{n:<20} " + " ".join(cells))
    print("(each cell: BD-rate on PSNR-RGB / on MS-SSIM dB)")
    print()
    print(f"{'codec':<20} {'decode ms/MP':>12} {'encode ms/MP':>12} {'dec kMAC/px':>11} {'train min':>9} {'steps':>6}  device")
    for n in names:
        k = speed[n]["kmac_per_px"]
        tr = training.get(n, {})
        print(f"{n:<20} {speed[n]['decode_ms_per_mp']:>12.0f} {speed[n]['encode_ms_per_mp']:>12.0f} "
              f"{'-' if k is None else f'{k:.1f}':>11} {tr.get('total_minutes', tr.get('minutes', '-'))!s:>9} {tr.get('total_steps', tr.get('steps', '-'))!s:>6}  "
              f"{tr.get('device', '')}")
    for k, v in targets.items():
        print(f"target {k}: {json.dumps(v)}")

    out = Path(a.out)
    buf = io.StringIO()
    cols = list(points[0].keys())
    wr = csv.DictWriter(buf, fieldnames=cols, lineterminator="\n")
    wr.writeheader()
    for p in points:
        wr.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in p.items()})
    write_text(out / "image_codecs.csv", buf.getvalue())
    summary = {
        "machine": {"cpu": _cpu_name(), "cores": os.cpu_count(), "torch_threads": torch.get_num_threads(),
                    "python": platform.python_version(), "torch": torch.__version__,
                    "load_average_start": load0, "load_average_end": os.getloadavg()[0],
                    "note": "CPU times measured on a machine shared with other jobs; decode/encode figures are "
                            "process (or ffmpeg child) CPU seconds"},
        "images": [{"name": n, "width": int(i.shape[1]), "height": int(i.shape[0])} for n, i in images],
        "bd_rate": bd, "speed": speed, "training": training, "targets": targets, "elapsed_s": elapsed,
        "bd_rate_implementation": "pershot.bdrate.bd_rate (pchip on log-rate over the common quality range)",
    }
    write_text(out / "image_codecs.json", json.dumps(summary, indent=1, default=float) + "\n")
    print(f"wrote {out / 'image_codecs.csv'} and {out / 'image_codecs.json'} ({elapsed:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
