"""The natural images the learned codecs are trained and evaluated on, built at run time.

Nothing here is committed: frames come from ``../shared/media/testvideo.mp4``
(four real photographs, 720p H.264) and photographs ship inside
scikit-image (and matplotlib's ``grace_hopper.jpg`` where present).

Training and evaluation never share a picture:

* training: the leaf, rock and grate shots of ``testvideo.mp4`` (full 720p
  frames, read at a 1.5x-3x downscale so H.264 artefacts wash out), and
  scikit-image's astronaut, chelsea, rocket, hubble_deep_field,
  immunohistochemistry, retina and the grayscale camera/brick/grass/gravel/
  moon/coins (tinted at random), plus grace_hopper;
* held out (:func:`heldout_images`, used by ``benchmarks/image_codecs.py``):
  the deer shot of ``testvideo.mp4`` and scikit-image's coffee and
  stereo_motorcycle (both views), all downscaled 2x by box averaging.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from ..atomic import atomic_path
from ..errors import InputError, MissingDependencyError

VIDEO = "testvideo.mp4"
#: frame indices of testvideo.mp4 per shot (the shots are slow pans over still photographs)
TRAIN_FRAMES = {"leaf": (60, 150), "rock": (440, 515), "grate": (575, 650)}
HELDOUT_FRAMES = {"deer": (285,)}
TRAIN_SKIMAGE_COLOR = {  # name: (min, max) downscale factor
    "astronaut": (1.0, 2.0), "chelsea": (1.25, 2.0), "rocket": (1.0, 2.0), "hubble_deep_field": (1.5, 3.0),
    "immunohistochemistry": (1.0, 2.0), "retina": (2.0, 4.0),
}
TRAIN_SKIMAGE_GRAY = {"camera": (1.0, 2.0), "brick": (1.0, 2.0), "grass": (1.0, 2.0), "gravel": (1.0, 2.0),
                      "moon": (1.0, 2.0), "coins": (1.0, 1.5)}
HELDOUT_SKIMAGE = ("coffee", "stereo_motorcycle")


def _video_frames(media_dir: Path, wanted: dict[str, tuple[int, ...]]) -> dict[str, np.ndarray]:
    try:
        import av
    except ImportError as ex:  # pragma: no cover - core dependency
        raise MissingDependencyError("PyAV is needed to read video frames") from ex
    src = Path(media_dir) / VIDEO
    if not src.is_file():
        raise InputError(f"{src} not found (the shared test media)")
    want = {i: f"{shot}_{i}" for shot, idx in wanted.items() for i in idx}
    out: dict[str, np.ndarray] = {}
    last = max(want)
    with av.open(str(src)) as c:
        for i, fr in enumerate(c.decode(video=0)):
            if i in want:
                out[want[i]] = fr.to_ndarray(format="rgb24")
            if i >= last:
                break
    missing = set(want.values()) - set(out)
    if missing:
        raise InputError(f"{src}: frames not found: {sorted(missing)}")
    return out


def box_downscale(img: np.ndarray, factor: int = 2) -> np.ndarray:
    """Average ``factor x factor`` blocks (crops the remainder)."""
    h, w = img.shape[:2]
    h2, w2 = h // factor, w // factor
    a = img[: h2 * factor, : w2 * factor].astype(np.float64)
    a = a.reshape(h2, factor, w2, factor, -1).mean(axis=(1, 3))
    return np.clip(np.round(a), 0, 255).astype(np.uint8)


def _skimage(name: str) -> np.ndarray:
    import skimage.data as data

    a = getattr(data, name)()
    if isinstance(a, tuple):  # stereo_motorcycle: (left, right, disparity)
        a = a[0]
    return np.asarray(a)


def training_images(media_dir: str | os.PathLike) -> list[dict]:
    """Training pictures with the downscale range each is read at."""
    out = []
    for name, fr in _video_frames(Path(media_dir), TRAIN_FRAMES).items():
        out.append({"name": f"testvideo_{name}", "pixels": fr, "fmin": 1.5, "fmax": 3.0, "gray": False})
    for name, (lo, hi) in TRAIN_SKIMAGE_COLOR.items():
        out.append({"name": name, "pixels": _skimage(name)[..., :3], "fmin": lo, "fmax": hi, "gray": False})
    for name, (lo, hi) in TRAIN_SKIMAGE_GRAY.items():
        g = _skimage(name)
        out.append({"name": name, "pixels": np.repeat(g[..., None], 3, axis=2), "fmin": lo, "fmax": hi, "gray": True})
    try:
        import matplotlib.cbook as cbook
        from PIL import Image

        with cbook.get_sample_data("grace_hopper.jpg") as f:
            gh = np.asarray(Image.open(f).convert("RGB"))
        out.append({"name": "grace_hopper", "pixels": gh, "fmin": 1.5, "fmax": 2.5, "gray": False})
    except Exception:  # noqa: BLE001 - optional extra picture
        pass
    return out


def build_training_set(dest: str | os.PathLike, media_dir: str | os.PathLike) -> Path:
    """Write the training pictures to ``dest`` (.npz, uint8 images + JSON metadata)."""
    imgs = training_images(media_dir)
    arrays = {f"img{i}": np.ascontiguousarray(d["pixels"], dtype=np.uint8) for i, d in enumerate(imgs)}
    meta = [{k: d[k] for k in ("name", "fmin", "fmax", "gray")} for d in imgs]
    with atomic_path(dest, suffix=".npz") as tmp:
        with open(tmp, "wb") as f:
            np.savez_compressed(f, meta=np.array(json.dumps(meta)), **arrays)
    return Path(dest)


def heldout_images(media_dir: str | os.PathLike) -> list[tuple[str, np.ndarray]]:
    """The evaluation pictures (never trained on), each downscaled 2x."""
    out = [(f"testvideo_{n}", box_downscale(fr, 2)) for n, fr in _video_frames(Path(media_dir), HELDOUT_FRAMES).items()]
    for name in HELDOUT_SKIMAGE:
        out.append((name, box_downscale(_skimage(name)[..., :3], 2)))
    return out


def main(argv: list[str] | None = None) -> int:
    """``python -m pershot.codecs.dataset OUT.npz [MEDIA_DIR]``"""
    import sys

    args = sys.argv[1:] if argv is None else argv
    if not args:
        print(main.__doc__)
        return 2
    media = args[1] if len(args) > 1 else str(Path(__file__).resolve().parents[3] / "shared" / "media")
    p = build_training_set(args[0], media)
    print(p, p.stat().st_size)
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
