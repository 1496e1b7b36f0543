"""What a coded video stream says about itself: its parameter sets (H.264 SPS, HEVC SPS, AV1
sequence headers) and the RFC 6381 ``CODECS`` strings that HLS and DASH manifests carry.

A pershot rendition joins shots that may have been encoded at different presets, so one file can
hold several parameter sets (x264 ultrafast writes Constrained Baseline, the other presets High;
SVT-AV1's presets signal different coding tools in their sequence headers). Manifest writers
(ffmpeg's among them) take the first shot's, which can understate the stream: the strings here
cover every parameter set in the file (the highest profile and level).

The readers take MP4 and Matroska files (length-prefixed NAL units, parameter sets in band or in the
header) and MPEG-TS (start codes); the string builders and level tables are pure.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator, Sequence

from .errors import InputError

#: the names PyAV gives an AV1 stream's decoder
AV1_DECODERS = frozenset({"av1", "libdav1d", "libaom-av1"})


def _stream_packets(path: str | os.PathLike, want: str) -> Iterator[bytes]:
    """The extradata, then every packet's bytes, of the first video stream, which must be ``want``."""
    import av

    with av.open(os.fspath(path)) as c:
        if not c.streams.video:
            raise InputError(f"{Path(path).name} has no video stream")
        st = c.streams.video[0]
        name = st.codec_context.name
        if name != want and not (want == "av1" and name in AV1_DECODERS):
            raise InputError(f"{Path(path).name} is {name}, not {want}")
        yield bytes(st.codec_context.extradata or b"")
        for pkt in c.demux(st):
            if pkt.size:
                yield bytes(pkt)


def codec_of(path: str | os.PathLike) -> str:
    """``h264``, ``hevc`` or ``av1`` (or the decoder's name for anything else) of a file's first video stream."""
    import av

    with av.open(os.fspath(path)) as c:
        if not c.streams.video:
            raise InputError(f"{Path(path).name} has no video stream")
        name = c.streams.video[0].codec_context.name
    return "av1" if name in AV1_DECODERS else name


def _length_prefixed(buf: bytes, size: int = 4) -> Iterator[bytes]:
    i = 0
    while i + size <= len(buf):
        n = int.from_bytes(buf[i:i + size], "big")
        yield buf[i + size:i + size + n]
        i += size + max(n, 1)


def _nal_units(buf: bytes, size: int, annex_b: bool) -> Iterator[bytes]:
    """The NAL units of one packet: length-prefixed (MP4, Matroska: their header holds an ``avcC`` or
    ``hvcC`` record) or, with ``annex_b``, after start codes (MPEG-TS). Trailing zero bytes of an Annex B
    unit (the next start code's leading zero) are left off: they are no part of a parameter set."""
    if not annex_b:
        yield from _length_prefixed(buf, size)
        return
    for part in buf.split(b"\0\0\1"):
        part = part.rstrip(b"\0")
        if part:
            yield part


def unescape(nal: bytes) -> bytes:
    """A NAL unit's payload with its emulation-prevention bytes (``00 00 03``) taken out."""
    out = bytearray()
    zeros = 0
    for b in nal:
        if zeros >= 2 and b == 3:
            zeros = 0
            continue
        out.append(b)
        zeros = zeros + 1 if b == 0 else 0
    return bytes(out)


# --------------------------------------------------------------------------- H.264


def avc_codec_string(sps: Sequence[tuple[int, int, int]], entry: str = "avc1") -> str:
    """``avc1.PPCCLL`` (or ``avc3.``) for a stream holding every (profile_idc, constraint flags,
    level_idc) in ``sps``: the highest profile, the constraint flags all of them share, the highest level."""
    if not sps:
        raise InputError("no H.264 sequence parameter set found")
    profile = max(p for p, _, _ in sps)
    flags = 0xFF
    for _, c, _ in sps:
        flags &= c
    if len({p for p, _, _ in sps}) > 1:
        flags = 0  # the constraint flags claim conformance to this or that profile: none holds for a mix
    level = max(lv for _, _, lv in sps)
    return f"{entry}.{profile:02x}{flags:02x}{level:02x}"


