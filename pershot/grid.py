"""Probe grids: which (encoder, preset, resolution, CRF/QP) points to measure per shot.

A grid is a TOML file (``presets/grid-*.toml``)::

    name = "default"                 # optional
    heights = [1080, 720, 540, 360]  # resolution classes ("720p", see pershot.geometry)
    crf = [18, 23, 28, 33, 38, 43]   # CRF points (and/or)
    qp = []                          # constant-QP points
    threads = 1                      # threads per encode (fixed, so CPU time compares fairly)
    bit_depth = 8                    # 8 or 10 bits per sample (10: an HDR ladder, or less banding)
    keyint = 0                       # max GOP in frames; 0 = one keyframe per shot, at its start

    [metrics]
    vmaf_model = "auto"              # libvmaf built-in model; auto: vmaf_4k_v0.6.1 for a 4K source, else vmaf_v0.6.1
    n_subsample = 1                  # score every n-th frame (faster probes)
    scale = "bicubic"                # scaler back to the source's display size
    xpsnr = false                    # also score XPSNR-Y (probes.csv xpsnr_y; --metric xpsnr turns it on)

    [encoders.x264]
    presets = ["ultrafast", "medium", "veryslow"]
    # optional per-encoder overrides: crf, qp, heights, bit_depth, params = { "aq-mode" = 2 }

    [encoders.x264.variants]         # optional: more configurations, each probed like a preset
    "ultrafast+cabac" = { preset = "ultrafast", params = { cabac = 1, deblock = 1 } }

A variant is a preset with encoder options on top (merged over the encoder's
``params``; the variant's win). Its name is what the ``preset`` column of
probes.csv and ladder.csv shows; ``encoder_preset`` and ``params`` there hold
what the encoder is given. Variants give the optimizer complexity steps between
the presets; the complexity anchor stays the slowest plain preset.

Heights are resolution classes: a 1920x800 film and a 1080x1920 phone video
are both 1080p (:mod:`pershot.geometry`). Classes above the source's own are
dropped when the grid meets a source, and the source's own size takes their
place (:func:`pershot.media.resolutions_for`). Anything malformed raises
:class:`~pershot.errors.ConfigError` with a one-line message naming the file and the key.
"""
from __future__ import annotations

import dataclasses
import functools
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Mapping

from . import encoders
from .errors import ConfigError
from .metrics import MetricParams

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

PRESET_DIR = Path(__file__).resolve().parent / "presets"
DEFAULT_GRID = "default"

_TOP_KEYS = {"name", "description", "heights", "crf", "qp", "threads", "keyint", "bit_depth", "metrics", "encoders"}
_ENC_KEYS = {"presets", "crf", "qp", "heights", "bit_depth", "params", "variants"}
#: bits per sample an encode may have: 8, or 10 (HEVC Main 10, AV1 Main 10-bit, H.264 High 10)
BIT_DEPTHS = (8, 10)
_VARIANT_KEYS = {"preset", "params"}
_VARIANT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}$")
_METRIC_KEYS = {"vmaf_model", "n_subsample", "scale", "threads", "xpsnr"}


@dataclass(frozen=True)
class Variant:
    """A named encoder configuration: a preset with extra options (see the module docstring)."""

    name: str
    preset: str
    params: tuple[tuple[str, str], ...]  #: the variant's own options (the encoder's params are merged in by the grid)


@dataclass(frozen=True)
class EncoderGrid:
    """The points of one encoder: presets (fastest first), CRF and QP values, heights."""

    encoder: str
    presets: tuple[str, ...]
    crf: tuple[float, ...]
    qp: tuple[float, ...]
    heights: tuple[int, ...]
    params: tuple[tuple[str, str], ...] = ()
    variants: tuple[Variant, ...] = ()
    bit_depth: int = 8  #: bits per sample of every encode of this encoder (8 or 10)

    def preset_rank(self, preset: str) -> int:
        """0 = the fastest preset of this encoder in the grid ... the slowest. A variant ranks with
        the preset it builds on."""
        try:
            return self._ranks[str(preset)]
        except KeyError:
            raise ValueError(f"{preset!r} is not a preset or variant of this grid") from None

    @functools.cached_property
    def _ranks(self) -> dict[str, int]:
        """Configuration name -> speed rank among the presets in use (computed once: probe planning
        asks for every point)."""
        spec = encoders.get(self.encoder)
        used = sorted({*self.presets, *(v.preset for v in self.variants)}, key=spec.preset_rank)
        rank = {p: i for i, p in enumerate(used)}
        return {**{p: rank[p] for p in self.presets}, **{v.name: rank[v.preset] for v in self.variants}}

    def configs(self) -> list[tuple[str, str, tuple[tuple[str, str], ...]]]:
        """Every configuration probed: ``(name, encoder preset, options)``; the plain presets
        (name = preset, the encoder's params), then the variants (params merged, the variant's win)."""
        out = [(p, p, self.params) for p in self.presets]
        for v in self.variants:
            own = dict(v.params)
            out.append((v.name, v.preset, tuple((k, x) for k, x in self.params if k not in own) + v.params))
        return out

    def rc_points(self) -> list[tuple[str, float]]:
        return [("crf", v) for v in self.crf] + [("qp", v) for v in self.qp]


