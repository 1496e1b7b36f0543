"""Subtitles for the renditions (``pershot encode --subtitles`` / ``--subtitle-file``): the source's text
subtitle streams, or subtitle files beside it, as WebVTT in step with the video renditions, and their
place in the HLS and DASH packages.

* **Where they come from.** A text subtitle stream of the source (SubRip, MP4's ``mov_text``, ASS/SSA,
  WebVTT, and the other text formats ffmpeg reads) or a subtitle file (``.srt``, ``.vtt``, ``.ass``...).
  ffmpeg converts either to WebVTT (styling kept where WebVTT has it: italics, bold, underline); picture
  subtitles (DVD, Blu-ray PGS, DVB) cannot become text without OCR and are refused by name.
* **Text and markup.** WebVTT cue text is markup: a ``<`` opens a tag, a ``&`` an entity, and ``-->`` ends the
  cue, so text must be escaped (``&lt;``, ``&amp;``, ``&gt;``). ffmpeg's WebVTT encoder writes the text as it is,
  with only ``<i>``, ``<b>``, ``<u>`` and their end tags as markup: pershot escapes the rest (:func:`convert`).
  A WebVTT file, or a WebVTT stream (Matroska), is WebVTT already and is read as it is, without ffmpeg (which
  would decode its entities and drop its cue settings and voice and class spans).
* **Timing.** The renditions start at the source's first video frame (time 0); a stream's cues are moved
  by the same amount the video and the audio renditions are (:func:`pershot.renditions.audio_args`), and
  cut to the span of the video. A subtitle *file* is timed as a player shows the title: 0 is its first
  frame.
* **HLS** (RFC 8216, Apple's authoring spec): a ``SUBTITLES`` group of WebVTT media playlists whose
  segments are cut at the video's segment boundaries (a cue that spans a boundary is in both segments,
  as players expect), each segment with an ``X-TIMESTAMP-MAP`` that pins its time 0 to the video
  segments' presentation time of the first frame (MPEG-TS starts at 1.4 s or so: without the map the
  text would run early by as much).
* **DASH**: a ``text/vtt`` adaptation set per subtitle, its whole WebVTT file as the representation
  (side-loaded, as DASH-IF's guidelines and dash.js/Shaka take it), timed in the period's time.

Languages are written as RFC 5646 tags (``fra`` -> ``fr``: :func:`pershot.languages.bcp47`), as HLS
and DASH require, and only where they are languages (:func:`pershot.languages.known`: an ISO 639-1/639-2 code,
or a tag starting with one): a subtitle file's ``:LANG`` that is not is refused, a stream's tag that is not
(``english``, ``xx``) is taken as undetermined. A forced subtitle track (disposition ``forced``: text shown
only where the audio's language is not the viewer's) is ``FORCED=YES`` in HLS and Role ``forced-subtitle`` in
DASH.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

from .errors import InputError

__all__ = ["Cue", "SubtitleStream", "subtitle_streams", "subtitle_picks", "parse_sidecar", "read_vtt", "vtt_text",
           "escape_text", "to_title_time", "segment_cues", "hls_segment_text", "hls_media_playlist", "extract_args"]

#: a cue's timing line: ``[hh:]mm:ss.ttt --> [hh:]mm:ss.ttt [settings]``
_TIMING = re.compile(r"^\s*((?:\d+:)?\d{1,2}:\d{2}\.\d{3})\s+-->\s+((?:\d+:)?\d{1,2}:\d{2}\.\d{3})(.*)$")
#: a subtitle file's language suffix, ``FILE:LANG`` (an RFC 5646 or ISO 639 tag), as it is shaped (whether it is
#: a language: :func:`pershot.languages.known`)
_LANG = re.compile(r"[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*")
#: the markup ffmpeg's WebVTT encoder writes (ASS italics, bold and underline): all the rest it writes is text
_FFMPEG_TAG = re.compile(r"</?[biu]>")
#: a ``&`` that does not start a character reference (``&amp;``, ``&nbsp;``, ``&#233;``, ``&#xE9;``)
_BARE_AMP = re.compile(r"&(?![A-Za-z][A-Za-z0-9]*;|#[0-9]+;|#[xX][0-9A-Fa-f]+;)")
#: the HLS subtitle group's id
GROUP = "subs"


@dataclass(frozen=True)
class Cue:
    """One WebVTT cue: from ``start_s`` to ``end_s`` (seconds), its text (lines joined by newlines) as WebVTT cue
    text (markup: ``&lt;`` where the viewer reads ``<``, see :func:`escape_text`), its settings (``line:0
    align:start``...) and identifier, as in the file."""

    start_s: float
    end_s: float
    text: str
    settings: str = ""
    ident: str = ""


@dataclass(frozen=True)
class SubtitleStream:
    """A subtitle stream of a file: index (as ffprobe numbers them), codec, whether it is text (else
    pictures), language and title tags ("" where untagged), and the forced and default dispositions."""

    index: int
    codec: str
    text: bool
    language: str = ""
    title: str = ""
    forced: bool = False
    default: bool = False
    #: CEA-608/708 closed captions carried inside the video stream (``index`` is the video's), not a stream
    captions: bool = False

    def describe(self, n: int) -> str:
        """How a message names it: ``1 (fra, subrip)``, ``n`` its place among the file's subtitle streams."""
        if self.captions:
            return f"{n} (closed captions in the video)"
        return f"{n} ({self.language or 'untagged'}, {self.codec})"