def h264_sps(path: str | os.PathLike) -> list[tuple[int, int, int]]:
    """(profile_idc, constraint flags, level_idc) of every distinct SPS in an H.264 file (MP4 or Matroska,
    parameter sets in band or in its header; MPEG-TS); InputError for another codec."""
    found: set[tuple[int, int, int]] = set()
    packets = _stream_packets(path, "h264")
    extra = next(packets)
    annex_b = not (extra[:1] == b"\1")  # no avcC record: start codes (MPEG-TS)
    if len(extra) > 8 and extra[0] == 1:  # avcC: its SPS are (2-byte length, NAL) after 6 bytes
        k, num = 6, extra[5] & 0x1F
        for _ in range(num):
            ln = int.from_bytes(extra[k:k + 2], "big")
            nal = extra[k + 2:k + 2 + ln]
            if len(nal) >= 4:
                found.add((nal[1], nal[2], nal[3]))
            k += 2 + ln
    for buf in packets:
        for nal in _nal_units(buf, 4, annex_b):
            if len(nal) >= 4 and nal[0] & 0x1F == 7:
                found.add((nal[1], nal[2], nal[3]))
    return sorted(found)


# --------------------------------------------------------------------------- HEVC


@dataclass(frozen=True)
class HevcProfile:
    """The general profile, tier and level of an HEVC SPS (its ``profile_tier_level``)."""

    profile_space: int
    tier: int
    profile_idc: int
    compatibility: int  #: general_profile_compatibility_flag[0..31], flag j in bit 31 - j
    constraints: bytes  #: the 6 bytes of constraint flags after the compatibility flags
    level_idc: int


def hevc_ptl(nal: bytes) -> HevcProfile | None:
    """The general profile/tier/level of an HEVC SPS NAL unit (2-byte header first); None if it is not one."""
    if len(nal) < 2 or (nal[0] >> 1) & 0x3F != 33:
        return None
    b = unescape(nal[2:])
    # sps_video_parameter_set_id(4) sps_max_sub_layers_minus1(3) temporal_id_nesting(1), then
    # profile_tier_level: space(2) tier(1) profile_idc(5), 32 compatibility flags, 48 constraint bits, level(8)
    if len(b) < 14:
        return None
    return HevcProfile(profile_space=b[1] >> 6, tier=(b[1] >> 5) & 1, profile_idc=b[1] & 0x1F,
                       compatibility=int.from_bytes(b[2:6], "big"), constraints=bytes(b[6:12]), level_idc=b[12])


def hevc_codec_string(profiles: Sequence[HevcProfile], entry: str = "hev1") -> str:
    """``hev1.P.C.TL.B...`` (ISO/IEC 14496-15 annex E) for a stream holding every SPS in ``profiles``:
    the highest profile and level; the compatibility and constraint flags all of them share; the
    high tier if any is."""
    if not profiles:
        raise InputError("no HEVC sequence parameter set found")
    top = max(profiles, key=lambda p: (p.profile_space, p.profile_idc))
    compat, cons = 0xFFFFFFFF, bytearray(b"\xff" * 6)
    for p in profiles:
        compat &= p.compatibility
        cons = bytearray(a & b for a, b in zip(cons, p.constraints))
    space = "" if top.profile_space == 0 else "ABC"[top.profile_space - 1]
    rev = int(f"{compat:032b}"[::-1], 2)  # the flags in reverse bit order, as the annex writes them
    tier = "H" if any(p.tier for p in profiles) else "L"
    level = max(p.level_idc for p in profiles)
    c = bytes(cons).rstrip(b"\0")
    tail = "".join(f".{x:X}" for x in c)
    return f"{entry}.{space}{top.profile_idc}.{rev:X}.{tier}{level}{tail}"


def _hevc_nals(path: str | os.PathLike) -> Iterator[bytes]:
    """Every NAL unit of an HEVC file's video (MP4, Matroska, MPEG-TS): those of its ``hvcC`` header, then
    those in band."""
    packets = _stream_packets(path, "hevc")
    extra = next(packets)
    size, annex_b = 4, not (extra[:1] == b"\1")  # no hvcC record: start codes (MPEG-TS)
    if len(extra) > 23 and extra[0] == 1:  # hvcC: 22 bytes, then arrays of (type, count, (length, NAL)...)
        size = (extra[21] & 3) + 1
        k, arrays = 23, extra[22]
        for _ in range(arrays):
            if k + 3 > len(extra):
                break
            count = int.from_bytes(extra[k + 1:k + 3], "big")
            k += 3
            for _ in range(count):
                ln = int.from_bytes(extra[k:k + 2], "big")
                yield extra[k + 2:k + 2 + ln]
                k += 2 + ln
    for buf in packets:
        yield from _nal_units(buf, size, annex_b)


