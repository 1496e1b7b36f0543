"""Rendition QC (``encode --verify``): each rung's file scored against the source, as the probes were."""
from __future__ import annotations

import copy
import dataclasses
import json
import math
from pathlib import Path

import pandas as pd
import pytest
from conftest import cut
from core_clips import interlaced_clip

from pershot import api, cli
from pershot.media import probe_source, with_crop
from pershot.verify import mismatches, run_verify, verify_jobs

GRID = {"name": "qc", "heights": [180, 90], "crf": [24, 32, 40], "metrics": {"n_subsample": 2},
        "encoders": {"x264": {"presets": ["ultrafast", "medium"]}}}


@pytest.fixture(scope="module")
def made(media_dir: Path, tmp_path_factory) -> tuple[Path, Path]:
    """A 60-frame clip with a cut at frame 20 (testvideo's cut at 180) and its 3-rung ladder."""
    d = tmp_path_factory.mktemp("qc")
    clip = cut(media_dir / "testvideo.mp4", d / "clip.mp4", start_frame=160, frames=60, height=180)
    out = d / "lad"
    api.ladder(clip, complexity=1.0, rungs=3, grid=GRID, out_dir=out, jobs=2, plots=False)
    return clip, out / "ladder.json"


def test_renditions_measure_what_the_ladder_predicted(made, tmp_path: Path):
    clip, lad = made
    doc = json.loads(lad.read_text())
    assert len({(s["start_frame"], s["end_frame"]) for r in doc["rungs"] for s in r["shots"]}) == 2
    calls = []
    rows = api.encode_renditions(lad, tmp_path / "r", verify=True, jobs=2, verify_progress=lambda *a: calls.append(a))
    csv = pd.read_csv(tmp_path / "r" / "renditions.csv")
    assert len(rows) == len(csv) == len(doc["rungs"]) and calls[-1] == (len(rows), len(rows))
    for r in rows:
        # the frames are the probes' own: PSNR-Y and SSIM agree to rounding; VMAF within its tolerance
        # (its motion feature sees across the cut now, and the probes scored every 2nd frame)
        assert r.psnr_y == pytest.approx(r.ladder_psnr_y, abs=2e-3)
        assert r.ssim == pytest.approx(r.ladder_ssim, abs=1e-4)
        assert abs(r.vmaf - r.ladder_vmaf) < 1.0 and r.worst_shot_vmaf <= r.vmaf
        assert r.vmaf_model == "vmaf_v0.6.1" and r.verify_cpu_s > 0
    assert [r.ladder_vmaf for r in rows] == pytest.approx([r["vmaf"] for r in doc["rungs"]])
    assert mismatches(rows) == []
    assert csv["vmaf"].notna().all() and (csv["vmaf_model"] == "vmaf_v0.6.1").all()
    # without --verify the columns are there, empty
    plain = api.encode_renditions(lad, tmp_path / "p", rungs=[0], jobs=1)
    assert math.isnan(plain[0].vmaf) and pd.read_csv(tmp_path / "p" / "renditions.csv")["vmaf"].isna().all()


def test_a_rendition_that_is_not_the_ladders_is_reported(made, tmp_path: Path):
    clip, lad = made
    rows = api.encode_renditions(lad, tmp_path / "r", jobs=2)
    doc = json.loads(lad.read_text())
    # rung 0's file swapped for the top rung's: more bits, another quality than rung 0's probes
    swapped = [dataclasses.replace(rows[0], path=rows[-1].path), *rows[1:]]
    (job,) = [j for j in verify_jobs(doc, probe_source(clip), swapped) if j.rung == 0]
    got = run_verify(job)
    assert got.psnr_y - got.ladder_psnr_y > 1.0
    lines = mismatches([got])
    assert len(lines) == 1 and "rung 0" in lines[0] and "not the encode the ladder measured" in lines[0]


def test_a_rung_whose_size_changes_shot_by_shot_is_scored_whole(made, tmp_path: Path):
    """An MPEG-TS rung mixing 320x180 and 160x90: one filter graph throughout, so every frame counts."""
    clip, lad = made
    doc = json.loads(lad.read_text())
    sizes = {(s["width"], s["height"]) for r in doc["rungs"] for s in r["shots"]}
    mixed = copy.deepcopy(doc)
    top = mixed["rungs"][-1]
    # take the second shot from a 90p probe-equivalent: the lowest rung's command at 90p
    low = api.optimize(pd.read_csv(lad.parent / "probes.csv").query("height == 90"), [30, 60], complexity=1.0)
    api.write_ladder(low, tmp_path / "low", plots=False, fps=probe_source(clip).fps)
    low_doc = json.loads((tmp_path / "low" / "ladder.json").read_text())
    top["shots"][1] = low_doc["rungs"][-1]["shots"][1]
    assert len({(s["width"], s["height"]) for s in top["shots"]}) == 2 and sizes
    mixed["rungs"] = [top]
    (r,) = api.encode_renditions(mixed, tmp_path / "m", source=clip, verify=True, jobs=1)
    assert r.container == "mpegts" and r.width == 0 and r.frames == 60
    # the ladder doc's own rung figures are stale now: compare with the shots' probes, weighed by duration
    d = [s["duration_s"] for s in top["shots"]]
    want = sum(s["psnr_y"] * w for s, w in zip(top["shots"], d)) / sum(d)
    assert r.psnr_y == pytest.approx(want, abs=2e-3)