@dataclass(frozen=True)
class Grid:
    name: str
    encoders: tuple[EncoderGrid, ...]
    threads: int = 1
    keyint: int = 0
    metric: MetricParams = field(default_factory=MetricParams)
    source: str = field(default="", compare=False)  #: the file it came from, if any

    def encoder(self, name: str) -> EncoderGrid:
        n = encoders.canonical_name(name)
        for e in self.encoders:
            if e.encoder == n:
                return e
        raise ConfigError(f"encoder {name!r} is not in grid {self.name!r}")

    @property
    def heights(self) -> tuple[int, ...]:
        return tuple(sorted({h for e in self.encoders for h in e.heights}, reverse=True))

    @property
    def bit_depths(self) -> tuple[int, ...]:
        """The bit depths the grid's encodes have, lowest first."""
        return tuple(sorted({e.bit_depth for e in self.encoders}))

    def with_bit_depth(self, bit_depth: int | None) -> "Grid":
        """This grid with every encoder at ``bit_depth`` (``--bit-depth``); None: as it is."""
        if bit_depth is None:
            return self
        depth = _bit_depth(bit_depth, self.source or self.name, "--bit-depth")
        return dataclasses.replace(self, encoders=tuple(dataclasses.replace(e, bit_depth=depth)
                                                         for e in self.encoders))

    def with_xpsnr(self, on: bool = True) -> "Grid":
        """This grid scoring XPSNR-Y too (``--xpsnr``, or ``--metric xpsnr``); ``on=False``: as it is."""
        return dataclasses.replace(self, metric=dataclasses.replace(self.metric, xpsnr=True)) if on else self

    def points(self) -> Iterator[tuple[EncoderGrid, str, str, float, int]]:
        """Every (encoder grid, configuration name, rc_mode, value, height)."""
        for e in self.encoders:
            for h in e.heights:
                for name, _preset, _params in e.configs():
                    for mode, v in e.rc_points():
                        yield e, name, mode, v, h

    def size(self) -> int:
        """Points per shot (before heights above the source are dropped)."""
        return sum((len(e.presets) + len(e.variants)) * len(e.heights) * (len(e.crf) + len(e.qp))
                   for e in self.encoders)


# ---------------------------------------------------------------- parsing


def _where(src: str, key: str) -> str:
    return f"grid {src}: {key}"


def _int_list(v: Any, src: str, key: str, lo: int, hi: int) -> tuple[int, ...]:
    if not isinstance(v, list) or not v:
        raise ConfigError(f"{_where(src, key)} must be a non-empty list of integers")
    out = []
    for x in v:
        if isinstance(x, bool) or not isinstance(x, int):
            raise ConfigError(f"{_where(src, key)} must hold integers, got {x!r}")
        if not (lo <= x <= hi):
            raise ConfigError(f"{_where(src, key)} value {x} out of range [{lo}, {hi}]")
        out.append(x)
    return tuple(out)


def _num_list(v: Any, src: str, key: str) -> tuple[float, ...]:
    if not isinstance(v, list):
        raise ConfigError(f"{_where(src, key)} must be a list of numbers")
    out = []
    for x in v:
        if isinstance(x, bool) or not isinstance(x, (int, float)):
            raise ConfigError(f"{_where(src, key)} must hold numbers, got {x!r}")
        out.append(float(x))
    if len(set(out)) != len(out):
        raise ConfigError(f"{_where(src, key)} has duplicate values")
    return tuple(sorted(out))


def _pos_int(v: Any, src: str, key: str, lo: int = 0, hi: int = 1 << 30) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or not (lo <= v <= hi):
        raise ConfigError(f"{_where(src, key)} must be an integer in [{lo}, {hi}], got {v!r}")
    return v


def _bit_depth(v: Any, src: str, key: str) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or v not in BIT_DEPTHS:
        raise ConfigError(f"{_where(src, key)} must be {' or '.join(map(str, BIT_DEPTHS))}, got {v!r}")
    return int(v)


def _unknown(d: Mapping[str, Any], allowed: set[str], src: str, where: str) -> None:
    extra = sorted(set(d) - allowed)
    if extra:
        raise ConfigError(f"grid {src}: unknown key{'s' if len(extra) > 1 else ''} {', '.join(map(repr, extra))} in {where}"
                          f" (allowed: {', '.join(sorted(allowed))})")


