"""Odd real-world inputs, made at test time with the embedded ffmpeg (no ../shared/media needed).

Each test builds a tiny source (<= 2 s, <= 360p) that once broke the video pipeline
and checks the fixed behaviour: an exact result, or a one-line error with its own code.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pershot import ffmpeg
from pershot.errors import MediaError
from pershot.media import extract_shot, frame_index, probe_source


def make(dst: Path, *args: str) -> Path:
    ffmpeg.run(["-y", "-v", "error", *args, str(dst)], what=f"making test input {dst.name} failed")
    return dst


def lavfi(spec: str) -> list[str]:
    return ["-f", "lavfi", "-i", spec]


def y4m_luma(path: str | Path, width: int, height: int) -> list[np.ndarray]:
    """Luma planes of a 4:2:0 8-bit Y4M file with plain FRAME headers."""
    data = Path(path).read_bytes()
    body = data[data.index(b"\n") + 1:]
    frame = width * height + 2 * ((width + 1) // 2) * ((height + 1) // 2)
    per = len(b"FRAME\n") + frame
    return [np.frombuffer(body[i * per + 6:i * per + 6 + width * height], np.uint8).reshape(height, width)
            for i in range(len(body) // per)]


def decoded_luma(path: Path) -> list[np.ndarray]:
    """Every frame's luma, display order, as PyAV decodes the first video stream."""
    import av

    with av.open(str(path)) as c:
        return [f.reformat(format="yuv420p").to_ndarray()[: f.height] for f in c.decode(c.streams.video[0])]


# ---------------------------------------------------------------- containers


def test_avi_with_b_frames_cut_frame_exact(tmp_path: Path) -> None:
    """H.264 with B-frames in AVI: the container stores no presentation times, ffmpeg guesses
    them one tick apart from the decoder's; a middle shot cut by those came out shifted by a
    frame (right count, wrong frames) and the first shot a frame short."""
    src = make(tmp_path / "bf.avi", *lavfi("testsrc2=s=160x90:r=24:d=1.25"), "-c:v", "libx264", "-bf", "2",
               "-g", "12")
    idx = frame_index(src)
    assert not idx.pts_exact
    info = probe_source(src)
    assert info.frame_count == 30
    want = decoded_luma(src)
    assert len(want) == 30
    for a, b in [(0, 10), (10, 20), (20, 30)]:
        ex = extract_shot(info, a, b, tmp_path / f"x{a}", [], reference=True)
        got = y4m_luma(ex.reference, 160, 90)
        assert len(got) == b - a
        for i, plane in enumerate(got):
            assert np.array_equal(plane, want[a + i]), f"shot [{a}, {b}) frame {i} is not source frame {a + i}"


def test_avi_cut_at_a_b_frame_lands_on_the_cut(tmp_path: Path) -> None:
    """Scene cuts in such an AVI were placed from the guessed timestamps: up to 3 frames off
    (a cut at 20 came out at 23); the same stream in MP4 cut right."""
    from pershot.shots import detect_shots

    for cut in (19, 20):
        src = make(tmp_path / f"cut{cut}.avi", *lavfi("testsrc2=s=160x90:r=24:d=2"), *lavfi("mandelbrot=s=160x90:r=24"),
                   "-filter_complex", f"[0:v]trim=end_frame={cut}[a];[a][1:v]concat=n=2[c];[c]trim=end_frame=40[v]",
                   "-map", "[v]", "-c:v", "libx264", "-x264-params", "scenecut=0:keyint=48:bframes=3")
        assert not frame_index(src).pts_exact
        shots = detect_shots(src, "content", min_shot_s=0.1)
        assert [(s.start_frame, s.end_frame) for s in shots] == [(0, cut), (cut, 40)]


def test_avi_remuxed_from_mp4_is_whole_and_24fps(tmp_path: Path) -> None:
    """An MP4 copied into AVI keeps a 1/600 time base: AVI's declared length (900 ticks) was read
    as 900 frames ('truncated video: 36 of 900 frames'), and 1-tick packet durations bent the rate."""
    mp4 = make(tmp_path / "a.mp4", *lavfi("testsrc2=s=160x90:r=24:d=1.5"), "-c:v", "libx264", "-bf", "2")
    src = make(tmp_path / "a.avi", "-i", str(mp4), "-c", "copy")
    info = probe_source(src)
    assert (info.frame_count, info.fps, info.duration_s, info.is_vfr) == (36, 24, 1.5, False)
    want = decoded_luma(src)
    ex = extract_shot(info, 12, 24, tmp_path / "x", [], reference=True)
    got = y4m_luma(ex.reference, 160, 90)
    assert len(got) == 12 and all(np.array_equal(g, want[12 + i]) for i, g in enumerate(got))


