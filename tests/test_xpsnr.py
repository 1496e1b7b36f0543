"""XPSNR-Y: an opt-in fourth metric (ffmpeg's xpsnr filter), scored beside VMAF, PSNR and SSIM."""
from __future__ import annotations

import math
import re
from fractions import Fraction
from pathlib import Path

import pandas as pd
import pytest
from conftest import cut

from pershot import api, ffmpeg, metrics
from pershot.errors import ConfigError, OptimizeError
from pershot.grid import load_grid
from pershot.ladder import LadderSpec, prepare

GRID = {"name": "xp", "heights": [144, 90], "crf": [22, 30, 38, 46], "metrics": {"n_subsample": 3},
        "encoders": {"x264": {"presets": ["ultrafast", "medium"]}}}


def test_parse_and_pool():
    text = ("n:    1  XPSNR y: 38.7030  XPSNR u: 41.6459  XPSNR v: 41.5570\n"
            "n:    2  XPSNR y: inf  XPSNR u: inf  XPSNR v: inf\n"
            "\nXPSNR average, 2 frames  y: 44.7236  u: 47.6665  v: 47.5776  (minimum: 44.7236)\n")
    assert metrics.parse_xpsnr(text) == [38.703, math.inf]
    # pooled as the filter pools: the mean of the frames' root weighted squared errors
    assert metrics.xpsnr_pool([30.0, 30.0]) == pytest.approx(30.0)
    assert metrics.xpsnr_pool([20.0, math.inf]) == pytest.approx(-20 * math.log10(0.05))
    assert metrics.xpsnr_pool([20.0, 40.0]) < (20.0 + 40.0) / 2  # a bad frame weighs more than in a dB mean
    s = metrics.pool([0, 1], [90.0, 80.0], [40.0, 30.0], [0.9, 0.8], xpsnr_y=[38.703, math.inf])
    assert s.xpsnr_y_frames == (38.703, 60.0)  # capped as PSNR is
    assert s.pooled()["xpsnr_y"] == pytest.approx(metrics.xpsnr_pool([38.703, 60.0]))
    plain = metrics.pool([0], [90.0], [40.0], [0.9])
    assert "xpsnr_y" not in plain.pooled() and "xpsnr_y" not in plain.per_frame() and math.isnan(plain.xpsnr_y)
    with pytest.raises(Exception, match="XPSNR"):
        metrics.parse_xpsnr("n: 1  XPSNR y: oops\n")


def test_probe_keys_without_xpsnr_are_unchanged():
    """Probes cached before XPSNR existed are still found; asking for XPSNR gives keys of their own."""
    plain = metrics.MetricParams().for_display(1920, 1080)
    assert plain.key() == {"vmaf_model": "vmaf_v0.6.1", "n_subsample": 1, "scale_flags": "bicubic",
                           "metric_impl": "libvmaf+psnr+float_ssim/v1"}
    assert metrics.MetricParams(xpsnr=True).for_display(1920, 1080).key() != plain.key()
    with pytest.raises(ConfigError):
        metrics.MetricParams(xpsnr="yes")  # type: ignore[arg-type]


def test_scores_match_ffmpegs_own_summary_and_weigh_by_the_source(media_dir: Path, tmp_path: Path):
    ref = tmp_path / "ref.y4m"
    ffmpeg.run(["-y", "-v", "error", "-i", str(cut(media_dir / "testvideo.mp4", tmp_path / "c.mp4", start_frame=300,
                                                   frames=20, height=180)), "-pix_fmt", "yuv420p", str(ref)],
               what="decoding failed")
    dist = tmp_path / "d.h264"
    ffmpeg.run(["-y", "-v", "error", "-i", str(ref), "-vf", "scale=160:90", "-c:v", "libx264", "-crf", "36",
                "-f", "h264", str(dist)], what="encoding failed")
    fps = Fraction(30000, 1001)
    with_x = metrics.score(dist, "h264", ref, (320, 180), fps, 20, metrics.MetricParams(xpsnr=True))
    without = metrics.score(dist, "h264", ref, (320, 180), fps, 20, metrics.MetricParams())
    assert (with_x.vmaf, with_x.psnr_y, with_x.ssim) == (without.vmaf, without.psnr_y, without.ssim)
    assert len(with_x.xpsnr_y_frames) == 20 and math.isnan(without.xpsnr_y)
    # ffmpeg's summary line, the source as the first input (its activity weights the errors)
    up = tmp_path / "up.y4m"
    ffmpeg.run(["-y", "-v", "error", "-i", str(dist), "-vf", "scale=320:180:flags=bicubic", "-pix_fmt", "yuv420p",
                str(up)], what="scaling failed")

    def summary(first: Path, second: Path) -> float:
        res = ffmpeg.run(["-v", "info", "-r", "30000/1001", "-i", str(first), "-r", "30000/1001", "-i", str(second),
                          "-lavfi", "[0:v][1:v]xpsnr", "-f", "null", "-"], what="xpsnr failed")
        return float(re.search(r"XPSNR\s+y:\s*([0-9.]+)", res.stderr).group(1))

    assert with_x.xpsnr_y == pytest.approx(summary(ref, up), abs=2e-3)
    assert abs(summary(up, ref) - with_x.xpsnr_y) > 0.05  # the order matters: source first
    assert with_x.xpsnr_y < with_x.psnr_y  # errors in flat areas weigh more


def test_a_ladder_on_xpsnr(media_dir: Path, tmp_path: Path):
    src = cut(media_dir / "testvideo.mp4", tmp_path / "a.mp4", start_frame=240, frames=40, height=144)
    out = tmp_path / "out"
    lad = api.ladder(src, grid=GRID, metric="xpsnr", complexity=1.0, rungs=3, out_dir=out, jobs=1, plots=False)
    probes = pd.read_csv(out / "probes.csv")
    assert probes["xpsnr_y"].notna().all() and (probes["xpsnr_y"] < probes["psnr_y"] + 5).all()
    q = [r.quality for r in lad.rungs]
    assert q == sorted(q) and len(set(q)) == len(q) and q == [r.metrics["xpsnr_y"] for r in lad.rungs]
    summary = pd.read_csv(out / "summary.csv")
    assert "xpsnr_y" in summary.columns and "xpsnr_y" in pd.read_csv(out / "ladder.csv").columns
    # the same probes optimized on VMAF: found in the cache, and still reporting XPSNR
    again = api.ladder(src, grid=dict(GRID, metrics={"n_subsample": 3, "xpsnr": True}), complexity=1.0, rungs=3,
                       jobs=1)
    assert again.prepared.table["cached"].all()
    # probes without XPSNR: optimizing on it says how to get it
    plain = probes.drop(columns=["xpsnr_y"])
    with pytest.raises(OptimizeError, match="--xpsnr"):
        prepare(plain, "xpsnr")
    with pytest.raises(OptimizeError, match="--xpsnr"):
        prepare(probes.assign(xpsnr_y=float("nan")), "xpsnr")


def test_grid_and_ladder_files_take_xpsnr():
    assert load_grid(dict(GRID, metrics={"xpsnr": True})).metric.xpsnr
    assert not load_grid(GRID).metric.xpsnr and load_grid(GRID).with_xpsnr().metric.xpsnr
    with pytest.raises(ConfigError, match="xpsnr"):
        load_grid(dict(GRID, metrics={"xpsnr": "yes"}))
    spec = LadderSpec.coerce({"rung": [{"xpsnr": 32}, {"xpsnr": 36}], "min_xpsnr": 30})
    assert [r.metric for r in spec.rungs] == ["xpsnr", "xpsnr"] and spec.floor("xpsnr") == 30
