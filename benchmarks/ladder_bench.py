#!/usr/bin/env python3
"""Ladder benchmark (issue 3): BD-rate of pershot ladders against fixed ladders and fixed presets,
achieved vs requested complexity, and optimizer speed.

Sources (probed with the core pipeline, through the probe cache: a second run encodes nothing):

* ``testvideo``: ../shared/media/testvideo.mp4 (real photographs, slow pans, 24 s), downscaled to 270p
  to keep the probe run short on 2 shared cores;
* ``photos``: a multi-shot clip built here from real photographs shipped with scikit-image, each
  animated with ffmpeg's zoompan (zooms and pans over an upscaled canvas), joined with known cut
  frames, 640x360 at 24 fps;
* ``mixed`` (with ``--sources mixed``; not in the issue's pair): six 2 s shots of very different
  difficulty, ffmpeg's ``testsrc2``, ``mandelbrot``, ``life`` and ``cellauto``, a panned and a still
  photograph, 640x360 at 24 fps (the clip of ``peak_bench.py``): how the figures carry over to content
  whose shots differ a lot.

Grid: all nine x264 presets, ultrafast, superfast, veryfast, faster, fast, medium, slow, slower, veryslow
x 4 heights (photos, mixed: 360, 288, 216, 144; testvideo: 270, 216, 180, 144) x 11 CRFs (18, 20, 23, 25, ...,
40, 43), VMAF on every 2nd frame, one thread per encode.

Analyses, per source, on 8-rung ladders spaced along the title's hull (one resolution per rung): from VMAF 40
to VMAF 95 (primary), and from VMAF 40 to the title's best probe:

1. BD-rate (VMAF, pchip) of pershot at c in {0.03, 0.05, 0.1, 0.2, 0.5, 1.0} against (a) the fixed
   ladder at preset medium: one resolution and one CRF per rung for all shots, at pershot's own rung
   bitrates (each rung: the best such configuration within the rung's bitrate; "BD vs fixed"), and the
   upper hull of every such configuration ("vs hull"); and (b) per-shot encoding at each fixed preset,
   compared at that preset's own complexity ratio. For reference: the plain Lagrangian (no rung mix, no
   greedy pass) against (a) and against pershot, pershot with --per-shot-resolution against (a), and
   pershot with --objective mean (every rung's quality alike, the default before the area objective)
   against (a) and (b) ("obj. mean");
2. achieved vs requested complexity;
3. the cost of one resolution per rung against per-shot resolution (BD-rate, c = 1 and 0.1);
   where the gain over the fixed ladder at c = 1 comes from (slowest preset alone, per-shot CRF and
   resolution alone, both); and how far each rung is from the exact optimum over the probed points (a
   knapsack DP per rung and resolution);
4. optimizer speed on synthetic probes: 1,000 shots x 600 points x 8 rungs on one core, and its
   growth with the number of shots.

Prints a table and writes benchmarks/results/ladder_bench.csv and .json (atomically).

    nice python benchmarks/ladder_bench.py [-j 2] [--sources testvideo photos] [--skip-speed]
    nice python benchmarks/ladder_bench.py --crfs 18,23,28,33,38,43 --out benchmarks/results/ladder_bench_crf6
    nice python benchmarks/ladder_bench.py --variants --skip-speed --out benchmarks/results/ladder_bench_variants
    nice python benchmarks/ladder_bench.py --sources photos --heights 360,324,288,252,216,180,144 --skip-speed \
        --out benchmarks/results/ladder_bench_photos_7heights
    nice python benchmarks/ladder_bench.py --sources mixed --skip-speed --out benchmarks/results/ladder_bench_mixed
"""
from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")  # numpy on one core: the speed figures are single-core

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))

from pershot import api, ffmpeg  # noqa: E402
from pershot.atomic import atomic_path, write_text  # noqa: E402
from pershot.baselines import fixed_ladder, fixed_ladder_hull, fixed_preset_ladder  # noqa: E402
from pershot.bdrate import bd_rate  # noqa: E402
from pershot.errors import InfeasibleError, PershotError  # noqa: E402
from pershot.ladder import LadderSpec, optimize_ladder, prepare  # noqa: E402
from pershot.shots import Shot  # noqa: E402

