"""Frame-exact shot detection (PySceneDetect) and the shots.csv format.

Shots cover every frame of the source exactly once, in order: shot ``i`` is
frames ``[start_frame, end_frame)``. Cuts come from a PySceneDetect detector
(AdaptiveDetector by default), are mapped to frame indices through the
source's own timestamps (so VFR sources and delayed starts stay exact), then
shots shorter than ``min_shot_s`` are merged into the previous one and shots
longer than ``max_shot_s`` are split into equal parts (as Av1an does).
"""
from __future__ import annotations

import bisect
import csv
import io
import math
import os
from dataclasses import dataclass
from fractions import Fraction
from typing import Callable, Iterable, Sequence

from .errors import ConfigError, InputError, MediaError
from .media import SourceInfo, by_frame, frame_index, frame_times, probe_source, temp_dir

DETECTORS = ("adaptive", "content", "threshold", "hash", "none")
DEFAULT_MIN_SHOT_S = 0.5
DEFAULT_MAX_SHOT_S = 10.0

SHOTS_COLUMNS = ("shot", "start_frame", "end_frame", "frames", "start_s", "end_s", "duration_s")


@dataclass(frozen=True)
class Shot:
    """Frames ``[start_frame, end_frame)`` of the source, shown from ``start_s`` to ``end_s``."""

    index: int
    start_frame: int
    end_frame: int  #: exclusive
    start_s: float
    end_s: float

    @property
    def frames(self) -> int:
        return self.end_frame - self.start_frame

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s


# ---------------------------------------------------------------- pure helpers


def enforce_lengths(cuts: Iterable[int], n_frames: int, min_frames: int, max_frames: int | None) -> list[int]:
    """Clean a cut list into shot boundaries ``[0, c1, ..., n_frames]``.

    Cuts outside (0, n_frames) are dropped; a cut closer than ``min_frames`` to
    the previous boundary is dropped (the short shot joins its predecessor);
    the last shot, when shorter than ``min_frames``, joins its predecessor; a
    shot longer than ``max_frames`` is split into the fewest equal parts that
    fit (sizes differ by at most one frame).
    """
    if n_frames <= 0:
        raise InputError("a video needs at least one frame")
    min_frames = max(1, int(min_frames))
    kept: list[int] = [0]
    for c in sorted(set(int(c) for c in cuts)):
        if c <= 0 or c >= n_frames:
            continue
        if c - kept[-1] >= min_frames:
            kept.append(c)
    if len(kept) > 1 and n_frames - kept[-1] < min_frames:
        kept.pop()
    kept.append(n_frames)
    if not max_frames or max_frames <= 0:
        return kept
    out = [0]
    for a, b in zip(kept, kept[1:]):
        length = b - a
        parts = max(1, math.ceil(length / max_frames))
        base, extra = divmod(length, parts)
        pos = a
        for i in range(parts):
            pos += base + (1 if i < extra else 0)
            out.append(pos)
    return out


def shots_from_boundaries(bounds: Sequence[int], times: Sequence[float]) -> list[Shot]:
    """Shots from boundaries ``[0, ..., n]`` and per-frame start times (``len(times) == n + 1``)."""
    return [
        Shot(index=i, start_frame=a, end_frame=b, start_s=float(times[a]), end_s=float(times[b]))
        for i, (a, b) in enumerate(zip(bounds, bounds[1:]))
    ]


def check_cover(shots: Sequence[Shot], n_frames: int) -> None:
    """Raise unless ``shots`` cover frames 0..n_frames-1 exactly once, in order."""
    pos = 0
    for i, s in enumerate(shots):
        if s.index != i or s.start_frame != pos or s.end_frame <= s.start_frame:
            raise InputError(f"shot {i} does not continue at frame {pos}: {s}")
        pos = s.end_frame
    if pos != n_frames:
        raise InputError(f"shots end at frame {pos}, the source has {n_frames}")


def check_times(shots: Sequence[Shot], times: Sequence[float], where: str) -> None:
    """Raise unless each shot's times are those of its frames in the source (``times``: :func:`frame_times`),
    within half a frame: a shots file made at another frame count (another ``--deinterlace``, another
    stream, another cut of the title) would otherwise be probed at the wrong durations, so bitrates."""
    n = len(times) - 1
    for s in shots:
        if not (0 <= s.start_frame < s.end_frame <= n):
            continue  # out of range: the probes say so
        half = 0.5 * (times[s.end_frame] - times[s.start_frame]) / (s.end_frame - s.start_frame)
        if abs(s.start_s - times[s.start_frame]) > half or abs(s.end_s - times[s.end_frame]) > half:
            raise InputError(f"{where}: shot {s.index} (frames {s.start_frame}-{s.end_frame}) says "
                             f"{s.start_s:.3f}-{s.end_s:.3f} s, but those frames are at {times[s.start_frame]:.3f}-"
                             f"{times[s.end_frame]:.3f} s in this source: the file was made for another frame count "
                             "(with or without --deinterlace field?)")


