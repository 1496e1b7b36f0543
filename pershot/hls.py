"""HLS packaging of encoded renditions (``pershot encode --hls``): segments cut by ffmpeg's ``hls``
muxer without re-encoding, and a master playlist whose figures pershot works out itself. H.264
ladders get MPEG-TS segments; HEVC and AV1 ladders fragmented MP4 (Apple's HLS authoring spec allows
them only there). HEVC rungs are tagged ``hvc1`` with the parameter sets in the initialization
segment alone where a rung's shots share one set, as Apple devices need, else ``hev1`` with them in
band (the rung's shots came from presets whose parameter sets differ: x265 ultrafast, superfast and
slower/veryslow each write their own). AV1 rungs are ``av01``; each shot's key frame carries its
sequence header in band, and the initialization segment's ``av1C`` the first shot's: a rung whose
shots came from SVT-AV1 presets that signal different tools carries several
(:func:`several_sequence_headers` names such rungs).

Segments can only start at keyframes, and a pershot rendition has one at each shot's first frame
(the same frames in every rung): so segments line up across rungs, as players switching rungs need,
and last from the segment target to the target plus one shot. The master playlist's
``BANDWIDTH`` is the peak segment bit rate of the rung (TS overhead included; as RFC 8216 defines it,
over runs of segments lasting 0.5 to 1.5 target durations: :func:`peak_and_average`) plus the
audio rendition's, ``AVERAGE-BANDWIDTH`` the same with averages, and ``CODECS`` covers every shot of a
rung: its shots can have come from different presets and so from different H.264 profiles (x264
ultrafast writes Constrained Baseline, the others High), which ffmpeg's own master playlist,
taken from the first shot, would get wrong.

Every variant also gets an I-frame playlist (``iframes.m3u8``, ``EXT-X-I-FRAMES-ONLY``) for trick play
(scrubbing, fast forward), listed in the master with ``EXT-X-I-FRAME-STREAM-INF``: byte ranges of the
variant's own segments, so no media is copied (:func:`iframe_playlist`). In MPEG-TS every key frame
is listed (each shot's first frame), its range starting at the PAT that ffmpeg's muxer writes before
each key frame so that it decodes alone; in fragmented MP4, the key frame each segment starts with
(the muxer writes one fragment per segment, and a later key frame's range would start at a fragment
whose first sample is another picture).

One timeline: every stream of a package shows the title's time 0 at presentation time
:data:`TIME_OFFSET_S` (10 s), each input moved that much later and MPEG-TS cut without its muxer's own
delay. Players line up the variants, the audio renditions and the subtitles by these timestamps, and
the streams of a package come from several ffmpeg runs where ladders of several codecs are packaged
together (MPEG-TS H.264 beside fragmented-MP4 HEVC and audio): before this, such H.264 variants started at
1.47 s and their audio at 0.02 s, 1.4 s out of step.

Subtitles (:mod:`pershot.subtitles`): a ``SUBTITLES`` group, each subtitle rendition a WebVTT media
playlist whose segments are cut where the video's are, each with ``X-TIMESTAMP-MAP`` mapping its time 0
to :data:`TIME_OFFSET_S`; every variant names the group.
"""
from __future__ import annotations

import itertools
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from fractions import Fraction
from typing import Sequence

from .atomic import atomic_dir
from .bitstream import avc_codec_string, entry_args, h264_sps, hevc_entry_and_codec
from .errors import InputError
from .languages import bcp47, published

__all__ = ["Segments", "read_playlist", "package_args", "package", "in_band_rungs", "several_sequence_headers",
           "avc_codec_string", "h264_sps", "iframe_playlist", "ts_keyframes", "fmp4_first_sample"]

#: the segment duration aimed at, in seconds (Apple's HLS authoring spec: 6)
DEFAULT_SEGMENT_S = 6.0
#: the presentation time, in seconds, at which every stream of an HLS package shows the title's time 0 (its
#: first video frame, and the audio and subtitles in step with it), whatever its container and whichever
#: ffmpeg run cut it: more than any rendition's reorder delay or audio priming, so no timestamp is negative
TIME_OFFSET_S = 10.0
#: MPEG-TS without the muxer's own delay (1.4 s by default), so TS and fragmented-MP4 segments share a timeline
_TS_NO_DELAY = ("-muxdelay", "0", "-muxpreload", "0")
AAC_LC = "mp4a.40.2"


@dataclass(frozen=True)
class Segments:
    """A media playlist's segments: (path, seconds) each, and its target duration (``#EXT-X-TARGETDURATION``;
    None where it has none)."""

    playlist: Path
    items: tuple[tuple[Path, float], ...]
    target_s: float | None = None

    def rates_bps(self) -> tuple[float, float]:
        """(peak, average) bit rate over the segments, bytes on disk (TS overhead included): see
        :func:`peak_and_average`."""
        return peak_and_average([(p.stat().st_size * 8.0, d) for p, d in self.items], self.target_s)


