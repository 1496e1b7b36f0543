"""Source probing and frame-exact extraction (pershot.media)."""
from __future__ import annotations

import shutil
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

import core_clips
from pershot import ffmpeg, media
from pershot.errors import InputError, MediaError


def _decoded(path: Path, a: int, b: int) -> list[np.ndarray]:
    """Frames a..b-1 decoded by PyAV from the start, as flat yuv420p arrays."""
    out = []
    with av.open(str(path)) as c:
        for k, fr in enumerate(c.decode(video=0)):
            if a <= k < b:
                out.append(fr.to_ndarray(format="yuv420p").reshape(-1))
    return out


def _y4m(path: str, w: int, h: int) -> list[np.ndarray]:
    data = Path(path).read_bytes()
    pos = data.index(b"\n") + 1
    size = w * h + 2 * ((w + 1) // 2) * ((h + 1) // 2)
    out = []
    while pos < len(data):
        assert data[pos:pos + 6] == b"FRAME\n"
        pos += 6
        out.append(np.frombuffer(data[pos:pos + size], np.uint8))
        pos += size
    return out


@pytest.fixture(scope="module")
def clips(media_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("media")
    small = core_clips.counter_small(media_dir, d)
    return {
        "small": small,
        "two": core_clips.two_shots(media_dir, d, height=180),
        "vfr": core_clips.vfr_clip(media_dir, d),
        "rot90": core_clips.rotated(small, d / "rot90.mp4", 90),
        "rot270": core_clips.rotated(small, d / "rot270.mp4", 270),
        "sar": core_clips.with_sar(small, d / "sar.mp4"),
        "dir": d,
    }


def test_counter_facts(media_dir: Path) -> None:
    info = media.probe_source(media_dir / "counter.mp4")
    assert (info.width, info.height) == (1920, 1080)
    assert (info.display_width, info.display_height) == (1920, 1080)
    assert info.fps == Fraction(10) and info.frame_count == 30
    assert info.duration_s == pytest.approx(3.0)
    assert not info.is_vfr and info.rotation == 0
    assert info.pix_fmt == "yuv420p" and info.bit_depth == 8 and info.codec == "h264"
    assert info.display_aspect == Fraction(16, 9)
    assert len(info.content_hash) == 64


def test_testvideo_and_delayed_start_facts(media_dir: Path) -> None:
    tv = media.probe_source(media_dir / "testvideo.mp4")
    assert tv.fps == Fraction(30000, 1001) and tv.frame_count == 720
    assert tv.duration_s == pytest.approx(24.024)
    ds = media.probe_source(media_dir / "delayed_start.mp4")
    assert ds.frame_count == 24 and ds.fps == 25 and not ds.is_vfr
    assert ds.duration_s == pytest.approx(0.96)
    # frame times are rebased to the first frame (its PTS is 1.075 s)
    times = media.frame_times(ds)
    assert times[0] == 0.0 and times[-1] == pytest.approx(0.96)


def test_vfr_clip_detected_and_timed(clips: dict[str, Path]) -> None:
    info = media.probe_source(clips["vfr"])
    assert info.is_vfr
    assert info.frame_count == 40
    times = media.frame_times(info)
    # 15 frames 1/30 s apart, then 25 frames 2/30 s apart, rebased to 0 despite the 0.5 s offset
    assert times[0] == 0.0
    assert times[15] == pytest.approx(15 / 30, abs=1e-3)
    assert times[20] == pytest.approx(25 / 30, abs=1e-3)
    assert info.duration_s == pytest.approx(times[-1])
    assert float(info.fps) == pytest.approx(40 / info.duration_s, rel=1e-3)


@pytest.mark.parametrize("a,b", [(0, 60), (3, 17), (12, 30), (25, 43), (47, 60)])
def test_extraction_is_frame_exact(clips: dict[str, Path], a: int, b: int) -> None:
    """Seek to a keyframe, trim by frame index: the exact decoded frames, none lost or doubled."""
    src = clips["two"]
    info = media.probe_source(src)
    with_seek = a >= 12  # keyframes every 12 frames: these ranges need a real seek
    ex = media.extract_shot(info, a, b, clips["dir"] / f"x{a}", [(info.width, info.height)])
    assert ex.frames == b - a
    assert ex.seeked == with_seek
    got = _y4m(ex.reference, info.width, info.height)
    want = _decoded(src, a, b)
    assert len(got) == len(want) == b - a
    assert all(np.array_equal(g, w) for g, w in zip(got, want))


def test_extraction_delayed_start_and_vfr_lose_no_frame(media_dir: Path, clips: dict[str, Path],
                                                        tmp_path: Path) -> None:
    ds = media.probe_source(media_dir / "delayed_start.mp4")
    ex = media.extract_shot(ds, 0, 24, tmp_path / "ds", [(240, 160)])
    assert ex.frames == 24
    assert media.y4m_frame_count(ex.scaled[(240, 160)], 240, 160) == 24
    got = _y4m(ex.reference, 480, 320)
    assert all(np.array_equal(g, w) for g, w in zip(got, _decoded(media_dir / "delayed_start.mp4", 0, 24)))

    vfr = media.probe_source(clips["vfr"])
    total = 0
    for a, b in [(0, 10), (10, 27), (27, 40)]:
        e = media.extract_shot(vfr, a, b, tmp_path / f"v{a}", [])
        got = _y4m(e.reference, vfr.width, vfr.height)
        want = _decoded(clips["vfr"], a, b)
        assert len(got) == b - a and all(np.array_equal(g, w) for g, w in zip(got, want))
        total += len(got)
    assert total == vfr.frame_count


@pytest.mark.parametrize("deg", [90, 270])
def test_rotation_applied_like_ffmpeg_autorotate(clips: dict[str, Path], tmp_path: Path, deg: int) -> None:
    src = clips[f"rot{deg}"]
    info = media.probe_source(src)
    assert info.rotation == deg
    assert (info.display_width, info.display_height) == (info.height, info.width)
    assert info.display_aspect == Fraction(info.height, info.width)
    ex = media.extract_shot(info, 0, info.frame_count, tmp_path, [])
    auto = tmp_path / "auto.y4m"
    ffmpeg.run(["-y", "-v", "error", "-i", str(src), "-f", "yuv4mpegpipe", str(auto)])  # ffmpeg's own autorotate
    w, h = info.display_width, info.display_height
    mine, theirs = _y4m(ex.reference, w, h), _y4m(str(auto), w, h)
    assert len(mine) == len(theirs) == info.frame_count
    assert all(np.array_equal(a, b) for a, b in zip(mine, theirs))
    # an encode made from it is upright and carries no display matrix of its own
    from pershot import encoders

    out = tmp_path / "enc.264"
    p = encoders.EncodeParams("x264", "ultrafast", "crf", 30, w, h, info.fps, info.frame_count)
    ffmpeg.run(encoders.encode_args(encoders.get("x264"), p, ex.reference, out))
    with av.open(str(out), format="h264") as c:
        fr = next(c.decode(video=0))
    assert (fr.width, fr.height) == (w, h) and fr.rotation == 0


def test_sample_aspect_ratio_widens_display(clips: dict[str, Path]) -> None:
    info = media.probe_source(clips["sar"])
    assert (info.width, info.height) == (320, 180)
    assert info.display_aspect == Fraction(320 * 4, 180 * 3)
    assert (info.display_width, info.display_height) == (427, 180)
    assert media.target_size(info, 180) == (426, 180)


def test_resolutions_never_above_source(clips: dict[str, Path]) -> None:
    info = media.probe_source(clips["small"])  # 320x180
    assert media.resolutions_for(info, [1080, 720, 180, 144, 90]) == [(160, 90), (256, 144), (320, 180)]
    for w, h in media.resolutions_for(info, [179, 101, 72]):
        assert w % 2 == 0 and h % 2 == 0 and h <= 180


def test_content_hash(clips: dict[str, Path], tmp_path: Path) -> None:
    src = clips["small"]
    copy = tmp_path / "copy of it.mp4"
    shutil.copy(src, copy)
    assert media.content_hash(src) == media.content_hash(copy)
    data = bytearray(copy.read_bytes())
    data[len(data) // 2] ^= 0xFF
    copy.write_bytes(bytes(data))
    assert media.content_hash(src) != media.content_hash(copy)


def test_bad_inputs(clips: dict[str, Path], tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not found"):
        media.probe_source(tmp_path / "missing.mp4")
    with pytest.raises(InputError, match="directory"):
        media.probe_source(tmp_path)
    text = tmp_path / "notes.mp4"
    text.write_text("this is not a video\n" * 50)
    with pytest.raises(MediaError):
        media.probe_source(text)
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    with pytest.raises(MediaError, match="empty"):
        media.probe_source(empty)
    with pytest.raises(MediaError, match="no video stream"):
        media.probe_source(core_clips.audio_only(tmp_path / "tone.m4a"))
    with pytest.raises(MediaError, match="truncated"):
        media.probe_source(core_clips.truncated(clips["two"], tmp_path / "cut.mp4"))
    for ex in (InputError, MediaError):
        assert "\n" not in str(ex("x"))


def test_odd_file_names(clips: dict[str, Path], tmp_path: Path) -> None:
    odd = tmp_path / "-a file 'with' \"quotes\": and colon.mp4"
    shutil.copy(clips["small"], odd)
    info = media.probe_source(odd)
    out = tmp_path / "out dir 'x'"
    out.mkdir()
    ex = media.extract_shot(info, 5, 15, out, [(160, 90)])
    assert ex.frames == 10 and media.y4m_frame_count(ex.scaled[(160, 90)], 160, 90) == 10


def test_edit_list_hidden_frames_are_not_counted(clips: dict[str, Path], tmp_path: Path) -> None:
    """Packets an MP4 edit list hides are decoded for reference but never shown: not frames of ours."""
    src = core_clips.edit_list(clips["two"], tmp_path / "elst.mp4")
    with av.open(str(src)) as c:
        shown = sum(1 for _ in c.decode(video=0))
    with av.open(str(src)) as c:
        packets = sum(1 for p in c.demux(video=0) if p.size)
    assert packets > shown  # the clip really has hidden packets
    info = media.probe_source(src)
    assert info.frame_count == shown
    for a, b in [(0, 9), (9, shown)]:
        ex = media.extract_shot(info, a, b, tmp_path / f"e{a}", [])
        got = _y4m(ex.reference, info.width, info.height)
        want = _decoded(src, a, b)
        assert len(got) == b - a and all(np.array_equal(g, w) for g, w in zip(got, want))