#: how far into the video :func:`has_captions` looks for caption data, in seconds
CAPTION_SCAN_S = 60.0
#: ATSC A/53 caption data as it starts in MPEG-2 user data, H.264/HEVC SEI and AV1 metadata (ITU-T T.35):
#: the "GA94" identifier, then user_data_type_code 3 (cc_data)
_A53_CC = b"GA94\x03"


def _a53_cc_in(data: bytes) -> bool:
    """Whether a packet holds A/53 caption data: the marker after an ITU-T T.35 header (country 0xB5,
    provider 0x0031: H.264/HEVC SEI, AV1 metadata) or an MPEG-2 user-data start code."""
    i = data.find(_A53_CC)
    while i >= 0:
        if data[max(0, i - 3):i] == b"\xb5\x00\x31" or data[max(0, i - 4):i] == b"\x00\x00\x01\xb2":
            return True
        i = data.find(_A53_CC, i + 1)
    return False


def has_captions(path: str | os.PathLike, stream: int | None = None) -> bool:
    """Whether the video stream (its index; None: the first) carries CEA-608/708 closed captions (ATSC A/53
    user data in its pictures, as US broadcast and many OTT masters do): its packets over the first
    :data:`CAPTION_SCAN_S` seconds are searched for the A/53 caption marker, without decoding (an encoder
    may send caption data only where there is a caption, so the first frames alone can miss it)."""
    import av

    with av.open(os.fspath(path)) as c:
        vids = [st for st in c.streams.video if stream is None or st.index == stream]
        if not vids:
            return False
        st = vids[0]
        first = None
        try:
            for pkt in c.demux(st):
                if pkt.size and _a53_cc_in(bytes(pkt)):
                    return True
                if pkt.pts is not None and pkt.time_base is not None:
                    t = float(pkt.pts * pkt.time_base)
                    first = t if first is None else first
                    if t - first > CAPTION_SCAN_S:
                        break
        except av.error.FFmpegError:
            return False
    return False


def subtitle_streams(path: str | os.PathLike, captions: bool = True, video_stream: int | None = None
                     ) -> list[SubtitleStream]:
    """The file's subtitle streams, in order, then (with ``captions``) the closed captions its video stream
    carries, if any (see :func:`has_captions`)."""
    import av

    from .media import stream_tag

    out = []
    first_video = None
    with av.open(os.fspath(path)) as c:
        for st in c.streams:
            attached = bool(int(st.disposition) & 0x400)  # cover art, not the picture
            if st.type == "video" and first_video is None and (st.index == video_stream if video_stream is not None
                                                               else not attached):
                first_video = int(st.index)
            if st.type != "subtitle":
                continue
            ctx = st.codec_context
            name = ctx.name if ctx is not None else "unknown"
            try:
                text = bool(av.codec.Codec(name, "r").text_sub)
            except Exception:  # no decoder in this build: nothing pershot can convert
                text = False
            disp = int(st.disposition)
            out.append(SubtitleStream(index=int(st.index), codec=name, text=text,
                                      language=stream_tag(st, "language"), title=stream_tag(st, "title"),
                                      forced=bool(disp & 0x40), default=bool(disp & 0x1)))
    if captions and first_video is not None and has_captions(path, first_video):
        out.append(SubtitleStream(index=first_video, codec="eia_608", text=True, captions=True))
    return out