def peak_and_average(bits_seconds: Sequence[tuple[float, float]],
                     target_s: float | None = None) -> tuple[float, float]:
    """(peak, average) bit rate of a media playlist's segments given as (bits, seconds). The peak is its peak
    segment bit rate as RFC 8216 defines it (section 4.1; what ``BANDWIDTH``, section 4.3.4.2, counts): the
    highest rate (bits over seconds) of any run of consecutive segments lasting 0.5 to 1.5 times the target
    duration ``target_s`` (None: the longest segment's rounded up, the least a playlist may give). So a segment
    far shorter than the target, such as an audio playlist's last (AAC priming past the video's end: 0.02 s,
    mostly MPEG-TS tables) or a one-frame last shot's, counts with the one before it rather than alone. A
    segment longer than 1.5 times the target (which a playlist's target rules out) counts alone; a playlist
    shorter than half the target has no such run, and its peak is its average. The average: all the bits
    over all the time."""
    items = [(float(b), float(d)) for b, d in bits_seconds]
    total = sum(d for _, d in items)
    avg = sum(b for b, _ in items) / total if total > 0 else 0.0
    if target_s is None or not target_s > 0:
        target_s = max(1, math.ceil(max((d for _, d in items), default=0.0) - 1e-6))
    lo, hi = 0.5 * target_s - 1e-6, 1.5 * target_s + 1e-6  # a microsecond's slack for EXTINF's rounding
    peak = None
    for i, (b, d) in enumerate(items):
        if d > hi:
            peak = max(peak or 0.0, b / d)
            continue
        bits, secs = 0.0, 0.0
        for b2, d2 in itertools.islice(items, i, None):
            bits, secs = bits + b2, secs + d2
            if secs > hi:
                break
            if secs >= lo and secs > 0:
                peak = max(peak or 0.0, bits / secs)
    return (avg if peak is None else peak), avg


def end_playlist_at(path: str | os.PathLike, total_s: float) -> None:
    """Make a media playlist's segments add up to ``total_s``, the rendition's length, by its last ``#EXTINF``:
    ffmpeg's HLS muxer ends the last segment where its packets' decode times say, which for a VFR rendition
    (its last frame longer than the B-frame delay lets the muxer see) falls short of the last frame's end,
    and by more or less in each variant. ``#EXT-X-TARGETDURATION`` grows if the last segment then needs it."""
    p = Path(path)
    lines = p.read_text(encoding="utf-8").splitlines()
    infs = [i for i, line in enumerate(lines) if line.startswith("#EXTINF:")]
    if not infs:
        return
    last = total_s - sum(float(lines[i][8:].split(",")[0]) for i in infs[:-1])
    if not last > 0 or abs(last - float(lines[infs[-1]][8:].split(",")[0])) < 1e-6:
        return
    lines[infs[-1]] = f"#EXTINF:{last:.6f},"
    for i, line in enumerate(lines):
        if line.startswith("#EXT-X-TARGETDURATION:"):
            lines[i] = f"#EXT-X-TARGETDURATION:{max(int(line.split(':')[1]), int(last + 0.5))}"
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")


def read_playlist(path: str | os.PathLike) -> Segments:
    """The segments of a media playlist (``#EXTINF`` durations and the URIs after them) and its target duration."""
    p = Path(path)
    items, dur, target = [], None, None
    for line in p.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line.startswith("#EXTINF:"):
            dur = float(line[8:].split(",")[0])
        elif line.startswith("#EXT-X-TARGETDURATION:"):
            target = float(line.split(":", 1)[1])
        elif line and not line.startswith("#") and dur is not None:
            items.append((p.parent / line, dur))
            dur = None
    return Segments(playlist=p, items=tuple(items), target_s=target)


def split_renditions(renditions: Sequence, segment_s: float, what: str) -> tuple[list, list]:
    """(video rungs by rung number, the audio renditions, the first the default) of what a packager is given;
    InputError for a segment duration that is not positive, no video rung, or a rung whose
    resolution changes shot by shot."""
    if not segment_s > 0:
        raise InputError(f"the {what} segment duration must be > 0 s, got {segment_s:g}")
    videos = sorted((r for r in renditions if r.kind == "video"), key=lambda r: r.rung)
    if not videos:
        raise InputError("no video rendition to package")
    for r in videos:
        if not r.height:
            raise InputError(f"rung {r.rung} changes resolution shot by shot: {what} packaging needs one resolution "
                             "per rung (a ladder without --per-shot-resolution)")
    return videos, sorted((r for r in renditions if r.kind == "audio"), key=lambda r: -r.rung)  # -1, -2...


def subtitle_renditions(renditions: Sequence) -> list:
    """The subtitle renditions (kind ``subtitles``, and ``captions``: closed captions as WebVTT) among what a
    packager is given, in order (rung -101, -102...)."""
    return sorted((r for r in renditions if r.kind in ("subtitles", "captions")), key=lambda r: -r.rung)