# ---------------------------------------------------------------- detection


def _make_detector(name: str, min_len: int, threshold: float | None):
    import scenedetect as sd

    kw: dict = {"min_scene_len": min_len}
    if name == "adaptive":
        if threshold is not None:
            kw["adaptive_threshold"] = threshold
        return sd.AdaptiveDetector(**kw)
    if name == "content":
        if threshold is not None:
            kw["threshold"] = threshold
        return sd.ContentDetector(**kw)
    if name == "threshold":
        if threshold is not None:
            kw["threshold"] = threshold
        return sd.ThresholdDetector(**kw)
    if name == "hash":
        if threshold is not None:
            kw["threshold"] = threshold
        return sd.HashDetector(**kw)
    raise ConfigError(f"unknown shot detector {name!r} (choose from {', '.join(DETECTORS)})")


def _cut_to_frame(tc, pts: Sequence[int], tb: Fraction, times: Sequence[float]) -> int:
    """Map a PySceneDetect cut timecode to a frame index of our own index."""
    tc_pts = getattr(tc, "pts", None)
    tc_tb = getattr(tc, "time_base", None)
    if tc_pts is not None and tc_tb is not None:
        try:
            t = Fraction(tc_pts) * Fraction(tc_tb)
            p = t / tb
            if pts[0] <= p <= pts[-1]:
                # absolute stream timestamp: the frame at (or nearest after) it
                i = bisect.bisect_left(pts, int(round(p)))
                return min(i, len(pts) - 1)
        except (TypeError, ValueError, ZeroDivisionError):
            pass
    # fall back to seconds from the first frame
    s = float(tc.seconds) if hasattr(tc, "seconds") else float(tc.get_seconds())
    i = bisect.bisect_left(times, s - 1e-6)
    return min(max(i, 0), len(pts) - 1)