def _params(raw: Any, src: str, key: str) -> tuple[tuple[str, str], ...]:
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{_where(src, key)} must be a table of options")
    params: list[tuple[str, str]] = []
    for k, v in raw.items():
        if isinstance(v, bool):
            v = int(v)
        if not isinstance(v, (str, int, float)):
            raise ConfigError(f"{_where(src, key + '.' + str(k))} must be a string or number")
        sv = str(v)
        if not k or not sv or any(c in k + sv for c in ":=\n"):
            raise ConfigError(f"{_where(src, key + '.' + str(k))}: keys and values may not contain ':' or '='")
        params.append((str(k), sv))
    return tuple(params)


def _variants(raw: Any, spec: "encoders.EncoderSpec", src: str,
              key: str) -> tuple[Variant, ...]:
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{_where(src, key)} must be a table of name = {{ preset = ..., params = {{...}} }}")
    out: list[Variant] = []
    for name, vd in raw.items():
        where = f"{key}.{name}"
        if not _VARIANT_NAME.match(str(name)):
            raise ConfigError(f"{_where(src, where)}: a variant name is 1-64 letters, digits, '_', '.', '+' or '-'")
        if name in spec.presets:
            raise ConfigError(f"{_where(src, where)}: a variant may not take the name of a {spec.name} preset")
        if not isinstance(vd, Mapping):
            raise ConfigError(f"{_where(src, where)} must be a table {{ preset = ..., params = {{...}} }}")
        _unknown(vd, _VARIANT_KEYS, src, f"[{where}]")
        base = vd.get("preset")
        if not isinstance(base, str) or base not in spec.presets:
            raise ConfigError(f"{_where(src, where + '.preset')} must be a {spec.name} preset "
                              f"({', '.join(spec.presets)})")
        params = _params(vd.get("params", {}), src, where + ".params")
        if not params:
            raise ConfigError(f"{_where(src, where + '.params')}: a variant needs at least one option "
                              "(without any it is the plain preset)")
        out.append(Variant(name=str(name), preset=base, params=params))
    # fastest first, like the presets: by the preset they build on, then by name
    out.sort(key=lambda v: (spec.preset_rank(v.preset), v.name))
    return tuple(out)