#: the HLS group of the subtitle renditions
SUBTITLE_GROUP = "subs"


def subtitle_playlists(subs: Sequence, tmp: Path, durations: Sequence[float]) -> list[str]:
    """Cut each subtitle rendition (a WebVTT file on the title's clock) into segments where the video's
    are (``durations``, the first variant's), under ``tmp/subs/`` (``subs1/``...) with a media playlist each;
    return their ``EXT-X-MEDIA`` lines for the master playlist."""
    from . import subtitles as st

    starts = list(itertools.accumulate([0.0] + list(durations)[:-1]))
    ticks = round(TIME_OFFSET_S * 90000)
    lines = []
    for k, r in enumerate(subs):
        cues = st.read_vtt(Path(r.path).read_text(encoding="utf-8"))
        d = tmp / st.folder(k)
        d.mkdir(parents=True, exist_ok=True)
        names = [f"seg_{i:05d}.vtt" for i in range(len(starts))]
        for name, part in zip(names, st.segment_cues(cues, starts)):
            (d / name).write_text(st.hls_segment_text(part, ticks), encoding="utf-8")
        (d / "index.m3u8").write_text(st.hls_media_playlist(durations, names), encoding="utf-8")
        lang = bcp47(r.language)
        # a forced track is picked by the player (AUTOSELECT) where the audio's language is not the viewer's;
        # closed captions, as WebVTT, are subtitles for the deaf and hard of hearing (Apple's SDH characteristics)
        sdh = ',CHARACTERISTICS="public.accessibility.transcribes-spoken-dialog,' \
              'public.accessibility.describes-music-and-sound"' if r.kind == "captions" else ""
        lines.append(f'#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="{SUBTITLE_GROUP}",NAME="{_quoted(r.name)}",'
                     + (f'LANGUAGE="{_quoted(lang)}",' if lang else "")
                     + f'DEFAULT=NO,AUTOSELECT=YES,FORCED={"YES" if r.forced else "NO"}{sdh},'
                     f'URI="{st.folder(k)}/index.m3u8"')
    return lines


def image_stream(cues: Sequence, board, tmp: Path) -> list[str]:
    """The storyboard (its cues: each shot's thumbnail over the shot's span, images under ``tmp/thumbnails/``)
    as an image media playlist (the HLS extension Roku, Shaka and Bitmovin read: ``EXT-X-IMAGES-ONLY``, one
    1x1 ``EXT-X-TILES`` image per shot) in ``tmp/thumbnails/index.m3u8``, where every image is JPEG (the
    format it allows); return its ``EXT-X-IMAGE-STREAM-INF`` line for the master, or nothing."""
    from .subtitles import hls_media_playlist

    if not cues or not all(Path(c.text).suffix.lower() in (".jpg", ".jpeg") and Path(c.text).parent.name ==
                           "thumbnails" for c in cues):
        return []
    w, h = board.width, board.height
    durations = [c.end_s - c.start_s for c in cues]
    tiles = [[f"#EXT-X-TILES:RESOLUTION={w}x{h},LAYOUT=1x1,DURATION={d:.6f}"] for d in durations]
    text = hls_media_playlist(durations, [Path(c.text).name for c in cues], version=7,
                              header=["#EXT-X-IMAGES-ONLY"], tags=tiles)
    (tmp / "thumbnails" / "index.m3u8").write_text(text, encoding="utf-8")
    target = read_playlist(tmp / "thumbnails" / "index.m3u8").target_s  # the peak is over runs of about that
    peak, _ = peak_and_average([((tmp / c.text).stat().st_size * 8.0, d) for c, d in zip(cues, durations)], target)
    return [f'#EXT-X-IMAGE-STREAM-INF:BANDWIDTH={max(1, round(peak))},RESOLUTION={w}x{h},CODECS="jpeg",'
            'URI="thumbnails/index.m3u8"']


def audio_labels(tags: Sequence[dict]) -> list[str]:
    """What a player's audio menu lists each audio rendition as (HLS ``NAME``, DASH ``Label``), from the
    tags it carries (:func:`rendition_audio_tags`): its title, else its language's name, else
    "Audio"; its layout where it has more than two channels ("English 5.1"); repeated names numbered."""
    from .languages import language_name
    from .subtitles import unique_names

    out = []
    for t in tags:
        ch = int(t.get("channels") or 2)
        name = t.get("title") or language_name(t.get("language") or "") or "Audio"
        out.append(f"{name} {layout_label(str(t.get('layout') or ''), ch)}" if ch > 2 and not t.get("title") else name)
    return unique_names(out)


#: ffmpeg's named layouts without a number, as the x.y a menu shows
_NAMED_LAYOUTS = {"quad": "4.0", "hexagonal": "6.0", "octagonal": "8.0", "surround": "3.0", "stereo": "2.0"}


