"""Renditions: run a ladder's encodes and join each rung into one playable file.

This is what a farm does with ``ladder.json``, done locally (or on the same
executors as the probes). Per shot, the source frames are decoded once at every
size its rungs need (8-bit 4:2:0 Y4M, as the probes did); each rung's encode
runs with the encoder options that ladder.json's ``ffmpeg_args`` give, written
to a container instead of the raw elementary stream (the same bitstream: a raw
H.264/HEVC stream has no timestamps, and B-frames then come out with wrong ones):
MPEG-TS for H.264/HEVC, so parameter sets stay in band (shots at different
presets signal different ones; joined from per-shot MP4s, whose parameter sets
sit in the header, x265 shots after the first do not decode), MP4 for AV1. Then,
per rung, the shots are joined in order by ffmpeg's concat demuxer (each starts
with a keyframe, closed GOP) without re-encoding: MP4 (``avc3``/``hev1``:
parameter sets in band; the TS muxer's access-unit delimiters dropped) where the
rung keeps one resolution; MPEG-TS (Matroska for AV1) where it changes shot by
shot (``--per-shot-resolution`` ladders). Every file is decoded whole to check
its frame count against the ladder's, and written to a temporary name, then
renamed.

Video only. A VFR source's renditions keep its frames' own times (``cfr=True``: evenly spaced
at the average rate instead); in every rendition each sample lasts until the next frame.
Finished shot encodes are kept in ``OUT/.pershot-renditions-work/`` (each
written whole, named by what made it) until every rung is joined, so a re-run
after a crash or Ctrl-C encodes only what is missing; with a Dask cluster, that
folder must be on storage every worker sees.

``verify``: each rung's file is then scored against the source (:mod:`pershot.verify`), and
renditions.csv gives the measured VMAF, PSNR-Y and SSIM beside the ladder's.
"""
from __future__ import annotations

import dataclasses
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from .errors import FFmpegError, InputError, PershotError
from .encoders.base import args_bit_depth, colour_args
from .geometry import describe
from .media import (FrameIndex, HdrMetadata, SourceInfo, check_source, check_temp_space, encode_colour, encode_hdr,
                    extract_shot, frame_index, input_arg, shown_index, stream_tag, temp_dir, y4m_bytes)
from .verify import VERIFY_COLUMNS

RENDITION_COLUMNS = ("rung", "name", "path", "container", "width", "height", "frames", "duration_s", "size_bytes",
                     "bitrate_kbps", "ladder_kbps", "encode_cpu_s", "kind", "language", "forced", "loudness_lufs",
                     *VERIFY_COLUMNS)  # with verify (see pershot.verify): empty otherwise
#: the audio rendition (``--audio aac[:KBPS]``): AAC-LC at this many kbps unless told (up to stereo: see
#: :func:`default_audio_kbps`)
AUDIO_DEFAULT_KBPS = 128


@dataclass(frozen=True)
class ShotEncode:
    """One rung's encode of one shot: the ladder's command, with ``{input}``/``{output}`` placeholders."""

    rung: int
    args: tuple[str, ...]
    width: int
    height: int

    @property
    def bit_depth(self) -> int:
        """The bit depth of the frames the command reads (its ``-pix_fmt``; 8 where it names none)."""
        return args_bit_depth(self.args)


@dataclass(frozen=True)
class ShotJob:
    """Every rung's encode of one shot (one decode of the shot serves them all)."""

    source: SourceInfo
    shot: int
    start_frame: int
    end_frame: int
    encodes: tuple[ShotEncode, ...]
    out_dir: str  #: where the shot bitstreams go
    work_dir: str | None = None  #: where the Y4M intermediates go (default: the system temp dir)


@dataclass(frozen=True)
class ShotOutput:
    rung: int
    shot: int
    path: str
    size_bytes: int
    cpu_s: float  #: CPU seconds of the encode process
    stream: str  #: the raw-stream format ladder.json's command writes (h264, hevc, obu...)


@dataclass(frozen=True)
class Rendition:
    """One rung, encoded and joined (a row of renditions.csv)."""

    rung: int
    name: str
    path: str
    container: str  #: mp4; where the resolution changes within the rung, mpegts (matroska for AV1)
    width: int  #: 0 where it changes shot by shot
    height: int
    frames: int
    duration_s: float
    size_bytes: int  #: the video packets of the file (the bitstream, without the container)
    bitrate_kbps: float  #: size_bytes * 8 / duration_s / 1000
    ladder_kbps: float  #: what the ladder predicted from its probes
    encode_cpu_s: float  #: CPU seconds of the rung's encode processes
    #: "video" (a rung), "audio": an audio rendition (rung -1, then -2... for more languages; no frames), or
    #: "subtitles": a WebVTT file (rung -101, then -102...; see :mod:`pershot.subtitles`); "captions": the
    #: source's closed captions as one; "thumbnails": the storyboard of the ladder's thumbnails (rung -201)
    kind: str = "video"
    #: audio and subtitles: the language tag of the source's stream (ISO 639-2 as containers tag it), or ""
    language: str = ""
    #: subtitles: forced (shown only where the audio's language is not the viewer's)
    forced: bool = False
    #: audio: its integrated loudness (EBU R128 / ITU-R BS.1770), where it was normalized; NaN otherwise
    loudness_lufs: float = float("nan")
    #: with ``verify``: the file scored against the source (see :class:`pershot.verify.RungScore`); NaN otherwise
    vmaf: float = float("nan")
    psnr_y: float = float("nan")
    ssim: float = float("nan")
    worst_shot_vmaf: float = float("nan")
    ladder_vmaf: float = float("nan")
    ladder_psnr_y: float = float("nan")
    ladder_ssim: float = float("nan")
    vmaf_model: str = ""
    verify_cpu_s: float = float("nan")

    def as_dict(self) -> dict[str, Any]:
        return {c: getattr(self, c) for c in RENDITION_COLUMNS}


# ---------------------------------------------------------------- the ladder document


