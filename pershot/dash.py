"""MPEG-DASH packaging of encoded renditions (``pershot encode --dash``): fragmented-MP4 segments
cut by ffmpeg's ``dash`` muxer without re-encoding, and a manifest (MPD) whose figures pershot
works out itself.

Segments can only start at keyframes, and a pershot rendition has one at each shot's first frame
(the same frames in every rung): the segments line up across the rungs of the video adaptation
set (checked here, and ``segmentAlignment`` says so). Each rung keeps its parameter sets in band,
because the shots of a rung can come from different presets: the sample entry is ``avc3`` for
H.264 and ``hev1`` for HEVC (ISO/IEC 14496-15), which allow that; an HEVC rung whose shots share
one set of parameter sets is ``hvc1`` instead, the set in its initialization segment alone
(Safari plays HEVC only so).

What ffmpeg's manifest gets wrong here, and this module rewrites:

* ``codecs``: taken from the first shot (x264 ultrafast writes Constrained Baseline, the other
  presets High) and left empty for HEVC; here it covers every parameter set of the rung
  (:func:`pershot.bitstream.codec_string`);
* ``bandwidth``: here the smallest rate at which, with ``minBufferTime`` of the rung buffered first,
  playback starting at any segment never stalls (the definition in ISO/IEC 23009-1), worked out
  from the segment files' sizes (fragment headers included) and the timeline;
* ``maxSegmentDuration`` and ``minBufferTime``: the longest segment actually cut (a segment ends
  at the first shot start after the target, so it can be longer than the target).

Several ladders of one title, one per codec (:func:`pershot.renditions.encode_ladders`), get one
video adaptation set per codec, H.264's first, their segments checked to start at the same frames.

Trick mode: each video adaptation set gets a companion set of key frames only, for fast forward and
scrubbing, as DASH-IF's guidelines describe it (an ``EssentialProperty``
``http://dashif.org/guidelines/trickmode`` whose value is the main set's id, so a player that does not
know it skips the set; ``codingDependency="false"``, ``maxPlayoutRate``): the key frames (each shot's
first frame) of one rung, the lowest at 360p or more (else the highest), copied without re-encoding,
each lasting until the next (:func:`keyframe_track`).

AV1: SVT-AV1's presets signal different coding tools in their sequence headers, so a rung that
mixes presets carries several; they travel in band (dav1d plays such a rung from any segment,
tested), while the ``av1C`` record of the initialization segment holds the first shot's.
:func:`package` reports the rungs where that happens.
"""
from __future__ import annotations

import itertools
import os
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Sequence

from .atomic import atomic_dir
from .errors import FFmpegError, InputError
from .languages import bcp47, published

#: the segment duration aimed at, in seconds (as for HLS)
DEFAULT_SEGMENT_S = 6.0
MPD_NS = "urn:mpeg:dash:schema:mpd:2011"
_NS = {"d": MPD_NS}
#: sample entries that allow parameter sets in band
_ENTRIES = {"h264": "avc3", "hevc": "hev1"}
_ENCODERS = {"libx264", "libx265", "libsvtav1"}


def min_bandwidth(sizes_bits: Sequence[float], starts_s: Sequence[float], min_buffer_s: float) -> float:
    """The smallest rate B (bits/s) such that, delivered at B from the start of any segment and
    played once ``min_buffer_s * B`` bits have arrived, every segment is whole before it is due.

    ``starts_s``: each segment's presentation start. Segment k (from a start at segment s) is due at
    ``min_buffer_s + starts[k] - starts[s]`` and has arrived at ``sum(sizes[s..k]) / B``."""
    if min_buffer_s <= 0:
        raise InputError(f"minBufferTime must be > 0 s, got {min_buffer_s:g}")
    n = len(sizes_bits)
    best = 0.0
    for s in range(n):
        total = 0.0
        for k in range(s, n):
            total += sizes_bits[k]
            best = max(best, total / (min_buffer_s + starts_s[k] - starts_s[s]))
    return best