def layout_label(layout: str, channels: int) -> str:
    """A channel layout as an audio menu shows it: ffmpeg's ``5.1(side)`` as 5.1, ``octagonal`` (no LFE) as
    8.0, not 7.1; where no layout is known, 5.1 for six channels and 7.1 for eight; else ``N ch``."""
    base = layout.split("(")[0]
    if re.fullmatch(r"\d+\.\d+(\.\d+)?", base):
        return base
    return _NAMED_LAYOUTS.get(base) or ({6: "5.1", 8: "7.1"}.get(channels) if not base else None) or f"{channels} ch"


def rendition_audio_tags(path: str | os.PathLike) -> dict:
    """An audio rendition's stream as :func:`pershot.renditions.audio_streams` reads it (channels, language,
    title), what :func:`audio_labels` names it from. The title is the source stream's, which ffmpeg's MP4
    muxer keeps in the track's ``name`` box, read back as the tag ``name`` and not ``title``: that too counts
    as its title, so a rendition (MP4) keeps the one its source (Matroska) gave it."""
    from .renditions import audio_streams

    return dict(audio_streams(path)[0])  # which reads an MP4 track's "name" as its title


def _audio_list(audio: "str | Sequence[str] | None") -> list[str]:
    return [] if not audio else [audio] if isinstance(audio, (str, os.PathLike)) else list(audio)


def audio_folder(k: int) -> str:
    """The folder of the k-th audio rendition in an HLS package: ``audio``, then ``audio1``, ``audio2``..."""
    return "audio" if k == 0 else f"audio{k}"


def input_args(videos: Sequence[str], audio: "str | Sequence[str] | None", offset_s: float | None = None) -> list[str]:
    """ffmpeg arguments that read the rung files and the audio file(s), and map their streams in that
    order (video of each rung, then each audio): what a packager's output starts from. ``offset_s``: every
    input's timestamps moved that much later (HLS: :data:`TIME_OFFSET_S`)."""
    from .media import input_arg

    audios = _audio_list(audio)
    args = ["-y", "-v", "error"]
    for p in [*videos, *audios]:
        args += (["-itsoffset", f"{offset_s:g}"] if offset_s else []) + ["-i", input_arg(p)]
    for i in range(len(videos)):
        args += ["-map", f"{i}:v:0"]
    for k in range(len(audios)):
        args += ["-map", f"{len(videos) + k}:a:0"]
    return args


def _audio_stream_map(n: int) -> str:
    """``var_stream_map`` entries of ``n`` audio renditions in one group, the first the default."""
    return " ".join(f"a:{k},agroup:audio,{'default:yes,' if k == 0 else ''}name:{audio_folder(k)}" for k in range(n))


def package_args(videos: Sequence[tuple[str, str]], audio: "str | Sequence[str] | None", out_dir: str | os.PathLike,
                 segment_s: float = DEFAULT_SEGMENT_S, entries: "Sequence[str | None] | None" = None) -> list[str]:
    """ffmpeg arguments cutting the renditions (``(name, path)`` per rung, and the audio file) into
    segments and one media playlist each under ``out_dir/NAME/`` (no re-encoding): MPEG-TS, or with
    ``entries`` (a sample entry per rung: for HEVC ``hvc1`` or ``hev1``, None for the muxer's own, as
    AV1's ``av01``) fragmented MP4, each rung tagged so and, for ``hvc1``, its in-band parameter sets
    dropped (the initialization segment holds them)."""
    args = input_args([p for _, p in videos], audio, TIME_OFFSET_S)
    fmp4 = entries is not None
    for i, entry in enumerate(entries or ()):
        if entry:
            args += entry_args(i, entry)
    group = ",agroup:audio" if audio else ""
    vsm = " ".join(f"v:{i}{group},name:{n}" for i, (n, _) in enumerate(videos))
    if audio:
        vsm += " " + _audio_stream_map(len(_audio_list(audio)))
    out = os.fspath(out_dir)
    kind = ["-hls_segment_type", "fmp4", "-hls_fmp4_init_filename", "init.mp4"] if fmp4 else [
        "-hls_segment_type", "mpegts", *_TS_NO_DELAY]
    return args + ["-c", "copy", "-f", "hls", "-hls_time", f"{segment_s:g}", "-hls_playlist_type", "vod",
                   *kind, "-var_stream_map", vsm,
                   "-hls_segment_filename", os.path.join(out, "%v", "seg_%05d." + ("m4s" if fmp4 else "ts")),
                   os.path.join(out, "%v", "index.m3u8")]


def in_band_rungs(master: str | os.PathLike) -> list[str]:
    """The variants of a master playlist whose HEVC parameter sets travel in band (``CODECS="hev1..."``),
    by their playlist URI: Apple devices play HEVC tagged ``hvc1`` only."""
    lines = Path(master).read_text(encoding="utf-8").splitlines()
    return [uri for inf, uri in zip(lines, lines[1:]) if inf.startswith("#EXT-X-STREAM-INF") and 'CODECS="hev1.' in inf]


