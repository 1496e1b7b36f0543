"""Reading and writing the images the codecs work on.

Every codec takes and returns an ``H x W x 3`` ``uint8`` RGB array. This module
turns whatever the user hands in into that, or raises a one-line
:class:`~pershot.errors.InputError`:

* grayscale (``L``, ``I;16``, ``1``) is replicated to RGB;
* 16-bit images are rounded to 8 bits (Pillow already hands 48-bit RGB PNGs over
  as 8-bit RGB, keeping each sample's high byte: truncation, at most one level off);
* an alpha channel that is fully opaque is dropped; a translucent one is refused
  (no codec here codes alpha: flatten the image first);
* palette, CMYK, YCbCr... images are converted to RGB;
* an EXIF orientation (a camera's JPEG stored sideways) is applied: the image
  coded is the image as a viewer displays it;
* images larger than :data:`MAX_PIXELS` are refused (decompression bombs, and
  the learned codecs' memory: see ``learned.MAX_PIXELS`` for their own limit).
"""
from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np

from ..atomic import atomic_path
from ..errors import InputError

#: the largest image (width x height) pershot reads: 100 megapixels
MAX_PIXELS = 100_000_000


def check_image(image: np.ndarray, what: str = "image") -> np.ndarray:
    """Return ``image`` as a C-contiguous ``H x W x 3`` uint8 array or raise InputError."""
    if not isinstance(image, np.ndarray):
        raise InputError(f"{what} must be a numpy array, not {type(image).__name__}")
    a = image
    if a.ndim == 2:
        a = np.repeat(a[:, :, None], 3, axis=2)
    if a.ndim != 3 or a.shape[2] not in (3, 4):
        raise InputError(f"{what} must be H x W x 3 (RGB), got shape {tuple(image.shape)}")
    if a.shape[2] == 4:
        a = _drop_alpha(a, what)
    if a.dtype != np.uint8:
        if a.dtype == np.uint16:
            a = ((a.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)
        elif a.dtype.kind == "f" and np.isfinite(a).all() and a.min() >= 0 and a.max() <= 1:
            a = np.round(a * 255).astype(np.uint8)
        else:
            raise InputError(f"{what} must be uint8 (or uint16, or float in [0, 1]), got {a.dtype}")
    h, w = a.shape[:2]
    if h < 1 or w < 1:
        raise InputError(f"{what} is empty ({w}x{h})")
    if h * w > MAX_PIXELS:
        raise InputError(f"{what} is {w}x{h} = {h * w / 1e6:.1f} MP, over pershot's limit of {MAX_PIXELS / 1e6:.0f} MP")
    return np.ascontiguousarray(a)


def _drop_alpha(a: np.ndarray, what: str) -> np.ndarray:
    alpha = a[:, :, 3]
    full = 255 if a.dtype == np.uint8 else (65535 if a.dtype == np.uint16 else 1)
    if not np.all(alpha == full):
        raise InputError(f"{what} has a translucent alpha channel, which image codecs here do not code: flatten it first")
    return a[:, :, :3]


def read_bytes(path: str | os.PathLike, what: str = "file") -> bytes:
    """The bytes of the file at ``path``: one InputError for a folder, a missing file or an unreadable one."""
    p = Path(path)
    if p.is_dir():
        raise InputError(f"{p} is a folder, not a{'n' if what[0] in 'aeiou' else ''} {what}")
    if not p.is_file():
        raise InputError(f"no such {what}: {p}")
    try:
        return p.read_bytes()
    except OSError as ex:
        raise InputError(f"cannot read {p}: {ex.strerror or ex}") from ex


def load_image(path: str | os.PathLike) -> np.ndarray:
    """Read an image file into an ``H x W x 3`` uint8 RGB array (see the module doc)."""
    return decode_image_bytes(read_bytes(path, "image file"), what=str(Path(path)))


def decode_image_bytes(data: bytes, what: str = "image") -> np.ndarray:
    """Decode PNG/JPEG/TIFF/... bytes with Pillow into RGB uint8 (see the module doc)."""
    import warnings

    from PIL import Image

    old = Image.MAX_IMAGE_PIXELS
    try:
        Image.MAX_IMAGE_PIXELS = MAX_PIXELS
        with warnings.catch_warnings(), Image.open(io.BytesIO(data)) as im:
            # pershot's own limit is checked here; Pillow's warning below it would only print two lines
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            w, h = im.size
            if w * h > MAX_PIXELS:
                raise InputError(f"{what} is {w}x{h}, over pershot's limit of {MAX_PIXELS / 1e6:.0f} MP")
            im.load()
            return _to_rgb(_upright(im), what)
    except InputError:
        raise
    except Image.DecompressionBombError as ex:
        raise InputError(f"{what} is too large: {ex}") from ex
    except Image.UnidentifiedImageError as ex:  # its message names a BytesIO object
        raise InputError(f"{what} is not a readable image: not a format pershot reads (PNG, JPEG, WebP, TIFF, "
                         "BMP...)") from ex
    except (OSError, ValueError, SyntaxError, EOFError) as ex:
        # Pillow's UnidentifiedImageError is an OSError
        msg = str(ex).splitlines()[0] if str(ex) else type(ex).__name__
        raise InputError(f"{what} is not a readable image: {msg}") from ex
    finally:
        Image.MAX_IMAGE_PIXELS = old


def _upright(im):
    """``im`` turned as its EXIF orientation says (the image as displayed); as stored when the tag is absent,
    or unreadable."""
    from PIL import ImageOps

    try:
        orientation = im.getexif().get(0x0112, 1)
    except Exception:  # noqa: BLE001 - damaged EXIF: the pixels are still good
        return im
    if orientation in (None, 1):
        return im
    try:
        return ImageOps.exif_transpose(im)
    except Exception:  # noqa: BLE001
        return im


def _to_rgb(im, what: str) -> np.ndarray:
    mode = im.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        a = np.asarray(im)
        if mode == "I" and a.max(initial=0) <= 255 and a.min(initial=0) >= 0:
            a8 = a.astype(np.uint8)
        else:
            a8 = ((np.clip(a, 0, 65535).astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)
        return check_image(a8, what)
    if mode == "F":
        raise InputError(f"{what} is a floating-point image (mode F), which pershot does not read")
    if mode in ("RGBA", "LA", "PA", "La", "RGBa") or (mode == "P" and "transparency" in im.info):
        return check_image(np.asarray(im.convert("RGBA")), what)
    if mode != "RGB":
        im = im.convert("RGB")
    return check_image(np.asarray(im), what)


def png_bytes(image: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(check_image(image)).save(buf, "PNG", compress_level=6)
    return buf.getvalue()


def save_png(image: np.ndarray, dest: str | os.PathLike) -> Path:
    """Write ``image`` as an 8-bit RGB PNG, atomically."""
    data = png_bytes(image)
    with atomic_path(dest, suffix=".png") as tmp:
        tmp.write_bytes(data)
    return Path(dest)


def pad_to_multiple(image: np.ndarray, multiple: int) -> tuple[np.ndarray, int, int]:
    """Pad bottom/right by edge replication so both sides are multiples of ``multiple``."""
    h, w = image.shape[:2]
    ph = (-h) % multiple
    pw = (-w) % multiple
    if ph or pw:
        image = np.pad(image, ((0, ph), (0, pw), (0, 0)), mode="edge")
    return image, ph, pw
