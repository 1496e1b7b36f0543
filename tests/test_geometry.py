"""Resolution classes: "1080p" of a scope film, a 4:3 picture and a phone video, from the grid to the renditions."""
from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from pershot import api, ffmpeg
from pershot.geometry import classes_within, fit_size, size_class
from pershot.ladder import LadderSpec, RungSpec, optimize_ladder, prepare
from pershot.media import probe_source, resolutions_for
from pershot.shots import Shot
from pershot.synthetic import synthetic_probes

# (display size, class -> expected encode size): the README's table and some awkward shapes
CASES = [
    ((1920, 1080), {1080: (1920, 1080), 720: (1280, 720), 360: (640, 360)}),
    ((1440, 1080), {1080: (1440, 1080), 720: (960, 720), 360: (480, 360)}),
    ((1920, 800), {1080: (1920, 800), 720: (1280, 534), 360: (640, 266)}),
    ((1080, 1920), {1080: (1080, 1920), 720: (720, 1280), 360: (360, 640)}),
    ((1080, 1440), {1080: (1080, 1440), 720: (720, 960)}),
    ((1080, 1080), {1080: (1080, 1080), 360: (360, 360)}),
    ((1920, 818), {1080: (1920, 818), 540: (960, 408)}),
    ((1920, 1072), {1080: (1920, 1072)}),  # a hair wider than 16:9: still its full size at 1080p
]


@pytest.mark.parametrize("display, expected", CASES)
def test_class_sizes_fit_the_16_9_box_turned_to_the_picture(display, expected):
    aspect = Fraction(*display)
    for p, wh in expected.items():
        assert fit_size(aspect, p, display) == wh
        assert size_class(*wh) == p  # and the size names its class back
    assert size_class(*display) == max(expected)


def test_class_sizes_are_even_inside_the_picture_and_keep_its_shape():
    rng = np.random.default_rng(3)
    for _ in range(500):
        dw, dh = (int(x) for x in rng.integers(64, 4096, size=2))
        aspect = Fraction(dw, dh)
        for p in classes_within((dw, dh), (2160, 1440, 1080, 720, 540, 480, 360, 240, 144)):
            w, h = fit_size(aspect, p, (dw, dh))
            assert w % 2 == 0 and h % 2 == 0 and w <= dw and h <= dh
            assert size_class(w, h) <= p  # never above the class asked for
            assert abs(w / h - dw / dh) <= 2.5 / min(w, h) * max(1, dw / dh)  # same shape, to rounding
            assert max(w, h) >= min(round(p * 16 / 9), max(dw, dh)) - 2 or min(w, h) >= p - 1  # fills the box


def test_size_class_works_on_arrays_and_keeps_padding_zero():
    w = np.array([[1920, 1080, 0], [1280, 720, 0]])
    h = np.array([[800, 1920, 0], [720, 1280, 0]])
    assert size_class(w, h).tolist() == [[1080, 1080, 0], [720, 720, 0]]


def _portrait(media_dir: Path, dst: Path) -> Path:
    """A 180x320 phone-shaped cut of testvideo.mp4 (square pixels), 30 frames."""
    ffmpeg.run(["-y", "-v", "error", "-i", str(media_dir / "testvideo.mp4"), "-vf",
                "trim=start_frame=240:end_frame=270,setpts=PTS-STARTPTS,crop=405:720,scale=180:320,setsar=1",
                "-c:v", "libx264", "-preset", "veryfast", "-crf", "14", str(dst)], what="making a portrait clip failed")
    return dst


def test_portrait_source_is_probed_and_encoded_at_its_full_width(media_dir: Path, tmp_path: Path):
    clip = _portrait(media_dir, tmp_path / "phone.mp4")
    info = probe_source(clip)
    assert (info.display_width, info.display_height) == (180, 320)
    # 180p is the whole picture turned on its side; 360p is above it: dropped, nothing upscaled
    assert resolutions_for(info, [360, 180, 90]) == [(90, 160), (180, 320)]
    # a grid jumping over the source's own class still offers the full resolution
    assert resolutions_for(info, [360, 90]) == [(90, 160), (180, 320)]
    grid = {"name": "portrait", "heights": [180, 90], "crf": [24, 30, 36], "metrics": {"n_subsample": 3},
            "encoders": {"x264": {"presets": ["veryfast"]}}}
    shots = [Shot(index=0, start_frame=0, end_frame=30, start_s=0.0, end_s=30 * 1001 / 30000)]
    spec = LadderSpec(rungs=(RungSpec(kbps=20, max_height=90), RungSpec(kbps=50)))
    out = tmp_path / "lad"
    api.ladder(clip, grid=grid, complexity=1.0, ladder=spec, out_dir=out, shots=shots, jobs=1, plots=False)
    doc = json.loads((out / "ladder.json").read_text())
    sizes = [(r["width"], r["height"]) for r in doc["rungs"]]
    assert sizes[0] == (90, 160)  # max_height 90 caps the class (90p), not the 160-line height
    assert sizes[-1] == (180, 320)
    rs = api.encode_renditions(out / "ladder.json", out / "r", jobs=1)
    import av

    for r, (w, h) in zip(rs, sizes):
        assert Path(r.path).name.endswith(f"_{min(w, h)}p.mp4")
        with av.open(r.path) as c:
            f = next(c.decode(video=0))
            assert (f.width, f.height) == (w, h)


def test_rung_cap_on_portrait_probes_compares_classes():
    # synthetic 16:9 probes turned portrait (every width and height swapped) give the same ladder,
    # turned: a rung capped at 720p may use 720x1280 as it uses 1280x720
    df = synthetic_probes(3, presets=("veryfast", "medium"), heights=(1080, 720, 360), seed=5)
    turned = df.assign(width=df["height"], height=df["width"])
    # 720p reaches its best quality at about 2,760 kbps on these probes; 1080p wins above it
    specs = [LadderSpec(rungs=(RungSpec(kbps=2600, max_height=720),)), LadderSpec(rungs=(RungSpec(kbps=4000),)),
             LadderSpec.auto(4)]
    for spec in specs:
        a = optimize_ladder(prepare(df, "vmaf"), spec, 1.0)
        b = optimize_ladder(prepare(turned, "vmaf"), spec, 1.0)
        assert [(r.width, r.height) for r in a.rungs] == [(r.height, r.width) for r in b.rungs]
        assert [r.bitrate_kbps for r in a.rungs] == pytest.approx([r.bitrate_kbps for r in b.rungs])
    (capped,) = optimize_ladder(prepare(turned, "vmaf"), specs[0], 1.0).rungs
    (free,) = optimize_ladder(prepare(turned, "vmaf"), specs[1], 1.0).rungs
    assert (capped.width, capped.height) == (720, 1280) and (free.width, free.height) == (1080, 1920)
