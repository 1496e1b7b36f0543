"""The audio rendition: the source's audio over the span of its video, starting with it, AAC in MP4."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import cut

from pershot import api, ffmpeg
from pershot.errors import InputError
from pershot.renditions import AUDIO_DEFAULT_KBPS, default_audio_kbps, parse_audio
from pershot.shots import Shot

GRID = {"name": "audio", "heights": [90], "crf": [32], "encoders": {"x264": {"presets": ["veryfast"]}}}
#: a 1 kHz tone from 0.5 s to 0.7 s of the audio track's own time, silence elsewhere
TONE = "aevalsrc=exprs='if(between(t,0.5,0.7),0.5*sin(2*PI*1000*t),0)':sample_rate=48000:duration=3"


def test_parse_audio():
    assert parse_audio(None) is None and parse_audio("none") is None and parse_audio("") is None
    assert parse_audio("aac") == AUDIO_DEFAULT_KBPS == 128
    assert [default_audio_kbps(c) for c in (1, 2, 6, 8, 12)] == [128, 128, 384, 512, 512]
    assert parse_audio("aac:96") == 96 and parse_audio(64) == 64
    for bad, msg in (("mp3", "none or aac"), ("aac:x", "whole number"), ("aac:8", r"\[16, 512\]"), (True, "aac")):
        with pytest.raises(InputError, match=msg):
            parse_audio(bad)


def _muxed(media_dir: Path, tmp: Path, *, audio_offset: float = 0.0, video_offset: float = 0.0) -> Path:
    """60 frames of testvideo.mp4 (2.0 s) with the tone track, either stream started late by an offset."""
    video = cut(media_dir / "testvideo.mp4", tmp / "v.mp4", start_frame=240, frames=60, height=90)
    dst = tmp / "av.mp4"
    ffmpeg.run(["-y", "-v", "error", "-itsoffset", f"{video_offset}", "-i", str(video), "-itsoffset",
                f"{audio_offset}", "-f", "lavfi", "-i", TONE, "-map", "0:v", "-map", "1:a", "-c:v", "copy",
                "-c:a", "aac", "-t", "2.6", str(dst)], what="muxing a test clip failed")
    return dst


def _tone(path: Path) -> tuple[float, float, float]:
    """(length, tone onset, tone end) in seconds of an audio file, as decoded."""
    import av

    with av.open(str(path)) as c:
        st = c.streams.audio[0]
        a = np.concatenate([f.to_ndarray().mean(axis=0) for f in c.decode(st)])
        rate = st.rate
    on = np.nonzero(np.abs(a) > 0.1)[0]
    return len(a) / rate, on[0] / rate, on[-1] / rate


@pytest.mark.parametrize("audio_offset,video_offset,onset", [(0.4, 0.0, 0.9), (0.0, 0.4, 0.1)])
def test_audio_rendition_is_in_step_with_the_video(media_dir: Path, tmp_path: Path, audio_offset, video_offset,
                                                   onset):
    src = _muxed(media_dir, tmp_path, audio_offset=audio_offset, video_offset=video_offset)
    out = tmp_path / "lad"
    api.ladder(src, grid=GRID, complexity=1.0, rungs=1, out_dir=out, jobs=1, plots=False,
               shots=[Shot(index=0, start_frame=0, end_frame=60, start_s=0.0, end_s=60 * 1001 / 30000)])
    res = api.encode_renditions(out / "ladder.json", out / "r", jobs=1, audio="aac:96")
    video = [r for r in res if r.kind == "video"]
    (aud,) = [r for r in res if r.kind == "audio"]
    assert aud.rung == -1 and Path(aud.path).name == "audio_aac96.m4a"
    length, on, off = _tone(Path(aud.path))
    # the audio covers the video's span (to one AAC frame), and the tone sits where it sat against the video
    assert abs(length - video[0].duration_s) <= 1024 / 48000 + 1e-6
    assert on == pytest.approx(onset, abs=0.005) and off == pytest.approx(onset + 0.2, abs=0.005)
    import av
    import pandas as pd

    with av.open(aud.path) as c:
        assert c.streams.audio[0].codec_context.name == "aac" and not c.streams.video
    assert 0 < aud.bitrate_kbps <= 100  # mostly silence: well under the 96 kbps asked

    csv = pd.read_csv(out / "r" / "renditions.csv")
    assert list(csv["kind"]) == ["video", "audio"]


def test_audio_asked_of_a_silent_source_fails_before_encoding(media_dir: Path, tmp_path: Path):
    from pershot.cli import main

    src = cut(media_dir / "testvideo.mp4", tmp_path / "v.mp4", start_frame=240, frames=30, height=90)
    out = tmp_path / "lad"
    api.ladder(src, grid=GRID, complexity=1.0, rungs=1, out_dir=out, jobs=1, plots=False,
               shots=[Shot(index=0, start_frame=0, end_frame=30, start_s=0.0, end_s=30 * 1001 / 30000)])
    with pytest.raises(InputError, match="no audio stream"):
        api.encode_renditions(out / "ladder.json", out / "r", jobs=1, audio="aac")
    assert not list((out / "r").glob("*.mp4")) if (out / "r").exists() else True
    assert main(["ladder", str(src), "-o", str(tmp_path / "x"), "--audio", "-q"]) == InputError.exit_code
    # with --encode: before the probes, not after the ladder
    assert main(["ladder", str(src), "-o", str(tmp_path / "y"), "--encode", "--audio", "-q"]) == InputError.exit_code
    assert not (tmp_path / "y").exists()


def test_info_says_how_far_a_vfr_source_strays_from_even_spacing(media_dir: Path, tmp_path: Path, capsys):
    import json

    from pershot.cli import main

    cfr = cut(media_dir / "testvideo.mp4", tmp_path / "c.mp4", start_frame=240, frames=60, height=90)
    vfr = tmp_path / "vfr.mkv"  # 30 frames at 30 fps, then 30 at 15 fps: 3 s, 20 fps on average
    ffmpeg.run(["-y", "-v", "error", "-i", str(cfr), "-vf", "setpts='if(lt(N,30),N/30,1+(N-30)/15)/TB'",
                "-fps_mode", "vfr", "-c:v", "libx264", "-crf", "18", str(vfr)], what="making a VFR clip failed")
    assert main(["info", str(vfr), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["vfr"] is True
    # frame 30 is shown at 1.0 s; evenly spaced at the average rate it would be at 30 / (60 / 3.0) = 1.5 s
    # (less a little: the last frame's duration counts in the span)
    assert 0.45 <= doc["vfr_drift_s"] <= 0.5
    assert main(["info", str(vfr)]) == 0
    assert "renditions keep each frame's time, while --cfr would move a frame by up to 4" in capsys.readouterr().out
    assert main(["info", str(cfr), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["vfr_drift_s"] == 0.0


def _dominant_hz(path: str) -> float:
    import av

    with av.open(path) as c:
        st = c.streams.audio[0]
        a = np.concatenate([f.to_ndarray().mean(axis=0) for f in c.decode(st)])
        rate = st.rate
    spec = np.abs(np.fft.rfft(a))
    return float(np.fft.rfftfreq(len(a), 1 / rate)[int(np.argmax(spec))])


def test_the_audio_stream_is_picked_by_number_or_language_and_its_tag_travels(media_dir: Path, tmp_path: Path,
                                                                              capsys):
    """A source with two audio languages (440 Hz tagged eng, 880 Hz tagged fra): the first by default, with a
    warning naming both; --audio-stream fra (or 1) takes the other; HLS and DASH say its language."""
    from pershot.cli import main

    video = cut(media_dir / "testvideo.mp4", tmp_path / "v.mp4", start_frame=240, frames=60, height=90)
    src = tmp_path / "two.mp4"
    ffmpeg.run(["-y", "-v", "error", "-i", str(video), "-f", "lavfi", "-i", "sine=frequency=440:duration=2",
                "-f", "lavfi", "-i", "sine=frequency=880:duration=2", "-map", "0:v", "-map", "1:a", "-map", "2:a",
                "-c:v", "copy", "-c:a", "aac", "-metadata:s:a:0", "language=eng", "-metadata:s:a:1", "language=fra",
                str(src)], what="muxing a two-language clip failed")
    out = tmp_path / "lad"
    api.ladder(src, grid=GRID, complexity=1.0, rungs=1, out_dir=out, jobs=1, plots=False,
               shots=[Shot(index=0, start_frame=0, end_frame=60, start_s=0.0, end_s=60 * 1001 / 30000)])
    lad = str(out / "ladder.json")
    assert main(["encode", lad, "-o", str(tmp_path / "a"), "--audio", "-j", "1", "-q"]) == 0
    err = capsys.readouterr().err
    assert "2 audio streams (0 (eng), 1 (fra))" in err and "--audio-stream" in err
    assert _dominant_hz(str(tmp_path / "a" / "audio_aac128.m4a")) == pytest.approx(440, abs=5)
    for pick in ("fre", "1"):  # fre (ISO 639-2/B) is the fra the stream is tagged with
        dst = tmp_path / f"b{pick}"
        assert main(["encode", lad, "-o", str(dst), "--audio", "aac:64", "--audio-stream", pick, "--hls", "--dash",
                     "-j", "1", "-q"]) == 0
        assert "warning" not in capsys.readouterr().err
        assert _dominant_hz(str(dst / "audio_aac64.m4a")) == pytest.approx(880, abs=5)
        master = (dst / "hls" / "master.m3u8").read_text()
        # HLS and DASH write the language as RFC 5646 asks: fr, not fra
        assert 'LANGUAGE="fr"' in master and 'NAME="French"' in master  # what the audio menu shows
        assert 'contentType="audio"' in (mpd := (dst / "dash" / "manifest.mpd").read_text()) and 'lang="fr"' in mpd
    # every language at once: an audio rendition each; one HLS audio group, the first the default; a DASH
    # adaptation set each, the first the main one
    dst = tmp_path / "all"
    assert main(["encode", lad, "-o", str(dst), "--audio", "--audio-stream", "all", "--hls", "--dash", "-j", "1",
                 "-q"]) == 0
    auds = sorted(dst.glob("audio_aac*.m4a"))
    assert [p.name for p in auds] == ["audio_aac128_0_eng.m4a", "audio_aac128_1_fra.m4a"]
    assert [_dominant_hz(str(p)) for p in auds] == [pytest.approx(440, abs=5), pytest.approx(880, abs=5)]
    media = [ln for ln in (dst / "hls" / "master.m3u8").read_text().splitlines() if ln.startswith("#EXT-X-MEDIA")]
    assert len(media) == 2 and 'LANGUAGE="en",DEFAULT=YES' in media[0] and 'LANGUAGE="fr",DEFAULT=NO' in media[1]
    assert 'NAME="English"' in media[0] and 'NAME="French"' in media[1]
    assert [_dominant_hz(str(dst / "hls" / d / "index.m3u8")) for d in ("audio", "audio1")] == [
        pytest.approx(440, abs=5), pytest.approx(880, abs=5)]
    mpd = (dst / "dash" / "manifest.mpd").read_text()
    assert mpd.count('contentType="audio"') == 2 and 'lang="en"' in mpd and 'lang="fr"' in mpd
    assert 'value="main"' in mpd and 'value="alternate"' in mpd
    assert "<Label>English</Label>" in mpd and "<Label>French</Label>" in mpd
    import pandas as pd

    assert sorted(pd.read_csv(dst / "renditions.csv").query("kind == 'audio'")["rung"]) == [-2, -1]
    # bad picks, before any encode
    assert main(["encode", lad, "-o", str(tmp_path / "c"), "--audio", "--audio-stream", "deu", "-q"]) == 2
    assert "no audio stream 'deu' (its audio streams: 0 (eng), 1 (fra))" in capsys.readouterr().err
    assert main(["encode", lad, "-o", str(tmp_path / "c"), "--audio", "--audio-stream", "2", "-q"]) == 2
    assert main(["encode", lad, "-o", str(tmp_path / "c"), "--audio-stream", "1", "-q"]) == 2
    assert "--audio-stream goes with --audio" in capsys.readouterr().err
    assert not (tmp_path / "c").exists()


def test_a_surround_source_gets_a_surround_bitrate_unless_told(media_dir: Path, tmp_path: Path):
    import av

    video = cut(media_dir / "testvideo.mp4", tmp_path / "v.mp4", start_frame=240, frames=30, height=90)
    src = tmp_path / "51.mp4"
    ffmpeg.run(["-y", "-v", "error", "-i", str(video), "-f", "lavfi", "-i", "sine=frequency=300:duration=1",
                "-filter_complex", "[1:a]pan=5.1|c0=c0|c1=c0|c2=c0|c3=c0|c4=c0|c5=c0[a]", "-map", "0:v", "-map", "[a]",
                "-c:v", "copy", "-c:a", "aac", "-b:a", "384k", str(src)], what="muxing a 5.1 clip failed")
    out = tmp_path / "lad"
    api.ladder(src, grid=GRID, complexity=1.0, rungs=1, out_dir=out, jobs=1, plots=False,
               shots=[Shot(index=0, start_frame=0, end_frame=30, start_s=0.0, end_s=30 * 1001 / 30000)])
    (aud,) = [r for r in api.encode_renditions(out / "ladder.json", out / "r", jobs=1, audio="aac") if r.kind == "audio"]
    assert Path(aud.path).name == "audio_aac384.m4a"
    with av.open(aud.path) as c:
        assert c.streams.audio[0].codec_context.channels == 6
    (aud,) = [r for r in api.encode_renditions(out / "ladder.json", out / "r2", jobs=1, audio="aac:192")
              if r.kind == "audio"]
    assert Path(aud.path).name == "audio_aac192.m4a"  # a bitrate asked for is kept


def _integrated_lufs(path: Path) -> float:
    """A file's integrated loudness, as ffmpeg's EBU R128 meter reads it."""
    r = ffmpeg.run(["-i", str(path), "-af", "ebur128", "-f", "null", "-"], what="metering failed")
    summary = r.stderr[r.stderr.rfind("Integrated loudness:"):]
    return float(summary.split("I:")[1].split("LUFS")[0])


def test_audio_is_normalized_to_a_loudness_target_when_asked(media_dir: Path, tmp_path: Path, capsys):
    """A quiet tone (about -35 LUFS) normalized to -23 LUFS (EBU R128) and to -16: the files measure so, to
    half a loudness unit, at the source's sample rate; without a target the level is the source's. A target
    out of range, or without --audio, is exit 2 before any encode."""
    from pershot.cli import main

    video = cut(media_dir / "testvideo.mp4", tmp_path / "v.mp4", start_frame=240, frames=60, height=90)
    src = tmp_path / "quiet.mp4"
    ffmpeg.run(["-y", "-v", "error", "-i", str(video), "-f", "lavfi", "-i",
                "sine=frequency=440:duration=3:sample_rate=44100,volume=0.05", "-map", "0:v", "-map", "1:a",
                "-c:v", "copy", "-c:a", "aac", "-b:a", "128k", "-t", "2", str(src)], what="muxing a quiet clip failed")
    out = tmp_path / "lad"
    api.ladder(src, grid=GRID, complexity=1.0, rungs=1, out_dir=out, jobs=1, plots=False,
               shots=[Shot(index=0, start_frame=0, end_frame=60, start_s=0.0, end_s=60 * 1001 / 30000)])
    plain = [r for r in api.encode_renditions(out / "ladder.json", out / "p", jobs=1, audio="aac")
             if r.kind == "audio"][0]
    source_lufs = _integrated_lufs(Path(plain.path))
    assert source_lufs < -30 and np.isnan(plain.loudness_lufs)
    for target in (-23.0, -16.0):
        (aud,) = [r for r in api.encode_renditions(out / "ladder.json", out / f"n{-target:g}", jobs=1, audio="aac",
                                                   audio_loudness=target) if r.kind == "audio"]
        assert _integrated_lufs(Path(aud.path)) == pytest.approx(target, abs=0.5)
        assert aud.loudness_lufs == pytest.approx(target, abs=0.5)
        import av

        with av.open(aud.path) as c:
            assert c.streams.audio[0].rate == 44100  # loudnorm's 192 kHz resampled back
    lad = str(out / "ladder.json")
    # silence has no loudness to bring up (BS.1770 gates it out): kept as it is, with a warning
    silent = tmp_path / "silent.mp4"
    ffmpeg.run(["-y", "-v", "error", "-i", str(video), "-f", "lavfi", "-i", "anullsrc=r=44100:cl=mono",
                "-map", "0:v", "-map", "1:a", "-c:v", "copy", "-c:a", "aac", "-t", "2", str(silent)],
               what="muxing a silent clip failed")
    assert main(["encode", lad, "--source", str(silent), "-o", str(tmp_path / "s"), "--audio",
                 "--audio-loudness", "-23", "-j", "1", "-q"]) == 0
    assert "is silent (below -70 LUFS): kept as it is, not normalized" in capsys.readouterr().err
    import pandas as pd

    assert pd.read_csv(tmp_path / "s" / "renditions.csv").query("kind == 'audio'")["loudness_lufs"].iloc[0] == -np.inf
    for extra, msg in ((["--audio", "--audio-loudness", "-80"], "[-70, -5] LUFS"),
                       (["--audio-loudness", "-23"], "--audio-loudness goes with --audio")):
        assert main(["encode", lad, "-o", str(tmp_path / "bad"), "-q", *extra]) == InputError.exit_code
        assert msg in capsys.readouterr().err and not (tmp_path / "bad").exists()


@pytest.mark.parametrize("offset,tone_s,heard", [(0.0, 1.0, True), (3.0, 0.5, False)])
def test_audio_that_ends_early_or_misses_the_video_is_padded_to_its_length(media_dir: Path, tmp_path: Path,
                                                                            offset, tone_s, heard):
    """Audio that ends before the video (1 s of tone under 2 s of video) is padded with silence to the
    video's end; audio that lies after the video altogether gives a silent rendition as long as the
    video (it was an IndexError traceback after every rung was encoded)."""
    video = cut(media_dir / "testvideo.mp4", tmp_path / "v.mp4", start_frame=240, frames=60, height=90)
    src = tmp_path / "av.mkv"
    ffmpeg.run(["-y", "-v", "error", "-i", str(video), "-itsoffset", f"{offset}", "-f", "lavfi", "-i",
                f"sine=frequency=440:sample_rate=48000:duration={tone_s}", "-map", "0:v", "-map", "1:a",
                "-c:v", "copy", "-c:a", "aac", str(src)], what="muxing a test clip failed")
    out = tmp_path / "lad"
    api.ladder(src, grid=GRID, complexity=1.0, rungs=1, out_dir=out, jobs=1, plots=False,
               shots=[Shot(index=0, start_frame=0, end_frame=60, start_s=0.0, end_s=60 * 1001 / 30000)])
    res = api.encode_renditions(out / "ladder.json", out / "r", jobs=1, audio="aac:96")
    video = next(r for r in res if r.kind == "video")
    aud = next(r for r in res if r.kind == "audio")
    import av

    with av.open(aud.path) as c:
        st = c.streams.audio[0]
        a = np.concatenate([f.to_ndarray().mean(axis=0) for f in c.decode(st)])
        rate = st.rate
    assert abs(len(a) / rate - video.duration_s) <= 1024 / 48000 + 1e-6
    assert abs(aud.duration_s - video.duration_s) <= 1024 / 48000 + 1e-6
    loud = np.nonzero(np.abs(a) > 0.1)[0]
    if heard:
        assert loud[-1] / rate == pytest.approx(tone_s, abs=0.03) and np.abs(a[int(1.2 * rate):]).max() < 0.01
    else:
        assert len(loud) == 0
