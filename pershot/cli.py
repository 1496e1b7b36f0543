"""The command line. The only module that prints, shows progress bars or exits.

Each subcommand is a pair: ``_add_<name>(subparsers)`` declares its arguments
and ``_cmd_<name>(args) -> int`` runs it through the public API. User errors
(:class:`~pershot.errors.PershotError`) print one line and exit with the
error's own code; Ctrl-C exits 130; no traceback unless ``--debug``.
"""
from __future__ import annotations

import argparse
import os
import sys
from typing import Callable, Sequence

from . import __version__
from .errors import InputError, PershotError, ResourceError

EXIT_INTERRUPTED = 130


def _eprint(*a: object) -> None:
    print(*a, file=sys.stderr)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--ffmpeg", metavar="PATH", help="ffmpeg binary (default: $PERSHOT_FFMPEG, then imageio-ffmpeg's)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar, less output")
    p.add_argument("--debug", action="store_true", help="show tracebacks")


def _exec_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--cache", metavar="DIR", help="probe cache folder (default: $PERSHOT_CACHE or the user cache dir)")
    p.add_argument("--no-cache", action="store_true", help="do not read or write the probe cache")
    p.add_argument("-j", "--jobs", type=int, default=None, help="parallel probe processes (default: CPU count)")
    p.add_argument("--executor", choices=["local", "dask"], default="local", help="where probes run")
    p.add_argument("--scheduler", metavar="ADDR", help="Dask scheduler address (with --executor dask)")


# ---------------------------------------------------------------- core: doctor / shots / probe
# (section owned by the core pipeline)


def _cache_from_args(args: argparse.Namespace):
    """--no-cache -> False, --cache DIR -> DIR, else True (the default folder)."""
    if getattr(args, "no_cache", False):
        return False
    return getattr(args, "cache", None) or True


def _executor_from_args(args: argparse.Namespace):
    from .executors import make_executor

    kind, scheduler = getattr(args, "executor", "local") or "local", getattr(args, "scheduler", None)
    if scheduler and kind != "dask":  # it would be ignored: the work would run here instead
        raise InputError("--scheduler goes with --executor dask")
    return make_executor(kind, jobs=getattr(args, "jobs", None), scheduler=scheduler)


class _Bar:
    """A tqdm bar on stderr driven by ``(done, total)`` callbacks; silent with --quiet."""

    def __init__(self, desc: str, unit: str, quiet: bool):
        self.desc, self.unit, self.quiet, self.bar = desc, unit, quiet, None

    def __call__(self, done: int, total: int) -> None:
        if self.quiet:
            return
        if self.bar is None:
            from tqdm import tqdm

            tqdm.monitor_interval = 0  # no monitor thread: the probe pool forks workers
            self.bar = tqdm(total=total, desc=self.desc, unit=self.unit, file=sys.stderr, dynamic_ncols=True,
                            leave=True)
        if self.bar.total != total:
            self.bar.total = total
        self.bar.n = done
        self.bar.refresh()
        if done >= total:
            self.close()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _shot_args(p: argparse.ArgumentParser) -> None:
    from .shots import DETECTORS

    p.add_argument("--detector", choices=DETECTORS, default="adaptive",
                   help="PySceneDetect detector (default: adaptive; none = fixed-length chunks only)")
    p.add_argument("--threshold", type=float, default=None, help="detector threshold (detector's own default)")
    p.add_argument("--min-shot", type=float, default=0.5, metavar="S", help="shortest shot in seconds (default 0.5)")
    p.add_argument("--max-shot", type=float, default=10.0, metavar="S",
                   help="longer shots are split evenly (default 10; 0 = never)")
    p.add_argument("--stream", type=_stream_index, default=None, metavar="N",
                   help="use the video stream with index N in the file, as ffprobe numbers them (default: the "
                        "one ffmpeg picks; cover art is never picked)")
    from .media import DEINTERLACE_MODES

    p.add_argument("--deinterlace", choices=DEINTERLACE_MODES, default=None,
                   help="an interlaced source's frames: frame = one progressive frame per interlaced frame (30i to "
                        "30p, the default); field = one per field (30i to 60p, as Apple's HLS authoring spec "
                        "recommends; shots and probes then count fields); a progressive source ignores it")


def _tonemap_arg(p: argparse.ArgumentParser) -> None:
    from .media import DEFAULT_TONEMAP, TONEMAPS

    p.add_argument("--tonemap", nargs="?", const=DEFAULT_TONEMAP, default=None, choices=TONEMAPS, metavar="CURVE",
                   help="map an HDR (PQ/HLG) source to SDR BT.709 before encoding and scoring, with this tonemap "
                        f"curve ({', '.join(TONEMAPS)}; default {DEFAULT_TONEMAP}); without it an HDR source is an error; "
                        "an SDR source ignores it")


def _bit_depth_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--bit-depth", type=int, choices=(8, 10), default=None, metavar="8|10",
                   help="encode every grid point at this bit depth, whatever the grid says (grid key bit_depth; "
                        "default 8): 10 keeps an HDR (PQ/HLG) source HDR, with its mastering metadata")


def _xpsnr_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--xpsnr", action="store_true",
                   help="also score XPSNR-Y, a perceptually weighted PSNR (probes.csv xpsnr_y; grid [metrics] "
                        "xpsnr = true): about a fifth to a third more scoring CPU")


def _crop_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--crop", default=None, metavar="auto|W:H:X:Y",
                   help="cut the picture before encoding and scoring: auto = the black borders ffmpeg's cropdetect "
                        "finds (letterbox, pillarbox), or a box in pixels of the picture as displayed (default: none)")


def _add_doctor(sub) -> None:
    p = sub.add_parser("doctor", help="check ffmpeg, encoders, metrics and optional dependencies")
    _common(p)
    p.set_defaults(func=_cmd_doctor)


def _cmd_doctor(args: argparse.Namespace) -> int:
    import importlib.metadata as md

    from . import encoders, ffmpeg
    from .errors import MissingDependencyError

    missing: list[str] = []
    out = sys.stdout

    def line(name: str, value: str, ok: bool = True) -> None:
        print(f"{'ok ' if ok else 'NO '} {name:<14} {value}", file=out)

    try:
        info = ffmpeg.ffmpeg_info()
        line("ffmpeg", f"{info.version}  ({info.path})")
    except PershotError as ex:
        line("ffmpeg", str(ex), ok=False)
        print("pershot doctor: ffmpeg is missing", file=out)
        raise MissingDependencyError(f"ffmpeg unusable: {ex}") from None
    required_enc = {"x264"}
    for name in encoders.names():
        spec = encoders.get(name)
        if not ffmpeg.has_encoder(spec.ffmpeg_name):
            line(spec.ffmpeg_name, "not in this ffmpeg", ok=False)
            if name in required_enc:
                missing.append(spec.ffmpeg_name)
            continue
        lacking = [b for b in spec.bsfs if not ffmpeg.has_bsf(b)]
        if lacking:
            line(spec.ffmpeg_name, f"needs the {', '.join(lacking)} bitstream filter, not in this ffmpeg", ok=False)
            if name in required_enc:
                missing.append(lacking[0])
            continue
        try:
            depths = "8 and 10 bits" if "yuv420p10le" in ffmpeg.encoder_pix_fmts(spec.ffmpeg_name) else "8 bits"
            line(spec.ffmpeg_name, f"{spec.version_probe()} ({depths})")
        except PershotError as ex:
            line(spec.ffmpeg_name, f"fails: {ex}", ok=False)
            if name in required_enc:
                missing.append(spec.ffmpeg_name)
    for flt, required in (("libvmaf", True), ("psnr", True), ("ssim", True), ("xpsnr", False),
                          ("setparams", True), ("bwdif", False), ("zscale", False), ("tonemap", False),
                          ("cropdetect", False)):
        ok = ffmpeg.has_filter(flt)
        detail = "filter available" if ok else "filter missing"
        if ok and flt == "libvmaf":  # prove it runs, with the models "auto" picks from (HD and 4K)
            models = ffmpeg.vmaf_models()
            lacking = sorted({"vmaf_v0.6.1", "vmaf_4k_v0.6.1"} - set(models))
            ok = not lacking
            detail = f"filter runs (models {', '.join(models)})" if ok else \
                f"filter lacks built-in model(s) {', '.join(lacking)}"
        line(flt, detail, ok=ok)
        if required and not ok:
            missing.append(flt)
    # renditions: one decode delay per rung (see pershot.renditions.uniform_dts); without it they still
    # play, but DASH packaging can refuse a rung that mixes B-frame delays
    for fmt in ("hls", "dash"):  # encode --hls / --dash
        ok = ffmpeg.has_muxer(fmt)
        line(fmt, "muxer available" if ok else "muxer missing (optional: encode --" + fmt + ")", ok=ok)
    # encode --subtitles: text subtitles become WebVTT; closed captions come out of the movie source's subcc
    ok = ffmpeg.has_muxer("webvtt")
    line("webvtt", "muxer available" if ok else "muxer missing (optional: encode --subtitles)", ok=ok)
    ok = ffmpeg.has_filter("movie")
    line("movie", "filter available" if ok else "filter missing (optional: encode --subtitles cc)", ok=ok)
    has_setts = ffmpeg.has_bsf("setts")
    line("setts", "bitstream filter available" if has_setts else "bitstream filter missing (optional)", ok=has_setts)
    for pkg, required in (("av", True), ("scenedetect", True), ("pandas", True), ("numpy", True),
                          ("torch", False), ("compressai", False), ("dask", False), ("distributed", False)):
        try:
            line(pkg, md.version(pkg))
        except md.PackageNotFoundError:
            line(pkg, "not installed" + ("" if required else " (optional)"), ok=not required)
            if required:
                missing.append(pkg)
    from .cache import default_dir

    line("cache", str(default_dir()))
    if missing:
        raise MissingDependencyError(f"missing: {', '.join(missing)}")
    return 0