def load_ladder_json(path: str | os.PathLike) -> dict:
    """Read and check a ``ladder.json`` (InputError with a one-line reason when it is not one)."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"no such ladder file: {p}")
    try:
        doc = json.loads(p.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as ex:
        raise InputError(f"{p} is not a ladder.json: {ex}") from None
    check_ladder_doc(doc, str(p))
    return doc


def check_ladder_doc(doc: Any, where: str = "ladder") -> None:
    from .ladder import LADDER_SCHEMA_VERSION

    if not isinstance(doc, Mapping) or doc.get("schema") != "pershot.ladder":
        raise InputError(f"{where} is not a pershot ladder (no \"schema\": \"pershot.ladder\")")
    v = doc.get("schema_version")
    if not isinstance(v, int) or v > LADDER_SCHEMA_VERSION:
        raise InputError(f"{where} has ladder schema version {v!r}; this pershot reads up to {LADDER_SCHEMA_VERSION}")
    if not isinstance(doc.get("rungs"), list) or not doc["rungs"]:
        raise InputError(f"{where} has no rungs")
    for r in doc["rungs"]:
        if not isinstance(r, Mapping) or isinstance(r.get("rung"), bool) or not isinstance(r.get("rung"), int):
            raise InputError(f"{where}: every rung needs an integer \"rung\" number")


def _command(shot: Mapping[str, Any], rung: int, where: str) -> ShotEncode:
    enc = shot.get("encode")
    args = enc.get("ffmpeg_args") if isinstance(enc, Mapping) else None
    if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
        raise InputError(f"{where}: no encode command (ffmpeg_args); write the ladder again with this pershot")
    if args.count("{input}") != 1 or args.count("{output}") != 1:
        raise InputError(f"{where}: its ffmpeg_args need exactly one {{input}} and one {{output}}")
    i = args.index("{output}")
    if i < 2 or args[i - 2] != "-f":
        raise InputError(f"{where}: its ffmpeg_args must name the output format (-f FORMAT {{output}})")
    try:
        w, h = int(shot["width"]), int(shot["height"])
    except (KeyError, TypeError, ValueError):
        raise InputError(f"{where}: no width/height") from None
    return ShotEncode(rung=rung, args=tuple(args), width=w, height=h)


def _with_colour(e: ShotEncode, colour: Sequence[tuple[str, str]]) -> ShotEncode:
    """``e`` with the source's colour description added (``-vf setparams=...`` before its output), for
    commands that lack one (a ladder written by ``pershot optimize``, which never saw the source, or by
    an older pershot). A command with a ``-vf`` of its own is left as it is."""
    if not colour or "-vf" in e.args:
        return e
    i = e.args.index("{output}") - 2  # the "-f FORMAT {output}" that ends the output options
    return dataclasses.replace(e, args=(*e.args[:i], *colour_args(colour), *e.args[i:]))


def _with_hdr(e: ShotEncode, hdr: "HdrMetadata | None") -> ShotEncode:
    """``e`` with the source's static HDR metadata added to its encoder's options, for a 10-bit command
    that lacks it (a ladder written by ``pershot optimize``, which never saw the source). A command
    that already names either option is left as it is."""
    from . import encoders
    from .encoders.base import hdr_options, kv_params

    if hdr is None or e.bit_depth < 10 or "-c:v" not in e.args[:-1]:
        return e
    try:
        keys = encoders.get(e.args[e.args.index("-c:v") + 1]).hdr
    except PershotError:
        return e
    if keys is None or keys.params_flag not in e.args[:-1]:
        return e
    i = e.args.index(keys.params_flag) + 1
    if {kv.split("=", 1)[0] for kv in e.args[i].split(":")} & {keys.mastering, keys.light}:
        return e
    add = kv_params(hdr_options(hdr, keys))
    if not add:
        return e
    return dataclasses.replace(e, args=(*e.args[:i], f"{e.args[i]}:{add}" if e.args[i] else add, *e.args[i + 1:]))


def plan_renditions(doc: Mapping[str, Any], info: SourceInfo, out_dir: str | os.PathLike,
                    rungs: Sequence[int] | None = None, work_dir: str | None = None) -> list[ShotJob]:
    """One job per shot, holding the encodes of the chosen rungs (default: all). Pure: nothing runs."""
    check_ladder_doc(doc)
    colour, hdr = encode_colour(info), encode_hdr(info)
    src = doc.get("source") or {}
    if src.get("frames") is not None and int(src["frames"]) != info.frame_count:
        raise InputError(f"the source has {info.frame_count} frames, the ladder was made from {src['frames']}: "
                         "not the same video")
    if src.get("width") and src.get("height") and (int(src["width"]), int(src["height"])) != (
            info.display_width, info.display_height):
        raise InputError(f"the source is {info.display_width}x{info.display_height}, the ladder was made from "
                         f"{src['width']}x{src['height']}: not the same video")
    have = [int(r["rung"]) for r in doc["rungs"]]
    want = list(have) if rungs is None else [int(r) for r in rungs]
    missing = sorted(set(want) - set(have))
    if missing:
        raise InputError(f"no rung {', '.join(map(str, missing))} in the ladder (rungs: {', '.join(map(str, have))})")
    by_shot: dict[int, dict] = {}
    for r in doc["rungs"]:
        rung = int(r["rung"])
        if rung not in want:
            continue
        for s in r.get("shots") or []:
            where = f"rung {rung} shot {s.get('shot')}"
            try:
                key, a, b = int(s["shot"]), int(s["start_frame"]), int(s["end_frame"])
            except (KeyError, TypeError, ValueError):
                raise InputError(f"{where}: no shot/start_frame/end_frame") from None
            if not (0 <= a < b <= info.frame_count):
                raise InputError(f"{where}: frames [{a}, {b}) outside the source's {info.frame_count}")
            e = _with_hdr(_with_colour(_command(s, rung, where), colour), hdr)
            if e.width < 2 or e.height < 2:
                raise InputError(f"{where}: bad size {e.width}x{e.height}")
            aspect = float(info.display_aspect)  # even sides: either may be a pixel off the exact shape
            if abs(e.width / e.height - aspect) > 2.5 * max(1.0, aspect) / e.height:
                raise InputError(
                    f"{where}: {e.width}x{e.height} is not the shape of the source as displayed "
                    f"({info.display_width}x{info.display_height}): not the same video, or the ladder was made "
                    "from a cropped picture (give the same --crop)")
            entry = by_shot.setdefault(key, {"range": (a, b), "encodes": []})
            if entry["range"] != (a, b):
                raise InputError(f"{where}: frames [{a}, {b}) differ from the same shot in another rung")
            entry["encodes"].append(e)
    # at the bit depths the commands ask for: an HDR source needs them all at 10
    check_source(info, tuple({e.bit_depth for v in by_shot.values() for e in v["encodes"]}) or (8,))
    return [ShotJob(source=info, shot=k, start_frame=v["range"][0], end_frame=v["range"][1],
                    encodes=tuple(v["encodes"]), out_dir=os.fspath(out_dir), work_dir=work_dir)
            for k, v in sorted(by_shot.items(), key=lambda kv: kv[1]["range"])]


#: the raw-stream muxer of ladder.json's command -> (per-shot container, its extension, MP4 sample entry)
#: H.264/HEVC shots go to MPEG-TS: parameter sets stay in band, so shots whose presets signal different
#: ones join correctly (an MP4 per shot keeps them in its header, and joined files then decode wrongly)
_SHOT_FORMATS = {"h264": ("mpegts", ".ts", "avc3"), "hevc": ("mpegts", ".ts", "hev1")}
_OTHER_FORMAT = ("mp4", ".mp4", None)  # AV1: sequence headers are in band in every keyframe's sample
#: access-unit delimiters (NAL unit type) the TS muxer adds; an MP4 does not need them
_AUD_TYPES = {"avc3": 9, "hev1": 35}


def _stream(e: ShotEncode) -> str:
    """The raw-stream format ladder.json's command writes (h264, hevc, obu...)."""
    return e.args[e.args.index("{output}") - 1]


def shot_format(e: ShotEncode) -> tuple[str, str, str | None]:
    """(per-shot container, its extension, MP4 sample entry) for the encode's stream."""
    return _SHOT_FORMATS.get(_stream(e), _OTHER_FORMAT)


#: the folder, inside the output folder, that keeps finished shot encodes until every rung is joined
WORK_DIR = ".pershot-renditions-work"


def shot_path(out_dir: str, job: "ShotJob", e: ShotEncode) -> str:
    """Where a shot encode goes: named by what makes it (source, frames, size, command), so a re-run
    finds the encodes an interrupted run finished, and a changed ladder does not reuse stale ones."""
    from .cache import make_key

    key = make_key({"source": job.source.content_hash, "stream": job.source.stream, "start": job.start_frame,
                    "end": job.end_frame, "size": [e.width, e.height], "args": list(e.args)})[:24]
    return os.path.join(out_dir, f"rung{e.rung:02d}_shot{job.shot:05d}_{key}{shot_format(e)[1]}")


def shot_args(e: ShotEncode, src: str, dst: str) -> list[str]:
    """The ladder's command for one shot, writing a container with timestamps (:func:`shot_format`)
    instead of the raw stream: the same encoder, options and bitstream."""
    args = list(e.args)
    args[args.index("{output}") - 1] = shot_format(e)[0]
    return [input_arg(src) if a == "{input}" else input_arg(dst) if a == "{output}" else a for a in args]


# ---------------------------------------------------------------- the jobs (run in workers)


def _finished(dst: str) -> float | None:
    """The CPU seconds of a shot encode an earlier run finished (its file and record exist), else None."""
    try:
        with open(dst + ".json", encoding="utf-8") as f:
            rec = json.load(f)
        if os.path.getsize(dst) == int(rec["size_bytes"]) > 0:
            return float(rec["cpu_s"])
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return None


def shot_temp_bytes(job: ShotJob) -> int:
    """Temporary disk a shot job holds at once: its frames as Y4M at every size its rungs use."""
    frames = job.end_frame - job.start_frame
    return sum(y4m_bytes(w, h, frames, d) for w, h, d in {(e.width, e.height, e.bit_depth) for e in job.encodes})