@pytest.mark.parametrize("name, codec", [("bf.mp4", ["-c:v", "libx264", "-bf", "2"]),
                                         ("nob.ts", ["-c:v", "mpeg2video", "-bf", "0"])])
def test_stored_timestamps_stay_exact(tmp_path: Path, name: str, codec: list[str]) -> None:
    """Containers that store presentation times keep them (and seeking), even where the decoder
    may reorder but the stream happens to have no B-frame (MPEG-2 always declares a delay)."""
    src = make(tmp_path / name, *lavfi("testsrc2=s=160x90:r=24:d=0.5"), *codec)
    assert frame_index(src).pts_exact


@pytest.mark.parametrize("ext, codec", [("m4a", "aac"), ("mp3", "libmp3lame")])
def test_audio_with_cover_art_has_no_video(tmp_path: Path, ext: str, codec: str) -> None:
    """Cover art is a one-frame 'video' stream flagged attached_pic: not a video to encode
    (it was taken for one and failed with a misleading 'no timestamps, remux it')."""
    cover = make(tmp_path / "cover.png", *lavfi("smptebars=s=160x90"), "-frames:v", "1", "-update", "1")
    src = make(tmp_path / f"song.{ext}", *lavfi("sine=d=0.5"), "-i", str(cover), "-map", "0", "-map", "1",
               "-c:a", codec, "-c:v", "copy", "-disposition:v:0", "attached_pic")
    with pytest.raises(MediaError, match="no video stream.*cover art"):
        probe_source(src)


def test_video_with_cover_art_uses_the_video(tmp_path: Path) -> None:
    clip = make(tmp_path / "clip.mp4", *lavfi("testsrc2=s=160x90:r=24:d=0.5"), "-c:v", "libx264")
    cover = make(tmp_path / "cover.png", *lavfi("smptebars=s=64x36"), "-frames:v", "1", "-update", "1")
    src = make(tmp_path / "tagged.mp4", "-i", str(clip), "-i", str(cover), "-map", "0", "-map", "1", "-c", "copy",
               "-disposition:v:1", "attached_pic")
    info = probe_source(src)
    assert (info.width, info.height, info.frame_count) == (160, 90, 12)
    ex = extract_shot(info, 0, 12, tmp_path / "x", [], reference=True)
    assert len(y4m_luma(ex.reference, 160, 90)) == 12


@pytest.mark.parametrize("ext", ["mkv", "webm"])
def test_truncated_matroska_is_an_error(tmp_path: Path, ext: str) -> None:
    """A Matroska file cut in half still opens and demuxes: it was indexed and probed as a
    shorter video. Its video track's DURATION tag says what is missing."""
    codec = ["-c:v", "libx264"] if ext == "mkv" else ["-c:v", "libvpx-vp9", "-deadline", "realtime", "-b:v", "200k"]
    whole = make(tmp_path / f"whole.{ext}", *lavfi("testsrc2=s=160x90:r=24:d=1.5"), *codec)
    assert probe_source(whole).frame_count == 36
    data = whole.read_bytes()
    cut = tmp_path / f"cut.{ext}"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(MediaError, match="truncated video: its frames cover .* of the 1.500 s"):
        probe_source(cut)


def test_matroska_with_longer_audio_and_vfr_are_whole(tmp_path: Path) -> None:
    """The video's own DURATION is checked, not the file's (audio may run longer); VFR spans count."""
    av_ = make(tmp_path / "av.mkv", *lavfi("testsrc2=s=160x90:r=24:d=1"), *lavfi("sine=d=3"), "-c:v", "libx264",
               "-c:a", "libopus")
    assert probe_source(av_).frame_count == 24
    vfr = make(tmp_path / "vfr.mkv", *lavfi("testsrc2=s=160x90:r=24:d=1"), "-vf",
               "setpts='(N/24+floor(N/2)/48)/TB'", "-fps_mode", "passthrough", "-c:v", "libx264")
    info = probe_source(vfr)
    assert info.is_vfr and info.frame_count == 24


