"""Ladder reports: DataFrames and atomic writers for ladder.json / ladder.csv / summary.csv / hulls.csv, and plots.

Every file goes through :mod:`pershot.atomic` (temp file + rename): a crash
never leaves a half-written report.  matplotlib is imported lazily, with the
Agg backend, only when plots are asked for.
"""
from __future__ import annotations

import json
import os
from fractions import Fraction
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from .atomic import atomic_path, write_text
from .errors import PershotError
from .hull import upper_hull
from .ladder import Ladder, Prepared

__all__ = ["hulls_frame", "encode_commands", "write_ladder", "write_plots", "MAX_SHOT_PLOTS"]

#: per-shot RD plots are drawn for at most this many shots (the longest ones)
MAX_SHOT_PLOTS = 24


def _csv(df: pd.DataFrame, dest: Path) -> Path:
    with atomic_path(dest) as tmp:
        df.to_csv(tmp, index=False, float_format="%.6g")
    return dest


def hulls_frame(prep: Prepared) -> pd.DataFrame:
    """Per shot, the upper hull of (bitrate, quality): over all points (``hull = "all"``) and per
    resolution (``"720p"``..., the resolution class)."""
    t = prep.table
    pts = prep.points
    rows, names, verts, slopes = [], [], [], []
    for s in range(pts.shots):
        cols = np.flatnonzero(pts.valid[s])
        r, qq, h, p = pts.rate[s, cols], pts.quality[s, cols], pts.height[s, cols], pts.p[s, cols]
        groups = [("all", np.arange(cols.size))] + [(f"{int(p[h == x].max())}p", np.flatnonzero(h == x))
                                                    for x in np.unique(h)]
        for name, sel in groups:
            idx = sel[upper_hull(r[sel], qq[sel])]
            rows.append(prep.row[s, cols[idx]])
            names += [name] * idx.size
            verts.append(np.arange(idx.size))
            slopes.append(np.r_[np.nan, np.diff(qq[idx]) / np.diff(r[idx])] if idx.size else np.empty(0))
    rr = np.concatenate(rows) if rows else np.empty(0, dtype=int)
    sub = t.iloc[rr]
    out = pd.DataFrame({
        "shot": sub["shot"].to_numpy(), "hull": names, "vertex": np.concatenate(verts) if verts else [],
        "encoder": sub["encoder"].to_numpy(), "preset": sub["preset"].to_numpy(),
        "width": sub["width"].to_numpy(), "height": sub["height"].to_numpy(),
        "rc_mode": sub["rc_mode"].to_numpy() if "rc_mode" in sub.columns else "crf",
        "crf": sub["crf"].to_numpy(), "bitrate_kbps": sub["bitrate_kbps"].to_numpy(),
        "quality": sub[prep.quality_column].to_numpy(), "metric": prep.metric,
        "encode_cpu_s": sub["encode_cpu_s"].to_numpy(), "slope": np.concatenate(slopes) if slopes else [],
    })
    return out


def _fps_of(prep: Prepared, fps: Any = None) -> Fraction | None:
    if fps is not None:
        try:
            return Fraction(str(fps))
        except (ValueError, ZeroDivisionError):
            pass
    sh = prep.shots
    if len(sh) and float(sh["duration_s"].iloc[0]) > 0:
        return Fraction(float(sh["frames"].iloc[0]) / float(sh["duration_s"].iloc[0])).limit_denominator(1001)
    return None


def encode_commands(ladder: Ladder, *, fps: Any = None, threads: int = 1, keyint: int = 0,
                    extra: tuple = (), colour: Sequence[tuple[str, str]] = (), hdr: Any = None) -> list[dict | None]:
    """Per row of ``ladder.table``: the encoder's own options and a full ffmpeg argument list.

    ``ffmpeg_args`` reads the shot's frames as 4:2:0 Y4M of the row's ``bit_depth`` (8 where none) from
    ``{input}`` and writes the raw stream to ``{output}`` (placeholders), as
    the probes did; ``codec_args`` are the encoder options alone.  Built by
    the core's encoder modules (pure functions, nothing is run).  ``None``
    where an encoder is unknown.  Each row's preset and options are the ones
    its probe was encoded with (``encoder_preset``, ``params``); ``extra``
    options are used only for rows without a ``params`` column (old tables). ``threads`` and ``keyint``
    are used for rows without their own (probes.csv's ``threads`` and ``keyint`` columns, the grid's).
    ``colour``: the colour description the encodes signal, as the probes did
    (:func:`pershot.media.encode_colour`); ``hdr``: the static HDR metadata 10-bit encodes carry
    (:class:`pershot.media.HdrMetadata`), as the probes did.
    """
    from . import encoders
    from .ladder import encoder_params, encoder_presets

    prep = ladder.prepared
    rate = _fps_of(prep, fps) if prep is not None else (Fraction(str(fps)) if fps else None)
    out: list[dict | None] = []
    tab = ladder.table
    given = encoder_presets(tab).tolist() if len(tab) else []
    opts = encoder_params(tab).tolist() if "params" in tab.columns else None
    for i, rec in enumerate(tab.to_dict("records")):
        try:
            spec = encoders.get(str(rec["encoder"]))
            row_threads, row_keyint = _setting(rec, "threads", threads), _setting(rec, "keyint", keyint)
            own = tuple(tuple(kv.split("=", 1)) for kv in opts[i].split(":") if kv) if opts is not None else None
            p = encoders.EncodeParams(encoder=spec.name, preset=given[i],
                                      rc_mode=str(rec.get("rc_mode") or "crf"), value=float(rec["crf"]),
                                      width=int(rec["width"]), height=int(rec["height"]),
                                      fps=rate or Fraction(25), frames=int(rec["end_frame"] - rec["start_frame"]),
                                      threads=row_threads, keyint=row_keyint,
                                      extra=tuple(extra) if own is None else own,
                                      colour=tuple(tuple(x) for x in colour), bit_depth=_bit_depth(rec), hdr=hdr)
            codec = spec.codec_args(p)
            full = encoders.encode_args(spec, p, "INPUT.y4m", "OUTPUT" + spec.ext)
            full = [_placeholder(a) for a in full]
            out.append({"ffmpeg_encoder": spec.ffmpeg_name, "codec_args": codec, "ffmpeg_args": full,
                        "output_ext": spec.ext})
        except (PershotError, KeyError, ValueError, TypeError):
            out.append(None)
    return out


