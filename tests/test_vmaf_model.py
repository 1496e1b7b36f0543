"""The VMAF model: ``auto`` scores a 4K source with the 4K model and anything smaller with the HD one;
the probes record the model, the cache keys hold the model actually used, and a model this ffmpeg
lacks is a configuration error before any encode."""
from __future__ import annotations

import dataclasses
import json
from fractions import Fraction
from pathlib import Path

import pandas as pd
import pytest
from conftest import cut

from pershot import api, encoders, ffmpeg
from pershot.encoders import EncodeParams
from pershot.errors import ConfigError, OptimizeError
from pershot.grid import load_grid
from pershot.ladder import prepare
from pershot.media import SourceInfo, probe_source
from pershot.metrics import MetricParams
from pershot.probe import plan_probes, probe_key
from pershot.shots import Shot

GRID = {"name": "vm", "heights": [144], "crf": [24, 34, 44], "metrics": {"n_subsample": 5},
        "encoders": {"x264": {"presets": ["ultrafast"]}}}


@pytest.mark.parametrize("size, model", [
    ((1920, 1080), "vmaf_v0.6.1"), ((2560, 1440), "vmaf_v0.6.1"), ((640, 360), "vmaf_v0.6.1"),
    ((3840, 2160), "vmaf_4k_v0.6.1"), ((4096, 2160), "vmaf_4k_v0.6.1"),
    ((3840, 1600), "vmaf_4k_v0.6.1"),  # a scope film: 4K class by its width
    ((2160, 3840), "vmaf_4k_v0.6.1"),  # upright 4K
    ((3200, 1800), "vmaf_4k_v0.6.1"),  # a 4K picture cropped a little
])
def test_auto_picks_the_model_by_display_size(size, model):
    assert MetricParams().vmaf_model == "auto"
    assert MetricParams().for_display(*size).vmaf_model == model
    neg = MetricParams("auto-neg").for_display(*size).vmaf_model
    assert neg == model + "neg"
    # a model asked for by name is kept, whatever the size
    assert MetricParams("vmaf_v0.6.1neg").for_display(*size).vmaf_model == "vmaf_v0.6.1neg"


def _info(w: int, h: int) -> SourceInfo:
    return SourceInfo(path="/v.mp4", width=w, height=h, display_width=w, display_height=h,
                      display_aspect=Fraction(w, h), rotation=0, fps=Fraction(24), frame_count=48, duration_s=2.0,
                      pix_fmt="yuv420p", bit_depth=8, is_vfr=False, codec="h264", content_hash="abc")


def test_cache_keys_hold_the_model_used():
    shot = Shot(0, 0, 48, 0.0, 2.0)
    p = EncodeParams("x264", "medium", "crf", 30, 640, 360, Fraction(24), 48)
    hd, uhd = _info(1920, 1080), _info(3840, 2160)
    # an HD source keeps the keys probes had when the default model was named vmaf_v0.6.1
    assert probe_key(hd, shot, p, MetricParams(), "v", "f") == probe_key(hd, shot, p, MetricParams("vmaf_v0.6.1"),
                                                                         "v", "f")
    k4 = probe_key(uhd, shot, p, MetricParams(), "v", "f")
    assert k4 == probe_key(uhd, shot, p, MetricParams("vmaf_4k_v0.6.1"), "v", "f")
    assert k4 != probe_key(uhd, shot, p, MetricParams("vmaf_v0.6.1"), "v", "f")
    with pytest.raises(ValueError, match="for_display"):
        MetricParams().key()  # never "auto" in a key


def test_a_model_this_ffmpeg_lacks_is_refused_before_any_encode(media_dir: Path, tmp_path: Path):
    for m in ("vmaf_v0.6.1", "vmaf_4k_v0.6.1"):
        ffmpeg.check_vmaf_model(m)
        assert m in ffmpeg.vmaf_models()
    with pytest.raises(ConfigError, match="vmaf_v0.7.9"):
        ffmpeg.check_vmaf_model("vmaf_v0.7.9")
    src = cut(media_dir / "testvideo.mp4", tmp_path / "a.mp4", start_frame=240, frames=12, height=144)
    info = probe_source(src)
    with pytest.raises(ConfigError, match="no built-in VMAF model 'vmaf_v0.7.9'"):
        plan_probes(info, [Shot(0, 0, 12, 0.0, 0.5)], load_grid(dict(GRID, metrics={"vmaf_model": "vmaf_v0.7.9"})))
    # a 4K source (its display size as a 4K file's): every job and key is the 4K model's
    uhd = dataclasses.replace(info, display_width=3840, display_height=2160, width=3840, height=2160)
    plan = plan_probes(uhd, [Shot(0, 0, 12, 0.0, 0.5)], load_grid(GRID))
    assert plan.jobs and {j.metric.vmaf_model for j in plan.jobs} == {"vmaf_4k_v0.6.1"}
    sp = plan.jobs[0].probes[0]
    assert sp.key == probe_key(uhd, Shot(0, 0, 12, 0.0, 0.5), sp.encode, MetricParams("vmaf_4k_v0.6.1", n_subsample=5),
                               encoders.version("x264"), ffmpeg.ffmpeg_info().version)


def test_probes_and_ladder_record_the_model(media_dir: Path, tmp_path: Path):
    src = cut(media_dir / "testvideo.mp4", tmp_path / "a.mp4", start_frame=240, frames=30, height=144)
    out = tmp_path / "out"
    api.ladder(src, grid=GRID, complexity=1.0, rungs=2, out_dir=out, jobs=1, plots=False)
    probes = pd.read_csv(out / "probes.csv")
    assert (probes["vmaf_model"] == "vmaf_v0.6.1").all()
    assert json.loads((out / "ladder.json").read_text())["vmaf_model"] == "vmaf_v0.6.1"
    # the NEG model scores the same encodes apart: new keys, never more than the plain model
    neg = api.ladder(src, grid=dict(GRID, metrics={"n_subsample": 5, "vmaf_model": "auto-neg"}), complexity=1.0,
                     rungs=2, jobs=1)
    t = neg.prepared.table
    assert not t["cached"].any() and (t["vmaf_model"] == "vmaf_v0.6.1neg").all()
    both = pd.concat([probes, t[probes.columns]], ignore_index=True)
    plain = both[both["vmaf_model"] == "vmaf_v0.6.1"].set_index("key")
    assert (t.set_index("crf")["vmaf"].sort_index().to_numpy()
            <= plain.set_index("crf")["vmaf"].sort_index().to_numpy() + 1e-6).all()
    # probes of two models in one table: no ladder on VMAF (one shot's 90 is not another's), PSNR is fine
    mixed = pd.concat([probes[probes["crf"] != 44], t[t["crf"] == 44][probes.columns]], ignore_index=True)
    with pytest.raises(OptimizeError, match="VMAF models vmaf_v0.6.1 and vmaf_v0.6.1neg"):
        prepare(mixed, "vmaf")
    assert prepare(mixed, "psnr").vmaf_model == ""
    # probes.csv written before the column existed still optimize
    assert prepare(probes.drop(columns=["vmaf_model"]), "vmaf").vmaf_model == ""