def subtitle_picks(path: str | os.PathLike, pick: "int | str | Sequence[int | str] | None",
                   found: "Sequence[SubtitleStream] | None" = None
                   ) -> tuple[list[SubtitleStream], list[SubtitleStream]]:
    """(the subtitle streams to carry, the picture streams ``"all"`` passed over). ``pick``: None (none),
    ``"all"`` (every text stream, and the closed captions), the N-th subtitle stream (0 = the first),
    ``"cc"`` (the video's closed captions), the first text stream tagged with a language (``fra``, or
    ``fr``: tags compare as RFC 5646), or a list of those (a stream
    picked twice is carried once). InputError for a pick that matches nothing, naming what there is, or
    that names a picture stream. A stream carried whose language tag names no language (``english``, ``xx``:
    see :func:`pershot.languages.known`) is carried as undetermined (language ""), its tag published nowhere."""
    import dataclasses

    from .languages import bcp47, known

    def carried(streams: list[SubtitleStream]) -> list[SubtitleStream]:
        return [s if known(s.language) or not s.language else dataclasses.replace(s, language="") for s in streams]

    found = list(subtitle_streams(path) if found is None else found)
    name = Path(path).name
    have = ", ".join(s.describe(i) for i, s in enumerate(found)) or "none"
    if pick is None:
        return [], []
    if isinstance(pick, str) and pick.lower() == "all":
        text = [s for s in found if s.text]
        if not text:
            raise InputError(f"{name} has no text subtitle stream (its subtitle streams: {have})")
        return carried(text), [s for s in found if not s.text]
    picks = [pick] if isinstance(pick, (int, str)) else list(pick)
    out: list[SubtitleStream] = []
    for p in picks:
        if isinstance(p, str) and p.lower() == "cc":
            s = next((x for x in found if x.captions), None)
            if s is None:
                raise InputError(f"{name}'s video carries no closed captions (its subtitle streams: {have})")
        elif isinstance(p, int) or str(p).isdigit():
            n = int(p)
            if not 0 <= n < len(found):
                raise InputError(f"{name} has no subtitle stream {p!r} (its subtitle streams: {have})")
            s = found[n]
            if not s.text:
                raise InputError(f"subtitle stream {n} of {name} is {s.codec}, pictures: WebVTT needs text (turn "
                                 "it into text with an OCR tool, and give the file with --subtitle-file)")
        else:
            want = bcp47(str(p))
            s = next((x for x in found if x.text and want and bcp47(x.language) == want), None)
            if s is None:
                raise InputError(f"{name} has no text subtitle stream {p!r} (its subtitle streams: {have})")
        if s not in out:
            out.append(s)
    return carried(out), []


def parse_sidecar(spec: "str | os.PathLike | tuple[str | os.PathLike, str]") -> tuple[Path, str]:
    """A subtitle file as given: ``PATH``, ``PATH:LANG`` (``subs.fr.srt:fr``), or ``(PATH, LANG)``, ``LANG`` a
    language (:func:`pershot.languages.known`: ISO 639-1 or 639-2, or an RFC 5646 tag starting with one; ``und``
    and the like give ""). InputError where the language is not one (``english``, ``xx``), the file is not there,
    or is not UTF-8 (or UTF-16 with its byte-order mark) text."""
    from .languages import bcp47, known

    if isinstance(spec, tuple):
        path, lang = Path(spec[0]), str(spec[1] or "")
    else:
        s = os.fspath(spec)
        head, sep, tail = s.rpartition(":")
        if sep and head and _LANG.fullmatch(tail) and not Path(s).exists():
            path, lang = Path(head), tail
        else:
            path, lang = Path(s), ""
    if lang and not _LANG.fullmatch(lang):
        raise InputError(f"subtitle language {lang!r} is not a language tag (e.g. en, fra, pt-BR)")
    if lang and not known(lang):
        raise InputError(f"subtitle language {lang!r} of {path.name} is not an ISO 639-1/639-2 language code, nor "
                         "a tag starting with one (e.g. en, fra, pt-BR)")
    lang = lang if bcp47(lang) else ""  # und, mul...: no language to publish
    if not path.is_file():
        raise InputError(f"subtitle file {path} not found")
    data = path.read_bytes()
    if not data.startswith((b"\xff\xfe", b"\xfe\xff")):  # UTF-16 with its mark: ffmpeg reads it
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            raise InputError(f"subtitle file {path.name} is not UTF-8 text: convert it first "
                             f"(e.g. iconv -f cp1252 -t utf-8 {path.name})") from None
    return path, lang