MEDIA = REPO.parent / "shared" / "media"
RESULTS = HERE / "results"
COMPLEXITIES = (0.03, 0.05, 0.1, 0.2, 0.5, 1.0)
CRFS = [18, 20, 23, 25, 28, 30, 33, 35, 38, 40, 43]  # steps of 2-3
PRESETS = ["ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow"]
GRIDS = {
    # photos clip, 640x360
    "photos": {"name": "bench-ladder-360", "description": "x264 9 presets ultrafast..veryslow x 4 heights x 11 CRFs",
               "heights": [360, 288, 216, 144], "crf": CRFS, "threads": 1, "keyint": 0,
               "metrics": {"n_subsample": 2}, "encoders": {"x264": {"presets": PRESETS}}},
    # six shots of very different difficulty (MIXED_SHOTS), 640x360
    "mixed": {"name": "bench-ladder-360", "description": "x264 9 presets ultrafast..veryslow x 4 heights x 11 CRFs",
              "heights": [360, 288, 216, 144], "crf": CRFS, "threads": 1, "keyint": 0,
              "metrics": {"n_subsample": 2}, "encoders": {"x264": {"presets": PRESETS}}},
    # testvideo.mp4 downscaled to 480x270
    "testvideo": {"name": "bench-ladder-270", "description": "x264 9 presets ultrafast..veryslow x 4 heights x 11 CRFs",
                  "heights": [270, 216, 180, 144], "crf": CRFS, "threads": 1, "keyint": 0,
                  "metrics": {"n_subsample": 2}, "encoders": {"x264": {"presets": PRESETS}}},
}
#: --variants: x264 configurations between (and beside) the presets, probed like presets; (b)'s baselines
#: stay the nine plain presets and the anchor stays veryslow
VARIANTS = {
    "ultrafast+cabac": {"preset": "ultrafast", "params": {"cabac": 1}},
    "ultrafast+cabac+db": {"preset": "ultrafast", "params": {"cabac": 1, "deblock": 1}},
    "veryfast+sub4ref2": {"preset": "veryfast", "params": {"subme": 4, "ref": 2}},
    "medium+umh8": {"preset": "medium", "params": {"me": "umh", "subme": 8}},
    "slow+sub9": {"preset": "slow", "params": {"subme": 9}},
    "slower+b8ref16": {"preset": "slower", "params": {"bframes": 8, "ref": 16}},
}
QUICK_GRID = {"name": "bench-quick", "heights": [360, 270, 216], "crf": [20, 30, 40], "threads": 1, "keyint": 0,
              "metrics": {"n_subsample": 2}, "encoders": {"x264": {"presets": ["ultrafast", "medium", "veryslow"]}}}

# (scikit-image picture, frames, motion): zoom in / zoom out / pan left / pan right / pan down
PHOTO_SHOTS = [
    ("astronaut", 48, "zoom_in"),
    ("grass", 60, "pan_right"),
    ("coffee", 50, "zoom_out"),
    ("hubble_deep_field", 72, "pan_left"),
    ("rocket", 44, "pan_down"),
    ("gravel", 56, "pan_left"),
    ("chelsea", 64, "zoom_in"),
    ("immunohistochemistry", 40, "pan_right"),
]
FPS = 24
MIXED_SHOTS = [  # shots of very different difficulty: (kind, ffmpeg lavfi source or scikit-image picture, frames)
    ("lavfi", "testsrc2=s=640x360:r=24", 48),
    ("photo", "coffee", 48),
    ("lavfi", "mandelbrot=s=640x360:r=24", 48),
    ("lavfi", "life=s=640x360:r=24:mold=10:ratio=0.1:death_color=#C83232:life_color=#00ff00", 48),
    ("still", "astronaut", 48),
    ("lavfi", "cellauto=s=640x360:r=24:rule=110", 48),
]


# --------------------------------------------------------------------------- sources


def _photo(name: str, dst: Path) -> Path:
    import skimage.data
    from PIL import Image

    a = getattr(skimage.data, name)()
    if a.ndim == 2:
        a = np.stack([a] * 3, axis=-1)
    Image.fromarray(a[..., :3]).save(dst)
    return dst


