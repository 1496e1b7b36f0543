"""Cropping: black borders found (in pairs only) or a box given; probes, reference and renditions cut alike."""
from __future__ import annotations

import dataclasses
import json
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from pershot import api, ffmpeg
from pershot.encoders import EncodeParams
from pershot.errors import InputError
from pershot.media import _bars, detect_crop, extract_shot, probe_source, with_crop
from pershot.metrics import MetricParams
from pershot.probe import probe_key
from pershot.shots import Shot

GRID = {"name": "crop", "heights": [90], "crf": [30], "encoders": {"x264": {"presets": ["veryfast"]}}}


def _letterboxed(media_dir: Path, dst: Path, pad: str = "pad=320:180:0:22:black", size: str = "320:136") -> Path:
    """Frames 240-299 of testvideo.mp4 (a real photograph) scaled to ``size`` and padded with black."""
    ffmpeg.run(["-y", "-v", "error", "-i", str(media_dir / "testvideo.mp4"), "-vf",
                f"trim=start_frame=240:end_frame=300,setpts=PTS-STARTPTS,scale={size},setsar=1,{pad}",
                "-c:v", "libx264", "-preset", "veryfast", "-crf", "14", str(dst)], what="making a letterboxed clip failed")
    return dst


def test_bars_count_in_pairs_only():
    assert _bars(22, 22, 180) == (22, 136)
    assert _bars(21, 23, 180) == (22, 134)  # inwards, to even
    assert _bars(0, 20, 320) == (0, 320)  # one dark edge is content
    assert _bars(40, 60, 320) == (0, 320)  # too unequal to be a pair
    assert _bars(1, 1, 180) == (0, 180)
    assert _bars(85, 85, 180) == (0, 180)  # nothing left worth keeping
    assert _bars(46, 46, 180) == (0, 180) and _bars(40, 40, 180) == (40, 100)  # at least half the axis stays


def test_letterbox_is_found_and_the_whole_pipeline_sees_the_cut_picture(media_dir: Path, tmp_path: Path):
    clip = _letterboxed(media_dir, tmp_path / "lb.mp4")
    info = probe_source(clip)
    assert detect_crop(info) == (320, 136, 0, 22)
    cut = with_crop(info, "auto")
    assert (cut.display_width, cut.display_height, cut.display_aspect) == (320, 136, Fraction(40, 17))
    ref = Path(extract_shot(cut, 0, 10, tmp_path / "y4m", []).reference).read_bytes()
    assert b"W320 H136" in ref[:60]
    y = np.frombuffer(ref.split(b"FRAME\n")[1][:320 * 136], np.uint8).reshape(136, 320)
    assert y[:2].mean() > 30 and y[-2:].mean() > 30  # picture to the edges: no black rows left
    out = tmp_path / "lad"
    shots = [Shot(index=0, start_frame=0, end_frame=60, start_s=0.0, end_s=60 * 1001 / 30000)]
    lad = api.ladder(clip, grid=GRID, complexity=1.0, rungs=1, out_dir=out, shots=shots, jobs=1, plots=False,
                     crop="auto")
    # the cut picture is 180p (320 wide); the grid stops at 90p, and the ladder says how to go further
    assert any("source is 180p (320x136)" in w and "stops at 90p" in w for w in lad.warnings)
    doc = json.loads((out / "ladder.json").read_text())
    assert doc["source"]["crop"] == [320, 136, 0, 22]
    assert (doc["source"]["width"], doc["source"]["height"]) == (320, 136)
    # 90p of a 40:17 picture: the width of a 16:9 90p picture (160), and its own aspect
    assert (doc["rungs"][0]["width"], doc["rungs"][0]["height"]) == (160, 68)
    (r,) = api.encode_renditions(out / "ladder.json", out / "r", jobs=1)
    import av

    with av.open(r.path) as c:
        f = next(c.decode(video=0))
        assert (f.width, f.height) == (160, 68)
        y = f.to_ndarray()[:68]
    assert y[:2].mean() > 30 and y[-2:].mean() > 30


