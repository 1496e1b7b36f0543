"""A VFR source's renditions keep its frames' own times (in step with its audio); ``cfr=True``
spaces them evenly at the average rate."""
from __future__ import annotations

import re

from fractions import Fraction
from pathlib import Path

import pytest
from conftest import cut

from pershot import api, ffmpeg
from pershot.errors import InputError
from pershot.media import FrameIndex, frame_index, probe_source
from pershot.renditions import peak_rate, rendition_times
from pershot.shots import Shot


def test_rendition_times_follow_the_source_and_close_gaps():
    idx = FrameIndex(stream_index=0, time_base=Fraction(1, 1000), pts=(500, 533, 566, 633, 700, 767),
                     keyframe=(True,) * 6, last_duration=67)
    assert rendition_times(idx, [(0, 3), (3, 6)]) == [0, 33, 66, 133, 200, 267, 334]
    # shots 0..2 and 4..6 only: the second starts where the first ended (its own end: frame 3's time)
    assert rendition_times(idx, [(0, 2), (4, 6)]) == [0, 33, 66, 133, 200]
    with pytest.raises(InputError):
        rendition_times(idx, [(0, 7)])


def test_peak_rate_is_the_busiest_second():
    tb = Fraction(1, 1000)
    # 30 frames at 30 fps (in milliseconds: 33, 34 or 33 ms apart), then 30 at 15 fps: 30 fps
    pts = tuple(round(1000 * (i / 30 if i < 30 else 1 + (i - 30) / 15)) for i in range(60))
    assert peak_rate(FrameIndex(0, tb, pts, (True,) * 60, 67)) == 30
    # 29.97 fps, then 14.985: 29.970, not the 30 frames that fit in a second (HLS FRAME-RATE is the highest rate)
    ntsc = tuple(1001 * i for i in range(30)) + tuple(30030 + 2002 * i for i in range(26))
    assert peak_rate(FrameIndex(0, Fraction(1, 30000), ntsc, (True,) * 56, 2002)) == pytest.approx(30000 / 1001)
    # in milliseconds (Matroska), 29.97 and 23.976 fps stay themselves: rounding lets one window hold 30
    # intervals in 1000 ms, and the busiest windows' mean is 29.971
    for rate in (30000 / 1001, 24000 / 1001):
        ms = tuple(round(1000 * i / rate) for i in range(200))
        assert peak_rate(FrameIndex(0, tb, ms, (True,) * 200, 42)) == pytest.approx(rate)
    # a single 1 ms gap (timestamp jitter) does not make it 1000 fps: 25 fps and one frame more
    jit = tuple(i * 40 for i in range(50)) + (1999, 2000) + tuple(2040 + i * 40 for i in range(48))
    assert peak_rate(FrameIndex(0, tb, jit, (True,) * 100, 40)) == pytest.approx(26, abs=0.1)
    # nor does a burst of frames 1 ms apart: the intervals are counted over half a second at least
    burst = (0, 1, 2, 3000) + tuple(3040 + 40 * i for i in range(30))
    assert peak_rate(FrameIndex(0, tb, burst, (True,) * 34, 40)) == pytest.approx(25.0)
    # shorter than a second: the rate over what there is
    assert peak_rate(FrameIndex(0, tb, (0, 100, 200, 300), (True,) * 4, 100)) == pytest.approx(10.0)


@pytest.mark.parametrize("codec,container,ext", [("libx264", "mpegts", "ts"), ("libsvtav1", "matroska", "mkv"),
                                                 ("libsvtav1", "mp4", "mp4")])
def test_retime_any_rendition_container(tmp_path: Path, codec, container, ext):
    """retime gives every frame its time in each container a rendition can have (MPEG-TS of a mixed
    H.264 rung, Matroska of a mixed AV1 rung, MP4), without re-encoding."""
    from pershot.renditions import retime

    f = tmp_path / f"v.{ext}"
    ffmpeg.run(["-y", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=160x96:rate=10", "-frames:v", "12",
                "-pix_fmt", "yuv420p", "-c:v", codec, "-f", container, str(f)], what="encoding failed")
    tb = Fraction(1, 1000)
    times = [0, 100, 200, 300, 350, 400, 450, 500, 700, 900, 1000, 1100, 1250]  # 12 frames and the end
    retime(f, times, tb, container)
    got = _pts_s(f)
    assert len(got) == 12
    assert [round(t - got[0], 3) for t in got] == [t / 1000 for t in times[:-1]]
    import av

    with av.open(str(f)) as c:
        assert sum(1 for _ in c.decode(video=0)) == 12  # still decodes, every frame
    assert not list(tmp_path.glob("*.retime"))