def _motion(kind: str, n: int) -> str:
    """zoompan over a 1920x1080 canvas, output 640x360 (a 'real texture in motion' shot)."""
    z = {"zoom_in": f"1.0+0.35*on/{n}", "zoom_out": f"1.35-0.35*on/{n}"}.get(kind, "1.25")
    x = {"pan_right": f"(iw-iw/zoom)*on/{n}", "pan_left": f"(iw-iw/zoom)*(1-on/{n})"}.get(kind, "(iw-iw/zoom)/2")
    y = {"pan_down": f"(ih-ih/zoom)*on/{n}"}.get(kind, "(ih-ih/zoom)/2")
    return (f"scale=1920:1080:force_original_aspect_ratio=increase:flags=bicubic,crop=1920:1080,"
            f"zoompan=z='{z}':x='{x}':y='{y}':d={n}:s=640x360:fps={FPS},format=yuv420p")


def known_shots(frames: list[int]) -> list[Shot]:
    """Shots of the given frame counts, back to back, at FPS."""
    shots: list[Shot] = []
    start = 0
    for i, n in enumerate(frames):
        shots.append(Shot(i, start, start + n, start / FPS, (start + n) / FPS))
        start += n
    return shots


def join_parts(parts: list[Path], dst: Path, what: str) -> None:
    """Join the shot files into one near-lossless H.264 clip at FPS (atomically)."""
    inputs = [a for p in parts for a in ("-i", str(p))]
    fc = "".join(f"[{i}:v]" for i in range(len(parts))) + f"concat=n={len(parts)}:v=1:a=0[v]"
    with atomic_path(dst) as tmp:
        ffmpeg.run(["-y", "-v", "error", *inputs, "-filter_complex", fc, "-map", "[v]", "-c:v", "libx264",
                    "-preset", "slow", "-crf", "12", "-pix_fmt", "yuv420p", "-r", str(FPS), str(tmp)],
                   what=f"joining the {what} shots failed")


def build_mixed_clip(dst: Path) -> tuple[Path, list[Shot]]:
    """Six 2 s shots of very different difficulty (MIXED_SHOTS), 640x360 at FPS, and their known shots."""
    def part_args(i: int, d: Path) -> list[str]:
        kind, src, n = MIXED_SHOTS[i]
        if kind == "lavfi":
            return ["-f", "lavfi", "-i", src]
        img = _photo(src, d / f"{i}.png")
        vf = _motion("pan_right", n) if kind == "photo" else \
            f"scale=640:360:force_original_aspect_ratio=increase,crop=640:360,fps={FPS},format=yuv420p"
        return ["-loop", "1", "-i", str(img), "-vf", vf] if kind == "still" else ["-i", str(img), "-vf", vf]

    return _build_clip(dst, [n for _k, _s, n in MIXED_SHOTS], part_args, "mixed")


def _build_clip(dst: Path, frames: list[int], part_args, what: str) -> tuple[Path, list[Shot]]:
    """A clip of ``len(frames)`` shots (unless ``dst`` is already there): shot ``i`` is ffmpeg's output of
    ``part_args(i, tmpdir)`` (input arguments), ``frames[i]`` frames, losslessly kept until
    :func:`join_parts` joins them; returns the clip and its known shots."""
    shots = known_shots(frames)
    if dst.is_file():
        return dst, shots
    with tempfile.TemporaryDirectory(prefix=f"pershot-{what}-") as d:
        parts = []
        for i, n in enumerate(frames):
            part = Path(d) / f"{i}.mkv"
            ffmpeg.run(["-y", "-v", "error", *part_args(i, Path(d)), "-frames:v", str(n), "-pix_fmt", "yuv420p",
                        "-c:v", "ffv1", str(part)], what=f"making {what} shot {i} failed")
            parts.append(part)
        join_parts(parts, dst, what)
    return dst, shots


def add_run_args(ap: argparse.ArgumentParser, name: str) -> None:
    """The options every ladder-clip benchmark takes: -j, --work (where the clips are kept) and --out
    (results path stem, default benchmarks/results/NAME)."""
    ap.add_argument("-j", "--jobs", type=int, default=2)
    ap.add_argument("--work", default=str(REPO / "bench_out" / "ladder"), help="where the benchmark clips are kept")
    ap.add_argument("--out", default=str(RESULTS / name), help="results path stem")


def run_args(doc: str, name: str, argv=None) -> tuple[argparse.Namespace, Path]:
    """(arguments, work folder) of a ladder-clip benchmark that takes only :func:`add_run_args`'s options;
    ``doc``: the script's docstring (its first paragraph is the help's description)."""
    ap = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    add_run_args(ap, name)
    args = ap.parse_args(argv)
    return args, work_dir(args)


def work_dir(args: argparse.Namespace) -> Path:
    """``args.work``, created if missing."""
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    return work


