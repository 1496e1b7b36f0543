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


@pytest.mark.parametrize("opts, code", [(["--thumbnail-codecs", "nosuchcodec"], 4),
                                         (["--thumbnail-complexity", "2"], 2),
                                         (["--thumbnail-height", "1"], 2)])
def test_ladder_bad_thumbnail_options_fail_before_encoding(media_dir: Path, tmp_path: Path, opts, code):
    from pershot.cli import main

    clip = counter_small(media_dir, tmp_path)
    out = tmp_path / "bad"
    rc = main(["ladder", str(clip), "--grid", "test", "-o", str(out), "-q", "--thumbnails", *opts])
    assert rc == code
    assert not (out / "probes.csv").exists() and not (out / "shots.csv").exists()
