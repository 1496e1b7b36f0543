"""Per-shot thumbnails (trick play, posters): one representative frame per shot,
coded on the image's rate-distortion-complexity hull like any still.

The representative frame is the shot's middle frame (a frame in the middle of a
shot is past the transition that opened it and before the one that closes it).
It is decoded as displayed (rotation applied), scaled bicubic to ``height``
(never above the source), and coded with :func:`pershot.codecs.select.code_image`
for a quality target: the smallest file whose PSNR reaches ``target_psnr``
among the codecs whose decoder fits the ``complexity`` cap. By default only
codecs that write an image file every current browser shows compete (JPEG,
WebP, AVIF), since web players draw the thumbnails themselves; JPEG XL (shown
by Safari alone) and the codecs that need pershot's container to decode (HEVC
intra, the learned models, which are also slow to measure on every level) join
when named.

The renditions of a ladder with thumbnails get a storyboard (:func:`storyboard_entries`):
a WebVTT thumbnail track, each shot's thumbnail over the shot's span, which web
players' scrubbing previews read, so the preview shows the shot the viewer lands in.
"""
from __future__ import annotations

import math
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from .atomic import write_bytes
from .errors import InfeasibleError, InputError
from .encoders.base import colour_args
from .media import (SourceInfo, check_source, encode_colour, extract_shot, frame_times, input_arg, target_size,
                    temp_dir)
from .shots import Shot

DEFAULT_HEIGHT = 360
DEFAULT_TARGET_PSNR = 36.0
#: image formats every current browser shows (a storyboard's pictures are drawn by the web player)
WEB_IMAGE_TYPES = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png", ".webp": "image/webp",
                   ".avif": "image/avif"}
#: those DASH-IF's thumbnail image sets allow
DASH_IMAGE_TYPES = frozenset({"image/jpeg", "image/png"})
STORYBOARD = "thumbnails.vtt"


@dataclass(frozen=True)
class Thumbnail:
    """One shot's coded thumbnail."""

    shot: int
    frame: int
    time_s: float
    width: int
    height: int
    codec: str
    level: int
    bytes: int
    bpp: float
    psnr_rgb: float
    ms_ssim: float
    decode_cpu_s: float
    path: str  #: file name, relative to the output folder

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def representative_frame(shot: Shot) -> int:
    """The frame that stands for the shot: its middle frame."""
    return shot.start_frame + (shot.frames - 1) // 2


def read_frame(info: SourceInfo, frame: int, height: int | None = None):
    """Frame ``frame`` of the source as displayed, as an ``H x W x 3`` uint8 RGB array."""
    from . import ffmpeg
    from .codecs.imageio import decode_image_bytes

    h = min(height or info.display_height, info.display_height)
    w, h = target_size(info, h) if h != info.display_height else (info.display_width, info.display_height)
    with tempfile.TemporaryDirectory(prefix="pershot-thumb-", dir=temp_dir()) as tmp:
        ex = extract_shot(info, frame, frame + 1, tmp, [(w, h)], reference=False)
        y4m = ex.scaled[(w, h)]
        # the Y4M carries no matrix: tag it with the source's, or YUV -> RGB would assume BT.601
        res = ffmpeg.run(["-v", "error", "-i", input_arg(y4m), *colour_args(encode_colour(info)), "-frames:v", "1",
                          "-f", "image2pipe", "-c:v", "png", "-pix_fmt", "rgb24", "-"], capture_stdout=True,
                         what=f"converting frame {frame} to RGB failed")
    return decode_image_bytes(res.stdout, what=f"frame {frame}")


def candidate_codecs(*, height: int = DEFAULT_HEIGHT, complexity: float | None = None,
                     codecs: Sequence[str] | None = None, target_psnr: float = DEFAULT_TARGET_PSNR,
                     **_: object) -> list:
    """Check thumbnail options and return the codecs that compete; raises before any work is done."""
    from .codecs import get_codec, iter_codecs

    if height < 2:
        raise InputError(f"thumbnail height must be >= 2, got {height}")
    if not 0 < target_psnr < math.inf:
        raise InputError(f"thumbnail target PSNR must be a positive number of dB, got {target_psnr:g}")
    if complexity is not None and not 0 < complexity <= 1:
        raise InputError(f"thumbnail complexity must be in (0, 1], got {complexity:g}")
    if codecs:
        cands = [get_codec(c) for c in codecs]
    else:
        # what every current browser shows (a player's scrubbing previews draw them): JPEG, WebP, AVIF
        cands = [c for c in iter_codecs(available_only=True) if c.kind != "learned" and c.extension in WEB_IMAGE_TYPES]
    if not cands:
        raise InputError("no usable image codec for thumbnails")
    return cands


