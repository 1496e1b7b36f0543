"""pershot compare: ladders of one title side by side (BD-rate against the first, encode CPU)."""
from __future__ import annotations

import copy
import json
import math
from pathlib import Path

import pandas as pd
import pytest

from pershot import cli
from pershot.api import compare_ladders
from pershot.errors import InputError


def _doc(scale: float = 1.0, cpu: float = 1.0, encoder: str = "x264", model: str = "vmaf_v0.6.1",
         path: str = "/v/title.mp4") -> dict:
    """A four-rung ladder; ``scale`` multiplies every rate (same qualities), ``cpu`` every encode time."""
    rungs = []
    for i, (kbps, vmaf, psnr, ssim) in enumerate([(300, 60.0, 33.0, 0.90), (600, 75.0, 36.0, 0.94),
                                                  (1200, 86.0, 39.0, 0.965), (2400, 93.0, 42.0, 0.98)]):
        rungs.append({"rung": i, "bitrate_kbps": kbps * scale, "vmaf": vmaf, "psnr_y": psnr, "ssim": ssim,
                      "encode_cpu_s": 10.0 * (i + 1) * cpu,
                      "shots": [{"start_frame": 0, "end_frame": 48}, {"start_frame": 48, "end_frame": 120}]})
    return {"schema": "pershot.ladder", "schema_version": 2, "encoder": encoder, "vmaf_model": model, "rungs": rungs,
            "complexity": {"achieved": 0.1}, "source": {"path": path}}


def test_known_deltas():
    t = compare_ladders([_doc(), _doc(scale=0.8, cpu=2.5, encoder="x265")], names=["a", "b"])
    assert list(t["ladder"]) == ["a", "b"] and list(t["encoder"]) == ["x264", "x265"]
    ref, b = t.iloc[0], t.iloc[1]
    assert ref["bd_rate_vmaf"] == 0.0 and ref["cpu_vs_first"] == 1.0 and ref["bd_vmaf"] == 0.0
    # the same qualities at 0.8x the rate: -20% in every metric, 2.5x the CPU
    for m in ("vmaf", "psnr_y", "ssim"):
        assert b[f"bd_rate_{m}"] == pytest.approx(-20.0, abs=1e-9)
    assert math.isnan(b["bd_rate_xpsnr_y"])  # not scored
    assert b["cpu_vs_first"] == pytest.approx(2.5) and b["bd_vmaf"] > 0
    assert (b["rungs"], b["min_kbps"], b["max_kbps"], b["max_vmaf"]) == (4, 240.0, 1920.0, 93.0)
    assert b["note"] == ""
    # the other way round: +25%
    back = compare_ladders([_doc(scale=0.8), _doc()])
    assert back.iloc[1]["bd_rate_vmaf"] == pytest.approx(25.0)


def test_what_cannot_be_compared_says_why():
    other = compare_ladders([_doc(), _doc(scale=0.5, path="/v/another.mp4")]).iloc[1]
    assert math.isnan(other["bd_rate_vmaf"]) and math.isnan(other["bd_rate_psnr_y"])
    assert "another title" in other["note"]
    shots = _doc(scale=0.5)
    for r in shots["rungs"]:
        r["shots"] = [{"start_frame": 0, "end_frame": 120}]
    assert "another title" in compare_ladders([_doc(), shots]).iloc[1]["note"]
    k4 = compare_ladders([_doc(), _doc(scale=0.5, model="vmaf_4k_v0.6.1")]).iloc[1]
    assert math.isnan(k4["bd_rate_vmaf"]) and math.isnan(k4["bd_vmaf"]) and "different models" in k4["note"]
    assert k4["bd_rate_psnr_y"] == pytest.approx(-50.0)  # PSNR does not depend on the model
    one = _doc(scale=0.5)
    one["rungs"] = one["rungs"][:1]
    row = compare_ladders([_doc(), one]).iloc[1]
    assert math.isnan(row["bd_rate_vmaf"]) and "two rungs" in row["note"]
    apart = copy.deepcopy(_doc(scale=0.5))
    for r in apart["rungs"]:
        r["vmaf"] += 50  # no common quality range
    assert "do not overlap" in compare_ladders([_doc(), apart]).iloc[1]["note"]
    with pytest.raises(InputError):
        compare_ladders([_doc()])
    with pytest.raises(InputError):
        compare_ladders([_doc(), 3])


def test_cli_compare(tmp_path: Path, capsys):
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text(json.dumps(_doc()))
    b.write_text(json.dumps(_doc(scale=0.9, cpu=3.0, encoder="x265")))
    assert cli.main(["compare", str(a), str(b), "--csv", str(tmp_path / "c.csv")]) == 0
    out = capsys.readouterr().out
    assert "-10.0%" in out and "3.00" in out
    t = pd.read_csv(tmp_path / "c.csv")
    assert t["bd_rate_psnr_y"].iloc[1] == pytest.approx(-10.0)
    assert cli.main(["compare", str(a)]) == 2
    assert cli.main(["compare", str(a), str(tmp_path / "missing.json")]) != 0
    assert "missing.json" in capsys.readouterr().err


def test_a_ladder_that_does_not_name_its_video_is_compared_by_its_shots():
    """pershot optimize writes no source: such a ladder of the same shots was "another title", even beside the
    ladder its probes came from (found by a review); it is now compared, and says on what grounds."""
    anonymous = _doc(scale=0.8)
    del anonymous["source"]
    row = compare_ladders([_doc(), anonymous]).iloc[1]
    assert row["bd_rate_vmaf"] == pytest.approx(-20.0) and "compared by its shots alone" in row["note"]
    other_shots = copy.deepcopy(anonymous)
    for r in other_shots["rungs"]:
        r["shots"] = [{"start_frame": 0, "end_frame": 120}]
    assert "another title" in compare_ladders([_doc(), other_shots]).iloc[1]["note"]


def test_a_rung_left_out_of_a_curve_is_said():
    """A rung whose bitrate is null or a string, or that lacks a score, is left out of the curves, saying so."""
    for bad in (None, "600"):
        d = _doc(scale=0.8)
        d["rungs"][1]["bitrate_kbps"] = bad
        row = compare_ladders([_doc(), d]).iloc[1]
        assert -30 < row["bd_rate_vmaf"] < -10  # three rungs still make a curve
        assert "1 rung(s) without a numeric bitrate_kbps left out" in row["note"]
    d = _doc(scale=0.8)
    d["rungs"][0]["psnr_y"] = None  # a rung some shot of which had no PSNR (summary figure NaN -> null)
    row = compare_ladders([_doc(), d]).iloc[1]
    assert "1 rung(s) without psnr_y left out" in row["note"] and "vmaf" not in row["note"]
    assert compare_ladders([_doc(), _doc(scale=0.8)]).iloc[1]["note"] == ""
