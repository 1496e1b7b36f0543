"""--dry-run: the probe plan and its estimated CPU time, without running it or writing anything."""
from __future__ import annotations

import dataclasses

from pathlib import Path

import pytest
from conftest import cut

from pershot import api
from pershot.estimate import ProbeEstimate, _interp, _line, describe
from pershot.shots import Shot

GRID = {"name": "est", "heights": [144, 90], "crf": [24, 40], "metrics": {"n_subsample": 1},
        "encoders": {"x264": {"presets": ["ultrafast", "veryslow"]}}}


def test_cost_lines():
    # fixed 0.2 s and 0.01 s a frame, measured at 6 and 24 frames
    assert _line(0.26, 0.44, 6, 24) == pytest.approx((0.2, 0.01))
    # timing noise made the longer run cheaper: no negative per-frame cost, the long run's average
    assert _line(0.5, 0.4, 6, 24) == (0.0, pytest.approx(0.4 / 24))
    assert _interp(30, 20, 1.0, 40, 3.0) == pytest.approx(2.0)
    assert _interp(10, 20, 1.0, 40, 3.0) == 1.0 and _interp(50, 20, 1.0, 40, 3.0) == 3.0  # held at the ends
    assert _interp(20, 20, 1.0, 20, 3.0) == 2.0


def test_describe_lines():
    est = ProbeEstimate(shots=3, probes=40, cached=10, jobs=4, encode_cpu_s=5400.0, metric_cpu_s=1800.0,
                        decode_cpu_s=60.0, calibration_cpu_s=12.0, sample="24 and 6 frames of shot 1 at 480x270",
                        by_config=((("x264", "ultrafast"), 100.0), (("x264", "veryslow"), 7000.0)))
    lines = describe(est, 2)
    assert lines[0] == "plan: 3 shots, 40 probes (10 in the cache, 30 to run in 4 jobs)"
    assert "2.0 h of CPU" in lines[1] and "about 1.0 h with 2 processes" in lines[1]
    assert lines[-1].endswith("x264 veryslow 1.9 h")
    # the sizes, named by class, and the temporary disk the largest jobs hold at once
    est = dataclasses.replace(est, sizes=((1920, 800), (1280, 534)), temp_bytes=(2_000_000_000, 1_000_000_000, 5))
    lines = describe(est, 2)
    assert lines[-2] == "sizes: 1920x800 (1080p), 1280x534 (720p)"
    assert lines[-1].startswith("temporary disk: up to 3.00 GB at once with 2 processes")


def test_estimate_then_run_then_nothing_left(media_dir: Path, tmp_path: Path):
    src = cut(media_dir / "testvideo.mp4", tmp_path / "c.mp4", start_frame=240, frames=40, height=144)
    shots = [Shot(0, 0, 16, 0.0, 16 / 29.97), Shot(1, 16, 40, 16 / 29.97, 40 / 29.97)]
    cache = tmp_path / "cache"
    est = api.estimate_probes(src, GRID, shots=shots, cache=cache)
    assert (est.shots, est.probes, est.cached, est.to_run, est.jobs) == (2, 16, 0, 16, 4)
    assert est.encode_cpu_s > 0 and est.metric_cpu_s > 0 and est.decode_cpu_s > 0
    assert est.total_cpu_s == pytest.approx(est.encode_cpu_s + est.metric_cpu_s + est.decode_cpu_s)
    costs = dict(est.by_config)
    assert set(costs) == {("x264", "ultrafast"), ("x264", "veryslow")}
    assert costs[("x264", "veryslow")] > costs[("x264", "ultrafast")]  # the slow preset is the expensive part
    # the configurations' probes: all the scoring, the encodes less each job's start-up measurement
    assert est.metric_cpu_s < sum(costs.values()) <= est.encode_cpu_s + est.metric_cpu_s
    assert "frames of shot 1" in est.sample  # the longest shot is the sample
    assert len(est.sizes) == 2 and len(est.temp_bytes) == est.jobs
    assert list(est.temp_bytes) == sorted(est.temp_bytes, reverse=True)
    assert min(est.temp_bytes) >= 16 * 256 * 144 * 3 // 2  # every job: at least its shot's reference frames
    # the calibration is not cached: the real run still has everything to do, then nothing is left
    run = api.run_probes(src, GRID, shots=shots, cache=cache, jobs=1)
    assert not run.probes["cached"].any()
    again = api.estimate_probes(src, GRID, shots=shots, cache=cache)
    assert (again.cached, again.to_run, again.jobs, again.total_cpu_s) == (16, 0, 0, 0.0)


def test_cli_dry_run_writes_nothing(media_dir: Path, tmp_path: Path, capsys):
    from pershot.cli import main

    src = cut(media_dir / "testvideo.mp4", tmp_path / "c.mp4", start_frame=240, frames=30, height=144)
    for cmd in (["probe"], ["ladder", "--complexity", "0.5"]):
        out = tmp_path / "out"
        assert main([*cmd, str(src), "--grid", "test", "--dry-run", "--no-cache", "-q", "-o", str(out)]) == 0
        text = capsys.readouterr().out
        assert text.startswith("plan: 1 shots, 4 probes (0 in the cache, 4 to run in 1 jobs)")
        assert "estimate:" in text and "by configuration: x264 ultrafast" in text
        assert not out.exists()
