"""The probe cache: keys, atomic entries, no re-encoding, resuming after an interruption."""
from __future__ import annotations

import json
import os
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import core_clips
from pershot import ffmpeg
from pershot.api import run_probes
from pershot.cache import SCHEMA_VERSION, ProbeCache, make_key, open_cache
from pershot.executors import SerialExecutor

REPO = Path(__file__).resolve().parent.parent
GRID = {"heights": [90], "crf": [26, 36], "encoders": {"x264": {"presets": ["ultrafast", "faster"]}}}


def test_keys() -> None:
    base = {"source": "abc", "start_frame": 0, "end_frame": 10, "encode": {"preset": "fast", "value": 23.0}}
    k = make_key(base)
    assert len(k) == 64 and k == make_key(dict(reversed(list(base.items()))))  # order-independent
    assert k != make_key({**base, "end_frame": 11})
    assert k != make_key({**base, "encode": {"preset": "fast", "value": 24.0}})


def test_probe_keys_follow_the_encoders_argument_revision() -> None:
    """SVT-AV1 (argument revision 1) keeps the keys made before revisions existed; x265 (revision 2:
    info=0) and x264 (revision 2: settings SEI dropped) get new ones, so entries cached with the old
    arguments are measured again."""
    from fractions import Fraction

    from pershot import encoders
    from pershot.media import SourceInfo
    from pershot.metrics import MetricParams
    from pershot.probe import PIPELINE_VERSION, probe_key
    from pershot.shots import Shot

    info = SourceInfo(path="/v.mp4", width=320, height=180, display_width=320, display_height=180,
                      display_aspect=Fraction(16, 9), rotation=0, fps=Fraction(24), frame_count=48, duration_s=2.0,
                      pix_fmt="yuv420p", bit_depth=8, is_vfr=False, codec="h264", content_hash="abc")
    shot = Shot(0, 0, 48, 0.0, 2.0)
    for enc, rev in (("svtav1", None), ("x264", 2), ("x265", 2)):
        preset = "8" if enc == "svtav1" else "medium"
        p = encoders.EncodeParams(enc, preset, "crf", 30, 320, 180, Fraction(24), 48)
        doc = {"pipeline": PIPELINE_VERSION, "source": "abc", "start_frame": 0, "end_frame": 48, "ffmpeg": "ff",
               "encoder": enc, "encoder_version": "v",
               "encode": {"preset": preset, "rc_mode": "crf", "value": 30.0, "width": 320, "height": 180,
                          "fps": "24/1", "threads": 1, "gop": 48, "extra": []},
               # the metric part as written before the VMAF model could be "auto": keys stay the same
               "metric": {"vmaf_model": "vmaf_v0.6.1", "n_subsample": 1, "scale_flags": "bicubic",
                          "metric_impl": "libvmaf+psnr+float_ssim/v1"},
               "reference": {"width": 320, "height": 180, "rotation": 0}}
        legacy = make_key(doc)
        got = probe_key(info, shot, p, MetricParams(), "v", "ff")
        if rev is None:
            assert got == legacy
        else:
            assert got != legacy and got == make_key({**doc, "args_revision": rev})


def test_entries_atomic_and_robust(tmp_path: Path) -> None:
    c = ProbeCache(tmp_path / "c")
    k = make_key({"x": 1})
    assert c.get(k) is None and k not in c
    p = c.put(k, {"result": {"vmaf": 90.5}})
    assert c.get(k)["result"] == {"vmaf": 90.5} and c.get(k)["schema"] == SCHEMA_VERSION
    assert [q.name for q in p.parent.iterdir()] == [p.name]  # no temp file left beside it
    assert c.keys() == [k] and len(c) == 1
    p.write_text('{"schema": 1, "key": "')  # a torn or corrupt entry is a miss, not a crash
    assert c.get(k) is None
    p.write_text(json.dumps({"schema": SCHEMA_VERSION + 1, "key": k}))
    assert c.get(k) is None
    assert pickle.loads(pickle.dumps(c)).root == c.root
    assert open_cache(False) is None and open_cache(None) is None
    assert open_cache(tmp_path / "d").base == tmp_path / "d"


def test_default_dir_follows_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PERSHOT_CACHE", str(tmp_path / "env"))
    assert ProbeCache().base == tmp_path / "env"
    monkeypatch.delenv("PERSHOT_CACHE")
    assert "pershot" in str(ProbeCache().base)