def iso_duration(seconds: float) -> str:
    """``PT6.006S`` (xs:duration, to the millisecond, rounded up so that it covers ``seconds``)."""
    ms = -(-round(seconds * 1e6) // 1000)  # ceiling, without float noise
    return f"PT{ms // 1000}.{ms % 1000:03d}S"


@dataclass(frozen=True)
class Timeline:
    """A representation's segments: start and duration (seconds), and the file of each."""

    starts: tuple[float, ...]
    durations: tuple[float, ...]
    files: tuple[Path, ...]


def _timeline(rep: ET.Element, adapt: ET.Element, folder: Path) -> Timeline:
    tpl = rep.find("d:SegmentTemplate", _NS)
    if tpl is None:
        tpl = adapt.find("d:SegmentTemplate", _NS)
    if tpl is None or tpl.find("d:SegmentTimeline", _NS) is None:
        raise FFmpegError("the DASH manifest has no segment timeline")
    scale = int(tpl.get("timescale", "1"))
    number = int(tpl.get("startNumber", "1"))
    media = tpl.get("media", "")
    rid = rep.get("id", "")
    starts, durs, files = [], [], []
    t = 0
    for s in tpl.find("d:SegmentTimeline", _NS).findall("d:S", _NS):
        t = int(s.get("t", t))
        d = int(s.get("d"))
        for _ in range(int(s.get("r", "0")) + 1):
            name = media.replace("$RepresentationID$", rid)
            if "$Number%05d$" in name:
                name = name.replace("$Number%05d$", f"{number:05d}")
            else:
                name = name.replace("$Number$", str(number))
            starts.append(t / scale)
            durs.append(d / scale)
            files.append(folder / name)
            t += d
            number += 1
    return Timeline(tuple(starts), tuple(durs), tuple(files))


#: DASH-IF's trick-mode scheme (an adaptation set of key frames for a main set)
TRICKMODE = "http://dashif.org/guidelines/trickmode"


def keyframe_track(src: str | os.PathLike, dst: str | os.PathLike) -> tuple[int, float]:
    """Copy the key frames of ``src``'s video (stream copy, no re-encoding) into the MP4 ``dst``, each
    lasting until the next and the last until the end of the video, decoded in presentation order;
    returns (key frames, seconds)."""
    import av

    with av.open(os.fspath(src)) as inp, av.open(os.fspath(dst), "w", format="mp4") as out:
        ist = inp.streams.video[0]
        ost = out.add_stream_from_template(ist, opaque=True)  # the codec by id: no decoder lookup (libdav1d)
        keys, end = [], None
        for p in inp.demux(ist):
            if p.size and p.pts is not None:
                e = p.pts + (p.duration or 0)
                end = e if end is None else max(end, e)
                if p.is_keyframe:
                    keys.append(p)
        if not keys:
            raise InputError(f"{Path(src).name} has no key frame")
        for p, nxt in zip(keys, keys[1:] + [None]):
            p.duration = (nxt.pts if nxt is not None else end) - p.pts
            p.dts = p.pts  # intra pictures only: nothing is reordered
            p.stream = ost
            out.mux(p)
        seconds = float((end - keys[0].pts) * ist.time_base)
    return len(keys), seconds


def trick_rung(rungs: Sequence) -> int:
    """The position in ``rungs`` (one codec's :class:`~pershot.renditions.Rendition` rows) of the rung whose
    key frames make the trick-mode track: the lowest at 360p or more (else the highest)."""
    order = sorted(range(len(rungs)), key=lambda i: (rungs[i].height, rungs[i].bitrate_kbps))
    return next((i for i in order if rungs[i].height >= 360), order[-1])


def package_args(videos: Sequence[str], audio: "str | Sequence[str] | None", out_dir: str | os.PathLike,
                 entry: "str | Sequence[str | None] | None", segment_s: float = DEFAULT_SEGMENT_S,
                 sets: "Sequence[Sequence[int]] | None" = None) -> list[str]:
    """ffmpeg arguments cutting the renditions (one path per rung, and the audio file) into
    fragmented-MP4 segments and a manifest ``out_dir/manifest.mpd`` (no re-encoding): one
    adaptation set for the rungs (or, with ``sets``, one per list of video indices: one per codec),
    one for the audio. ``entry``: the video sample entry (``avc3``, ``hev1``; None for the muxer's
    own, AV1's ``av01``), or one per rung (``hvc1`` drops the rung's in-band parameter sets: see
    :func:`pershot.bitstream.entry_args`). Several audio files (one per language) get an adaptation set
    each."""
    from .bitstream import entry_args
    from .hls import input_args

    args = input_args(videos, audio) + ["-c", "copy"]
    if isinstance(entry, str):
        args += ["-tag:v", entry]
    elif entry:
        for i, e in enumerate(entry):
            if e:
                args += entry_args(i, e)
    if sets is None:
        spec = "id=0,streams=v"
    else:
        spec = " ".join(f"id={j},streams={','.join(map(str, idx))}" for j, idx in enumerate(sets))
    n_sets = 1 if sets is None else len(sets)
    audios = [] if not audio else [audio] if isinstance(audio, (str, os.PathLike)) else list(audio)
    # one adaptation set per audio rendition (a language each), after the video streams
    spec += "".join(f" id={n_sets + k},streams={len(videos) + k}" for k in range(len(audios)))
    return args + ["-f", "dash", "-seg_duration", f"{segment_s:g}", "-use_template", "1", "-use_timeline", "1",
                   "-single_file", "0", "-adaptation_sets", spec,
                   "-init_seg_name", "init-$RepresentationID$.mp4",
                   "-media_seg_name", "chunk-$RepresentationID$-$Number%05d$.m4s",
                   os.path.join(os.fspath(out_dir), "manifest.mpd")]


@dataclass(frozen=True)
class DashPackage:
    """Where the manifest is, and the AV1 rungs that carry more than one sequence header."""

    manifest: Path
    mixed_sequence_headers: tuple[int, ...] = ()


def package(renditions: Sequence, out_dir: str | os.PathLike, fps: "Fraction | float | None" = None,
            segment_s: float = DEFAULT_SEGMENT_S, trick: bool = True) -> DashPackage:
    """Package :class:`pershot.renditions.Rendition` rows (video rungs, and the audio one if there)
    as MPEG-DASH in ``out_dir`` (replaced whole when done). ``fps``: the source's frame rate, for
    the adaptation set's ``frameRate``. Rungs of several codecs (one ladder each, as
    :func:`pershot.renditions.encode_ladders` makes them) get one video adaptation set per codec,
    H.264's first; a player takes the set whose ``codecs`` it plays. ``trick``: each video set also gets a
    trick-mode set of key frames (see the module docstring)."""
    import tempfile

    from .bitstream import av1_stream, codec_string, hevc_entry_and_codec
    from .hls import codec_groups, split_renditions, subtitle_renditions

    videos, audio = split_renditions(renditions, segment_s, "DASH")  # audio: a list, the first the default
    subs = subtitle_renditions(renditions)
    groups = codec_groups(videos, "DASH")  # before anything is written: an unfit rendition fails here
    ordered = [(k, r) for k, rs in groups for r in rs]  # the output's stream order: codec by codec
    codecs: list[str] = []
    entries: list[str | None] = []  # HEVC: hvc1 where a rung has one set of parameter sets
    mixed = []
    for kind, r in ordered:
        if kind == "av1":  # one read of the stream gives its codec string and its sequence headers
            st = av1_stream(r.path)
            entry, codec = None, st.codec
            if st.sequence_headers > 1:
                mixed.append(r.rung)
        elif kind == "hevc":
            entry, codec = hevc_entry_and_codec(r.path)
        else:
            entry = _ENTRIES.get(kind)
            codec = codec_string(r.path, entry)
        entries.append(entry)
        codecs.append(codec)
    ends = list(itertools.accumulate(len(rs) for _, rs in groups))  # each set: its rungs' stream indices
    sets = [list(range(end - len(rs), end)) for end, (_, rs) in zip(ends, groups)]
    out = Path(out_dir)
    with tempfile.TemporaryDirectory(prefix="pershot-trick-") as td, atomic_dir(out) as tmp:
        tricks = []
        if trick:  # (key-frame file, its main set, the video it comes from, key frames, seconds) per set
            for j, idx in enumerate(sets):
                src = idx[trick_rung([ordered[i][1] for i in idx])]
                path = Path(td) / f"trick{j}.mp4"
                n, seconds = keyframe_track(ordered[src][1].path, path)
                tricks.append(Trick(str(path), j, src, n, seconds))
        _write_package(tmp, [r for _, r in ordered], audio, codecs, entries, fps, segment_s,
                       sets if len(groups) > 1 else None, tricks, subs,
                       [r for r in renditions if r.kind == "thumbnails"])
    return DashPackage(manifest=out / "manifest.mpd", mixed_sequence_headers=tuple(mixed))


def _subtitle_sets(period: ET.Element, subs: Sequence, tmp: Path, first_id: int) -> None:
    """A ``text/vtt`` adaptation set per subtitle rendition at the end of ``period``, its WebVTT file copied
    into ``tmp`` whole (side-loaded), with its language and Role (``subtitle``, ``forced-subtitle``, or
    ``caption`` for closed captions)."""
    import shutil

    for k, r in enumerate(subs):
        name = Path(r.path).name
        shutil.copyfile(r.path, tmp / name)
        attrs = {"id": str(first_id + k), "contentType": "text", "mimeType": "text/vtt"}
        lang = bcp47(r.language)
        if lang:
            attrs["lang"] = lang
        a = ET.SubElement(period, f"{{{MPD_NS}}}AdaptationSet", attrs)
        ET.SubElement(a, f"{{{MPD_NS}}}Label").text = r.name  # the schema's order: Label, then Role
        role = "caption" if r.kind == "captions" else "forced-subtitle" if r.forced else "subtitle"
        ET.SubElement(a, f"{{{MPD_NS}}}Role", {"schemeIdUri": "urn:mpeg:dash:role:2011", "value": role})
        rate = max(1, round(r.size_bytes * 8.0 / r.duration_s)) if r.duration_s > 0 else 1
        rep = ET.SubElement(a, f"{{{MPD_NS}}}Representation", {"id": f"subtitles{k}", "bandwidth": str(rate)})
        ET.SubElement(rep, f"{{{MPD_NS}}}BaseURL").text = name


#: DASH-IF's descriptor of a thumbnail image set (tiles of ``value`` columns x rows per image)
THUMBNAIL_TILE = "http://dashif.org/thumbnail_tile"


def _thumbnail_set(period: ET.Element, board, tmp: Path, set_id: int) -> None:
    """The storyboard copied into the package (``thumbnails.vtt`` and its images), and where its images are
    all JPEG or all PNG and named by shot (``thumbnails/shot0000.jpg``...), a DASH-IF thumbnail set: an
    ``image`` adaptation set of 1x1 tiles, one per shot, its timeline the shots' spans."""
    import re

    from .thumbnails import DASH_IMAGE_TYPES, WEB_IMAGE_TYPES, copy_storyboard

    cues = copy_storyboard(board.path, tmp)
    exts = {Path(c.text).suffix.lower() for c in cues}
    mimes = {WEB_IMAGE_TYPES.get(e, "") for e in exts}
    named = all(re.fullmatch(rf"thumbnails/shot{i:04d}\.[a-z]+", c.text) for i, c in enumerate(cues))
    if len(exts) != 1 or not mimes <= DASH_IMAGE_TYPES or not named or not cues:
        return
    a = ET.SubElement(period, f"{{{MPD_NS}}}AdaptationSet", {"id": str(set_id), "contentType": "image",
                                                              "mimeType": mimes.pop()})
    tpl = ET.SubElement(a, f"{{{MPD_NS}}}SegmentTemplate", {
        "media": f"thumbnails/shot$Number%04d${exts.pop()}", "timescale": "1000", "startNumber": "0"})
    line = ET.SubElement(tpl, f"{{{MPD_NS}}}SegmentTimeline")
    for i, c in enumerate(cues):
        t0, t1 = round(c.start_s * 1000), round(c.end_s * 1000)
        ET.SubElement(line, f"{{{MPD_NS}}}S", {"t": str(t0), "d": str(t1 - t0)} if i == 0 else {"d": str(t1 - t0)})
    rate = max(1, round(board.size_bytes * 8.0 / board.duration_s)) if board.duration_s > 0 else 1
    rep = ET.SubElement(a, f"{{{MPD_NS}}}Representation", {"id": "thumbnails", "bandwidth": str(rate),
                                                           "width": str(board.width), "height": str(board.height)})
    ET.SubElement(rep, f"{{{MPD_NS}}}EssentialProperty", {"schemeIdUri": THUMBNAIL_TILE, "value": "1x1"})


@dataclass(frozen=True)
class Trick:
    """A trick-mode track: its key-frame file, the main video set it serves (index), the video (index in
    the package's order) it was cut from, and its key frames and seconds."""

    path: str
    main_set: int
    video: int
    keyframes: int
    seconds: float


def _rate(f: Fraction) -> str:
    """A frame rate as the MPD writes it: ``30000/1001``, or ``25``."""
    return f"{f.numerator}/{f.denominator}" if f.denominator != 1 else str(f.numerator)


#: the MPD descriptors of the colour description (ISO/IEC 23091-2 code points), as DASH-IF's
#: guidelines for HDR10 and HLG give them
CICP = "urn:mpeg:mpegB:cicp:"


def colour_properties(colour) -> list[tuple[str, str, int]]:
    """(element, schemeIdUri, value) the video adaptation set carries for a
    :class:`pershot.bitstream.Colour`: for PQ, the transfer as an ``EssentialProperty`` (a player that
    cannot show PQ must skip the set), primaries and matrix as ``SupplementalProperty``; for HLG, all
    three supplemental (HLG plays as SDR where HDR is not understood). Nothing for SDR."""
    if colour.transfer not in (16, 18):
        return []
    transfer = "EssentialProperty" if colour.transfer == 16 else "SupplementalProperty"
    out = [(transfer, CICP + "TransferCharacteristics", colour.transfer)]
    if colour.primaries != 2:
        out.insert(0, ("SupplementalProperty", CICP + "ColourPrimaries", colour.primaries))
    if colour.matrix != 2:
        out.append(("SupplementalProperty", CICP + "MatrixCoefficients", colour.matrix))
    return out


def _write_package(tmp: Path, videos: Sequence, audio, codecs: Sequence[str], entries: Sequence[str | None],
                   fps: "Fraction | float | None", segment_s: float,
                   sets: "Sequence[Sequence[int]] | None" = None, tricks: Sequence[Trick] = (),
                   subs: Sequence = (), boards: Sequence = ()) -> None:
    """Cut the segments into ``tmp`` and write the manifest with pershot's own figures. ``codecs`` and
    ``entries``: per video, in the order of ``videos`` (the output's stream order); ``sets``: the
    video adaptation sets as lists of video indices (None: one set of them all); ``tricks``: trick-mode
    tracks, each in a set of its own after the video sets (streams after the videos'); ``subs``: subtitle
    renditions (WebVTT files on the title's clock, which is the period's), a ``text/vtt`` set each;
    ``boards``: the storyboard (kind ``thumbnails``), as a DASH-IF thumbnail set where it can be one."""
    from . import ffmpeg
    from .bitstream import colour_of

    n = len(videos)
    all_sets = [list(x) for x in sets] if sets is not None else None
    if tricks:
        all_sets = (all_sets or [list(range(n))]) + [[n + k] for k in range(len(tricks))]
    ffmpeg.run(package_args([r.path for r in videos] + [t.path for t in tricks], [a.path for a in audio], tmp,
                            list(entries) + [entries[t.video] for t in tricks], segment_s, all_sets),
               what="DASH packaging failed")
    mpd_path = tmp / "manifest.mpd"
    for prefix, uri in (("", MPD_NS), ("xsi", "http://www.w3.org/2001/XMLSchema-instance"),
                        ("xlink", "http://www.w3.org/1999/xlink")):
        ET.register_namespace(prefix, uri)
    tree = ET.parse(mpd_path)
    root = tree.getroot()
    sets = root.findall("d:Period/d:AdaptationSet", _NS)
    timelines: list[tuple[ET.Element, Timeline]] = []
    for a in sets:
        for rep in a.findall("d:Representation", _NS):
            timelines.append((rep, _timeline(rep, a, tmp)))
    if len(timelines) != n + len(tricks) + len(audio):
        raise FFmpegError(f"the DASH manifest has {len(timelines)} representations, expected "
                          f"{n + len(tricks) + len(audio)}")
    longest = max(max(t.durations) for _, t in timelines)
    min_buffer = longest
    video_lines: dict[int, Timeline] = {}  # by video index: a representation's id is its output stream's
    for rep, tl in timelines:
        missing = [f.name for f in tl.files if not f.is_file()]
        if missing:
            raise FFmpegError(f"DASH packaging: segment {missing[0]} of representation {rep.get('id')} is missing")
        bits = [f.stat().st_size * 8.0 for f in tl.files]
        rep.set("bandwidth", str(int(-(-min_bandwidth(bits, tl.starts, min_buffer) // 1))))
        i = int(rep.get("id", -1))
        if 0 <= i < n:
            rep.set("codecs", codecs[i])
            video_lines[i] = tl
        elif n <= i < n + len(tricks):  # a trick-mode track: its rung's codecs, key frames only
            t = tricks[i - n]
            rep.set("codecs", codecs[t.video])
            rep.set("codingDependency", "false")
            if fps and t.seconds > 0:  # how much faster than normal its pictures can be shown
                rep.set("maxPlayoutRate", str(max(1, round(float(fps) * t.seconds / t.keyframes))))
    if len(video_lines) != len(videos):
        raise FFmpegError("the DASH manifest's representation ids are not the video streams'")
    ref = video_lines[0]
    for i, r in enumerate(videos):  # the switch points must be the same frames in every rung
        tl = video_lines[i]
        if len(tl.starts) != len(ref.starts) or any(abs(a - b) > 1e-3 for a, b in zip(tl.starts, ref.starts)):
            raise FFmpegError(f"DASH packaging: rung {r.rung}'s segments do not line up with rung {videos[0].rung}'s "
                              "(renditions joined by an ffmpeg without the setts bitstream filter keep each "
                              "shot's own decode delay, and ladders packaged together must come from one "
                              "shots.csv; `pershot doctor` says whether this ffmpeg has setts)")
    from .hls import audio_labels, rendition_audio_tags

    audio_tags = [rendition_audio_tags(x.path) for x in audio]  # the source stream's language and title
    audio_names = audio_labels(audio_tags)  # what a player's audio menu lists
    # each set by the output stream of its first representation: videos 0..n-1, tricks, then the audio
    first_id = {}
    for a in sets:
        first = a.find("d:Representation", _NS)
        first_id[a] = int(first.get("id", -1)) if first is not None else -1
    trick_sets = {a: tricks[i - n] for a, i in first_id.items() if n <= i < n + len(tricks)}
    for a, t in trick_sets.items():  # DASH-IF: the main set's id; a player that does not know it skips the set
        e = ET.Element(f"{{{MPD_NS}}}EssentialProperty", {"schemeIdUri": TRICKMODE, "value": str(t.main_set)})
        a.insert(0, e)
        if t.seconds > 0:
            a.set("frameRate", _rate(Fraction(t.keyframes / t.seconds).limit_denominator(1000)))
    for a in sets:
        i = first_id[a]
        if a.get("contentType") == "video":
            colour = colour_properties(colour_of(videos[tricks[i - n].video if i >= n else max(i, 0)].path))
            for j, (tag, scheme, value) in enumerate(colour):
                e = ET.Element(f"{{{MPD_NS}}}{tag}", {"schemeIdUri": scheme, "value": str(value)})
                a.insert(j, e)
        k = i - n - len(tricks)
        if a.get("contentType") == "audio" and 0 <= k < len(audio):
            lang = published(audio_tags[k]["language"])  # the source stream's tag, in the rendition
            if lang:
                a.set("lang", lang)
            label = ET.Element(f"{{{MPD_NS}}}Label")
            label.text = audio_names[k]
            a.insert(list(a).index(a.find("d:Representation", _NS)), label)
            if len(audio) > 1:  # which to play first: DASH's Role, "main" for the default rendition
                role = ET.Element(f"{{{MPD_NS}}}Role", {"schemeIdUri": "urn:mpeg:dash:role:2011",
                                                        "value": "main" if k == 0 else "alternate"})
                # after any descriptors, before the representation
                a.insert(list(a).index(a.find("d:Representation", _NS)), role)
        # ffmpeg claims bitstream switching (one decoder fed segments of any rung without a new
        # initialization segment); drop the claim: a player then re-initialises at a switch, which is always safe
        a.attrib.pop("bitstreamSwitching", None)
        if a.get("contentType") == "video" and fps and a not in trick_sets:
            a.set("frameRate", _rate(Fraction(fps).limit_denominator(100000)))
            # the set's rate is every representation's: ffmpeg's own per representation (a VFR rung's frames
            # over its packets' span, without the last frame's duration) and the maximum it derives go
            a.attrib.pop("maxFrameRate", None)
            for rep in a.findall("d:Representation", _NS):
                rep.attrib.pop("frameRate", None)
    _subtitle_sets(root.find("d:Period", _NS), subs, tmp, len(sets))
    for board in boards:
        _thumbnail_set(root.find("d:Period", _NS), board, tmp, len(sets) + len(subs))
    end = max(t.starts[-1] + t.durations[-1] for t in video_lines.values())
    root.set("mediaPresentationDuration", iso_duration(end))  # ffmpeg writes it to a tenth of a second
    root.set("minBufferTime", iso_duration(min_buffer))
    root.set("maxSegmentDuration", iso_duration(longest))
    for empty in ("d:ProgramInformation", "d:ServiceDescription"):
        for e in root.findall(empty, _NS):
            if not len(e) and not (e.text or "").strip():
                root.remove(e)
    ET.indent(tree, space="\t")  # the sets and descriptors added here, indented as ffmpeg indents the rest
    tree.write(mpd_path, encoding="utf-8", xml_declaration=True)