def _pts_s(path) -> list[float]:
    import av

    with av.open(str(path)) as c:
        st = c.streams.video[0]
        pk = [p for p in c.demux(st) if p.size]
        pts = sorted(float(p.pts * st.time_base) for p in pk)
        dts = [float(p.dts * st.time_base) for p in pk]
        assert all(b > a for a, b in zip(dts, dts[1:]))  # decode times rise
        assert all(float(p.dts * st.time_base) <= float(p.pts * st.time_base) for p in pk)
    return pts


def test_vfr_renditions_keep_the_source_timing(media_dir: Path, tmp_path: Path):
    cfr = cut(media_dir / "testvideo.mp4", tmp_path / "c.mp4", start_frame=240, frames=60, height=90)
    vfr = tmp_path / "vfr.mkv"  # 30 frames at 30 fps, then 30 at 15 fps (3 s), with a tone
    ffmpeg.run(["-y", "-v", "error", "-i", str(cfr), "-f", "lavfi", "-i", "sine=frequency=440:duration=3",
                "-vf", "setpts='if(lt(N,30),N/30,1+(N-30)/15)/TB'", "-fps_mode", "vfr", "-map", "0:v", "-map", "1:a",
                "-c:v", "libx264", "-crf", "18", "-c:a", "aac", str(vfr)], what="making a VFR clip failed")
    info = probe_source(vfr)
    assert info.is_vfr and info.frame_count == 60
    idx = frame_index(vfr)
    src = [float((p - idx.pts[0]) * idx.time_base) for p in idx.pts]
    shots = [Shot(index=0, start_frame=0, end_frame=30, start_s=0.0, end_s=1.0),
             Shot(index=1, start_frame=30, end_frame=60, start_s=1.0, end_s=3.0)]
    grid = {"name": "vfr", "heights": [90], "crf": [26, 36], "encoders": {"x264": {"presets": ["ultrafast", "medium"]}}}
    out = tmp_path / "lad"
    api.ladder(vfr, grid=grid, complexity=1.0, rungs=2, out_dir=out, shots=shots, jobs=1, plots=False)
    res = api.encode_renditions(out / "ladder.json", out / "r", jobs=1, audio="aac:64", dash=True)
    video = [r for r in res if r.kind == "video"]
    assert video
    from pershot.bitstream import rate_level, signalled_level

    peak = peak_rate(idx)  # 29.97 for a second: 160x90 needs level 1.1, where 20 fps (the average) fits in 1
    assert (rate_level("h264", 160, 90, peak), rate_level("h264", 160, 90, float(info.fps))) == (11, 10)
    for r in video:
        assert signalled_level(r.path) == ("h264", 11)  # the level of its busiest second, not of the average
        got = _pts_s(r.path)
        assert len(got) == 60
        assert max(abs(a - b) for a, b in zip(got, src)) < 1e-3  # each frame where the source shows it
        span = float((idx.pts[-1] - idx.pts[0] + idx.last_duration) * idx.time_base)
        assert r.duration_s == pytest.approx(span, abs=1e-3) == info.duration_s
    audio = next(r for r in res if r.kind == "audio")
    assert audio.duration_s == pytest.approx(3.0, abs=0.05)
    mpd = (out / "r" / "dash" / "manifest.mpd").read_text()  # the rungs' segments still line up
    # one frame rate for the set, the average over the whole span (ISO/IEC 23009-1 for a varying rate): no
    # representation of its own says another (ffmpeg's left out the last frame's 67 ms)
    sets = re.findall(r"<AdaptationSet [^>]*>", mpd)
    assert f'frameRate="{info.fps.numerator}/{info.fps.denominator}"' in sets[0]
    assert "maxFrameRate" not in mpd and not re.search(r"<Representation [^>]*frameRate", mpd)
    from pershot.hls import package, read_playlist

    master = package(res, out / "r" / "hls", fps=peak_rate(idx)).read_text()
    # HLS: the highest rate of the variant; the clip's first 30 frames span 1.001 s (testvideo's time base): 29.97
    assert "FRAME-RATE=29.970" in master
    # each variant's segments last as long as its rendition: the last one to the last frame's end
    for k, r in enumerate(video):
        seg = read_playlist(out / "r" / "hls" / f"rung{r.rung:02d}" / "index.m3u8")
        assert sum(d for _, d in seg.items) == pytest.approx(r.duration_s, abs=1e-5)
    # cfr=True: evenly spaced at the average rate (60 frames in 3 s: 20 fps)
    res = api.encode_renditions(out / "ladder.json", out / "cfr", jobs=1, cfr=True)
    assert signalled_level(res[0].path) == ("h264", 10)  # evenly spaced at 20 fps: the encoder's own level
    got = _pts_s(res[0].path)
    assert got[30] == pytest.approx(30 / float(info.fps), abs=1e-3) and abs(got[30] - src[30]) > 0.4