def run_shot(job: ShotJob) -> list[ShotOutput]:
    """Decode the shot once at every size, then run each rung's encode (those not already finished)."""
    from . import ffmpeg
    from .atomic import atomic_path, write_text

    out: list[ShotOutput] = []
    todo: list[tuple[ShotEncode, str]] = []
    for e in job.encodes:
        dst = shot_path(job.out_dir, job, e)
        cpu = _finished(dst)
        if cpu is None:
            todo.append((e, dst))
        else:
            out.append(ShotOutput(e.rung, job.shot, dst, os.path.getsize(dst), cpu, _stream(e)))
    if not todo:
        return out
    frames: dict[tuple[int, int, int], str] = {}
    with tempfile.TemporaryDirectory(prefix="pershot-rend-", dir=temp_dir(job.work_dir)) as d:
        for depth in sorted({e.bit_depth for e, _ in todo}):  # one decode per bit depth (a ladder has one)
            sizes = sorted({(e.width, e.height) for e, _ in todo if e.bit_depth == depth},
                           key=lambda wh: (-wh[1], -wh[0]))
            ex = extract_shot(job.source, job.start_frame, job.end_frame, os.path.join(d, f"b{depth}"), sizes,
                              reference=False, bit_depth=depth)
            frames.update({(w, h, depth): pth for (w, h), pth in ex.scaled.items()})
        for e, dst in todo:
            with atomic_path(dst) as t:  # a finished encode appears whole, or not at all
                r = ffmpeg.run(shot_args(e, frames[(e.width, e.height, e.bit_depth)], str(t)),
                               what=f"encoding rung {e.rung} shot {job.shot} failed")
                size = t.stat().st_size
                if size <= 0:
                    raise FFmpegError(f"rung {e.rung} shot {job.shot}: the encoder wrote nothing", cmd=r.cmd,
                                      stderr=r.stderr)
            write_text(dst + ".json", json.dumps({"size_bytes": size, "cpu_s": r.cpu_s}))
            out.append(ShotOutput(e.rung, job.shot, dst, size, r.cpu_s, _stream(e)))
    return out


# ---------------------------------------------------------------- joining


def concat_list(paths: Sequence[str]) -> str:
    """An ffmpeg concat-demuxer list of ``paths`` (quotes escaped)."""
    return "".join("file '" + os.path.abspath(p).replace("'", "'\\''") + "'\n" for p in paths)


def reorder_depth(path: str | os.PathLike) -> int:
    """How many frames a file's decode order runs ahead of its display order at most (0 without
    B-frames, 2 for x264's B-pyramid): the delay its decode timestamps need."""
    return _display_order(_packet_pts(path))[1]


def _packet_pts(path: str | os.PathLike) -> list[int]:
    """The presentation timestamps of a file's video packets, in decode order."""
    import av

    with av.open(os.fspath(path)) as c:
        st = c.streams.video[0]
        return [int(p.pts) for p in c.demux(st) if p.size and p.pts is not None]


def _display_order(pts: Sequence[int]) -> tuple[dict[int, int], int]:
    """(each timestamp's place in display order, the most frames decode order runs ahead)."""
    rank = {t: i for i, t in enumerate(sorted(pts))}
    return rank, max((j - rank[t] for j, t in enumerate(pts)), default=0)


def uniform_dts(delay: int, fps: Fraction) -> str:
    """A ``setts`` bitstream filter giving every frame the decode timestamp ``(n - delay)`` frame
    durations after the first presentation timestamp (n: the frame's place in decode order), never
    after its own presentation time.

    Shots joined as they come keep each encoder's own decode delay: x264 ultrafast has none, the
    other presets two frames, so at such a boundary the decode timestamps of the next shot would go
    back in time, and the muxers bunch them 1 tick apart. MP4 then holds 1-tick sample durations,
    and a fragmenter (ffmpeg's DASH muxer among them) that times fragments from sample durations
    shifts every later frame by a frame. With one delay for the whole rung, the largest any of its
    shots needs, every sample lasts one frame and decode order is unchanged."""
    f = Fraction(fps)
    return (f"setts=pts=PTS:dts=min(PTS\\,STARTPTS+round((N-{int(delay)})*{f.denominator}/({f.numerator}*TB)))")


def join_args(list_file: str, dst: str, container: str, tag: str | None = None,
              dts: str | None = None, level: str | None = None) -> list[str]:
    """Join the shot files listed in ``list_file`` without re-encoding (``tag``: the MP4 sample entry;
    ``dts``: a ``setts`` filter from :func:`uniform_dts`; ``level``: one from :func:`peak_level_filter`)."""
    out = ["-y", "-v", "error", "-f", "concat", "-safe", "0", "-i", input_arg(list_file), "-map", "0:v:0",
           "-c", "copy"]
    bsfs = [b for b in (level, dts) if b]
    if container == "mp4":
        if tag:
            out += ["-tag:v", tag]
        if tag in _AUD_TYPES:
            bsfs.insert(0, f"filter_units=remove_types={_AUD_TYPES[tag]}")
        out += ["-movflags", "+faststart"]
    if bsfs:
        out += ["-bsf:v", ",".join(bsfs)]
    return out + ["-f", container, input_arg(dst)]


def rendition_times(idx: FrameIndex, shots: Sequence[tuple[int, int]]) -> list[int]:
    """The source's own presentation time (``idx.time_base`` ticks, from 0) of each frame of a
    rendition made of these ``(start_frame, end_frame)`` shots in order, and the end time of the last
    frame: what a VFR source's renditions keep. A gap between shots (shots not covering the source)
    is closed, as it is at a constant rate."""
    n = len(idx.pts)
    out: list[int] = []
    offset = 0
    for a, b in shots:
        if not 0 <= a < b <= n:
            raise InputError(f"shot frames {a}..{b} are outside the source's {n} frames")
        base = idx.pts[a]
        out.extend(offset + idx.pts[f] - base for f in range(a, b))
        end = idx.pts[b] if b < n else idx.pts[-1] + idx.last_duration
        offset += end - base
    out.append(offset)
    return out


#: the frame rates cameras, films and broadcasts use
COMMON_RATES = tuple(Fraction(r) for r in ("24000/1001", "24", "25", "30000/1001", "30", "48", "50", "60000/1001", "60",
                                           "100", "120000/1001", "120"))


def peak_rate(idx: FrameIndex) -> float:
    """The highest frame rate a VFR source keeps up for a second: the most frame intervals that fit in a
    second, over the time they take (the mean over every window that holds that many, each at least half a
    second, where the shortest gap alone would overstate it). 29.97 fps for frames 1001/30000 s apart,
    where the count of frames in a second says 30."""
    pts = idx.pts
    second = 1 / Fraction(idx.time_base)  # in ticks, exactly
    span = Fraction(pts[-1] - pts[0] + idx.last_duration) * Fraction(idx.time_base) if pts else Fraction(0)
    if span < 1:
        return float(len(pts) / span) if span > 0 else float(len(pts))
    # a window of a second less two ticks: timestamps rounded to the time base (a millisecond in Matroska)
    # can fit one more interval in a whole second than the rate does (30 at 29.97 fps)
    fit = second - min(2, second / 4)
    most, spans, i = 0, [], 0
    for j in range(len(pts)):
        while i + 1 < len(pts) and pts[i + 1] - pts[j] <= fit:
            i += 1
        if i - j > most:
            most, spans = i - j, []
        if i - j == most:
            spans.append(max(pts[i] - pts[j], second / 2))
    if most == 0:
        return 1.0
    window = Fraction(sum(spans)) / len(spans)
    rate = most / window * second
    # rounded timestamps move each window by up to two ticks: within that, the nearest common rate is the rate
    # (30 fps stored in ms is not 29.99)
    near = min(COMMON_RATES, key=lambda r: abs(r - rate))
    return float(near if abs(near - rate) <= rate * 2 / window else rate)


def peak_level(paths: Sequence[str | os.PathLike], sizes: "set[tuple[int, int]]", fps: float
               ) -> tuple[str, int] | None:
    """(codec, level) to raise the level the shot encodes ``paths`` signal to: the one their pictures
    (``sizes``) need at ``fps``; None where they signal enough (or the need is beyond every level).

    The encoders pick a level from the rate they are given: a VFR source's average, while its
    renditions keep the source's own frame times (:func:`retime`), whose busiest second
    (:func:`peak_rate`) can need more (a 320x180 clip at 29.97 fps for a second and 15 after:
    level 1.2 signalled, 1.3 needed). Encoding at the peak rate instead would change the encodes
    (x264's CRF output is some 10% smaller at 29.97 than at 20.47 fps for the same frames) and with it
    what the probes measured; the level is only a field of the parameter sets (H.264/HEVC ``level_idc``,
    which the ``h264_metadata``/``hevc_metadata`` filters rewrite: :func:`peak_level_filter`) or of the
    sequence headers (AV1 ``seq_level_idx``: :func:`pershot.bitstream.av1_with_level`, in :func:`retime`),
    and every coded picture stays as it is."""
    from .bitstream import level_rank, rate_level, signalled_level

    found = [lv for lv in map(signalled_level, paths) if lv is not None]
    if not found or len({c for c, _ in found}) != 1:
        return None
    codec = found[0][0]
    have = max((lv for _, lv in found), key=lambda lv: level_rank(codec, lv))
    need = [rate_level(codec, w, h, fps) for w, h in sizes]
    if any(n is None for n in need) or not need:
        return None  # beyond every level: nothing to signal
    top = max(need, key=lambda lv: level_rank(codec, lv))
    return (codec, top) if level_rank(codec, top) > level_rank(codec, have) else None


