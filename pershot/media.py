"""Source probing (PyAV) and frame-exact shot extraction (ffmpeg).

* :func:`probe_source` reads a video's facts into a frozen :class:`SourceInfo`:
  coded and displayed size (sample aspect ratio and rotation applied), average
  frame rate as a :class:`~fractions.Fraction`, exact frame count, VFR flag,
  pixel format, and a fast content hash for cache keys.
* :func:`frame_index` demuxes the video stream once (no decoding) and keeps
  every frame's presentation timestamp and keyframe flag, so a shot can be
  cut by *frame index*: seek to the keyframe at or before its first frame,
  then keep exactly the frames whose timestamps belong to it.
* :func:`extract_shot` decodes one shot once and writes it, trimmed, rotated
  as displayed and scaled, to raw 4:2:0 Y4M files (8 or 10 bits) that the encoders and
  the metrics read, so an encoder's CPU time is its own.

Timing policy (VFR): frames are passed through one to one (``-fps_mode
passthrough``): none is dropped or doubled. Encoders then see a constant rate
equal to the source's *average* rate; shot start/end times come from the
source's own timestamps (for a CFR source, ``frame / fps`` exactly).
"""
from __future__ import annotations

import dataclasses
import functools
import hashlib
import os
import re
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, Mapping, Sequence

from .errors import InputError, MediaError, ResourceError
from .geometry import classes_within, even, fit_size, size_class
from .encoders.base import pix_fmt

#: hashed in full below this size; above it, size + head + middle + tail
_HASH_FULL_LIMIT = 8 << 20
_HASH_CHUNK = 1 << 20


#: ISO/IEC 23091-2 (H.273) code points -> the names ffmpeg's ``setparams`` filter takes
_PRIMARIES = {1: "bt709", 4: "bt470m", 5: "bt470bg", 6: "smpte170m", 7: "smpte240m", 8: "film", 9: "bt2020",
              10: "smpte428", 11: "smpte431", 12: "smpte432", 22: "jedec-p22"}
_TRANSFERS = {1: "bt709", 4: "bt470m", 5: "bt470bg", 6: "smpte170m", 7: "smpte240m", 8: "linear", 9: "log100",
              10: "log316", 11: "iec61966-2-4", 12: "bt1361e", 13: "iec61966-2-1", 14: "bt2020-10", 15: "bt2020-12",
              16: "smpte2084", 17: "smpte428", 18: "arib-std-b67"}
_MATRICES = {0: "gbr", 1: "bt709", 4: "fcc", 5: "bt470bg", 6: "smpte170m", 7: "smpte240m", 8: "ycgco", 9: "bt2020nc",
             10: "bt2020c"}
_RANGES = {1: "tv", 2: "pc"}
#: transfers of HDR video (PQ, HLG): 8-bit encodes cannot carry them (10-bit ones can)
HDR_TRANSFERS = ("smpte2084", "arib-std-b67")
#: ffmpeg ``tonemap`` curves an HDR source can be mapped to SDR with (``--tonemap``), the default first:
#: mobius keeps what lies within SDR's range nearly as it was and rolls off what lies above; hable
#: darkens all of it (HLG and PQ copies of SDR frames came back 1.6 and 19.5 levels off on average)
TONEMAPS = ("mobius", "hable", "reinhard", "clip")
DEFAULT_TONEMAP = TONEMAPS[0]
#: the colour description of pershot's SDR output of a tone-mapped source
BT709 = (("color_primaries", "bt709"), ("color_trc", "bt709"), ("colorspace", "bt709"), ("range", "tv"))


def colour_description(primaries: int | None, trc: int | None, matrix: int | None, rng: int | None,
                       pix_fmt: str = "") -> tuple[tuple[str, str], ...]:
    """A stream's colour description as ``setparams`` pairs; unspecified or unknown values are left out.
    A ``yuvj*`` format is full range whatever its range field says."""
    out = []
    for key, table, v in (("color_primaries", _PRIMARIES, primaries), ("color_trc", _TRANSFERS, trc),
                          ("colorspace", _MATRICES, matrix)):
        name = table.get(int(v)) if v is not None else None
        if name:
            out.append((key, name))
    r = "pc" if pix_fmt.startswith("yuvj") else _RANGES.get(int(rng)) if rng is not None else None
    if r:
        out.append(("range", r))
    return tuple(out)


def encode_colour(info: "SourceInfo") -> tuple[tuple[str, str], ...]:
    """The colour description pershot's encodes carry: the source's primaries and transfer, its matrix,
    and limited range whenever the source states a range (full-range sources are converted to limited
    range when decoded, see :func:`extract_args`). An RGB source is converted to YUV with the BT.709
    matrix, in limited range, and says so. Empty for a YUV source that specifies nothing, whose encodes
    stay untagged. A tone-mapped HDR source gives BT.709 throughout."""
    if info.tonemap:
        return BT709
    if info.rgb:
        keep = [(k, v) for k, v in info.colour if k in ("color_primaries", "color_trc")]
        return (*keep, ("colorspace", "bt709"), ("range", "tv"))
    return tuple((k, "tv") if k == "range" else (k, v) for k, v in info.colour)


def encode_hdr(info: "SourceInfo") -> "HdrMetadata | None":
    """The static HDR metadata pershot's encodes of ``info`` carry: its own, for an HDR source that is
    not tone-mapped (the encoders write it only at 10 bits); else None."""
    return info.hdr_metadata if info.hdr_kept else None


def setparams_filter(colour: Sequence[tuple[str, str]]) -> str:
    """``setparams=...`` that tags frames with ``colour`` ("" when it is empty)."""
    return "setparams=" + ":".join(f"{k}={v}" for k, v in colour) if colour else ""


def _is_rgb(pix_fmt: str) -> bool:
    import av

    try:
        return bool(av.VideoFormat(pix_fmt).is_rgb) or pix_fmt == "pal8" if pix_fmt else False
    except (ValueError, TypeError):
        return False


def check_filters(info: "SourceInfo") -> None:
    """Raise ConfigError when this ffmpeg lacks a filter the source needs (deinterlacing, tone mapping,
    colour tags, crop): one clear error before any work instead of one failed probe after another."""
    from . import ffmpeg
    from .errors import ConfigError

    need = (["bwdif"] if info.interlaced else []) + (["zscale", "tonemap"] if info.tonemap else []) + (
        ["setparams"] if info.colour or info.rgb else []) + (["crop"] if info.crop else [])
    lacking = [f for f in need if not ffmpeg.has_filter(f)]
    if lacking:
        raise ConfigError(f"this ffmpeg has no {', '.join(lacking)} filter (needed by {Path(info.path).name}); "
                          "use another with --ffmpeg")


def check_source(info: "SourceInfo", bit_depths: Sequence[int] = (8,)) -> None:
    """Everything a source must pass before pershot decodes it for encodes of ``bit_depths``: SDR,
    set to be tone-mapped, or encoded at 10 bits (:func:`check_sdr`), and the filters it needs in this
    ffmpeg (:func:`check_filters`)."""
    check_sdr(info, bit_depths)
    check_filters(info)


def check_sdr(info: "SourceInfo", bit_depths: Sequence[int] = (8,)) -> None:
    """Raise MediaError for an HDR source (PQ or HLG transfer) that encodes of ``bit_depths`` would
    spoil: one not set to be tone-mapped (:func:`with_tonemap`) with any 8-bit encode. An 8-bit PQ or
    HLG ladder bands visibly, so its probes and renditions would be wrong, not just worse. At 10 bits
    an HDR source makes an HDR ladder: the encodes carry its transfer, primaries and mastering
    metadata."""
    if info.hdr_kept and min(bit_depths, default=8) < 10:
        raise MediaError(f"{Path(info.path).name} is HDR video ({info.hdr_transfer} transfer): 8-bit encodes "
                         "cannot carry it; give --bit-depth 10 for an HDR ladder, or --tonemap for an SDR one")