def code_thumbnails(
    info: SourceInfo,
    shots: Sequence[Shot],
    out_dir: str | os.PathLike,
    *,
    height: int = DEFAULT_HEIGHT,
    target_psnr: float = DEFAULT_TARGET_PSNR,
    complexity: float | None = None,
    codecs: Sequence[str] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> list[Thumbnail]:
    """Code one thumbnail per shot into ``out_dir`` (atomic writes); return what was written.

    When no point of a thumbnail reaches ``target_psnr``, its best-quality
    point under the complexity cap is used instead (a thumbnail is never
    missing because a flat or noisy frame misses the target).
    """
    from .codecs.select import choose, rdc_points
    from .media import DEFAULT_TONEMAP, with_tonemap

    # a thumbnail is an SDR image: an HDR source kept HDR in its ladder is tone-mapped for it
    info = with_tonemap(info, DEFAULT_TONEMAP) if info.hdr_kept else info
    check_source(info)
    cands = candidate_codecs(height=height, complexity=complexity, codecs=codecs, target_psnr=target_psnr)
    times = frame_times(info)  # a VFR source's frames at their own times
    out = Path(out_dir)
    thumbs: list[Thumbnail] = []
    for i, shot in enumerate(shots):
        f = representative_frame(shot)
        img = read_frame(info, f, height)
        pts = rdc_points(img, cands)
        try:
            best = choose(pts, target_psnr=target_psnr, complexity=complexity)
        except InfeasibleError:
            # the target is out of reach for this frame: its best point under the cap
            cap = 1.0 if complexity is None else complexity
            feas = [p for p in pts if p.complexity is not None and p.complexity <= cap + 1e-12]
            if not feas:
                raise
            best = max(feas, key=lambda p: (p.psnr_rgb, -p.bytes))
        name = f"thumbnails/shot{shot.index:04d}{best.extension}"
        write_bytes(out / name, best.data)
        h, w = img.shape[:2]
        thumbs.append(Thumbnail(shot=shot.index, frame=f, time_s=times[f],
                                width=w, height=h, codec=best.codec, level=best.level, bytes=best.bytes,
                                bpp=best.bpp, psnr_rgb=best.psnr_rgb, ms_ssim=best.ms_ssim,
                                decode_cpu_s=best.decode_cpu_s, path=name))
        if progress is not None:
            progress(i + 1, len(shots))
    return thumbs


# ---------------------------------------------------------------- storyboard (scrubbing previews)



@dataclass(frozen=True)
class StoryboardEntry:
    """One shot's thumbnail in a storyboard: from ``start_s`` to ``end_s`` of the renditions' clock, the
    image file (relative to the storyboard) and its type."""

    start_s: float
    end_s: float
    path: str
    mime: str
    width: int
    height: int
    bytes: int


def storyboard_entries(thumbs: Sequence[dict], spans: Sequence[tuple[int, int]],
                       shot_times: Sequence[tuple[float, float]]) -> list[StoryboardEntry]:
    """The storyboard of a ladder's thumbnails (ladder.json's ``thumbnails`` items): each shot's thumbnail
    shown over the shot's span (``spans[k]``: its frames; ``shot_times[k]``: seconds on the renditions'
    clock), so a scrubbing preview shows the shot the viewer lands in. A thumbnail belongs to the shot
    that holds its frame, however the shots are numbered (a hand-written shots.csv may count from 1).
    InputError where a shot has none, or where one is in a format browsers do not show (JPEG XL,
    pershot's container), naming it."""
    out = []
    for (a, b), (t0, t1) in zip(spans, shot_times):
        t = next((t for t in thumbs if isinstance(t.get("frame"), int) and a <= t["frame"] < b), None)
        if t is None:
            raise InputError(f"the shot at frames {a}-{b} has no thumbnail: a storyboard needs one per shot")
        ext = Path(str(t["path"])).suffix.lower()
        if ext not in WEB_IMAGE_TYPES:
            raise InputError(f"shot {t['shot']}'s thumbnail is {ext or 'untyped'} ({t.get('codec')}), which browsers "
                             "do not show: a ladder made with --thumbnail-codecs jpeg,webp,avif gives a storyboard")
        out.append(StoryboardEntry(t0, t1, str(t["path"]), WEB_IMAGE_TYPES[ext], int(t["width"]), int(t["height"]),
                                   int(t["bytes"])))
    return out


def missing_thumbnails(doc: dict, base: "str | os.PathLike") -> list[str]:
    """The thumbnail files a ladder.json names (relative to its folder ``base``) that are not there."""
    return [str(t.get("path")) for t in doc.get("thumbnails") or []
            if not (Path(base) / str(t.get("path"))).is_file()]


def storyboard_vtt(entries: Sequence[StoryboardEntry]) -> str:
    """A WebVTT thumbnail track (what web players' scrubbing previews read): a cue per shot, its text the
    image's URL relative to the track."""
    from .subtitles import Cue, vtt_text

    return vtt_text([Cue(e.start_s, e.end_s, e.path) for e in entries])


def copy_storyboard(vtt: str | os.PathLike, dest: str | os.PathLike) -> list:
    """Copy a storyboard (its WebVTT track and the images its cues name, relative to it) into folder
    ``dest`` (a package being written); return its cues."""
    import shutil

    from .subtitles import read_vtt

    src = Path(vtt)
    cues = read_vtt(src.read_text(encoding="utf-8"))
    for c in cues:
        to = Path(dest) / c.text
        to.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src.parent / c.text, to)
    shutil.copyfile(src, Path(dest) / src.name)
    return cues


def storyboard_problem(doc: dict) -> str | None:
    """Why a ladder.json's thumbnails make no storyboard (a shot without one, a format browsers do not
    show), or None where they make one (or it has none)."""
    thumbs = doc.get("thumbnails") or []
    if not thumbs:
        return None
    from .renditions import shot_spans

    spans = shot_spans(doc)
    try:
        storyboard_entries(thumbs, spans, [(0.0, 0.0)] * len(spans))
    except InputError as e:
        return str(e)
    return None