def peak_level_filter(paths: Sequence[str | os.PathLike], sizes: "set[tuple[int, int]]", fps: float) -> str | None:
    """The bitstream filter that raises an H.264 or HEVC rendition's level to :func:`peak_level`'s, or None
    (signalled enough already, AV1, or an ffmpeg without the filter)."""
    got = peak_level(paths, sizes, fps)
    return level_filter(*got) if got is not None else None


def level_filter(codec: str, level: int) -> str | None:
    """``h264_metadata=level=N`` / ``hevc_metadata=level=N``; None for another codec or an ffmpeg without it."""
    from . import ffmpeg
    from .bitstream import LEVEL_FILTERS

    if codec not in LEVEL_FILTERS or not ffmpeg.has_bsf(LEVEL_FILTERS[codec]):
        return None
    return f"{LEVEL_FILTERS[codec]}=level={level}"


def retime(path: str | os.PathLike, times: Sequence[int], time_base: Fraction, container: str,
           tag: str | None = None, av1_level: int | None = None) -> None:
    """Give the video of ``path`` (rewritten in place, without re-encoding) the presentation times
    ``times`` (``time_base`` ticks; frame k in display order gets ``times[k]``, and ``times[-1]`` ends
    the last): decode timestamps run ``reorder_depth`` frames behind, durations reach the next frame.
    ``av1_level``: an AV1 stream's sequence headers signal that level at least (:func:`peak_level`)."""
    import av

    from .bitstream import AV1_DECODERS, av1_with_level

    pts = _packet_pts(path)
    if len(pts) != len(times) - 1:
        raise FFmpegError(f"{Path(path).name}: {len(pts)} frames to retime, {len(times) - 1} times given")
    if any(b <= a for a, b in zip(times, times[1:])):
        raise InputError("frame times must rise strictly")
    rank, delay = _display_order(pts)
    step = min(b - a for a, b in zip(times, times[1:]))
    tmp = Path(os.fspath(path) + ".retime")
    try:
        options = {"movflags": "+faststart"} if container == "mp4" else {}
        with av.open(os.fspath(path)) as ic, av.open(str(tmp), "w", format=container, options=options) as oc:
            ist = ic.streams.video[0]
            cc = ist.codec_context
            if cc.name in AV1_DECODERS:  # no encoder of that name to copy from: a stream for muxing only
                ost = oc.add_mux_stream("av1", width=cc.width, height=cc.height, time_base=time_base)
            else:
                ost = oc.add_stream_from_template(ist)
                if tag:
                    ost.codec_context.codec_tag = tag
                ost.time_base = time_base
            j = 0
            for pkt in ic.demux(ist):
                if not pkt.size or pkt.pts is None:
                    continue
                k = rank[int(pkt.pts)]
                if av1_level is not None and cc.name in AV1_DECODERS:
                    key, pkt = pkt.is_keyframe, av.Packet(av1_with_level(bytes(pkt), av1_level))
                    pkt.is_keyframe = key
                dts = times[j - delay] if j >= delay else times[0] - (delay - j) * step
                pkt.pts, pkt.dts, pkt.duration = times[k], dts, times[k + 1] - times[k]
                pkt.time_base = time_base
                pkt.stream = ost
                oc.mux(pkt)
                j += 1
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


# ---------------------------------------------------------------- audio


def default_audio_kbps(channels: int) -> int:
    """The AAC-LC bitrate of an audio rendition when none is asked for: :data:`AUDIO_DEFAULT_KBPS` up to
    stereo, 64 kbps a channel beyond (384 for 5.1, 512 at most)."""
    return AUDIO_DEFAULT_KBPS if channels <= 2 else min(512, 64 * int(channels))


def parse_audio(spec: "str | int | None") -> int | None:
    """``None``/``"none"``: no audio rendition; ``"aac"``: AAC-LC at :data:`AUDIO_DEFAULT_KBPS`;
    ``"aac:96"`` (or ``96``): at 96 kbps. Returns the kbps, or None."""
    if spec is None or spec in ("", "none"):
        return None
    if isinstance(spec, bool):
        raise InputError(f"audio must be none or aac[:KBPS], not {spec!r}")
    name, _, k = (f"aac:{spec}" if isinstance(spec, int) else str(spec)).partition(":")
    if name != "aac":
        raise InputError(f"audio must be none or aac[:KBPS], not {spec!r}")
    try:
        kbps = int(k) if k else AUDIO_DEFAULT_KBPS
    except ValueError:
        raise InputError(f"audio bitrate must be a whole number of kbps, not {k!r}") from None
    if not 16 <= kbps <= 512:
        raise InputError(f"audio bitrate must be in [16, 512] kbps, got {kbps}")
    return kbps


def audio_streams(path: str | os.PathLike) -> list[dict[str, Any]]:
    """The file's audio streams: index (as ffprobe numbers them), codec, sample rate, channels, and the
    language (ISO 639-2 as the container tags it; "" where untagged or ``und``) and title tags."""
    import av

    with av.open(os.fspath(path)) as c:
        return [{"index": int(st.index), "codec": st.codec_context.name if st.codec_context else "unknown",
                 "sample_rate": int(st.codec_context.sample_rate or 0) if st.codec_context else 0,
                 "channels": int(st.codec_context.channels or 0) if st.codec_context else 0,
                 "layout": _layout_name(st),
                 "language": stream_tag(st, "language"),
                 "title": stream_tag(st, "title") or stream_tag(st, "name")}  # MP4 keeps a track's title as "name"
                for st in c.streams if st.type == "audio"]


def _layout_name(st: Any) -> str:
    """The channel layout's name as ffmpeg gives it (``5.1(side)``, ``7.1``, ``octagonal``), or ""."""
    try:
        return str(st.codec_context.layout.name or "")
    except (AttributeError, ValueError):
        return ""


def audio_picks(path: str | os.PathLike, pick: "int | str | Sequence[int | str] | None" = None,
                found: "Sequence[Mapping[str, Any]] | None" = None) -> list[int]:
    """The indices in the file of the audio streams to encode: ``[]`` when it has none; its first alone
    (``pick`` None); every one (``"all"``); or each of a list of picks (see :func:`_pick_audio`; a
    stream picked twice is encoded once). ``found``: the file's :func:`audio_streams`, where already read."""
    found = list(audio_streams(path) if found is None else found)
    if isinstance(pick, str) and pick.lower() == "all":
        return [a["index"] for a in found]
    if pick is None or isinstance(pick, (int, str)):
        one = _pick_audio(path, found, pick)
        return [] if one is None else [one]
    out: list[int] = []
    for p in pick:
        i = _pick_audio(path, found, p)
        if i is not None and i not in out:
            out.append(i)
    return out


def _pick_audio(path: str | os.PathLike, found: Sequence[Mapping[str, Any]], pick: "int | str | None") -> int | None:
    """The index in the file of one audio stream among its audio streams ``found`` (None when it has none):
    its first, or with ``pick`` the N-th audio stream (0 = the first) or the first tagged with language
    ``pick`` ("fra", or "fr" or "fre": tags compare as RFC 5646 tags). InputError where ``pick`` matches
    none, naming those there are."""
    from .languages import bcp47

    if pick is None or not found:
        return found[0]["index"] if found else None
    if isinstance(pick, int) or str(pick).isdigit():
        n = int(pick)
        if 0 <= n < len(found):
            return found[n]["index"]
    else:  # as RFC 5646 tags: fr, fra and fre are one language
        want = bcp47(str(pick)) or str(pick).lower()
        for a in found:
            if (bcp47(a["language"]) or a["language"].lower()) == want:
                return a["index"]
    have = ", ".join(f"{i} ({a['language'] or 'untagged'})" for i, a in enumerate(found))
    raise InputError(f"{Path(path).name} has no audio stream {pick!r} (its audio streams: {have})")


def video_span(info: SourceInfo) -> tuple[float, float]:
    """(the source time of its first video frame, seconds from it to the end of the last): the span the
    video renditions cover, starting at their time 0."""
    idx = frame_index(info.path, info.stream)
    t0 = float(idx.pts[0] * idx.time_base)
    return t0, float((idx.pts[-1] - idx.pts[0] + idx.last_duration) * idx.time_base)


