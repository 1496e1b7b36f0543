"""Interlaced sources are deinterlaced (one frame per frame) before they are scaled, encoded and scored."""
from __future__ import annotations

import dataclasses
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from conftest import cut
from core_clips import interlaced_clip

from pershot import ffmpeg
from pershot.encoders import EncodeParams
from pershot.media import extract_args, extract_shot, frame_index, probe_source
from pershot.metrics import MetricParams
from pershot.probe import probe_key
from pershot.shots import Shot


def _comb(y: np.ndarray) -> float:
    """Mean "zigzag" between lines: large where alternate lines come from different instants."""
    y = y.astype(float)
    return float(np.maximum((y[1:-1] - y[:-2]) * (y[1:-1] - y[2:]), 0).mean())


def _frames(path: str, w: int, h: int) -> list[np.ndarray]:
    data = Path(path).read_bytes()
    return [np.frombuffer(f[:w * h], np.uint8).reshape(h, w) for f in data.split(b"FRAME\n")[1:]]


def test_interlaced_source_is_deinterlaced_frame_for_frame(media_dir: Path, tmp_path: Path):
    import av

    clip = interlaced_clip(media_dir, tmp_path / "tff.mp4")
    info = probe_source(clip)
    assert info.interlaced and info.frame_count == 30
    ex = extract_shot(info, 4, 24, tmp_path / "y4m", [(160, 90)])
    assert ex.frames == 20
    ref = _frames(ex.reference, 320, 180)
    assert len(ref) == 20 and len(_frames(ex.scaled[(160, 90)], 160, 90)) == 20
    with av.open(str(clip)) as c:
        raw = [f.to_ndarray()[:180] for f in c.decode(video=0)][4:24]
    # the woven fields of a changing picture comb; the deinterlaced frames do not
    assert np.mean([_comb(y) for y in ref]) < 0.5 * np.mean([_comb(y) for y in raw])
    # frame for frame: each output frame is the same picture as the woven frame it came from
    for a, b in zip(ref, raw):
        assert np.abs(a.astype(float) - b).mean() < np.abs(a.astype(float) - np.roll(b, 12, axis=1)).mean()


def test_progressive_sources_are_not_touched_and_keep_their_keys(media_dir: Path, tmp_path: Path):
    clip = cut(media_dir / "testvideo.mp4", tmp_path / "p.mp4", start_frame=240, frames=10, height=90)
    info = probe_source(clip)
    assert not info.interlaced
    args = extract_args(info, frame_index(info.path), 0, 10, [(160, 90, "o.y4m")])
    assert not any("bwdif" in a for a in args)
    inter = dataclasses.replace(info, interlaced=True)
    assert any("bwdif" in a for a in extract_args(inter, frame_index(info.path), 0, 10, [(160, 90, "o.y4m")]))
    shot = Shot(index=0, start_frame=0, end_frame=10, start_s=0.0, end_s=1 / 3)
    p = EncodeParams(encoder="x264", preset="fast", rc_mode="crf", value=28, width=160, height=90,
                     fps=Fraction(30000, 1001), frames=10)
    assert probe_key(inter, shot, p, MetricParams(), "v", "f") != probe_key(info, shot, p, MetricParams(), "v", "f")


def test_an_ffmpeg_without_bwdif_is_one_clear_error(media_dir: Path, tmp_path: Path, monkeypatch):
    from pershot.errors import ConfigError
    from pershot.grid import load_grid
    from pershot.probe import plan_probes

    info = probe_source(interlaced_clip(media_dir, tmp_path / "tff.mp4"))
    shot = Shot(index=0, start_frame=0, end_frame=30, start_s=0.0, end_s=1.0)
    real = ffmpeg.ffmpeg_info()
    monkeypatch.setattr(ffmpeg, "ffmpeg_info", lambda: dataclasses.replace(real, filters=real.filters - {"bwdif"}))
    with pytest.raises(ConfigError, match="no bwdif filter"):
        plan_probes(info, [shot], load_grid("test"))
    progressive = dataclasses.replace(info, interlaced=False)
    assert plan_probes(progressive, [shot], load_grid("test")).jobs


def _woven_counter(media_dir: Path, tmp_path: Path) -> tuple[Path, np.ndarray]:
    """counter.mp4 (each frame shows its own number) at 320x180, its 30 frames woven in pairs into 15
    interlaced frames, top field first; and the 30 frames' luma it was woven from."""
    raw = tmp_path / "counter.yuv"
    ffmpeg.run(["-y", "-v", "error", "-i", str(media_dir / "counter.mp4"), "-vf", "scale=320:180", "-pix_fmt",
                "yuv420p", "-f", "rawvideo", str(raw)], what="decoding counter.mp4 failed")
    clip = tmp_path / "counter_tff.mp4"
    ffmpeg.run(["-y", "-v", "error", "-i", str(media_dir / "counter.mp4"), "-vf", "scale=320:180,interlace=scan=tff",
                "-c:v", "libx264", "-flags", "+ildct+ilme", "-x264-params", "tff=1", "-crf", "14", str(clip)],
               what="making an interlaced clip failed")
    frames = np.fromfile(raw, np.uint8).reshape(30, -1)[:, :320 * 180].reshape(30, 180, 320)
    return clip, frames.astype(float)


