"""A tiny real probe run end to end: 2 shots x 2 CRFs x 2 presets at 240p."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import core_clips
import pershot
from pershot.probe import PROBE_COLUMNS
from pershot.executors import LocalExecutor

CONTRACT = ["shot", "start_frame", "end_frame", "frames", "duration_s", "encoder", "preset", "width", "height",
            "rc_mode", "crf", "size_bytes", "bitrate_kbps", "vmaf", "vmaf_hmean", "vmaf_p5", "psnr_y", "ssim",
            "encode_cpu_s", "encode_wall_s", "decode_cpu_s", "metric_cpu_s", "preset_rank"]

GRID = {"heights": [1080, 240], "crf": [22, 38], "encoders": {"x264": {"presets": ["veryslow", "ultrafast"]}}}


@pytest.fixture(scope="module")
def run(media_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    d = tmp_path_factory.mktemp("probe")
    src = core_clips.two_shots(media_dir, d, height=240)
    with LocalExecutor(2) as ex:  # a real process pool
        return pershot.run_probes(src, GRID, d / "out", executor=ex, cache=False), d


def test_rows_and_columns(run) -> None:
    r, d = run
    df = r.probes
    assert [(s.start_frame, s.end_frame) for s in r.shots] == [(0, 30), (30, 60)]
    assert all(c in df.columns for c in CONTRACT)
    assert list(df.columns) == list(PROBE_COLUMNS)
    assert len(df) == 2 * 2 * 2  # 1080 is above the 240p source: dropped
    assert set(df.height) == {240} and set(df.width) == {426}
    assert not df.duplicated(["shot", "encoder", "preset", "width", "height", "crf"]).any()
    assert df.preset_rank[df.preset == "ultrafast"].eq(0).all() and df.preset_rank[df.preset == "veryslow"].eq(1).all()
    assert (df.rc_mode == "crf").all() and (df.frames == 30).all() and (df.frames_scored == 30).all()
    assert df.duration_s.tolist() == pytest.approx([30 * 1001 / 30000] * 8)
    assert df.bitrate_kbps.tolist() == pytest.approx((df.size_bytes * 8 / df.duration_s / 1000).tolist())
    assert (df.decode_cpu_s > 0).all() and (df.metric_cpu_s > 0).all() and (df.encode_wall_s > 0).all()
    # the encoder's own time: the process's less the overhead measured once per (shot, resolution)
    assert (df.encode_cpu_s > 0).all() and (df.encode_overhead_cpu_s > 0).all()
    assert (df.groupby("shot").encode_overhead_cpu_s.nunique() == 1).all()
    assert not df.cached.any()
    # written atomically, and probes.csv reads back identically
    out = d / "out"
    assert sorted(p.name for p in out.iterdir()) == ["probes.csv", "shots.csv"]
    back = pd.read_csv(out / "probes.csv")
    assert list(back.columns) == list(df.columns) and len(back) == 8
    assert back.size_bytes.tolist() == df.size_bytes.tolist()


def test_rate_distortion_complexity_properties(run) -> None:
    df = run[0].probes
    for (shot, preset), g in df.groupby(["shot", "preset"]):
        lo, hi = g[g.crf == 22].iloc[0], g[g.crf == 38].iloc[0]
        assert hi.size_bytes < lo.size_bytes, (shot, preset)  # higher CRF: smaller file...
        assert hi.vmaf < lo.vmaf and hi.psnr_y < lo.psnr_y and hi.ssim < lo.ssim  # ...and lower quality
    for (shot, crf), g in df.groupby(["shot", "crf"]):
        fast, slow = g[g.preset == "ultrafast"].iloc[0], g[g.preset == "veryslow"].iloc[0]
        assert slow.encode_cpu_s > fast.encode_cpu_s, (shot, crf)  # the slower preset costs more CPU
        assert slow.decode_cpu_s == fast.decode_cpu_s  # one decode per (shot, resolution), shared


def test_same_results_in_process(run, media_dir: Path) -> None:
    """The pool and a serial run give the same bitstreams (single-threaded x264 is deterministic)."""
    from pershot.executors import SerialExecutor

    r, d = run
    src = d / "two_shots240.mp4"
    df = pershot.probe(src, GRID, shots=r.shots, executor=SerialExecutor(), cache=False)
    a = r.probes.sort_values(["shot", "preset", "crf"]).size_bytes.tolist()
    b = df.sort_values(["shot", "preset", "crf"]).size_bytes.tolist()
    assert a == b
    assert df.vmaf.tolist() == pytest.approx(r.probes.vmaf.tolist(), abs=1e-6)


def test_shots_argument_and_frame_ranges(run) -> None:
    r, d = run
    one = [r.shots[1]]
    df = pershot.probe(d / "two_shots240.mp4", "test", shots=one, cache=False, jobs=1)
    assert set(df.shot) == {1} and set(df.start_frame) == {30}
    assert len(df) == pershot.load_grid("test").size()


def test_dask_executor_runs_real_probes(run, tmp_path: Path) -> None:
    """The same probes through Dask (an in-process cluster); results are cached as with the pool."""
    distributed = pytest.importorskip("distributed")
    from pershot.cache import ProbeCache
    from pershot.executors import DaskExecutor

    r, d = run
    cluster = distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None)
    client = distributed.Client(cluster)
    try:
        cache = ProbeCache(tmp_path / "c")
        df = pershot.probe(d / "two_shots240.mp4", GRID, shots=r.shots, executor=DaskExecutor(client=client),
                           cache=cache)
    finally:
        client.close()
        cluster.close()
    assert len(cache) == len(df) == 8
    key = ["shot", "preset", "crf"]
    assert df.sort_values(key).size_bytes.tolist() == r.probes.sort_values(key).size_bytes.tolist()


def test_grid_variant_probed_as_its_own_configuration(media_dir: Path, tmp_path: Path) -> None:
    src = core_clips.two_shots(media_dir, tmp_path, height=144)
    grid = {"heights": [144], "crf": [30], "encoders": {"x264": {
        "presets": ["ultrafast"], "params": {"aq-strength": 0.8},
        "variants": {"ultrafast+cabac": {"preset": "ultrafast", "params": {"cabac": 1, "deblock": 1}}}}}}
    first = pershot.run_probes(src, grid, cache=tmp_path / "cache", jobs=1).probes
    again = pershot.run_probes(src, grid, cache=tmp_path / "cache", jobs=1).probes
    for df in (first, again):
        assert df.preset.tolist() == ["ultrafast", "ultrafast+cabac"] * 2
        assert (df.encoder_preset == "ultrafast").all() and (df.preset_rank == 0).all()
        assert df.params.tolist() == ["aq-strength=0.8", "aq-strength=0.8:cabac=1:deblock=1"] * 2
    assert first.key.nunique() == 4 and not first.cached.any() and again.cached.all()
    for _, g in first.groupby("shot"):  # the options reached the encoder: CABAC codes the same frames smaller
        plain, cabac = g.iloc[0], g.iloc[1]
        assert cabac.size_bytes < plain.size_bytes