def several_sequence_headers(renditions: Sequence) -> list[int]:
    """The AV1 video rungs among :class:`pershot.renditions.Rendition` rows that carry more than one
    sequence header (their shots came from SVT-AV1 presets that signal different coding tools): they
    play through dav1d, but the initialization segment's ``av1C`` holds the first shot's header only,
    which strict readers of the AV1-in-MP4 binding, and hardware decoders, may not accept."""
    from .bitstream import av1_stream, codec_of

    return sorted(r.rung for r in renditions if r.kind == "video" and codec_of(r.path) == "av1"
                  and av1_stream(r.path).sequence_headers > 1)


#: the codecs HLS and DASH package, in the order a master playlist lists them and a manifest's adaptation
#: sets come (H.264 first: every device plays it)
PACKAGED_CODECS = ("h264", "hevc", "av1")


def codec_groups(videos: Sequence, what: str) -> list[tuple[str, list]]:
    """The video rungs grouped by codec, in :data:`PACKAGED_CODECS` order: ``(codec, rungs)`` each.
    InputError for another codec, or for rung numbers repeated within one (one ladder per codec).
    ``what``: the packaging, for the messages (HLS, DASH)."""
    from .bitstream import codec_of

    kinds = [codec_of(r.path) for r in videos]
    for r, k in zip(videos, kinds):
        if k not in PACKAGED_CODECS:
            raise InputError(f"rung {r.rung} is {k}: {what} packaging is for H.264, HEVC and AV1 ladders "
                             "(x264, x265 and SVT-AV1)")
    groups = [(k, [r for r, kk in zip(videos, kinds) if kk == k]) for k in PACKAGED_CODECS if k in kinds]
    for k, rs in groups:
        if len({r.rung for r in rs}) != len(rs):
            raise InputError(f"the {k} rungs repeat rung numbers: {what} packages one ladder per codec")
    return groups


def _codec_plan(videos: Sequence, kind: str) -> tuple["list[str | None] | None", list[str]]:
    """(sample entries, or None for MPEG-TS; codec string per rung) of one codec's rungs."""
    from .bitstream import av1_stream

    if kind == "hevc":  # hvc1 needs one set of parameter sets, all in the initialization segment
        pairs = [hevc_entry_and_codec(r.path) for r in videos]
        return [e for e, _ in pairs], [c for _, c in pairs]
    if kind == "av1":  # fragmented MP4, the muxer's av01 sample entry
        return [None] * len(videos), [av1_stream(r.path).codec for r in videos]
    return None, [avc_codec_string(h264_sps(r.path)) for r in videos]