#: HEVC NAL unit types of the parameter sets: VPS, SPS, PPS
HEVC_PARAMETER_SETS = (32, 33, 34)


def hevc_profiles(path: str | os.PathLike) -> list[HevcProfile]:
    """Every distinct SPS profile/tier/level in an HEVC MP4 file (in its ``hvcC`` header and in band)."""
    return _sps_profiles(hevc_parameter_sets(path)[33])


def _sps_profiles(sps: Iterable[bytes]) -> list[HevcProfile]:
    found = {p for p in map(hevc_ptl, sps) if p is not None}
    return sorted(found, key=lambda p: (p.profile_idc, p.level_idc, p.tier))


def hevc_parameter_sets(path: str | os.PathLike) -> dict[int, set[bytes]]:
    """The distinct VPS, SPS and PPS NAL units of an HEVC MP4 file (header and in band), by NAL type.
    One of each means the file can be tagged ``hvc1`` with its parameter sets in the header alone."""
    out: dict[int, set[bytes]] = {t: set() for t in HEVC_PARAMETER_SETS}
    for nal in _hevc_nals(path):
        if nal and (nal[0] >> 1) & 0x3F in out:
            out[(nal[0] >> 1) & 0x3F].add(bytes(nal))
    return out


def hevc_entry_and_codec(path: str | os.PathLike) -> tuple[str, str]:
    """(MP4 sample entry, RFC 6381 codec string) of an HEVC MP4 file, from one read of its parameter
    sets: ``hvc1`` with one VPS, SPS and PPS (they can all go in its header, as Apple devices and
    Safari need), else ``hev1`` (parameter sets in band: its shots came from presets whose parameter
    sets differ)."""
    ps = hevc_parameter_sets(path)
    entry = "hvc1" if all(len(v) <= 1 for v in ps.values()) else "hev1"
    return entry, hevc_codec_string(_sps_profiles(ps[33]), entry)


def entry_args(index: int, entry: str) -> list[str]:
    """ffmpeg output options giving video stream ``index`` the MP4 sample entry ``entry``; for ``hvc1``
    the in-band parameter sets are dropped too (the sample entry holds the one set)."""
    drop = "filter_units=remove_types=" + "|".join(map(str, HEVC_PARAMETER_SETS))
    return [f"-tag:v:{index}", entry] + ([f"-bsf:v:{index}", drop] if entry == "hvc1" else [])


# --------------------------------------------------------------------------- AV1


@dataclass(frozen=True)
class Av1Sequence:
    """What an AV1 codec string needs from a sequence header: profile, operating point 0's level and tier."""

    profile: int
    level: int
    tier: int


class _Bits:
    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def read(self, n: int) -> int:
        v = 0
        for _ in range(n):
            byte = self.data[self.pos >> 3] if (self.pos >> 3) < len(self.data) else 0
            v = (v << 1) | ((byte >> (7 - (self.pos & 7))) & 1)
            self.pos += 1
        return v


def av1_sequence(payload: bytes) -> Av1Sequence | None:
    """Profile, level and tier of a sequence header OBU's payload; None where timing information
    makes the fixed-position read unsafe (the caller then keeps the ``av1C`` figures)."""
    r = _Bits(payload)
    profile = r.read(3)
    r.read(1)  # still_picture
    if r.read(1):  # reduced_still_picture_header
        return Av1Sequence(profile, r.read(5), 0)
    if r.read(1):  # timing_info_present_flag: a variable-length block follows
        return None
    r.read(1)  # initial_display_delay_present_flag
    r.read(5)  # operating_points_cnt_minus_1
    r.read(12)  # operating_point_idc[0]
    level = r.read(5)
    tier = r.read(1) if level > 7 else 0
    return Av1Sequence(profile, level, tier)


def _obu_units(buf: bytes) -> Iterator[tuple[int, bytes, bool, bytes]]:
    """(type, header bytes, whether it has a size field, payload) of every OBU in a sample (low-overhead
    format; an OBU without a size field runs to the end)."""
    i = 0
    while i < len(buf):
        h = buf[i]
        kind, ext, has_size = (h >> 3) & 0xF, (h >> 2) & 1, bool((h >> 1) & 1)
        head, j = buf[i:i + 1 + ext], i + 1 + ext
        if not has_size:
            yield kind, head, False, buf[j:]
            return
        size = shift = 0
        while j < len(buf):
            b = buf[j]
            j += 1
            size |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                break
        yield kind, head, True, buf[j:j + size]
        i = j + size