def extract_args(src: str | os.PathLike, stream: "int | None", dst: str | os.PathLike,
                 captions: bool = False, copy: bool = False) -> list[str]:
    """ffmpeg arguments writing a subtitle stream of ``src`` (its index in the file; None: ``src`` is a
    subtitle file) to WebVTT at ``dst``, with the file's own timestamps (``-copyts``). ``captions``: the
    closed captions of video stream ``stream`` instead, decoded (CC1) by the ``movie`` source's ``subcc``
    output. ``copy``: a WebVTT stream, copied as it is (not decoded and encoded again)."""
    from .media import _escape_filter_value, input_arg

    if captions:
        graph = f"movie=filename={_escape_filter_value(input_arg(src))}:s={int(stream or 0)}[out0+subcc]"
        return ["-y", "-v", "error", "-copyts", "-f", "lavfi", "-i", graph, "-map", "0:s:0", "-c:s", "webvtt",
                "-f", "webvtt", input_arg(dst)]
    return ["-y", "-v", "error", "-copyts", "-i", input_arg(src), "-map", f"0:{0 if stream is None else stream}",
            "-vn", "-an", "-dn", "-c:s", "copy" if copy else "webvtt", "-f", "webvtt", input_arg(dst)]


def convert(src: str | os.PathLike, stream: "int | None" = None, captions: bool = False) -> tuple[list[Cue], float]:
    """(the cues, on the file's own clock; ffmpeg's CPU seconds) of a subtitle stream of ``src`` (its index;
    None: ``src`` is a subtitle file), or of its video's closed captions, as WebVTT. A WebVTT file is read as it
    is (its cue text, settings and identifiers kept), a WebVTT stream copied out as it is; any other is
    converted by ffmpeg, whose text is escaped (:func:`_encoded_cues`). InputError for a subtitle file ffmpeg
    cannot read (the user's file); FFmpegError otherwise."""
    import tempfile

    from . import ffmpeg
    from .errors import FFmpegError

    if stream is None and not captions:
        try:
            return read_vtt(_file_text(src)), 0.0
        except (OSError, InputError):
            pass  # not WebVTT: ffmpeg reads it
    copy = stream is not None and not captions and _codec(src, stream) == "webvtt"
    name = Path(src).name
    what = (f"reading the closed captions of {name} failed" if captions
            else f"reading subtitle stream {stream} of {name} failed" if stream is not None
            else f"reading subtitle file {name} failed")
    with tempfile.TemporaryDirectory(prefix="pershot-subs-") as d:
        raw = Path(d) / "raw.vtt"
        try:
            r = ffmpeg.run(extract_args(src, stream, raw, captions, copy), what=what)
        except FFmpegError as e:
            if stream is None:
                last = e.stderr.strip().splitlines()[-1] if e.stderr.strip() else str(e)
                raise InputError(f"subtitle file {name} is not a subtitle format ffmpeg reads (SubRip, WebVTT, "
                                 f"ASS, SCC...): {last}") from None
            raise
        try:
            text = raw.read_text(encoding="utf-8", errors="replace")
            return (read_vtt(text) if copy else _encoded_cues(text)), r.cpu_s
        except InputError as e:
            raise FFmpegError(f"{what}: {e}") from None


def _file_text(path: str | os.PathLike) -> str:
    """A subtitle file's text: UTF-16 where it starts with its byte-order mark, else UTF-8."""
    data = Path(path).read_bytes()
    return data.decode("utf-16" if data.startswith((b"\xff\xfe", b"\xfe\xff")) else "utf-8", errors="replace")


def _codec(src: str | os.PathLike, stream: int) -> str:
    """The codec of stream ``stream`` (its index) of ``src``, "" where there is none."""
    import av

    with av.open(os.fspath(src)) as c:
        st = next((x for x in c.streams if x.index == stream), None)
        return st.codec_context.name if st is not None and st.codec_context is not None else ""


def _encoded_cues(text: str) -> list[Cue]:
    """The cues of a WebVTT document as ffmpeg's WebVTT encoder writes it: every block a cue, its text the text
    as it is but for ``<i>``, ``<b>``, ``<u>`` and their end tags, the only markup it writes. That text is
    escaped here (:func:`_escape_encoded`), and a block that does not start with a timing line is the rest of
    the cue before (a blank line, from ASS's ``\\N\\N``, would end the cue in WebVTT: it is left out).
    InputError where it does not start with ``WEBVTT``."""
    text = text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    if not re.match(r"WEBVTT(?:[ \t].*)?(?:\n|$)", text):
        raise InputError("not a WebVTT document (it does not start with WEBVTT)")
    out: list[Cue] = []
    for block in re.split(r"\n{2,}", text.strip("\n"))[1:]:
        first, _, rest = block.partition("\n")
        m = _TIMING.match(first)
        if m is not None:
            out.append(Cue(_seconds(m.group(1)), _seconds(m.group(2)), rest))
        elif out:
            last = out[-1]
            out[-1] = Cue(last.start_s, last.end_s, f"{last.text}\n{block}" if last.text else block)
    return [Cue(c.start_s, c.end_s, _escape_encoded(c.text)) for c in out]