#: the true-peak ceiling and loudness range loudness normalization keeps to (dBTP, LU): -2 dBTP leaves AAC room
#: for its overshoot (ATSC A/85's ceiling); a wide range keeps the gain linear (the mix untouched) wherever the
#: peak allows it
LOUDNESS_TP = -2.0
LOUDNESS_LRA = 20.0


def parse_loudness(value: "float | str | None") -> float | None:
    """An integrated-loudness target in LUFS (-23: EBU R128; -24: ATSC A/85; -16: streaming music), or None.
    InputError outside [-70, -5] or not a number."""
    import math

    if value is None:
        return None
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise InputError(f"the audio loudness target must be a number of LUFS (e.g. -23), not {value!r}") from None
    if not math.isfinite(v) or not -70.0 <= v <= -5.0:
        raise InputError(f"the audio loudness target must be in [-70, -5] LUFS, got {value!r}")
    return v


def _span_filter(info: SourceInfo) -> str:
    """The audio filters that keep the span of the video renditions, rebased to their first frame."""
    t0, span = video_span(info)
    return f"atrim=start={t0:.6f}:end={t0 + span:.6f},asetpts=PTS-({t0:.6f})/TB"


def _loudnorm_stats(stderr: str) -> dict:
    """The JSON block ``loudnorm=...:print_format=json`` writes at the end of a run."""
    i, j = stderr.rfind("{"), stderr.rfind("}")
    if i < 0 or j < i:
        raise FFmpegError("loudnorm printed no measurement")
    return json.loads(stderr[i:j + 1])


def measure_loudness(info: SourceInfo, stream: int, target: float) -> tuple[dict, float]:
    """The first of loudness normalization's two passes: the audio stream's integrated loudness, true peak,
    range and threshold over the renditions' span (ffmpeg's ``loudnorm`` statistics), and its CPU seconds."""
    from . import ffmpeg

    af = f"{_span_filter(info)},loudnorm=I={target:g}:TP={LOUDNESS_TP:g}:LRA={LOUDNESS_LRA:g}:print_format=json"
    r = ffmpeg.run(["-y", "-copyts", "-i", input_arg(info.path), "-map", f"0:{stream}", "-vn", "-sn", "-dn",
                    "-af", af, "-f", "null", "-"], what="measuring the audio's loudness failed")
    return _loudnorm_stats(r.stderr), r.cpu_s


def audio_args(info: SourceInfo, stream: int, kbps: int, dst: str | os.PathLike, loudness: float | None = None,
               measured: "Mapping[str, Any] | None" = None, sample_rate: int = 48000, title: str = "") -> list[str]:
    """ffmpeg arguments for the audio rendition: the source's audio from the instant of its first video
    frame to the end of its last (the span the video renditions cover, which start at 0), timestamps
    rebased to that first frame, silence put in where the audio starts later or ends earlier (or lies
    outside the span altogether: the rendition is then silent), so it lasts as long as the video, AAC-LC
    in MP4. With
    ``loudness`` (LUFS) and the first pass's ``measured`` statistics (:func:`measure_loudness`), normalized
    to that integrated loudness (linear gain where the true peak allows it), resampled back to
    ``sample_rate`` (loudnorm works at 192 kHz); its own statistics are then printed (run at info level)."""
    af = _span_filter(info)
    level = ["-v", "error"]
    resample = "aresample=async=1:first_pts=0"
    if loudness is not None:
        m = measured or {}
        af += (f",loudnorm=I={loudness:g}:TP={LOUDNESS_TP:g}:LRA={LOUDNESS_LRA:g}:measured_I={m['input_i']}:"
               f"measured_TP={m['input_tp']}:measured_LRA={m['input_lra']}:measured_thresh={m['input_thresh']}:"
               f"offset={m['target_offset']}:linear=true:print_format=json")
        level = []
        resample = f"aresample={int(sample_rate) or 48000}:async=1:first_pts=0"
    pad = f"apad=whole_dur={video_span(info)[1]:.6f}"
    return ["-y", *level, "-copyts", "-i", input_arg(info.path), "-map", f"0:{stream}", "-vn", "-sn", "-dn",
            "-af", f"{af},{resample},{pad}", "-c:a", "aac", "-b:a", f"{kbps}k",
            *(["-metadata:s:a:0", f"title={title}"] if title else []), "-movflags", "+faststart", "-f", "mp4",
            input_arg(dst)]


def _audio_payload(path: str | os.PathLike) -> tuple[float, int]:
    """(seconds, bytes of audio packets) of a file."""
    import av

    size, end = 0, 0.0
    with av.open(os.fspath(path)) as c:
        st = c.streams.audio[0]
        for pkt in c.demux(st):
            if pkt.size:
                size += pkt.size
                if pkt.pts is not None:
                    end = max(end, float((pkt.pts + (pkt.duration or 0)) * st.time_base))
    return end, size


def _video_payload(path: str | os.PathLike) -> tuple[int, int]:
    """(frames decoded, bytes of video packets) of a file: every frame is decoded, so a join that
    demuxes but does not decode (wrong parameter sets) is caught."""
    import av

    size = 0
    with av.open(os.fspath(path)) as c:
        st = c.streams.video[0]
        st.thread_type = "AUTO"
        n = 0
        for pkt in c.demux(st):
            size += pkt.size
            try:
                n += len(pkt.decode())
            except av.error.FFmpegError:
                pass  # a packet that does not decode: counted out, and the frame check fails
    return n, size


# ---------------------------------------------------------------- subtitles


@dataclass(frozen=True)
class SubtitlePlan:
    """A subtitle rendition to write: the file ffmpeg reads, the stream's index in it (None: a subtitle
    file, timed from the title's first frame), and its language, title and forced flag."""

    src: str
    stream: int | None
    language: str = ""
    title: str = ""
    forced: bool = False
    captions: bool = False  #: the closed captions of video stream ``stream``


def subtitle_plan(info: SourceInfo, pick: "int | str | Sequence[int | str] | None" = None,
                  files: "Sequence[str | os.PathLike | tuple] | None" = None) -> list[SubtitlePlan]:
    """The subtitle renditions asked for, checked before any encode: the source's text subtitle streams
    ``pick`` names (see :func:`pershot.subtitles.subtitle_picks`), then each subtitle file of ``files``
    (``PATH`` or ``PATH:LANG``, see :func:`pershot.subtitles.parse_sidecar`)."""
    from .subtitles import check_pick, parse_sidecar, sidecar_meta, subtitle_picks, subtitle_streams

    check_pick(pick)
    plans = []
    if pick is not None:
        chosen, _ = subtitle_picks(info.path, pick, subtitle_streams(info.path, video_stream=info.stream))
        plans += [SubtitlePlan(str(info.path), s.index, s.language, s.title, s.forced, s.captions) for s in chosen]
    for f in files or ():
        path, lang = parse_sidecar(f)
        plans.append(SubtitlePlan(str(path), None, **sidecar_meta(path, lang)))
    return plans


@dataclass(frozen=True)
class SubtitleText:
    """A subtitle rendition read and converted, before any encode: its plan, its cues on the renditions'
    clock, the CPU seconds ffmpeg took."""

    plan: SubtitlePlan
    cues: tuple
    cpu_s: float


def read_subtitles(info: SourceInfo, plans: Sequence[SubtitlePlan]) -> list[SubtitleText]:
    """Convert each planned subtitle rendition to WebVTT cues on the renditions' clock, cut to their span
    (cheap: done before any encode, so a subtitle file ffmpeg cannot read fails first, exit 2)."""
    from .subtitles import convert, to_title_time

    t0, span = video_span(info) if plans else (0.0, 0.0)
    out = []
    for p in plans:
        cues, cpu_s = convert(p.src, p.stream, p.captions)
        out.append(SubtitleText(p, tuple(to_title_time(cues, t0 if p.stream is not None else 0.0, span)), cpu_s))
    return out


