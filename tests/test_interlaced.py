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