def detect_cuts(
    info: SourceInfo,
    detector: str = "adaptive",
    min_frames: int = 15,
    threshold: float | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> list[int]:
    """Frame indices where a new shot starts, found by a PySceneDetect detector.

    PySceneDetect always reads a file's first video stream; when pershot's stream is another
    one (a poster track stored first), it reads a stream copy of pershot's stream instead."""
    if detector == "none":
        return []
    if info.field_rate:  # the detectors read the coded frames: a cut falls between two frames, so between fields
        coded = by_frame(info)
        return [2 * c for c in detect_cuts(coded, detector, max(1, min_frames // 2), threshold, progress)]
    det = _make_detector(detector, min_frames, threshold)
    idx = frame_index(info.path, info.stream)
    if idx.first_video:
        return _detect(info, idx, info.path, det, progress, by_order=not idx.pts_exact)
    import tempfile

    from . import ffmpeg
    from .media import input_arg

    with tempfile.TemporaryDirectory(prefix="pershot-detect-", dir=temp_dir()) as d:
        remux = os.path.join(d, "stream.nut")
        ffmpeg.run(["-y", "-v", "error", "-i", input_arg(info.path), "-map", f"0:{idx.stream_index}", "-c", "copy",
                    "-f", "nut", remux],
                   what=f"copying video stream {idx.stream_index} of {os.path.basename(info.path)} for shot detection "
                        "failed")
        # timestamps of a stream copy may be shifted: cuts are mapped by frame order
        return _detect(info, idx, remux, det, progress, by_order=True)


def _detect(info: SourceInfo, idx, path: str, det, progress, by_order: bool) -> list[int]:
    import scenedetect as sd

    try:
        video = sd.open_video(path, backend="pyav")
    except Exception as ex:  # scenedetect raises its own VideoOpenFailure and OSError
        raise MediaError(f"shot detection cannot open {os.path.basename(info.path)}: {ex}") from ex
    seen: list[object] = []  # scenedetect's position of every frame it reads, in display order
    read = video.read
    count = [0]

    def _read(*a, **kw):  # noqa: ANN002, ANN003
        # per frame read: progress (scenedetect's own callback fires on cuts only), and, where
        # positions cannot be matched to the index by time (AVI with B-frames: guessed, out of
        # order; a stream copy: shifted), the order in which frames were read, to map cuts by
        frame = read(*a, **kw)
        if frame is not False:
            count[0] += 1
            if by_order:
                seen.append(getattr(video.position, "pts", None))
            if progress is not None and count[0] % 25 == 0:
                progress(min(count[0], info.frame_count), info.frame_count)
        return frame

    video.read = _read  # a reference cycle (video -> _read -> video): broken below
    sm = sd.SceneManager()
    sm.add_detector(det)
    try:
        sm.detect_scenes(video=video)
    except Exception as ex:
        raise MediaError(f"shot detection failed on {os.path.basename(info.path)}: {ex}") from ex
    finally:
        # free the decoder (and its threads) now, not in the cycle collector, which may run
        # in a forked probe worker and hang there on the decoder's thread conditions
        video.__dict__.pop("read", None)
        del video
    starts = [start for start, _end in sm.get_scene_list(start_in_scene=True)[1:]]
    if by_order:
        if len(seen) != len(idx) or len(set(seen)) != len(seen) or any(getattr(tc, "pts", None) not in seen
                                                                       for tc in starts):
            raise MediaError(f"shot detection read {len(seen)} frames of {os.path.basename(info.path)} "
                             f"({len(idx)} indexed) without usable positions; try --detector none")
        order = {pts: i for i, pts in enumerate(seen)}
        cuts = [order[tc.pts] for tc in starts]
    else:
        times = frame_times(info, idx)
        cuts = [_cut_to_frame(tc, idx.pts, idx.time_base, times) for tc in starts]
    if progress is not None:
        progress(info.frame_count, info.frame_count)
    return cuts


def detect_shots(
    path_or_info: str | os.PathLike | SourceInfo,
    detector: str = "adaptive",
    min_shot_s: float = DEFAULT_MIN_SHOT_S,
    max_shot_s: float | None = DEFAULT_MAX_SHOT_S,
    threshold: float | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> list[Shot]:
    """Split a source into shots covering every frame exactly once.

    ``detector``: adaptive (default), content, threshold (fades), hash, or none
    (fixed-length chunks only). ``min_shot_s``: shorter shots join the previous
    one. ``max_shot_s``: longer shots are split evenly (None or 0: never).
    """
    if detector not in DETECTORS:
        raise ConfigError(f"unknown shot detector {detector!r} (choose from {', '.join(DETECTORS)})")
    if min_shot_s is None or not 0 <= min_shot_s < math.inf:
        raise InputError(f"--min-shot must be a number of seconds >= 0, got {min_shot_s}")
    if max_shot_s is not None and not max_shot_s >= 0:
        raise InputError(f"--max-shot must be a number of seconds >= 0 (0: never split), got {max_shot_s}")
    if max_shot_s == math.inf:
        max_shot_s = None  # never split
    if threshold is not None and not 0 < threshold < math.inf:
        raise InputError(f"--threshold must be a positive number, got {threshold}")
    if max_shot_s and min_shot_s and max_shot_s < min_shot_s:
        raise InputError(f"--max-shot ({max_shot_s} s) is shorter than --min-shot ({min_shot_s} s)")
    info = path_or_info if isinstance(path_or_info, SourceInfo) else probe_source(path_or_info)
    fps = float(info.fps)
    min_frames = max(1, int(round(min_shot_s * fps)))
    max_frames = max(1, int(math.floor(max_shot_s * fps + 1e-9))) if max_shot_s else None
    cuts = detect_cuts(info, detector, min_frames=min_frames, threshold=threshold, progress=progress)
    bounds = enforce_lengths(cuts, info.frame_count, min_frames, max_frames)
    shots = shots_from_boundaries(bounds, frame_times(info))
    check_cover(shots, info.frame_count)
    return shots


# ---------------------------------------------------------------- shots.csv


def shots_to_csv(shots: Sequence[Shot]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(SHOTS_COLUMNS)
    for s in shots:
        w.writerow([s.index, s.start_frame, s.end_frame, s.frames, f"{s.start_s:.6f}", f"{s.end_s:.6f}",
                    f"{s.duration_s:.6f}"])
    return buf.getvalue()


def write_shots_csv(shots: Sequence[Shot], dest: str | os.PathLike) -> None:
    """Write shots.csv atomically."""
    from .atomic import write_text

    write_text(dest, shots_to_csv(shots))


def read_shots_csv(path: str | os.PathLike) -> list[Shot]:
    """Read a shots.csv written by :func:`write_shots_csv` (or by hand: shot,start_frame,end_frame,start_s,end_s)."""
    try:
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
    except OSError as ex:
        raise InputError(f"cannot read shots file {os.fspath(path)}: {ex.strerror}") from ex
    out: list[Shot] = []
    try:
        for i, r in enumerate(rows):
            out.append(Shot(index=int(r.get("shot", i)), start_frame=int(r["start_frame"]), end_frame=int(r["end_frame"]),
                            start_s=float(r["start_s"]), end_s=float(r["end_s"])))
    except (KeyError, ValueError, TypeError) as ex:
        raise InputError(f"malformed shots file {os.fspath(path)}: row {len(out) + 1}: {ex}") from ex
    if not out:
        raise InputError(f"shots file {os.fspath(path)} has no shots")
    return out