def package(renditions: Sequence, out_dir: str | os.PathLike, fps: "Fraction | float | None" = None,
            segment_s: float = DEFAULT_SEGMENT_S) -> Path:
    """Package :class:`pershot.renditions.Rendition` rows (video rungs, and the audio one if there)
    as HLS in ``out_dir`` (replaced whole when done); return the master playlist's path. ``fps``: the
    source's frame rate, for ``FRAME-RATE`` (a joined rendition's MP4 timing does not give it exactly).

    The rungs of one ladder (one codec) go to ``rungNN/``, with the audio in ``audio/``. Rungs of
    several codecs (one ladder each, as :func:`pershot.renditions.encode_ladders` makes them: H.264
    beside HEVC, as Apple's HLS authoring spec asks of an HEVC title) go to ``h264/rungNN/``,
    ``hevc/rungNN/``, ``av1/rungNN/``, sharing one audio group; their segments must line up (the
    ladders were made from the same shots), and the master lists every variant, H.264's first."""
    from . import ffmpeg
    from .bitstream import colour_of

    videos, audios = split_renditions(renditions, segment_s, "HLS")
    subs = subtitle_renditions(renditions)
    apaths = [a.path for a in audios]
    groups = codec_groups(videos, "HLS")  # before anything is written: an unfit rendition fails here
    several = len(groups) > 1
    plans = {k: _codec_plan(rs, k) for k, rs in groups}
    # AAC 7.1 (channel configuration 12) cannot be carried in MPEG-TS (ADTS stops at 7): fragmented MP4
    wide = any(aac_channel_config(a) > 7 for a in apaths)
    apart = several or wide  # the audio packaged on its own
    out = Path(out_dir)
    with atomic_dir(out) as tmp:
        placed = []  # (folder name under out, rendition, codec string)
        for k, rs in groups:
            entries, codecs = plans[k]
            base = tmp / k if several else tmp
            names = [(f"rung{r.rung:02d}", r.path) for r in rs]
            # one ladder: its audio in the same run; several (or 7.1 audio): the audio on its own, below
            ffmpeg.run(package_args(names, apaths if not apart else None, base, segment_s, entries),
                       what="HLS packaging failed")
            placed += [(f"{k}/{n}" if several else n, r, c, entries is not None)
                       for (n, _), r, c in zip(names, rs, codecs)]
        # version 7 for fragmented MP4 (EXT-X-MAP), as ffmpeg writes the media playlists
        fmp4 = any(plans[k][0] is not None for k, _ in groups) or wide
        if audios and apart:  # fragmented MP4 beside HEVC or AV1, as one ladder of theirs has it
            ffmpeg.run(audio_package_args(apaths, tmp, segment_s, fmp4), what="HLS packaging of the audio failed")
        lines = ["#EXTM3U", f"#EXT-X-VERSION:{7 if fmp4 else 3}", "#EXT-X-INDEPENDENT-SEGMENTS"]
        a_peak = a_avg = 0.0
        codecs_audio = ""
        tags_of = [rendition_audio_tags(a.path) for a in audios]  # channels, and the source stream's tags it carries
        labels = audio_labels(tags_of)
        for k, (audio, tags) in enumerate(zip(audios, tags_of)):  # one group; the first is the default; a
            # variant's BANDWIDTH counts the most demanding of them
            peak, avg = read_playlist(tmp / audio_folder(k) / "index.m3u8").rates_bps()
            a_peak, a_avg = max(a_peak, peak), max(a_avg, avg)
            ch, lang = tags["channels"] or 2, published(tags["language"])
            lines.append(f'#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="audio",NAME="{_quoted(labels[k])}",'
                         + (f'LANGUAGE="{_quoted(lang)}",' if lang else "")
                         + f'DEFAULT={"YES" if k == 0 else "NO"},AUTOSELECT=YES,CHANNELS="{ch}",'
                         f'URI="{audio_folder(k)}/index.m3u8"')
            codecs_audio = "," + AAC_LC
        rows = []
        first = None
        tol = 0.5 / float(fps) if fps else 0.02  # half a frame
        for name, r, codec, in_fmp4 in placed:
            end_playlist_at(tmp / name / "index.m3u8", r.duration_s)
            seg = read_playlist(tmp / name / "index.m3u8")
            if not seg.items:
                raise InputError(f"rung {r.rung}: no HLS segment was written")
            # where the segments start (the last one's length varies with the rung's last frame duration)
            cuts = list(itertools.accumulate([0.0] + [d for _, d in seg.items][:-1]))
            if first is None:
                first = (name, cuts)
            elif len(cuts) != len(first[1]) or any(abs(a - b) > tol for a, b in zip(cuts, first[1])):
                raise InputError(f"HLS variant {name}'s segments do not line up with {first[0]}'s: ladders packaged "
                                 "together must come from the same shots (one shots.csv)")
            peak, avg = seg.rates_bps()
            rate = f",FRAME-RATE={float(fps):.3f}" if fps else ""
            vrange = colour_of(r.path).video_range  # HDR variants say so; SDR is what a player assumes
            rate += f",VIDEO-RANGE={vrange}" if vrange != "SDR" else ""
            # trick play: the variant's key frames, as byte ranges of its own segments
            text, i_peak, i_avg = iframe_playlist(seg, in_fmp4)
            (tmp / name / "iframes.m3u8").write_text(text, encoding="utf-8")
            irange = f",VIDEO-RANGE={vrange}" if vrange != "SDR" else ""
            rows.append((name.split("/")[0] if several else "", peak + a_peak, (
                f"#EXT-X-STREAM-INF:BANDWIDTH={round(peak + a_peak)},AVERAGE-BANDWIDTH={round(avg + a_avg)},"
                f'RESOLUTION={r.width}x{r.height}{rate},CODECS="{codec}{codecs_audio}"'
                + (',AUDIO="audio"' if audios else "") + (f',SUBTITLES="{SUBTITLE_GROUP}"' if subs else "")
                + ",CLOSED-CAPTIONS=NONE",  # encoded from decoded pictures: no caption data travels in band
                f"{name}/index.m3u8"),
                f"#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH={round(i_peak)},AVERAGE-BANDWIDTH={round(i_avg)},"
                f'RESOLUTION={r.width}x{r.height},CODECS="{codec}"{irange},URI="{name}/iframes.m3u8"'))
        lines += subtitle_playlists(subs, tmp, [d for _, d in read_playlist(tmp / first[0] / "index.m3u8").items])
        from .thumbnails import copy_storyboard

        images = []
        for board in (r for r in renditions if r.kind == "thumbnails"):  # scrubbing previews, beside the master
            images += image_stream(copy_storyboard(board.path, tmp), board, tmp)
        order = {k: i for i, k in enumerate(PACKAGED_CODECS)}
        ranked = sorted(rows, key=lambda x: (order.get(x[0], -1), x[1]))
        for _, _, (inf, uri), _ in ranked:
            lines += [inf, uri]
        lines += [x[3] for x in ranked]  # the I-frame variants, in the same order
        lines += images
        (tmp / "master.m3u8").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return out / "master.m3u8"