@pytest.fixture(scope="module")
def clip(media_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return core_clips.counter_small(media_dir, tmp_path_factory.mktemp("cache"))


class _Counter:
    """Wraps ffmpeg.run and counts encoder runs (an argument list with ``-c:v``)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch):
        self.encodes = 0
        self.calls = 0
        real = ffmpeg.run

        def run(args, **kw):
            self.calls += 1
            if "-c:v" in [str(a) for a in args]:
                self.encodes += 1
            return real(args, **kw)

        monkeypatch.setattr(ffmpeg, "run", run)


def test_second_run_runs_no_encoder(clip: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = ProbeCache(tmp_path / "cache")
    from pershot import encoders

    for n in encoders.names():  # encoder versions are probed once per process, before counting
        encoders.version(n)
    count = _Counter(monkeypatch)
    first = run_probes(clip, GRID, executor=SerialExecutor(), cache=cache).probes
    n = 3 * 2 * 2  # 3 shots x 2 presets x 2 CRFs
    assert len(first) == n and count.encodes == n and not first.cached.any()
    assert len(cache) == n
    count.encodes = count.calls = 0
    second = run_probes(clip, GRID, executor=SerialExecutor(), cache=cache).probes
    assert count.encodes == 0 and count.calls == 0  # no encode, no decode, no metric
    assert second.cached.all()
    cols = ["size_bytes", "vmaf", "psnr_y", "ssim", "encode_cpu_s", "decode_cpu_s"]
    assert second[cols].equals(first[cols])
    # per-frame scores are kept in the entry
    entry = cache.get(second.key[0])
    assert len(entry["per_frame"]["vmaf"]) == second.frames[0] and len(entry["per_frame"]["psnr_y"]) == second.frames[0]
    # another grid parameter is another probe
    g2 = {**GRID, "crf": [26, 30]}
    count.encodes = 0
    third = run_probes(clip, g2, executor=SerialExecutor(), cache=cache).probes
    assert count.encodes == 3 * 2 and third.cached.sum() == 3 * 2


def test_interrupted_run_resumes(clip: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = ProbeCache(tmp_path / "cache")
    out = tmp_path / "out"
    calls = []

    def stop_after_first_job(done: int, total: int) -> None:
        calls.append(done)
        if done > 0:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_probes(clip, GRID, out, executor=SerialExecutor(), cache=cache, progress=stop_after_first_job)
    finished = len(cache)
    assert finished == 4  # the first (shot, resolution) job: 2 presets x 2 CRFs, all cached
    assert not (out / "probes.csv").exists()  # nothing half-written
    count = _Counter(monkeypatch)
    df = run_probes(clip, GRID, out, executor=SerialExecutor(), cache=cache).probes
    assert count.encodes == 12 - finished
    assert int(df.cached.sum()) == finished and (out / "probes.csv").exists()


def test_ctrl_c_in_the_cli_keeps_finished_probes(clip: Path, tmp_path: Path) -> None:
    """A real SIGINT to `pershot probe -j 2`: exit 130, no probes.csv, finished probes cached, resume."""
    grid = tmp_path / "g.toml"
    grid.write_text('heights = [90]\ncrf = [20, 26, 32, 38, 44]\n[encoders.x264]\npresets = ["ultrafast", "veryslow"]\n')
    cache, out = tmp_path / "cache", tmp_path / "out"
    cmd = [sys.executable, "-m", "pershot.cli", "probe", str(clip), "--grid", str(grid), "-o", str(out),
           "--cache", str(cache), "-j", "2", "-q"]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=tmp_path,
                            start_new_session=True)
    entries = cache / f"probes-v{SCHEMA_VERSION}"
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        # a finished entry: pathlib's "*" also matches the dot-named temporary file of one being written
        if entries.is_dir() and any(not p.name.startswith(".") for p in entries.glob("*/*.json")):
            break
        time.sleep(0.05)
    assert proc.poll() is None, proc.communicate()
    os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does: the whole process group
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "interrupted" in err.decode()
    assert not (out / "probes.csv").exists()
    kept = len(ProbeCache(cache))
    assert kept >= 1
    assert not list(out.glob(".*tmp*")) and not list(entries.glob("*/.*tmp*"))  # no temp files left
    res = subprocess.run(cmd[:-1], capture_output=True, env=env, cwd=tmp_path, timeout=300)
    assert res.returncode == 0, res.stderr
    assert f"({kept} from cache)" in res.stderr.decode()
    import pandas as pd

    df = pd.read_csv(out / "probes.csv")
    assert len(df) == 3 * 2 * 5 and int(df.cached.sum()) == kept


def test_deferred_signals_hold_ctrl_c_until_the_block_ends() -> None:
    from pershot.atomic import deferred_signals

    done = []
    with pytest.raises(KeyboardInterrupt):
        with deferred_signals():
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.05)  # the handler would have run here
            done.append(True)
    assert done == [True]


def test_second_ctrl_c_during_cleanup_leaves_no_temp_file(tmp_path: Path, monkeypatch) -> None:
    """Ctrl-C reached a pool worker twice (SIGINT from the terminal, then the parent's SIGTERM):
    the second interrupt cut the first one's cleanup short and a cache entry's temporary file
    stayed behind (seen in test_ctrl_c_in_the_cli_keeps_finished_probes)."""
    import pathlib

    from pershot.atomic import write_text

    unlink = pathlib.Path.unlink

    def interrupted_unlink(self, *a, **kw):  # noqa: ANN001, ANN002, ANN003
        os.kill(os.getpid(), signal.SIGINT)  # the second signal, as the cleanup starts
        time.sleep(0.05)
        return unlink(self, *a, **kw)

    def fsync_interrupted(fd):  # noqa: ANN001
        monkeypatch.setattr(pathlib.Path, "unlink", interrupted_unlink)
        raise KeyboardInterrupt  # the first signal, mid-write

    monkeypatch.setattr(os, "fsync", fsync_interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_text(tmp_path / "entry.json", "{}")
    assert list(tmp_path.iterdir()) == []


def test_atomic_dir_replaces_whole_or_not_at_all(tmp_path: Path) -> None:
    from pershot.atomic import atomic_dir

    dest = tmp_path / "pkg"
    dest.mkdir()
    (dest / "old.txt").write_text("old")
    (tmp_path / "pkg.part").mkdir()  # left by an earlier run
    (tmp_path / "pkg.part" / "stale").write_text("x")
    with pytest.raises(RuntimeError):
        with atomic_dir(dest) as d:
            assert d == tmp_path / "pkg.part" and not list(d.iterdir())  # cleared first
            (d / "half.txt").write_text("half")
            raise RuntimeError("packaging failed")
    assert [p.name for p in dest.iterdir()] == ["old.txt"] and not (tmp_path / "pkg.part").exists()
    with atomic_dir(dest) as d:
        (d / "new.txt").write_text("new")
    assert [p.name for p in dest.iterdir()] == ["new.txt"] and not (tmp_path / "pkg.part").exists()
