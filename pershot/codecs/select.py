"""Code one image: measure rate-distortion-complexity points and choose on the hull.

A point is one codec at one level on the image: bytes (the whole file, so
bits per pixel are ``8 * bytes / (W * H)``), PSNR on RGB and on BT.601 luma,
MS-SSIM, encoder and decoder CPU seconds, and (learned codecs) decoder kMAC per
pixel.

Choice by target (no codec given): every level of every usable codec is
measured; a point's *complexity* is its codec's decode CPU time (the median
over the levels measured) relative to the slowest codec's, so the slowest
codec has complexity 1. Points whose complexity exceeds the cap are dropped;
the choice is made among the vertices of the upper-left convex hull of the
rest in (bpp, PSNR-RGB), as for shots (:func:`pershot.hull.upper_hull`):

* ``target_bpp``: the best-quality hull vertex at or under the rate;
* ``target_psnr``: the cheapest hull vertex at or above the quality.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, field, replace
from typing import Callable, Iterable, Sequence

import numpy as np

from ..errors import InfeasibleError, InputError
from . import ImageCodec, get_codec, iter_codecs, metrics
from .imageio import check_image, load_image

CSV_COLUMNS = ("codec", "level", "bytes", "bpp", "psnr_rgb", "psnr_y", "ms_ssim", "encode_cpu_s", "decode_cpu_s",
               "kmac_per_px", "complexity", "chosen")


@dataclass(frozen=True)
class ImageResult:
    """One image coded by one codec at one level, with what it cost and what it gave."""

    codec: str
    level: int
    width: int
    height: int
    bytes: int
    bpp: float
    psnr_rgb: float
    psnr_y: float
    ms_ssim: float
    encode_cpu_s: float
    decode_cpu_s: float
    kmac_per_px: float | None
    complexity: float | None = None
    chosen: bool = False
    extension: str = ".bin"
    data: bytes = field(default=b"", repr=False, compare=False)
    decoded: np.ndarray | None = field(default=None, repr=False, compare=False)

    def row(self) -> dict:
        return {k: getattr(self, k) for k in CSV_COLUMNS}


def measure(image: np.ndarray, codec: ImageCodec | str, level: int,
            reference: "metrics.MsSsimReference | None" = None) -> ImageResult:
    """Encode, decode and score ``image`` with ``codec`` at ``level`` (``reference``: the image's
    MS-SSIM side, made once when many points of one image are measured)."""
    c = get_codec(codec) if isinstance(codec, str) else codec
    img = check_image(image)
    lv = c.check_level(level)
    data, enc_s = c.encode_timed(img, lv)
    rec, dec_s = c.decode_timed(data)
    if rec.shape != img.shape or rec.dtype != np.uint8:
        raise InputError(f"{c.name} decoded a {rec.shape} {rec.dtype} image from a {img.shape} uint8 one")
    h, w = img.shape[:2]
    return ImageResult(codec=c.name, level=lv, width=w, height=h, bytes=len(data), bpp=8.0 * len(data) / (w * h),
                       psnr_rgb=metrics.psnr_rgb(img, rec), psnr_y=metrics.psnr_y(img, rec),
                       ms_ssim=metrics.ms_ssim(reference if reference is not None else img, rec), encode_cpu_s=enc_s, decode_cpu_s=dec_s,
                       kmac_per_px=c.decoder_kmac_per_px(), extension=c.extension, data=data, decoded=rec)


def candidates(width: int, height: int, codecs: Iterable[ImageCodec | str] | None = None) -> list[ImageCodec]:
    """The codecs to measure on a ``width`` x ``height`` image: ``codecs``, each once in the order given (one
    that cannot take the image is an InputError, before any coding), or every usable codec that can."""
    if codecs is not None:
        cs = list({c.name: c for c in (get_codec(c) if isinstance(c, str) else c for c in codecs)}.values())
        for c in cs:
            if problem := c.size_problem(width, height):
                raise InputError(f"{c.name}: {problem}")
    else:
        cs = [c for c in iter_codecs(available_only=True) if not c.size_problem(width, height)]
    if not cs:
        raise InputError("no usable image codec")
    return cs


def rdc_points(image: np.ndarray, codecs: Iterable[ImageCodec | str] | None = None, *,
               progress: Callable[[int, int], None] | None = None) -> list[ImageResult]:
    """Every level of every (usable) codec on ``image``, with complexities filled in."""
    img = check_image(image)
    cs = candidates(img.shape[1], img.shape[0], codecs)
    jobs = [(c, lv) for c in cs for lv in c.levels]
    ref = metrics.MsSsimReference(img)  # the image's side of MS-SSIM, once for every point
    pts = []
    for i, (c, lv) in enumerate(jobs):
        pts.append(measure(img, c, lv, ref))
        if progress is not None:
            progress(i + 1, len(jobs))
    return with_complexity(pts)


def with_complexity(points: Sequence[ImageResult]) -> list[ImageResult]:
    """Complexity of each point: its codec's median decode CPU time over the slowest codec's."""
    by: dict[str, list[float]] = {}
    for p in points:
        by.setdefault(p.codec, []).append(p.decode_cpu_s)
    med = {k: float(np.median(v)) for k, v in by.items()}
    top = max(med.values()) if med else 0.0
    return [replace(p, complexity=(med[p.codec] / top if top > 0 else 1.0)) for p in points]


def choose(points: Sequence[ImageResult], *, target_bpp: float | None = None, target_psnr: float | None = None,
           complexity: float | None = None) -> ImageResult:
    """The point chosen on the RD hull of the points under the complexity cap (see the module doc)."""
    from ..hull import upper_hull

    if (target_bpp is None) == (target_psnr is None):
        raise InputError("give exactly one of target_bpp and target_psnr")
    if complexity is not None and not 0 < complexity <= 1:
        raise InputError(f"complexity must be in (0, 1] (1 = the slowest decoder), got {complexity}")
    pts = list(points)
    if any(p.complexity is None for p in pts):
        pts = with_complexity(pts)
    if not pts:
        raise InputError("no points to choose from")
    cap = 1.0 if complexity is None else complexity
    feas = [p for p in pts if p.complexity <= cap + 1e-12]
    if not feas:
        lo = min(p.complexity for p in pts)
        raise InfeasibleError(f"no codec decodes within complexity {cap:g} (the fastest is at {lo:.3g})",
                              min_feasible=lo)
    idx = upper_hull([p.bpp for p in feas], [p.psnr_rgb for p in feas])
    hull = [feas[i] for i in idx]
    if target_bpp is not None:
        ok = [p for p in hull if p.bpp <= target_bpp]
        if not ok:
            lo = min(p.bpp for p in feas)
            raise InfeasibleError(f"no point at or under {target_bpp:g} bpp within complexity {cap:g} "
                                  f"(the cheapest is {lo:.4g} bpp)")
        best = max(ok, key=lambda p: (p.psnr_rgb, -p.bpp))
    else:
        ok = [p for p in hull if p.psnr_rgb >= target_psnr]
        if not ok:
            hi = max(p.psnr_rgb for p in feas)
            raise InfeasibleError(f"no point reaches {target_psnr:g} dB PSNR within complexity {cap:g} "
                                  f"(the best is {hi:.2f} dB)")
        best = min(ok, key=lambda p: (p.bpp, -p.psnr_rgb))
    return replace(best, chosen=True)


def code_image(image: np.ndarray | str | os.PathLike, codec: str | None = None, level: int | None = None,
               target_bpp: float | None = None, target_psnr: float | None = None, complexity: float | None = None,
               *, progress: Callable[[int, int], None] | None = None,
               points: list[ImageResult] | None = None, codecs: Sequence[str] | None = None) -> ImageResult:
    """Code one image with a given codec and level, or choose codec and level for a target.

    * ``codec`` and ``level``: that point;
    * ``codec`` and a target: the best level of that codec for the target;
    * a target alone: the choice over every usable codec on the image's RDC
      hull, under ``complexity`` (decode CPU time relative to the slowest
      codec, 0 < c <= 1); ``codecs`` limits the choice to those codecs (the
      conventional ones alone are much faster on a large image: the learned codecs'
      decoding is most of the time on CPU).

    ``points``, when given a list, receives every measured point (with the
    chosen one flagged), for reports. Returns the chosen :class:`ImageResult`,
    whose ``data`` is the bitstream and ``decoded`` the decoded image.
    """
    img = load_image(image) if isinstance(image, (str, os.PathLike)) else check_image(image)
    n_targets = (target_bpp is not None) + (target_psnr is not None)
    if n_targets > 1:
        raise InputError("give one target: target_bpp or target_psnr")
    if target_bpp is not None and not 0 < target_bpp < math.inf:
        raise InputError(f"target bpp must be > 0, got {target_bpp}")
    if target_psnr is not None and not 0 < target_psnr < math.inf:
        raise InputError(f"target PSNR must be a positive number of dB, got {target_psnr}")
    if complexity is not None and not 0 < complexity <= 1:  # before any point is measured
        raise InputError(f"complexity must be in (0, 1] (1 = the slowest decoder), got {complexity}")
    if level is not None:
        if codec is None:
            raise InputError("a level needs a codec")
        if n_targets or complexity is not None:
            raise InputError("give either a codec and a level, or a target (with an optional complexity cap)")
        candidates(img.shape[1], img.shape[0], [codec])  # a codec that cannot take the image: before any coding
        r = replace(measure(img, codec, level), chosen=True)
        if points is not None:
            points.append(r)
        return r
    if not n_targets:
        raise InputError("give a codec and a level, or a target bpp or PSNR")
    if codec is not None and codecs is not None:
        raise InputError("give a codec, or a list of codecs to choose from, not both")
    cands = [get_codec(codec)] if codec is not None else [get_codec(c) for c in codecs] if codecs is not None else None
    if cands is not None and not cands:
        raise InputError("the list of codecs to choose from is empty")
    pts = rdc_points(img, cands, progress=progress)
    if points is not None:  # every measured point, whatever the choice (an unreachable target included)
        points.extend(pts)
    best = choose(pts, target_bpp=target_bpp, target_psnr=target_psnr, complexity=complexity)
    if points is not None:
        points[-len(pts):] = [best if (p.codec, p.level) == (best.codec, best.level) else p for p in pts]
    return best


__all__ = ["CSV_COLUMNS", "ImageResult", "measure", "candidates", "rdc_points", "with_complexity", "choose",
           "code_image"]
