"""What every encoder module provides: a spec and pure argument builders.

An encoder module (``x264``, ``x265``, ``svtav1``) defines ``SPEC``, an
:class:`EncoderSpec` whose ``codec_args`` turns :class:`EncodeParams` into the
encoder's own ffmpeg options. :func:`encode_args` wraps them into a complete
ffmpeg argument list that reads a 4:2:0 Y4M intermediate (8 or 10 bits, as the
encode) and writes a raw elementary stream, so ``size_bytes`` is the bitstream alone. Everything
here is pure (no process is started) and tested without ffmpeg.
"""
from __future__ import annotations

import functools
import os
import re
import tempfile
from dataclasses import dataclass, field
from fractions import Fraction
from typing import TYPE_CHECKING, Callable, Mapping, Sequence

from ..errors import ConfigError

if TYPE_CHECKING:
    from ..media import HdrMetadata

RC_MODES = ("crf", "qp")
#: bits per sample -> the 4:2:0 pixel format of the Y4M intermediate and of the encode
PIX_FMTS = {8: "yuv420p", 10: "yuv420p10le"}


def pix_fmt(bit_depth: int) -> str:
    """The 4:2:0 pixel format of ``bit_depth`` bits per sample (8 or 10)."""
    try:
        return PIX_FMTS[int(bit_depth)]
    except (KeyError, TypeError, ValueError):
        raise ConfigError(f"bit depth must be {' or '.join(map(str, PIX_FMTS))}, got {bit_depth!r}") from None


def args_bit_depth(args: Sequence[str]) -> int:
    """The bit depth an encode command (ladder.json's ``ffmpeg_args``) asks for with ``-pix_fmt``
    (8 when it names none, or one pershot does not write)."""
    for i, a in enumerate(args[:-1]):
        if a == "-pix_fmt":
            return next((d for d, f in PIX_FMTS.items() if f == args[i + 1]), 8)
    return 8


@dataclass(frozen=True)
class EncodeParams:
    """One encode of one shot: everything that changes the bitstream."""

    encoder: str  #: registry name: x264, x265, svtav1
    preset: str
    rc_mode: str  #: "crf" or "qp" (constant quantizer)
    value: float  #: the CRF or QP
    width: int
    height: int
    fps: Fraction
    frames: int  #: frames in the shot
    threads: int = 1  #: fixed per encode so CPU time compares fairly
    keyint: int = 0  #: max GOP length in frames; 0 = the whole shot (one keyframe, at its start)
    extra: tuple[tuple[str, str], ...] = ()  #: encoder-specific key=value options from the grid
    #: the colour description the stream signals (``setparams`` pairs: see :func:`pershot.media.encode_colour`);
    #: empty: none (an untagged source)
    colour: tuple[tuple[str, str], ...] = ()
    bit_depth: int = 8  #: bits per sample: 8, or 10 (HEVC Main 10, AV1 10-bit, H.264 High 10)
    #: static HDR metadata the stream carries (mastering display, light levels), or None; used only
    #: at 10 bits (an 8-bit encode is never HDR: see :func:`pershot.media.check_sdr`)
    hdr: "HdrMetadata | None" = None

    def hdr_options(self, keys: "HdrKeys | None" = None) -> list[tuple[str, str]]:
        """The encoder options (named as ``keys`` say) that carry :attr:`hdr`, for a 10-bit encode that
        has it; ``[]`` otherwise."""
        return hdr_options(self.hdr, keys or HdrKeys()) if self.bit_depth >= 10 else []

    def gop(self) -> int:
        return max(1, self.frames if self.keyint <= 0 else self.keyint)


@dataclass(frozen=True)
class HdrKeys:
    """How an encoder takes static HDR metadata: its options flag, and its names for ST 2086 mastering
    display (``G(x,y)B(x,y)R(x,y)WP(x,y)L(max,min)``) and MaxCLL/MaxFALL."""

    params_flag: str = ""  #: the ffmpeg option that holds the encoder's own key=value list
    mastering: str = "master-display"
    light: str = "max-cll"
    float_figures: bool = False  #: chromaticity and luminance as plain figures, not ST 2086 integers


def hdr_options(hdr: "HdrMetadata | None", keys: HdrKeys) -> list[tuple[str, str]]:
    """(key, value) options that carry ``hdr`` with ``keys``' names: what it gives, nothing for None."""
    if hdr is None:
        return []
    out = []
    if hdr.mastering:
        out.append((keys.mastering, hdr.master_display_float() if keys.float_figures else hdr.master_display()))
    if hdr.light_level:
        out.append((keys.light, hdr.light_level))
    return out