def _setting(rec: Mapping[str, Any], name: str, default: int) -> int:
    """A ladder row's ``keyint`` or ``threads`` (the grid's, which its probe ran with), else ``default``."""
    v = rec.get(name)
    try:
        return default if v is None or v != v else int(v)
    except (TypeError, ValueError):
        return default


def _bit_depth(rec: Mapping[str, Any]) -> int:
    """A ladder row's bit depth (8 where the table has none: probes made before bit depths)."""
    v = rec.get("bit_depth")
    try:
        return 8 if v is None or v != v else int(v)
    except (TypeError, ValueError):
        return 8


def _placeholder(arg: str) -> str:
    if arg.startswith("file:") and arg.endswith("INPUT.y4m"):
        return "{input}"
    if arg.startswith("file:") and os.path.basename(arg).startswith("OUTPUT."):
        return "{output}"
    return arg


def write_ladder(ladder: Ladder, out_dir: str | os.PathLike, *, plots: bool = True, fps: Any = None,
                 threads: int = 1, keyint: int = 0, source: Mapping[str, Any] | None = None,
                 baselines: bool = True, thumbnails: Sequence[Any] | None = None) -> dict[str, Path]:
    """Write ladder.json, ladder.csv, summary.csv, hulls.csv (and plots/) under ``out_dir``; return their paths.

    ``thumbnails`` (:class:`pershot.thumbnails.Thumbnail` items) are listed in
    ladder.json and in thumbnails.csv.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    colour = tuple((source or {}).get("colour", {}).items())
    from .media import HdrMetadata

    hdr = HdrMetadata.from_dict((source or {}).get("hdr_metadata"))
    cmds = encode_commands(ladder, fps=fps, threads=threads, keyint=keyint, colour=colour, hdr=hdr)
    doc = ladder.to_dict()
    if baselines and ladder.prepared is not None:
        from .baselines import versus_fixed

        doc["versus_fixed"] = versus_fixed(ladder)
    if source:
        doc["source"] = dict(source)
    if thumbnails:
        doc["thumbnails"] = [t.as_dict() for t in thumbnails]
        written["thumbnails.csv"] = _csv(pd.DataFrame(doc["thumbnails"]), out / "thumbnails.csv")
    # attach the encode commands, shot by shot
    i = 0
    for rung in doc["rungs"]:
        for shot in rung["shots"]:
            c = cmds[i] if i < len(cmds) else None
            if c is not None:
                shot["encode"] = c
            i += 1
    written["ladder.json"] = write_text(out / "ladder.json", json.dumps(doc, indent=2, allow_nan=False) + "\n")
    written["ladder.csv"] = _csv(ladder.table, out / "ladder.csv")
    written["summary.csv"] = _csv(ladder.summary(), out / "summary.csv")
    if ladder.prepared is not None:
        written["hulls.csv"] = _csv(hulls_frame(ladder.prepared), out / "hulls.csv")
    if plots and ladder.prepared is not None:
        written.update(write_plots(ladder, out / "plots", baselines=baselines))
    return written


# --------------------------------------------------------------------------- plots


def _plt():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _finish(fig, ax, dest: Path, *, xlabel: str, ylabel: str, title: str) -> Path:
    """The plots' common frame (log bitrate or complexity axis, grid, legend), saved atomically
    to ``dest`` and closed."""
    ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    try:
        with atomic_path(dest) as tmp:
            fig.savefig(tmp, dpi=110, bbox_inches="tight")
    finally:
        import matplotlib.pyplot as plt  # loaded by _plt() already

        plt.close(fig)
    return dest


def write_plots(ladder: Ladder, plot_dir: str | os.PathLike, *, baselines: bool = True) -> dict[str, Path]:
    """Per-shot RD plots (hull, chosen points), the ladder's RD curve against baselines, quality vs complexity."""
    plt = _plt()
    prep = ladder.prepared
    assert prep is not None
    plot_dir = Path(plot_dir)
    plot_dir.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    metric = prep.metric
    pts = prep.points
    t = prep.table
    # 1. per shot
    longest = np.argsort(-pts.duration, kind="stable")[:MAX_SHOT_PLOTS]
    chosen = ladder.table
    presets = list(prep.presets)
    cmap = plt.get_cmap("viridis", max(len(presets), 2))
    for s in sorted(longest):
        shot_id = prep.shots["shot"].iloc[s]
        cols = np.flatnonzero(pts.valid[s])
        r, q, rk = pts.rate[s, cols], pts.quality[s, cols], prep.row[s, cols]
        pn = t["preset"].astype(str).to_numpy()[rk]
        fig, ax = plt.subplots(figsize=(6.4, 4.4))
        for i, name in enumerate(presets):
            m = pn == name
            if m.any():
                ax.scatter(r[m], q[m], s=10, color=cmap(i), alpha=0.6, label=name)
        h = upper_hull(r, q)
        ax.plot(r[h], q[h], "k-", lw=1.2, label="hull (all points)")
        c = chosen[chosen["shot"] == shot_id]
        ax.scatter(c["bitrate_kbps"], c[prep.quality_column], s=60, facecolors="none", edgecolors="red", lw=1.5,
                   label="chosen (one per rung)", zorder=5)
        written[f"plots/shot_{shot_id}.png"] = _finish(
            fig, ax, plot_dir / f"shot_{shot_id}.png", xlabel="bitrate (kbps)", ylabel=metric,
            title=f"shot {shot_id}: frames {int(prep.shots['start_frame'].iloc[s])}-"
                  f"{int(prep.shots['end_frame'].iloc[s])}")
    # 2. the ladder's RD curve against baselines
    fig, ax = plt.subplots(figsize=(7.0, 4.8))
    lr = np.array([x.bitrate_kbps for x in ladder.rungs])
    lq = np.array([x.quality for x in ladder.rungs])
    ax.plot(lr, lq, "o-", color="red", lw=2, label=f"pershot, complexity {ladder.complexity_ratio:.3g}", zorder=5)
    pre: dict[str, dict] = {}
    if baselines:
        from .baselines import fixed_ladder_hull, fixed_preset_ladder

        try:
            fx = fixed_ladder_hull(prep)
            ax.plot(fx["bitrate_kbps"], fx["quality"], "s--", color="gray",
                    label=f"fixed ladder ({fx['preset'].iloc[0]}, one resolution+CRF for all shots)")
        except PershotError:  # a baseline that cannot be built is just not drawn
            pass
        for i, name in enumerate(presets):
            if name in prep.variants:  # the baselines are the encoder's own presets
                continue
            try:
                b = pre[name] = fixed_preset_ladder(prep, ladder, name, exact=False)
            except PershotError:
                continue
            ok = np.isfinite(b["rate"])
            ax.plot(b["rate"][ok], b["quality"][ok], ".:", color=cmap(i), lw=1,
                    label=f"per-shot, all {name} ({b['ratio']:.3g})")
    written["plots/ladder_rd.png"] = _finish(fig, ax, plot_dir / "ladder_rd.png",
                                             xlabel="ladder bitrate (kbps, duration-weighted)",
                                             ylabel=f"{metric} (duration-weighted)", title="ladder rate-quality")
    # 3. quality vs complexity
    from .baselines import complexity_sweep

    lo = ladder.min_feasible or 0.01
    cs = sorted(set([float(x) for x in np.geomspace(max(lo, 0.005), 1.0, 9)] + [ladder.complexity]))
    # the curves are drawn without the exact finish (it would make plots minutes long on titles of
    # 10-15 shots); the ladder itself (the star, the red line above) is the finished one
    sweep = complexity_sweep(prep, ladder.spec, cs, per_shot_resolution=ladder.per_shot_resolution, exact=False,
                             objective=ladder.objective)
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    xs, ys = [], []
    for c, lad, _err in sweep:
        if lad is None or [r.spec for r in lad.rungs] != [r.spec for r in ladder.rungs]:
            continue  # compare like with like: the same rungs
        xs.append(lad.complexity_ratio)
        ys.append(float(np.mean([r.quality for r in lad.rungs])))
    if xs:
        ax.plot(xs, ys, "o-", color="red", label="pershot (mean over rungs)")
    ax.scatter([ladder.complexity_ratio], [float(np.mean(lq))], s=120, marker="*", color="red", zorder=6,
               label="this ladder")
    for i, name in enumerate(presets):
        b = pre.get(name)
        if b is not None and np.isfinite(b["quality"]).all():
            ax.scatter([b["ratio"]], [float(np.mean(b["quality"]))], color=cmap(i), marker="s",
                       label=f"all shots {name}")
    written["plots/quality_vs_complexity.png"] = _finish(
        fig, ax, plot_dir / "quality_vs_complexity.png", xlabel="encode complexity (CPU / slowest-preset anchor)",
        ylabel=f"mean rung {metric}", title="quality vs complexity")
    return written
