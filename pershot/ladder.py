"""Ladders: what the user asks for (:class:`LadderSpec`), what the optimizer returns (:class:`Ladder`).

Pure: no file or network I/O (the TOML text is parsed here, read elsewhere),
no printing.  :func:`optimize_ladder` chains the steps:

1. validate the probes and turn them into padded per-shot arrays
   (:func:`prepare`): one encoder, the chosen metric (an infinite PSNR, from
   identical frames, counts as ``PSNR_CAP`` dB), rows without a
   finite rate/quality/CPU dropped with a warning;
2. turn the spec into rung targets (explicit kbps / quality targets, or
   ``count`` rungs spaced geometrically along the title's global hull) and drop
   the rungs out of reach (above the best probe, below the cheapest);
3. solve the unconstrained ladder and drop rungs that would not rise strictly
   above the previous one (duplicates);
4. weigh the rungs for the objective (:func:`area_weights` of the
   unconstrained ladder's rates, unless ``objective="mean"``), solve the anchor
   (every shot at the slowest preset) and the ladder under ``complexity *
   anchor CPU``; on small problems both are finished exactly
   (:mod:`pershot.exact`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from .errors import ConfigError, InfeasibleError, OptimizeError
from .geometry import size_class
from .optimize import RDCPoints, RungTarget, Solution, solve

__all__ = [
    "PSNR_CAP", "METRICS", "REQUIRED_COLUMNS", "RungSpec", "LadderSpec", "Prepared", "Rung", "DroppedRung",
    "Ladder", "prepare", "optimize_ladder", "parse_ladder_toml", "ceil_ratio",
]

#: PSNR of identical frames is infinite: an infinite psnr_y in probes is replaced by
#: this many dB (the core's per-frame cap, libvmaf's for 8-bit video) before averaging
PSNR_CAP = 60.0
#: --metric name -> probes.csv column
METRICS = {"vmaf": "vmaf", "psnr": "psnr_y", "ssim": "ssim", "xpsnr": "xpsnr_y"}
_QUALITY_KEYS = {"vmaf": "vmaf", "psnr": "psnr", "psnr_y": "psnr", "ssim": "ssim", "xpsnr": "xpsnr",
                 "xpsnr_y": "xpsnr"}
#: the PSNR-like columns: +inf (identical frames) is capped at PSNR_CAP
_PSNR_COLUMNS = ("psnr_y", "xpsnr_y")
#: the quality columns a ladder reports per rung (duration-weighted), where its probes scored them
QUALITY_COLUMNS = ("vmaf", "psnr_y", "ssim", "xpsnr_y")
REQUIRED_COLUMNS = ("shot", "start_frame", "end_frame", "duration_s", "encoder", "preset", "width", "height",
                    "crf", "bitrate_kbps", "encode_cpu_s")
#: x264/x265 preset names, fastest first (used only when probes lack preset_rank)
_X26X_PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow",
                 "placebo")
DEFAULT_MIN_STEP = 1.5
DEFAULT_MAX_STEP = 2.0


def _scored_columns(table: pd.DataFrame, columns: Sequence[str]) -> list[str]:
    """Those of ``columns`` that ``table`` has, less an XPSNR column no probe scored (probes made without
    ``[metrics] xpsnr``)."""
    return [c for c in columns if c in table.columns
            and (c != "xpsnr_y" or pd.to_numeric(table[c], errors="coerce").notna().any())]


# --------------------------------------------------------------------------- spec


@dataclass(frozen=True)
class RungSpec:
    """One requested rung: a target average bitrate (``kbps``) or a target quality (``quality`` in ``metric``)."""

    kbps: float | None = None
    quality: float | None = None
    metric: str | None = None
    #: the highest resolution class the rung may use ("720p": a 1280x720, 1280x534 or 720x1280
    #: encode, see :mod:`pershot.geometry`)
    max_height: int | None = None
    name: str | None = None
    #: a floor for every shot of the rung (``min_shot_vmaf = 85``): no shot below it where the shot can
    #: reach it (a shot that cannot gets its best point), in ``min_shot_metric``
    min_shot_quality: float | None = None
    min_shot_metric: str | None = None

    def label(self) -> str:
        if self.name:
            return self.name
        if self.kbps is not None:
            return f"{self.kbps:g}kbps" + (f"@{self.max_height}p" if self.max_height else "")
        return f"{self.metric}={self.quality:g}"


@dataclass(frozen=True)
class LadderSpec:
    """A ladder request: explicit rungs, or ``count`` rungs spaced along the title's global hull.

    ``min_step`` / ``max_step`` bound the bitrate ratio between neighbouring
    rate rungs: explicit targets that break them are a contradiction
    (:class:`ConfigError`), generated rungs are spaced within them.
    ``min_kbps`` / ``max_kbps`` bound generated rungs.
    ``peak_ratio`` caps every shot's bitrate in a bitrate rung at that multiple
    of the rung's target (a peak-to-average limit, e.g. 2.0 as Apple's HLS
    authoring spec asks of VOD); quality rungs are not capped.
    """

    rungs: tuple[RungSpec, ...] = ()
    count: int | None = None
    min_step: float | None = None
    max_step: float | None = None
    min_kbps: float | None = None
    max_kbps: float | None = None
    name: str = "custom"
    description: str = ""
    min_quality: tuple = ()  # ((metric, value), ...): generated rungs start where the title's hull reaches it
    max_quality: tuple = ()  # ((metric, value), ...): generated rungs end where the title's hull reaches it
    peak_ratio: float | None = None

    def __post_init__(self):
        self.validate()

    # -- constructors
    @classmethod
    def from_kbps(cls, kbps: Iterable[float], **kw) -> "LadderSpec":
        return cls(rungs=tuple(RungSpec(kbps=float(k)) for k in kbps), **kw)

    @classmethod
    def auto(cls, count: int, **kw) -> "LadderSpec":
        return cls(count=count, name=kw.pop("name", f"auto-{count}"), **kw)

    def floor(self, metric: str) -> float | None:
        """The lowest quality a generated rung should have for ``metric`` (vmaf, psnr, ssim), if set."""
        return dict(self.min_quality).get(metric)

    def ceiling(self, metric: str) -> float | None:
        """The quality the top generated rung should aim at for ``metric``, if set."""
        return dict(self.max_quality).get(metric)

    @classmethod
    def coerce(cls, obj: Any) -> "LadderSpec":
        """Accept a LadderSpec, a mapping (TOML-like), an int (rung count) or a list of kbps / RungSpec."""
        if isinstance(obj, LadderSpec):
            return obj
        if isinstance(obj, bool):
            raise ConfigError("a ladder cannot be a boolean")
        if isinstance(obj, (int, np.integer)) and not isinstance(obj, np.bool_):
            return cls.auto(int(obj))
        if isinstance(obj, Mapping):
            return _spec_from_mapping(obj, "ladder")
        if isinstance(obj, (list, tuple)):
            rungs = []
            for x in obj:
                if isinstance(x, RungSpec):
                    rungs.append(x)
                elif isinstance(x, Mapping):
                    rungs.append(_rung_from_mapping(x, "ladder", len(rungs)))
                elif isinstance(x, (int, float)) and not isinstance(x, bool):
                    rungs.append(RungSpec(kbps=float(x)))
                else:
                    raise ConfigError(f"cannot use {x!r} as a ladder rung")
            return cls(rungs=tuple(rungs))
        raise ConfigError(f"cannot use a {type(obj).__name__} as a ladder (give a TOML path, a LadderSpec, "
                          "a rung count or a list of kbps)")

    # -- checks
    def validate(self) -> None:
        where = f"ladder {self.name!r}"
        if self.count is not None:
            if isinstance(self.count, bool) or not isinstance(self.count, (int, np.integer)) or self.count < 1:
                raise ConfigError(f"{where}: rung count must be a positive integer, not {self.count!r}")
            if self.rungs:
                raise ConfigError(f"{where}: give explicit rungs or a rung count, not both")
        elif not self.rungs:
            raise ConfigError(f"{where} is empty: no rungs")
        for nm in ("min_step", "max_step", "min_kbps", "max_kbps", "peak_ratio"):
            v = getattr(self, nm)
            if v is not None and (not isinstance(v, (int, float)) or isinstance(v, bool) or not math.isfinite(v)):
                raise ConfigError(f"{where}: {nm} must be a number, not {v!r}")
        if self.peak_ratio is not None and self.peak_ratio < 1.0:
            raise ConfigError(f"{where}: peak_ratio {self.peak_ratio:g} must be >= 1 (a shot bitrate cap below "
                              "the rung's average cannot reach its target)")
        if self.min_step is not None and self.min_step < 1.0:
            raise ConfigError(f"{where}: min_step {self.min_step:g} must be >= 1")
        if self.max_step is not None and self.max_step <= 1.0:
            raise ConfigError(f"{where}: max_step {self.max_step:g} must be > 1")
        if self.min_step is not None and self.max_step is not None and self.min_step > self.max_step:
            raise ConfigError(f"{where}: min_step {self.min_step:g} > max_step {self.max_step:g}")
        for pre, pairs in (("min", self.min_quality), ("max", self.max_quality)):
            for m, v in pairs:
                if m not in METRICS or isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                    raise ConfigError(f"{where}: {pre}_{m} must be a number")
        for m, lo in self.min_quality:
            hi = self.ceiling(m)
            if hi is not None and hi <= lo:
                raise ConfigError(f"{where}: min_{m} {lo:g} >= max_{m} {hi:g}")
        if self.min_kbps is not None and self.min_kbps <= 0:
            raise ConfigError(f"{where}: min_kbps must be > 0")
        if self.min_kbps is not None and self.max_kbps is not None and self.min_kbps >= self.max_kbps:
            raise ConfigError(f"{where}: min_kbps {self.min_kbps:g} >= max_kbps {self.max_kbps:g}")
        kb = []
        qm = set()
        qs = []
        for i, r in enumerate(self.rungs):
            if (r.kbps is None) == (r.quality is None):
                raise ConfigError(f"{where}: rung {i + 1} needs exactly one target (kbps, or a quality like vmaf = 93)")
            if r.kbps is not None:
                if not math.isfinite(r.kbps) or r.kbps <= 0:
                    raise ConfigError(f"{where}: rung {i + 1} kbps must be > 0, not {r.kbps!r}")
                kb.append((r.kbps, r.max_height))
            else:
                if r.metric not in METRICS:
                    raise ConfigError(f"{where}: rung {i + 1} quality metric must be one of {', '.join(METRICS)}")
                if not math.isfinite(r.quality):
                    raise ConfigError(f"{where}: rung {i + 1} quality target must be finite")
                qm.add(r.metric)
                qs.append(r.quality)
            if r.max_height is not None and (isinstance(r.max_height, bool) or int(r.max_height) != r.max_height
                                             or r.max_height <= 0):
                raise ConfigError(f"{where}: rung {i + 1} max_height must be a positive integer")
        for i, r in enumerate(self.rungs):
            if r.min_shot_quality is None:
                continue
            if r.min_shot_metric not in METRICS or not math.isfinite(r.min_shot_quality):
                raise ConfigError(f"{where}: rung {i + 1} min_shot_<metric> needs a metric of {', '.join(METRICS)} "
                                  "and a finite number")
            qm.add(r.min_shot_metric)
        if len(qm) > 1:
            raise ConfigError(f"{where}: quality rungs and shot floors mix metrics {sorted(qm)}")
        if len(set(qs)) != len(qs):
            raise ConfigError(f"{where}: duplicate quality targets")
        rates = [k for k, _ in kb]
        if len(set(rates)) != len(rates):
            raise ConfigError(f"{where}: duplicate bitrate targets")
        srt = sorted(kb)
        for (a, ha), (b, hb) in zip(srt, srt[1:]):
            ratio = b / a
            if self.min_step is not None and ratio < self.min_step * (1 - 1e-9):
                raise ConfigError(f"{where} is contradictory: {a:g} -> {b:g} kbps is a step of {ratio:.3g}, "
                                  f"below min_step {self.min_step:g}")
            if self.max_step is not None and ratio > self.max_step * (1 + 1e-9):
                raise ConfigError(f"{where} is contradictory: {a:g} -> {b:g} kbps is a step of {ratio:.3g}, "
                                  f"above max_step {self.max_step:g}")
            if ha is not None and hb is not None and hb < ha:
                raise ConfigError(f"{where} is contradictory: the {b:g} kbps rung has a lower max_height "
                                  f"({hb}) than the {a:g} kbps rung ({ha})")

    @property
    def quality_metric(self) -> str | None:
        """The metric of the quality rungs and shot floors (one for the whole ladder), if any."""
        for r in self.rungs:
            if r.quality is not None:
                return r.metric
            if r.min_shot_quality is not None:
                return r.min_shot_metric
        return None

    def to_dict(self) -> dict:
        d: dict[str, Any] = {"name": self.name}
        if self.description:
            d["description"] = self.description
        for nm in ("count", "min_step", "max_step", "min_kbps", "max_kbps", "peak_ratio"):
            v = getattr(self, nm)
            if v is not None:
                d[nm] = v
        for m, v in self.min_quality:
            d[f"min_{m}"] = v
        for m, v in self.max_quality:
            d[f"max_{m}"] = v
        if self.rungs:
            rr = []
            for r in self.rungs:
                x: dict[str, Any] = {}
                if r.name:
                    x["name"] = r.name
                if r.kbps is not None:
                    x["kbps"] = r.kbps
                else:
                    x[r.metric] = r.quality
                if r.max_height is not None:
                    x["max_height"] = int(r.max_height)
                if r.min_shot_quality is not None:
                    x[f"min_shot_{r.min_shot_metric}"] = r.min_shot_quality
                rr.append(x)
            d["rung"] = rr
        return d


_SPEC_KEYS = {"name", "description", "count", "rungs", "min_step", "max_step", "min_kbps", "max_kbps", "peak_ratio",
              "rung",
              *(f"{pre}_{m}" for pre in ("min", "max") for m in METRICS)}
_RUNG_KEYS = {"kbps", "max_height", "name", *_QUALITY_KEYS, *(f"min_shot_{m}" for m in METRICS)}


def _num(v, what):
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise ConfigError(f"{what} must be a number, not {v!r}")
    return float(v)


def _rung_from_mapping(m: Mapping, where: str, i: int) -> RungSpec:
    bad = set(m) - _RUNG_KEYS
    if bad:
        raise ConfigError(f"{where}: rung {i + 1} has unknown key(s) {sorted(bad)} (known: {sorted(_RUNG_KEYS)})")
    qkeys = [k for k in m if k in _QUALITY_KEYS]
    if len(qkeys) > 1:
        raise ConfigError(f"{where}: rung {i + 1} has several quality targets {qkeys}")
    kbps = _num(m["kbps"], f"{where}: rung {i + 1} kbps") if "kbps" in m else None
    quality = metric = None
    if qkeys:
        metric = _QUALITY_KEYS[qkeys[0]]
        quality = _num(m[qkeys[0]], f"{where}: rung {i + 1} {qkeys[0]}")
    mh = m.get("max_height")
    if mh is not None and (isinstance(mh, bool) or not isinstance(mh, int)):
        raise ConfigError(f"{where}: rung {i + 1} max_height must be an integer, not {mh!r}")
    name = m.get("name")
    if name is not None and not isinstance(name, str):
        raise ConfigError(f"{where}: rung {i + 1} name must be a string")
    floors = [k for k in m if k.startswith("min_shot_")]
    if len(floors) > 1:
        raise ConfigError(f"{where}: rung {i + 1} has several shot floors {floors}")
    floor = _num(m[floors[0]], f"{where}: rung {i + 1} {floors[0]}") if floors else None
    return RungSpec(kbps=kbps, quality=quality, metric=metric, max_height=mh, name=name, min_shot_quality=floor,
                    min_shot_metric=floors[0][len("min_shot_"):] if floors else None)


def _spec_from_mapping(m: Mapping, where: str) -> LadderSpec:
    bad = set(m) - _SPEC_KEYS
    if bad:
        raise ConfigError(f"{where}: unknown key(s) {sorted(bad)} (known: {sorted(_SPEC_KEYS)})")
    rungs_raw = m.get("rung", [])
    if not isinstance(rungs_raw, list) or not all(isinstance(x, Mapping) for x in rungs_raw):
        raise ConfigError(f"{where}: 'rung' must be an array of tables ([[rung]])")
    rungs = tuple(_rung_from_mapping(x, where, i) for i, x in enumerate(rungs_raw))
    count = m.get("count", m.get("rungs"))
    if "count" in m and "rungs" in m:
        raise ConfigError(f"{where}: give 'count' or 'rungs', not both")
    kw: dict[str, Any] = {}
    for nm in ("min_step", "max_step", "min_kbps", "max_kbps", "peak_ratio"):
        if nm in m:
            kw[nm] = _num(m[nm], f"{where}: {nm}")
    for pre in ("min", "max"):
        kw[f"{pre}_quality"] = tuple((k[4:], _num(m[k], f"{where}: {k}"))
                                     for k in (f"{pre}_{q}" for q in METRICS) if k in m)
    name = m.get("name", where)
    desc = m.get("description", "")
    if not isinstance(name, str) or not isinstance(desc, str):
        raise ConfigError(f"{where}: name and description must be strings")
    return LadderSpec(rungs=rungs, count=count, name=name, description=desc, **kw)


def parse_ladder_toml(text: str, source: str = "ladder") -> LadderSpec:
    """Parse a ladder TOML document (see the README's "Ladder files")."""
    try:
        import tomllib
    except ModuleNotFoundError:  # pragma: no cover - Python 3.10
        import tomli as tomllib  # type: ignore[no-redef]
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as ex:
        raise ConfigError(f"{source}: not valid TOML: {ex}") from None
    data.setdefault("name", source)
    return _spec_from_mapping(data, source)


# --------------------------------------------------------------------------- probes -> arrays


@dataclass(frozen=True)
class Prepared:
    """Probes of one encoder, validated, as solver arrays plus the table they index.

    ``row[s, k]`` is the row of ``table`` behind point ``k`` of shot ``s`` (-1 pad).
    """

    points: RDCPoints
    row: np.ndarray
    table: pd.DataFrame  # filtered, capped probes (index 0..n-1)
    shots: pd.DataFrame  # one row per shot: shot, start_frame, end_frame, frames, duration_s
    metric: str
    quality_column: str
    encoder: str
    presets: tuple  # configuration names (presets and grid variants), fastest first; points.rank indexes it
    warnings: tuple = ()
    anchor: int = -1  # index in presets of the complexity anchor: the slowest plain preset (-1: the last)
    variants: frozenset = frozenset()  # the configurations in presets that are grid variants
    vmaf_model: str = ""  # the libvmaf model behind the probes' VMAF (probes.csv vmaf_model; "" unknown or mixed)

    @property
    def anchor_preset(self) -> str:
        """The complexity anchor's preset (every shot at it)."""
        return str(self.presets[self.anchor]) if self.presets else "?"

    @property
    def duration(self) -> float:
        return float(self.points.duration.sum())


def encoder_presets(df: pd.DataFrame) -> pd.Series:
    """The preset each probe's encoder was given (``encoder_preset``; ``preset`` where absent)."""
    names = df["preset"].astype(str)
    if "encoder_preset" in df.columns:
        given = df["encoder_preset"]
        return given.where(given.notna() & (given.astype(str) != ""), names).astype(str)
    return names


def encoder_params(df: pd.DataFrame) -> pd.Series:
    """Each probe's extra encoder options (``params``, key=value:key=value; "" where none)."""
    if "params" not in df.columns:
        return pd.Series([""] * len(df), index=df.index, dtype=object)
    return df["params"].where(df["params"].notna(), "").astype(str)


def _preset_ranks(df: pd.DataFrame) -> np.ndarray:
    if "preset_rank" in df.columns and df["preset_rank"].notna().all():
        return df["preset_rank"].to_numpy(dtype=float).astype(int)
    names = encoder_presets(df)
    known = {p: i for i, p in enumerate(_X26X_PRESETS)}
    if names.isin(list(known)).all():
        return names.map(known).to_numpy(dtype=int)
    try:  # SVT-AV1 style numeric presets: higher is faster
        v = pd.to_numeric(names)
        return (-(v.to_numpy())).astype(int)
    except (ValueError, TypeError):
        raise OptimizeError("probes have no preset_rank column and presets "
                            f"{sorted(names.unique())[:6]} have no known speed order") from None


#: the columns a ladder adds to its probes (ladder.csv): never read from a probes table
_LADDER_ONLY = ("rung", "target_kbps", "target_quality")


def default_encoder(names) -> str:
    """The encoder a ladder is built for when probes hold several and none is named."""
    encs = sorted(set(map(str, names)))
    return next((e for e in ("x264", "libx264") if e in encs), encs[0])


def prepare(probes: pd.DataFrame, metric: str = "vmaf", encoder: str | None = None) -> Prepared:
    """Validate a probes DataFrame and build the solver's arrays.  See the module docstring."""
    if not isinstance(probes, pd.DataFrame):
        raise OptimizeError(f"probes must be a pandas DataFrame, not {type(probes).__name__}")
    if metric not in METRICS:
        raise OptimizeError(f"unknown metric {metric!r}; choose one of {', '.join(METRICS)}")
    qcol = METRICS[metric]
    if qcol == "xpsnr_y" and ("xpsnr_y" not in probes.columns
                              or not pd.to_numeric(probes["xpsnr_y"], errors="coerce").notna().any()):
        raise OptimizeError("the probes have no XPSNR (probes.csv xpsnr_y): probe with --xpsnr, --metric xpsnr "
                            "or [metrics] xpsnr = true in the grid")
    need = list(REQUIRED_COLUMNS) + [qcol]
    missing = [c for c in need if c not in probes.columns]
    if "bitrate_kbps" in missing and "size_bytes" in probes.columns:
        missing.remove("bitrate_kbps")
    if missing:
        raise OptimizeError(f"probes are missing column(s): {', '.join(missing)}")
    if len(probes) == 0:
        raise OptimizeError("no probes")
    if all(c in probes.columns for c in _LADDER_ONLY):
        raise OptimizeError("this is a ladder table (ladder.csv: rung, target_kbps and target_quality columns), "
                            "not probes: optimize the probes.csv beside it")
    # columns of a ladder's own (a probes table with a stray rung column): not the probes', ignored
    probes = probes.drop(columns=[c for c in (*_LADDER_ONLY, "ffmpeg_args") if c in probes.columns])
    warnings: list[str] = []
    enc_col = probes["encoder"].astype(str)
    encs = sorted(enc_col.unique())
    if encoder is None:
        encoder = default_encoder(encs)
        if len(encs) > 1:
            warnings.append(f"probes hold encoders {', '.join(encs)}; optimizing the {encoder} ladder "
                            "(choose with --encoder)")
    elif encoder not in encs:
        # the name the probes use for it (--encoder libx264 for probes of x264, and the other way round)
        same = [e for e in encs if _canonical(e) == _canonical(encoder)]
        if len(same) != 1:
            raise OptimizeError(f"no probes for encoder {encoder!r} (probes have: {', '.join(encs)})")
        encoder = same[0]
    df = probes[enc_col.to_numpy() == encoder] if len(encs) > 1 else probes
    df = df.reset_index(drop=True)
    if "bit_depth" in df.columns:
        depths = sorted({int(d) for d in pd.to_numeric(df["bit_depth"], errors="coerce").dropna()})
        if len(depths) > 1:  # a rung mixing them would change profile (Main to Main 10) mid-stream
            raise OptimizeError(f"probes hold {encoder} at {' and '.join(map(str, depths))} bits: a ladder has one "
                                "bit depth (keep the rows of one in probes.csv)")
    models = (sorted(m for m in pd.unique(df["vmaf_model"].dropna().astype(str)) if m)
              if "vmaf_model" in df.columns else [])
    if len(models) > 1 and metric == "vmaf":  # the models' scales differ: one shot's 90 is not another's
        raise OptimizeError(f"probes of {encoder} were scored by VMAF models {' and '.join(models)}: a ladder compares "
                            "shots on one model (probe them again with one [metrics] vmaf_model)")
    if "encoder_preset" in df.columns or "params" in df.columns:  # empty options read back from CSV as NaN
        df = df.assign(encoder_preset=encoder_presets(df), params=encoder_params(df))

    def num(c):
        return pd.to_numeric(df[c], errors="coerce").to_numpy(dtype=float)

    dur = num("duration_s")
    if "bitrate_kbps" in df.columns:
        r = num("bitrate_kbps")
    else:
        with np.errstate(divide="ignore", invalid="ignore"):
            r = num("size_bytes") * 8.0 / dur / 1000.0
    t = num("encode_cpu_s")
    q = num(qcol)
    capped = {}
    for col in (c for c in _PSNR_COLUMNS if c in df.columns):
        # PSNR of identical frames is +inf: cap it (documented)
        v = num(col)
        n_inf = int(np.isposinf(v).sum())
        if n_inf:
            v = np.where(np.isposinf(v), PSNR_CAP, v)
            capped[col] = v
            if qcol == col:
                q = v
                warnings.append(f"{n_inf} probe(s) had an infinite {col} (identical frames); capped at "
                                f"{PSNR_CAP:g} dB")
    if np.any(t < 0) or np.any(r < 0):
        raise OptimizeError("probes have a negative bitrate or encode CPU time")
    bad = ~(np.isfinite(q) & np.isfinite(r) & np.isfinite(t) & (r > 0) & np.isfinite(dur) & (dur > 0))
    shots_all = pd.unique(probes["shot"])
    if bad.any():
        warnings.append(f"{int(bad.sum())} probe(s) without a finite {qcol}, bitrate or CPU time ignored")
        keep = ~bad
        df = df[keep].reset_index(drop=True)
        q, r, t, dur = q[keep], r[keep], t[keep], dur[keep]
        capped = {k: v[keep] for k, v in capped.items()}
    if len(df) == 0:
        raise OptimizeError(f"no usable probes for {encoder} (every {qcol}, bitrate or CPU value is missing)")
    if capped or "bitrate_kbps" not in df.columns:
        df = df.copy()
        for k, v in capped.items():
            df[k] = v
        df["bitrate_kbps"] = r
    codes, uniq = pd.factorize(df["shot"], sort=True)
    lost = set(shots_all) - set(uniq)
    if lost:
        raise OptimizeError(f"shot(s) {sorted(int(s) for s in lost)[:8]} have no usable {encoder} probe; "
                            "cannot build a ladder without them")
    S = len(uniq)
    # what a farm's command is made of: a probe without it cannot be chosen (a ladder.json without a command)
    if df["preset"].isna().any() or (df["preset"].astype(str).str.strip() == "").any():
        raise OptimizeError("probes have a missing preset")
    if not np.all(np.isfinite(num("crf"))):
        raise OptimizeError("probes have a missing CRF/QP value (crf)")
    # configurations (presets and grid variants), fastest first: a variant after the preset it builds on;
    # the solver's rank is the index in that order, and the anchor is the slowest plain preset
    pc, pn = pd.factorize(df["preset"].astype(str))
    _, fi = np.unique(pc, return_index=True)
    prank = _preset_ranks(df)[fi]
    names = np.asarray(pn, dtype=str)
    plain = encoder_presets(df).to_numpy()[fi] == names  # a variant's name is never a preset's
    corder = np.lexsort((names, ~plain, prank))
    presets = tuple(str(names[i]) for i in corder)
    code_of = np.empty(len(names), dtype=int)
    code_of[corder] = np.arange(len(names))
    rank = code_of[pc]
    if plain.any():
        anchor = int(code_of[plain & (prank == prank[plain].max())].max())
    else:  # only variants (a hand-made table): the slowest of them
        anchor = len(names) - 1
    height = num("height")
    if not np.all(np.isfinite(height)) or np.any(height <= 0):
        raise OptimizeError("probes have a missing or non-positive height")
    height = height.astype(int)
    width = num("width")
    if not np.all(np.isfinite(width)) or np.any(width <= 0):
        raise OptimizeError("probes have a missing or non-positive width")
    width = width.astype(int)
    # canonical order: shot, rate, then quality (best first), cpu and the encode
    # parameters, so that the result does not depend on the row order of the input
    order = np.argsort(r)  # then a stable (radix) sort by shot: much faster than lexsort
    order = order[np.argsort(codes.astype(np.int16 if S < 32000 else np.int64)[order], kind="stable")]
    cs, rs = codes[order], r[order]
    tie = (cs[1:] == cs[:-1]) & (rs[1:] == rs[:-1])
    if tie.any():  # break the (rare) ties on the other keys, inside each tied group only
        g = np.cumsum(np.concatenate([[True], ~tie]))
        at = np.zeros(order.size, dtype=bool)
        at[1:] |= tie
        at[:-1] |= tie
        idx = np.flatnonzero(at)
        sub = order[idx]
        o = np.lexsort((num("crf")[sub], num("width")[sub], rank[sub], height[sub], t[sub], -q[sub], g[idx]))
        order[idx] = sub[o]
    codes, q, r, t, height, rank, dur = (a[order] for a in (codes, q, r, t, height, rank, dur))
    cnt = np.bincount(codes, minlength=S)
    first = np.cumsum(cnt) - cnt
    dmin = np.minimum.reduceat(dur, first)
    dmax = np.maximum.reduceat(dur, first)
    incons = dmax - dmin > 1e-6 * np.maximum(dmax, 1e-9)
    if incons.any():
        raise OptimizeError(f"contradictory duration_s within shot(s) {[int(s) for s in uniq[np.flatnonzero(incons)][:5]]}")
    K = int(cnt.max())
    pos = np.arange(len(df)) - np.repeat(first, cnt)

    def pad(v, fill, dtype):
        a = np.full((S, K), fill, dtype=dtype)
        a[codes, pos] = v
        return a

    d_shot = dmax
    group = None
    if "param_sets" in df.columns:  # a code per distinct digest; -1 where the probe has none
        ps = df["param_sets"].where(df["param_sets"].notna(), "").astype(str).to_numpy()[order]
        gc, _ = pd.factorize(ps)
        group = pad(np.where(ps == "", -1, gc), -1, int)
    pts = RDCPoints(rate=pad(r, np.inf, float), quality=pad(q, -np.inf, float), cpu=pad(t, np.inf, float),
                    height=pad(height, 0, int), rank=pad(rank, -1, int), duration=d_shot,
                    size_class=pad(size_class(width[order], height), 0, int), group=group)
    row = pad(order, -1, np.intp)
    sh = df.iloc[order[first]]
    shots = pd.DataFrame({
        "shot": np.asarray(uniq),
        "start_frame": sh["start_frame"].to_numpy(),
        "end_frame": sh["end_frame"].to_numpy(),
        "frames": (sh["frames"].to_numpy() if "frames" in sh.columns
                   else sh["end_frame"].to_numpy() - sh["start_frame"].to_numpy()),
        "duration_s": d_shot,
    })
    return Prepared(points=pts, row=row, table=df, shots=shots, metric=metric, quality_column=qcol,
                    encoder=encoder, presets=presets, warnings=tuple(warnings), anchor=anchor,
                    variants=frozenset(str(n) for n in names[~plain]), vmaf_model=models[0] if len(models) == 1 else "")


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class Rung:
    """One rung of the optimized ladder (duration-weighted figures over all shots)."""

    index: int
    spec: RungSpec
    target_kbps: float | None
    target_quality: float | None
    bitrate_kbps: float
    quality: float
    metrics: Mapping[str, float]  # duration-weighted vmaf / psnr_y / ssim where probed
    encode_cpu_s: float
    anchor_cpu_s: float
    width: int | None  # when the rung keeps one resolution
    height: int | None
    peak_kbps: float = float("nan")  # the highest bitrate of any one shot in the rung
    peak_cap_kbps: float | None = None  # the shot bitrate cap the rung was optimized under (``peak_ratio``)
    worst_quality: float = float("nan")  # the lowest quality of any one shot in the rung (the optimized metric)

    @property
    def complexity_ratio(self) -> float:
        return self.encode_cpu_s / self.anchor_cpu_s if self.anchor_cpu_s > 0 else float("nan")

    @property
    def peak_ratio(self) -> float:
        """The peak shot bitrate over the rung's average bitrate."""
        return self.peak_kbps / self.bitrate_kbps if self.bitrate_kbps > 0 else float("nan")


@dataclass(frozen=True)
class DroppedRung:
    spec: RungSpec
    reason: str


@dataclass(frozen=True)
class Ladder:
    """An optimized ladder.  ``table`` is one row per (rung, shot): what ``ladder.csv`` holds."""

    rungs: tuple[Rung, ...]
    dropped: tuple[DroppedRung, ...]
    table: pd.DataFrame
    metric: str
    encoder: str
    complexity: float  # requested
    cpu_s: float
    anchor_cpu_s: float
    anchor_preset: str
    budget_binds: bool
    unconstrained_ratio: float  # complexity of the unconstrained optimum
    min_feasible: float | None  # smallest feasible complexity (when the budget binds)
    per_shot_resolution: bool
    spec: LadderSpec
    warnings: tuple[str, ...] = ()
    stats: Mapping[str, Any] = field(default_factory=dict)
    prepared: Prepared | None = field(default=None, repr=False, compare=False)
    #: the probes the anchor ladder chose (one row per anchor rung and shot, ``rung`` first)
    anchor_table: pd.DataFrame | None = field(default=None, repr=False, compare=False)
    #: how the rungs shared the budget (:data:`OBJECTIVES`) and each rung's weight, in rung order
    objective: str = "area"
    weights: tuple[float, ...] = ()

    @property
    def complexity_ratio(self) -> float:
        return self.cpu_s / self.anchor_cpu_s

    def summary(self) -> pd.DataFrame:
        """One row per rung (``summary.csv``), then one per dropped rung."""
        rows = []
        metric_cols = [c for c in QUALITY_COLUMNS if self.rungs and c in self.rungs[0].metrics]
        for r in self.rungs:
            row = {
                "rung": r.index, "status": "ok", "name": r.spec.label(), "target_kbps": r.target_kbps,
                "target_quality": r.target_quality, "max_height": r.spec.max_height,
                "width": r.width, "height": r.height, "bitrate_kbps": r.bitrate_kbps,
                "peak_kbps": r.peak_kbps, "peak_ratio": r.peak_ratio, "peak_cap_kbps": r.peak_cap_kbps,
                "quality": r.quality, "min_shot_quality": r.spec.min_shot_quality,
                "worst_shot_quality": r.worst_quality,
            }
            for c in metric_cols:
                row[c] = r.metrics[c]
            row.update({
                "encode_cpu_s": r.encode_cpu_s, "anchor_cpu_s": r.anchor_cpu_s,
                "complexity_ratio": r.complexity_ratio,
                "ladder_complexity_ratio": self.complexity_ratio, "requested_complexity": self.complexity,
                "budget_binds": self.budget_binds, "reason": "",
            })
            rows.append(row)
        for d in self.dropped:
            rows.append({"rung": None, "status": "dropped", "name": d.spec.label(), "target_kbps": d.spec.kbps,
                         "target_quality": d.spec.quality, "max_height": d.spec.max_height,
                         "ladder_complexity_ratio": self.complexity_ratio,
                         "requested_complexity": self.complexity, "budget_binds": self.budget_binds,
                         "reason": d.reason})
        out = pd.DataFrame(rows)
        out["metric"] = self.metric
        return out

    def to_dict(self) -> dict:
        """Everything a farm needs to run the final encodes (``ladder.json``); strict JSON (no NaN)."""
        from . import __version__

        def clean(v):
            if isinstance(v, (np.integer,)):
                return int(v)
            if isinstance(v, (np.floating, float)):
                return float(v) if math.isfinite(v) else None
            if isinstance(v, np.bool_):
                return bool(v)
            if isinstance(v, dict):
                return {k: clean(x) for k, x in v.items()}
            if isinstance(v, (list, tuple)):
                return [clean(x) for x in v]
            if v is pd.NA or v is None:
                return None
            return v

        rungs = []
        tab = self.table
        for r in self.rungs:
            sub = tab[tab["rung"] == r.index]
            shots = []
            for rec in sub.to_dict("records"):
                s = {k: rec[k] for k in _SHOT_FIELDS if k in rec and (k != "xpsnr_y" or pd.notna(rec[k]))}
                if "ffmpeg_args" in rec and isinstance(rec["ffmpeg_args"], (list, tuple)):
                    s["ffmpeg_args"] = list(rec["ffmpeg_args"])
                shots.append(s)
            rungs.append({
                "rung": r.index, "name": r.spec.label(), "target_kbps": r.target_kbps,
                "target_quality": r.target_quality, "max_height": r.spec.max_height,
                "width": r.width, "height": r.height, "bitrate_kbps": r.bitrate_kbps, "peak_kbps": r.peak_kbps,
                "peak_ratio": r.peak_ratio, "peak_cap_kbps": r.peak_cap_kbps, "quality": r.quality,
                "min_shot_quality": r.spec.min_shot_quality, "worst_shot_quality": r.worst_quality,
                **{k: v for k, v in r.metrics.items()}, "encode_cpu_s": r.encode_cpu_s,
                "complexity_ratio": r.complexity_ratio, "shots": shots,
            })
        return clean({
            "schema": "pershot.ladder",
            "schema_version": LADDER_SCHEMA_VERSION,
            "pershot_version": __version__,
            "metric": self.metric,
            "vmaf_model": (self.prepared.vmaf_model or None) if self.prepared is not None else None,
            "encoder": self.encoder,
            "per_shot_resolution": self.per_shot_resolution,
            "objective": {"name": self.objective, "weights": list(self.weights)},
            "complexity": {
                "requested": self.complexity, "achieved": self.complexity_ratio, "cpu_s": self.cpu_s,
                "anchor_cpu_s": self.anchor_cpu_s, "anchor": f"every shot at preset {self.anchor_preset}",
                "budget_binds": self.budget_binds, "unconstrained": self.unconstrained_ratio,
                "min_feasible": self.min_feasible,
            },
            "duration_s": float(self.prepared.duration) if self.prepared is not None else None,
            "ladder_spec": self.spec.to_dict(),
            "rungs": rungs,
            "dropped": [{"name": d.spec.label(), "target_kbps": d.spec.kbps, "target_quality": d.spec.quality,
                         "reason": d.reason} for d in self.dropped],
            "warnings": list(self.warnings),
            "stats": dict(self.stats),
        })


#: 2: ``source`` says how the frames behind ``{input}`` are made (``crop``, ``interlaced``, ``tonemap``,
#: ``colour``) and the commands may carry ``-vf setparams``; a reader of version 1 would ignore that
LADDER_SCHEMA_VERSION = 2
_SHOT_FIELDS = ("shot", "start_frame", "end_frame", "frames", "duration_s", "encoder", "preset", "encoder_preset",
                "params", "width", "height", "bit_depth", "keyint", "threads", "rc_mode", "crf", "size_bytes",
                "bitrate_kbps", "vmaf", "psnr_y", "ssim", "xpsnr_y", "encode_cpu_s")
#: ladder.csv columns, in order (those the probes lack are left out)
LADDER_COLUMNS = ("rung", "target_kbps", "target_quality", "shot", "start_frame", "end_frame", "frames",
                  "duration_s", "encoder", "preset", "preset_rank", "encoder_preset", "params", "width", "height",
                  "bit_depth", "keyint", "threads", "rc_mode", "crf", "size_bytes", "bitrate_kbps", "vmaf",
                  "vmaf_hmean", "vmaf_p5", "psnr_y", "ssim", "xpsnr_y", "encode_cpu_s", "encode_wall_s",
                  "encode_overhead_cpu_s", "param_sets")


def _canonical(encoder: str) -> str:
    """The registry name of an encoder name from probes (``libx264`` -> ``x264``); itself when unknown."""
    from . import encoders

    try:
        return encoders.canonical_name(encoder)
    except ConfigError:
        return str(encoder)


def ceil_ratio(x: float, digits: int = 3) -> float:
    """Round a complexity ratio up (so that asking for the printed value is feasible)."""
    f = 10 ** digits
    return math.ceil(x * f - 1e-9) / f


# --------------------------------------------------------------------------- orchestration


class _Reach:
    """Per resolution (or, with ``same_group``, per set of parameter sets, each of one resolution) and
    shot: cheapest rate, best quality and their partners (for reach checks)."""

    def __init__(self, pts: RDCPoints, preset_mask: np.ndarray | None = None, same_group: bool = False,
                 min_quality: float | None = None):
        valid = pts.valid if preset_mask is None else pts.valid & preset_mask
        label = pts.group if same_group and pts.group is not None else pts.height
        self.heights = np.unique(label[valid])
        self.classes = pts.height_classes(self.heights, valid, label)
        H, S = self.heights.size, pts.shots
        ar = np.arange(S)
        self.rmin = np.full((H, S), np.inf)
        self.qcheap = np.full((H, S), -np.inf)
        self.qmax = np.full((H, S), -np.inf)
        self.rbest = np.full((H, S), np.inf)
        #: (H, S): the shot reaches the quality floor at that resolution (all True without a floor)
        self.at_floor = np.ones((H, S), dtype=bool)
        for j, h in enumerate(self.heights):
            m = valid & (label == h)
            if min_quality is not None:  # a shot quality floor: the points at or above it, else the best
                with np.errstate(invalid="ignore"):
                    above = m & (pts.quality >= min_quality)
                q = np.where(m, pts.quality, -np.inf)
                self.at_floor[j] = above.any(axis=1)
                m = np.where(self.at_floor[j][:, None], above, m & (q >= q.max(axis=1)[:, None]))
            has = m.any(axis=1)
            i = np.argmax(m, axis=1)  # rows are sorted by rate, best quality first among equal rates
            self.rmin[j] = np.where(has, pts.rate[ar, i], np.inf)
            self.qcheap[j] = np.where(has, pts.quality[ar, i], -np.inf)
            q = np.where(m, pts.quality, -np.inf)
            qm = q.max(axis=1)
            self.qmax[j] = qm
            self.rbest[j] = np.where(m & (q >= qm[:, None]), pts.rate, np.inf).min(axis=1)
        self.d = pts.duration
        self.D = float(pts.duration.sum())

    def __call__(self, per_shot_resolution: bool, max_height: int | None):
        """(min rate, rate of the best points, best quality, quality of the cheapest points), or None."""
        allowed = np.ones(self.heights.size, dtype=bool) if not max_height else self.classes <= max_height
        if not allowed.any():
            return None
        rmin, qc, qm, rb = self.rmin[allowed], self.qcheap[allowed], self.qmax[allowed], self.rbest[allowed]
        d, D = self.d, self.D
        # under a shot quality floor the solver keeps the resolutions where a shot reaches it, where any
        # does (per shot), or where every shot does (one resolution per rung): so do these figures
        fl = self.at_floor[allowed]
        if per_shot_resolution:
            keep = np.where(fl.any(axis=0)[None, :], fl, True)
        else:
            full = fl.all(axis=1)
            keep = np.broadcast_to((full if full.any() else np.ones_like(full))[:, None], fl.shape)
        rmin, rb = np.where(keep, rmin, np.inf), np.where(keep, rb, np.inf)
        qc, qm = np.where(keep, qc, -np.inf), np.where(keep, qm, -np.inf)
        if per_shot_resolution:
            if not np.isfinite(rmin.min(axis=0)).all():
                return None
            ar = np.arange(d.size)
            j = np.argmin(rmin, axis=0)
            best = qm.max(axis=0)
            r_best = np.where(qm >= best[None, :], rb, np.inf).min(axis=0)
            return (float((rmin[j, ar] * d).sum() / D), float((r_best * d).sum() / D),
                    float((best * d).sum() / D), float((qc[j, ar] * d).sum() / D))
        ok = np.isfinite(rmin).all(axis=1)
        if not ok.any():
            return None
        R = (rmin[ok] * d).sum(axis=1) / D
        RB = (rb[ok] * d).sum(axis=1) / D
        QB = (qm[ok] * d).sum(axis=1) / D
        QC = (qc[ok] * d).sum(axis=1) / D
        i = int(np.argmin(R))
        return float(R.min()), float(RB.max()), float(QB.max()), float(QC[i])


def _reaches(pts: RDCPoints, preset_mask: np.ndarray | None = None,
             same_group: bool = False) -> "Callable[[float | None], _Reach]":
    """The :class:`_Reach` of the points under each shot quality floor (None: none), each built once,
    when first asked for."""
    made: dict[float | None, _Reach] = {}

    def reach_of(floor: float | None) -> _Reach:
        if floor not in made:
            made[floor] = _Reach(pts, preset_mask, same_group, min_quality=floor)
        return made[floor]

    return reach_of


def _auto_targets(reach: _Reach, spec: LadderSpec, prep: Prepared, same_group: bool = False) -> list[RungSpec]:
    rng = reach(True, None)  # the title's range, over every point (its global hull)
    assert rng is not None
    lo, hi = rng[0], rng[1]
    if same_group:  # the cheapest rung one set of parameter sets per rung allows
        one = reach(False, None)
        lo = min(max(lo, one[0]), hi) if one is not None else lo
    def rate_at(q):  # the rate at which the title's global hull reaches quality q
        try:
            return float(solve(prep.points, [RungTarget("quality", q)], per_shot_resolution=True, exact=False).rate[0])
        except InfeasibleError:
            return None

    q_floor, q_top = spec.floor(prep.metric), spec.ceiling(prep.metric)
    if q_floor is not None and rng[3] < q_floor < rng[2]:
        lo = max(lo, rate_at(q_floor) or lo)
    if q_top is not None and rng[3] < q_top < rng[2]:
        hi = min(hi, rate_at(q_top) or hi)
        lo = min(lo, hi)
    # bounds out of the title's reach: one rung at the bound, which the reach check then drops, saying why
    # (never a rung outside the bounds asked for)
    if spec.min_kbps is not None and spec.min_kbps > hi:
        return [RungSpec(kbps=float(spec.min_kbps))]
    if spec.max_kbps is not None and spec.max_kbps < lo:
        return [RungSpec(kbps=float(spec.max_kbps))]
    if spec.min_kbps is not None:
        lo = max(lo, spec.min_kbps)
    if spec.max_kbps is not None:
        hi = min(hi, spec.max_kbps)
    n = int(spec.count)
    min_step = spec.min_step if spec.min_step is not None else DEFAULT_MIN_STEP
    max_step = spec.max_step if spec.max_step is not None else DEFAULT_MAX_STEP
    if n == 1 or hi <= lo:
        return [RungSpec(kbps=float(hi))]
    step = (hi / lo) ** (1.0 / (n - 1))
    if step < min_step:
        # the range is too narrow for n rungs min_step apart: fewer rungs, never duplicates
        n = max(1, int(math.floor(math.log(hi / lo) / math.log(min_step) + 1e-9)) + 1)
        step = (hi / lo) ** (1.0 / (n - 1)) if n > 1 else min_step
    step = min(max(step, min_step), max_step)
    # from the top down: the best rung is the one worth having; 3 significant digits (more where
    # rounding would break min_step / max_step, as LadderSpec checks explicit rungs), kept inside the
    # reachable range
    exact = [hi / step ** j for j in range(n - 1, -1, -1)]
    for digits in range(3, 18):
        xs: list[float] = []
        for x in exact:
            x = min(max(float(f"{x:.{digits}g}"), lo), hi)
            if not xs or x > xs[-1]:
                xs.append(x)
        ratios = [b / a for a, b in zip(xs, xs[1:])]
        if all(min_step * (1 - 1e-9) <= r <= max_step * (1 + 1e-9) for r in ratios):
            break
    return [RungSpec(kbps=x) for x in xs]


def _targets(specs: Sequence[RungSpec], peak_ratio: float | None = None) -> list[RungTarget]:
    return [RungTarget("rate", s.kbps, s.max_height, _shot_cap(s, peak_ratio), min_quality=s.min_shot_quality)
            if s.kbps is not None else RungTarget("quality", s.quality, s.max_height, min_quality=s.min_shot_quality)
            for s in specs]


def _shot_cap(s: RungSpec, peak_ratio: float | None) -> float | None:
    """The highest bitrate one shot may take in bitrate rung ``s`` (None: no cap)."""
    return float(s.kbps) * float(peak_ratio) if peak_ratio is not None and s.kbps is not None else None


def _strictly_rising(sol: Solution, qscale: float) -> list[int]:
    """Indices (in rate order) of rungs not strictly above the previous kept one."""
    order = np.argsort(sol.rate, kind="stable")
    bad = []
    prev = None
    eps_q = 1e-9 * qscale
    for k in order:
        if prev is not None and not (sol.rate[k] > sol.rate[prev] * (1 + 1e-9)
                                     and sol.quality[k] > sol.quality[prev] + eps_q):
            bad.append(int(k))
            continue
        prev = k
    return bad


def optimize_ladder(
    probes: pd.DataFrame | Prepared,
    spec: LadderSpec | Any,
    complexity: float = 0.1,
    metric: str = "vmaf",
    *,
    encoder: str | None = None,
    per_shot_resolution: bool = False,
    greedy: bool = True,
    exact: bool = True,
    objective: str = "area",
    same_parameter_sets: bool | None = False,
) -> Ladder:
    """Optimize a ladder from probes under ``complexity`` x the anchor's encode CPU.  See the module docstring.

    ``same_parameter_sets``: every rung's shots come from encodes with one set of parameter sets
    (probes.csv's ``param_sets``), so that each rung can be packaged with them in its MP4 header alone:
    ``hvc1``, which Apple devices and Safari need for HEVC, and one AV1 sequence header per rung, the one
    its ``av1C`` holds. It also keeps one resolution per rung.
    ``None``: so where every probe's ``param_sets`` is known, else as without (with a warning).

    ``objective`` is how the rungs share the encode budget: ``"area"`` (default) maximises the area
    under the ladder's quality-vs-log-bitrate curve (each rung weighed by the log-rate range it
    covers, :func:`area_weights`); ``"mean"`` maximises the rungs' mean quality, every rung alike.

    ``exact`` finishes small problems with the mixed-integer program of
    :mod:`pershot.exact` (it can only improve the Lagrangian and greedy ladder).

    An infeasible ``complexity`` raises :class:`InfeasibleError` whose
    ``min_feasible`` (rounded up to 3 decimals) has been checked to work.
    """
    complexity = check_complexity(complexity)
    check_objective(objective)
    spec = LadderSpec.coerce(spec)
    prep = probes if isinstance(probes, Prepared) else prepare(probes, metric, encoder)
    auto_note = None
    if same_parameter_sets is None:  # where it can be had: with every digest known, and a ladder within reach
        g = prep.points.group
        kw = dict(encoder=encoder, per_shot_resolution=per_shot_resolution, greedy=greedy, exact=exact,
                  objective=objective)
        if g is not None and not (g[prep.points.valid] < 0).any():
            try:
                return optimize_ladder(prep, spec, complexity, metric, same_parameter_sets=True, **kw)
            except (InfeasibleError, OptimizeError) as ex:
                lad = optimize_ladder(prep, spec, complexity, metric, same_parameter_sets=False, **kw)
                return replace(lad, warnings=(*lad.warnings, (
                    f"one set of parameter sets per rung is out of reach ({ex}), so rungs may mix them (HLS then "
                    "tags HEVC hev1; an AV1 rung then carries several sequence headers): a shot of one frame, "
                    "coded intra-only, never shares its encodes' sets")))
        same_parameter_sets = False
        auto_note = ("the probes (cached before pershot recorded parameter sets) do not say which encodes share "
                     "them, so rungs may mix them (HLS then tags HEVC hev1; an AV1 rung then carries several "
                     "sequence headers): probe again with --no-cache")

    def once(*args) -> Ladder:
        lad = _optimize_once(*args, objective=objective, same_group=same_parameter_sets, note=auto_note)
        return replace(lad, stats={**lad.stats, "same_parameter_sets": bool(same_parameter_sets)})

    try:
        return once(prep, spec, complexity, per_shot_resolution, greedy, exact)
    except InfeasibleError as ex:
        first = ex
    # Name the smallest complexity that works, and check it: the cheapest
    # ladder bounds it from below, but its rungs must also all rise strictly.
    # (Feasibility does not depend on the exact finish: these tries skip it.)
    lo = float(complexity)
    cand = max(float(first.min_feasible or 0.0), lo * 1.05, lo + 0.001)
    hi = None
    for _ in range(16):
        cand = ceil_ratio(min(cand, 1.0))
        try:
            once(prep, spec, cand, per_shot_resolution, greedy, False)
            hi = cand
            break
        except InfeasibleError as ex:
            lo = cand
            if cand >= 1.0:
                break
            cand = max(float(ex.min_feasible or 0.0), cand * 1.25, cand + 0.001)
    if hi is None:
        raise InfeasibleError(f"complexity {complexity:g} is infeasible for this ladder, and so is every value up to 1 "
                              f"({first})", min_feasible=None) from None
    for _ in range(10):  # refine to 3 decimals
        mid = ceil_ratio((lo + hi) / 2)
        if mid >= hi or mid <= lo:
            break
        try:
            once(prep, spec, mid, per_shot_resolution, greedy, False)
            hi = mid
        except InfeasibleError:
            lo = mid
    raise InfeasibleError(f"complexity {complexity:g} is infeasible for this ladder: the smallest feasible value "
                          f"is {hi:g} ({getattr(first, 'reason', first)})", min_feasible=hi) from None


def _optimize_once(prep: Prepared, spec: LadderSpec, complexity: float, per_shot_resolution: bool,
                   greedy: bool, exact: bool, objective: str = "area", same_group: bool = False,
                   note: str | None = None) -> Ladder:
    metric = prep.metric
    qm = spec.quality_metric
    if qm is not None and qm != metric:
        raise ConfigError(f"ladder {spec.name!r} has {qm} quality rungs but the metric is {metric}; "
                          f"use --metric {qm}")
    warnings = list(prep.warnings) + ([note] if note else [])
    pts = prep.points
    qscale = max(float(np.abs(pts.quality[pts.valid]).max()), 1.0)
    reach_of = _reaches(pts, same_group=same_group)
    reach = reach_of(None)
    if same_group:  # a set of parameter sets names one picture size
        per_shot_resolution = False
    specs = _auto_targets(reach, spec, prep, same_group) if spec.count is not None else list(spec.rungs)
    dropped: list[DroppedRung] = []

    # 1. reach (under a rung's shot quality floor, what that floor leaves)
    kept: list[RungSpec] = []
    for s in specs:
        rg = reach_of(s.min_shot_quality)(per_shot_resolution, s.max_height)
        if rg is None:
            dropped.append(DroppedRung(s, f"no resolution <= {s.max_height}p was probed for every shot"))
            continue
        rmin, rbest, qbest, qcheap = rg
        if s.kbps is not None:
            if s.kbps < rmin * (1 - 1e-9):
                floor = "" if s.min_shot_quality is None else f" with every shot at {metric} {s.min_shot_quality:g}"
                dropped.append(DroppedRung(s, f"below the cheapest probes{floor} ({rmin:.4g} kbps)"))
                continue
            if s.kbps > rbest * (1 + 1e-9):
                dropped.append(DroppedRung(s, f"above the best probes ({rbest:.4g} kbps reach the top quality)"))
                continue
        else:
            if s.quality > qbest + 1e-12 * qscale:
                dropped.append(DroppedRung(s, f"above the best probes ({metric} {qbest:.4g})"))
                continue
            if s.quality <= qcheap and s.min_shot_quality is None:  # (at a floor: the floor's cheapest)
                dropped.append(DroppedRung(s, f"below the cheapest probes (they already give {metric} {qcheap:.4g})"))
                continue
        kept.append(s)

    # the anchor: every shot at the slowest plain preset (never a grid variant)
    plain_code = np.array([p not in prep.variants for p in prep.presets], dtype=bool)
    anchor_code = prep.anchor if prep.anchor >= 0 else len(prep.presets) - 1
    slow_mask = pts.rank == anchor_code
    missing_slow = ~(slow_mask & pts.valid).any(axis=1)
    if missing_slow.any():
        # a shot without the slowest preset: its own slowest plain preset (or configuration) stands in
        usable = pts.valid & (plain_code[np.maximum(pts.rank, 0)] if plain_code.any() else True)
        usable = np.where(usable.any(axis=1)[:, None], usable, pts.valid)
        own = np.where(usable, pts.rank, -1).max(axis=1)
        slow_mask = pts.rank == own[:, None]
        warnings.append(f"{int(missing_slow.sum())} shot(s) lack preset {prep.anchor_preset}; the anchor uses their "
                        "slowest probed preset")
    anchor_preset = prep.anchor_preset

    # 2-4: solve, dropping rungs that do not rise strictly, until stable
    for _attempt in range(len(specs) + 2):
        if not kept:
            raise OptimizeError("no rung of the ladder is within reach of the probes: "
                                + "; ".join(f"{d.spec.label()}: {d.reason}" for d in dropped))
        targets = _targets(kept, spec.peak_ratio)
        has_caps = any(t.max_rate is not None for t in targets)
        cache: dict = {}
        free = solve(pts, targets, per_shot_resolution=per_shot_resolution, greedy=greedy, cache=cache, exact=False,
                     same_group=same_group)
        bad = _strictly_rising(free, qscale)
        if bad:
            for k in sorted(bad, reverse=True):
                dropped.append(DroppedRung(kept[k], "not above the rung below it (the source saturates there)"))
                del kept[k]
            continue
        anchor_targets = _anchor_targets(_reaches(pts, slow_mask), kept, per_shot_resolution)
        # the anchor is always solved in full (greedy pass and, when small, the exact finish), whatever
        # ``greedy`` and ``exact`` say: one anchor per title keeps complexity ratios comparable across
        # runs, the plain-Lagrangian reference and plots drawn without the finish
        anchor = solve(pts, anchor_targets, per_shot_resolution=per_shot_resolution, preset_mask=slow_mask)
        anchor_cpu = anchor.total_cpu
        if not anchor_cpu > 0:
            raise OptimizeError("the anchor ladder has zero encode CPU time: probes lack encode_cpu_s")
        budget = complexity * anchor_cpu
        if objective == "area":
            # the rungs' spacing, from the ladder without shot bitrate caps: a cap the ladder does not
            # need then changes nothing
            spaced = solve(pts, [replace(t, max_rate=None) for t in targets], per_shot_resolution=per_shot_resolution,
                           greedy=greedy, exact=False, same_group=same_group) if has_caps else free
            w = area_weights(spaced.rate)
            targets = [replace(t, weight=float(x)) for t, x in zip(targets, w)]
        try:
            sol = solve(pts, targets, cpu_budget=budget, per_shot_resolution=per_shot_resolution, greedy=greedy,
                        cache=cache, exact=exact, same_group=same_group)
        except InfeasibleError as ex:
            if ex.min_feasible is None:
                raise
            mf = ceil_ratio(ex.min_feasible / anchor_cpu)
            err = InfeasibleError(
                f"complexity {complexity:g} is infeasible for this ladder: the cheapest ladder found needs "
                f"{ex.min_feasible:.4g} s of encode CPU, {mf:g} of the {anchor_preset} anchor's "
                f"{anchor_cpu:.4g} s", min_feasible=mf)
            err.reason = (f"the cheapest ladder found needs {ex.min_feasible:.4g} s of encode CPU; the "
                          f"{anchor_preset} anchor {anchor_cpu:.4g} s")
            raise err from None
        if has_caps and all(t.kind == "rate" for t in targets):
            sol = _uncapped_if_within_caps(pts, targets, sol, budget, per_shot_resolution, greedy, exact, qscale,
                                           same_group)
        if _strictly_rising(sol, qscale):
            # the budgeted solve (area weights, exact finish) lost the rising order; the ladder solved
            # without a budget rises (checked above): where it fits the budget, it is the ladder
            if free.total_cpu > budget * (1 + 1e-9):
                ex = InfeasibleError(f"at complexity {complexity:g} the rungs cannot all rise strictly",
                                     min_feasible=None)
                ex.reason = "below it the rungs cannot all rise strictly in rate and quality"
                raise ex
            sol = free
        break
    else:  # pragma: no cover - each pass drops a rung or breaks
        raise OptimizeError("could not build a strictly rising ladder")

    for d in dropped:
        warnings.append(f"rung {d.spec.label()} dropped: {d.reason}")
    if spec.peak_ratio is not None and any(k.kbps is None for k in kept):
        warnings.append(f"peak_ratio {spec.peak_ratio:g} caps bitrate rungs only: quality rungs are not capped")
    unconstrained_ratio = free.total_cpu / anchor_cpu
    min_feasible = ceil_ratio(sol.cpu_min / anchor_cpu) if sol.cpu_min is not None else None
    if not sol.binding:
        warnings.append(f"complexity {complexity:g} does not bind: the unconstrained optimum costs "
                        f"{free.total_cpu / anchor_cpu:.3g} of the anchor; more encode time buys no quality")
    return _build(prep, kept, sol, anchor, spec, complexity, anchor_preset, per_shot_resolution, dropped,
                  warnings, unconstrained_ratio, min_feasible, objective, [t.weight for t in targets])


def _uncapped_if_within_caps(pts: RDCPoints, targets: list[RungTarget], sol: Solution, budget: float,
                             per_shot_resolution: bool, greedy: bool, exact: bool, qscale: float,
                             same_group: bool = False) -> Solution:
    """A shot bitrate cap the ladder does not need must cost nothing. The capped problem is the
    uncapped one with fewer points, but the solver's heuristic path changes with them: solve without
    the caps too, and keep that ladder where every shot stays under its rung's cap and it is better."""
    try:
        alt = solve(pts, [replace(t, max_rate=None) for t in targets], cpu_budget=budget,
                    per_shot_resolution=per_shot_resolution, greedy=greedy, exact=exact, same_group=same_group)
    except InfeasibleError:
        return sol
    if _strictly_rising(alt, qscale):
        return sol
    ar = np.arange(pts.shots)
    for k, t in enumerate(targets):
        if t.max_rate is not None and (pts.rate[ar, alt.choice[k]] > t.max_rate * (1 + 1e-9)).any():
            return sol
    if _strictly_rising(sol, qscale):  # the capped ladder does not rise strictly: the uncapped one does
        return alt
    w = np.array([t.weight for t in targets])
    return alt if float(w @ alt.quality) > float(w @ sol.quality) + 1e-12 * qscale else sol


def check_complexity(complexity: Any) -> float:
    """``complexity`` as a float in (0, 1] (a NumPy scalar too); else :class:`OptimizeError`."""
    if isinstance(complexity, (bool, np.bool_)) or not isinstance(complexity, (int, float, np.integer, np.floating)) \
            or not math.isfinite(complexity) or not (0.0 < complexity <= 1.0):
        raise OptimizeError(f"complexity must be in (0, 1], not {complexity!r}")
    return float(complexity)


#: how the rungs of a ladder share the encode budget (see :func:`optimize_ladder`)
OBJECTIVES = ("area", "mean")


def check_objective(objective: str) -> None:
    """Raise ConfigError unless ``objective`` is one of :data:`OBJECTIVES`."""
    if objective not in OBJECTIVES:
        raise ConfigError(f"objective must be one of {', '.join(OBJECTIVES)}, not {objective!r}")


def area_weights(rate: np.ndarray) -> np.ndarray:
    """Per rung, its share of the area under the ladder's quality-vs-log-bitrate curve (trapezoid rule).

    The objective ``sum_k w_k Q_k`` with these weights is (up to a constant)
    the area under the piecewise-linear curve through the rungs' (ln rate,
    quality): each rung stands for half the log-rate interval to each
    neighbour, the lowest and highest for one half-interval only.  That area
    is what a Bjontegaard delta (quality at equal rate, or rate at equal
    quality) integrates, so a point of quality counts for the bitrate range it
    covers.  On a geometrically spaced ladder the interior rungs weigh the
    same and the two ends half as much.  Normalised to a mean of 1; rates
    must rise strictly (else, and for fewer than three rungs, equal weights).
    """
    rate = np.asarray(rate, dtype=float)
    n = rate.size
    if n < 3 or not np.all(np.isfinite(rate)) or not np.all(rate > 0):
        return np.ones(n)
    o = np.argsort(rate, kind="stable")
    lr = np.log(rate[o])
    gaps = np.diff(lr)
    if not np.all(gaps > 0):
        return np.ones(n)
    w = np.zeros(n)
    w[:-1] += gaps / 2
    w[1:] += gaps / 2
    out = np.empty(n)
    out[o] = w / w.mean()
    return out


def _anchor_targets(reach_of: "Callable[[float | None], _Reach]", kept, per_shot_resolution) -> list[RungTarget]:
    """Rung targets for the anchor, clipped into what the slowest preset alone can reach (``reach_of``:
    its reach under a rung's shot quality floor, which the anchor keeps).  Without shot bitrate caps: a
    cap is a delivery constraint, and the budget it is spent under stays the same."""
    out = []
    for s in kept:
        reach = reach_of(s.min_shot_quality)
        rg = reach(per_shot_resolution, s.max_height)
        if rg is None:  # no usable resolution at the slowest preset: use all its points
            rg = reach(True, None)
            s = replace(s, max_height=None)
        rmin, rbest, qbest, qcheap = rg
        if s.kbps is not None:
            out.append(RungTarget("rate", min(max(s.kbps, rmin), rbest), s.max_height,
                                  min_quality=s.min_shot_quality))
        else:
            out.append(RungTarget("quality", min(max(s.quality, qcheap), qbest), s.max_height,
                                  min_quality=s.min_shot_quality))
    return out


def _build(prep, kept, sol, anchor, spec, complexity, anchor_preset, per_shot_resolution, dropped, warnings,
           unconstrained_ratio, min_feasible, objective, weights) -> Ladder:
    pts = prep.points
    S = pts.shots
    ar = np.arange(S)
    order = np.argsort(sol.rate, kind="stable")
    d = pts.duration
    D = d.sum()
    tab = prep.table
    metric_cols = _scored_columns(tab, QUALITY_COLUMNS)
    frames = []
    rungs = []
    for new_idx, k in enumerate(order):
        rows = prep.row[ar, sol.choice[k]]
        sub = tab.iloc[rows].drop(columns=[c for c in _LADDER_ONLY if c in tab.columns])
        s = kept[k]
        sub.insert(0, "rung", new_idx)
        sub.insert(1, "target_kbps", s.kbps if s.kbps is not None else np.nan)
        sub.insert(2, "target_quality", s.quality if s.quality is not None else np.nan)
        frames.append(sub)
        mets = {}
        for c in metric_cols:
            v = pd.to_numeric(sub[c], errors="coerce").to_numpy(dtype=float)
            # the rung's figure needs every shot's score: a mean over the scored shots alone is another
            # figure (and a missing score is no zero); NaN (empty in summary.csv, null in ladder.json)
            mets[c] = float(np.sum(v * d) / D) if np.isfinite(v).all() else float("nan")
        ws = sub["width"].unique()
        hs = sub["height"].unique()
        shot_rates = pts.rate[ar, sol.choice[k]]
        cap = _shot_cap(s, spec.peak_ratio)
        if cap is not None:
            over = np.flatnonzero(shot_rates > cap * (1 + 1e-9))
            if over.size:
                warnings.append(f"rung {s.label()}: {over.size} shot(s) above the {cap:.4g} kbps shot cap "
                                f"(peak_ratio {spec.peak_ratio:g}) even at their cheapest probe: shot(s) "
                                + ", ".join(str(int(tab.iloc[int(prep.row[i, sol.choice[k, i]])]['shot']))
                                            for i in over[:10]) + (" ..." if over.size > 10 else ""))
        shot_q = pts.quality[ar, sol.choice[k]]
        if s.min_shot_quality is not None:
            short = np.flatnonzero(shot_q < s.min_shot_quality - 1e-9)
            if short.size:
                warnings.append(f"rung {s.label()}: {short.size} shot(s) below the {prep.metric} {s.min_shot_quality:g} "
                                "shot floor even at their best probe at the rung's resolution: shot(s) "
                                + ", ".join(str(int(tab.iloc[int(prep.row[i, sol.choice[k, i]])]['shot']))
                                            for i in short[:10]) + (" ..." if short.size > 10 else ""))
        rungs.append(Rung(index=new_idx, spec=s, target_kbps=s.kbps, target_quality=s.quality,
                          bitrate_kbps=float(sol.rate[k]), quality=float(sol.quality[k]), metrics=mets,
                          encode_cpu_s=float(sol.cpu[k]), anchor_cpu_s=float(anchor.cpu[k]),
                          width=int(ws[0]) if len(ws) == 1 else None, height=int(hs[0]) if len(hs) == 1 else None,
                          peak_kbps=float(shot_rates.max()), peak_cap_kbps=cap, worst_quality=float(shot_q.min())))
    table = pd.concat(frames, ignore_index=True)
    if _canonical(prep.encoder) == "x264" and "bit_depth" in table.columns and (pd.to_numeric(table["bit_depth"],
                                                                                  errors="coerce") > 8).any():
        warnings.append("a 10-bit x264 ladder is H.264 High 10, which few hardware decoders and no Apple device "
                        "play (HLS allows H.264 up to High): 10-bit ladders are usually HEVC or AV1 (x265, svtav1; "
                        "the hdr10 grid)")
    sized = [r for r in rungs if r.height is not None]  # rungs in rate order; one resolution each
    for lo, hi in zip(sized, sized[1:]):
        if hi.width * hi.height < lo.width * lo.height:
            warnings.append(f"rung {hi.index} ({hi.width}x{hi.height}) has a smaller picture than rung {lo.index} "
                            f"below it ({lo.width}x{lo.height}): players that cap renditions by picture size may "
                            "skip it (a grid with more CRF values usually avoids this)")
    anchor_table = pd.concat([tab.iloc[prep.row[ar, anchor.choice[k]]].assign(rung=new_idx)
                              for new_idx, k in enumerate(order)], ignore_index=True)
    cols = _scored_columns(table, LADDER_COLUMNS)
    extra = [c for c in table.columns if c not in cols and c in ("ffmpeg_args",)]
    table = table[cols + extra]
    stats = {"evaluations": sol.evaluations, "greedy_moves": sol.greedy_moves, "mu": sol.mu,
             "lagrangian_cpu_s": sol.lagrangian_cpu,
             "lagrangian_quality": [float(sol.lagrangian_quality[k]) for k in order],
             "exact_finish": sol.exact or "not run",
             "shots": int(S), "points": int(pts.valid.sum())}
    return Ladder(rungs=tuple(rungs), dropped=tuple(dropped), table=table, metric=prep.metric, encoder=prep.encoder,
                  complexity=float(complexity), cpu_s=float(sol.total_cpu), anchor_cpu_s=float(anchor.total_cpu),
                  anchor_preset=anchor_preset, budget_binds=bool(sol.binding),
                  unconstrained_ratio=float(unconstrained_ratio), min_feasible=min_feasible,
                  per_shot_resolution=per_shot_resolution, spec=spec, warnings=tuple(warnings), stats=stats,
                  prepared=prep, anchor_table=anchor_table, objective=objective,
                  weights=tuple(float(weights[k]) for k in order))


# ``pershot.ladder`` is both this module and the public API function ``pershot.ladder(...)``:
# importing the submodule rebinds the package attribute to the module, so the
# module itself is made callable (it forwards to :func:`pershot.api.ladder`) and
# both spellings keep working (as pershot/probe.py does for ``pershot.probe``).
class _CallableModule(type(math)):
    def __call__(self, *args: Any, **kwargs: Any):
        from .api import ladder as _api

        return _api(*args, **kwargs)


import sys as _sys  # noqa: E402

_sys.modules[__name__].__class__ = _CallableModule
