"""Per-shot thumbnails: one middle frame per shot, coded on the image RDC hull."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core_clips import counter_small
from pershot.codecs import decode_bytes
from pershot.codecs.metrics import psnr_rgb
from pershot.media import probe_source
from pershot.shots import Shot, detect_shots
from pershot.thumbnails import code_thumbnails, read_frame, representative_frame


def test_representative_frame_is_the_middle():
    assert representative_frame(Shot(index=0, start_frame=10, end_frame=20, start_s=1.0, end_s=2.0)) == 14
    assert representative_frame(Shot(index=0, start_frame=0, end_frame=1, start_s=0.0, end_s=0.1)) == 0


def test_thumbnails_one_per_shot_decodable_and_on_target(media_dir: Path, tmp_path: Path):
    clip = counter_small(media_dir, tmp_path)
    info = probe_source(clip)
    shots = detect_shots(info)
    assert [s.start_frame for s in shots] == [0, 10, 20]
    out = tmp_path / "out"
    thumbs = code_thumbnails(info, shots, out, height=120, target_psnr=34.0, codecs=["jpeg", "webp"])
    assert [t.shot for t in thumbs] == [0, 1, 2]
    assert [t.frame for t in thumbs] == [4, 14, 24]
    for t in thumbs:
        data = (out / t.path).read_bytes()
        assert len(data) == t.bytes
        img, codec = decode_bytes(data)
        assert codec.name == t.codec
        assert img.shape == (120, t.width, 3) and t.width % 2 == 0
        # the file really is that frame at that quality
        ref = read_frame(info, t.frame, 120)
        assert psnr_rgb(ref, img) == pytest.approx(t.psnr_rgb, abs=1e-6)
        assert t.psnr_rgb >= 34.0
    # counter.mp4 shows a different number on each frame: thumbnails of different shots differ
    imgs = [decode_bytes((out / t.path).read_bytes())[0].astype(np.int16) for t in thumbs]
    assert np.abs(imgs[0] - imgs[2]).mean() > 1.0


def test_ladder_with_thumbnails_lists_them_in_ladder_json(media_dir: Path, tmp_path: Path):
    import json

    from pershot.cli import main

    clip = counter_small(media_dir, tmp_path)
    out = tmp_path / "lad"
    rc = main(["ladder", str(clip), "--complexity", "1", "--rungs", "2", "--grid", "test", "-o", str(out), "-q",
               "--no-plots", "-j", "1", "--thumbnails", "--thumbnail-height", "120", "--thumbnail-codecs", "jpeg"])
    assert rc == 0
    doc = json.loads((out / "ladder.json").read_text())
    thumbs = doc["thumbnails"]
    assert [t["shot"] for t in thumbs] == [0, 1, 2]
    for t in thumbs:
        assert t["codec"] == "jpeg" and t["height"] == 120
        assert (out / t["path"]).stat().st_size == t["bytes"]
    assert (out / "thumbnails.csv").is_file()
    # the renditions get a storyboard: each shot's thumbnail over the shot's span (counter.mp4: 10 fps, cuts
    # at frames 10 and 20), beside the renditions and in the HLS and DASH packages; DASH also as DASH-IF's
    # thumbnail set of 1x1 tiles (JPEG), its timeline the shots
    import xml.etree.ElementTree as ET

    from pershot.subtitles import read_vtt

    r = tmp_path / "r"
    assert main(["encode", str(out / "ladder.json"), "-o", str(r), "--hls", "--dash", "-j", "1", "-q"]) == 0
    for folder in (r, r / "hls", r / "dash"):
        cues = read_vtt((folder / "thumbnails.vtt").read_text())
        assert [(c.start_s, c.end_s, c.text) for c in cues] == [
            (0.0, 1.0, "thumbnails/shot0000.jpg"), (1.0, 2.0, "thumbnails/shot0001.jpg"),
            (2.0, 3.0, "thumbnails/shot0002.jpg")]
        assert all((folder / c.text).read_bytes() == (out / c.text).read_bytes() for c in cues)
    # HLS: also an image media playlist (EXT-X-IMAGES-ONLY, a 1x1 tile per shot), named by the master
    master = (r / "hls" / "master.m3u8").read_text()
    (image,) = [ln for ln in master.splitlines() if ln.startswith("#EXT-X-IMAGE-STREAM-INF")]
    assert 'RESOLUTION=' in image and 'CODECS="jpeg"' in image and 'URI="thumbnails/index.m3u8"' in image
    playlist = (r / "hls" / "thumbnails" / "index.m3u8").read_text().splitlines()
    assert "#EXT-X-IMAGES-ONLY" in playlist and playlist[-1] == "#EXT-X-ENDLIST"
    tiles = [ln for ln in playlist if ln.startswith("#EXT-X-TILES")]
    assert len(tiles) == 3 and all("LAYOUT=1x1,DURATION=1.000000" in t for t in tiles)
    uris = [ln for ln in playlist if ln and not ln.startswith("#")]
    assert uris == ["shot0000.jpg", "shot0001.jpg", "shot0002.jpg"]
    assert all((r / "hls" / "thumbnails" / u).is_file() for u in uris)
    import pandas as pd

    row = pd.read_csv(r / "renditions.csv").query("kind == 'thumbnails'").iloc[0]
    assert (row["rung"], row["frames"], row["height"]) == (-201, 3, 120)
    ns = {"d": "urn:mpeg:dash:schema:mpd:2011"}
    root = ET.parse(r / "dash" / "manifest.mpd").getroot()
    (img,) = [a for a in root.findall("d:Period/d:AdaptationSet", ns) if a.get("contentType") == "image"]
    assert img.get("mimeType") == "image/jpeg"
    tpl = img.find("d:SegmentTemplate", ns)
    assert [s.get("d") for s in tpl.findall("d:SegmentTimeline/d:S", ns)] == ["1000", "1000", "1000"]
    rep = img.find("d:Representation", ns)
    prop = rep.find("d:EssentialProperty", ns)
    assert (prop.get("schemeIdUri"), prop.get("value")) == ("http://dashif.org/thumbnail_tile", "1x1")
    media = tpl.get("media")
    assert all((r / "dash" / media.replace("$Number%04d$", f"{i:04d}")).is_file() for i in range(3))


@pytest.mark.parametrize("opts, code", [(["--thumbnail-codecs", "nosuchcodec"], 4),
                                         (["--thumbnail-complexity", "2"], 2),
                                         (["--thumbnail-height", "1"], 2),
                                         (["--thumbnail-psnr", "nan"], 2), (["--thumbnail-psnr", "inf"], 2),
                                         (["--thumbnail-psnr=-10"], 2)])
def test_ladder_bad_thumbnail_options_fail_before_encoding(media_dir: Path, tmp_path: Path, opts, code):
    from pershot.cli import main

    clip = counter_small(media_dir, tmp_path)
    out = tmp_path / "bad"
    rc = main(["ladder", str(clip), "--grid", "test", "-o", str(out), "-q", "--thumbnails", *opts])
    assert rc == code
    assert not (out / "probes.csv").exists() and not (out / "shots.csv").exists()


def test_storyboards_take_what_browsers_show():
    from pershot.errors import InputError
    from pershot.thumbnails import candidate_codecs, storyboard_entries, storyboard_problem

    # thumbnails are drawn by web players: by default only JPEG, WebP and AVIF compete (JPEG XL when named)
    assert {c.name for c in candidate_codecs()} <= {"jpeg", "webp", "avif"}
    thumbs = [{"shot": 0, "frame": 2, "path": "thumbnails/shot0000.jpg", "width": 64, "height": 36, "bytes": 10,
               "codec": "jpeg"},
              {"shot": 1, "frame": 7, "path": "thumbnails/shot0001.avif", "width": 64, "height": 36, "bytes": 9,
               "codec": "avif"}]
    got = storyboard_entries(thumbs, [(0, 5), (5, 9)], [(0.0, 1.5), (1.5, 2.0)])
    assert [(e.start_s, e.end_s, e.mime) for e in got] == [(0.0, 1.5, "image/jpeg"), (1.5, 2.0, "image/avif")]
    with pytest.raises(InputError, match="the shot at frames 9-12 has no thumbnail"):
        storyboard_entries(thumbs, [(0, 5), (5, 9), (9, 12)], [(0.0, 1.0), (1.0, 2.0), (2.0, 3.0)])
    # shots numbered from 1 (a hand-written shots.csv): each thumbnail goes with the shot that holds its frame
    renumbered = [dict(t, shot=t["shot"] + 1) for t in reversed(thumbs)]
    assert storyboard_entries(renumbered, [(0, 5), (5, 9)], [(0.0, 1.5), (1.5, 2.0)]) == got
    jxl = [dict(thumbs[0]), dict(thumbs[1], path="thumbnails/shot0001.jxl", codec="jxl")]
    rungs = [{"shots": [{"start_frame": 0, "end_frame": 5}, {"start_frame": 5, "end_frame": 9}]}]
    assert "shot 1's thumbnail is .jxl (jxl), which browsers do not show" in storyboard_problem(
        {"thumbnails": jxl, "rungs": rungs})
    assert storyboard_problem({"thumbnails": thumbs, "rungs": rungs}) is None
    assert storyboard_problem({"rungs": rungs}) is None


def test_a_vfr_source_s_thumbnails_say_their_frames_own_times(media_dir: Path, tmp_path: Path):
    from core_clips import vfr_clip

    from pershot.media import frame_times, probe_source
    from pershot.shots import Shot
    from pershot.thumbnails import code_thumbnails

    info = probe_source(vfr_clip(media_dir, tmp_path))  # 15 frames 1/30 s apart, then 25 at 2/30 s
    assert info.is_vfr and info.frame_count == 40
    shots = [Shot(index=0, start_frame=0, end_frame=15, start_s=0.0, end_s=0.5),
             Shot(index=1, start_frame=15, end_frame=40, start_s=0.5, end_s=2 + 1 / 6)]
    thumbs = code_thumbnails(info, shots, tmp_path / "t", codecs=["jpeg"], height=90)
    # frame 27: 15/30 + 12 x 2/30 = 1.3 s in (at the average rate, 27 / 18.46 = 1.46 s: past its own time)
    assert [t.frame for t in thumbs] == [7, 27]
    assert [round(t.time_s, 4) for t in thumbs] == [round(7 / 30, 4), 1.3]
    assert [t.time_s for t in thumbs] == [frame_times(info)[7], frame_times(info)[27]]


def test_two_ladders_get_one_storyboard_and_a_missing_thumbnail_is_refused(media_dir: Path, tmp_path: Path):
    """x264 and x265 ladders of one title encoded together: one storyboard (the first ladder's thumbnails),
    in both packages (there was none). A ladder folder that lost a thumbnail is refused before any encode."""
    import json
    import shutil

    from pershot.cli import main

    clip = counter_small(media_dir, tmp_path)
    (tmp_path / "grid.toml").write_text('name = "two"\nheights = [90]\ncrf = [26, 34]\n'
                                        '[encoders.x264]\npresets = ["veryfast"]\n'
                                        '[encoders.x265]\npresets = ["ultrafast"]\n')
    out = tmp_path / "lad"
    assert main(["ladder", str(clip), "--grid", str(tmp_path / "grid.toml"), "--encoder", "x264,x265", "--rungs",
                 "1", "-c", "1", "--no-plots", "--thumbnails", "--thumbnail-codecs", "jpeg", "--thumbnail-height",
                 "60", "--encode", "--hls", "--dash", "-o", str(out), "-j", "1", "-q"]) == 0
    assert json.loads((out / "x264" / "ladder.json").read_text())["thumbnails"]  # coded once, with the first
    r = out / "renditions"
    master = (r / "hls" / "master.m3u8").read_text()
    assert master.count("#EXT-X-IMAGE-STREAM-INF") == 1 and (r / "hls" / "thumbnails.vtt").is_file()
    assert (r / "dash" / "manifest.mpd").read_text().count('contentType="image"') == 1
    assert (r / "x264" / "thumbnails.vtt").is_file() and not (r / "x265" / "thumbnails.vtt").exists()
    # a thumbnail gone from the ladder's folder: exit 2 naming it, nothing encoded
    lost = tmp_path / "lost"
    shutil.copytree(out / "x264", lost)
    (lost / "thumbnails" / "shot0001.jpg").unlink()
    assert main(["encode", str(lost / "ladder.json"), "-o", str(tmp_path / "r2"), "--hls", "-q"]) == 2
    assert not list((tmp_path / "r2").glob("**/*.mp4")) and not (tmp_path / "r2" / "thumbnails").exists()