def test_a_cropped_ladder_is_checked_against_the_cropped_picture(made, tmp_path: Path):
    clip, _ = made
    out = tmp_path / "crop"
    api.ladder(clip, complexity=1.0, rungs=2, grid=dict(GRID, heights=[160]), out_dir=out, jobs=2, plots=False,
               crop="288:160:16:10")
    rows = api.encode_renditions(out / "ladder.json", tmp_path / "r", verify=True, jobs=2)
    assert rows and all(r.psnr_y == pytest.approx(r.ladder_psnr_y, abs=2e-3) for r in rows)
    assert with_crop(probe_source(clip), "288:160:16:10").display_width == 288


def test_cli_verify(made, tmp_path: Path, capsys):
    clip, lad = made
    assert cli.main(["encode", str(lad), "-o", str(tmp_path / "r"), "--rungs", "1", "--verify", "-j", "1"]) == 0
    out = capsys.readouterr().out
    assert "PSNR-Y" in out and "ladder" in out
    assert cli.main(["ladder", str(clip), "--verify", "-o", str(tmp_path / "x")]) == 2  # --verify needs --encode
    assert "--verify goes with --encode" in capsys.readouterr().err


def test_an_interlaced_title_is_deinterlaced_as_its_probes_were(media_dir: Path, tmp_path: Path):
    # testvideo's cut at frame 180 falls at interlaced frame 10: each shot's frames are the whole stream's
    clip = interlaced_clip(media_dir, tmp_path / "tff.mp4", start_frame=160)
    out = tmp_path / "lad"
    api.ladder(clip, complexity=1.0, rungs=2, grid=dict(GRID, heights=[180]), out_dir=out, jobs=2, plots=False)
    doc = json.loads((out / "ladder.json").read_text())
    assert len(doc["rungs"][0]["shots"]) == 2 and doc["source"]["interlaced"]
    rows = api.encode_renditions(out / "ladder.json", tmp_path / "r", verify=True, jobs=2)
    assert all(r.psnr_y == pytest.approx(r.ladder_psnr_y, abs=2e-3) for r in rows) and mismatches(rows) == []


def test_an_interlaced_title_by_field_is_cut_probed_encoded_and_checked_in_fields(media_dir: Path, tmp_path: Path,
                                                                                   capsys):
    from fractions import Fraction

    import av

    # 60 frames of testvideo woven into 30 interlaced ones: its cut at frame 180 is at field 20
    clip = interlaced_clip(media_dir, tmp_path / "tff.mp4", start_frame=160)
    assert cli.main(["shots", str(clip), "--deinterlace", "field", "-o", str(tmp_path / "s"), "-q"]) == 0
    shots = pd.read_csv(tmp_path / "s" / "shots.csv")
    assert list(zip(shots.start_frame, shots.end_frame)) == [(0, 20), (20, 60)]
    # shots counted in frames are not taken for fields (their times give them away), nor the other way round
    assert cli.main(["shots", str(clip), "-o", str(tmp_path / "f"), "-q"]) == 0
    for csv, mode in [(tmp_path / "f" / "shots.csv", "field"), (tmp_path / "s" / "shots.csv", "frame")]:
        assert cli.main(["probe", str(clip), "--shots", str(csv), "--deinterlace", mode, "--dry-run", "-q"]) == 2
    assert "made for another frame count" in capsys.readouterr().err
    out = tmp_path / "lad"
    api.ladder(clip, complexity=1.0, rungs=2, grid=dict(GRID, heights=[180]), out_dir=out, jobs=2, plots=False,
               deinterlace="field")
    src = json.loads((out / "ladder.json").read_text())["source"]
    assert (src["deinterlace"], src["frames"], Fraction(src["fps"])) == ("field", 60, Fraction(30000, 1001))
    rows = api.encode_renditions(out / "ladder.json", tmp_path / "r", verify=True, jobs=2)
    assert mismatches(rows) == [] and all(r.psnr_y == pytest.approx(r.ladder_psnr_y, abs=2e-3) for r in rows)
    for r in rows:
        with av.open(str(r.path)) as c:
            s = c.streams.video[0]
            assert sum(1 for _ in c.decode(s)) == 60 and s.average_rate == Fraction(30000, 1001)
    # a ladder re-optimized from the probes does not record how its frames were made: encode is told
    assert cli.main(["optimize", str(out / "probes.csv"), "--rungs", "2", "-c", "1", "-o", str(tmp_path / "opt"),
                     "--no-plots", "-q"]) == 0
    enc = ["encode", str(tmp_path / "opt" / "ladder.json"), "--source", str(clip), "-j", "2", "-q"]
    assert cli.main([*enc, "-o", str(tmp_path / "e1")]) == 2  # counted by frame: its shots are past the end
    assert cli.main([*enc, "-o", str(tmp_path / "e2"), "--deinterlace", "field"]) == 0
    assert pd.read_csv(tmp_path / "e2" / "renditions.csv").frames.tolist() == [60, 60]