def _add_info(sub) -> None:
    p = sub.add_parser("info", help="what pershot sees in a video: size, rate, colour, HDR, interlacing, audio, "
                                    "subtitles")
    p.add_argument("input", help="video file (a name starting with '-' goes after --)")
    p.add_argument("--stream", type=_stream_index, default=None, metavar="N",
                   help="the video stream with index N in the file (default: the one ffmpeg picks)")
    p.add_argument("--borders", action="store_true", help="also look for black borders (what --crop auto would cut)")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    _common(p)
    p.set_defaults(func=_cmd_info)


def _cmd_info(args: argparse.Namespace) -> int:
    import json

    import dataclasses

    from . import api
    from .media import detect_crop, encode_colour, source_class, timing_drift_s
    from .renditions import audio_streams
    from .subtitles import subtitle_streams

    info = api.probe_source(args.input, args.stream)
    doc = {"path": info.path, "codec": info.codec, "width": info.width, "height": info.height,
           "display_width": info.display_width, "display_height": info.display_height,
           "display_aspect": str(info.display_aspect), "resolution_class": source_class(info),
           "rotation": info.rotation, "fps": f"{info.fps.numerator}/{info.fps.denominator}", "vfr": info.is_vfr,
           "frames": info.frame_count,
           "duration_s": round(info.duration_s, 6), "pix_fmt": info.pix_fmt, "bit_depth": info.bit_depth,
           "colour": dict(info.colour), "encode_colour": dict(encode_colour(info)), "hdr": info.hdr_transfer,
           "hdr_metadata": info.hdr_metadata.as_dict() if info.hdr_metadata else None,
           "interlaced": info.interlaced, "audio": audio_streams(info.path),
           "subtitles": [dataclasses.asdict(s) for s in subtitle_streams(info.path)],
           "vfr_drift_s": round(timing_drift_s(info), 6)}
    if args.borders:
        box = detect_crop(info)
        doc["borders"] = list(box) if box else None
    if args.json:
        print(json.dumps(doc, indent=1))
        return 0
    if args.quiet:
        return 0
    rate = f"{float(info.fps):.3f} fps" + (
        f" (VFR: average; renditions keep each frame's time, while --cfr would move a frame by up to "
        f"{1000 * doc['vfr_drift_s']:.0f} ms)" if info.is_vfr else "")
    print(f"video: {info.codec} {info.width}x{info.height}, shown as {info.display_width}x{info.display_height} "
          f"({info.display_aspect.numerator}:{info.display_aspect.denominator}, {doc['resolution_class']}p)"
          + (f", rotated {info.rotation}°" if info.rotation else "")
          + f"; {rate}, {info.frame_count} frames, {info.duration_s:.3f} s; {info.pix_fmt} ({info.bit_depth}-bit)")
    desc = ", ".join(f"{k}={v}" for k, v in info.colour) or "not stated (encodes stay untagged)"
    print(f"colour: {desc}")
    if info.hdr_transfer:
        meta = info.hdr_metadata
        print(f"HDR: yes ({info.hdr_transfer}"
              + (f"; mastering display {meta.luminance[1]:g}/{meta.luminance[0]:g} cd/m2" if meta and meta.luminance
                 else "")
              + (f"; MaxCLL {meta.max_cll}, MaxFALL {meta.max_fall}" if meta and meta.max_cll is not None else "")
              + "): probe and ladder need --bit-depth 10 for an HDR ladder, or --tonemap for an SDR one")
    print("interlaced: " + (f"yes (deinterlaced with bwdif before encoding: {float(info.fps):g} frames/s, or "
                             f"{2 * float(info.fps):g} with --deinterlace field)" if info.interlaced else "no"))
    if args.borders:
        box = doc["borders"]
        print("black borders: " + (f"yes, the picture is {box[0]}x{box[1]} at ({box[2]}, {box[3]}) (--crop auto cuts "
                                   "them)" if box else "none found"))
    aud = doc["audio"]
    print("audio: " + ("; ".join(f"stream {a['index']}: {a['codec']} {a['sample_rate']} Hz, {a['channels']} ch"
                                 + (f", {a['language']}" if a.get("language") else "")
                                 + (f" \"{a['title']}\"" if a.get("title") else "") for a in aud)
                       + (" (--audio encodes the first; --audio-stream N or LANG picks another)" if len(aud) > 1
                          else " (--audio encodes it)") if aud else "none"))
    subs = doc["subtitles"]
    print("subtitles: " + ("; ".join((f"closed captions in video stream {s['index']}" if s["captions"] else
                                      f"stream {s['index']}: {s['codec']}") + ("" if s["text"] else " (pictures)")
                                     + (f", {s['language']}" if s["language"] else "")
                                     + (", forced" if s["forced"] else "")
                                     + (f" \"{s['title']}\"" if s["title"] else "") for s in subs)
                           + (" (--subtitles carries the text ones as WebVTT)" if any(s["text"] for s in subs) else "")
                           if subs else "none"))
    return 0


def _add_shots(sub) -> None:
    p = sub.add_parser("shots", help="split a video into frame-exact shots -> OUT/shots.csv")
    p.add_argument("input", help="video file (a name starting with '-' goes after --)")
    p.add_argument("-o", "--out", default="out", metavar="DIR", help="output folder (default: out)")
    _shot_args(p)
    _common(p)
    p.set_defaults(func=_cmd_shots)


def _cmd_shots(args: argparse.Namespace) -> int:
    from pathlib import Path

    from . import api
    from .shots import write_shots_csv

    bar = _Bar("shots", "frame", args.quiet)
    try:
        from .media import with_deinterlace

        info = with_deinterlace(api.probe_source(args.input, args.stream), args.deinterlace)
        shots = api.detect_shots(info, detector=args.detector, min_shot_s=args.min_shot,
                                 max_shot_s=args.max_shot or None, threshold=args.threshold, progress=bar)
    finally:
        bar.close()
    dest = Path(args.out) / "shots.csv"
    write_shots_csv(shots, dest)
    if not args.quiet:
        _eprint(f"{len(shots)} shots, {info.frame_count} frames ({info.display_width}x{info.display_height}, "
                f"{float(info.fps):.3f} fps{', VFR' if info.is_vfr else ''}) -> {dest}")
    return 0


def _add_probe(sub) -> None:
    p = sub.add_parser("probe", help="encode and score every grid point of every shot -> OUT/shots.csv, OUT/probes.csv")
    p.add_argument("input", help="video file (a name starting with '-' goes after --)")
    p.add_argument("-o", "--out", default="out", metavar="DIR", help="output folder (default: out)")
    p.add_argument("--grid", default="default", metavar="TOML",
                   help="grid TOML file or bundled name: default, variants, hdr10, sample, test "
                        "(default: presets/grid-default.toml)")
    p.add_argument("--shots", metavar="CSV", help="use this shots.csv instead of detecting shots")
    _shot_args(p)
    _tonemap_arg(p)
    _bit_depth_arg(p)
    _xpsnr_arg(p)
    _crop_arg(p)
    _dry_run_arg(p)
    _common(p)
    _exec_args(p)
    p.set_defaults(func=_cmd_probe)


def _dry_run_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dry-run", action="store_true",
                   help="detect shots, look the probes up in the cache and estimate the CPU time of the rest "
                        "(a short calibration is probed), then stop: nothing is written")


def _dry_run(args: argparse.Namespace, grid) -> int:
    import os

    from . import api
    from .estimate import describe

    sparse = getattr(args, "sparse", False)
    # --encoder as the real run reads it: a list, ffmpeg names accepted, each in the grid
    names = _ladder_encoders(getattr(args, "encoder", None), grid)
    ests = []
    shot_bar = _Bar("shots", "frame", args.quiet)
    try:
        # a sparse run probes a skeleton per ladder's encoder; a full grid is one plan for them all
        for enc in (names or [None]) if sparse else [None]:
            est = api.estimate_probes(args.input, grid, shots=args.shots, detector=args.detector,
                                      min_shot_s=args.min_shot, max_shot_s=args.max_shot or None,
                                      threshold=args.threshold, cache=_cache_from_args(args), shot_progress=shot_bar,
                                      stream=args.stream, tonemap=args.tonemap, crop=args.crop, sparse=sparse,
                                      encoder=enc, deinterlace=args.deinterlace)
            ests.append((enc, est))
    finally:
        shot_bar.close()
    jobs = args.jobs or os.cpu_count() or 1
    for enc, est in ests:
        if len(ests) > 1:
            print(f"== {enc}")
        for line in describe(est, jobs):
            print(line)
    return 0