def test_deinterlacing_by_field_gives_each_field_a_frame_of_its_own(media_dir: Path, tmp_path: Path):
    from pershot.errors import InputError
    from pershot.media import with_deinterlace

    clip, woven_from = _woven_counter(media_dir, tmp_path)
    info = probe_source(clip)
    assert info.interlaced and info.frame_count == 15 and with_deinterlace(info, "frame") is info
    field = with_deinterlace(info, "field")
    assert (field.frame_count, field.fps, field.duration_s) == (30, 2 * info.fps, info.duration_s)
    assert with_deinterlace(field, "field") == field
    # ranges that start and end on either field of a frame: each frame out is the field it stands for, in order
    for a, b in [(0, 30), (5, 20), (11, 26)]:
        ex = extract_shot(field, a, b, tmp_path / f"y4m{a}", [(160, 90)])
        ref = _frames(ex.reference, 320, 180)
        assert ex.frames == len(ref) == b - a
        closest = [int(np.argmin([np.abs(y - f).mean() for f in woven_from])) for y in ref]
        assert closest == list(range(a, b))
    # one frame per frame: each frame out is its woven pair, shown at the first field's instant
    ex = extract_shot(info, 0, 15, tmp_path / "y4m", [(160, 90)])
    assert [int(np.argmin([np.abs(y - f).mean() for f in woven_from])) for y in _frames(ex.reference, 320, 180)] \
        == list(range(0, 30, 2))
    progressive = probe_source(media_dir / "counter.mp4")
    assert with_deinterlace(progressive, "field") is progressive
    with pytest.raises(InputError, match="unknown deinterlacing mode"):
        with_deinterlace(info, "fields")
    # probes of the fields are other probes than those of the frames
    shot = Shot(index=0, start_frame=0, end_frame=10, start_s=0.0, end_s=1.0)
    p = EncodeParams(encoder="x264", preset="fast", rc_mode="crf", value=28, width=160, height=90,
                     fps=field.fps, frames=10)
    assert probe_key(field, shot, p, MetricParams(), "v", "f") != probe_key(info, shot, p, MetricParams(), "v", "f")


@pytest.mark.parametrize("mode", ["frame", "field"])
def test_a_range_is_deinterlaced_as_within_the_whole_stream(media_dir: Path, tmp_path: Path, mode):
    """bwdif reads each frame's neighbours: a range (a shot, a thumbnail's one frame) is decoded with one on
    either side, so its frames are exactly those the whole stream gives, first and last included. A range
    of one frame was its two fields woven; a shot's first frame was deinterlaced without its predecessor.
    Keyframes every 5 frames: a range that starts on one seeks to the one before, for its neighbour."""
    from pershot.media import deinterlace_filters, with_deinterlace

    clip = tmp_path / "tff_g5.mp4"
    ffmpeg.run(["-y", "-v", "error", "-i", str(media_dir / "testvideo.mp4"), "-vf",
                "trim=start_frame=200:end_frame=260,setpts=PTS-STARTPTS,scale=320:180,interlace=scan=tff",
                "-c:v", "libx264", "-flags", "+ildct+ilme", "-x264-params", "tff=1", "-g", "5", "-crf", "14",
                str(clip)], what="making an interlaced clip failed")
    info = with_deinterlace(probe_source(clip), mode)
    whole = tmp_path / "whole.y4m"
    ffmpeg.run(["-y", "-v", "error", "-i", str(clip), "-vf", ",".join(deinterlace_filters(info)), "-pix_fmt",
                "yuv420p", "-f", "yuv4mpegpipe", str(whole)], what="deinterlacing the whole clip failed")
    every = _frames(str(whole), 320, 180)
    n = info.frame_count
    assert len(every) == n == (60 if mode == "field" else 30)
    f = n // 30
    for a, b in [(10 * f, 10 * f + 1), (0, 1), (n - 1, n), (0, 4), (7 * f + 1, 13 * f), (3, n)]:
        ex = extract_shot(info, a, b, tmp_path / f"y{a}_{b}", [(160, 90)])
        got = _frames(ex.reference, 320, 180)
        assert len(got) == b - a
        assert all(np.array_equal(g, every[a + i]) for i, g in enumerate(got)), (a, b)
