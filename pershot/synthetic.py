"""Synthetic rate-distortion-complexity probes for tests, benchmarks and demos.

:func:`synthetic_probes` returns a DataFrame with the same columns as
``pershot.probe`` (see the README's ``probes.csv``), built from a small
parametric model of a real encoder instead of real encodes:

* each shot has a duration, a spatial/temporal complexity and a detail level;
* bitrate ~ complexity * pixels^0.8 * 2^(-(crf - 23) / 6) * preset_rate_factor;
* quality (VMAF-like, 0-100) saturates with the bits spent per pixel, loses
  a detail-dependent amount when the picture is downscaled, and gains a
  little with slower presets at the same CRF;
* encode CPU ~ preset speed factor * pixels * frames, a bit higher at low CRF;
* every value gets a few percent of seeded multiplicative noise.

The numbers are plausible for x264 at 8-bit 4:2:0, not measured; they make
the optimizer's job non-trivial (presets and resolutions cross over) and give
known, reproducible inputs.  Pure numpy/pandas, no I/O.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

__all__ = ["X264_PRESETS", "synthetic_probes"]

# preset -> (speed factor: CPU relative to ultrafast, rate factor at equal CRF,
#            quality gain at equal CRF in "effective bits")
X264_PRESETS: dict[str, tuple[float, float, float]] = {
    "ultrafast": (1.0, 1.55, 0.80),
    "superfast": (1.6, 1.25, 0.90),
    "veryfast": (2.3, 1.05, 0.94),
    "faster": (3.4, 1.02, 0.97),
    "fast": (4.3, 1.00, 0.985),
    "medium": (5.5, 0.97, 1.00),
    "slow": (8.0, 0.95, 1.015),
    "slower": (13.0, 0.93, 1.03),
    "veryslow": (21.0, 0.91, 1.045),
    "placebo": (60.0, 0.90, 1.05),
}


def synthetic_probes(
    shots: int = 6,
    *,
    presets: Sequence[str] = ("ultrafast", "veryfast", "fast", "medium", "slow", "veryslow"),
    heights: Sequence[int] = (1080, 720, 540, 360),
    crfs: Sequence[int] = (18, 22, 26, 30, 34, 38),
    source_height: int = 1080,
    fps: float = 24.0,
    seed: int = 0,
    noise: float = 0.02,
    min_frames: int = 24,
    max_frames: int = 240,
    encoder: str = "libx264",
) -> pd.DataFrame:
    """A probes DataFrame (one row per shot x preset x height x CRF) from the model above."""
    if shots < 1:
        raise ValueError("shots must be >= 1")
    unknown = [p for p in presets if p not in X264_PRESETS]
    if unknown:
        raise ValueError(f"unknown presets {unknown}; known: {list(X264_PRESETS)}")
    rng = np.random.default_rng(seed)
    presets = sorted(presets, key=lambda p: X264_PRESETS[p][0])
    frames = rng.integers(min_frames, max_frames + 1, size=shots)
    start = np.concatenate([[0], np.cumsum(frames)[:-1]])
    kappa = np.exp(rng.normal(0.0, 0.7, size=shots))  # rate complexity
    detail = rng.uniform(0.3, 1.0, size=shots)  # how much downscaling hurts
    motion = rng.uniform(0.5, 1.5, size=shots)  # CPU per pixel varies with motion

    sh, pr, hh, cf = np.meshgrid(np.arange(shots), np.arange(len(presets)), np.asarray(heights),
                                 np.asarray(crfs, dtype=float), indexing="ij")
    sh, pr, hh, cf = sh.ravel(), pr.ravel(), hh.ravel(), cf.ravel()
    n = sh.size
    speed = np.array([X264_PRESETS[p][0] for p in presets])[pr]
    rfac = np.array([X264_PRESETS[p][1] for p in presets])[pr]
    qgain = np.array([X264_PRESETS[p][2] for p in presets])[pr]
    width = (np.round(hh * 16 / 9 / 2) * 2).astype(int)
    pix = width * hh
    pix_src = (round(source_height * 16 / 9 / 2) * 2) * source_height
    dur = frames[sh] / fps

    def jitter(size: int) -> np.ndarray:
        return np.exp(rng.normal(0.0, noise, size=size))

    rate = 2500.0 * kappa[sh] * (pix / pix_src) ** 0.8 * 2.0 ** (-(cf - 23.0) / 6.0) * rfac * jitter(n)
    # effective bits per source pixel drive the coding quality
    bpp = rate * 1000.0 / (pix * fps) * qgain / rfac
    coding = 100.0 * (1.0 - np.exp(-((bpp / (0.008 * kappa[sh] ** 0.6)) ** 0.55)))
    scale_loss = 1.0 - 0.45 * detail[sh] * (1.0 - hh / source_height) ** 1.6
    vmaf = np.clip(coding * scale_loss + rng.normal(0.0, 0.3, size=n), 0.0, 100.0)
    psnr = 24.0 + 0.2 * vmaf + 2.5 * np.log2(1.0 + bpp * 20) - 3.0 * detail[sh] * (1 - hh / source_height)
    ssim = 1.0 - 0.25 * np.exp(-vmaf / 25.0)
    cpu = (1.1e-9 * speed * pix * frames[sh] * motion[sh] * (1.0 + 0.015 * (40.0 - cf)) * jitter(n))
    size = np.maximum(1, np.round(rate * 1000.0 / 8.0 * dur)).astype(np.int64)
    df = pd.DataFrame({
        "shot": sh,
        "start_frame": start[sh],
        "end_frame": start[sh] + frames[sh],
        "frames": frames[sh],
        "duration_s": dur,
        "encoder": encoder,
        "preset": np.asarray(presets, dtype=object)[pr],
        "preset_rank": pr,
        "width": width,
        "height": hh,
        "rc_mode": "crf",
        "crf": cf,
        "size_bytes": size,
        "bitrate_kbps": size * 8.0 / dur / 1000.0,
        "vmaf": vmaf,
        "vmaf_hmean": np.maximum(vmaf - 0.5, 0.0),
        "vmaf_p5": np.maximum(vmaf - 4.0, 0.0),
        "psnr_y": psnr,
        "ssim": ssim,
        "encode_cpu_s": cpu,
        "encode_wall_s": cpu * 1.05,
        "decode_cpu_s": 2e-10 * pix * frames[sh],
        "metric_cpu_s": 1e-8 * pix_src * frames[sh] / 100,
    })
    return df