def _ladder_encoders(text: "str | None", grid) -> list[str]:
    """``--encoder NAME[,NAME...]`` as registry names (``libx264`` -> ``x264``), each once and each in ``grid``;
    [] without the option."""
    from . import encoders
    from .errors import ConfigError

    names = [encoders.canonical_name(n.strip()) for n in (text or "").split(",") if n.strip()]
    in_grid = [e.encoder for e in grid.encoders]
    missing = [n for n in names if n not in in_grid]
    if len(names) == 1 and missing:  # as the optimizer says it of probes without it
        from .errors import OptimizeError

        raise OptimizeError(f"no probes for encoder {text.strip()!r} (grid {grid.name} has: {', '.join(in_grid)})")
    if missing or len(set(names)) != len(names):
        raise ConfigError(f"--encoder {text}: give each encoder once, each in the grid "
                          f"(grid {grid.name} has {', '.join(in_grid)})")
    return names


def _cmd_probe(args: argparse.Namespace) -> int:
    from pathlib import Path

    from . import api
    from .grid import load_grid

    grid = load_grid(args.grid).with_bit_depth(args.bit_depth).with_xpsnr(args.xpsnr)
    if args.dry_run:
        return _dry_run(args, grid)
    shot_bar = _Bar("shots", "frame", args.quiet)
    bar = _Bar(f"probes ({grid.name})", "probe", args.quiet)
    executor = _executor_from_args(args)
    try:
        run = api.run_probes(args.input, grid, args.out, shots=args.shots, detector=args.detector,
                             min_shot_s=args.min_shot, max_shot_s=args.max_shot or None, threshold=args.threshold,
                             executor=executor, cache=_cache_from_args(args), progress=bar, shot_progress=shot_bar,
                             stream=args.stream, tonemap=args.tonemap, crop=args.crop, deinterlace=args.deinterlace)
    finally:
        shot_bar.close()
        bar.close()
        executor.close()
    df = run.probes
    if not args.quiet:
        note = _source_note_of(run.source)
        if note:
            _eprint(note)
        n_cached = int(df["cached"].sum()) if len(df) else 0
        _eprint(f"{len(df)} probes over {len(run.shots)} shots ({n_cached} from cache) -> "
                f"{Path(args.out) / 'probes.csv'}")
    return 0


# ---------------------------------------------------------------- optimizer: ladder / optimize
# (section owned by the optimizer)


def _complexity(text: str) -> float:
    try:
        c = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not (0.0 < c <= 1.0):  # also rejects nan
        raise argparse.ArgumentTypeError(f"must be in (0, 1], got {text}")
    return c


def _peak_ratio(text: str) -> float:
    try:
        r = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not (1.0 <= r < float("inf")):  # also rejects nan
        raise argparse.ArgumentTypeError(f"must be a finite number >= 1, got {text}")
    return r


