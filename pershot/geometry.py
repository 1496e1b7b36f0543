"""Picture sizes of a ladder: what "720p" means for a picture of any shape.

A grid's ``heights`` and a rung's ``max_height`` name resolution classes the way players and
streaming services label them: the *p number* is the height of a 16:9 landscape picture.
A picture of another shape gets the largest size of its own display aspect that fits the
class's box, turned to the picture's orientation:

* 16:9 and narrower landscape (4:3): the height is the class (1440x1080 is 1080p);
* wider landscape (2.39:1 scope): the width is the 16:9 width (1920x800 is 1080p);
* portrait: the box turned on its side, so 1080x1920 is 1080p, not 608x1080.

Pure functions, no I/O: the probe planner, the optimizer and the reports share them.
"""
from __future__ import annotations

from fractions import Fraction

import numpy as np

WIDE = Fraction(16, 9)


def even(x: float) -> int:
    """Nearest even integer >= 2."""
    return max(2, int(round(x / 2.0)) * 2)


def size_class(width, height):
    """The p number of an encode size: max(short side, long side x 9/16), rounded down.

    Works on ints and on numpy arrays alike (zero stays zero: the optimizer's padding)."""
    w, h = np.asarray(width), np.asarray(height)
    out = np.maximum(np.minimum(w, h), (np.maximum(w, h) * 9) // 16)
    return int(out) if out.ndim == 0 else out.astype(int)


def fit_size(aspect: Fraction, p: int, display: tuple[int, int] | None = None) -> tuple[int, int]:
    """(width, height) of class ``p`` for a picture of display ``aspect`` (width / height).

    Both sides even; within ``display`` (the source's displayed size) when given, so a class
    never asks for a single pixel more than the source has."""
    aspect = Fraction(aspect)
    short = max(2, int(p) // 2 * 2)
    ratio = aspect if aspect >= 1 else 1 / aspect  # long side / short side, >= 1
    if ratio <= WIDE:  # the short side fills the box: the class itself
        long = even(short * ratio)
    else:  # wider than 16:9: the long side fills the box
        long = even(short * WIDE)
        short = even(long / ratio)
    w, h = (long, short) if aspect >= 1 else (short, long)
    if display is not None:
        w = min(w, max(2, display[0] // 2 * 2))
        h = min(h, max(2, display[1] // 2 * 2))
    return w, h


def classes_within(display: tuple[int, int], classes) -> list[int]:
    """The classes (ascending, unique) a source of this displayed size can be encoded at
    without upscaling: those up to its own class."""
    top = size_class(*display)
    return sorted({int(p) for p in classes if 0 < int(p) <= top})


def describe(width: int, height: int) -> str:
    """``'1080p'`` for an encode size (``'mixed'`` for size 0)."""
    return f"{size_class(width, height)}p" if width and height else "mixed"


__all__ = ["even", "size_class", "fit_size", "classes_within", "describe", "WIDE"]