def _escape_encoded(text: str) -> str:
    """Cue text as ffmpeg's WebVTT encoder writes it, with its ``<`` and ``>`` escaped but for the tags it writes
    (``<i>``...``</u>``), and its ``&`` but where it starts a character reference (``&amp;``, ``&#233;``: a
    SubRip author who writes one means the character, as a WebVTT reader takes it)."""
    def text_part(t: str) -> str:
        return _BARE_AMP.sub("&amp;", t).replace("<", "&lt;").replace(">", "&gt;")

    parts, at = [], 0
    for m in _FFMPEG_TAG.finditer(text):
        parts += [text_part(text[at:m.start()]), m.group()]
        at = m.end()
    return "".join(parts + [text_part(text[at:])])


# ---------------------------------------------------------------- WebVTT


def _seconds(ts: str) -> float:
    parts = ts.split(":")
    h, m, s = (0, *parts) if len(parts) == 2 else parts
    return int(h) * 3600 + int(m) * 60 + float(s)


def timestamp(seconds: float) -> str:
    """A WebVTT timestamp, ``hh:mm:ss.ttt`` (to the millisecond, rounded)."""
    ms = max(0, int(round(seconds * 1000)))
    return f"{ms // 3600000:02d}:{ms // 60000 % 60:02d}:{ms // 1000 % 60:02d}.{ms % 1000:03d}"


def read_vtt(text: str) -> list[Cue]:
    """The cues of a WebVTT document (the header, ``NOTE``, ``STYLE`` and ``REGION`` blocks passed over).
    InputError where it does not start with ``WEBVTT``."""
    text = text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    if not re.match(r"WEBVTT(?:[ \t].*)?(?:\n|$)", text):
        raise InputError("not a WebVTT document (it does not start with WEBVTT)")
    cues = []
    for block in re.split(r"\n{2,}", text)[1:]:
        lines = block.strip("\n").split("\n")
        if not lines or not lines[0].strip():
            continue
        ident = ""
        m = _TIMING.match(lines[0])
        if m is None and len(lines) > 1:
            ident, m = lines[0].strip(), _TIMING.match(lines[1])
            lines = lines[1:]
        if m is None:  # NOTE, STYLE, REGION, or something that is not a cue
            continue
        cues.append(Cue(_seconds(m.group(1)), _seconds(m.group(2)), "\n".join(lines[1:]), m.group(3).strip(), ident))
    return cues


def escape_text(text: str) -> str:
    """Text as WebVTT cue text shows it: ``&``, ``<`` and ``>`` as ``&amp;``, ``&lt;`` and ``&gt;`` (else a ``<``
    opens a tag, a ``&`` an entity, and ``-->`` ends the cue)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def vtt_text(cues: Sequence[Cue], header: Sequence[str] = ()) -> str:
    """A WebVTT document of ``cues``; ``header``: lines after ``WEBVTT`` (``X-TIMESTAMP-MAP=...``). Their text
    is cue text, written as it is, but where it would break the document: a ``-->`` in it (which would end the
    cue) is written ``--&gt;``, and an empty line (which would end it too) is left out."""
    out = ["WEBVTT", *header, ""]
    for c in cues:
        if c.ident and "-->" not in c.ident:
            out.append(c.ident)
        out.append(f"{timestamp(c.start_s)} --> {timestamp(c.end_s)}" + (f" {c.settings}" if c.settings else ""))
        lines = c.text.replace("\r\n", "\n").replace("\r", "\n").replace("-->", "--&gt;").split("\n")
        out += [ln for ln in lines if ln] + [""]
    return "\n".join(out)


def to_title_time(cues: Sequence[Cue], t0: float, span: float) -> list[Cue]:
    """The cues on the renditions' clock: moved back by ``t0`` (the source time of the first video frame),
    those outside [0, ``span``) dropped and those across its ends cut to it; in order of start."""
    out = []
    for c in cues:
        a, b = max(0.0, c.start_s - t0), min(span, c.end_s - t0)
        if b > a:
            out.append(Cue(a, b, c.text, c.settings, c.ident))
    return sorted(out, key=lambda c: (c.start_s, c.end_s))


def shifted(cues: Sequence[Cue], by: float) -> list[Cue]:
    """The cues ``by`` seconds later."""
    return [Cue(c.start_s + by, c.end_s + by, c.text, c.settings, c.ident) for c in cues]


def segment_cues(cues: Sequence[Cue], starts: Sequence[float]) -> list[list[Cue]]:
    """The cues of each segment (segment ``i`` from ``starts[i]`` to ``starts[i+1]``, the last to the end):
    every cue shown at some instant of it, so a cue across a boundary is in both segments."""
    ends = list(starts[1:]) + [float("inf")]
    return [[c for c in cues if c.start_s < b and c.end_s > a] for a, b in zip(starts, ends)]


def hls_segment_text(cues: Sequence[Cue], mpegts: int) -> str:
    """An HLS WebVTT segment: its ``X-TIMESTAMP-MAP`` pins the cues' time 0 to ``mpegts`` (90 kHz ticks,
    the video segments' presentation time of the first frame)."""
    return vtt_text(cues, [f"X-TIMESTAMP-MAP=MPEGTS:{int(mpegts)},LOCAL:00:00:00.000"])