def _positive_int(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {text}")
    return n


def _stream_index(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a stream index: {text!r} (an integer, as ffprobe numbers streams)") \
            from None
    if n < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
    return n


def _target(text: str) -> tuple[str, tuple[float, ...]]:
    """``--target METRIC=Q[,Q...]`` -> (metric, qualities)."""
    import math

    from .ladder import METRICS, _QUALITY_KEYS

    name, sep, values = text.partition("=")
    metric = _QUALITY_KEYS.get(name.strip().lower())
    if not sep or metric is None:
        raise argparse.ArgumentTypeError(f"{text!r}: give METRIC=Q[,Q...] with METRIC one of {', '.join(METRICS)} "
                                         "(e.g. vmaf=93)")
    try:
        qs = tuple(float(v) for v in values.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: the targets must be numbers, e.g. vmaf=80,88,95") from None
    if not all(math.isfinite(q) for q in qs):
        raise argparse.ArgumentTypeError(f"{text!r}: the targets must be finite numbers")
    return metric, qs


def _ladder_and_metric(args: argparse.Namespace) -> None:
    """Resolve ``--target`` into a ladder of quality rungs and the metric it implies (in ``args``)."""
    from .errors import InputError

    target = getattr(args, "target", None)
    if target is None:
        if getattr(args, "each_shot", False):
            raise InputError("--each-shot goes with --target (a ladder TOML gives a rung min_shot_<metric>)")
        args.metric = args.metric or "vmaf"
        return
    metric, qs = target
    if args.metric not in (None, metric):
        raise InputError(f"--target {metric}=... goes with --metric {metric}, not --metric {args.metric}")
    args.metric = metric
    floor = (lambda q: {f"min_shot_{metric}": q}) if args.each_shot else (lambda q: {})
    args.ladder = {"name": f"target-{metric}" + ("-each-shot" if args.each_shot else ""),
                   "rung": [{metric: q, **floor(q)} for q in qs]}


def _optimizer_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("-c", "--complexity", type=_complexity, default=0.1, metavar="C",
                   help="cap the ladder's encode CPU at C x the slowest-preset anchor, 0 < C <= 1 (default 0.1)")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--ladder", metavar="TOML", default=None,
                   help="ladder TOML file or bundled name: default, hls, streaming (default: default)")
    g.add_argument("--rungs", type=_positive_int, metavar="N", help="N rungs spaced along the title's global hull")
    g.add_argument("--target", type=_target, metavar="METRIC=Q[,Q...]",
                   help="target-quality rungs instead of a ladder: each the lowest bitrate whose duration-weighted "
                        "METRIC (vmaf, psnr, ssim, xpsnr) reaches Q, e.g. vmaf=93 or vmaf=80,88,95 (sets --metric)")
    p.add_argument("--each-shot", action="store_true",
                   help="with --target: every shot reaches the target (where it can), not only the title's "
                        "duration-weighted mean, as Av1an's target-quality mode does for each scene")
    p.add_argument("--metric", choices=["vmaf", "psnr", "ssim", "xpsnr"], default=None,
                   help="quality metric (default vmaf, or --target's; xpsnr: XPSNR-Y, which `pershot ladder` then "
                        "scores)")
    p.add_argument("--encoder", metavar="NAME[,NAME...]",
                   help="encoder to build the ladder for when probes hold several; `pershot ladder` takes several "
                        "(x264,x265): one ladder each in OUT/<encoder>/, from one probe run, and with --encode "
                        "one HLS master / DASH manifest for them all")
    p.add_argument("--per-shot-resolution", action="store_true",
                   help="let the resolution change shot by shot inside a rung (default: one resolution per rung)")
    p.add_argument("--peak-ratio", type=_peak_ratio, metavar="R", default=None,
                   help="cap every shot's bitrate at R x its rung's target (e.g. 2 for HLS's peak <= 2x average; "
                        "default: the ladder TOML's peak_ratio, else no cap)")
    p.add_argument("--objective", choices=["area", "mean"], default="area",
                   help="how the rungs share the encode budget: area = the area under the ladder's "
                        "quality-vs-log-bitrate curve, what BD-rate measures (default); mean = the rungs' mean quality")
    p.add_argument("--same-parameter-sets", action="store_true",
                   help="give every rung's shots one set of parameter sets (SPS/PPS..., AV1's sequence header), so "
                        "that HEVC rungs package as hvc1, which Apple devices need, and AV1 rungs carry the one "
                        "sequence header their av1C holds (on by itself for x265 and SVT-AV1 ladders with --hls)")
    p.add_argument("--no-exact", action="store_true",
                   help="skip the exact (mixed-integer) finish of small ladders: faster, possibly slightly worse")
    p.add_argument("--no-plots", action="store_true", help="skip out/plots/*.png")


def _source_note(src: dict) -> str | None:
    """One line on what was done to the picture before encoding (crop, deinterlacing, tone mapping,
    colour), from ladder.json's ``source``; None when nothing was."""
    parts = []
    if src.get("crop"):
        w, h, x, y = src["crop"]
        parts.append(f"cropped to {w}x{h} at ({x}, {y}), shown as {src.get('width')}x{src.get('height')}")
    if src.get("interlaced"):
        parts.append("deinterlaced (bwdif, one frame per field)" if src.get("deinterlace") == "field"
                     else "deinterlaced (bwdif)")
    if src.get("tonemap"):
        parts.append(f"tone-mapped to SDR BT.709 ({src['tonemap']})")
    if src.get("hdr"):
        parts.append(f"HDR ({src['hdr']}) kept at 10 bits"
                     + (", with its mastering display and light levels" if src.get("hdr_metadata") else ""))
    colour = src.get("colour") or {}
    if colour and not src.get("tonemap"):
        parts.append("encodes signal " + ", ".join(f"{k}={v}" for k, v in colour.items()))
    return "source: " + "; ".join(parts) if parts else None


def _source_note_of(info) -> str | None:
    from .media import deinterlace_mode, encode_colour, encode_hdr

    return _source_note({"crop": info.crop, "width": info.display_width, "height": info.display_height,
                         "interlaced": info.interlaced, "deinterlace": deinterlace_mode(info),
                         "tonemap": info.tonemap,
                         "hdr": info.hdr_kept, "hdr_metadata": encode_hdr(info),
                         "colour": dict(encode_colour(info))})


def _print_ladder(lad, out_dir, quiet: bool, with_probes: bool = True) -> None:
    import json
    from pathlib import Path

    for w in lad.warnings:
        _eprint(f"pershot: warning: {w}")
    out = Path(out_dir)
    try:
        doc = json.loads((out / "ladder.json").read_text(encoding="utf-8"))
        doc = doc if isinstance(doc, dict) else {}
    except (OSError, ValueError):
        doc = {}
    if not quiet and with_probes:
        try:
            note = _source_note(doc.get("source") or {})
        except AttributeError:
            note = None
        if note:
            _eprint(note)
    if not quiet:
        m = lad.metric
        model = doc.get("vmaf_model")
        if m == "vmaf" and model and model != "vmaf_v0.6.1":  # the 4K model ("auto" on a 4K source), or one asked for
            _eprint(f"VMAF model: {model}" + (" (a 4K source: a 4K screen seen from 1.5 screen heights)"
                                               if model.startswith("vmaf_4k") else ""))
        print(f"{'rung':>4} {'target':>12} {'kbps':>9} {'peak':>5} {m:>7} {'res':>10} {'cpu s':>9} {'cplx':>6}")
        for r in lad.rungs:
            tgt = f"{r.target_kbps:.4g} kbps" if r.target_kbps is not None else f"{m}={r.target_quality:.4g}"
            res = f"{r.width}x{r.height}" if r.height else "per shot"
            print(f"{r.index:>4} {tgt:>12} {r.bitrate_kbps:>9.1f} {r.peak_ratio:>4.2f}x {r.quality:>7.2f} {res:>10} "
                  f"{r.encode_cpu_s:>9.2f} {r.complexity_ratio:>6.3f}")
        for d in lad.dropped:
            print(f"   - {d.spec.label():>12} dropped: {d.reason}")
        binds = "binds" if lad.budget_binds else "does not bind (the unconstrained optimum is cheaper)"
        print(f"complexity {lad.complexity_ratio:.4f} of the {lad.anchor_preset} anchor "
              f"(asked {lad.complexity:g}; budget {binds})")
        vs = doc.get("versus_fixed") or {}
        if vs.get("bd_rate") is not None:
            print(f"versus a fixed ladder ({vs['preset']}, one resolution and CRF for every shot of a rung, "
                  f"{vs['complexity_ratio']:.3f} of the anchor): BD-rate {100 * vs['bd_rate']:+.1f}% ({vs['metric']})")
    names = (["shots.csv", "probes.csv"] if with_probes else []) + ["ladder.json", "ladder.csv", "summary.csv",
                                                                    "hulls.csv", "thumbnails.csv"]
    found = [str(out / n) for n in names if (out / n).is_file()]
    plots = sorted((out / "plots").glob("*.png")) if (out / "plots").is_dir() else []
    _eprint("outputs: " + ", ".join(found) + (f", {out / 'plots'}/ ({len(plots)} plots)" if plots else ""))


def _add_ladder(sub) -> None:
    p = sub.add_parser("ladder", help="shots -> probes -> optimized ladder under a complexity budget -> OUT/")
    p.add_argument("input", help="video file (a name starting with '-' goes after --)")
    p.add_argument("-o", "--out", default="out", metavar="DIR", help="output folder (default: out)")
    p.add_argument("--grid", default="default", metavar="TOML",
                   help="grid TOML file or bundled name: default, variants, hdr10, sample, test "
                        "(default: presets/grid-default.toml)")
    p.add_argument("--shots", metavar="CSV", help="use this shots.csv instead of detecting shots")
    p.add_argument("--sparse", action="store_true",
                   help="probe a skeleton of the grid, predict the other points and measure only those the ladder "
                        "chooses, round after round (a fraction of the probes; every reported figure is measured)")
    _optimizer_args(p)
    _shot_args(p)
    _tonemap_arg(p)
    _bit_depth_arg(p)
    _xpsnr_arg(p)
    _crop_arg(p)
    t = p.add_argument_group("thumbnails (one representative frame per shot, coded on the image RDC hull)")
    t.add_argument("--thumbnails", action="store_true", help="code a thumbnail per shot into OUT/thumbnails/")
    t.add_argument("--thumbnail-height", type=int, default=360, metavar="H", help="thumbnail height (default: 360)")
    t.add_argument("--thumbnail-psnr", type=float, default=36.0, metavar="DB",
                   help="smallest file reaching this PSNR (default: 36 dB)")
    t.add_argument("--thumbnail-complexity", type=float, default=None, metavar="C",
                   help="decode-complexity cap, relative to the slowest candidate codec (0 < C <= 1)")
    t.add_argument("--thumbnail-codecs", metavar="LIST",
                   help="comma-separated codecs to choose from (default: jpeg, webp, avif, what every browser "
                        "shows; jxl, hevc and the learned ones when named)")
    p.add_argument("--encode", action="store_true",
                   help="also encode the renditions (one file per rung) into OUT/renditions/")
    _audio_arg(p, "with --encode: ")
    _hls_arg(p, "with --encode: ")
    _verify_arg(p, "with --encode: ")
    _dry_run_arg(p)
    _common(p)
    _exec_args(p)
    p.set_defaults(func=_cmd_ladder)


def _cmd_ladder(args: argparse.Namespace) -> int:
    from . import api
    from .grid import load_grid

    _ladder_and_metric(args)
    grid = load_grid(args.grid).with_bit_depth(args.bit_depth).with_xpsnr(args.xpsnr or args.metric == "xpsnr")
    if args.rungs is None:
        api.load_ladder(args.ladder)  # fail on a bad ladder before encoding anything
    # the rendition options fail before any work
    from .errors import InputError
    from .renditions import parse_audio

    if args.audio is not None and not args.encode:
        raise InputError("--audio goes with --encode (or give it to `pershot encode`)")
    parse_audio(args.audio)
    _check_segment_args(args)
    if args.audio_stream is not None and args.audio is None:
        raise InputError("--audio-stream goes with --audio")
    _loudness_check(args)
    for flag, on in (("--hls", args.hls), ("--dash", args.dash), ("--cfr", args.cfr), ("--verify", args.verify),
                     ("--segment-seconds", args.segment_seconds is not None),
                     ("--subtitles", args.subtitles is not None), ("--subtitle-file", bool(args.subtitle_file))):
        if on and not args.encode:
            raise InputError(f"{flag} goes with --encode (or give it to `pershot encode`)")
        if on and args.per_shot_resolution and flag in ("--hls", "--dash"):
            raise InputError(f"{flag} needs one resolution per rung: it does not go with --per-shot-resolution")
    if args.encode:
        _subtitle_check(None, None, args, input_path=args.input, note=False)
        if args.audio is not None:  # the audio streams asked for are there, before the probes
            from pathlib import Path as _Path

            from .renditions import audio_picks

            if not audio_picks(args.input, _audio_pick(args.audio_stream)):
                raise InputError(f"{_Path(args.input).name} has no audio stream (asked for an audio rendition)")
    if args.dry_run:
        return _dry_run(args, grid)
    names = _ladder_encoders(args.encoder, grid)  # before any work
    thumbs: "bool | dict" = False
    if args.thumbnails:
        codecs = [c.strip() for c in args.thumbnail_codecs.split(",") if c.strip()] if args.thumbnail_codecs else None
        thumbs = {"height": args.thumbnail_height, "target_psnr": args.thumbnail_psnr,
                  "complexity": args.thumbnail_complexity, "codecs": codecs}
    shot_bar = _Bar("shots", "frame", args.quiet)
    bar = _Bar(f"probes ({grid.name})", "probe", args.quiet)
    # HLS of an HEVC or AV1 ladder is for Apple devices, which play HEVC as hvc1 only: one set of parameter
    # sets (AV1: one sequence header) per rung, all of it in the rung's initialization segment
    from .ladder import default_encoder

    from pathlib import Path

    several = len(names) > 1  # one ladder per encoder, each in OUT/<encoder>/, from one probe run
    in_grid = [e.encoder for e in grid.encoders]
    ladder_encoders = names or [default_encoder(in_grid)]
    executor = _executor_from_args(args)
    ladders = []
    try:
        for i, enc in enumerate(ladder_encoders):
            out = Path(args.out) / enc if several else Path(args.out)
            # the shots of the first ladder serve the others, whose probes are then all in the cache
            shots = args.shots if i == 0 else str(Path(args.out) / ladder_encoders[0] / "shots.csv")
            same_ps = True if args.same_parameter_sets else (None if args.hls and enc in ("x265", "svtav1")
                                                                else False)
            lad = api.ladder(args.input, args.complexity, args.ladder, rungs=args.rungs, metric=args.metric,
                             grid=grid, out_dir=out, encoder=enc if names else None,
                             per_shot_resolution=args.per_shot_resolution, peak_ratio=args.peak_ratio,
                             exact=not args.no_exact, objective=args.objective, plots=not args.no_plots,
                             shots=shots, detector=args.detector, min_shot_s=args.min_shot,
                             max_shot_s=args.max_shot or None, threshold=args.threshold, executor=executor,
                             cache=_cache_from_args(args), progress=bar, shot_progress=shot_bar,
                             thumbnails=thumbs if i == 0 else False, stream=args.stream, tonemap=args.tonemap,
                             crop=args.crop, sparse=args.sparse, same_parameter_sets=same_ps,
                             deinterlace=args.deinterlace)
            ladders.append((lad, out))
    finally:
        shot_bar.close()
        bar.close()
        executor.close()
    for lad, out in ladders:
        sp = lad.stats.get("sparse")
        if sp and not args.quiet:
            _eprint(f"sparse probes: {sp['measured']} of the grid's {sp['grid_points']} points measured "
                    f"({100.0 * sp['measured'] / max(sp['grid_points'], 1):.0f}%), {sp['rounds']} round(s) after "
                    "the skeleton")
        if several and not args.quiet:
            print(f"== {lad.encoder} ladder")
        _print_ladder(lad, out, args.quiet)
    if several and not args.quiet:
        from . import api

        print("== the ladders compared")
        _print_comparison(api.compare_ladders([out / "ladder.json" for _, out in ladders],
                                              names=[lad.encoder for lad, _ in ladders]))
    if args.encode:
        paths = [out / "ladder.json" for _, out in ladders]
        _encode(paths if several else paths[0], Path(args.out) / "renditions", None, None, args)
    return 0


def _rung_list(text: str) -> list[int]:
    try:
        out = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a comma-separated list of rung numbers: {text!r}") from None
    if not out or min(out) < 0:
        raise argparse.ArgumentTypeError(f"not a comma-separated list of rung numbers: {text!r}")
    return out


def _add_encode(sub) -> None:
    p = sub.add_parser("encode", help="encode a ladder.json's renditions: one file per rung -> OUT/")
    p.add_argument("ladder", nargs="+",
                   help="ladder.json written by `pershot ladder` or `pershot optimize`; several (one per codec, "
                        "from the same shots, e.g. x264 and x265) go to OUT/<encoder>/ and, with --hls, into one "
                        "master playlist (with --dash, one manifest)")
    p.add_argument("-o", "--out", default=None, metavar="DIR",
                   help="output folder (default: renditions/ beside the (first) ladder.json)")
    p.add_argument("--source", metavar="VIDEO", help="the video (default: the path the ladder.json records)")
    p.add_argument("--rungs", type=_rung_list, metavar="LIST", help="only these rungs, e.g. 0,3,5 (default: all)")
    p.add_argument("-j", "--jobs", type=int, default=None, help="parallel shot jobs (default: CPU count)")
    p.add_argument("--executor", choices=["local", "dask"], default="local", help="where the shot encodes run")
    p.add_argument("--scheduler", metavar="ADDR", help="Dask scheduler address (with --executor dask)")
    _audio_arg(p)
    _hls_arg(p)
    _verify_arg(p)
    _tonemap_arg(p)
    _crop_arg(p)
    from .media import DEINTERLACE_MODES

    p.add_argument("--deinterlace", choices=DEINTERLACE_MODES, default=None,
                   help="an interlaced source's frames, as the probes counted them, for a ladder that does not say "
                        "(one from `pershot optimize`): frame (the default) or field")
    _common(p)
    p.set_defaults(func=_cmd_encode)


def _verify_arg(p: argparse.ArgumentParser, prefix: str = "") -> None:
    p.add_argument("--verify", action="store_true",
                   help=f"{prefix}score each rendition against the source, every frame, as the probes were, and "
                        "report its VMAF, PSNR-Y and SSIM beside the ladder's (renditions.csv)")


def _hls_arg(p: argparse.ArgumentParser, prefix: str = "") -> None:
    p.add_argument("--hls", action="store_true",
                   help=f"{prefix}also package the renditions as HLS: OUT/hls/master.m3u8, segments cut at shot "
                        "starts (H.264: MPEG-TS; HEVC: fragmented MP4, hvc1 where a rung has one set of parameter "
                        "sets; AV1: fragmented MP4; one resolution per rung)")
    p.add_argument("--cfr", action="store_true",
                   help=f"{prefix}constant-rate renditions of a VFR source: frames evenly spaced at its average rate "
                        "(default: each frame at its own time, in step with the audio)")
    p.add_argument("--dash", action="store_true",
                   help=f"{prefix}also package the renditions as MPEG-DASH: OUT/dash/manifest.mpd, fragmented-MP4 "
                        "segments cut at shot starts (x264, x265 or SVT-AV1 ladders, one resolution per rung)")
    p.add_argument("--segment-seconds", type=float, default=None, metavar="S",
                   help=f"{prefix}the HLS/DASH segment duration aimed at (default 6; a segment starts at a key frame: "
                        "a shot start, or a GOP start with a grid keyint)")


def _audio_arg(p: argparse.ArgumentParser, prefix: str = "") -> None:
    p.add_argument("--audio", nargs="?", const="aac", default=None, metavar="aac[:KBPS]",
                   help=f"{prefix}also write one audio rendition from the source's first audio stream, in step "
                        "with the video renditions: AAC-LC, 128 kbps unless given (64 kbps a channel beyond "
                        "stereo: 384 for 5.1) (default: video only)")
    p.add_argument("--audio-stream", default=None, metavar="N|LANG|all",
                   help=f"{prefix}with --audio: the N-th audio stream of the source (0 = the first, the default), "
                        "the first tagged with language LANG (e.g. fra), a comma-separated list of those (eng,fra: "
                        "an audio rendition each, one HLS audio group, a DASH adaptation set each), or all")
    p.add_argument("--audio-loudness", type=float, default=None, metavar="LUFS",
                   help=f"{prefix}with --audio: normalize each audio rendition to this integrated loudness "
                        "(-23: EBU R128; -24: ATSC A/85), two passes of ffmpeg's loudnorm, true peak at most -2 dBTP "
                        "(default: the source's loudness)")
    p.add_argument("--subtitles", nargs="?", const="all", default=None, metavar="N|LANG|cc|all",
                   help=f"{prefix}also carry the source's text subtitle streams as WebVTT, in step with the video "
                        "(HLS: a SUBTITLES group; DASH: a text/vtt set each): all of them and the closed captions "
                        "(the default with the flag alone), the N-th subtitle stream, the first in language LANG, "
                        "cc (the CEA-608 captions inside the video), or a comma-separated list of those")
    p.add_argument("--subtitle-file", action="append", default=None, metavar="FILE[:LANG]",
                   help=f"{prefix}also carry this subtitle file (SubRip, WebVTT, ASS..., UTF-8; timed from the "
                        "video's first frame), its language given after a colon or read from its name "
                        "(film.fr.srt); repeat for more")


def _cmd_encode(args: argparse.Namespace) -> int:
    from pathlib import Path

    ladders = [Path(x) for x in args.ladder]
    out = Path(args.out) if args.out else ladders[0].parent / "renditions"
    _encode(ladders[0] if len(ladders) == 1 else ladders, out, args.source, args.rungs, args)
    return 0


def _audio_note(ladder, source, args: argparse.Namespace) -> None:
    """With --audio and no --audio-stream, warn when the source has several audio streams (only one is
    encoded); --audio-stream without --audio is an error (exit 2)."""
    from .errors import InputError

    pick = getattr(args, "audio_stream", None)
    if getattr(args, "audio", None) is None:
        if pick is not None:
            raise InputError("--audio-stream goes with --audio")
        return
    if pick is not None:
        return
    from .renditions import audio_streams, load_ladder_json

    first = ladder[0] if isinstance(ladder, (list, tuple)) else ladder
    try:
        path = source or (load_ladder_json(first).get("source") or {}).get("path")
        found = audio_streams(path) if path else []
    except Exception:  # only a warning: the encode itself reports an unreadable ladder or source
        return
    if len(found) > 1:
        names = ", ".join(f"{i} ({a['language'] or 'untagged'})" for i, a in enumerate(found))
        _eprint(f"pershot: warning: the source has {len(found)} audio streams ({names}); the audio rendition is "
                "made from the first: --audio-stream N or LANG picks another")


def _loudness_check(args: argparse.Namespace) -> None:
    """--audio-loudness: a target in range, with --audio (exit 2 before any work)."""
    from .errors import InputError
    from .renditions import parse_loudness

    value = getattr(args, "audio_loudness", None)
    parse_loudness(value)
    if value is not None and getattr(args, "audio", None) is None:
        raise InputError("--audio-loudness goes with --audio")


def _subtitle_check(ladder, source, args: argparse.Namespace, input_path=None, note: bool = True) -> None:
    """``note=False`` (``ladder --encode``): before the probes, the subtitle files are readable and --subtitles
    names streams the source has (exit 2 otherwise). ``note=True`` (``encode``, which checks all that itself
    before any encode): with --hls or --dash and no subtitles asked for, a note when the source has text
    subtitle streams."""
    from .subtitles import check_pick, convert, parse_sidecar, subtitle_picks, subtitle_streams

    pick = _audio_pick(getattr(args, "subtitles", None))
    if not note:
        check_pick(pick)
        for f in getattr(args, "subtitle_file", None) or ():
            convert(parse_sidecar(f)[0])  # a file ffmpeg cannot read fails now, before the probes
        if pick is None:
            return
    elif pick is not None or not (getattr(args, "hls", False) or getattr(args, "dash", False)):
        return  # nothing to note
    path = input_path or source
    if path is None:
        from .renditions import load_ladder_json

        first = ladder[0] if isinstance(ladder, (list, tuple)) else ladder
        try:
            path = (load_ladder_json(first).get("source") or {}).get("path")
        except Exception:  # the encode itself reports an unreadable ladder
            return
    if not path:
        return
    try:
        found = subtitle_streams(path)
    except Exception:  # the ladder or the encode itself reports an unreadable source
        return
    if not note:
        subtitle_picks(path, pick, found)
    elif any(s.text for s in found):
        names = ", ".join(s.describe(i) for i, s in enumerate(found) if s.text)
        _eprint(f"pershot: note: the source has text subtitles ({names}): --subtitles carries them into the "
                "package")


def _audio_pick(text: "str | None") -> "int | str | list | None":
    """--audio-stream: N, LANG, all, or a comma-separated list of N and LANG."""
    if text is None:
        return None
    parts = [p.strip() for p in text.split(",") if p.strip()]
    picks = [int(p) if p.isdigit() else p for p in parts]
    return picks if len(picks) > 1 else picks[0] if picks else text


def _check_segment_args(args: argparse.Namespace) -> None:
    """--segment-seconds: a positive duration, with --hls or --dash (exit 2 before any work)."""
    from .errors import InputError
    from .renditions import check_segment_s

    seconds = getattr(args, "segment_seconds", None)
    check_segment_s(seconds)
    if seconds is not None and not (getattr(args, "hls", False) or getattr(args, "dash", False)):
        raise InputError("--segment-seconds goes with --hls or --dash")


def _encode(ladder, out, source, rungs, args: argparse.Namespace) -> None:
    from . import api

    _check_segment_args(args)
    _audio_note(ladder, source, args)
    _loudness_check(args)
    _subtitle_check(ladder, source, args)
    bar = _Bar("renditions", "shot", args.quiet)
    vbar = _Bar("verify", "rung", args.quiet)
    executor = _executor_from_args(args)
    try:
        res = api.encode_renditions(ladder, out, source=source, rungs=rungs, executor=executor, progress=bar,
                                    audio=getattr(args, "audio", None), crop=getattr(args, "crop", None),
                                    tonemap=getattr(args, "tonemap", None), hls=getattr(args, "hls", False),
                                    deinterlace=getattr(args, "deinterlace", None),
                                    dash=getattr(args, "dash", False), cfr=getattr(args, "cfr", False),
                                    verify=getattr(args, "verify", False), verify_progress=vbar,
                                    segment_s=getattr(args, "segment_seconds", None),
                                    audio_stream=_audio_pick(getattr(args, "audio_stream", None)),
                                    subtitles=_audio_pick(getattr(args, "subtitles", None)),
                                    subtitle_files=getattr(args, "subtitle_file", None),
                                    audio_loudness=getattr(args, "audio_loudness", None))
    finally:
        bar.close()
        vbar.close()
        executor.close()
    verified = getattr(args, "verify", False)
    if not args.quiet:
        head = f" {'VMAF':>6} {'ladder':>6} {'PSNR-Y':>6} {'ladder':>6}" if verified else ""
        print(f"{'rung':>4} {'res':>9} {'frames':>7} {'kbps':>9} {'ladder kbps':>11} {'cpu s':>8}{head}  file")
        for r in res:
            res_s = r.kind if r.kind != "video" else f"{r.width}x{r.height}" if r.height else "per shot"
            q = (f" {r.vmaf:>6.2f} {r.ladder_vmaf:>6.2f} {r.psnr_y:>6.2f} {r.ladder_psnr_y:>6.2f}"
                 if verified and r.kind == "video" else " " * len(head))
            print(f"{r.rung:>4} {res_s:>9} {r.frames:>7} {r.bitrate_kbps:>9.1f} {r.ladder_kbps:>11.1f} "
                  f"{r.encode_cpu_s:>8.2f}{q}  {r.path}")
    if getattr(args, "audio_loudness", None) is not None:
        for r in res:
            if r.kind == "audio" and not r.loudness_lufs > -70.0:
                _eprint(f"pershot: warning: {r.path} is silent (below -70 LUFS): kept as it is, not normalized")
    if verified:
        from .verify import mismatches

        for line in mismatches(res):
            _eprint(f"pershot: warning: {line}")
    several = isinstance(ladder, (list, tuple))
    _eprint(f"renditions: {out}/ ({len(res)} files, renditions.csv{' in each encoder folder' if several else ''})")
    board = next((r for r in res if r.kind == "thumbnails"), None)
    if board is not None:
        _eprint(f"storyboard (scrubbing previews, a thumbnail per shot): {board.path}")
    else:
        from .renditions import load_ladder_json
        from .thumbnails import storyboard_problem

        why = storyboard_problem(load_ladder_json(ladder[0] if several else ladder))
        if why:
            _eprint(f"pershot: warning: no storyboard: {why}")
    if getattr(args, "hls", False):
        from .hls import in_band_rungs

        master = out / "hls" / "master.m3u8"
        _eprint(f"HLS: {master}")
        hev1 = in_band_rungs(master)
        if hev1:
            _eprint(f"pershot: warning: HLS variant(s) {', '.join(hev1)} carry their HEVC parameter sets in band "
                    "(hev1): the rung's shots come from x265 presets whose parameter sets differ, and Apple devices "
                    "play only hvc1 (one set); a grid of presets veryfast ... slow keeps one set")
    if getattr(args, "dash", False):
        _eprint(f"DASH: {out / 'dash' / 'manifest.mpd'}")
    if getattr(args, "hls", False) or getattr(args, "dash", False):
        from .hls import several_sequence_headers

        mixed = several_sequence_headers(res)
        if mixed:
            _eprint(f"pershot: warning: AV1 rung(s) {', '.join(map(str, mixed))} carry more than one sequence header "
                    "(their shots come from SVT-AV1 presets that signal different tools), while the initialization "
                    "segment's av1C holds the first: strict players may refuse them; a ladder made with "
                    "--same-parameter-sets, or a grid of presets within one of 0-2, 3-5, 6-8 and 9-13, keeps one")


def _add_compare(sub) -> None:
    p = sub.add_parser("compare", help="ladders of one title side by side: BD-rate against the first, encode CPU")
    p.add_argument("ladders", nargs="+", metavar="LADDER_JSON",
                   help="two ladder.json files or more, the first the reference (e.g. out/x264/ladder.json "
                        "out/x265/ladder.json)")
    p.add_argument("--csv", metavar="FILE", help="also write the table as CSV")
    _common(p)
    p.set_defaults(func=_cmd_compare)


def _cmd_compare(args: argparse.Namespace) -> int:
    from . import api

    table = api.compare_ladders(args.ladders)
    if args.csv:
        from .atomic import write_text

        write_text(args.csv, table.to_csv(index=False))
    _print_comparison(table)
    return 0


def _print_comparison(table) -> None:
    """The table of :func:`pershot.compare.compare_ladders`, one line per ladder, then its notes."""
    import math

    def pct(v) -> str:
        return "n/a" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:+.1f}%"

    print(f"{'ladder':<28} {'encoder':>8} {'rungs':>5} {'kbps':>15} {'cpu x':>6} {'BD VMAF':>8} {'BD PSNR':>8} "
          f"{'BD SSIM':>8} {'dVMAF':>6}")
    for r in table.itertuples(index=False):
        name = r.ladder if len(r.ladder) <= 28 else "…" + r.ladder[-27:]
        kbps = f"{r.min_kbps:.0f}-{r.max_kbps:.0f}" if r.rungs else "-"
        cpu = "n/a" if math.isnan(r.cpu_vs_first) else f"{r.cpu_vs_first:.2f}"
        dq = "n/a" if math.isnan(r.bd_vmaf) else f"{r.bd_vmaf:+.2f}"
        print(f"{name:<28} {str(r.encoder):>8} {r.rungs:>5} {kbps:>15} {cpu:>6} {pct(r.bd_rate_vmaf):>8} "
              f"{pct(r.bd_rate_psnr_y):>8} {pct(r.bd_rate_ssim):>8} {dq:>6}")
    for r in table.itertuples(index=False):
        if r.note:
            _eprint(f"pershot: note: {r.ladder}: {r.note}")
    _eprint("BD-rates against the first ladder (negative: fewer bits at equal quality); cpu x: encode CPU over the "
            "first's; dVMAF: BD-VMAF points at equal bitrate")


def _add_optimize(sub) -> None:
    p = sub.add_parser("optimize", help="re-optimize a ladder from an existing probes.csv (no encoding) -> OUT/")
    p.add_argument("probes", help="probes.csv written by `pershot probe` or `pershot ladder`")
    p.add_argument("-o", "--out", default="out", metavar="DIR", help="output folder (default: out)")
    p.add_argument("--grid", default=None, metavar="TOML",
                   help="the grid the probes were made with, for its keyint and threads in ladder.json's commands "
                        "(default: probes.csv's keyint and threads columns, else the probe cache's)")
    _optimizer_args(p)
    _common(p)
    p.set_defaults(func=_cmd_optimize)


def _cmd_optimize(args: argparse.Namespace) -> int:
    from . import api

    _ladder_and_metric(args)
    lad = api.optimize(args.probes, args.ladder, args.complexity, args.metric, rungs=args.rungs,
                       encoder=args.encoder, per_shot_resolution=args.per_shot_resolution,
                       peak_ratio=args.peak_ratio, exact=not args.no_exact, objective=args.objective,
                       same_parameter_sets=args.same_parameter_sets, grid=args.grid)
    api.write_ladder(lad, args.out, plots=not args.no_plots)
    _print_ladder(lad, args.out, args.quiet, with_probes=False)
    return 0


# ---------------------------------------------------------------- image codecs: codecs / image / decode / train-codec
# (section owned by the image codecs)

def _fmt_levels(levels: Sequence[int]) -> str:
    lv = list(levels)
    if len(lv) > 2 and lv == list(range(lv[0], lv[-1] + 1)):
        return f"{lv[0]}..{lv[-1]}"
    return ",".join(str(v) for v in lv)


def _add_codecs(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("codecs", help="list the image codecs (built-in, learned, plugins)",
                       description="List every image codec with its levels, kind and decoder complexity.")
    _common(p)
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=_cmd_codecs)


def _cmd_codecs(args: argparse.Namespace) -> int:
    import dataclasses
    import json

    from . import codecs

    infos = codecs.list_codecs()
    errs = codecs.plugin_errors()
    if args.json:
        print(json.dumps({"codecs": [dataclasses.asdict(i) for i in infos], "plugin_errors": errs}, indent=1))
    else:
        print(f"{'codec':<22} {'kind':<12} {'levels':<34} {'dec kMAC/px':>11}  usable  description")
        for i in infos:
            kmac = f"{i.decoder_kmac_per_px:.1f}" if i.decoder_kmac_per_px is not None else "-"
            use = "yes" if i.available else "no"
            desc = i.description if i.available else f"{i.description} [{i.reason}]"
            print(f"{i.name:<22} {i.kind:<12} {_fmt_levels(i.levels):<34} {kmac:>11}  {use:<6}  {desc}")
    for e in errs:
        _eprint(f"pershot: warning: {e}")
    return 0


def _add_image(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("image", help="code one image with a codec, or choose the codec on the RDC hull",
                       description="Code an image with --codec at --level, or choose codec and level for "
                                   "--target-bpp or --target-psnr on the image's rate-distortion-complexity hull "
                                   "(complexity = decode CPU time relative to the slowest codec, capped by "
                                   "--complexity). Writes the bitstream, the decoded PNG and image.csv.")
    _common(p)
    p.add_argument("input", help="image file (PNG, JPEG, TIFF, ...)")
    p.add_argument("--codec", help="codec name (see `pershot codecs`)")
    p.add_argument("--codecs", metavar="LIST",
                   help="with a target: choose among these codecs only, comma-separated (default: every usable one; "
                        "leaving out the learned ones is much faster on a large image)")
    p.add_argument("--level", type=int, help="codec level (higher = more bits)")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--target-bpp", type=float, metavar="B", help="best quality at or under B bits per pixel")
    g.add_argument("--target-psnr", type=float, metavar="Q", help="fewest bits reaching Q dB PSNR (RGB)")
    p.add_argument("--complexity", type=float, metavar="C",
                   help="cap on decode CPU time relative to the slowest codec, 0 < C <= 1 (with a target)")
    p.add_argument("-o", "--out", required=True, metavar="DIR", help="output folder")
    p.set_defaults(func=_cmd_image)


def _write_image_csv(path: "os.PathLike[str] | str", rows: list) -> None:
    import csv
    import io

    from .atomic import write_text
    from .codecs.select import CSV_COLUMNS

    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(CSV_COLUMNS), lineterminator="\n")
    w.writeheader()
    for r in rows:
        row = r.row()
        for k, v in row.items():
            if isinstance(v, float):
                row[k] = f"{v:.6g}"
            elif isinstance(v, bool):
                row[k] = int(v)
            elif v is None:
                row[k] = ""
        w.writerow(row)
    write_text(path, buf.getvalue())


def _cmd_image(args: argparse.Namespace) -> int:
    from pathlib import Path

    from . import api
    from .atomic import write_bytes
    from .codecs.imageio import save_png
    from .errors import InputError

    if args.level is not None and args.codec is None:
        raise InputError("--level needs --codec")
    if args.codec and args.level is None and args.target_bpp is None and args.target_psnr is None:
        raise InputError("--codec needs --level, or a --target-bpp/--target-psnr to choose the level")
    codecs = None
    if args.codecs is not None:
        if args.codec is not None or (args.target_bpp is None and args.target_psnr is None):
            raise InputError("--codecs goes with a --target-bpp/--target-psnr, without --codec")
        codecs = [c.strip() for c in args.codecs.split(",") if c.strip()]
    bar = None
    progress = None
    if not args.quiet and args.level is None:
        from tqdm import tqdm

        bar = tqdm(total=0, unit="point", desc="coding", file=sys.stderr, leave=False)

        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.n = done
            bar.refresh()

    out = Path(args.out)
    stem = Path(args.input).stem
    if (out / f"{stem}.decoded.png").resolve() == Path(args.input).resolve():
        raise InputError(f"{args.input} would be overwritten by the decoded image: give another -o")
    from .errors import InfeasibleError

    points: list = []
    try:
        res = api.code_image(args.input, codec=args.codec, level=args.level, target_bpp=args.target_bpp,
                             target_psnr=args.target_psnr, complexity=args.complexity, progress=progress,
                             points=points, codecs=codecs)
    except InfeasibleError:
        if points:  # the measured points are kept: image.csv says what each reaches
            _write_image_csv(out / "image.csv", points)
        raise
    finally:
        if bar is not None:
            bar.close()
    bit_path = out / f"{stem}{res.extension}"
    if bit_path.resolve() == Path(args.input).resolve():
        raise InputError(f"{args.input} would be overwritten by its own re-encode: give another -o")
    write_bytes(bit_path, res.data)
    png_path = out / f"{stem}.decoded.png"
    save_png(res.decoded, png_path)
    _write_image_csv(out / "image.csv", points or [res])
    kmac = f", decoder {res.kmac_per_px:.1f} kMAC/px" if res.kmac_per_px is not None else ""
    cx = f", complexity {res.complexity:.3f}" if res.complexity is not None else ""
    print(f"{res.codec} level {res.level}: {res.bytes} bytes, {res.bpp:.4f} bpp, PSNR {res.psnr_rgb:.2f} dB "
          f"(Y {res.psnr_y:.2f}), MS-SSIM {res.ms_ssim:.4f}, encode {res.encode_cpu_s * 1e3:.0f} ms CPU, "
          f"decode {res.decode_cpu_s * 1e3:.0f} ms CPU{kmac}{cx}")
    if not args.quiet:
        print(f"wrote {bit_path}, {png_path}, {out / 'image.csv'}")
    return 0


def _add_decode(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("decode", help="decode an image bitstream to PNG",
                       description="Decode a file made by `pershot image` (any codec; learned codecs need only "
                                   "the file and the installed weights) to an RGB PNG.")
    _common(p)
    p.add_argument("file", help="bitstream (.psi, .jpg, .webp, .avif, .jxl)")
    p.add_argument("-o", "--out", required=True, metavar="PNG", help="output PNG")
    p.set_defaults(func=_cmd_decode)


def _cmd_decode(args: argparse.Namespace) -> int:
    import os
    from pathlib import Path

    from . import api
    from .codecs.imageio import save_png

    out = Path(args.out)
    if out.suffix.lower() != ".png":
        raise InputError(f"{args.out}: pershot decode writes PNG: give a .png name")
    if out.is_dir():
        raise InputError(f"{args.out} is a folder: give the PNG's file name")
    if out.exists() and out.resolve() == Path(args.file).resolve():
        raise InputError(f"{args.file} would be overwritten by its own decode: give another -o")
    _check_out_dir(str(out.parent))
    from .codecs.imageio import read_bytes

    data = read_bytes(args.file, "bitstream")
    if os.environ.get(_DECODE_CHILD) != "1" and _learned_bitstream(data):
        return _decode_apart(args)
    img, name = api.decode_image(data)
    save_png(img, args.out)
    if not args.quiet:
        print(f"{name}: {img.shape[1]}x{img.shape[0]} -> {args.out}")
    return 0


#: set in the child process that decodes a learned bitstream (see :func:`_decode_apart`)
_DECODE_CHILD = "PERSHOT_DECODE_CHILD"


def _learned_bitstream(data: bytes) -> bool:
    """``data`` is a pershot container whose codec is a learned one (its checks passed: size, CRC...)."""
    from .codecs import container, get_codec

    if not container.is_container(data):
        return False
    bs = container.unpack(data)  # a damaged container is a CodecError here, in this process
    try:
        return get_codec(bs.codec).kind == "learned"
    except PershotError:
        return False  # unknown or unusable here: the decode says so


def _decode_apart(args: argparse.Namespace) -> int:
    """Decode a learned bitstream in a child process: CompressAI's entropy decoder reads past the end of a
    crafted payload (its checksum valid) and crashes the process with a segmentation fault. A crash of the
    child is then one line and the bitstream error's exit code, not the end of pershot."""
    import os
    import subprocess

    cmd = [sys.executable, "-c", "import sys; from pershot.cli import main; sys.exit(main())", "decode",
           f"--out={args.out}", *(["-q"] if args.quiet else []), *(["--debug"] if args.debug else []),
           *(["--ffmpeg", args.ffmpeg] if getattr(args, "ffmpeg", None) else []), "--", args.file]
    rc = subprocess.run(cmd, env={**os.environ, _DECODE_CHILD: "1"}, check=False).returncode
    if rc < 0:
        from .errors import CodecError

        raise CodecError(f"{args.file}: the learned decoder crashed on it (signal {-rc}): the bitstream is damaged "
                         "or was made to crash it")
    return rc


def _add_train_codec(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train-codec", help="train a learned image codec (needs the 'learned' extra)",
                       description="Train a rate-conditioned learned image codec (one level per lambda) on a "
                                   "folder of images or a dataset .npz (python -m pershot.codecs.dataset). "
                                   "Resumable: rerun the same command to continue until --minutes are spent. "
                                   "At the end the weights are frozen into OUT/NAME.pt and OUT/manifest.json; "
                                   "set PERSHOT_CODEC_WEIGHTS=OUT to use them as codec lic-NAME.")
    _common(p)
    p.add_argument("--arch", required=True, choices=["factorized", "hyperprior"])
    p.add_argument("--lmbda", required=True, metavar="L[,L...]",
                   help="Lagrange multiplier(s) of the MSE term, one level each (e.g. 0.0035,0.013,0.0483)")
    p.add_argument("--data", required=True, metavar="DIR", help="folder of training images, or a dataset .npz")
    p.add_argument("--minutes", type=float, required=True, help="total training time (resumed runs included)")
    p.add_argument("-o", "--out", default="pershot-weights", metavar="DIR", help="where checkpoint and weights go")
    p.add_argument("--name", help="model name (default: my-ARCH); the codec is lic-NAME")
    p.add_argument("--device", default="auto", help="cpu, cuda, cuda:N or auto (default)")
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--crop", type=int, default=128)
    p.add_argument("--lr", type=float, default=2e-4)
    p.add_argument("--threads", type=int, help="torch CPU threads")
    p.add_argument("--init", metavar="FILE", help="warm start from a checkpoint or weights file")
    p.add_argument("--no-resume", action="store_true", help="start over even if a checkpoint exists")
    p.set_defaults(func=_cmd_train_codec)


def _cmd_train_codec(args: argparse.Namespace) -> int:
    import math
    import re
    from pathlib import Path

    from .codecs import learned
    from .errors import CodecError, InputError, MissingDependencyError

    # every argument, the names, the output folder, the data and --init are checked before any training
    try:
        given = [float(v) for v in args.lmbda.split(",") if v.strip()]
    except ValueError as ex:
        raise InputError(f"--lmbda must be numbers separated by commas: {args.lmbda!r}") from ex
    if not given or any(not (math.isfinite(v) and v > 0) for v in given):
        raise InputError("--lmbda needs positive finite values")
    twice = sorted({v for v in given if given.count(v) > 1})
    if twice:
        raise InputError(f"--lmbda has {', '.join(f'{v:g}' for v in twice)} more than once: each level needs "
                         "its own lambda")
    lmbdas = tuple(sorted(given))
    if not (math.isfinite(args.minutes * 60) and args.minutes > 0):
        raise InputError("--minutes must be a finite number > 0")
    if args.batch < 1:
        raise InputError(f"--batch must be at least 1, not {args.batch}")
    multiple = 64 if args.arch == "hyperprior" else 16
    if args.crop < multiple or args.crop % multiple:
        raise InputError(f"--crop must be a multiple of {multiple} for --arch {args.arch} (its transforms downscale "
                         f"{multiple}x), not {args.crop}")
    if not (math.isfinite(args.lr) and args.lr > 0):
        raise InputError(f"--lr must be a finite number > 0, not {args.lr}")
    if args.threads is not None and args.threads < 1:
        raise InputError(f"--threads must be at least 1, not {args.threads}")
    name = args.name or f"my-{args.arch}"
    if not re.match(r"^[a-z0-9][a-z0-9_.-]{0,40}$", name):
        raise InputError(f"--name must be lowercase letters, digits, '_', '.', '-': {name!r}")
    out = Path(args.out)
    try:
        clashes = learned.name_conflicts(name, args.arch, out)
    except CodecError as ex:  # the output folder's manifest.json, which the new model's entry would go into
        raise InputError(f"{ex}: move it away or give another -o") from ex
    if clashes:
        raise InputError(f"--name {name}: the model would never be used, its codec name is taken "
                         f"({'; '.join(clashes)}): give another --name")
    ckpt = out / f"{name}.ckpt"
    if ckpt.exists() and not ckpt.is_file():
        raise InputError(f"{ckpt} (the checkpoint) is not a file")
    resuming = ckpt.is_file() and not args.no_resume
    init = args.init
    if init and resuming:
        _eprint(f"pershot: note: {ckpt} exists and is resumed, so --init {init} is not used (--no-resume starts "
                "over from --init)")
        init = None
    try:
        import torch

        from .codecs.train import TrainConfig, check_config, load_training_data, train
    except ImportError as ex:
        raise MissingDependencyError(f"train-codec needs torch and compressai (pip install 'pershot[learned]'): {ex}") from ex
    device = args.device
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    cfg = TrainConfig(arch=args.arch, lmbdas=lmbdas, minutes=args.minutes, batch=args.batch, crop=args.crop,
                      lr=args.lr, device=device, threads=args.threads, pool=max(4 * args.batch, 32))
    check_config(cfg)
    images = load_training_data(args.data)
    if lmbdas != tuple(given):
        _eprint("pershot: note: --lmbda sorted ascending, level 1 the fewest bits: "
                f"{','.join(f'{v:g}' for v in lmbdas)}")
    bar = None
    if not args.quiet:
        from tqdm import tqdm

        bar = tqdm(total=round(args.minutes * 60), unit="s", desc=f"training {name}", file=sys.stderr)

    def progress(step: int, el: float, total: float, last: dict) -> None:
        if bar is not None:
            bar.n = min(round(el), bar.total)
            post = {"step": step}
            if last.get("bpp"):
                post["loss"] = last.get("loss")
            bar.set_postfix(post, refresh=False)
            bar.refresh()

    try:
        try:
            res = train(cfg, images, ckpt, resume=not args.no_resume, init=init, progress=progress)
        finally:
            if bar is not None:
                bar.close()
        tr = learned.training_summary(res.checkpoint)
        tr["data"] = str(args.data)
        entry = learned.freeze_weights(res.checkpoint, out, name, training=tr)
    except KeyboardInterrupt:
        args.saved_checkpoint = str(ckpt) if ckpt.is_file() else None  # for main's message
        raise
    print(f"trained {name}: {res.steps} steps, {res.minutes:.1f} min on {res.device}; weights {entry.file} "
          f"(sha256 {entry.sha256[:12]}...)")
    print(f"use it: PERSHOT_CODEC_WEIGHTS={out} pershot image IN --codec {' / '.join(entry.decoders)} --level 1..{len(lmbdas)}")
    return 0


class _Parser(argparse.ArgumentParser):
    """argparse, with a hint where a file named like an option was taken for one."""

    argv: Sequence[str] = ()  #: the command line being parsed

    def error(self, message: str):  # noqa: D102
        import os

        named = [a for a in self.argv if a.startswith("-") and len(a) > 1 and os.path.exists(a)]
        if named and ("required" in message or "unrecognized" in message):
            command = next((a for a in self.argv if not a.startswith("-")), "COMMAND")  # the root parser's
            message += (f" ({named[0]} is a file: a name starting with '-' goes after --, e.g. "
                        f"pershot {command} [options] -- {named[0]})")
        super().error(message)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="pershot", description="Per-shot rate-distortion-complexity encoding optimizer")
    parser.add_argument("--version", action="version", version=f"pershot {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    g = globals()
    for name in sorted(n for n in g if n.startswith("_add_")):
        g[name](sub)
    return parser


def _check_out_dir(path: str) -> None:
    """An output folder that cannot be made or written (a file there, or above it; no permission) is one
    clear error before any work, not a traceback after it. Nothing is created here."""
    import os
    from pathlib import Path

    p = Path(path).absolute()
    q = p
    while not q.exists() and q != q.parent:
        q = q.parent
    if not q.is_dir():
        raise InputError(f"the output folder {path} " + ("is a file" if q == p else f"cannot be made: {q} is a file"))
    if not os.access(q, os.W_OK | os.X_OK):
        raise InputError(f"the output folder {path} cannot be written: no permission in {q}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    _Parser.argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    debug = getattr(args, "debug", False)
    try:
        if getattr(args, "ffmpeg", None):
            from .ffmpeg import set_ffmpeg

            set_ffmpeg(args.ffmpeg)
        func: Callable[[argparse.Namespace], int] = args.func
        if getattr(args, "out", None) and getattr(args, "command", "") != "decode" and not getattr(
                args, "dry_run", False):  # decode's is a file; a dry run writes nothing
            _check_out_dir(args.out)
        return int(func(args) or 0)
    except PershotError as ex:
        if debug:
            raise
        msg = str(ex).replace("\n", " ")
        _eprint(f"pershot: error: {msg}")
        return ex.exit_code
    except KeyboardInterrupt:
        if getattr(args, "command", "") == "encode":
            _eprint("pershot: interrupted (no rendition was left half-written; finished shot encodes are kept: "
                    "re-run to resume)")
        elif getattr(args, "command", "") == "train-codec":
            ck = getattr(args, "saved_checkpoint", None)
            again = "the same command without --no-resume" if args.no_resume else "the same command"
            _eprint(f"pershot: interrupted (the training so far is saved in {ck}: {again} resumes it)" if ck else
                    "pershot: interrupted (no training step was saved)")
        elif getattr(args, "no_cache", False):
            _eprint("pershot: interrupted (without the probe cache, a re-run starts again)")
        else:
            _eprint("pershot: interrupted (finished probes are cached; re-run to resume)")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return 1
    except OSError as ex:  # an output the system refused (disk full, a file system that takes no files)
        if debug:
            raise
        _eprint(f"pershot: error: {ex.strerror or ex}" + (f": {ex.filename}" if ex.filename else ""))
        return ResourceError.exit_code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