def write_subtitles(info: SourceInfo, texts: Sequence[SubtitleText], out: Path) -> list[Rendition]:
    """Write each subtitle rendition as WebVTT in ``out`` (``subtitles_eng.vtt``, ``subtitles.vtt`` without a
    language; several:
    ``subtitles_0_eng.vtt``...); rungs -101, -102... Their ``frames`` is the number of cues."""
    from .atomic import atomic_path
    from .subtitles import display_name, unique_names, vtt_text

    span = video_span(info)[1] if texts else 0.0
    names = unique_names([display_name(t.plan.language, t.plan.title, k, t.plan.forced, t.plan.captions)
                          for k, t in enumerate(texts)])
    results = []
    for k, t in enumerate(texts):
        p = t.plan
        tag = ("" if len(texts) == 1 else f"_{k}") + (f"_{p.language}" if p.language else "") + (
            "_cc" if p.captions else "")
        dst = out / f"subtitles{tag}.vtt"
        with atomic_path(dst) as tmp:
            Path(tmp).write_text(vtt_text(t.cues), encoding="utf-8")
        size = dst.stat().st_size
        results.append(Rendition(
            rung=-101 - k, name=names[k], path=str(dst), container="webvtt", width=0, height=0, frames=len(t.cues),
            duration_s=span, size_bytes=size, bitrate_kbps=size * 8.0 / span / 1000.0 if span > 0 else 0.0,
            ladder_kbps=float("nan"), encode_cpu_s=t.cpu_s, kind="captions" if p.captions else "subtitles",
            language=p.language, forced=p.forced))
    return results


def shot_spans(doc: Mapping[str, Any]) -> list[tuple[int, int]]:
    """The ladder's shots as (start_frame, end_frame), in order (every rung has the same)."""
    return sorted({(int(s["start_frame"]), int(s["end_frame"])) for r in doc.get("rungs") or [] for s in r["shots"]})


def shot_times(doc: Mapping[str, Any], info: SourceInfo, times: "FrameIndex | None") -> list[tuple[float, float]]:
    """(start, end) of each shot of a ladder on its renditions' clock (seconds from the first frame): the
    source's own frame times where the renditions keep them (``times``, see :func:`_source_times`), else
    frames at the source's rate."""
    spans = shot_spans(doc)
    if times is not None:
        rt = rendition_times(times, spans)
        ticks, starts, k = float(times.time_base), [], 0
        for a, b in spans:
            starts.append(rt[k] * ticks)
            k += b - a
        ends = starts[1:] + [rt[-1] * ticks]
    else:
        rate, starts, k = float(info.fps), [], 0
        for a, b in spans:
            starts.append(k / rate)
            k += b - a
        ends = starts[1:] + [k / rate]
    return list(zip(starts, ends))


def write_storyboard(doc: Mapping[str, Any], base: "Path | None", info: SourceInfo, times: "FrameIndex | None",
                     out: Path) -> list[Rendition]:
    """Where the ladder coded thumbnails (``--thumbnails``, in ladder.json, files relative to ``base``): a
    storyboard for scrubbing previews, ``out/thumbnails.vtt`` (each shot's thumbnail over the shot's span)
    and the images in ``out/thumbnails/``, named by the shots' order (``shot0000.jpg``...; the names
    DASH's thumbnail template counts); one row of kind ``thumbnails`` (rung -201). Nothing where the
    ladder has none, its folder is unknown, or a thumbnail is not in a format browsers show (see
    :func:`pershot.thumbnails.storyboard_entries`; the CLI says why). A thumbnail file that is missing
    was refused before any encode (:func:`_check_storyboard`)."""
    from .atomic import atomic_path, write_text
    from .thumbnails import STORYBOARD, storyboard_entries, storyboard_vtt

    thumbs = doc.get("thumbnails") or []
    if not thumbs or base is None:
        return []
    try:
        entries = storyboard_entries(thumbs, shot_spans(doc), shot_times(doc, info, times))
    except InputError:
        return []
    named = []
    for k, e in enumerate(entries):
        name = f"thumbnails/shot{k:04d}{Path(e.path).suffix.lower()}"
        with atomic_path(out / name) as t:
            shutil.copyfile(base / e.path, t)
        named.append(dataclasses.replace(e, path=name))
    write_text(out / STORYBOARD, storyboard_vtt(named))
    span = named[-1].end_s
    size = sum(e.bytes for e in named)
    return [Rendition(rung=-201, name="storyboard", path=str(out / STORYBOARD), container="webvtt",
                      width=max(e.width for e in named), height=max(e.height for e in named), frames=len(named),
                      duration_s=span, size_bytes=size, bitrate_kbps=size * 8.0 / span / 1000.0 if span > 0 else 0.0,
                      ladder_kbps=float("nan"), encode_cpu_s=0.0, kind="thumbnails")]


def _check_storyboard(doc: Mapping[str, Any], base: "Path | None") -> None:
    """Refuse, before any encode, a ladder whose thumbnails' files are not in its folder ``base``."""
    from .thumbnails import missing_thumbnails

    if base is not None and doc.get("thumbnails"):
        gone = missing_thumbnails(dict(doc), base)
        if gone:
            raise InputError(f"the ladder's thumbnail {gone[0]} is not in {base}"
                             + (f" ({len(gone) - 1} more missing)" if len(gone) > 1 else "")
                             + ": its storyboard needs every shot's")


#: the encoders whose renditions HLS and DASH package
_PACKAGED = frozenset({"libx264", "libx265", "libsvtav1"})


def _check_packaging(doc: Mapping[str, Any], rungs: Sequence[int] | None, hls: bool = False,
                     dash: bool = False) -> None:
    """Before any encode: HLS and DASH packaging need rungs of one resolution each, all from one
    encoder: x264, x265 or SVT-AV1."""
    what = " and ".join(w for w, on in (("HLS", hls), ("DASH", dash)) if on)
    if not what:
        return
    from . import ffmpeg
    from .errors import ConfigError

    for fmt, on in (("hls", hls), ("dash", dash)):
        if on and not ffmpeg.has_muxer(fmt):
            raise ConfigError(f"this ffmpeg has no {fmt} muxer, which {fmt.upper()} packaging needs")
    used: set[str] = set()
    for r in doc["rungs"]:
        if rungs is not None and int(r["rung"]) not in rungs:
            continue
        shots = r.get("shots") or []
        if len({(s.get("width"), s.get("height")) for s in shots}) > 1:
            raise InputError(f"rung {r['rung']} changes resolution shot by shot: {what} packaging needs one "
                             "resolution per rung (a ladder without --per-shot-resolution)")
        encs = {str((s.get("encode") or {}).get("ffmpeg_encoder")) for s in shots}
        if encs - _PACKAGED:
            raise InputError(f"rung {r['rung']} is encoded with {', '.join(sorted(encs - _PACKAGED))}: {what} "
                             "packaging is for x264, x265 and SVT-AV1 ladders")
        used |= encs
    if len(used) > 1:
        raise InputError(f"the rungs are encoded with {', '.join(sorted(used))}: {what} packaging needs one "
                         "encoder for the whole ladder")


def _source_times(info, cfr: bool):
    """The source's own frame timing for its renditions to keep (a VFR source), or None: constant rate
    (a CFR source, ``cfr``, or timestamps that repeat or go back, which give no timing to keep)."""
    times = shown_index(info) if info.is_vfr and not cfr else None
    if times is not None and any(b <= a for a, b in zip(times.pts, times.pts[1:])):
        return None
    return times


def _join_rungs(doc: Mapping[str, Any], info: SourceInfo, outputs: Sequence[ShotOutput], plan: Sequence[ShotJob],
                out: Path, tmp: Path, cfr: bool) -> "tuple[list[Rendition], FrameIndex | None]":
    """Join each rung's shot encodes into one file in ``out`` (checked frame for frame): the renditions,
    and the source's frame times where the renditions keep them (:func:`_source_times`)."""
    from .atomic import atomic_path
    from . import ffmpeg

    order = {j.shot: k for k, j in enumerate(plan)}
    results: list[Rendition] = []
    times = _source_times(info, cfr)
    peak = peak_rate(times) if times is not None else float(info.fps)
    for r in doc["rungs"]:
        rung = int(r["rung"])
        parts = sorted((o for o in outputs if o.rung == rung), key=lambda o: order[o.shot])
        if not parts:
            continue
        shots = r["shots"]
        sizes = {(int(s["width"]), int(s["height"])) for s in shots}
        frames = sum(int(s["end_frame"]) - int(s["start_frame"]) for s in shots)
        inter, _, tag = _SHOT_FORMATS.get(parts[0].stream, _OTHER_FORMAT)
        if len(sizes) == 1:
            container, ext = "mp4", "mp4"
        else:  # the size changes within the rung: a container whose stream may change size
            container, ext = ("mpegts", "ts") if inter == "mpegts" else ("matroska", "mkv")
        w, h = next(iter(sizes)) if len(sizes) == 1 else (0, 0)
        name = f"rung{rung:02d}_{describe(w, h)}.{ext}"
        lst = os.path.join(tmp, f"rung{rung:02d}.txt")
        Path(lst).write_text(concat_list([p.path for p in parts]), encoding="utf-8")
        dts = uniform_dts(max(reorder_depth(p.path) for p in parts), info.fps) if ffmpeg.has_bsf("setts") else None
        # the source's own frame times: its busiest second can need a higher level than the average rate
        raise_to = peak_level([p.path for p in parts], sizes, peak) if times is not None else None
        level = level_filter(*raise_to) if raise_to is not None else None
        with atomic_path(out / name) as t:
            ffmpeg.run(join_args(lst, str(t), container, tag, dts, level), what=f"joining rung {rung} failed")
            if times is not None:
                rt = rendition_times(times, [(int(s["start_frame"]), int(s["end_frame"])) for s in shots])
                retime(t, rt, times.time_base, container, tag,
                       raise_to[1] if raise_to is not None and raise_to[0] == "av1" else None)
                dur = float(rt[-1] * times.time_base)
            else:
                dur = frames / float(info.fps)
            got, size = _video_payload(t)
            if got != frames:
                raise FFmpegError(f"rung {rung}: the joined file has {got} frames, the ladder {frames}")
        results.append(Rendition(
            rung=rung, name=str(r.get("name") or f"rung {rung}"), path=str(out / name), container=container,
            width=w, height=h, frames=frames, duration_s=dur, size_bytes=size,
            bitrate_kbps=size * 8.0 / dur / 1000.0, ladder_kbps=float(r.get("bitrate_kbps") or "nan"),
            encode_cpu_s=sum(p.cpu_s for p in parts)))
    return results, times