def _obus(buf: bytes) -> Iterator[tuple[int, bytes]]:
    """(type, payload) of every OBU in a sample (low-overhead format, each with its size field)."""
    for kind, _, _, payload in _obu_units(buf):
        yield kind, payload


@dataclass(frozen=True)
class Av1Stream:
    """An AV1 file's codec string and how many different sequence headers it carries."""

    codec: str
    sequence_headers: int


def av1_stream(path: str | os.PathLike) -> Av1Stream:
    """The codec string of an AV1 MP4 file and the number of distinct sequence headers in it.

    The string is ``av01.P.LLT.DD`` (highest profile, level and tier of its sequence headers; bit depth
    from ``av1C``), in the long form ``av01.P.LLT.DD.M.CCC.cp.tc.mc.F`` (AV1 codecs parameter string:
    monochrome, chroma subsampling and sample position, colour code points, full range) where these
    differ from the short form's defaults (4:2:0, BT.709, limited range): an HDR rung says it is PQ or
    HLG, as players that pick renditions by their codec string need."""
    packets = _stream_packets(path, "av1")
    extra = next(packets)
    if len(extra) < 4 or extra[0] != 0x81:
        raise InputError(f"{Path(path).name}: no AV1 configuration record (av1C)")
    seqs = {Av1Sequence(extra[1] >> 5, extra[1] & 0x1F, extra[2] >> 7)}
    depth = 12 if extra[2] & 0x20 else 10 if extra[2] & 0x40 else 8
    mono, chroma = (extra[2] >> 4) & 1, f"{(extra[2] >> 3) & 1}{(extra[2] >> 2) & 1}{extra[2] & 3}"
    headers: set[bytes] = set()
    for buf in packets:
        for kind, payload in _obus(buf):
            if kind == 1:  # OBU_SEQUENCE_HEADER
                headers.add(payload)
                s = av1_sequence(payload)
                if s is not None:
                    seqs.add(s)
    profile = max(s.profile for s in seqs)
    level = max(s.level for s in seqs)
    tier = "H" if any(s.tier for s in seqs) else "M"
    codec = f"av01.{profile}.{level:02d}{tier}.{depth:02d}"
    colour, full = _colour_and_range(path)
    if mono or chroma != "110" or full or {colour.primaries, colour.transfer, colour.matrix} - {1, 2}:
        codec += (f".{mono}.{chroma}.{colour.primaries:02d}.{colour.transfer:02d}.{colour.matrix:02d}."
                  f"{int(full)}")
    return Av1Stream(codec=codec, sequence_headers=max(1, len(headers)))


def codec_string(path: str | os.PathLike, entry: str | None = None) -> str:
    """The RFC 6381 string of an MP4 file's video, covering every parameter set in it. ``entry``: the
    sample entry to name (``avc3``/``hev1`` where parameter sets travel in band); default ``avc1``/``hev1``."""
    codec = codec_of(path)
    if codec == "h264":
        return avc_codec_string(h264_sps(path), entry or "avc1")
    if codec == "hevc":
        return hevc_codec_string(hevc_profiles(path), entry or "hev1")
    if codec == "av1":
        return av1_stream(path).codec
    raise InputError(f"{Path(path).name} is {codec}: no codec string for it (H.264, HEVC and AV1 only)")


# --------------------------------------------------------------------------- colour


@dataclass(frozen=True)
class Colour:
    """The colour code points (ISO/IEC 23091-2) a file's video signals; 2 where unspecified."""

    primaries: int
    transfer: int
    matrix: int

    @property
    def video_range(self) -> str:
        """HLS's ``VIDEO-RANGE``: PQ (transfer 16), HLG (18) or SDR."""
        return {16: "PQ", 18: "HLG"}.get(self.transfer, "SDR")


def colour_of(path: str | os.PathLike) -> Colour:
    """The colour description of a file's first video stream (as its decoder reads it)."""
    return _colour_and_range(path)[0]


def _colour_and_range(path: str | os.PathLike) -> tuple[Colour, bool]:
    """(colour description, full range?) of a file's first video stream."""
    import av

    try:
        with av.open(os.fspath(path)) as c:
            cc = c.streams.video[0].codec_context
            colour = Colour(*(int(getattr(cc, a, 2) or 2) for a in ("color_primaries", "color_trc", "colorspace")))
            return colour, int(getattr(cc, "color_range", 0) or 0) == 2  # AVCOL_RANGE_JPEG
    except (av.error.FFmpegError, IndexError, OSError) as ex:
        raise InputError(f"{Path(path).name}: cannot read its video stream: {ex}") from None


