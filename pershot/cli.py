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
from .errors import PershotError

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

    return make_executor(getattr(args, "executor", "local") or "local", jobs=getattr(args, "jobs", None),
                         scheduler=getattr(args, "scheduler", None))


class _Bar:
    """A tqdm bar on stderr driven by ``(done, total)`` callbacks; silent with --quiet."""

    def __init__(self, desc: str, unit: str, quiet: bool):
        self.desc, self.unit, self.quiet, self.bar = desc, unit, quiet, None

    def __call__(self, done: int, total: int) -> None:
        if self.quiet:
            return
        if self.bar is None:
            from tqdm import tqdm

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
        try:
            line(spec.ffmpeg_name, spec.version_probe())
        except PershotError as ex:
            line(spec.ffmpeg_name, f"fails: {ex}", ok=False)
            if name in required_enc:
                missing.append(spec.ffmpeg_name)
    for flt, required in (("libvmaf", True), ("psnr", False), ("ssim", False), ("xpsnr", False)):
        ok = ffmpeg.has_filter(flt)
        line(flt, "filter available" if ok else "filter missing", ok=ok)
        if required and not ok:
            missing.append(flt)
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
        info = api.probe_source(args.input)
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
                   help="grid TOML file or bundled name: default, sample, test (default: presets/grid-default.toml)")
    p.add_argument("--shots", metavar="CSV", help="use this shots.csv instead of detecting shots")
    _shot_args(p)
    _common(p)
    _exec_args(p)
    p.set_defaults(func=_cmd_probe)


def _cmd_probe(args: argparse.Namespace) -> int:
    from pathlib import Path

    from . import api
    from .grid import load_grid

    grid = load_grid(args.grid)
    shot_bar = _Bar("shots", "frame", args.quiet)
    bar = _Bar(f"probes ({grid.name})", "probe", args.quiet)
    executor = _executor_from_args(args)
    try:
        run = api.run_probes(args.input, grid, args.out, shots=args.shots, detector=args.detector,
                             min_shot_s=args.min_shot, max_shot_s=args.max_shot or None, threshold=args.threshold,
                             executor=executor, cache=_cache_from_args(args), progress=bar, shot_progress=shot_bar)
    finally:
        shot_bar.close()
        bar.close()
        executor.close()
    df = run.probes
    if not args.quiet:
        n_cached = int(df["cached"].sum()) if len(df) else 0
        _eprint(f"{len(df)} probes over {len(run.shots)} shots ({n_cached} from cache) -> "
                f"{Path(args.out) / 'probes.csv'}")
    return 0


# ---------------------------------------------------------------- optimizer: ladder / optimize
# (section owned by the optimizer)

# ---------------------------------------------------------------- image codecs: codecs / image / decode / train-codec
# (section owned by the image codecs)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pershot", description="Per-shot rate-distortion-complexity encoding optimizer")
    parser.add_argument("--version", action="version", version=f"pershot {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    g = globals()
    for name in sorted(n for n in g if n.startswith("_add_")):
        g[name](sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    debug = getattr(args, "debug", False)
    try:
        if getattr(args, "ffmpeg", None):
            from .ffmpeg import set_ffmpeg

            set_ffmpeg(args.ffmpeg)
        func: Callable[[argparse.Namespace], int] = args.func
        return int(func(args) or 0)
    except PershotError as ex:
        if debug:
            raise
        msg = str(ex).replace("\n", " ")
        _eprint(f"pershot: error: {msg}")
        return ex.exit_code
    except KeyboardInterrupt:
        _eprint("pershot: interrupted (finished probes are cached; re-run to resume)")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
