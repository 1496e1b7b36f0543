"""Sparse probing: measure a skeleton of the grid, predict the other points, measure what gets chosen.

Pure pandas/numpy, no I/O.  A full grid costs every (configuration x resolution x CRF) encode and
its metrics for every shot; most of those points never come near a ladder.  Per shot and encoder:

* the **skeleton** is every resolution and CRF at one *reference* configuration (the middle plain
  preset by speed), plus each other configuration at two *calibration* resolutions (the lowest
  and the highest height) and three CRFs (the lowest, the middle and the highest);
* a point not measured is **predicted** from the reference at the same resolution and CRF, moved
  by how its configuration differs from the reference where both were measured: the log ratio of
  bitrate and of encode CPU and the difference of each score, interpolated linearly in CRF
  (clamped at the ends), taken at the measured height nearest the point's own.  Every point
  measured later (a verified choice) sharpens the predictions around it;
* the caller optimizes over measured and predicted points, measures every predicted point the
  ladder (or its anchor) chose, and repeats until the ladder rests on measured points only.

:func:`skeleton` says which grid points to measure first; :func:`predict` fills in the rest.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["GROUP", "POINT", "skeleton", "predict", "PREDICTED_COLUMNS"]

#: a prediction group: one shot, one encoder, one rate-control mode
GROUP = ["shot", "encoder", "rc_mode"]
#: one grid point inside a group
POINT = ["shot", "encoder", "rc_mode", "preset", "width", "height", "crf"]
#: the columns a prediction fills in (the others stay empty)
PREDICTED_COLUMNS = ("bitrate_kbps", "size_bytes", "vmaf", "psnr_y", "ssim", "xpsnr_y", "encode_cpu_s")
_LOG = ("bitrate_kbps", "encode_cpu_s")  # predicted by ratio
_ADD = ("vmaf", "psnr_y", "ssim", "xpsnr_y")  # predicted by difference
_CLIP = {"vmaf": (0.0, 100.0), "psnr_y": (0.0, 60.0), "ssim": (0.0, 1.0), "xpsnr_y": (0.0, 60.0)}


def _plain(df: pd.DataFrame) -> np.ndarray:
    """Rows whose configuration is a plain preset (not a grid variant)."""
    if "encoder_preset" not in df.columns:
        return np.ones(len(df), dtype=bool)
    ep = df["encoder_preset"].astype(str).to_numpy()
    return (ep == df["preset"].astype(str).to_numpy()) | (ep == "nan") | (ep == "")


def _layout(points: pd.DataFrame) -> pd.DataFrame:
    """Per group: the reference configuration, its heights (lowest, middle, highest) and the CRF range."""
    p = points.assign(_plain=_plain(points))
    out = []
    for key, g in p.groupby(GROUP, sort=False):
        cfg = g.drop_duplicates("preset")
        cand = cfg[cfg["_plain"]] if cfg["_plain"].any() else cfg
        ranks = np.sort(cand["preset_rank"].to_numpy())
        mid = ranks[(ranks.size - 1) // 2 + (ranks.size - 1) % 2]  # the upper middle: a slower reference
        ref = cand[cand["preset_rank"] == mid]["preset"].astype(str).min()
        hs = np.sort(g["height"].unique())
        crfs = np.sort(g["crf"].unique())
        out.append(dict(zip(GROUP, key), ref=ref, h_lo=int(hs[0]), h_mid=int(hs[hs.size // 2]), h_hi=int(hs[-1]),
                        crfs=tuple(float(c) for c in crfs)))
    return pd.DataFrame(out)


def skeleton(points: pd.DataFrame, calib_crfs: int = 3, calib_heights: int = 2) -> np.ndarray:
    """Which grid points to measure first (a boolean per row of ``points``).

    ``points`` has one row per grid point with at least ``shot, encoder, rc_mode, preset,
    preset_rank, width, height, crf`` (``encoder_preset`` tells grid variants from presets).
    ``calib_heights``: 2 calibrates the other configurations at the lowest and highest height,
    1 at the middle one.
    """
    if calib_crfs not in (2, 3):
        raise ValueError("calib_crfs must be 2 or 3")
    if calib_heights not in (1, 2):
        raise ValueError("calib_heights must be 1 or 2")
    lay = _layout(points)
    m = points.merge(lay, on=GROUP, how="left")
    lo = m["crfs"].map(lambda c: c[0])
    hi = m["crfs"].map(lambda c: c[-1])
    mid = m["crfs"].map(lambda c: c[(len(c) - 1) // 2])
    crf = m["crf"].astype(float)
    h = m["height"].to_numpy()
    at_cal = (h == m["h_mid"].to_numpy()) if calib_heights == 1 else \
        (h == m["h_lo"].to_numpy()) | (h == m["h_hi"].to_numpy())
    cal_crf = (crf == lo) | (crf == hi) | ((crf == mid) if calib_crfs == 3 else False)
    ref = m["preset"].astype(str).to_numpy() == m["ref"].to_numpy()
    return np.asarray(ref | (at_cal & cal_crf.to_numpy()), dtype=bool)


def predict(measured: pd.DataFrame, todo: pd.DataFrame) -> pd.DataFrame:
    """Predicted rows for the grid points of ``todo`` (``predicted`` = True), from ``measured`` probes.

    A point whose reference (same group, resolution and CRF at the reference configuration) was not
    measured, or whose configuration was never measured beside the reference, is left out.
    """
    if len(todo) == 0:
        return todo.assign(predicted=pd.Series(dtype=bool))
    ident = POINT + ["preset_rank"] + (["encoder_preset"] if "encoder_preset" in measured and "encoder_preset" in todo
                                       else [])
    allp = pd.concat([measured[ident], todo[ident]], ignore_index=True)
    lay = _layout(allp).set_index(GROUP)
    cols = [c for c in _LOG + _ADD if c in measured.columns]
    meas = measured.copy()
    meas["crf"] = meas["crf"].astype(float)
    by_group = dict(iter(meas.groupby(GROUP, sort=False)))  # one pass, not a scan of every row per group
    out_rows = []
    for key, t in todo.groupby(GROUP, sort=False):
        mg = by_group.get(key)
        if key not in lay.index or mg is None:
            continue
        ref = lay.loc[key, "ref"]
        r0 = mg[mg["preset"].astype(str) == ref].set_index(["width", "height", "crf"])[cols]
        r0 = r0[~r0.index.duplicated()]
        # configuration vs reference where both were measured: log ratios and differences
        both = mg.merge(r0, left_on=["width", "height", "crf"], right_index=True, suffixes=("", "_ref"))
        both = both[both["preset"].astype(str) != ref]
        delta = pd.DataFrame({"preset": both["preset"].astype(str), "height": both["height"], "crf": both["crf"]})
        for c in cols:
            a, b = both[c].to_numpy(dtype=float), both[c + "_ref"].to_numpy(dtype=float)
            with np.errstate(divide="ignore", invalid="ignore"):
                delta[c] = np.log(a / b) if c in _LOG else a - b
        t = t.copy()
        t["crf"] = t["crf"].astype(float)
        base = t.merge(r0, left_on=["width", "height", "crf"], right_index=True, how="left", suffixes=("_x", ""))
        for cfg, tc in base.groupby(base["preset"].astype(str), sort=False):
            dc = delta[delta["preset"] == cfg]
            is_ref = cfg == ref
            if dc.empty and not is_ref:
                continue
            pred = tc[POINT].copy()
            for c in cols:
                pred[c] = tc[c].to_numpy(dtype=float)
            if not is_ref:
                hs = np.unique(dc["height"].to_numpy())
                th = tc["height"].to_numpy()
                near = hs[np.argmin(np.abs(th[:, None] - hs[None, :]), axis=1)]  # ties: the lower height
                x_all = tc["crf"].to_numpy(dtype=float)
                for h in np.unique(near):
                    rows = near == h
                    d = dc[dc["height"].to_numpy() == h].sort_values("crf")
                    x = d["crf"].to_numpy(dtype=float)
                    for c in cols:
                        y = d[c].to_numpy(dtype=float)
                        ok = np.isfinite(y)
                        v = np.interp(x_all[rows], x[ok], y[ok]) if ok.any() else np.full(rows.sum(), np.nan)
                        cur = pred[c].to_numpy(dtype=float, copy=True)
                        cur[rows] = cur[rows] * np.exp(v) if c in _LOG else cur[rows] + v
                        pred[c] = cur
            out_rows.append(pred)
    if not out_rows:
        return todo.iloc[:0].assign(predicted=pd.Series(dtype=bool))
    pred = pd.concat(out_rows, ignore_index=True)
    for c, (lo, hi) in _CLIP.items():
        if c in pred.columns:
            pred[c] = pred[c].clip(lo, hi)
    pred = pred.dropna(subset=[c for c in ("bitrate_kbps", "encode_cpu_s") if c in pred.columns])
    keep = todo.copy()
    keep["crf"] = keep["crf"].astype(float)
    drop = [c for c in cols + ["size_bytes"] if c in keep.columns]
    res = keep.drop(columns=drop).merge(pred, on=POINT, how="inner")
    if "duration_s" in res.columns:
        res["size_bytes"] = np.round(res["bitrate_kbps"] * 1000.0 / 8.0 * res["duration_s"]).astype("int64")
    res["predicted"] = True
    return res