# --------------------------------------------------------------------------- parameter sets of raw streams

#: the NAL unit types of the parameter sets, by the raw-stream muxer: H.264 SPS/PPS, HEVC VPS/SPS/PPS
_RAW_PARAMETER_SETS = {"h264": (lambda nal: nal[0] & 0x1F, (7, 8)),
                       "hevc": (lambda nal: (nal[0] >> 1) & 0x3F, HEVC_PARAMETER_SETS)}


def parameter_sets_key(data: bytes, muxer: str) -> str:
    """A short digest of the distinct parameter sets in a raw elementary stream (Annex B H.264 or HEVC;
    the sequence headers of an AV1 OBU stream): encodes with equal digests can share one MP4 sample
    entry (``avc1``/``hvc1``, the sets held by the header alone). "" for another format or none found."""
    import hashlib

    found: set[bytes] = set()
    if muxer in _RAW_PARAMETER_SETS:
        kind, types = _RAW_PARAMETER_SETS[muxer]
        for nal in _nal_units(data, 4, annex_b=True):
            if kind(nal) in types:
                found.add(nal)
    elif muxer == "obu":
        found = {payload for kind, payload in _obus(data) if kind == 1}
    if not found:
        return ""
    # a letter first: a CSV reader never takes it for a number
    return "ps" + hashlib.sha256(b"".join(sorted(found))).hexdigest()[:16]


# --------------------------------------------------------------------------- levels

#: H.264 levels (ITU-T H.264 table A-1): (level_idc, MaxMBPS macroblocks a second, MaxFS macroblocks a frame)
H264_LEVELS = ((10, 1485, 99), (11, 3000, 396), (12, 6000, 396), (13, 11880, 396), (20, 11880, 396),
               (21, 19800, 792), (22, 20250, 1620), (30, 40500, 1620), (31, 108000, 3600), (32, 216000, 5120),
               (40, 245760, 8192), (41, 245760, 8192), (42, 522240, 8704), (50, 589824, 22080),
               (51, 983040, 36864), (52, 2073600, 36864), (60, 4177920, 139264), (61, 8355840, 139264),
               (62, 16711680, 139264))
#: HEVC levels (ITU-T H.265 table A.8): (general_level_idc, MaxLumaSr samples a second, MaxLumaPs samples a picture)
HEVC_LEVELS = ((30, 552960, 36864), (60, 3686400, 122880), (63, 7372800, 245760), (90, 16588800, 552960),
               (93, 33177600, 983040), (120, 66846720, 2228224), (123, 133693440, 2228224),
               (150, 267386880, 8912896), (153, 534773760, 8912896), (156, 1069547520, 8912896),
               (180, 1069547520, 35651584), (183, 2139095040, 35651584), (186, 4278190080, 35651584))
#: AV1 levels (AV1 specification annex A.3): (seq_level_idx, MaxDisplayRate luma samples a second, MaxPicSize
#: samples, MaxHSize, MaxVSize); 2.2, 2.3, 3.2, 3.3, 4.2 and 4.3 are not defined
AV1_LEVELS = ((0, 4423680, 147456, 2048, 1152), (1, 8363520, 278784, 2816, 1584), (4, 19975680, 665856, 4352, 2448),
              (5, 31950720, 1065024, 5504, 3096), (8, 70778880, 2359296, 6144, 3456),
              (9, 141557760, 2359296, 6144, 3456), (12, 267386880, 8912896, 8192, 4352),
              (13, 534773760, 8912896, 8192, 4352), (14, 1069547520, 8912896, 8192, 4352),
              (15, 1069547520, 8912896, 8192, 4352), (16, 1069547520, 35651584, 16384, 8704),
              (17, 2139095040, 35651584, 16384, 8704), (18, 4278190080, 35651584, 16384, 8704),
              (19, 4278190080, 35651584, 16384, 8704))
#: the bitstream filter that rewrites the level a stream signals (its parameter sets), by codec; AV1's
#: sequence headers are rewritten by :func:`av1_with_level` (ffmpeg's av1_metadata has no level)
LEVEL_FILTERS = {"h264": "h264_metadata", "hevc": "hevc_metadata"}