@dataclass(frozen=True)
class EncoderSpec:
    name: str
    ffmpeg_name: str  #: the ffmpeg encoder (libx264...)
    presets: tuple[str, ...]  #: fastest first
    value_range: Mapping[str, tuple[float, float]]  #: rc_mode -> (min, max) allowed
    muxer: str  #: ffmpeg raw-stream muxer
    ext: str
    codec_args: Callable[[EncodeParams], list[str]] = field(repr=False)
    version_probe: Callable[[], str] = field(repr=False)
    integer_values: bool = False
    #: ffmpeg bitstream filters that ``codec_args`` uses
    bsfs: tuple[str, ...] = ()
    #: revision of ``codec_args``: bumped when a change alters the bitstream, so probe cache
    #: entries made with the old arguments are not reused (part of the cache key from 2 on)
    args_revision: int = 1
    #: how the encoder takes static HDR metadata (None: it cannot)
    hdr: HdrKeys | None = None

    def preset_rank(self, preset: str) -> int:
        """Speed rank in this encoder's full preset list (0 = fastest)."""
        try:
            return self.presets.index(str(preset))
        except ValueError:
            raise ConfigError(f"unknown {self.name} preset {preset!r} (choose from {', '.join(self.presets)})") from None

    def check(self, p: EncodeParams) -> None:
        """Raise ConfigError if ``p`` is not a valid encode for this encoder."""
        self.preset_rank(p.preset)
        if p.rc_mode not in self.value_range:
            raise ConfigError(f"{self.name} has no rate-control mode {p.rc_mode!r} (choose from {', '.join(self.value_range)})")
        lo, hi = self.value_range[p.rc_mode]
        if not (lo <= p.value <= hi):
            raise ConfigError(f"{self.name} {p.rc_mode} {p.value:g} out of range [{lo:g}, {hi:g}]")
        if self.integer_values and float(p.value) != int(p.value):
            raise ConfigError(f"{self.name} {p.rc_mode} must be an integer, got {p.value:g}")
        if p.width < 2 or p.height < 2 or p.width % 2 or p.height % 2:
            raise ConfigError(f"encode size must be even, got {p.width}x{p.height}")
        if p.threads < 1:
            raise ConfigError(f"threads must be >= 1, got {p.threads}")
        if p.frames < 1:
            raise ConfigError("an encode needs at least one frame")
        if p.bit_depth not in PIX_FMTS:
            raise ConfigError(f"bit depth must be {' or '.join(map(str, PIX_FMTS))}, got {p.bit_depth!r}")


def fmt_value(v: float) -> str:
    """A CRF/QP as ffmpeg wants it: no trailing .0."""
    return str(int(v)) if float(v) == int(v) else f"{float(v):g}"


def kv_params(items: Sequence[tuple[str, object]]) -> str:
    """``key=value:key=value`` for -x264-params and friends; rejects separators inside."""
    out = []
    for k, v in items:
        k, v = str(k), str(v)
        for s in (k, v):
            if any(ch in s for ch in ":=\n") or not s:
                raise ConfigError(f"bad encoder option {k}={v}: keys/values may not be empty or contain ':' '='")
        out.append(f"{k}={v}")
    return ":".join(out)


def encode_args(spec: EncoderSpec, p: EncodeParams, src: str | os.PathLike, dst: str | os.PathLike) -> list[str]:
    """Full ffmpeg argument list: Y4M intermediate in, raw elementary stream out."""
    from ..media import input_arg

    spec.check(p)
    return [*_y4m_input(p, src), "-c:v", spec.ffmpeg_name, *spec.codec_args(p), "-f", spec.muxer, input_arg(dst)]


def overhead_args(p: EncodeParams, src: str | os.PathLike) -> list[str]:
    """The encode's ffmpeg process without its encoder: the same start-up, Y4M reading and
    frame handling, then the frames are discarded (``-f null``). Its CPU time is what
    :func:`encode_args` costs on top of the encoder itself."""
    return [*_y4m_input(p, src), "-f", "null", "-"]


def _y4m_input(p: EncodeParams, src: str | os.PathLike) -> list[str]:
    from ..media import input_arg

    fps = Fraction(p.fps)
    return [
        "-y", "-v", "error",
        "-r", f"{fps.numerator}/{fps.denominator}",
        "-f", "yuv4mpegpipe", "-i", input_arg(src),
        "-an", "-sn", "-dn", "-map", "0:v:0",
        "-frames:v", str(p.frames),
        "-fps_mode", "passthrough",
        "-pix_fmt", pix_fmt(p.bit_depth),
        *colour_args(p.colour),
    ]


def colour_args(colour: Sequence[tuple[str, str]]) -> list[str]:
    """``-vf setparams=...``: frames tagged with the colour description, which the encoder then signals
    (H.264/HEVC VUI, AV1 sequence header). ffmpeg's ``-color_primaries``/``-color_trc`` output options are
    not enough: with ffmpeg 9 they did not reach the stream (the encoder follows the frames' tags), while
    ``setparams`` does, for x264, x265 and SVT-AV1 alike. ``[]`` when ``colour`` is empty."""
    from ..media import setparams_filter

    f = setparams_filter(colour)
    return ["-vf", f] if f else []


# ---------------------------------------------------------------- versions


def probe_encoder_stderr(ffmpeg_name: str, codec_args: Sequence[str], muxer: str, ext: str,
                         loglevel: str = "info") -> tuple[str, bytes]:
    """Encode two tiny frames; return (stderr, bitstream) for version parsing."""
    from .. import ffmpeg

    with tempfile.TemporaryDirectory(prefix="pershot-ver-") as d:
        out = os.path.join(d, "v" + ext)
        res = ffmpeg.run(["-y", "-v", loglevel, "-f", "lavfi", "-i", "testsrc2=size=64x64:rate=10", "-frames:v", "2",
                          "-pix_fmt", "yuv420p", "-c:v", ffmpeg_name, *codec_args, "-f", muxer, "file:" + out],
                         what=f"{ffmpeg_name} is not usable")
        with open(out, "rb") as f:
            data = f.read()
    return res.stderr, data


def search_version(pattern: str, text: str, default: str = "unknown") -> str:
    m = re.search(pattern, text)
    return m.group(1).strip() if m else default


@functools.lru_cache(maxsize=None)
def ffmpeg_version_key() -> str:
    from .. import ffmpeg

    return ffmpeg.ffmpeg_info().version
