"""Bjøntegaard delta rate and quality with piecewise cubic Hermite (pchip) interpolation.

The classic Bjøntegaard metric (VCEG-M33) fits a cubic polynomial through
(quality, log rate); the JCT-VC common test conditions replaced it with
monotone piecewise cubic Hermite interpolation (JCTVC-E137 / the JCTVC-L1100
Excel sheet), which does not overshoot between points.  We do the same with
:class:`scipy.interpolate.PchipInterpolator` and integrate the interpolants
exactly over the quality (or log-rate) range both curves cover.

A curve is given as ``(rate, quality)`` points: a list (or tuple) of pairs, an
``(N, 2)`` array; or as a tuple of two sequences ``(rates, qualities)``; or as a
DataFrame with ``bitrate_kbps`` (or ``rate``) and ``quality`` / ``vmaf`` columns.
A tuple of two tuples of two numbers, ``((100, 80), (200, 88))``, is two points
(the usual spelling of a point), not ``(rates, qualities)``: give two rates and
two qualities as lists or arrays, ``([100, 200], [80, 88])``.  At least two points with
distinct qualities are needed; more is better (four is the usual minimum in
codec comparisons).
"""
from __future__ import annotations

import numpy as np

from .errors import InputError

__all__ = ["bd_rate", "bd_quality", "rd_curve"]


def rd_curve(curve, quality: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Normalise a curve to two float arrays ``(rate, quality)`` (see the module docstring: a tuple of two
    sequences is ``(rates, qualities)``, except a tuple of two ``(rate, quality)`` tuples, which is two points)."""
    try:
        import pandas as pd

        if isinstance(curve, pd.DataFrame):
            rc = "bitrate_kbps" if "bitrate_kbps" in curve.columns else "rate"
            qc = quality or next((c for c in ("quality", "vmaf", "psnr_y", "ssim") if c in curve.columns), None)
            if rc not in curve.columns or qc is None:
                raise InputError("a curve DataFrame needs bitrate_kbps (or rate) and quality (or vmaf) columns")
            return curve[rc].to_numpy(dtype=float), curve[qc].to_numpy(dtype=float)
    except ImportError:  # pragma: no cover
        pass
    try:
        if isinstance(curve, tuple) and len(curve) == 2 and not _two_points(curve):
            r, q = np.asarray(curve[0], dtype=float).ravel(), np.asarray(curve[1], dtype=float).ravel()
            a = None
        else:
            a = np.asarray(curve, dtype=float)
    except (TypeError, ValueError):
        raise InputError(f"a curve must be (rate, quality) pairs of numbers, not {type(curve).__name__}") from None
    if a is not None:
        if a.ndim != 2 or a.shape[1] != 2:
            raise InputError("a curve must be (rate, quality) pairs, shape (N, 2)")
        r, q = a[:, 0], a[:, 1]
    if r.shape != q.shape:
        raise InputError("rate and quality lengths differ")
    return r, q


def _two_points(curve: tuple) -> bool:
    """A 2-tuple of 2-tuples of scalars: two (rate, quality) points (see the module docstring)."""
    return all(isinstance(x, tuple) and len(x) == 2 and all(np.ndim(v) == 0 for v in x) for x in curve)


def _prep(curve, quality=None, *, by: str) -> tuple[np.ndarray, np.ndarray]:
    r, q = rd_curve(curve, quality)
    ok = np.isfinite(r) & np.isfinite(q)
    r, q = r[ok], q[ok]
    if np.any(r <= 0):
        raise InputError("BD metrics need positive rates")
    lr = np.log(r)
    x, y = (q, lr) if by == "quality" else (lr, q)
    order = np.argsort(x, kind="stable")
    x, y = x[order], y[order]
    # equal abscissae: keep one point (the best one for the curve: lowest rate /
    # highest quality) so the interpolant is a function
    keep = np.ones(x.size, dtype=bool)
    keep[1:] = np.diff(x) > 0
    if not keep.all():
        uniq, start = np.unique(x, return_index=True)
        agg = np.minimum.reduceat(y, start) if by == "quality" else np.maximum.reduceat(y, start)
        x, y = uniq, agg
    if x.size < 2:
        raise InputError("a BD curve needs at least two points with distinct "
                         + ("qualities" if by == "quality" else "rates"))
    return x, y


def _mean_gap(xa, ya, xb, yb) -> tuple[float, float, float]:
    from scipy.interpolate import PchipInterpolator

    lo = max(xa[0], xb[0])
    hi = min(xa[-1], xb[-1])
    if not hi > lo:
        raise InputError(f"the two curves do not overlap (ranges {xa[0]:.4g}..{xa[-1]:.4g} and "
                         f"{xb[0]:.4g}..{xb[-1]:.4g})")
    fa = PchipInterpolator(xa, ya, extrapolate=False)
    fb = PchipInterpolator(xb, yb, extrapolate=False)
    gap = (fb.integrate(lo, hi) - fa.integrate(lo, hi)) / (hi - lo)
    return float(gap), float(lo), float(hi)


def bd_rate(anchor, test, quality: str | None = None) -> float:
    """Bjøntegaard delta rate of ``test`` against ``anchor``, as a fraction.

    The average relative bitrate difference at equal quality over the quality
    range both curves cover: ``-0.15`` means ``test`` needs 15 % less bitrate.
    Log-rate is interpolated as a function of quality with pchip.
    """
    xa, ya = _prep(anchor, quality, by="quality")
    xb, yb = _prep(test, quality, by="quality")
    gap, _, _ = _mean_gap(xa, ya, xb, yb)
    return float(np.expm1(gap))


def bd_quality(anchor, test, quality: str | None = None) -> float:
    """Bjøntegaard delta quality (BD-PSNR, BD-VMAF...) of ``test`` against ``anchor``.

    The average quality difference at equal bitrate over the log-rate range
    both curves cover, in the quality's own units (positive: ``test`` is
    better).  Quality is interpolated as a function of log-rate with pchip.
    """
    xa, ya = _prep(anchor, quality, by="rate")
    xb, yb = _prep(test, quality, by="rate")
    gap, _, _ = _mean_gap(xa, ya, xb, yb)
    return gap