def write_results(stem: Path, doc: dict, rows: pd.DataFrame) -> None:
    """STEM.json (the whole document) and STEM.csv (one row per result), both atomically."""
    stem.parent.mkdir(parents=True, exist_ok=True)
    write_text(stem.with_suffix(".json"), json.dumps(doc, indent=2, default=float, allow_nan=True) + "\n")
    with atomic_path(stem.with_suffix(".csv")) as tmp:
        rows.to_csv(tmp, index=False, float_format="%.6g")
    print(f"\nresults: {stem.with_suffix('.json')}, {stem.with_suffix('.csv')}")


def build_photo_clip(dst: Path) -> tuple[Path, list[Shot]]:
    """The multi-shot clip from photographs; returns it and its known shots."""
    def part_args(i: int, d: Path) -> list[str]:
        name, n, kind = PHOTO_SHOTS[i]
        return ["-i", str(_photo(name, d / f"{i}.png")), "-vf", _motion(kind, n)]

    return _build_clip(dst, [n for _name, n, _kind in PHOTO_SHOTS], part_args, "photo")


def testvideo_small(dst: Path, height: int = 270) -> Path:
    if not dst.is_file():
        with atomic_path(dst) as tmp:
            ffmpeg.run(["-y", "-v", "error", "-i", str(MEDIA / "testvideo.mp4"), "-vf",
                        f"scale=-2:{height}:flags=bicubic",
                        "-an", "-c:v", "libx264", "-preset", "slow", "-crf", "12", "-pix_fmt", "yuv420p", str(tmp)],
                       what="downscaling testvideo.mp4 failed")
    return dst


# --------------------------------------------------------------------------- analyses


def _curve(lad) -> tuple[np.ndarray, np.ndarray]:
    return (np.array([r.bitrate_kbps for r in lad.rungs]), np.array([r.quality for r in lad.rungs]))


def _bd(anchor, test) -> float:
    try:
        return 100.0 * bd_rate(anchor, test)
    except PershotError:
        return float("nan")


LADDERS = {
    # primary: 8 rungs along the title's hull from VMAF 40 to VMAF 95 (a streaming range)
    "vmaf40-95": LadderSpec.auto(8, min_quality=(("vmaf", 40.0),), max_quality=(("vmaf", 95.0),)),
    # secondary: from VMAF 40 to the title's best probe (the saturated top included)
    "vmaf40-top": LadderSpec.auto(8, min_quality=(("vmaf", 40.0),)),
}


