"""Ladder TOML files: the bundled ones parse, bad ones fail clearly."""
from __future__ import annotations

from pathlib import Path

import pytest

from pershot import api
from pershot.errors import ConfigError
from pershot.ladder import LadderSpec, RungSpec, parse_ladder_toml

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("name", ["default", "streaming", "hls"])
def test_bundled_ladders_load(name):
    spec = api.load_ladder(name)
    assert spec.name == name
    assert spec.rungs or spec.count
    assert api.load_ladder(REPO / "presets" / "ladders" / f"{name}.toml") == spec


def test_default_is_used_when_nothing_is_given():
    assert api.load_ladder(None) == api.load_ladder("default")


def test_full_format():
    spec = parse_ladder_toml('''
        name = "mine"
        min_step = 1.5
        max_step = 2.5
        [[rung]]
        kbps = 400
        max_height = 360
        [[rung]]
        kbps = 800
        [[rung]]
        name = "top"
        vmaf = 95
    ''')
    assert spec.rungs[0] == RungSpec(kbps=400.0, max_height=360)
    assert spec.rungs[2].quality == 95.0 and spec.rungs[2].metric == "vmaf" and spec.rungs[2].label() == "top"


def test_coerce():
    assert LadderSpec.coerce(5).count == 5
    assert [r.kbps for r in LadderSpec.coerce([300, 600]).rungs] == [300.0, 600.0]
    assert LadderSpec.coerce({"rung": [{"psnr": 40}]}).rungs[0].metric == "psnr"
    with pytest.raises(ConfigError):
        LadderSpec.coerce(True)


@pytest.mark.parametrize("text,match", [
    ("", "empty"),
    ("name = 'x'\n[[rung]]\nkbps = 100\n[[rung]]\nkbps = 100", "duplicate bitrate"),
    ("min_step = 2.0\n[[rung]]\nkbps = 100\n[[rung]]\nkbps = 150", "contradictory"),
    ("max_step = 1.5\n[[rung]]\nkbps = 100\n[[rung]]\nkbps = 400", "contradictory"),
    ("min_step = 2.0\nmax_step = 1.5\ncount = 3", "min_step 2 > max_step 1.5"),
    ("min_step = 0.5\ncount = 3", "min_step"),
    ("count = 3\n[[rung]]\nkbps = 100", "not both"),
    ("count = 0", "positive integer"),
    ("[[rung]]\nkbps = -5", "kbps must be > 0"),
    ("[[rung]]\nkbps = 100\nvmaf = 90", "exactly one target"),
    ("[[rung]]\nmax_height = 360", "exactly one target"),
    ("[[rung]]\nkbps = 100\nmaxheight = 360", "unknown key"),
    ("bitrates = [1, 2]", "unknown key"),
    ("[[rung]]\nvmaf = 90\n[[rung]]\npsnr = 40", "mix metrics"),
    ("[[rung]]\nkbps = 'fast'", "must be a number"),
    ("[[rung]]\nkbps = 100\nmax_height = 720\n[[rung]]\nkbps = 200\nmax_height = 360", "lower max_height"),
    ("[[rung]\nkbps = 1", "not valid TOML"),
])
def test_bad_ladders(text, match):
    with pytest.raises(ConfigError, match=match):
        parse_ladder_toml(text, "bad")


def test_missing_ladder_file():
    with pytest.raises(ConfigError, match="no such file or bundled ladder"):
        api.load_ladder("no-such-ladder")
    with pytest.raises(ConfigError, match="no such file"):
        api.load_ladder("/nonexistent/ladder.toml")


def test_a_rung_with_a_smaller_picture_than_the_one_below_is_flagged():
    """With two CRFs per size the best one-resolution ladder can step down in size between rungs
    (180p, 270p, 180p, 270p): the ladder says so; a ladder whose sizes rise says nothing."""
    import pandas as pd

    from pershot.ladder import optimize_ladder

    pts = [(320, 180, 34, 15.0, 50.0), (320, 180, 24, 42.0, 80.0), (480, 270, 34, 24.0, 65.0),
           (480, 270, 24, 57.0, 90.0)]
    df = pd.DataFrame([{"shot": 0, "start_frame": 0, "end_frame": 60, "duration_s": 2.0, "encoder": "x264",
                        "preset": "medium", "preset_rank": 0, "width": w, "height": h, "crf": c,
                        "bitrate_kbps": r, "vmaf": q, "encode_cpu_s": 1.0} for w, h, c, r, q in pts])
    lad = optimize_ladder(df, [15.5, 25, 43, 57], 1.0)
    assert [r.height for r in lad.rungs] == [180, 270, 180, 270]
    flagged = [w for w in lad.warnings if "smaller picture" in w]
    assert len(flagged) == 1 and flagged[0].startswith("rung 2 (320x180)")
    rising = optimize_ladder(df[df["crf"] == 34], [15.5, 24], 1.0)
    assert [r.height for r in rising.rungs] == [180, 270] and not any("smaller picture" in w for w in rising.warnings)