def test_level_tables_know_the_common_formats():
    from pershot.bitstream import rate_level

    # H.264 table A-1: 1080p30 is level 4, 1080p60 4.2, 2160p60 5.2; HEVC table A.8: 4, 4.1, 5.1
    assert [rate_level("h264", 1920, 1080, f) for f in (30, 60)] == [40, 42]
    assert rate_level("h264", 3840, 2160, 60) == 52 and rate_level("h264", 1280, 720, 30) == 31
    assert [rate_level("hevc", 1920, 1080, f) for f in (30, 60)] == [120, 123]
    assert rate_level("hevc", 3840, 2160, 60) == 153 and rate_level("hevc", 16384, 8640, 30) is None
    # 29.97 fps of 320x180 is 7,193 macroblocks a second: over level 1.2's 6,000
    assert (rate_level("h264", 320, 180, 30000 / 1001), rate_level("h264", 320, 180, 20.47)) == (13, 12)


@pytest.mark.parametrize("codec,fmt", [("libx264", "h264"), ("libx265", "hevc"), ("libsvtav1", "obu")])
def test_peak_level_filter_raises_only_the_signalled_level(tmp_path: Path, codec, fmt):
    """A shot encoded at 30 fps whose rendition plays 120 fps at its busiest: the join signals the level
    120 fps needs (H.264 1.3 -> 3 at 320x180, HEVC 2 -> 2.1) with every decoded picture unchanged;
    at the encode's own rate nothing changes. AV1 has no filter for it: None."""
    import hashlib

    import av

    from pershot.bitstream import signalled_level
    from pershot.renditions import concat_list, join_args, peak_level_filter

    shot = tmp_path / ("s.ts" if fmt != "obu" else "s.mp4")
    ffmpeg.run(["-y", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=30", "-frames:v", "6",
                "-pix_fmt", "yuv420p", "-c:v", codec, *(["-x265-params", "log-level=error"] if fmt == "hevc" else []),
                str(shot)], what="encoding failed")
    assert peak_level_filter([shot], {(320, 180)}, 30.0) is None
    got = peak_level_filter([shot], {(320, 180)}, 120.0)
    if fmt == "obu":
        assert got is None  # no filter: AV1's sequence headers are rewritten as the rendition is retimed
        return
    before = signalled_level(shot)
    want = {"h264": 30, "hevc": 63}[fmt]
    assert before[1] < want and got == f"{fmt}_metadata=level={want}"
    lst = tmp_path / "l.txt"
    lst.write_text(concat_list([str(shot)]), encoding="utf-8")
    out = tmp_path / "joined.mp4"
    ffmpeg.run(join_args(str(lst), str(out), "mp4", {"h264": "avc3", "hevc": "hev1"}[fmt], None, got))
    assert signalled_level(out) == (fmt, want)

    def frames(path):
        with av.open(str(path)) as c:
            return [hashlib.sha1(f.to_ndarray(format="yuv420p").tobytes()).hexdigest() for f in c.decode(video=0)]

    assert frames(out) == frames(shot) and len(frames(out)) == 6