def test_no_crop_where_there_are_no_borders(media_dir: Path, tmp_path: Path):
    # a dark right-hand edge of the photograph alone (no bar opposite it) is not cut
    clip = _letterboxed(media_dir, tmp_path / "p.mp4", pad="null", size="320:180")
    info = probe_source(clip)
    assert detect_crop(info) is None and with_crop(info, "auto") == info


def test_given_crop_and_bad_crops(media_dir: Path, tmp_path: Path):
    clip = _letterboxed(media_dir, tmp_path / "lb.mp4")
    info = probe_source(clip)
    box = with_crop(info, "160:120:80:30")
    assert (box.display_width, box.display_height, box.crop) == (160, 120, (160, 120, 80, 30))
    assert with_crop(info, [320, 180, 0, 0]) == info and with_crop(info, "none") == info
    for bad, msg in (("a:b", "W:H:X:Y"), ("10:10:0:0", "does not fit"), ("300:100:40:0", "does not fit"),
                     ("-2:100:0:0", "W:H:X:Y")):
        with pytest.raises(InputError, match=msg):
            with_crop(info, bad)
    shot = Shot(index=0, start_frame=0, end_frame=10, start_s=0.0, end_s=1 / 3)
    p = EncodeParams(encoder="x264", preset="fast", rc_mode="crf", value=28, width=160, height=90,
                     fps=info.fps, frames=10)
    cropped = dataclasses.replace(box, display_width=info.display_width, display_height=info.display_height)
    assert probe_key(cropped, shot, p, MetricParams(), "v", "f") != probe_key(info, shot, p, MetricParams(), "v", "f")


def test_cli_crop(media_dir: Path, tmp_path: Path, capsys):
    from pershot.cli import main

    clip = _letterboxed(media_dir, tmp_path / "lb.mp4")
    grid = tmp_path / "g.toml"
    grid.write_text('name = "g"\nheights = [90]\ncrf = [30]\n[encoders.x264]\npresets = ["veryfast"]\n')
    assert main(["probe", str(clip), "--grid", str(grid), "--crop", "auto", "--detector", "none", "-j", "1",
                 "-o", str(tmp_path / "ok")]) == 0
    assert "source: cropped to 320x136 at (0, 22), shown as 320x136" in capsys.readouterr().err
    assert main(["probe", str(clip), "--grid", "test", "--crop", "1:1:0:0", "-o", str(tmp_path / "o"), "-q"]) == 2
    assert not (tmp_path / "o" / "shots.csv").exists()


def test_encode_of_a_ladder_without_its_crop_is_refused_then_given_it(media_dir: Path, tmp_path: Path):
    clip = _letterboxed(media_dir, tmp_path / "lb.mp4")
    shots = [Shot(index=0, start_frame=0, end_frame=60, start_s=0.0, end_s=60 * 1001 / 30000)]
    run = api.run_probes(clip, GRID, tmp_path / "p", shots=shots, jobs=1, crop="auto")
    lad = api.optimize(run.probes, None, 1.0, rungs=1)
    api.write_ladder(lad, tmp_path / "opt", plots=False)  # as `pershot optimize`: no source, no crop recorded
    with pytest.raises(InputError, match="shape of the source"):
        api.encode_renditions(tmp_path / "opt" / "ladder.json", tmp_path / "r", source=clip, jobs=1)
    (r,) = api.encode_renditions(tmp_path / "opt" / "ladder.json", tmp_path / "r", source=clip, jobs=1, crop="auto")
    assert (r.width, r.height) == (160, 68)


def test_info_reports_what_pershot_sees(media_dir: Path, tmp_path: Path, capsys):
    from pershot.cli import main

    clip = _letterboxed(media_dir, tmp_path / "lb.mp4")
    assert main(["info", str(clip), "--json", "--borders"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert (doc["display_width"], doc["display_height"], doc["frames"]) == (320, 180, 60)
    assert doc["borders"] == [320, 136, 0, 22] and doc["audio"] == [] and doc["hdr"] is None
    assert doc["interlaced"] is False and doc["colour"] == {}
    assert main(["info", str(clip)]) == 0
    out = capsys.readouterr().out
    assert "shown as 320x180" in out and "audio: none" in out
    assert main(["info", str(tmp_path / "missing.mp4")]) == 2