def level_rank(codec: str, level_idc: int) -> float:
    """Where ``level_idc`` stands among the codec's levels (H.264's level 1b, level_idc 9 in the High
    profiles, lies between 1 and 1.1)."""
    return 10.5 if codec == "h264" and level_idc == 9 else float(level_idc)


def rate_level(codec: str, width: int, height: int, fps: float) -> int | None:
    """The lowest level whose picture size and sample rate hold ``width`` x ``height`` pictures at
    ``fps`` (H.264: macroblocks; HEVC: luma samples, in 8-sample units); None above the highest level.
    What a level also bounds (bit rate, decoded picture buffer) the encoder's own choice covers."""
    if codec == "h264":
        size = -(-width // 16) * -(-height // 16)
        table, unit = H264_LEVELS, 16
    elif codec == "hevc":
        size = -(-width // 8) * 8 * -(-height // 8) * 8
        table, unit = HEVC_LEVELS, 1
    elif codec == "av1":  # luma samples shown a second, the picture and its sides
        for level, rate, picture, w_max, h_max in AV1_LEVELS:
            if width * height <= picture and width <= w_max and height <= h_max \
                    and width * height * fps <= rate * (1 + 1e-9):
                return level
        return None
    else:
        raise InputError(f"no level table for {codec} (H.264, HEVC and AV1 only)")
    side = max(-(-width // unit), -(-height // unit))  # neither side over sqrt(8 x the picture limit)
    for level, rate, picture in table:
        if size <= picture and side * side <= 8 * picture and size * fps <= rate * (1 + 1e-9):
            return level
    return None


def signalled_level(path: str | os.PathLike) -> tuple[str, int] | None:
    """(codec, the highest level its parameter sets signal: H.264/HEVC level_idc, AV1 seq_level_idx of the
    first operating point) of an H.264, HEVC or AV1 file; None for another codec or none found."""
    codec = codec_of(path)
    if codec == "h264":
        levels = [lv for _, _, lv in h264_sps(path)]
    elif codec == "hevc":
        levels = [p.level_idc for p in hevc_profiles(path)]
    elif codec == "av1":
        packets = _stream_packets(path, "av1")
        extra = next(packets)
        levels = [extra[1] & 0x1F] if len(extra) >= 4 and extra[0] == 0x81 else []  # av1C's seq_level_idx_0
        for buf in packets:
            levels += [q.level for k, pl in _obus(buf) if k == 1 and (q := av1_sequence(pl)) is not None]
    else:
        return None
    return (codec, max(levels, key=lambda lv: level_rank(codec, lv))) if levels else None


def _leb128(n: int) -> bytes:
    out = bytearray()
    while True:
        b, n = n & 0x7F, n >> 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _sequence_with_level(payload: bytes, level: int) -> bytes:
    """A sequence header OBU's payload with its first operating point's ``seq_level_idx`` raised to ``level``
    (a tier bit, main tier, put in where the level passes 7), or as it is where it signals as much already or
    carries timing information (whose variable-length fields this does not read past)."""
    bits = "".join(f"{b:08b}" for b in payload)
    if len(bits) < 8 or "1" not in bits:
        return payload
    if bits[4] == "1":  # reduced_still_picture_header: the level right after, no tier
        at, tier = 5, False
    elif bits[5] == "1":  # timing_info_present_flag
        return payload
    else:  # timing flag, initial_display_delay_present_flag, operating_points_cnt_minus_1, operating_point_idc
        at, tier = 5 + 1 + 1 + 5 + 12, True
    old = int(bits[at:at + 5], 2)
    if level <= old:
        return payload
    new = bits[:at] + f"{level:05b}" + ("0" if tier and level > 7 >= old else "") + bits[at + 5:]
    new = new.rstrip("0")  # the stop bit of trailing_bits ends it: pad to a whole byte again
    new += "0" * (-len(new) % 8)
    return int(new, 2).to_bytes(len(new) // 8, "big")


def av1_with_level(buf: bytes, level: int) -> bytes:
    """A temporal unit (an AV1 sample: OBUs with their size fields) with every sequence header's first
    operating point signalling level ``level`` at least (:func:`_sequence_with_level`); every other OBU as
    it is. The coded frames do not change: the level is only what a decoder is told it needs."""
    out = bytearray()
    for kind, head, has_size, payload in _obu_units(buf):
        if kind == 1:
            payload = _sequence_with_level(payload, level)
        out += head + (_leb128(len(payload)) if has_size else b"") + payload
    return bytes(out)