def with_tonemap(info: "SourceInfo", curve: str | None) -> "SourceInfo":
    """``info`` set to be tone-mapped to SDR BT.709 with ``curve`` (one of :data:`TONEMAPS`) when it is
    HDR; an SDR source, or ``curve`` None/"", is returned as it is."""
    if not curve:
        return info
    if curve not in TONEMAPS:
        raise InputError(f"unknown tone-mapping curve {curve!r} (choose from {', '.join(TONEMAPS)})")
    return dataclasses.replace(info, tonemap=curve) if info.hdr_transfer else info


#: how an interlaced source is deinterlaced (``--deinterlace``), the default first: ``frame`` = one progressive
#: frame per interlaced frame (30i to 30p: the frame count and rate are the source's); ``field`` = one per field
#: (30i to 60p, as Apple's HLS authoring spec recommends: motion stays as fluid as it was shot, at about
#: twice the encode work); a progressive source is not touched by either
DEINTERLACE_MODES = ("frame", "field")


def with_deinterlace(info: "SourceInfo", mode: str | None) -> "SourceInfo":
    """``info`` set to be deinterlaced one frame per field (``mode`` ``"field"``) when it is interlaced: its
    frames, as every stage counts them, are then the fields (twice the count, twice the rate, the same
    duration). ``"frame"``, None or "" (the default: one frame per frame), or a progressive source, are
    returned as they are."""
    if not mode:
        return info
    if mode not in DEINTERLACE_MODES:
        raise InputError(f"unknown deinterlacing mode {mode!r} (choose from {', '.join(DEINTERLACE_MODES)})")
    if mode == "frame" or not info.interlaced or info.field_rate:
        return info
    return dataclasses.replace(info, fps=info.fps * 2, frame_count=info.frame_count * 2, field_rate=True)


def deinterlace_mode(info: "SourceInfo") -> str | None:
    """How ``info``'s frames are deinterlaced: ``"field"``, ``"frame"``, or None for a progressive source."""
    return ("field" if info.field_rate else "frame") if info.interlaced else None