def test_an_av1_rendition_s_sequence_headers_signal_its_busiest_second(tmp_path: Path):
    """SVT-AV1 at 30 fps signals 1280x720 as level 3.1 (seq_level_idx 5); played at 60 fps it needs 4.0 (8),
    whose tier bit the header did not have: retime rewrites every sequence header (and so av1C), each
    decoded picture unchanged. A header that signals more already is left as it is."""
    import hashlib
    import shutil

    import av

    from pershot.bitstream import _sequence_with_level, av1_stream, rate_level, signalled_level
    from pershot.renditions import peak_level, retime

    src = tmp_path / "a.mp4"
    ffmpeg.run(["-y", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=30", "-frames:v", "8",
                "-c:v", "libsvtav1", "-preset", "12", "-crf", "40", str(src)], what="encoding failed")
    assert signalled_level(src) == ("av1", 5) and rate_level("av1", 1280, 720, 60) == 8
    assert peak_level([src], {(1280, 720)}, 30.0) is None and peak_level([src], {(1280, 720)}, 60.0) == ("av1", 8)

    def pictures(path):
        with av.open(str(path)) as c:
            return [hashlib.sha1(f.to_ndarray().tobytes()).hexdigest() for f in c.decode(video=0)]

    for container, ext in (("mp4", "mp4"), ("matroska", "mkv")):
        dst = tmp_path / f"r.{ext}"
        shutil.copy(src, tmp_path / "copy.mp4")
        ffmpeg.run(["-y", "-v", "error", "-i", str(tmp_path / "copy.mp4"), "-c", "copy", str(dst)])
        retime(dst, [i * 1000 // 60 for i in range(9)], Fraction(1, 1000), container, None, 8)
        assert signalled_level(dst) == ("av1", 8) and pictures(dst) == pictures(src)
        if container == "mp4":
            assert av1_stream(dst).codec.startswith("av01.0.08M.")  # av1C says it too
    # raising never lowers; a header with timing information is left as it is (its fields are not read)
    header = bytes.fromhex("0a0b0000000240")  # not a real stream: profile 0, level 0, no timing info
    assert _sequence_with_level(header, 0) == header
    timed = bytes([0b00000100]) + bytes(6)
    assert _sequence_with_level(timed, 9) == timed


def test_a_vfr_av1_ladder_signals_the_level_of_its_busiest_second(media_dir: Path, tmp_path: Path):
    """640x360 at 60 fps for a second, then 10 fps (30 on average): SVT-AV1 encodes at the average rate and
    signals level 2.1, which holds 36 fps of that size; the rendition plays 60 and signals 3.0."""
    from pershot.bitstream import rate_level, signalled_level

    cfr = cut(media_dir / "testvideo.mp4", tmp_path / "c.mp4", start_frame=240, frames=75, height=360)
    vfr = tmp_path / "vfr.mkv"
    ffmpeg.run(["-y", "-v", "error", "-i", str(cfr), "-vf", "setpts='if(lt(N,60),N/60,1+(N-60)/10)/TB'",
                "-fps_mode", "passthrough", "-enc_time_base", "1/600", "-c:v", "libx264", "-crf", "18", str(vfr)],
               what="making a VFR clip failed")
    info = probe_source(vfr)
    assert info.is_vfr and info.frame_count == 75
    assert rate_level("av1", 640, 360, float(info.fps)) == 1 and rate_level("av1", 640, 360, 60) == 4
    shots = [Shot(index=0, start_frame=0, end_frame=75, start_s=0.0, end_s=2.5)]
    grid = {"name": "av1", "heights": [360], "crf": [45], "encoders": {"svtav1": {"presets": ["12"]}}}
    out = tmp_path / "lad"
    api.ladder(vfr, grid=grid, complexity=1.0, rungs=1, out_dir=out, shots=shots, jobs=1, plots=False)
    (r,) = [x for x in api.encode_renditions(out / "ladder.json", out / "r", jobs=1) if x.kind == "video"]
    assert signalled_level(r.path) == ("av1", 4) and r.frames == 75
    cfr_r = api.encode_renditions(out / "ladder.json", out / "cfr", jobs=1, cfr=True)[0]
    assert signalled_level(cfr_r.path) == ("av1", 1)  # evenly spaced at the average rate: SVT-AV1's own
