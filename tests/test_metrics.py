"""Metrics: pooling (pure) and real scores checked against ffmpeg's own filters."""
from __future__ import annotations

import json
import math
import re
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

import core_clips
from pershot import encoders, ffmpeg, media, metrics
from pershot.errors import ConfigError, FFmpegError


def test_pooling() -> None:
    v = [90.0, 80.0, 0.0, 70.0]
    s = metrics.pool([0, 1, 2, 3], v, [40.0, math.inf, 30.0, 35.0], [0.9, 1.0, 0.8, 0.85])
    assert s.vmaf == pytest.approx(60.0)
    assert s.vmaf_hmean == pytest.approx(4 / sum(1 / (1 + x) for x in v) - 1)
    assert s.vmaf_hmean < s.vmaf  # the harmonic mean punishes the bad frame
    assert s.vmaf_p5 == pytest.approx(float(np.percentile(v, 5)))
    assert s.vmaf_min == 0.0
    assert s.psnr_y == pytest.approx((40 + 60 + 30 + 35) / 4)  # identical frame capped at 60 dB
    assert s.ssim == pytest.approx(0.8875)
    assert metrics.percentile([5.0], 5) == 5.0
    assert metrics.harmonic_mean([0.0, 0.0]) == pytest.approx(0.0)
    assert math.isnan(metrics.harmonic_mean([]))


def test_metric_params_validation() -> None:
    with pytest.raises(ConfigError):
        metrics.MetricParams(n_subsample=0)
    with pytest.raises(ConfigError):
        metrics.MetricParams(scale_flags="magic")
    with pytest.raises(ConfigError):
        metrics.MetricParams(vmaf_model="x:y")
    assert metrics.MetricParams("vmaf_v0.6.1").key() != metrics.MetricParams("vmaf_v0.6.1", n_subsample=2).key()


def test_parsers() -> None:
    doc = {"frames": [{"frameNum": 0, "metrics": {"vmaf": 91.5}}, {"frameNum": 2, "metrics": {"vmaf": 88.0}}]}
    assert metrics.parse_vmaf_json(json.dumps(doc)) == ([0, 2], [91.5, 88.0])
    with pytest.raises(FFmpegError):
        metrics.parse_vmaf_json("{}")
    txt = "n:1 mse_avg:0.00 mse_y:0.00 psnr_avg:inf psnr_y:inf psnr_u:inf\nn:2 mse_y:1.2 psnr_y:47.33 psnr_u:50\n"
    assert metrics.parse_stats(txt, "psnr_y") == [math.inf, 47.33]
    assert metrics.parse_stats("n:1 Y:0.991 U:0.99 V:0.98 All:0.99 (20.1)\n", "Y") == [0.991]


@pytest.fixture(scope="module")
def pair(media_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    """A 30-frame 320x180 reference shot and a 192x108 x264 encode of it (needs upscaling to score)."""
    d = tmp_path_factory.mktemp("metrics pair 'x'")  # spaces and quotes in every log path
    src = core_clips.two_shots(media_dir, d, height=180)
    info = media.probe_source(src)
    ex = media.extract_shot(info, 30, 60, d, [(192, 108)])
    out = d / "enc.264"
    p = encoders.EncodeParams("x264", "veryfast", "crf", 32, 192, 108, info.fps, 30)
    ffmpeg.run(encoders.encode_args(encoders.get("x264"), p, ex.scaled[(192, 108)], out))
    return info, ex, out, d


def test_scores_match_ffmpeg_filters(pair) -> None:
    """pershot's VMAF and PSNR-Y equal ffmpeg's own libvmaf and psnr filters on the same pair (within 0.5)."""
    info, ex, enc, d = pair
    s = metrics.score(enc, "h264", ex.reference, (info.display_width, info.display_height), info.fps, 30,
                      work_dir=d)
    assert s.frames_scored == 30 and len(s.psnr_y_frames) == 30 and len(s.ssim_frames) == 30
    assert 20 < s.vmaf < 100 and 25 < s.psnr_y < 50 and 0.5 < s.ssim < 1
    assert s.vmaf_p5 <= s.vmaf and s.vmaf_hmean <= s.vmaf + 1e-9 and s.cpu_s > 0

    # ffmpeg alone, written independently: decode, bicubic upscale, then libvmaf defaults / psnr
    vmaf_log = d / "direct.json"
    ref_in = ["-i", str(ex.reference)]
    up = f"[0:v]scale={info.display_width}:{info.display_height}:flags=bicubic[a];"
    ffmpeg.run(["-v", "error", "-i", str(enc), *ref_in, "-lavfi",
                up + f"[a][1:v]libvmaf=log_fmt=json:log_path={metrics_escape(vmaf_log)}", "-f", "null", "-"])
    direct_vmaf = json.loads(vmaf_log.read_text())["pooled_metrics"]["vmaf"]["mean"]
    r = ffmpeg.run(["-v", "info", "-i", str(enc), *ref_in, "-lavfi", up + "[a][1:v]psnr", "-f", "null", "-"])
    direct_psnr_y = float(re.search(r"PSNR y:([0-9.]+)", r.stderr).group(1))
    r = ffmpeg.run(["-v", "info", "-i", str(enc), *ref_in, "-lavfi", up + "[a][1:v]ssim", "-f", "null", "-"])
    direct_ssim_y = float(re.search(r"SSIM Y:([0-9.]+)", r.stderr).group(1))
    assert s.vmaf == pytest.approx(direct_vmaf, abs=0.5)
    assert s.psnr_y == pytest.approx(direct_psnr_y, abs=0.5)
    assert s.ssim == pytest.approx(direct_ssim_y, abs=0.005)


def metrics_escape(p: Path) -> str:
    from pershot.media import _escape_filter_value

    return _escape_filter_value(str(p))


def test_identical_frames_and_subsampling(pair) -> None:
    info, ex, enc, d = pair
    size = (info.display_width, info.display_height)
    same = metrics.score(ex.reference, "yuv4mpegpipe", ex.reference, size, info.fps, 30, work_dir=d)
    assert same.psnr_y == 60.0 and same.ssim == pytest.approx(1.0) and same.vmaf > 95  # finite, never inf
    sub = metrics.score(enc, "h264", ex.reference, size, info.fps, 30, metrics.MetricParams(n_subsample=4), work_dir=d)
    assert sub.frame == (0, 4, 8, 12, 16, 20, 24, 28) and sub.frames_scored == 8
    assert len(sub.psnr_y_frames) == 30  # PSNR and SSIM still cover every frame


def test_length_mismatch_is_an_error(pair) -> None:
    info, ex, enc, d = pair
    with pytest.raises(FFmpegError, match="differ in length"):
        metrics.score(enc, "h264", ex.reference, (info.display_width, info.display_height), Fraction(info.fps), 31,
                      work_dir=d)
