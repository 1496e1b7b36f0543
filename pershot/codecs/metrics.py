"""Image quality metrics in numpy/scipy (no torch): PSNR on RGB and on luma, MS-SSIM.

MS-SSIM follows Wang, Simoncelli & Bovik (2003): 5 scales, 11-tap Gaussian
window (sigma 1.5), weights 0.0448/0.2856/0.3001/0.2363/0.1333, computed per RGB
channel and averaged. Borders are handled by reflection rather than cropped, so
any image size works; images too small for 5 scales use fewer (weights
renormalised).
"""
from __future__ import annotations

import math

import numpy as np

_MS_WEIGHTS = np.array([0.0448, 0.2856, 0.3001, 0.2363, 0.1333])


def mse(a: np.ndarray, b: np.ndarray) -> float:
    if a.shape != b.shape:
        raise ValueError(f"shapes differ: {a.shape} vs {b.shape}")
    d = a.astype(np.float64) - b.astype(np.float64)
    return float(np.mean(d * d))


def psnr_from_mse(m: float, peak: float = 255.0) -> float:
    return math.inf if m <= 0 else 10.0 * math.log10(peak * peak / m)


def psnr_rgb(ref: np.ndarray, dist: np.ndarray) -> float:
    """PSNR in dB over all three RGB channels of uint8 images (inf when identical)."""
    return psnr_from_mse(mse(ref, dist))


def luma(img: np.ndarray) -> np.ndarray:
    """BT.601 full-range luma of an RGB uint8 image, as float64 in [0, 255]."""
    x = img.astype(np.float64)
    return 0.299 * x[..., 0] + 0.587 * x[..., 1] + 0.114 * x[..., 2]


def psnr_y(ref: np.ndarray, dist: np.ndarray) -> float:
    """PSNR in dB of the BT.601 luma plane."""
    return psnr_from_mse(mse(luma(ref), luma(dist)))


_C1 = (0.01 * 255) ** 2
_C2 = (0.03 * 255) ** 2


def _blur(a: np.ndarray) -> np.ndarray:
    from scipy.ndimage import gaussian_filter

    return gaussian_filter(a, sigma=1.5, truncate=3.5, mode="reflect")


def _down2(a: np.ndarray) -> np.ndarray:
    h, w = a.shape
    a = a[: h - h % 2, : w - w % 2]
    return 0.25 * (a[0::2, 0::2] + a[1::2, 0::2] + a[0::2, 1::2] + a[1::2, 1::2])


def _scales(h: int, w: int) -> int:
    scales = 1
    while scales < 5 and min(h, w) >> scales >= 8:
        scales += 1
    return scales


class MsSsimReference:
    """The reference's side of MS-SSIM, computed once: per channel and scale, the image, its local
    mean and its local variance. Scoring many decodes of one image (every level of every codec)
    then filters only the decode's side: 3 Gaussian filters a scale instead of 5."""

    def __init__(self, ref: np.ndarray) -> None:
        self.shape = ref.shape
        self.scales = _scales(*ref.shape[:2])
        self.terms: list[list[tuple[np.ndarray, np.ndarray, np.ndarray]]] = []
        for c in range(ref.shape[2]):
            x = ref[..., c].astype(np.float64)
            per = []
            for s in range(self.scales):
                mx = _blur(x)
                per.append((x, mx, _blur(x * x) - mx * mx))
                if s < self.scales - 1:
                    x = _down2(x)
            self.terms.append(per)

    def score(self, dist: np.ndarray) -> float:
        if dist.shape != self.shape:
            raise ValueError(f"shapes differ: {self.shape} vs {dist.shape}")
        wts = _MS_WEIGHTS[:self.scales] / _MS_WEIGHTS[:self.scales].sum()
        vals = []
        for c, per in enumerate(self.terms):
            y = dist[..., c].astype(np.float64)
            mcs = []
            for s, (x, mx, sxx) in enumerate(per):
                my = _blur(y)
                syy = _blur(y * y) - my * my
                sxy = _blur(x * y) - mx * my
                cs = (2 * sxy + _C2) / (sxx + syy + _C2)
                lum = (2 * mx * my + _C1) / (mx * mx + my * my + _C1)
                ssim, cs_mean = float(np.mean(lum * cs)), float(np.mean(cs))
                if s < len(per) - 1:
                    mcs.append(max(cs_mean, 1e-12))
                    y = _down2(y)
            vals.append(float(np.prod(np.array(mcs) ** wts[:-1]) * max(ssim, 1e-12) ** wts[-1]))
        return float(np.mean(vals))


def ms_ssim(ref: "np.ndarray | MsSsimReference", dist: np.ndarray) -> float:
    """MS-SSIM (0..1) of two RGB uint8 images, mean over channels. ``ref`` may be a
    :class:`MsSsimReference` made once for many decodes of the same image."""
    if isinstance(ref, MsSsimReference):
        return ref.score(dist)
    if ref.shape != dist.shape:
        raise ValueError(f"shapes differ: {ref.shape} vs {dist.shape}")
    return MsSsimReference(ref).score(dist)


def ms_ssim_db(v: float) -> float:
    """MS-SSIM on a dB scale, -10 log10(1 - v), as used for BD computations."""
    return math.inf if v >= 1 else -10.0 * math.log10(1.0 - v)