def parse_grid(doc: Mapping[str, Any], source: str = "<dict>") -> Grid:
    """Validate a grid document (the parsed TOML) into a :class:`Grid`."""
    if not isinstance(doc, Mapping):
        raise ConfigError(f"grid {source}: not a table")
    _unknown(doc, _TOP_KEYS, source, "the top level")
    name = doc.get("name", Path(source).stem.removeprefix("grid-") if source != "<dict>" else "custom")
    if not isinstance(name, str) or not name:
        raise ConfigError(f"{_where(source, 'name')} must be a non-empty string")
    heights = _int_list(doc["heights"], source, "heights", 16, 8640) if "heights" in doc else None
    crf = _num_list(doc.get("crf", []), source, "crf")
    qp = _num_list(doc.get("qp", []), source, "qp")
    threads = _pos_int(doc.get("threads", 1), source, "threads", 1, 256)
    keyint = _pos_int(doc.get("keyint", 0), source, "keyint", 0, 100000)
    bit_depth = _bit_depth(doc.get("bit_depth", 8), source, "bit_depth")

    m = doc.get("metrics", {})
    if not isinstance(m, Mapping):
        raise ConfigError(f"{_where(source, 'metrics')} must be a table")
    _unknown(m, _METRIC_KEYS, source, "[metrics]")
    model = m.get("vmaf_model", MetricParams.vmaf_model)
    if not isinstance(model, str):
        raise ConfigError(f"{_where(source, 'metrics.vmaf_model')} must be a string")
    scale = m.get("scale", "bicubic")
    if not isinstance(scale, str):
        raise ConfigError(f"{_where(source, 'metrics.scale')} must be a string")
    xpsnr = m.get("xpsnr", False)
    if not isinstance(xpsnr, bool):
        raise ConfigError(f"{_where(source, 'metrics.xpsnr')} must be true or false")
    n_subsample = _pos_int(m.get("n_subsample", 1), source, "metrics.n_subsample", 1, 1000)
    metric_threads = _pos_int(m.get("threads", 1), source, "metrics.threads", 1, 256)  # not the encodes' threads
    try:  # what MetricParams itself checks (the model's name, the scaler's flags) says where it is
        metric = MetricParams(vmaf_model=model, n_subsample=n_subsample, scale_flags=scale, xpsnr=xpsnr,
                              threads=metric_threads)
    except ConfigError as ex:
        raise ConfigError(f"grid {source}: [metrics] {ex}") from None

    encs = doc.get("encoders")
    if not isinstance(encs, Mapping) or not encs:
        raise ConfigError(f"grid {source}: needs at least one [encoders.<name>] table (x264, x265, svtav1)")
    out: list[EncoderGrid] = []
    seen: set[str] = set()
    for raw_name, ed in encs.items():
        try:
            spec = encoders.get(raw_name)
        except ConfigError as ex:
            raise ConfigError(f"grid {source}: {ex}") from None
        if spec.name in seen:
            raise ConfigError(f"grid {source}: encoder {spec.name} listed twice")
        seen.add(spec.name)
        key = f"encoders.{raw_name}"
        if not isinstance(ed, Mapping):
            raise ConfigError(f"{_where(source, key)} must be a table")
        _unknown(ed, _ENC_KEYS, source, f"[{key}]")
        presets_raw = ed.get("presets")
        if not isinstance(presets_raw, list) or not presets_raw:
            raise ConfigError(f"{_where(source, key + '.presets')} must be a non-empty list")
        presets = [str(p) for p in presets_raw]
        if len(set(presets)) != len(presets):
            raise ConfigError(f"{_where(source, key + '.presets')} has duplicates")
        for p in presets:
            if p not in spec.presets:
                raise ConfigError(f"grid {source}: unknown {spec.name} preset {p!r} (choose from {', '.join(spec.presets)})")
        presets.sort(key=spec.preset_rank)  # fastest first
        e_crf = _num_list(ed["crf"], source, key + ".crf") if "crf" in ed else crf
        e_qp = _num_list(ed["qp"], source, key + ".qp") if "qp" in ed else qp
        if not e_crf and not e_qp:
            raise ConfigError(f"grid {source}: no crf or qp values for {spec.name}")
        for mode, vals in (("crf", e_crf), ("qp", e_qp)):
            lo, hi = spec.value_range[mode]
            for v in vals:
                if not (lo <= v <= hi):
                    raise ConfigError(f"grid {source}: {spec.name} {mode} {v:g} out of range [{lo:g}, {hi:g}]")
                if spec.integer_values and v != int(v):
                    raise ConfigError(f"grid {source}: {spec.name} {mode} values must be integers, got {v:g}")
        e_heights = _int_list(ed["heights"], source, key + ".heights", 16, 8640) if "heights" in ed else heights
        if not e_heights:
            raise ConfigError(f"grid {source}: no heights for {spec.name} (set heights = [...])")
        params = _params(ed.get("params", {}), source, key + ".params")
        variants = _variants(ed.get("variants", {}), spec, source, key + ".variants")
        out.append(EncoderGrid(encoder=spec.name, presets=tuple(presets), crf=e_crf, qp=e_qp,
                               heights=tuple(sorted(set(e_heights), reverse=True)), params=params,
                               variants=variants,
                               bit_depth=_bit_depth(ed.get("bit_depth", bit_depth), source, key + ".bit_depth")))
    return Grid(name=name, encoders=tuple(out), threads=threads, keyint=keyint, metric=metric,
                source=source if source != "<dict>" else "")


def resolve_grid_path(grid: str | os.PathLike) -> Path:
    """A grid file path, or a bundled name (``default``, ``sample``, ``test``)."""
    p = Path(os.fspath(grid)).expanduser()
    if p.is_file():
        return p
    name = os.fspath(grid)
    if os.sep not in name and "/" not in name:
        stem = name.removesuffix(".toml").removeprefix("grid-")
        cand = PRESET_DIR / f"grid-{stem}.toml"
        if cand.is_file():
            return cand
    if p.exists():
        raise ConfigError(f"grid {name} is not a file")
    bundled = sorted(x.stem.removeprefix("grid-") for x in PRESET_DIR.glob("grid-*.toml"))
    raise ConfigError(f"grid not found: {name} (a TOML path, or one of: {', '.join(bundled) or 'none bundled'})")


def load_grid(grid: "Grid | str | os.PathLike | Mapping[str, Any] | None" = None) -> Grid:
    """A :class:`Grid` from a Grid, a dict, a TOML path or a bundled name (default: ``default``)."""
    if isinstance(grid, Grid):
        return grid
    if isinstance(grid, Mapping):
        return parse_grid(grid)
    path = resolve_grid_path(DEFAULT_GRID if grid is None else grid)
    try:
        with open(path, "rb") as f:
            doc = tomllib.load(f)
    except tomllib.TOMLDecodeError as ex:
        raise ConfigError(f"malformed grid TOML {path}: {ex}") from None
    except OSError as ex:
        raise ConfigError(f"cannot read grid {path}: {ex.strerror or ex}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"grid {path} is not UTF-8 text") from None
    return parse_grid(doc, str(path))