def by_frame(info: "SourceInfo") -> "SourceInfo":
    """``info`` counted by the source's own frames: a source deinterlaced by field (:func:`with_deinterlace`)
    as it is coded, one frame per interlaced frame; any other as it is."""
    if not info.field_rate:
        return info
    return dataclasses.replace(info, fps=info.fps / 2, frame_count=info.frame_count // 2, field_rate=False)


def tonemap_filters(info: "SourceInfo", bit_depth: int = 8) -> list[str]:
    """HDR -> SDR BT.709 limited range for a source set to be tone-mapped (else ``[]``): linear light
    (100 nits nominal peak), BT.709 primaries, ffmpeg's ``tonemap`` curve, BT.709 transfer and matrix.
    The frames are first told what they are (the source's description, BT.2020 where it says
    nothing), so the conversion does not depend on what the decoder happened to set."""
    if not info.tonemap:
        return []
    desc = {"color_primaries": "bt2020", "colorspace": "bt2020nc", "range": "tv", **dict(info.colour)}
    peak = tonemap_peak(info)
    scale = 1 << (bit_depth - 8)
    return [setparams_filter(tuple(desc.items())), "zscale=transfer=linear:npl=100", "format=gbrpf32le",
            "zscale=primaries=bt709", f"tonemap=tonemap={info.tonemap}:desat=0" + (f":peak={peak:g}" if peak else ""),
            "zscale=transfer=bt709:matrix=bt709:range=limited", f"format={pix_fmt(bit_depth)}",
            # luma within the range the stream signals: what the curve leaves above 1.0 would be super-white
            f"limiter=min={16 * scale}:max={235 * scale}:planes=1"]


def tonemap_peak(info: "SourceInfo") -> float | None:
    """The peak a PQ source's tone map maps to SDR white, in units of 100 cd/m2 (ffmpeg ``tonemap``'s
    ``peak``): its MaxCLL, else its mastering display's maximum luminance; None (ffmpeg's own 1,000 cd/m2)
    where it says neither or is HLG (relative to its display). The linear light ``zscale`` passes on
    carries no metadata, so without it every PQ source was mapped as if it peaked at 1,000 cd/m2:
    highlights of a 4,000-nit grade clipped."""
    meta = info.hdr_metadata
    if info.hdr_transfer != "smpte2084" or meta is None:
        return None
    nits = meta.max_cll or (meta.luminance[1] if meta.luminance else None)
    return round(float(nits) / 100, 2) if nits and nits > 100 else None


@dataclass(frozen=True)
class HdrMetadata:
    """Static HDR metadata of a source (SMPTE ST 2086 mastering display, CTA-861.3 content light level),
    which an HDR ladder's encodes carry on (x265 ``master-display``/``max-cll``, SVT-AV1
    ``mastering-display``/``content-light``, x264 ``mastering-display``/``cll``)."""

    #: CIE 1931 x, y of the mastering display's red, green, blue primaries and white point
    #: (rx, ry, gx, gy, bx, by, wx, wy); None: not given
    primaries: tuple[float, ...] | None = None
    #: the mastering display's (min, max) luminance in cd/m2; None: not given
    luminance: tuple[float, float] | None = None
    max_cll: int | None = None  #: maximum content light level, cd/m2
    max_fall: int | None = None  #: maximum frame-average light level, cd/m2

    @property
    def mastering(self) -> bool:
        """Both halves of ST 2086 are given (encoders take them only together)."""
        return self.primaries is not None and self.luminance is not None

    def master_display(self) -> str:
        """``G(x,y)B(x,y)R(x,y)WP(x,y)L(max,min)`` in ST 2086's units (0.00002 for chromaticity,
        0.0001 cd/m2 for luminance), as x265 and x264 take it."""
        rx, ry, gx, gy, bx, by, wx, wy = (round(v * 50000) for v in self.primaries or ())
        lo, hi = (round(v * 10000) for v in self.luminance or ())
        return f"G({gx},{gy})B({bx},{by})R({rx},{ry})WP({wx},{wy})L({hi},{lo})"

    def master_display_float(self) -> str:
        """The same in plain figures (chromaticity 0-1, luminance in cd/m2), as SVT-AV1 takes it."""
        rx, ry, gx, gy, bx, by, wx, wy = self.primaries or ()
        lo, hi = self.luminance or ()
        return (f"G({gx:.5f},{gy:.5f})B({bx:.5f},{by:.5f})R({rx:.5f},{ry:.5f})WP({wx:.5f},{wy:.5f})"
                f"L({hi:.4f},{lo:.4f})")

    def or_none(self) -> "HdrMetadata | None":
        """Itself where it gives what an encoder can carry (both halves of ST 2086, or MaxCLL), else None."""
        return self if self.mastering or self.max_cll is not None else None

    @property
    def light_level(self) -> str:
        """``MaxCLL,MaxFALL`` ("" when not given)."""
        return f"{self.max_cll},{self.max_fall or 0}" if self.max_cll is not None else ""

    def as_dict(self) -> dict:
        return {"primaries": list(self.primaries) if self.primaries else None,
                "luminance": list(self.luminance) if self.luminance else None,
                "max_cll": self.max_cll, "max_fall": self.max_fall}

    @classmethod
    def from_dict(cls, d: Any) -> "HdrMetadata | None":
        """From :meth:`as_dict` (ladder.json's ``source.hdr_metadata``); None for anything else."""
        if not isinstance(d, Mapping):
            return None
        try:
            prim = tuple(float(v) for v in d["primaries"]) if d.get("primaries") else None
            lum = tuple(float(v) for v in d["luminance"]) if d.get("luminance") else None
            cll = int(d["max_cll"]) if d.get("max_cll") is not None else None
            fall = int(d["max_fall"]) if d.get("max_fall") is not None else None
        except (TypeError, ValueError, KeyError):
            return None
        if (prim is not None and len(prim) != 8) or (lum is not None and len(lum) != 2):
            return None
        return cls(primaries=prim, luminance=lum, max_cll=cll, max_fall=fall).or_none()  # type: ignore[arg-type]


def hdr_metadata_from_side_data(mastering: bytes | None, light: bytes | None) -> HdrMetadata | None:
    """:class:`HdrMetadata` from a decoded frame's side data: ffmpeg's ``AVMasteringDisplayMetadata``
    (10 rationals: r, g, b primaries and white point as x/y pairs, then min and max luminance;
    then has_primaries and has_luminance) and ``AVContentLightMetadata`` (MaxCLL, MaxFALL).
    None when neither says anything."""
    import struct

    prim = lum = None
    if mastering and len(mastering) >= 88:
        v = struct.unpack("<20i2i", mastering[:88])
        rat = [v[2 * i] / v[2 * i + 1] if v[2 * i + 1] else 0.0 for i in range(10)]
        if v[20]:
            prim = tuple(round(x, 5) for x in rat[:8])
        if v[21] and rat[9] > 0:
            lum = (round(rat[8], 4), round(rat[9], 4))
    cll = fall = None
    if light and len(light) >= 8:
        c, f = struct.unpack("<2I", light[:8])
        if c or f:
            cll, fall = int(c), int(f)
    return HdrMetadata(primaries=prim, luminance=lum, max_cll=cll, max_fall=fall).or_none()


@dataclass(frozen=True)
class SourceInfo:
    """What pershot knows about a source video (its main video stream: see ``_video_stream``)."""

    path: str
    width: int  #: coded width
    height: int  #: coded height
    display_width: int  #: width as displayed (sample aspect ratio and rotation applied)
    display_height: int
    display_aspect: Fraction
    rotation: int  #: display rotation in degrees, one of 0/90/180/270 (counter-clockwise, as ffmpeg reports it)
    fps: Fraction  #: average frame rate
    frame_count: int
    duration_s: float
    pix_fmt: str
    bit_depth: int
    is_vfr: bool
    codec: str
    content_hash: str
    #: the video stream asked for (its index in the file, as ffprobe and ``-map 0:N`` count);
    #: None: the one ffmpeg's ``av_find_best_stream`` picks (see ``_video_stream``)
    stream: int | None = None
    #: the source's colour description, as ffmpeg's ``setparams`` names it: ``(key, value)`` pairs among
    #: color_primaries, color_trc, colorspace, range; only what the stream specifies (see :func:`encode_colour`)
    colour: tuple[tuple[str, str], ...] = ()
    #: the stream signals interlaced coding (its field order, or its first frame): every frame pershot
    #: decodes is deinterlaced first (see :func:`extract_args`)
    interlaced: bool = False
    #: an interlaced source shown one frame per field (see :func:`with_deinterlace`): ``fps`` and
    #: ``frame_count`` above count the fields, and so do shots, probes and renditions
    field_rate: bool = False
    #: the ``tonemap`` curve an HDR source is mapped to SDR with ("" = none; see :func:`with_tonemap`)
    tonemap: str = ""
    #: (width, height, x, y) cut from every frame as displayed (rotation applied, before any scaling),
    #: such as a letterbox's black bars; the display size and aspect above are then the cut picture's
    #: (see :func:`with_crop`). None: the whole picture
    crop: tuple[int, int, int, int] | None = None
    #: static HDR metadata (mastering display, light levels) of the first frame, or None
    hdr_metadata: HdrMetadata | None = None

    @property
    def full_range(self) -> bool:
        return dict(self.colour).get("range") == "pc"

    @property
    def rgb(self) -> bool:
        """Decoded as RGB (PNG, QuickTime Animation, RGB ProRes 4444...): pershot converts it to YUV itself."""
        return _is_rgb(self.pix_fmt)

    @property
    def hdr_transfer(self) -> str | None:
        """The source's transfer when it is an HDR one (PQ, HLG), else None."""
        trc = dict(self.colour).get("color_trc")
        return trc if trc in HDR_TRANSFERS else None

    @property
    def hdr_kept(self) -> str | None:
        """The HDR transfer pershot's encodes keep: the source's, unless it is set to be tone-mapped; else None."""
        return None if self.tonemap else self.hdr_transfer


@dataclass(frozen=True)
class FrameIndex:
    """Presentation timestamps and keyframe flags of every frame, in display order."""

    stream_index: int
    time_base: Fraction
    pts: tuple[int, ...]
    keyframe: tuple[bool, ...]
    last_duration: int  #: duration of the last frame, in time_base ticks
    #: False when the packet timestamps cannot be the decoder's presentation times (AVI with
    #: B-frames, yet timestamps that never go back in decode order: guessed by ffmpeg);
    #: shots of such a source are then cut by frame count, decoding from the start
    pts_exact: bool = True
    #: False when the chosen stream is not the file's first video stream (which is what
    #: tools that always read "video stream 0", such as PySceneDetect, would read instead)
    first_video: bool = True
    #: 2: each entry is one field of the source's frames (see :func:`shown_index`): entry 2k is frame k's
    #: first field, at twice frame k's timestamp in half the time base
    fields: int = 1

    def __len__(self) -> int:
        return len(self.pts)

    def keyframe_at_or_before(self, frame: int) -> int:
        """Index of the last keyframe at or before ``frame`` (0 when none is flagged)."""
        for i in range(min(frame, len(self.pts) - 1), -1, -1):
            if self.keyframe[i]:
                return i
        return 0


# ---------------------------------------------------------------- hashing


def content_hash(path: str | os.PathLike) -> str:
    """A fast content hash: sha256 of the whole file when small, else of size + head + middle + tail."""
    p = Path(path)
    size = p.stat().st_size
    h = hashlib.sha256()
    h.update(b"pershot-content-v1\0")
    h.update(str(size).encode())
    with open(p, "rb") as f:
        if size <= _HASH_FULL_LIMIT:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        else:
            for off in (0, size // 2 - _HASH_CHUNK // 2, size - _HASH_CHUNK):
                f.seek(off)
                h.update(f.read(_HASH_CHUNK))
    return h.hexdigest()


# ---------------------------------------------------------------- probing


def _check_path(path: str | os.PathLike) -> Path:
    p = Path(os.fspath(path))
    if not p.exists():
        raise InputError(f"input not found: {os.fspath(path)}")
    if p.is_dir():
        raise InputError(f"input is a directory, not a video: {os.fspath(path)}")
    if not os.access(p, os.R_OK):
        raise InputError(f"input is not readable: {os.fspath(path)}")
    if p.stat().st_size == 0:
        raise MediaError(f"input is empty: {os.fspath(path)}")
    return p.resolve()


@functools.lru_cache(maxsize=1)
def _quiet_libav() -> None:
    """Keep the in-process decoders' warnings (``[h264 @ 0x...] non-existing PPS``, printed
    by libav's default log callback for corrupt or mid-GOP input) off stderr: pershot reports
    what matters as its own errors. ``PERSHOT_LIBAV_LOG=1`` leaves libav's logging as it is."""
    if os.environ.get("PERSHOT_LIBAV_LOG", "").strip() not in ("", "0"):
        return
    import av.logging

    av.logging.set_libav_level(av.logging.FATAL)


def _open(p: Path):
    import av

    _quiet_libav()
    try:
        return av.open(str(p), mode="r")
    except av.error.FFmpegError as ex:
        raise MediaError(f"not a readable video (corrupt, truncated or not media): {p.name}") from ex
    except (OSError, ValueError, UnicodeDecodeError) as ex:
        raise MediaError(f"cannot open {p.name}: {ex}") from ex


#: AV_DISPOSITION_ATTACHED_PIC: a still picture (cover art) stored as a one-frame video stream
_ATTACHED_PIC = 0x400


def _is_attached_pic(stream) -> bool:
    # PyAV's Disposition is an IntFlag (its str() is a number under Python 3.11+): test the bit
    try:
        return bool(int(stream.disposition or 0) & _ATTACHED_PIC)
    except (TypeError, ValueError):
        return "attached_pic" in str(stream.disposition).lower()


#: demuxers that render text files (ANSI/ASCII art: .txt, .nfo, .ans...) as a video
_TEXT_FORMATS = {"tty", "bin", "xbin", "adf", "idf"}


def _video_stream(container, name: str, stream: int | None = None):
    """Stream ``stream`` (its index in the file) when asked for; else the video stream ffmpeg's
    ``av_find_best_stream`` picks, unless that is an attached picture (cover art), else the
    first video stream that is not one. A poster stored as a one-frame video track before the
    film (Matroska, NUT) is not chosen over the film."""
    fmt = str(getattr(container.format, "name", "") or "")
    if set(fmt.split(",")) & _TEXT_FORMATS:
        raise MediaError(f"not a video: {name} is text (ffmpeg's {fmt} demuxer would draw it as ANSI art)")
    all_video = list(container.streams.video)
    streams = [s for s in all_video if not _is_attached_pic(s)]
    if stream is not None:
        usable = ", ".join(str(int(s.index)) for s in streams) or "none"
        found = [s for s in container.streams if int(s.index) == stream]
        if not found:
            raise InputError(f"{name} has no stream {stream} (its video streams: {usable})")
        s = found[0]
        if s.type != "video":
            raise InputError(f"stream {stream} of {name} is {s.type}, not video (its video streams: {usable})")
        if _is_attached_pic(s):
            raise InputError(f"stream {stream} of {name} is cover art, not video (its video streams: {usable})")
        return s
    if not streams:
        what = " (only cover art)" if all_video else ""
        raise MediaError(f"no video stream in {name}{what}")
    try:
        best = container.streams.best("video")
    except Exception:  # noqa: BLE001 - an older PyAV without best(): keep the first
        best = None
    if best is not None and any(best.index == x.index for x in streams):
        return next(x for x in streams if x.index == best.index)
    return streams[0]


def _norm_rotation(deg: float | int | None) -> int:
    if not deg:
        return 0
    r = int(round(float(deg) / 90.0)) * 90 % 360
    return r


_TAG_DURATION = re.compile(r"^(\d+):(\d\d):(\d\d(?:\.\d+)?)$")


def _tag_duration_s(metadata) -> float | None:
    """A stream's own duration from its ``DURATION`` tag (Matroska/WebM, written when the file is
    finished by ffmpeg and mkvmerge), or None."""
    for k, v in dict(metadata or {}).items():
        if k.upper() == "DURATION":
            m = _TAG_DURATION.match(str(v).strip())
            if m:
                return int(m.group(1)) * 3600 + int(m.group(2)) * 60 + float(m.group(3))
    return None


#: containers that store decode times only: with B-frames, ffmpeg guesses the presentation times
#: (MP4, Matroska, MPEG-TS... store them: a stream there without B-frames is not suspect)
_DECODE_TIME_ONLY_FORMATS = {"avi"}


@functools.lru_cache(maxsize=32)
def _index_cached(path: str, size: int, mtime_ns: int, stream: int | None = None) -> FrameIndex:
    import av

    p = Path(path)
    with _open(p) as c:
        s = _video_stream(c, p.name, stream)
        stream_index = int(s.index)  # read while the container is open (after close it is freed memory)
        first_video = stream_index == int(c.streams.video[0].index)
        tb = Fraction(s.time_base.numerator, s.time_base.denominator) if s.time_base else Fraction(1, 90000)
        declared = int(s.frames or 0)
        declared_ticks = int(s.duration) if s.duration and s.duration > 0 else None
        declared_s = _tag_duration_s(s.metadata)
        rows: list[tuple[int, bool, int, int | None]] = []  # pts, keyframe, duration, dts
        reorders = bool(getattr(s.codec_context, "has_b_frames", False))
        decode_times_only = bool(set(str(c.format.name).split(",")) & _DECODE_TIME_ONLY_FORMATS)
        n_nopts = 0
        n_packets = 0
        key_row: int | None = None  # rows (shown frames) demuxed before the first keyframe
        key_ts: int | None = None
        try:
            for pkt in c.demux(s):
                if pkt.size == 0:
                    continue  # flush packet
                n_packets += 1
                if key_row is None and pkt.is_keyframe:
                    key_row = len(rows)
                    key_ts = pkt.pts if pkt.pts is not None else pkt.dts
                if getattr(pkt, "is_discard", False):
                    continue  # hidden by an edit list: decoded for reference, never shown
                pts = pkt.pts
                if pts is None:
                    pts = pkt.dts
                if pts is None:
                    n_nopts += 1
                    continue
                rows.append((int(pts), bool(pkt.is_keyframe), int(pkt.duration or 0),
                             None if pkt.dts is None else int(pkt.dts)))
        except av.error.FFmpegError as ex:
            raise MediaError(f"corrupt or truncated video (demuxing failed after {len(rows)} frames): {p.name}") from ex
    if n_nopts and not rows:
        raise MediaError(f"video stream has no timestamps (a raw elementary stream?): {p.name}; "
                         "remux it first, e.g. ffmpeg -i IN -c copy OUT.mp4")
    if n_nopts:
        raise MediaError(f"{n_nopts} video packets without timestamps, cannot index frames exactly: {p.name}")
    if not rows:
        raise MediaError(f"video stream has no frames: {p.name}")
    decode_order = [r[0] for r in rows]
    pts_exact = not (decode_times_only and reorders and len(rows) >= 3
                     and all(a < b for a, b in zip(decode_order, decode_order[1:])))
    if key_row:
        # a stream cut mid-GOP (a broadcast capture): frames before its first keyframe, and the
        # leading pictures that display before that keyframe, reference frames that are not in
        # the file; no decoder outputs them, so they are not frames of this source
        rows = [r for r in rows[key_row:] if not (pts_exact and key_ts is not None and r[0] < key_ts)]
        if not rows:
            raise MediaError(f"video stream has no decodable frames: {p.name}")
    if not pts_exact and all(r[3] is not None for r in rows):
        # guessed timestamps (AVI stores decode times only, ffmpeg's guesses drift): the decode
        # times, which the frames follow one to one, time the frames in display order
        rows = [(r[3], r[1], r[2], r[3]) for r in rows]
    rows.sort(key=lambda r: r[0])
    pts = tuple(r[0] for r in rows)
    if len(set(pts)) != len(pts):
        raise MediaError(f"duplicate frame timestamps, cannot index frames exactly: {p.name}")
    deltas = [b - a for a, b in zip(pts, pts[1:])]
    median = sorted(deltas)[len(deltas) // 2] if deltas else 0
    last = rows[-1][2]
    if not last or (deltas and 2 * last < min(deltas)):
        # none stored, or a placeholder (AVI gives every packet 1 tick, even in a 1/600 time base)
        last = median or last or 1
    # the declared frame count (AVI: the stream's length in time-base ticks, not frames) counts
    # only where the frames also fall short of the declared duration
    if declared and n_packets < declared and (
            declared_ticks is None or pts[-1] - pts[0] + last + max(median, 1) <= declared_ticks):
        raise MediaError(f"truncated video: {n_packets} of {declared} frames present in {p.name}")
    if declared_s is not None:
        frame_s = float(last * tb)
        span_s = float((pts[-1] - pts[0] + last) * tb)
        # Matroska's DURATION tag, as ffmpeg writes it, is where the stream ends, not how long it lasts:
        # a stream that starts late (a broadcast capture's timestamps) falls short of neither
        end_s = float((pts[-1] + last) * tb)
        if min(declared_s - span_s, declared_s - end_s) > max(3 * frame_s, 0.02 * declared_s):
            raise MediaError(f"truncated video: its frames cover {span_s:.3f} s of the {declared_s:.3f} s "
                             f"its header declares: {p.name}")
    return FrameIndex(
        stream_index=stream_index,
        time_base=tb,
        pts=pts,
        keyframe=tuple(r[1] for r in rows),
        last_duration=max(int(last), 1),
        pts_exact=pts_exact,
        first_video=first_video,
    )


def frame_index(path: str | os.PathLike, stream: int | None = None) -> FrameIndex:
    """Demux the video stream (``stream``, else the automatic choice; no decoding) and index its
    frames in display order."""
    p = _check_path(path)
    st = p.stat()
    return _index_cached(str(p), st.st_size, st.st_mtime_ns, stream)


def shown_index(info: SourceInfo) -> FrameIndex:
    """The index of the frames pershot counts for ``info``: :func:`frame_index`'s, or, for a source
    deinterlaced one frame per field, one entry per field (see :attr:`FrameIndex.fields`)."""
    idx = frame_index(info.path, info.stream)
    return _by_field(idx) if info.field_rate else idx


@functools.lru_cache(maxsize=8)
def _by_field(idx: FrameIndex) -> FrameIndex:
    ends = (*idx.pts[1:], idx.pts[-1] + idx.last_duration)
    pts = tuple(t for a, b in zip(idx.pts, ends) for t in (2 * a, a + b))
    keys = tuple(k for key in idx.keyframe for k in (key, False))
    return dataclasses.replace(idx, time_base=idx.time_base / 2, pts=pts, keyframe=keys,
                               last_duration=idx.last_duration, fields=2)


def _is_vfr(pts: Sequence[int]) -> bool:
    if len(pts) < 3:
        return False
    deltas = sorted(b - a for a, b in zip(pts, pts[1:]))
    med = deltas[len(deltas) // 2]
    tol = max(1, 0.05 * med)
    return (med - deltas[0]) > tol or (deltas[-1] - med) > tol


def probe_source(path: str | os.PathLike, stream: int | None = None) -> SourceInfo:
    """Read a video's facts with PyAV (raises InputError / MediaError with a one-line message).

    ``stream``: the index in the file of the video stream to use (None: the automatic choice)."""
    import av

    if stream is not None and (isinstance(stream, bool) or not isinstance(stream, int) or stream < 0):
        raise InputError(f"stream must be a non-negative stream index, not {stream!r}")
    p = _check_path(path)
    idx = frame_index(p, stream)
    with _open(p) as c:
        s = _video_stream(c, p.name, stream)
        cc = s.codec_context
        codec = cc.name if cc is not None else "unknown"
        width, height = int(cc.width or 0), int(cc.height or 0)
        pix_fmt = cc.pix_fmt or ""
        s.thread_type = "SLICE"
        # decode the first frame: proves the stream is decodable, gives rotation and final pix_fmt
        first = None
        try:
            for frame in c.decode(s):
                first = frame
                break
        except av.error.FFmpegError as ex:
            raise MediaError(f"video stream cannot be decoded (corrupt?): {p.name}: {ex}") from ex
        if first is None:
            raise MediaError(f"no decodable video frame in {p.name}")
        width = int(first.width or width)
        height = int(first.height or height)
        pix_fmt = first.format.name if first.format is not None else pix_fmt
        rotation = _norm_rotation(getattr(first, "rotation", 0))
        # the decoded frame's description first (the bitstream's), then the stream's (the container's)
        # AVFieldOrder: 0 unknown, 1 progressive, 2-5 interlaced (field coding/display orders)
        interlaced = bool(getattr(first, "interlaced_frame", False)) or int(getattr(cc, "field_order", 0) or 0) >= 2
        colour = colour_description(
            *(_first_set((getattr(first, a, None), getattr(cc, a, None)), unset=(0, 2))
              for a in ("color_primaries", "color_trc", "colorspace")),
            _first_set((getattr(first, "color_range", None), getattr(cc, "color_range", None)), unset=(0,)),
            pix_fmt=pix_fmt)
        hdr_metadata = _hdr_metadata(first)
        sar_raw = s.sample_aspect_ratio or cc.sample_aspect_ratio
        avg = s.average_rate
    if width <= 0 or height <= 0:
        raise MediaError(f"video stream has no frame size: {p.name}")
    try:
        bit_depth = int(av.VideoFormat(pix_fmt).components[0].bits) if pix_fmt else 8
    except (ValueError, IndexError, TypeError):
        bit_depth = 8
    sar = Fraction(sar_raw.numerator, sar_raw.denominator) if sar_raw and sar_raw.numerator > 0 else Fraction(1)
    # displayed size before rotation: the sample aspect ratio stretches the width
    pre_w = width if sar == 1 else max(2, int(round(width * sar)))
    aspect = Fraction(width, height) * sar
    if rotation in (90, 270):
        display_width, display_height, aspect = height, pre_w, 1 / aspect
    else:
        display_width, display_height = pre_w, height

    n = len(idx)
    vfr = _is_vfr(idx.pts)
    span_ticks = idx.pts[-1] - idx.pts[0] + idx.last_duration
    span_s = float(span_ticks * idx.time_base)
    fps: Fraction | None = None
    if avg is not None and avg.numerator > 0 and not vfr:
        fps = Fraction(avg.numerator, avg.denominator)
        if span_s > 0 and abs(float(fps) * span_s - n) > max(1.5, 0.02 * n):
            fps = None  # container's average disagrees with the timestamps
    if fps is None:
        fps = Fraction(n, 1) / Fraction(span_ticks) / idx.time_base if span_ticks > 0 else Fraction(25)
        fps = fps.limit_denominator(1001)
    duration = span_s if vfr else float(n / fps)
    return SourceInfo(
        path=str(p),
        width=width,
        height=height,
        display_width=display_width,
        display_height=display_height,
        display_aspect=aspect,
        rotation=rotation,
        fps=fps,
        frame_count=n,
        duration_s=duration,
        pix_fmt=pix_fmt,
        bit_depth=bit_depth,
        is_vfr=vfr,
        codec=codec,
        content_hash=content_hash(p),
        stream=stream,
        colour=colour,
        interlaced=interlaced,
        hdr_metadata=hdr_metadata,
    )


def _hdr_metadata(frame: Any) -> HdrMetadata | None:
    """The static HDR metadata a decoded frame carries as side data (None when it has none)."""
    found: dict[str, bytes] = {}
    try:
        for sd in frame.side_data:
            name = getattr(getattr(sd, "type", None), "name", str(getattr(sd, "type", "")))
            if name in ("MASTERING_DISPLAY_METADATA", "CONTENT_LIGHT_LEVEL"):
                found[name] = bytes(sd)
    except (AttributeError, TypeError, ValueError):
        return None
    return hdr_metadata_from_side_data(found.get("MASTERING_DISPLAY_METADATA"), found.get("CONTENT_LIGHT_LEVEL"))


def _first_set(values, unset: tuple[int, ...]) -> int | None:
    """The first of ``values`` that is set (not None and not one of the ``unset`` codes)."""
    for v in values:
        try:
            if v is not None and int(v) not in unset:
                return int(v)
        except (TypeError, ValueError):
            continue
    return None


def frame_times(info: SourceInfo, idx: FrameIndex | None = None) -> list[float]:
    """Start time of each frame (seconds from the first frame), plus the end time of the last one.

    CFR: ``i / fps`` exactly; VFR: the source's own timestamps (``idx``: :func:`shown_index`'s).
    """
    if not info.is_vfr:
        return [float(Fraction(i) / info.fps) for i in range(info.frame_count + 1)]
    idx = idx or shown_index(info)
    t0 = idx.pts[0]
    out = [float((p - t0) * idx.time_base) for p in idx.pts]
    out.append(float((idx.pts[-1] - t0 + idx.last_duration) * idx.time_base))
    return out


def timing_drift_s(info: SourceInfo, idx: FrameIndex | None = None) -> float:
    """How far (seconds) a frame's own time strays from even spacing at the average rate, at worst:
    what a constant-rate rendition of a VFR source shifts a frame by against its audio (0 for CFR)."""
    if not info.is_vfr:
        return 0.0
    idx = idx or shown_index(info)
    t0 = idx.pts[0]
    return max(abs(float((p - t0) * idx.time_base) - i / float(info.fps)) for i, p in enumerate(idx.pts))


# ---------------------------------------------------------------- geometry


def target_size(info: SourceInfo, height: int) -> tuple[int, int]:
    """Encode size of a given picture height: display aspect kept, even width and height."""
    h = max(2, int(height) // 2 * 2)
    return even(h * info.display_aspect), h


def source_class(info: SourceInfo) -> int:
    """The source's own resolution class (its p number, see :mod:`pershot.geometry`)."""
    return size_class(info.display_width, info.display_height)


def class_size(info: SourceInfo, p: int) -> tuple[int, int]:
    """Encode size of resolution class ``p`` ("720p") for this source: its display aspect in the
    class's 16:9 box turned to its orientation, even sides, never above its displayed size."""
    return fit_size(info.display_aspect, p, (info.display_width, info.display_height))


def resolutions_for(info: SourceInfo, heights: Sequence[int]) -> list[tuple[int, int]]:
    """A grid's resolution classes -> (width, height), smallest first. Classes above the source's
    own are dropped, and the source's own size takes their place: nothing is upscaled, and the
    full resolution is always offered (1920x800 as 1080p for a scope film, 1080x1920 for a phone
    video, 1600x900 where the grid jumps from 720p to 1080p)."""
    own = source_class(info)
    classes = classes_within((info.display_width, info.display_height), heights)
    if not heights or max(int(p) for p in heights) > own:
        classes.append(own)
    out: list[tuple[int, int]] = []
    for p in classes:
        wh = class_size(info, p)
        if wh not in out:
            out.append(wh)
    return out


# ---------------------------------------------------------------- extraction

#: environment variable: where jobs put their temporary Y4M files (default: the system temp dir)
TMP_ENV = "PERSHOT_TMPDIR"


def temp_dir(work_dir: str | os.PathLike | None = None) -> str:
    """Where a job's temporary files go: ``work_dir``, else ``$PERSHOT_TMPDIR``, else the system's."""
    import tempfile

    return os.fspath(work_dir or os.environ.get(TMP_ENV) or tempfile.gettempdir())


def y4m_bytes(width: int, height: int, frames: int, bit_depth: int = 8) -> int:
    """Size of ``frames`` frames of 4:2:0 Y4M of ``bit_depth`` bits (what :func:`extract_shot` writes)."""
    sample = 2 if bit_depth > 8 else 1
    return frames * ((width * height + 2 * ((width + 1) // 2) * ((height + 1) // 2)) * sample + 6) + 128


def check_temp_space(needs: Sequence[tuple[str, int]], workers: int, what: str, hint: str = "") -> None:
    """Raise :class:`ResourceError` before any work when the ``workers`` largest jobs, run at once,
    would not fit in their temporary folder. ``needs``: (folder, bytes) per job."""
    import shutil

    by_dir: dict[str, list[int]] = {}
    for d, n in needs:
        by_dir.setdefault(d, []).append(int(n))
    for d, sizes in by_dir.items():
        top = sorted(sizes, reverse=True)[:max(1, workers)]
        need = sum(top)
        try:
            free = shutil.disk_usage(d).free
        except OSError as ex:
            raise ResourceError(f"the temporary folder {d} cannot be used: {ex.strerror or ex}") from None
        if need > free:
            raise ResourceError(
                f"{what} needs about {_bytes(need)} of temporary space in {d} ({len(top)} job(s) at once, "
                f"up to {_bytes(top[0])} each: a shot's frames decoded as raw video), but {_bytes(free)} is "
                f"free: set {TMP_ENV} to a larger disk or lower -j{hint}")


def _bytes(n: int) -> str:
    return f"{n / 1e9:.1f} GB" if n >= 1e9 else f"{n / 1e6:.1f} MB"



_Y4M_FRAME_MAGIC = b"FRAME"


def y4m_frame_count(path: str | os.PathLike, width: int, height: int, bit_depth: int = 8) -> int:
    """Frames in a 4:2:0 Y4M file of ``bit_depth`` bits whose frame headers are plain ``FRAME\\n``."""
    p = Path(path)
    size = p.stat().st_size
    with open(p, "rb") as f:
        header = f.readline(4096)
    if not header.startswith(b"YUV4MPEG2"):
        raise MediaError(f"not a Y4M file: {p.name}")
    m_w = re.search(rb" W(\d+)", header)
    m_h = re.search(rb" H(\d+)", header)
    if not m_w or not m_h or (int(m_w.group(1)), int(m_h.group(1))) != (width, height):
        raise MediaError(f"Y4M size mismatch in {p.name}: {header[:60]!r}, expected {width}x{height}")
    frame = (width * height + 2 * (((width + 1) // 2) * ((height + 1) // 2))) * (2 if bit_depth > 8 else 1)
    body = size - len(header)
    per = frame + len(_Y4M_FRAME_MAGIC) + 1
    if body % per:
        raise MediaError(f"Y4M file {p.name} is not a whole number of frames")
    return body // per


def _escape_filter_value(s: str) -> str:
    """Escape a value for an ffmpeg filter option inside a filtergraph (two levels)."""
    # level 1: option value inside the filter's argument list
    v = s.replace("\\", "\\\\").replace("'", "\\'").replace(":", "\\:")
    # level 2: the filtergraph
    out = []
    for ch in v:
        if ch in "\\'[],;":
            out.append("\\" + ch)
        else:
            out.append(ch)
    return "".join(out)


def stream_tag(st: Any, key: str) -> str:
    """A stream's metadata tag (``language``, ``title``), "" where absent or ``und``/``unknown``."""
    v = str((st.metadata or {}).get(key) or "").strip()
    return "" if v.lower() in ("und", "unknown") else v


def input_arg(path: str | os.PathLike) -> str:
    """An ffmpeg input/output argument for a local file: absolute, behind ``file:`` so no
    name (a leading '-', a colon) is taken for an option or a protocol."""
    return "file:" + os.path.abspath(os.fspath(path))


def rotation_filters(rotation: int) -> list[str]:
    """Filters that show coded frames as displayed for a counter-clockwise display rotation."""
    if rotation == 90:
        return ["transpose=cclock"]
    if rotation == 180:
        return ["hflip", "vflip"]
    if rotation == 270:
        return ["transpose=clock"]
    return []


def crop_filters(info: SourceInfo) -> list[str]:
    """``crop`` for a source with a crop (see :func:`with_crop`), else ``[]``."""
    if info.crop is None:
        return []
    w, h, x, y = info.crop
    return [f"crop={w}:{h}:{x}:{y}:exact=1"]


def _oriented(info: SourceInfo) -> tuple[int, int]:
    """The coded frame size turned as displayed (before the sample aspect ratio stretches it)."""
    return (info.height, info.width) if info.rotation in (90, 270) else (info.width, info.height)


def parse_crop(spec: "str | Sequence[int]") -> tuple[int, int, int, int]:
    """``"W:H:X:Y"`` (or four integers) -> (w, h, x, y)."""
    parts = spec.split(":") if isinstance(spec, str) else list(spec)
    try:
        vals = tuple(int(str(v).strip()) for v in parts)
    except ValueError:
        vals = ()
    if len(vals) != 4 or min(vals) < 0:
        raise InputError(f"crop must be auto, none or W:H:X:Y in pixels, not {spec!r}")
    return vals  # type: ignore[return-value]


def with_crop(info: SourceInfo, crop: "str | Sequence[int] | None") -> SourceInfo:
    """``info`` with a crop: ``"auto"`` (:func:`detect_crop`), ``"W:H:X:Y"`` or four integers, in
    pixels of the frame turned as displayed; None/"none" (or an auto crop that finds nothing to cut)
    returns ``info`` as it is. The display size becomes the cut picture's, scaled by the sample
    aspect ratio as the whole picture's was; encodes and the reference of every metric are cut alike."""
    if crop is None or crop == "none" or crop == "":
        return info
    if info.crop is not None:
        raise InputError("the source already has a crop")
    box = detect_crop(info) if crop == "auto" else parse_crop(crop)
    if box is None:
        return info
    w, h, x, y = box
    ow, oh = _oriented(info)
    if w < 16 or h < 16 or x + w > ow or y + h > oh:
        raise InputError(f"crop {w}:{h}:{x}:{y} does not fit the {ow}x{oh} picture (at least 16x16 inside it)")
    if (w, h) == (ow, oh):
        return info
    fx, fy = Fraction(info.display_width, ow), Fraction(info.display_height, oh)
    dw, dh = max(2, int(round(w * fx))), max(2, int(round(h * fy)))
    return dataclasses.replace(info, crop=(w, h, x, y), display_width=dw, display_height=dh,
                               display_aspect=info.display_aspect * Fraction(w, ow) / Fraction(h, oh))


#: sources up to this many frames are read whole for black borders; longer ones by their keyframes
_CROP_ALL_FRAMES = 3000


def detect_crop(info: SourceInfo) -> tuple[int, int, int, int] | None:
    """Black borders (letterbox, pillarbox) of the source, as (w, h, x, y) of the picture inside them,
    or None when there are none. ffmpeg's ``cropdetect`` (its default black level, 24 of 255) reads
    the picture turned as displayed (every frame of a source up to 3,000 frames, else its keyframes
    only) and keeps the union of what the frames show as not black, so a dark scene does not shrink
    the box. Bars count in pairs only: top and bottom (or left and right) both at least 2 pixels and
    within 4 pixels or a quarter of each other; a dark edge on one side of a picture is content, not a
    border. Bars that would leave less than half of the width or height are not cut either (a dark
    picture, more likely than such a border). The box is rounded inwards to even numbers."""
    from . import ffmpeg

    idx = frame_index(info.path, info.stream)
    chain = [*rotation_filters(info.rotation), "cropdetect=round=1:reset=0:skip=0"]
    keys = ["-skip_frame", "nokey"] if len(idx) > _CROP_ALL_FRAMES else []
    res = ffmpeg.run(["-v", "info", "-nostats", *keys, "-noautorotate", "-i", input_arg(info.path),
                      "-map", f"0:{idx.stream_index}", "-an", "-sn", "-dn", "-vf", ",".join(chain), "-f", "null", "-"],
                     what=f"looking for black borders in {Path(info.path).name} failed")
    found = re.findall(r"x1:(-?\d+) x2:(-?\d+) y1:(-?\d+) y2:(-?\d+)", res.stderr)
    if not found:
        return None
    x1, x2, y1, y2 = (int(v) for v in found[-1])
    ow, oh = _oriented(info)
    if x2 < x1 or y2 < y1:  # black throughout
        return None
    x, w = _bars(x1, ow - 1 - x2, ow)
    y, h = _bars(y1, oh - 1 - y2, oh)
    return None if (w, h) == (ow, oh) else (w, h, x, y)


def _bars(lead: int, trail: int, size: int) -> tuple[int, int]:
    """(offset, length) kept along one axis with black bars ``lead`` and ``trail`` pixels thick:
    the whole axis unless they form a pair (see :func:`detect_crop`)."""
    lead, trail = max(0, lead), max(0, trail)
    if min(lead, trail) < 2 or abs(lead - trail) > max(4, max(lead, trail) // 4):
        return 0, size
    start = lead + (lead % 2)  # inwards, to even
    length = (size - trail - start) // 2 * 2
    # bars that leave less than half the axis are more likely a dark picture than a border
    # (a 2.39:1 film in a 4:3 frame keeps 56% of its height)
    return (start, length) if length >= max(16, size // 2) else (0, size)


def deinterlace_filters(info: SourceInfo) -> list[str]:
    """``bwdif`` for an interlaced source, each field's parity from the frame itself: one progressive frame
    per frame (the frame count and rate are kept, so shots keep their frame numbers), frames not flagged
    interlaced (progressive parts of a mixed stream) left as they are; or, deinterlaced by field
    (:func:`with_deinterlace`), one per field, every frame, so that each makes two whatever its flag."""
    if not info.interlaced:
        return []
    if info.field_rate:
        return ["bwdif=mode=send_field:parity=auto:deint=all"]
    return ["bwdif=mode=send_frame:parity=auto:deint=interlaced"]


@dataclass(frozen=True)
class Extracted:
    """Raw Y4M frames of one shot: the reference (display size) and scaled intermediates."""

    frames: int
    reference: str  #: path of the display-resolution reference, or "" when not asked for
    scaled: dict[tuple[int, int], str]  #: (width, height) -> path
    cpu_s: float  #: user + sys CPU of the ffmpeg process that decoded, trimmed and scaled
    wall_s: float
    seeked: bool


def shown_filters(info: SourceInfo, idx: FrameIndex, start_frame: int, end_frame: int, by_count: bool = False,
                  bit_depth: int = 8) -> list[str]:
    """The filters that take the decoded stream to frames [start_frame, end_frame) as displayed, timed from
    0: trim (by timestamp, or by position with ``by_count``), deinterlace, tone-map, rotate, crop.
    :func:`sized_filter` then scales them. With an index by field (:func:`shown_index`) the frames are
    fields: the source frames that hold them are trimmed and deinterlaced, and a field of a frame at either
    end that falls outside the range is trimmed off after."""
    f = idx.fields
    a, b = decoded_span(info, idx, start_frame, end_frame)
    whole = b * f >= len(idx)
    if by_count:
        trim = f"trim=start_frame={a}" + ("" if whole else f":end_frame={b}")
    else:
        trim = f"trim=start_pts={idx.pts[a * f] // f}" + ("" if whole else f":end_pts={idx.pts[b * f] // f}")
    deint = deinterlace_filters(info)
    skip = start_frame - a * f
    if skip or (b * f - end_frame):  # the neighbours and fields outside the range
        deint += [f"trim=start_frame={skip}:end_frame={skip + end_frame - start_frame}", "setpts=PTS-STARTPTS"]
    return [trim, "setpts=PTS-STARTPTS", *deint, *tonemap_filters(info, bit_depth),
            *rotation_filters(info.rotation), *crop_filters(info)]


def decoded_span(info: SourceInfo, idx: FrameIndex, start_frame: int, end_frame: int) -> tuple[int, int]:
    """The source frames [a, b) decoded to show frames [start_frame, end_frame) (``idx``'s, fields where
    it counts them): those that hold the range and, for an interlaced source, a neighbour on either side
    where there is one. bwdif reads the frames before and after the one it deinterlaces: without them it
    passed a range's first frame through as it was, its two fields woven (a one-frame range, a thumbnail,
    entirely), and rebuilt the last from that frame alone, unlike the same frames deinterlaced within the
    whole stream."""
    f = idx.fields
    a, b = start_frame // f, -(-end_frame // f)  # the source frames that hold the range
    if info.interlaced:
        a, b = max(a - 1, 0), min(b + 1, len(idx) // f)
    return a, b


def sized_filter(info: SourceInfo, width: int, height: int, bit_depth: int = 8) -> str:
    """Scale :func:`shown_filters`' frames to ``width`` x ``height`` as pershot's encoders and metrics
    take them: bicubic, square pixels, 4:2:0 of ``bit_depth`` bits in limited range (a full-range source
    converted; an RGB one with the BT.709 matrix; the tone-mapping chain already ends in BT.709)."""
    if info.tonemap:
        rng = ""  # the tone-mapping chain ends in BT.709 limited range
    elif info.rgb:
        rng = ":out_color_matrix=bt709:out_range=tv"  # what encode_colour says; swscale's default is BT.601
    else:
        rng = ":out_range=tv" if info.full_range else ""  # full range is converted to limited (what players expect)
    return f"scale={width}:{height}:flags=bicubic{rng},setsar=1,format={pix_fmt(bit_depth)}"


def extract_args(
    info: SourceInfo,
    idx: FrameIndex,
    start_frame: int,
    end_frame: int,
    outputs: Sequence[tuple[int, int, str]],
    *,
    seek: bool = True,
    by_count: bool = False,
    bit_depth: int = 8,
) -> list[str]:
    """ffmpeg arguments that decode frames [start_frame, end_frame) exactly, show them as
    displayed (rotation applied deliberately, auto-rotation off), and write each
    ``(width, height, path)`` as 4:2:0 Y4M of ``bit_depth`` bits (bicubic scaling, square pixels; a full-range
    source is converted to limited range, the matrix is kept; an RGB one is converted with the BT.709
    matrix; an interlaced one is deinterlaced; an HDR one set to be tone-mapped is mapped to SDR BT.709;
    one with a crop is cut, after rotation and before scaling).

    Frames are picked by their timestamps; with ``by_count`` (never seeks) by their
    position in the decoder's output from the start of the file instead, for containers
    whose packet timestamps are not the decoder's (AVI with B-frames stores none)."""
    if not (0 <= start_frame < end_frame <= len(idx)):
        raise InputError(f"frame range [{start_frame}, {end_frame}) outside 0..{len(idx)}")
    if not outputs:
        raise InputError("extract_args needs at least one output")
    args: list[str] = ["-y", "-v", "error", "-threads", "1", "-noautorotate"]
    k = idx.keyframe_at_or_before(decoded_span(info, idx, start_frame, end_frame)[0] * idx.fields) \
        if seek and not by_count else 0
    if k > 0:
        # seek (by keyframe) to a point at or just before keyframe k; decoding starts there
        t = float((idx.pts[k] - idx.pts[0]) * idx.time_base)
        args += ["-ss", f"{max(0.0, t - 0.001):.6f}", "-noaccurate_seek"]
    args += ["-copyts", "-i", input_arg(info.path), "-an", "-sn", "-dn", "-filter_threads", "1"]
    chain = shown_filters(info, idx, start_frame, end_frame, by_count, bit_depth)
    n = len(outputs)
    graph = f"[0:{idx.stream_index}]{','.join(chain)}"  # the indexed stream (0:v:0 may be cover art)
    if n > 1:
        graph += f",split={n}" + "".join(f"[s{i}]" for i in range(n)) + ";"
    else:
        graph += "[s0];"
    for i, (w, h, _) in enumerate(outputs):
        graph += f"[s{i}]{sized_filter(info, w, h, bit_depth)}[o{i}]"
        if i < n - 1:
            graph += ";"
    args += ["-filter_complex", graph]
    strict = ["-strict", "-1"] if bit_depth > 8 else []  # ffmpeg writes Y4M beyond 8 bits only when told to
    for i, (_, _, path) in enumerate(outputs):
        args += ["-map", f"[o{i}]", "-fps_mode", "passthrough", *strict, "-f", "yuv4mpegpipe", input_arg(path)]
    return args


def extract_shot(
    info: SourceInfo,
    start_frame: int,
    end_frame: int,
    out_dir: str | os.PathLike,
    sizes: Sequence[tuple[int, int]],
    *,
    reference: bool = True,
    seek: bool = True,
    bit_depth: int = 8,
) -> Extracted:
    """Decode frames [start_frame, end_frame) once into Y4M files in ``out_dir``.

    With ``reference``, one output is at the source's display size (what metrics
    compare against); one more per requested size (encoder inputs). The frame
    count of every output is checked; a seek that lands late is retried from
    the start of the file. Every output has ``bit_depth`` bits (8 or 10). A source whose packet
    timestamps are not the decoder's (``FrameIndex.pts_exact`` false: H.264 with B-frames in AVI)
    is cut by frame count, decoding from the start of the file (exact, slower on long sources).
    """
    from . import ffmpeg

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    idx = shown_index(info)
    want = end_frame - start_frame
    outputs: list[tuple[int, int, str]] = []
    ref_path = ""
    ref_wh = (info.display_width, info.display_height)
    if reference:
        ref_path = str(out / f"ref_{start_frame}_{end_frame}_{ref_wh[0]}x{ref_wh[1]}.y4m")
        outputs.append((*ref_wh, ref_path))
    scaled: dict[tuple[int, int], str] = {}
    for w, h in sizes:
        if (w, h) in scaled:
            continue
        if reference and (w, h) == ref_wh:
            scaled[(w, h)] = ref_path
            continue
        pth = str(out / f"src_{start_frame}_{end_frame}_{w}x{h}.y4m")
        scaled[(w, h)] = pth
        outputs.append((w, h, pth))
    cpu = wall = 0.0
    # (seek, by_count): timestamps after a keyframe seek, then from the start; frame count from the start
    # when the timestamps are not the decoder's (a seek by them could land anywhere)
    if not idx.pts_exact:
        attempts = [(False, True)]
    else:
        attempts = [(True, False), (False, False)] if seek else [(False, False)]
    last_counts: list[int] = []
    for use_seek, by_count in attempts:
        args = extract_args(info, idx, start_frame, end_frame, outputs, seek=use_seek, by_count=by_count,
                            bit_depth=bit_depth)
        res = ffmpeg.run(args, what=f"decoding frames {start_frame}-{end_frame} of {Path(info.path).name} failed")
        cpu += res.cpu_s
        wall += res.wall_s
        last_counts = [y4m_frame_count(pth, w, h, bit_depth) for w, h, pth in outputs]
        if all(c == want for c in last_counts):
            return Extracted(frames=want, reference=ref_path, scaled=scaled, cpu_s=cpu, wall_s=wall,
                             seeked=use_seek and "-ss" in args)
    raise MediaError(
        f"frame-exact extraction of frames {start_frame}-{end_frame} of {Path(info.path).name} "
        f"gave {last_counts[0] if last_counts else 0} frames, expected {want} (corrupt or truncated source?)"
    )