def _encode_ladder(
    ladder: "str | os.PathLike | Mapping[str, Any]",
    out_dir: str | os.PathLike,
    *,
    source: "str | os.PathLike | None" = None,
    rungs: Sequence[int] | None = None,
    executor: Any = None,
    jobs: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    work_dir: str | None = None,
    audio: "str | int | None" = None,
    crop: "str | Sequence[int] | None" = None,
    tonemap: str | None = None,
    deinterlace: str | None = None,
    hls: bool = False,
    dash: bool = False,
    cfr: bool = False,
    verify: bool = False,
    verify_progress: Callable[[int, int], None] | None = None,
    audio_pick: "int | str | None" = None,
    subtitles: "int | str | Sequence[int | str] | None" = None,
    subtitle_files: "Sequence[str | os.PathLike | tuple] | None" = None,
    audio_loudness: "float | None" = None,
    base: "str | os.PathLike | None" = None,
    storyboard: bool = True,
) -> "tuple[list[Rendition], float, Fraction]":
    """:func:`encode_renditions` without the packaging: (the renditions, the frame rate HLS's
    ``FRAME-RATE`` gives them, the source's frame rate). ``hls``/``dash``: only checked for.
    ``verify``: score each rung's file against the source (:mod:`pershot.verify`), a job per rung, with
    ``verify_progress(done, total)`` called as each finishes. ``audio_pick``: which audio stream(s) the
    audio renditions come from (see :func:`audio_picks`; default the first). ``subtitles``,
    ``subtitle_files``: the subtitle renditions (see :func:`subtitle_plan`). ``audio_loudness``: normalize
    each audio rendition to this integrated loudness (LUFS, two passes of ffmpeg's ``loudnorm``). ``base``:
    the folder the ladder's thumbnails are in (default: the ladder file's); ``storyboard``: make one of them."""
    import pandas as pd

    from .atomic import atomic_path
    from .executors import LocalExecutor, make_executor
    from . import ffmpeg
    from .media import parse_crop, probe_source, with_crop, with_deinterlace, with_tonemap

    if isinstance(ladder, (str, os.PathLike)):
        doc = load_ladder_json(ladder)  # checked as it is read
        base = Path(ladder).parent if base is None else base
    else:
        check_ladder_doc(ladder)
        doc = ladder
    board = Path(base) if base is not None and storyboard else None
    _check_storyboard(doc, board)
    src = source if source is not None else (doc.get("source") or {}).get("path")
    if not src:
        raise InputError("the ladder does not say which video it is for: give the source")
    stream = (doc.get("source") or {}).get("stream") if source is None else None
    # an HDR source the ladder was made from tone-mapped, or a cropped one, is treated the same way
    made = doc.get("source") or {}

    def recorded(key: str, given: Any, same: Callable[[Any, Any], bool]) -> Any:
        """The ladder's own setting, else what is given for a ladder that does not say. One given that
        ``same`` finds different from what the ladder records (None: none) is an error (it was silently
        ignored): the probes measured the recorded one."""
        if key not in made:
            return given
        have = made.get(key)
        if given is not None and not same(have, given):
            flag = {"tonemap": "--tonemap", "crop": "--crop", "deinterlace": "--deinterlace"}[key]
            was = "none" if have is None else ":".join(map(str, have)) if isinstance(have, list) else have
            raise InputError(f"the ladder was made with {key} {was}, its probes measured that: {flag} {given} "
                             "asks for other renditions (make the ladder again with it)")
        return have

    def same_crop(have: Any, given: Any) -> bool:
        if str(given).lower() in ("auto", "none"):
            return str(given).lower() == "auto" or have is None
        return have is not None and tuple(have) == parse_crop(given)

    info = probe_source(src, stream if isinstance(stream, int) else None)
    # an SDR source ignores a tone map, a progressive one a deinterlacing mode
    info = with_tonemap(info, recorded("tonemap", tonemap, lambda a, b: a == b or not info.hdr_transfer))
    info = with_crop(info, recorded("crop", crop, same_crop))
    info = with_deinterlace(info, recorded("deinterlace", deinterlace,  # frames counted by field, as the ladder's
                                           lambda a, b: a == b or not info.interlaced))
    _check_packaging(doc, rungs, hls=hls, dash=dash)
    kbps = parse_audio(audio)
    target = parse_loudness(audio_loudness)
    if target is not None and kbps is None:
        raise InputError("an audio loudness target goes with an audio rendition (--audio)")
    listed = audio_streams(info.path) if kbps is not None else []
    a_streams = audio_picks(info.path, audio_pick, listed) if kbps is not None else []
    if kbps is not None and not a_streams:
        raise InputError(f"{Path(info.path).name} has no audio stream (asked for an audio rendition)")
    found = {a["index"]: a for a in listed}
    asked = kbps is not None and (isinstance(audio, int) or ":" in str(audio))  # else by each stream's channels
    subs = read_subtitles(info, subtitle_plan(info, subtitles, subtitle_files))  # a bad file fails here
    out = Path(out_dir)
    tmp = (out / WORK_DIR).resolve()
    # the shot encodes stay in the work folder until every rung is joined: a re-run reuses them. Planned
    # first: a ladder refused (another video, a bad command) leaves no folder behind
    plan = plan_renditions(doc, info, str(tmp), rungs, work_dir)
    out.mkdir(parents=True, exist_ok=True)
    tmp.mkdir(exist_ok=True)
    outputs: list[ShotOutput] = []
    own = executor is None
    ex = make_executor("local", jobs) if own else executor
    try:
        if isinstance(ex, LocalExecutor):  # remote workers have disks of their own
            check_temp_space([(temp_dir(j.work_dir), shot_temp_bytes(j)) for j in plan], ex.workers,
                             "encoding the renditions")
        for i, (_, res) in enumerate(ex.map(run_shot, plan)):
            outputs.extend(res)
            if progress:
                progress(i + 1, len(plan))
        results, times = _join_rungs(doc, info, outputs, plan, out, tmp, cfr)
        if verify:  # on the same executor as the encodes
            from .verify import run_verify, verify_jobs

            checks_plan = verify_jobs(doc, info, results, work_dir)
            checks = {}
            for i, (_, c) in enumerate(ex.map(run_verify, checks_plan)):
                checks[c.rung] = c
                if verify_progress:
                    verify_progress(i + 1, len(checks_plan))
            results = [dataclasses.replace(x, **checks[x.rung].as_dict()) if x.rung in checks else x
                       for x in results]
    finally:
        if own:
            ex.close()
    for k, a_stream in enumerate(a_streams):  # one rendition per audio stream asked for, rung -1, -2...
        lang = found[a_stream]["language"]
        a_kbps = kbps if asked else default_audio_kbps(found[a_stream]["channels"])
        # one stream keeps the plain name; several are told apart by language (else by position)
        tag = "" if len(a_streams) == 1 else f"_{k}" + (f"_{lang}" if lang else "")
        name = f"audio_aac{a_kbps}{tag}.m4a"
        measured, lufs, cpu, gain = None, float("nan"), 0.0, target
        if target is not None:  # two passes: measure, then normalize with what was measured
            measured, cpu = measure_loudness(info, a_stream, target)
            if not float(measured["input_i"]) > -70.0:  # silence (below BS.1770's absolute gate): no gain to
                gain, lufs = None, float(measured["input_i"])  # give; kept as it is, its loudness -inf
        with atomic_path(out / name) as t:
            r = ffmpeg.run(audio_args(info, a_stream, a_kbps, t, gain, measured, found[a_stream]["sample_rate"],
                                      found[a_stream]["title"]),
                           what="encoding the audio rendition failed")
            if gain is not None:
                lufs = float(_loudnorm_stats(r.stderr)["output_i"])
            dur, size = _audio_payload(t)
        results.append(Rendition(
            rung=-1 - k, name=f"audio aac {a_kbps} kbps" + (f" ({lang})" if lang else ""), path=str(out / name),
            container="mp4", width=0, height=0,
            frames=0, duration_s=dur, size_bytes=size, bitrate_kbps=size * 8.0 / dur / 1000.0 if dur > 0 else 0.0,
            ladder_kbps=float("nan"), encode_cpu_s=r.cpu_s + cpu, kind="audio", language=lang, loudness_lufs=lufs))
    results += write_subtitles(info, subs, out)
    results += write_storyboard(doc, board, info, times, out)
    with atomic_path(out / "renditions.csv") as t:
        pd.DataFrame([x.as_dict() for x in results], columns=list(RENDITION_COLUMNS)).to_csv(t, index=False)
    shutil.rmtree(tmp, ignore_errors=True)  # every rung is joined: the shot encodes are no longer needed
    # FRAME-RATE is the highest rate of the variant: a VFR rendition's busiest second
    return results, (peak_rate(times) if times is not None else info.fps), info.fps