@pytest.mark.parametrize("codec", [["-c:v", "libx264", "-bf", "3", "-g", "12"],
                                   ["-c:v", "libx265", "-x265-params",
                                    "keyint=12:min-keyint=12:open-gop=1:bframes=4:log-level=error"]])
def test_transport_stream_cut_mid_gop(tmp_path: Path, codec: list[str]) -> None:
    """A TS capture that starts mid-GOP: the frames before the first keyframe (and, open GOP,
    the leading pictures shown before it) cannot be decoded. They were indexed as frames, so
    probing failed ('gave 24 frames, expected 35')."""
    whole = make(tmp_path / "whole.ts", *lavfi("testsrc2=s=160x90:r=24:d=2"), *codec)
    data = whole.read_bytes()
    src = tmp_path / "capture.ts"
    src.write_bytes(data[(len(data) * 3 // 10) // 188 * 188:])
    info = probe_source(src)
    want = decoded_luma(src)
    assert info.frame_count == len(want) > 12
    n = info.frame_count
    ex = extract_shot(info, n - 10, n, tmp_path / "x", [], reference=True)
    got = y4m_luma(ex.reference, 160, 90)
    assert len(got) == 10 and all(np.array_equal(g, want[n - 10 + i]) for i, g in enumerate(got))
    ex = extract_shot(info, 0, n, tmp_path / "y", [], reference=True)
    assert len(y4m_luma(ex.reference, 160, 90)) == n


def test_text_file_is_not_a_video(tmp_path: Path) -> None:
    """ffmpeg's tty demuxer draws a .txt file as ANSI art: a README.txt came out as a
    640x400 'video' with shots, probes and a ladder."""
    src = tmp_path / "notes.txt"
    src.write_text("a plain text file, not a video\n" * 200)
    with pytest.raises(MediaError, match="not a video: notes.txt is text"):
        probe_source(src)


# ---------------------------------------------------------------- sizes


def run_cli(capsys, *argv: str) -> tuple[int, str]:
    from pershot.cli import main

    rc = main(list(argv))
    err = capsys.readouterr().err
    return rc, err


def test_too_small_to_score_is_a_clear_error(tmp_path: Path, capsys) -> None:
    """libvmaf crashed (SIGSEGV) on frames under 18 pixels a side: it surfaced as
    'scoring failed (exit -11)' from inside a worker, after the encodes."""
    src = make(tmp_path / "tiny.mkv", *lavfi("testsrc2=s=16x16:r=24:d=0.5"), "-c:v", "ffv1")
    rc, err = run_cli(capsys, "probe", "-q", "--grid", "test", "-j", "1", "--no-cache", "-o", str(tmp_path / "o"),
                      str(src))
    assert rc == MediaError.exit_code == 3
    assert err.strip().splitlines() == ["pershot: error: tiny.mkv is 16x16 as displayed: too small to score "
                                        "(VMAF needs at least 18x18 pixels)"]
    assert not (tmp_path / "o" / "probes.csv").exists()


def test_smallest_scorable_source_probes(tmp_path: Path, capsys) -> None:
    src = make(tmp_path / "small.mkv", *lavfi("testsrc2=s=18x18:r=24:d=0.25"), "-c:v", "ffv1")
    rc, err = run_cli(capsys, "probe", "-q", "--grid", "test", "-j", "1", "--no-cache", "-o", str(tmp_path / "o"),
                      str(src))
    assert rc == 0, err
    import pandas as pd

    df = pd.read_csv(tmp_path / "o" / "probes.csv")
    assert len(df) == 4 and set(df["frames"]) == {6} and df["vmaf"].notna().all()


# ---------------------------------------------------------------- workers


def _die_on_one(x: int) -> int:
    import os
    import signal

    if x == 1:
        os.kill(os.getpid(), signal.SIGKILL)
    return x


def test_killed_worker_is_a_one_line_project_error() -> None:
    """A worker killed by a signal (the OOM killer) raised concurrent.futures' BrokenProcessPool:
    the CLI showed a traceback instead of one line."""
    from pershot.errors import PershotError
    from pershot.executors import LocalExecutor

    ex = LocalExecutor(2)
    with pytest.raises(PershotError, match="worker process died abruptly"):
        list(ex.map(_die_on_one, [0, 1, 2]))


def test_decoder_warnings_stay_off_stderr(tmp_path: Path) -> None:
    """Corrupt or mid-GOP input made libav's own log lines ('[h264 @ 0x...] non-existing PPS 0
    referenced', dozens of them) spill onto stderr before pershot's output; PERSHOT_LIBAV_LOG=1
    lets them through for debugging."""
    import os
    import subprocess
    import sys

    whole = make(tmp_path / "whole.ts", *lavfi("testsrc2=s=160x90:r=24:d=2"), "-c:v", "libx264", "-bf", "3",
                 "-g", "12")
    data = whole.read_bytes()
    src = tmp_path / "capture.ts"
    src.write_bytes(data[(len(data) * 3 // 10) // 188 * 188:])
    code = "import sys; from pershot.cli import main; sys.exit(main(sys.argv[1:]))"
    runs = {}
    for flag in ("", "1"):
        env = {**os.environ, "PERSHOT_LIBAV_LOG": flag}
        runs[flag] = subprocess.run([sys.executable, "-c", code, "shots", str(src), "-o", str(tmp_path / f"o{flag}")],
                                    capture_output=True, env=env, timeout=120)
    assert runs[""].returncode == 0 and (tmp_path / "o" / "shots.csv").is_file()
    assert b"[h264 @" not in runs[""].stderr
    assert runs["1"].returncode == 0 and b"[h264 @" in runs["1"].stderr


def test_probes_of_sources_cut_by_frame_count_have_keys_of_their_own(tmp_path: Path) -> None:
    """Probes cached before AVI-with-B-frames shots were cut by frame count came from shifted
    frames; the same shot cut the new way must not find them."""
    from pershot import encoders
    from pershot.grid import load_grid
    from pershot.probe import plan_probes, probe_key
    from pershot.shots import Shot

    src = make(tmp_path / "bf.avi", *lavfi("testsrc2=s=160x90:r=24:d=1"), "-c:v", "libx264", "-bf", "2", "-g", "12")
    info = probe_source(src)
    assert not frame_index(src).pts_exact
    shot = Shot(0, 0, info.frame_count, 0.0, info.frame_count / float(info.fps))
    grid = load_grid("test")
    specs = [s for j in plan_probes(info, [shot], grid).jobs for s in j.probes]
    assert specs
    ffv = ffmpeg.ffmpeg_info().version
    for s in specs:
        args = (info, shot, s.encode, grid.metric, encoders.version(s.encode.encoder), ffv)
        assert s.key == probe_key(*args, True)
        assert s.key != probe_key(*args)  # the key such a probe had before


@pytest.mark.parametrize("ext", ["mkv", "nut"])
def test_poster_track_stored_before_the_film(tmp_path: Path, ext: str) -> None:
    """A poster muxed as a one-frame video track before the film (Matroska, NUT keep it as a
    plain video stream): pershot took the poster for the video (one shot of one frame), and
    PySceneDetect, which always reads the first video stream, would have scanned the poster."""
    from pershot.shots import detect_cuts

    film = make(tmp_path / "film.mp4", *lavfi("testsrc2=s=160x90:r=24:d=1"), *lavfi("mandelbrot=s=160x90:r=24"),
                "-filter_complex", "[1:v]trim=end_frame=24[m];[0:v][m]concat=n=2:v=1[v]", "-map", "[v]",
                "-c:v", "libx264", "-bf", "2")
    poster = make(tmp_path / "poster.png", *lavfi("color=c=red:s=160x90"), "-frames:v", "1")
    src = make(tmp_path / f"with_poster.{ext}", "-i", str(poster), "-i", str(film), "-map", "0", "-map", "1",
               "-c:v:0", "mjpeg", "-c:v:1", "copy")
    idx = frame_index(src)
    assert idx.stream_index == 1 and not idx.first_video
    info = probe_source(src)
    assert info.frame_count == 48
    assert detect_cuts(info, "content") == [24]
    want = decoded_luma(film)
    ex = extract_shot(info, 20, 30, tmp_path / "x", [], reference=True)
    got = y4m_luma(ex.reference, 160, 90)
    assert len(got) == 10 and all(np.array_equal(g, want[20 + i]) for i, g in enumerate(got))


def test_shot_detection_reports_progress_per_frame(tmp_path: Path) -> None:
    """The progress callback was PySceneDetect's, which fires on cuts only: on a clip without
    cuts the bar sat at 0 until the end."""
    from pershot.shots import detect_cuts

    src = make(tmp_path / "still.mp4", *lavfi("testsrc2=s=160x90:r=24:d=3"), "-c:v", "libx264")
    info = probe_source(src)
    calls: list[tuple[int, int]] = []
    assert detect_cuts(info, "content", progress=lambda done, total: calls.append((done, total))) == []
    done = [d for d, _t in calls]
    assert calls[-1] == (72, 72) and done == sorted(done)
    assert [d for d in done if d < 72] == [25, 50]


def test_shot_detection_frees_its_decoder_without_the_cycle_collector(tmp_path: Path) -> None:
    """A decoder kept alive by a reference cycle was freed by the cycle collector inside a forked
    probe worker, where destroying its frame-thread conditions hung forever (CI stalled in
    test_probe_writes_both_csvs_and_uses_the_cache)."""
    import gc

    from scenedetect.backends.pyav import VideoStreamAv

    from pershot.shots import detect_cuts

    src = make(tmp_path / "clip.avi", *lavfi("testsrc2=s=160x90:r=24:d=1"), "-c:v", "libx264", "-bf", "2")
    plain = make(tmp_path / "clip.mp4", *lavfi("testsrc2=s=160x90:r=24:d=1"), "-c:v", "libx264")
    for path in (src, plain):  # the read-order path (AVI with B-frames) and the timestamp path
        info = probe_source(path)
        gc.collect()
        gc.disable()
        try:
            detect_cuts(info, "content", progress=lambda *_: None)
            alive = [o for o in gc.get_objects() if type(o) is VideoStreamAv]  # no ABC checks on every object
        finally:
            gc.enable()
        assert alive == [], f"{path.name}: a VideoStreamAv outlived shot detection"


def test_stream_option_picks_any_video_stream(tmp_path: Path, capsys) -> None:
    """Two real video streams (an alternate angle): --stream N uses stream N for every stage (index,
    facts, shot detection, frame extraction, probe cache keys, ladder.json); a stream that is not
    video, or not there, is a one-line input error (exit 2) listing the video streams."""
    from dataclasses import replace

    from pershot import encoders
    from pershot.cli import main
    from pershot.errors import InputError
    from pershot.grid import load_grid
    from pershot.probe import plan_probes, probe_key
    from pershot.shots import Shot, detect_cuts

    a = make(tmp_path / "a.mp4", *lavfi("testsrc2=s=160x90:r=24:d=1"), *lavfi("mandelbrot=s=160x90:r=24"),
             "-filter_complex", "[1:v]trim=end_frame=24[m];[0:v][m]concat=n=2:v=1[v]", "-map", "[v]",
             "-c:v", "libx264")
    b = make(tmp_path / "b.mp4", *lavfi("smptebars=s=128x72:r=24:d=1.25"), "-c:v", "libx264")
    src = make(tmp_path / "angles.mkv", "-i", str(a), "-i", str(b), *lavfi("sine=d=1"), "-map", "0", "-map", "1",
               "-map", "2", "-c:v", "copy", "-c:a", "flac")
    auto = probe_source(src)
    first = probe_source(src, 0)
    second = probe_source(src, 1)
    assert (first.frame_count, first.width) == (48, 160) and first.stream == 0
    assert (second.frame_count, second.width) == (30, 128) and second.stream == 1
    assert auto.stream is None and auto.frame_count in (48, 30)
    assert frame_index(src, 1).stream_index == 1 and not frame_index(src, 1).first_video
    assert detect_cuts(first, "content") == [24]
    assert detect_cuts(second, "content") == []
    want = decoded_luma(b)
    ex = extract_shot(second, 5, 15, tmp_path / "x", [], reference=True)
    got = y4m_luma(ex.reference, 128, 72)
    assert len(got) == 10 and all(np.array_equal(g, want[5 + i]) for i, g in enumerate(got))
    # probe cache keys: a stream asked for gets keys of its own; the automatic choice keeps the old ones
    grid = load_grid("test")
    shot = [Shot(0, 0, 24, 0.0, 1.0)]
    def keys(info):
        return frozenset(s.key for j in plan_probes(info, shot, grid).jobs for s in j.probes)

    assert len({keys(auto), keys(first), keys(second)}) == 3
    # the automatic choice's keys hold no stream (they stay those of the probes cached before)
    ffv = ffmpeg.ffmpeg_info().version
    s0 = next(iter(plan_probes(auto, shot, grid).jobs)).probes[0]
    assert s0.key == probe_key(auto, shot[0], s0.encode, grid.metric, encoders.version(s0.encode.encoder), ffv)
    assert s0.key != probe_key(replace(auto, stream=0), shot[0], s0.encode, grid.metric,
                               encoders.version(s0.encode.encoder), ffv)
    # bad streams
    with pytest.raises(InputError, match=r"stream 2 of angles.mkv is audio, not video \(its video streams: 0, 1\)"):
        probe_source(src, 2)
    with pytest.raises(InputError, match="has no stream 7"):
        probe_source(src, 7)
    assert main(["shots", str(src), "--stream", "1", "-o", str(tmp_path / "o"), "-q"]) == 0
    out = tmp_path / "lad"
    assert main(["ladder", str(src), "--stream", "1", "--grid", "test", "--rungs", "2", "--complexity", "1",
                 "-o", str(out), "-q", "--no-plots", "--no-cache"]) == 0
    capsys.readouterr()
    import json

    import pandas as pd

    doc = json.loads((out / "ladder.json").read_text())
    assert doc["source"]["stream"] == 1 and doc["source"]["frames"] == 30 and doc["source"]["width"] == 128
    assert pd.read_csv(out / "shots.csv")["frames"].sum() == 30
    assert main(["shots", str(src), "--stream", "2", "-o", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "is audio, not video" in err[0]
    with pytest.raises(SystemExit) as ei:
        main(["shots", str(src), "--stream", "x"])
    assert ei.value.code == 2


def test_an_ffmpeg_without_the_bitstream_filter_x264_needs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    """x264 probes drop its settings SEI with filter_units: an ffmpeg without that filter is one clear
    error before any encode (not one failed probe per grid point), and doctor says what is missing."""
    import dataclasses

    from pershot.cli import main
    from pershot.errors import ConfigError
    from pershot.grid import load_grid
    from pershot.probe import plan_probes
    from pershot.shots import Shot

    src = make(tmp_path / "a.mp4", *lavfi("testsrc2=s=160x90:r=24:d=1"), "-c:v", "libx264")
    info = probe_source(src)
    shot = Shot(0, 0, info.frame_count, 0.0, 1.0)
    real = ffmpeg.ffmpeg_info()
    assert "filter_units" in real.bsfs and plan_probes(info, [shot], load_grid("test")).jobs
    lacking = dataclasses.replace(real, bsfs=real.bsfs - {"filter_units"})
    monkeypatch.setattr(ffmpeg, "ffmpeg_info", lambda: lacking)
    with pytest.raises(ConfigError, match="no filter_units bitstream filter"):
        plan_probes(info, [shot], load_grid("test"))
    assert main(["doctor"]) != 0
    out = capsys.readouterr().out
    assert "NO  libx264" in out and "filter_units" in out


def test_matroska_that_starts_late_is_whole(tmp_path: Path) -> None:
    """ffmpeg's Matroska DURATION tag says where a stream ends: a whole file whose timestamps start at
    3.3 s (a capture's) was refused as truncated ("1.000 s of the 4.300 s"); one cut in half still is."""
    late = make(tmp_path / "late.mkv", *lavfi("testsrc2=s=160x90:r=24:d=1"), "-c:v", "libx264",
                "-output_ts_offset", "3.3")
    info = probe_source(late)
    assert info.frame_count == 24 and info.duration_s == pytest.approx(1.0)
    ex = extract_shot(info, 0, 24, tmp_path / "x", [], reference=True)
    assert len(y4m_luma(ex.reference, 160, 90)) == 24
    data = late.read_bytes()
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(MediaError, match="truncated video"):
        probe_source(cut)