def aac_channel_config(path: str | os.PathLike) -> int:
    """The channel configuration of an AAC file's AudioSpecificConfig (ISO/IEC 14496-3: 2 stereo, 6 5.1,
    12 7.1); 0 where it is given by a program config element, or the file holds no AAC."""
    import av

    with av.open(os.fspath(path)) as c:
        st = next((a for a in c.streams.audio if a.codec_context.name == "aac"), None)
        asc = bytes(st.codec_context.extradata or b"") if st is not None else b""
    if len(asc) < 2:
        return 0
    bits = int.from_bytes(asc[:6].ljust(6, b"\0"), "big")
    pos = 48 - 5
    if (bits >> pos) & 0x1F == 31:  # escaped object type: 6 more bits
        pos -= 6
    pos -= 4
    if (bits >> pos) & 0xF == 15:  # an explicit 24-bit sampling frequency
        pos -= 24
    return (bits >> (pos - 4)) & 0xF


def audio_package_args(audio: "str | Sequence[str]", out_dir: str | os.PathLike,
                       segment_s: float = DEFAULT_SEGMENT_S, fmp4: bool = True) -> list[str]:
    """ffmpeg arguments cutting the audio rendition(s) alone into ``out_dir/audio/`` (``audio1/``...;
    segments of ``segment_s``: fragmented MP4, as beside HEVC or AV1 video, or MPEG-TS), for a master
    playlist whose video variants were packaged apart."""
    out = os.fspath(out_dir)
    audios = _audio_list(audio)
    kind = ["-hls_segment_type", "fmp4", "-hls_fmp4_init_filename", "init.mp4"] if fmp4 else [
        "-hls_segment_type", "mpegts", *_TS_NO_DELAY]
    return [*input_args([], audios, TIME_OFFSET_S), "-c", "copy", "-f", "hls",
            "-hls_time", f"{segment_s:g}", "-hls_playlist_type", "vod", *kind,
            "-var_stream_map", _audio_stream_map(len(audios)),
            "-hls_segment_filename", os.path.join(out, "%v", "seg_%05d." + ("m4s" if fmp4 else "ts")),
            os.path.join(out, "%v", "index.m3u8")]


# ---------------------------------------------------------------- I-frame playlists (trick play)

TS_PACKET = 188


def _pes_pts(pes: bytes) -> int | None:
    """The PTS (90 kHz ticks) in a PES packet header, or None."""
    if len(pes) < 14 or pes[:3] != b"\x00\x00\x01" or not pes[7] & 0x80:
        return None
    b = pes[9:14]
    return ((b[0] >> 1) & 7) << 30 | b[1] << 22 | (b[2] >> 1) << 15 | b[3] << 7 | b[4] >> 1


def ts_keyframes(path: str | os.PathLike) -> list[tuple[int, int, int | None]]:
    """The key frames of an MPEG-TS segment holding one video stream: ``(offset, length, pts)`` each,
    the byte range running from the PAT that ffmpeg's muxer writes before every key frame (so the range
    plays on its own) to the end of the key frame's PES packet; pts in 90 kHz ticks."""
    data = Path(path).read_bytes()
    n = len(data) // TS_PACKET
    starts = []  # (packet index, is key, pts, the last PAT's packet index) of each video PES
    last_pat = None
    for k in range(n):
        pkt = data[k * TS_PACKET:(k + 1) * TS_PACKET]
        if pkt[0] != 0x47:
            raise InputError(f"{Path(path).name} is not MPEG-TS (no sync byte at packet {k})")
        pid = ((pkt[1] & 0x1F) << 8) | pkt[2]
        afc = (pkt[3] >> 4) & 3
        if not pkt[1] & 0x40 or afc == 2:  # no payload unit starts here
            continue
        payload = pkt[4 + (1 + pkt[4] if afc == 3 else 0):]
        if pid == 0:
            last_pat = k
        elif payload[:3] == b"\x00\x00\x01" and payload[3] & 0xF0 == 0xE0:  # a video PES starts
            key = afc == 3 and pkt[4] > 0 and bool(pkt[5] & 0x40)  # its random_access_indicator
            starts.append((k, key, _pes_pts(payload), last_pat))
    out = []
    for j, (k, key, pts, pat) in enumerate(starts):
        if key:
            first = pat if pat is not None and (j == 0 or pat > starts[j - 1][0]) else k
            end = starts[j + 1][0] if j + 1 < len(starts) else n
            out.append((first * TS_PACKET, (end - first) * TS_PACKET, pts))
    return out