def analyse(name: str, probes: pd.DataFrame, spec: LadderSpec) -> dict:
    prep = prepare(probes, "vmaf")
    out: dict = {"source": name, "ladder": spec.to_dict(), "shots": int(prep.points.shots), "probes": int(len(probes)),
                 "points_per_shot": int(prep.points.valid.sum(axis=1).max()), "complexity": [], "fixed_presets": [],
                 "per_shot_resolution": []}
    fx = fixed_ladder_hull(prep)  # (a): the best fixed ladder at medium
    fixed_curve = (fx["bitrate_kbps"].to_numpy(), fx["quality"].to_numpy())
    ladders = {}
    for c in COMPLEXITIES:
        row: dict = {"c": c}
        try:
            t0 = time.process_time()
            lad = optimize_ladder(prep, spec, c)
            row["optimizer_cpu_s"] = time.process_time() - t0
        except InfeasibleError as ex:
            row.update(error=str(ex), min_feasible=ex.min_feasible)
            out["complexity"].append(row)
            continue
        ladders[c] = lad
        r, q = _curve(lad)
        fl = fixed_ladder(prep, [x.spec.kbps for x in lad.rungs])  # same rungs, one config per rung
        fl = fl.dropna(subset=["bitrate_kbps"])
        fixed_rungs = (fl["bitrate_kbps"].to_numpy(), fl["quality"].to_numpy())
        row.update(achieved=lad.complexity_ratio, binds=lad.budget_binds, in_band=bool(
            (0.9 * c <= lad.complexity_ratio <= c) or (not lad.budget_binds and lad.complexity_ratio <= c)),
            unconstrained=lad.unconstrained_ratio, min_feasible=lad.min_feasible, rungs=len(lad.rungs),
            mean_vmaf=float(q.mean()), fixed_ladder_ratio=float(fl["encode_cpu_s"].sum() / lad.anchor_cpu_s),
            bd_vs_fixed_ladder=_bd(fixed_rungs, (r, q)), bd_vs_fixed_hull=_bd(fixed_curve, (r, q)))
        try:  # the plain Lagrangian (one common mu, no rung mix, no greedy pass), for reference
            plain = optimize_ladder(prep, spec, c, greedy=False)
            row.update(plain_achieved=plain.complexity_ratio, plain_bd_vs_fixed_ladder=_bd(fixed_rungs, _curve(plain)),
                       bd_vs_plain=_bd(_curve(plain), (r, q)))
        except InfeasibleError:
            row.update(plain_bd_vs_fixed_ladder=float("nan"), bd_vs_plain=float("nan"))
        try:  # --objective mean (every rung's quality alike; the default before the area objective)
            mean = optimize_ladder(prep, spec, c, objective="mean")
            flm = fixed_ladder(prep, [x.spec.kbps for x in mean.rungs]).dropna(subset=["bitrate_kbps"])
            row.update(mean_obj_achieved=mean.complexity_ratio, mean_obj_bd_vs_fixed_ladder=_bd(
                (flm["bitrate_kbps"].to_numpy(), flm["quality"].to_numpy()), _curve(mean)))
        except InfeasibleError:
            row.update(mean_obj_bd_vs_fixed_ladder=float("nan"))
        try:  # --per-shot-resolution (not the default) against the same fixed ladder of its own rungs
            psr = optimize_ladder(prep, spec, c, per_shot_resolution=True)
            flp = fixed_ladder(prep, [x.spec.kbps for x in psr.rungs]).dropna(subset=["bitrate_kbps"])
            row.update(psr_achieved=psr.complexity_ratio, psr_bd_vs_fixed_ladder=_bd(
                (flp["bitrate_kbps"].to_numpy(), flp["quality"].to_numpy()), _curve(psr)))
        except InfeasibleError:
            row.update(psr_bd_vs_fixed_ladder=float("nan"))
        out["complexity"].append(row)
    # (b) per-shot encoding at each fixed preset, against pershot at that preset's own complexity, on the
    # rungs that preset reaches (the same rungs for both, and the anchor of those rungs)
    ref = ladders.get(1.0) or next(iter(ladders.values()))
    for preset in (p for p in prep.presets if p not in prep.variants):
        b = fixed_preset_ladder(prep, ref, preset)
        ok = np.isfinite(b["rate"])
        row = {"preset": preset, "rungs": int(ok.sum())}
        if ok.sum() < 2:
            row["error"] = f"{preset} reaches fewer than 2 rungs"
            out["fixed_presets"].append(row)
            continue
        sub = LadderSpec(rungs=tuple(x.spec for x, o in zip(ref.rungs, ok) if o), name=f"{spec.name}-{preset}")
        anchor = optimize_ladder(prep, sub, 1.0).anchor_cpu_s
        c_p = float(min(1.0, b["cpu_s"] / anchor))
        fixed = (b["rate"][ok], b["quality"][ok])
        row["ratio"] = c_p
        try:
            lad = optimize_ladder(prep, sub, c_p)
            row.update(achieved=lad.complexity_ratio, bd_pershot=_bd(fixed, _curve(lad)))
        except InfeasibleError as ex:
            row.update(error=str(ex))
            out["fixed_presets"].append(row)
            continue
        try:
            plain = optimize_ladder(prep, sub, c_p, greedy=False)
            row["bd_plain_lagrangian"] = _bd(fixed, _curve(plain))
        except InfeasibleError:
            row["bd_plain_lagrangian"] = float("nan")
        try:
            row["bd_mean_objective"] = _bd(fixed, _curve(optimize_ladder(prep, sub, c_p, objective="mean")))
        except InfeasibleError:
            row["bd_mean_objective"] = float("nan")
        out["fixed_presets"].append(row)
    # where the gain at c = 1 comes from, and how far the allocation is from the exact optimum
    if 1.0 in ladders:
        out["decomposition"] = decompose(prep, ladders[1.0])
        out["optimality_c1"] = optimality_gap(prep, ladders[1.0])
    # the cost of one resolution per rung
    for c in (1.0, 0.1):
        try:
            one = optimize_ladder(prep, spec, c)
            free = optimize_ladder(prep, spec, c, per_shot_resolution=True)
            out["per_shot_resolution"].append({"c": c, "bd_one_res_vs_per_shot": _bd(_curve(free), _curve(one))})
        except InfeasibleError as ex:
            out["per_shot_resolution"].append({"c": c, "error": str(ex)})
    return out