def _package(results: Sequence[Rendition], out: Path, hls: bool, dash: bool, hls_fps, fps,
             segment_s: float | None = None) -> None:
    """Package renditions as HLS in ``out/hls/`` and/or MPEG-DASH in ``out/dash/`` (segments aiming at
    ``segment_s`` seconds; None: each packager's default, 6 s)."""
    seg = {} if segment_s is None else {"segment_s": float(segment_s)}
    if hls:
        from .hls import package

        package(results, out / "hls", fps=hls_fps, **seg)
    if dash:
        from .dash import package as package_dash

        package_dash(results, out / "dash", fps=fps, **seg)


def check_segment_s(segment_s: float | None) -> None:
    """InputError for a segment duration that is not a positive, finite number of seconds."""
    import math

    if segment_s is not None and not (isinstance(segment_s, (int, float)) and math.isfinite(segment_s)
                                      and segment_s > 0):
        raise InputError(f"the segment duration must be a number of seconds > 0, got {segment_s!r}")


def encode_renditions(ladder: "str | os.PathLike | Mapping[str, Any]", out_dir: str | os.PathLike, *,
                      hls: bool = False, dash: bool = False, segment_s: float | None = None,
                      **kw: Any) -> list[Rendition]:
    """Encode a ladder's rungs into ``out_dir`` (``rung00_360p.mp4``..., and ``renditions.csv``).

    ``ladder``: a ladder.json path or its parsed document. ``source``: the video
    (default: the path recorded in ladder.json). ``rungs``: which rungs (default all).
    ``audio``: ``"aac[:KBPS]"`` also writes ``audio_aac<KBPS>.m4a`` from the source's first audio
    stream, in step with the video renditions (see :func:`audio_args`); default none.
    ``crop``/``tonemap``/``deinterlace``: as the probes had them, for a ladder that does not record them (one from
    ``pershot optimize``); a ladder.json from ``pershot ladder`` records its own, which win.
    ``hls``: also package them as HLS in ``out_dir/hls/`` (``master.m3u8``; see :mod:`pershot.hls`).
    ``dash``: also package them as MPEG-DASH in ``out_dir/dash/`` (``manifest.mpd``; see :mod:`pershot.dash`).
    ``segment_s``: the segment duration HLS and DASH aim at (default 6 s; segments start at key frames).
    A VFR source's renditions keep its frames' own times (:func:`retime`), unless ``cfr``: then
    frames are evenly spaced at the source's average rate. The other options (``executor``, ``jobs``,
    ``progress``, ``work_dir``): see :func:`_encode_ladder`, whose keywords ``kw`` are.
    """
    check_segment_s(segment_s)
    results, hls_fps, fps = _encode_ladder(ladder, out_dir, hls=hls, dash=dash, **kw)
    _package(results, Path(out_dir), hls, dash, hls_fps, fps, segment_s)
    return results


def encode_ladders(
    ladders: Sequence["str | os.PathLike | Mapping[str, Any]"],
    out_dir: str | os.PathLike,
    *,
    source: str | os.PathLike | None = None,
    hls: bool = True,
    dash: bool = False,
    audio: str | int | None = None,
    cfr: bool = False,
    segment_s: float | None = None,
    subtitles: "int | str | Sequence[int | str] | None" = None,
    subtitle_files: "Sequence[str | os.PathLike | tuple] | None" = None,
    audio_loudness: "float | None" = None,
    **kw: Any,
) -> list[Rendition]:
    """Encode several ladders of one title, one per codec (an x264 ladder beside an x265 or SVT-AV1
    one, made from the same shots), into ``out_dir/<encoder>/`` (as :func:`encode_renditions` does for
    one), the audio and subtitle renditions once (in the first ladder's folder), and with ``hls`` package them all
    in ``out_dir/hls/``: one master playlist whose variants are every codec's rungs (see
    :func:`pershot.hls.package`), as Apple's HLS authoring spec asks for H.264 beside HEVC; with
    ``dash``, one manifest in ``out_dir/dash/`` with a video adaptation set per codec (see
    :func:`pershot.dash.package`). ``kw`` go to :func:`encode_renditions` (executor, jobs, progress,
    crop, tonemap, work_dir), ladder by ladder. Everything is checked before any encode: one encoder per ladder and a
    different codec each, the same video and the same shots."""
    from . import encoders as _encoders

    if "rungs" in kw:
        raise InputError("several ladders are encoded whole: --rungs picks rungs of one ladder")
    check_segment_s(segment_s)
    docs = [load_ladder_json(x) if isinstance(x, (str, os.PathLike)) else x for x in ladders]
    for d in docs:
        check_ladder_doc(d)
    if len(docs) < 2:
        raise InputError("give two ladders or more to encode together (or encode one alone)")
    encoders: list[str] = []
    for i, d in enumerate(docs):
        encs = {str((s.get("encode") or {}).get("ffmpeg_encoder")) for r in d["rungs"] for s in r.get("shots") or []}
        if len(encs) != 1:
            raise InputError(f"ladder {i + 1} uses {', '.join(sorted(encs)) or 'no encoder'}: one encoder per ladder")
        encoders.append(encs.pop())
    if len(set(encoders)) != len(encoders):
        raise InputError(f"the ladders' encoders repeat ({', '.join(encoders)}): one ladder per codec")
    spans = [shot_spans(d) for d in docs]
    paths = {str((d.get("source") or {}).get("path")) for d in docs}
    if any(sp != spans[0] for sp in spans) or (source is None and len(paths) > 1):
        raise InputError("the ladders come from different videos or shots: ladders encoded together need one "
                         "source and one shots.csv (their segments must line up)")
    for d in docs:
        _check_packaging(d, None, hls=hls, dash=dash)
    out = Path(out_dir)
    names = [_encoders.canonical_name(enc) for enc in encoders]  # the folders: x264/, x265/, svtav1/
    bases = [Path(x).parent if isinstance(x, (str, os.PathLike)) else None for x in ladders]
    # one storyboard (the shots are every ladder's): the first ladder's that has thumbnails
    board = next((i for i, (d, b) in enumerate(zip(docs, bases)) if d.get("thumbnails") and b is not None), None)
    if board is not None:
        _check_storyboard(docs[board], bases[board])
    results: list[Rendition] = []
    for i, (d, name) in enumerate(zip(docs, names)):  # one source: its frame rates are every ladder's
        first = i == 0
        res, hls_fps, fps = _encode_ladder(d, out / name, source=source, audio=audio if first else None, cfr=cfr,
                                           subtitles=subtitles if first else None,
                                           subtitle_files=subtitle_files if first else None,
                                           audio_loudness=audio_loudness if first else None, base=bases[i],
                                           storyboard=i == board, **kw)
        results += res
    _package(results, out, hls, dash, hls_fps, fps, segment_s)
    return results