def hls_media_playlist(durations: Sequence[float], names: Sequence[str], version: int = 3,
                       header: Sequence[str] = (), tags: "Sequence[Sequence[str]] | None" = None) -> str:
    """A VOD media playlist of the segments ``names``, ``durations`` seconds each; ``header``: more tags after
    the standard ones (``#EXT-X-IMAGES-ONLY``), ``tags``: lines before each segment's URI, after its EXTINF."""
    import math

    target = max(1, math.ceil(max(durations) - 1e-6)) if durations else 1
    lines = ["#EXTM3U", f"#EXT-X-VERSION:{version}", f"#EXT-X-TARGETDURATION:{target}", "#EXT-X-MEDIA-SEQUENCE:0",
             "#EXT-X-PLAYLIST-TYPE:VOD", *header]
    for i, (d, n) in enumerate(zip(durations, names)):
        lines += [f"#EXTINF:{d:.6f},", *(tags[i] if tags else ()), n]
    return "\n".join(lines + ["#EXT-X-ENDLIST"]) + "\n"


def folder(k: int) -> str:
    """The folder of the k-th subtitle rendition in an HLS package: ``subs``, then ``subs1``, ``subs2``..."""
    return "subs" if k == 0 else f"subs{k}"


def display_name(language: str, title: str, k: int, forced: bool = False, captions: bool = False) -> str:
    """What a player lists a subtitle rendition as: its title tag, else its language's name (``French
    (forced)``; closed captions ``English (CC)``, or ``Captions``), else a number."""
    from .languages import language_name

    name = language_name(language) or language
    if captions:
        return title or (f"{name} (CC)" if name else "Captions")
    name = name or f"Subtitles {k + 1}"
    return title or (f"{name} (forced)" if forced else name)


def unique_names(names: Sequence[str]) -> list[str]:
    """The names, a repeated one numbered (``English``, ``English 2``): HLS needs them distinct in a group."""
    seen: dict[str, int] = {}
    out = []
    for n in names:
        seen[n] = seen.get(n, 0) + 1
        out.append(n if seen[n] == 1 else f"{n} {seen[n]}")
    return out


def check_pick(pick: Any) -> None:
    """InputError for a subtitle pick that is neither a number, a language tag, ``all`` nor a list of those."""
    for p in (list(pick) if isinstance(pick, (list, tuple)) else [] if pick is None else [pick]):
        if isinstance(p, bool) or not (isinstance(p, int) and p >= 0 or isinstance(p, str) and (
                p.isdigit() or p.lower() in ("all", "cc") or _LANG.fullmatch(p))):
            raise InputError(f"subtitles: {p!r} is not a stream number, a language tag, cc or all")


def sidecar_meta(path: Path, lang: str) -> Mapping[str, Any]:
    """Language and title of a subtitle file: the language given, else one in its name (``film.fr.srt``)."""
    from .languages import known, language_name

    if not lang:
        parts = path.name.split(".")
        guess = parts[-2] if len(parts) >= 3 else ""
        lang = guess if known(guess) and language_name(guess) else ""
    return {"language": lang, "title": ""}