def decompose(prep, lad) -> dict:
    """BD-rate against the fixed medium ladder (at the same rungs) of its parts: the preset alone (a fixed
    ladder at veryslow), per-shot CRF and resolution alone (per-shot at medium), both (per-shot at veryslow),
    and pershot at c = 1."""
    targets = [x.spec.kbps for x in lad.rungs]
    slow = prep.anchor_preset

    def fixed_at(preset):
        fl = fixed_ladder(prep, targets, preset).dropna(subset=["bitrate_kbps"])
        return fl["bitrate_kbps"].to_numpy(), fl["quality"].to_numpy()

    def per_shot(preset):
        b = fixed_preset_ladder(prep, lad, preset)
        ok = np.isfinite(b["rate"])
        return b["rate"][ok], b["quality"][ok]

    anchor = fixed_at("medium")
    return {"fixed_slowest_preset": _bd(anchor, fixed_at(slow)), "per_shot_medium": _bd(anchor, per_shot("medium")),
            "per_shot_slowest_preset": _bd(anchor, per_shot(slow)), "pershot_c1": _bd(anchor, _curve(lad)),
            "slowest_preset": slow}


def _knapsack_best(rate, qual, d, budget, bins: int = 20000) -> float:
    """Best duration-weighted quality sum with sum(d * rate) <= budget, one point per shot (DP over a rate
    grid; rates rounded up, so never above the true optimum)."""
    unit = budget / bins
    cur = np.full(bins + 1, -np.inf)
    cur[0] = 0.0
    for r, q, di in zip(rate, qual, d):
        w = np.ceil(di * r / unit - 1e-9).astype(int)
        v = di * q
        ok = w <= bins
        new = np.full(bins + 1, -np.inf)
        for wi, vi in zip(w[ok], v[ok]):
            np.maximum(new[wi:], cur[: bins + 1 - wi] + vi, out=new[wi:])
        cur = new
    return float(cur.max())


def optimality_gap(prep, lad) -> dict:
    """Per rung of the c = 1 ladder: the exact optimum over the probed points (one resolution per rung, no CPU
    limit) minus pershot's quality, in metric units (positive: pershot below the optimum)."""
    pts = prep.points
    d = pts.duration
    D = float(d.sum())
    gaps = []
    for r in lad.rungs:
        best = -np.inf
        for h in np.unique(pts.height[pts.valid]):
            m = pts.valid & (pts.height == h)
            if not m.any(axis=1).all():
                continue
            best = max(best, _knapsack_best([pts.rate[i, m[i]] for i in range(pts.shots)],
                                            [pts.quality[i, m[i]] for i in range(pts.shots)], d,
                                            r.spec.kbps * D) / D)
        gaps.append(best - r.quality)
    return {"max_gap": float(max(gaps)), "gaps": [float(g) for g in gaps]}