def _boxes(data: bytes, start: int = 0, end: int | None = None):
    """(type, offset, size) of the ISO-BMFF boxes in ``data[start:end]``."""
    import struct

    end = len(data) if end is None else end
    off = start
    while off + 8 <= end:
        size, typ = struct.unpack(">I4s", data[off:off + 8])
        if size == 1:
            size = struct.unpack(">Q", data[off + 8:off + 16])[0]
        elif size == 0:
            size = end - off
        if size < 8:
            break
        yield typ.decode("latin-1"), off, size
        off += size


def fmp4_first_sample(path: str | os.PathLike) -> tuple[int, int]:
    """``(offset, length)`` of a fragmented-MP4 segment's first fragment up to the end of its first
    sample (the key frame a segment starts with): the ``moof`` box, then the ``mdat`` through that sample."""
    import struct

    data = Path(path).read_bytes()
    moof = next(((o, n) for t, o, n in _boxes(data) if t == "moof"), None)
    if moof is None:
        raise InputError(f"{Path(path).name} has no moof box: not a fragmented-MP4 segment")
    mo, mn = moof
    for t, o, n in _boxes(data, mo + 8, mo + mn):
        if t != "traf":
            continue
        tfhd_default = None
        base = mo  # default-base-is-moof (what ffmpeg writes)
        for tt, oo, nn in _boxes(data, o + 8, o + n):
            if tt == "tfhd":
                flags = int.from_bytes(data[oo + 9:oo + 12], "big")
                q = oo + 16  # past the track ID
                if flags & 0x1:
                    base = struct.unpack(">Q", data[q:q + 8])[0]
                    q += 8
                q += 4 if flags & 0x2 else 0
                q += 4 if flags & 0x8 else 0
                if flags & 0x10:
                    tfhd_default = struct.unpack(">I", data[q:q + 4])[0]
            elif tt == "trun":
                flags = int.from_bytes(data[oo + 9:oo + 12], "big")
                q = oo + 16  # past the sample count
                data_offset = struct.unpack(">i", data[q:q + 4])[0] if flags & 0x1 else 0
                q += 4 if flags & 0x1 else 0
                q += 4 if flags & 0x4 else 0  # first-sample-flags
                q += 4 if flags & 0x100 else 0  # sample duration
                size = struct.unpack(">I", data[q:q + 4])[0] if flags & 0x200 else tfhd_default
                if size is None:
                    break
                start = base + data_offset
                return mo, start + size - mo
    raise InputError(f"{Path(path).name}: no sample size in its first fragment")


def iframe_playlist(seg: Segments, fmp4: bool) -> tuple[str, float, float]:
    """An ``EXT-X-I-FRAMES-ONLY`` media playlist over a variant's own segments (byte ranges, no copy of
    the media), with its (peak, average) bit rate: MPEG-TS, every key frame (each shot's first frame),
    each range from the PAT before it; fragmented MP4, the key frame each segment starts with, its
    range the first fragment's ``moof`` through that sample, with the variant's ``EXT-X-MAP``."""
    init = next((ln for ln in seg.playlist.read_text(encoding="utf-8").splitlines()
                 if ln.startswith("#EXT-X-MAP:")), None)
    entries = []  # (uri, offset, length, start seconds)
    times = list(itertools.accumulate([0.0] + [d for _, d in seg.items]))
    end = times[-1]
    for (p, _), t0 in zip(seg.items, times):
        if fmp4:
            off, n = fmp4_first_sample(p)
            entries.append([p.name, off, n, t0])
        else:
            keys = ts_keyframes(p)
            if not keys:
                raise InputError(f"HLS segment {p.name} has no key frame")
            base_pts = keys[0][2]
            for off, n, pts in keys:
                dt = (pts - base_pts) / 90000.0 if pts is not None and base_pts is not None else 0.0
                entries.append([p.name, off, n, t0 + dt])
    spans = [b[3] - a[3] for a, b in zip(entries, entries[1:])] + [end - entries[-1][3]] if entries else []
    target = max(1, max((int(x + 0.5) for x in spans), default=1))  # EXTINF rounded to the nearest integer
    out = ["#EXTM3U", f"#EXT-X-VERSION:{7 if fmp4 else 4}", f"#EXT-X-TARGETDURATION:{target}",
           "#EXT-X-MEDIA-SEQUENCE:0", "#EXT-X-PLAYLIST-TYPE:VOD", "#EXT-X-I-FRAMES-ONLY"]
    if init:
        out.append(init)
    for (uri, off, n, _), span in zip(entries, spans):
        out += [f"#EXTINF:{span:.6f},", f"#EXT-X-BYTERANGE:{n}@{off}", uri]
    out.append("#EXT-X-ENDLIST")
    peak, avg = peak_and_average([(e[2] * 8.0, span) for e, span in zip(entries, spans) if span > 0], target)
    return "\n".join(out) + "\n", peak, avg


def _quoted(s: str) -> str:
    return re.sub(r'["\r\n]', "", s)
