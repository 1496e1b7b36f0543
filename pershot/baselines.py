"""Reference ladders to compare pershot against (pure numpy/pandas, no I/O).

* **fixed ladder**: the same resolution and CRF for every shot of a rung, at
  one preset (``medium`` by default) - the classic one-size-fits-all ladder.
  :func:`fixed_ladder_configs` lists every (resolution, CRF) such ladder point;
  its upper hull is the best curve any fixed ladder can reach.
* **fixed preset**: per-shot optimization (each shot its own resolution and
  CRF) with every shot at one preset - :func:`fixed_preset_ladder`, whose
  complexity ratio is that preset's own.
* :func:`versus_fixed`: what a ladder saves against the fixed ladder at its own rungs
  (ladder.json's ``versus_fixed``, the line ``pershot ladder`` prints).
* :func:`complexity_sweep`: pershot ladders over a range of complexity budgets.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from .bdrate import bd_rate
from .errors import InfeasibleError, OptimizeError, PershotError
from .hull import upper_hull
from .ladder import Ladder, LadderSpec, Prepared, _targets
from .optimize import solve

__all__ = ["pick_preset", "fixed_ladder_configs", "fixed_ladder_hull", "fixed_ladder", "fixed_preset_ladder",
           "versus_fixed", "complexity_sweep"]


def pick_preset(prep: Prepared, preset: str | None = None) -> str:
    """``preset`` if probed, else ``medium`` if probed, else the middle probed preset (grid variants
    are never picked by default)."""
    names = list(prep.presets)
    if preset is not None:
        if preset not in names:
            raise OptimizeError(f"preset {preset!r} was not probed (probed: {', '.join(names)})")
        return preset
    plain = [p for p in names if p not in prep.variants] or names
    return "medium" if "medium" in plain else plain[len(plain) // 2]


def fixed_ladder_configs(prep: Prepared, preset: str | None = None) -> pd.DataFrame:
    """Every (height, CRF) at one preset probed for all shots: duration-weighted rate, quality, CPU."""
    preset = pick_preset(prep, preset)
    t = prep.table
    sub = t[t["preset"].astype(str) == preset]
    q = prep.quality_column
    shots = prep.shots.set_index("shot")["duration_s"]
    n_shots = len(shots)
    rows = []
    for (h, w, crf), g in sub.groupby(["height", "width", "crf"], sort=True):
        g = g.drop_duplicates("shot")
        if len(g) != n_shots:
            continue
        d = g["shot"].map(shots).to_numpy(dtype=float)
        D = d.sum()
        rows.append({"preset": preset, "height": int(h), "width": int(w), "crf": float(crf),
                     "bitrate_kbps": float((g["bitrate_kbps"].to_numpy(dtype=float) * d).sum() / D),
                     "quality": float((g[q].to_numpy(dtype=float) * d).sum() / D),
                     "encode_cpu_s": float(g["encode_cpu_s"].sum())})
    out = pd.DataFrame(rows, columns=["preset", "height", "width", "crf", "bitrate_kbps", "quality", "encode_cpu_s"])
    if len(out) == 0:
        raise OptimizeError(f"no (resolution, CRF) was probed at preset {preset} for every shot")
    return out


def fixed_ladder_hull(prep: Prepared, preset: str | None = None) -> pd.DataFrame:
    """The upper hull of :func:`fixed_ladder_configs`: the best any fixed ladder can do."""
    cfg = fixed_ladder_configs(prep, preset)
    idx = upper_hull(cfg["bitrate_kbps"].to_numpy(), cfg["quality"].to_numpy())
    return cfg.iloc[idx].reset_index(drop=True)


def fixed_ladder(prep: Prepared, targets_kbps: Sequence[float], preset: str | None = None) -> pd.DataFrame:
    """Per rung target: the fixed (height, CRF) of best quality within the target (NaN when none fits)."""
    cfg = fixed_ladder_configs(prep, preset)
    rows = []
    for tgt in targets_kbps:
        ok = cfg[cfg["bitrate_kbps"] <= tgt * (1 + 1e-9)]
        if len(ok) == 0:
            rows.append({"target_kbps": tgt})
            continue
        best = ok.sort_values(["quality", "bitrate_kbps"], ascending=[False, True]).iloc[0]
        rows.append({"target_kbps": tgt, **best.to_dict()})
    return pd.DataFrame(rows, columns=["target_kbps", *cfg.columns])


def versus_fixed(ladder: Ladder, preset: str | None = None) -> dict:
    """``ladder`` against the fixed ladder at one preset (medium where probed) with its rungs' bitrates.

    Each fixed rung is the (resolution, CRF) of best duration-weighted quality, the same for every
    shot, within the pershot rung's bitrate. Returns ``{"preset", "metric", "rungs", "bd_rate",
    "complexity_ratio", "note"}``: ``bd_rate`` is pershot's Bjøntegaard delta rate against it (a
    fraction, negative = fewer bits at equal quality) over the qualities both reach, and
    ``complexity_ratio`` the fixed ladder's encode CPU over the anchor's. Where no BD-rate can be
    computed (fewer than two rungs on either side, qualities that do not overlap, probes without a
    whole fixed configuration) ``bd_rate`` is None and ``note`` says why.
    """
    prep = ladder.prepared
    out: dict = {"preset": None, "metric": ladder.metric, "rungs": 0, "bd_rate": None, "complexity_ratio": None,
                 "note": ""}
    if prep is None:
        out["note"] = "no probes behind this ladder"
        return out
    try:
        preset = pick_preset(prep, preset)
        fl = fixed_ladder(prep, [r.bitrate_kbps for r in ladder.rungs], preset)
    except OptimizeError as ex:
        out["note"] = str(ex)
        return out
    fl = fl.dropna(subset=["bitrate_kbps"])
    out.update(preset=preset, rungs=int(len(fl)))
    if len(fl):
        out["complexity_ratio"] = float(fl["encode_cpu_s"].sum() / ladder.anchor_cpu_s)
    if len(fl) < 2 or len(ladder.rungs) < 2:
        out["note"] = "a BD-rate needs two rungs on each side"
        return out
    try:
        out["bd_rate"] = bd_rate((fl["bitrate_kbps"].to_numpy(), fl["quality"].to_numpy()),
                                 ([r.bitrate_kbps for r in ladder.rungs], [r.quality for r in ladder.rungs]))
    except PershotError as ex:
        out["note"] = str(ex)
    return out


def fixed_preset_ladder(prep: Prepared, ladder: Ladder, preset: str, per_shot_resolution: bool | None = None,
                        exact: bool = True) -> dict:
    """The per-shot ladder of ``ladder``'s rungs with every shot at ``preset`` (no CPU limit).

    ``exact=False`` skips the exact finish (:mod:`pershot.exact`): faster, for plots.

    Returns ``{"preset", "rate", "quality", "cpu_s", "ratio"}``; ``ratio`` is its
    encode CPU over ``ladder``'s anchor.  Rungs out of reach at that preset are
    dropped (NaN).
    """
    psr = ladder.per_shot_resolution if per_shot_resolution is None else per_shot_resolution
    pts = prep.points
    names = list(prep.presets)
    if preset not in names:
        raise OptimizeError(f"preset {preset!r} was not probed")
    mask = _preset_mask(prep, preset)
    specs = [r.spec for r in ladder.rungs]
    rate, qual, cpu = [], [], 0.0
    for s in specs:
        try:
            sol = solve(pts, _targets([s]), per_shot_resolution=psr, preset_mask=mask, exact=exact)
        except InfeasibleError:
            rate.append(np.nan)
            qual.append(np.nan)
            continue
        rate.append(float(sol.rate[0]))
        qual.append(float(sol.quality[0]))
        cpu += sol.total_cpu
    return {"preset": preset, "rate": np.array(rate), "quality": np.array(qual), "cpu_s": cpu,
            "ratio": cpu / ladder.anchor_cpu_s}


def _preset_mask(prep: Prepared, preset: str) -> np.ndarray:
    """Points of ``preset`` (via the table rows behind them)."""
    row = prep.row
    names = prep.table["preset"].astype(str).to_numpy()
    m = np.zeros(row.shape, dtype=bool)
    ok = row >= 0
    m[ok] = names[row[ok]] == preset
    return m


def complexity_sweep(prep: Prepared, spec: LadderSpec, complexities: Sequence[float], *,
                     per_shot_resolution: bool = False, exact: bool = True,
                     objective: str = "area") -> list[tuple[float, Ladder | None, str]]:
    """pershot ladders at each complexity: ``(c, ladder or None, error message)``; ``exact=False``
    skips the exact finish (faster, for plots)."""
    from .ladder import _optimize_once

    out = []
    for c in complexities:
        try:  # no search for the smallest feasible value: an infeasible c is just reported
            lad = _optimize_once(prep, LadderSpec.coerce(spec), float(c), per_shot_resolution, True, exact,
                                 objective=objective)
            out.append((float(c), lad, ""))
        except InfeasibleError as ex:
            out.append((float(c), None, str(ex)))
    return out