def speed(shot_counts=(100, 300, 1000, 3000), repeat: int = 3) -> list[dict]:
    """Optimizer CPU time (one core) on synthetic probes: 10 presets x 6 heights x 10 CRFs = 600 points/shot."""
    from pershot.synthetic import X264_PRESETS, synthetic_probes

    rows = []
    spec = LadderSpec.auto(8)
    for n in shot_counts:
        df = synthetic_probes(n, presets=list(X264_PRESETS), heights=(1080, 720, 540, 432, 360, 270),
                              crfs=tuple(range(16, 46, 3)), seed=1)
        for psr in (False, True):
            for c in (0.1, 0.03, 1.0) if n == 1000 else (0.1,):
                best = best_wall = float("inf")
                for _ in range(repeat):
                    t0, w0 = time.process_time(), time.perf_counter()
                    lad = optimize_ladder(df, spec, c, per_shot_resolution=psr)
                    best = min(best, time.process_time() - t0)
                    best_wall = min(best_wall, time.perf_counter() - w0)
                rows.append({"shots": n, "points_per_shot": int(len(df) // n), "rungs": len(lad.rungs),
                             "per_shot_resolution": psr, "c": c, "cpu_s": best, "wall_s": best_wall,
                             "achieved": lad.complexity_ratio, "evaluations": lad.stats["evaluations"]})
                print(f"  speed: {n} shots x {len(df) // n} points x {len(lad.rungs)} rungs, c={c:g}, "
                      f"{'per-shot' if psr else 'one'} resolution: {best:.3f} s CPU", flush=True)
    return rows


# --------------------------------------------------------------------------- main


def _table(results: dict) -> str:
    lines = []
    for src in results["sources"]:
        lines.append(f"\n== {src['source']}, ladder {src.get('ladder_name', '')}: {src['shots']} shots, "
                     f"{src['probes']} probes ({src['points_per_shot']} points/shot), probing "
                     f"{src.get('probe_wall_s', 0):.0f} s wall ({src.get('probes_from_cache', 0)} from the cache)")
        lines.append(f"{'c':>6} {'achieved':>9} {'band':>5} {'rungs':>5} {'VMAF':>6} {'BD vs fixed':>12} "
                     f"{'plain':>8} {'vs hull':>8} {'vs plain':>9} {'per-shot res':>13} {'obj. mean':>10}")
        for r in src["complexity"]:
            if "error" in r:
                lines.append(f"{r['c']:>6g}  infeasible: {r['error']}")
                continue
            lines.append(f"{r['c']:>6g} {r['achieved']:>9.4f} {('ok' if r['in_band'] else 'NO'):>5} {r['rungs']:>5} "
                         f"{r['mean_vmaf']:>6.2f} {r['bd_vs_fixed_ladder']:>11.2f}% "
                         f"{r['plain_bd_vs_fixed_ladder']:>7.2f}% {r['bd_vs_fixed_hull']:>7.2f}% "
                         f"{r['bd_vs_plain']:>8.2f}% {r.get('psr_bd_vs_fixed_ladder', float('nan')):>12.2f}% "
                         f"{r.get('mean_obj_bd_vs_fixed_ladder', float('nan')):>9.2f}%")
        lines.append(f"{'preset':>10} {'ratio':>7} {'achieved':>9} {'BD pershot':>11} {'BD plain':>9} {'rungs':>5} "
                     f"{'obj. mean':>10}")
        for r in src["fixed_presets"]:
            if "error" in r:
                lines.append(f"{r['preset']:>10} {r.get('ratio', float('nan')):>7.4f}  {r['error']}")
                continue
            lines.append(f"{r['preset']:>10} {r['ratio']:>7.4f} {r['achieved']:>9.4f} {r['bd_pershot']:>10.2f}% "
                         f"{r['bd_plain_lagrangian']:>8.2f}% {r['rungs']:>5} "
                         f"{r.get('bd_mean_objective', float('nan')):>9.2f}%")
        bds = [r["bd_pershot"] for r in src["fixed_presets"] if "bd_pershot" in r]
        if bds:
            mo = [r.get("bd_mean_objective", float("nan")) for r in src["fixed_presets"] if "bd_pershot" in r]
            lines.append(f"{'mean':>10} {'':>7} {'':>9} {np.nanmean(bds):>10.2f}%   (max {np.nanmax(bds):.2f}%; "
                         f"objective mean: {np.nanmean(mo):.2f}%, max {np.nanmax(mo):.2f}%)")
        dec = src.get("decomposition")
        if dec:
            lines.append(f"vs the fixed medium ladder at c=1: fixed {dec['slowest_preset']} ladder "
                         f"{dec['fixed_slowest_preset']:+.2f}%, per-shot at medium {dec['per_shot_medium']:+.2f}%, "
                         f"per-shot at {dec['slowest_preset']} {dec['per_shot_slowest_preset']:+.2f}%, "
                         f"pershot {dec['pershot_c1']:+.2f}%")
        opt = src.get("optimality_c1")
        if opt:
            lines.append(f"exact optimum minus pershot at c=1 (per rung, VMAF): max {opt['max_gap']:.3f} "
                         f"({', '.join(f'{g:.3f}' for g in opt['gaps'])})")
        for r in src["per_shot_resolution"]:
            if "bd_one_res_vs_per_shot" in r:
                lines.append(f"one resolution per rung vs per-shot resolution at c={r['c']:g}: "
                             f"{r['bd_one_res_vs_per_shot']:+.2f}% BD-rate")
    if results.get("speed"):
        lines.append("\n== optimizer speed (synthetic probes, one core, best of 3)")
        for r in results["speed"]:
            lines.append(f"{r['shots']:>6} shots x {r['points_per_shot']} points x {r['rungs']} rungs, c={r['c']:<5g}"
                         f" {'per-shot' if r['per_shot_resolution'] else 'one-res '}: {r['cpu_s']:.3f} s CPU "
                         f"({r['wall_s']:.3f} s wall, {r['evaluations']} evaluations)")
    return "\n".join(lines)


def _flat(results: dict) -> pd.DataFrame:
    rows = []
    for src in results["sources"]:
        for r in src["complexity"]:
            rows.append({"source": src["source"], "ladder": src.get("ladder_name"), "kind": "complexity", **r})
        for r in src["fixed_presets"]:
            rows.append({"source": src["source"], "ladder": src.get("ladder_name"), "kind": "fixed_preset", **r})
        for r in src["per_shot_resolution"]:
            rows.append({"source": src["source"], "ladder": src.get("ladder_name"), "kind": "per_shot_resolution",
                         **r})
    for r in results.get("speed", []):
        rows.append({"source": "synthetic", "kind": "speed", **r})
    return pd.DataFrame(rows)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sources", nargs="*", default=["testvideo", "photos"], choices=["testvideo", "photos", "mixed"])
    add_run_args(ap, "ladder_bench")
    ap.add_argument("--quick", action="store_true", help="a tiny grid (smoke test of the script)")
    ap.add_argument("--skip-speed", action="store_true")
    ap.add_argument("--speed-only", action="store_true")
    ap.add_argument("--crfs", default=None,
                    help="comma-separated CRFs instead of the default 11 (e.g. 18,23,28,33,38,43, the coarse grid)")
    ap.add_argument("--presets", default=None, help="comma-separated x264 presets instead of all nine")
    ap.add_argument("--heights", default=None, help="comma-separated heights instead of the source's four")
    ap.add_argument("--variants", action="store_true",
                    help="add the x264 variants (VARIANTS) to the grid; (b) still compares with the plain presets")
    args = ap.parse_args(argv)
    work = work_dir(args)
    results: dict = {"machine": {"platform": platform.platform(), "cpus": os.cpu_count(),
                                 "python": platform.python_version()},
                     "grids": {}, "sources": [], "speed": []}
    if not args.speed_only:
        for name in args.sources:
            if name == "testvideo":
                src, shots = testvideo_small(work / "testvideo270.mp4"), None
            elif name == "mixed":
                src, shots = build_mixed_clip(work / "mixed360.mp4")
            else:
                src, shots = build_photo_clip(work / "photos360.mp4")
            grid = QUICK_GRID if args.quick else dict(GRIDS[name])
            if args.heights and not args.quick:
                grid.update(heights=[int(v) for v in args.heights.split(",")])
                grid["description"] = grid["description"].replace("4 heights", f"{len(grid['heights'])} heights")
            if not args.quick and (args.crfs or args.presets):
                crfs = [float(v) if "." in v else int(v) for v in args.crfs.split(",")] if args.crfs else grid["crf"]
                presets = args.presets.split(",") if args.presets else PRESETS
                grid.update(crf=crfs, encoders={"x264": {"presets": presets}},
                            description=f"x264 {len(presets)} presets x 4 heights x {len(crfs)} CRFs")
            if args.variants and not args.quick:
                x264 = dict(grid["encoders"]["x264"], variants=VARIANTS)
                grid.update(encoders={"x264": x264}, description=grid["description"] + f" + {len(VARIANTS)} variants")
            results["grids"][name] = grid
            t0 = time.perf_counter()
            last = [0.0]

            def progress(done, total, _n=name, _t=t0, _last=last):
                if time.perf_counter() - _last[0] > 30 or done == total:
                    _last[0] = time.perf_counter()
                    print(f"  {_n}: {done}/{total} probes, {time.perf_counter() - _t:.0f} s", flush=True)

            run = api.run_probes(src, grid, shots=shots, jobs=args.jobs, progress=progress, cache=True)
            wall = time.perf_counter() - t0
            print(f"{name}: {len(run.shots)} shots, {len(run.probes)} probes in {wall:.0f} s "
                  f"({int(run.probes['cached'].sum())} cached)", flush=True)
            for lname, spec in LADDERS.items():
                res = analyse(name, run.probes, spec)
                res["ladder_name"] = lname
                res["probe_wall_s"] = wall
                res["probes_from_cache"] = int(run.probes["cached"].sum())
                res["cut_frames"] = [s.start_frame for s in run.shots]
                results["sources"].append(res)
    if not args.skip_speed:
        results["speed"] = speed()
    print(_table(results))
    write_results(Path(args.out), results, _flat(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
