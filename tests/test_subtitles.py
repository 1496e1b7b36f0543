"""Subtitles: the source's text subtitle streams and subtitle files as WebVTT in step with the video
renditions, and their place in HLS (a SUBTITLES group of segmented WebVTT) and DASH (text/vtt sets)."""
from __future__ import annotations

import io
from pathlib import Path

import pytest
from conftest import cut

from pershot import api, ffmpeg
from pershot.errors import InputError
from pershot.hls import TIME_OFFSET_S, read_playlist
from pershot.languages import bcp47, language_name
from pershot.shots import Shot
from pershot.subtitles import (Cue, SubtitleStream, check_pick, display_name, hls_media_playlist, parse_sidecar,
                               read_vtt, segment_cues, subtitle_picks, to_title_time, unique_names, vtt_text)

GRID = {"name": "subs", "heights": [90], "crf": [30, 38], "encoders": {"x264": {"presets": ["veryfast"]}}}

SRT_EN = """1
00:00:00,100 --> 00:00:00,300
Before the picture

2
00:00:00,600 --> 00:00:01,700
Across the cut, <i>in italics</i>

3
00:00:02,100 --> 00:00:02,300
Last words
"""
SRT_FR = """1
00:00:01,200 --> 00:00:01,500
Bonjour
"""


# ---------------------------------------------------------------- pure parts


def test_webvtt_reads_and_writes_cues_with_identifiers_and_settings():
    doc = ("\ufeffWEBVTT - a title\n\nNOTE a comment\nover two lines\n\nSTYLE\n::cue { color: red }\n\n"
           "intro\n00:01.000 --> 00:02.500 line:0 align:start\nHello\nworld\n\n"
           "01:00:00.250 --> 01:00:01.000\n<i>late</i>\n")
    cues = read_vtt(doc)
    assert cues == [Cue(1.0, 2.5, "Hello\nworld", "line:0 align:start", "intro"),
                    Cue(3600.25, 3601.0, "<i>late</i>", "", "")]
    assert read_vtt(vtt_text(cues)) == cues  # written and read back, nothing lost
    assert "01:00:00.250 --> 01:00:01.000" in vtt_text(cues)
    with pytest.raises(InputError, match="WEBVTT"):
        read_vtt("1\n00:00:01,000 --> 00:00:02,000\nSubRip, not WebVTT\n")


def test_cues_move_to_the_renditions_clock_and_are_cut_to_their_span():
    cues = [Cue(0.1, 0.3, "a"), Cue(0.3, 0.6, "b"), Cue(1.0, 2.0, "c"), Cue(2.9, 3.5, "d"), Cue(3.4, 3.6, "e")]
    got = to_title_time(cues, t0=0.4, span=3.0)  # the first video frame at 0.4 s of the source, 3 s of video
    assert [(c.text, round(c.start_s, 6), round(c.end_s, 6)) for c in got] == [
        ("b", 0.0, 0.2), ("c", 0.6, 1.6), ("d", 2.5, 3.0)]  # a gone (before), b and d cut, e gone (after)


def test_a_cue_across_a_segment_boundary_is_in_both_segments():
    cues = [Cue(0.5, 1.0, "ends at the boundary"), Cue(1.5, 2.5, "across"), Cue(3.0, 9.0, "to the end")]
    parts = segment_cues(cues, [0.0, 1.0, 2.0])
    assert [[c.text for c in p] for p in parts] == [["ends at the boundary"], ["across"], ["across", "to the end"]]
    text = hls_media_playlist([1.0, 1.0, 2.002], ["a.vtt", "b.vtt", "c.vtt"])
    assert "#EXT-X-TARGETDURATION:3" in text and text.count("#EXTINF:") == 3 and text.endswith("#EXT-X-ENDLIST\n")


def test_language_tags_become_rfc_5646_tags():
    assert [bcp47(x) for x in ("eng", "fre", "fra", "ger", "deu", "chi", "zho", "por-BR", "pt_BR", "yue", "EN")] == [
        "en", "fr", "fr", "de", "de", "zh", "zh", "pt-BR", "pt-BR", "yue", "en"]
    assert [bcp47(x) for x in ("", "und", "mul", "not a tag")] == ["", "", "", ""]
    assert (language_name("spa"), language_name("nld"), language_name("qaa")) == ("Spanish", "Dutch", "")
    assert unique_names(["English", "French", "English"]) == ["English", "French", "English 2"]
    assert display_name("fre", "", 0, forced=True) == "French (forced)"
    assert display_name("", "", 2) == "Subtitles 3" and display_name("eng", "Commentary", 0) == "Commentary"
    from pershot.hls import audio_labels  # the audio menu's names, from the same tags

    assert audio_labels([{"channels": 6, "language": "eng", "title": ""}, {"channels": 2, "language": "eng"},
                         {"channels": 2, "language": "fra", "title": "Director"}, {"channels": 1, "language": ""},
                         {"channels": 2, "language": "eng"}]) == [
        "English 5.1", "English", "Director", "Audio", "English 2"]


def test_subtitle_streams_are_picked_by_number_language_or_all_and_pictures_are_refused():
    found = [SubtitleStream(2, "subrip", True, "eng"), SubtitleStream(3, "hdmv_pgs_subtitle", False, "fra"),
             SubtitleStream(4, "ass", True, "fre", forced=True)]
    assert subtitle_picks("x.mkv", None, found) == ([], [])
    assert subtitle_picks("x.mkv", "all", found) == ([found[0], found[2]], [found[1]])  # the pictures passed over
    assert subtitle_picks("x.mkv", "fr", found)[0] == [found[2]]  # the first *text* stream in French
    assert subtitle_picks("x.mkv", [0, "en", 2], found)[0] == [found[0], found[2]]  # picked twice, carried once
    with pytest.raises(InputError, match="stream 1 of x.mkv is hdmv_pgs_subtitle, pictures"):
        subtitle_picks("x.mkv", 1, found)
    with pytest.raises(InputError, match=r"no text subtitle stream 'deu' \(its subtitle streams: 0 \(eng, subrip\)"):
        subtitle_picks("x.mkv", "deu", found)
    with pytest.raises(InputError, match="no subtitle stream 3"):
        subtitle_picks("x.mkv", 3, found)
    with pytest.raises(InputError, match="no text subtitle stream"):
        subtitle_picks("x.mkv", "all", [found[1]])
    for bad in (True, -1, "fr/en", 1.5):
        with pytest.raises(InputError, match="not a stream number"):
            check_pick(bad)


def test_subtitle_files_are_checked_before_anything_runs(tmp_path: Path):
    srt = tmp_path / "film.srt"
    srt.write_text(SRT_FR, encoding="utf-8")
    assert parse_sidecar(f"{srt}:fr") == (srt, "fr") and parse_sidecar(str(srt)) == (srt, "")
    assert parse_sidecar((srt, "pt-BR")) == (srt, "pt-BR")
    colon = tmp_path / "a:b.srt"  # a colon in the name is the name's, when the file is there
    colon.write_text(SRT_FR, encoding="utf-8")
    assert parse_sidecar(str(colon)) == (colon, "")
    with pytest.raises(InputError, match="subtitle file .*missing.srt not found"):
        parse_sidecar(str(tmp_path / "missing.srt") + ":en")
    latin = tmp_path / "latin.srt"
    latin.write_bytes(SRT_FR.replace("Bonjour", "Caf\u00e9").encode("cp1252"))
    with pytest.raises(InputError, match="not UTF-8 text: convert it first"):
        parse_sidecar(str(latin))
    utf16 = tmp_path / "utf16.srt"
    utf16.write_bytes(SRT_FR.encode("utf-16"))  # with its byte-order mark: ffmpeg reads it
    assert parse_sidecar(str(utf16)) == (utf16, "")


# ---------------------------------------------------------------- end to end


def _source(media_dir: Path, tmp: Path, video_offset: float = 0.0) -> Path:
    """Two 1 s shots of testvideo.mp4 (90p), a tone, an English subtitle stream and a forced French one
    (mov_text), the video starting ``video_offset`` s after the rest."""
    a = cut(media_dir / "testvideo.mp4", tmp / "a.mp4", start_frame=240, frames=30, height=90)
    b = cut(media_dir / "testvideo.mp4", tmp / "b.mp4", start_frame=420, frames=30, height=90)
    two = tmp / "two.mp4"
    ffmpeg.run(["-y", "-v", "error", "-i", str(a), "-i", str(b), "-filter_complex", "[0:v][1:v]concat=n=2:v=1:a=0",
                "-c:v", "libx264", "-crf", "14", str(two)], what="making a two-shot clip failed")
    (tmp / "en.srt").write_text(SRT_EN, encoding="utf-8")
    (tmp / "fr.srt").write_text(SRT_FR, encoding="utf-8")
    src = tmp / "subs.mp4"
    ffmpeg.run(["-y", "-v", "error", "-itsoffset", f"{video_offset}", "-i", str(two), "-f", "lavfi", "-i",
                "sine=frequency=440:duration=3", "-i", str(tmp / "en.srt"), "-i", str(tmp / "fr.srt"),
                "-map", "0:v", "-map", "1:a", "-map", "2:s", "-map", "3:s", "-c:v", "copy", "-c:a", "aac",
                "-c:s", "mov_text", "-metadata:s:s:0", "language=eng", "-metadata:s:s:1", "language=fra",
                "-disposition:s:1", "forced", "-t", "3", str(src)], what="muxing a subtitled clip failed")
    return src


SHOTS = [Shot(index=0, start_frame=0, end_frame=30, start_s=0.0, end_s=1.001),
         Shot(index=1, start_frame=30, end_frame=60, start_s=1.001, end_s=2.002)]


def _first_pts(path: Path, init: Path | None = None) -> float:
    """The earliest presentation time (s) among the first packets of a segment's first stream."""
    import av

    with av.open(io.BytesIO(init.read_bytes() + path.read_bytes()) if init else str(path)) as c:
        st = c.streams[0]
        pts = [p.pts for p, _ in zip(c.demux(st), range(12)) if p.pts is not None]
        return float(min(pts) * st.time_base)


def test_subtitle_streams_and_files_travel_in_step_into_hls_and_dash(media_dir: Path, tmp_path: Path):
    """The video starts 0.4 s into the source: the stream's cues move 0.4 s earlier, as the audio does (the
    first cue, before the picture, is dropped), the file's cues stay where they are (timed from the first
    frame). HLS: one SUBTITLES group, WebVTT segments cut where the video's are, a cue across the cut in
    both, every segment mapped to the presentation time at which the video's first frame and the audio
    start; DASH: a text/vtt set each, the forced one with its Role."""
    src = _source(media_dir, tmp_path, video_offset=0.4)
    out = tmp_path / "lad"
    api.ladder(src, grid=GRID, complexity=1.0, rungs=1, out_dir=out, shots=SHOTS, jobs=1, plots=False)
    side = tmp_path / "film.de.srt"  # the language read from the name
    side.write_text(SRT_FR.replace("Bonjour", "Guten Tag"), encoding="utf-8")
    res = api.encode_renditions(out / "ladder.json", out / "r", jobs=1, audio="aac", subtitles="all",
                                subtitle_files=[str(side)], hls=True, dash=True, segment_s=1.0)
    subs = [r for r in res if r.kind == "subtitles"]
    assert [(r.rung, r.name, r.language, r.forced) for r in subs] == [
        (-101, "English", "eng", False), (-102, "French (forced)", "fra", True), (-103, "German", "de", False)]
    assert [Path(r.path).name for r in subs] == ["subtitles_0_eng.vtt", "subtitles_1_fra.vtt", "subtitles_2_de.vtt"]
    en, fr, de = (read_vtt(Path(r.path).read_text(encoding="utf-8")) for r in subs)
    assert [(c.text, c.start_s, c.end_s) for c in en] == [
        ("Across the cut, <i>in italics</i>", pytest.approx(0.2), pytest.approx(1.3)),
        ("Last words", pytest.approx(1.7), pytest.approx(1.9))]
    assert [(c.start_s, c.end_s) for c in fr] == [(pytest.approx(0.8), pytest.approx(1.1))]
    assert [(c.text, c.start_s, c.end_s) for c in de] == [("Guten Tag", 1.2, 1.5)]  # a file: not moved
    assert [r.frames for r in subs] == [2, 1, 1]  # cues

    hls = out / "r" / "hls"
    master = (hls / "master.m3u8").read_text()
    media = [ln for ln in master.splitlines() if ln.startswith("#EXT-X-MEDIA:TYPE=SUBTITLES")]
    assert len(media) == 3 and all('GROUP-ID="subs"' in m for m in media)
    assert 'NAME="English",LANGUAGE="en",DEFAULT=NO,AUTOSELECT=YES,FORCED=NO,URI="subs/index.m3u8"' in media[0]
    assert 'LANGUAGE="fr"' in media[1] and "FORCED=YES" in media[1] and 'URI="subs1/index.m3u8"' in media[1]
    infs = [ln for ln in master.splitlines() if ln.startswith("#EXT-X-STREAM-INF")]
    assert infs and all('SUBTITLES="subs"' in i and 'AUDIO="audio"' in i for i in infs)
    assert not any("SUBTITLES" in ln for ln in master.splitlines() if ln.startswith("#EXT-X-I-FRAME"))
    video = read_playlist(hls / "rung00" / "index.m3u8")
    text = read_playlist(hls / "subs" / "index.m3u8")
    assert len(video.items) == 2  # cut at the shot start
    assert [d for _, d in text.items] == [d for _, d in video.items]
    segs = [read_vtt(p.read_text(encoding="utf-8")) for p, _ in text.items]
    assert [[c.text for c in s] for s in segs] == [["Across the cut, <i>in italics</i>"],
                                                   ["Across the cut, <i>in italics</i>", "Last words"]]
    ticks = round(TIME_OFFSET_S * 90000)
    assert all(f"X-TIMESTAMP-MAP=MPEGTS:{ticks},LOCAL:00:00:00.000" in p.read_text() for p, _ in text.items)
    # the timestamp map is true: the first frame of the video and the audio's start are at that time
    assert _first_pts(video.items[0][0]) == pytest.approx(TIME_OFFSET_S, abs=1e-6)
    audio = read_playlist(hls / "audio" / "index.m3u8")
    assert TIME_OFFSET_S - 0.05 < _first_pts(audio.items[0][0]) <= TIME_OFFSET_S  # its priming samples first

    mpd = (out / "r" / "dash" / "manifest.mpd").read_text()
    assert mpd.count('contentType="text" mimeType="text/vtt"') == 3
    assert 'lang="en"' in mpd and 'lang="de"' in mpd and 'value="forced-subtitle"' in mpd
    assert "<BaseURL>subtitles_0_eng.vtt</BaseURL>" in mpd and (out / "r" / "dash" / "subtitles_0_eng.vtt").is_file()
    import xml.etree.ElementTree as ET

    ET.fromstring(mpd.encode())  # well-formed after the rewrite


def test_bad_subtitle_requests_fail_before_any_encode(media_dir: Path, tmp_path: Path, capsys):
    from pershot.cli import main

    src = _source(media_dir, tmp_path)
    out = tmp_path / "lad"
    api.ladder(src, grid=GRID, complexity=1.0, rungs=1, out_dir=out, shots=SHOTS, jobs=1, plots=False)
    lad = str(out / "ladder.json")
    dst = tmp_path / "r"
    junk = tmp_path / "junk.srt"
    junk.write_text("not subtitles\n", encoding="utf-8")
    for extra, msg in ((["--subtitle-file", str(junk)], "subtitle file junk.srt is not a subtitle format ffmpeg reads"),
                       (["--subtitles", "5"], "no subtitle stream 5 (its subtitle streams: 0 (eng, mov_text), "
                                              "1 (fra, mov_text))"),
                       (["--subtitles", "deu"], "no text subtitle stream 'deu'"),
                       (["--subtitle-file", str(tmp_path / "none.srt")], "none.srt not found")):
        assert main(["encode", lad, "-o", str(dst), "-q", *extra]) == InputError.exit_code
        assert msg in capsys.readouterr().err
        assert not dst.exists()
    # with the ladder: before the probes
    assert main(["ladder", str(src), "-o", str(tmp_path / "x"), "--encode", "--subtitles", "7", "-q"]) == 2
    assert "no subtitle stream 7" in capsys.readouterr().err and not (tmp_path / "x").exists()
    assert main(["ladder", str(src), "-o", str(tmp_path / "x"), "--encode", "--subtitle-file", str(junk), "-q"]) == 2
    assert "junk.srt is not a subtitle format" in capsys.readouterr().err and not (tmp_path / "x").exists()
    assert main(["ladder", str(src), "-o", str(tmp_path / "x"), "--subtitles", "-q"]) == 2
    assert "--subtitles goes with --encode" in capsys.readouterr().err
    # packaged without them: a note says the source has some
    assert main(["encode", lad, "-o", str(dst), "--hls", "-j", "1", "-q"]) == 0
    note = "the source has text subtitles (0 (eng, mov_text), 1 (fra, mov_text)): --subtitles"
    assert note in capsys.readouterr().err
    assert "SUBTITLES" not in (dst / "hls" / "master.m3u8").read_text()
    assert main(["info", str(src)]) == 0
    assert "subtitles: stream 2: mov_text, eng; stream 3: mov_text, fra, forced" in capsys.readouterr().out


# ---------------------------------------------------------------- closed captions in the video


def _parity(b: int) -> int:
    """A CEA-608 byte with its odd-parity bit."""
    b &= 0x7F
    return b | (0x80 if bin(b).count("1") % 2 == 0 else 0)


def _caption_sei(pair: "tuple[int, int] | None") -> bytes:
    """An H.264 SEI NAL unit carrying one CEA-608 field-1 byte pair as ATSC A/53 user data (a null pair
    where None), emulation-prevented."""
    cc = b"\xfc" + (bytes([_parity(pair[0]), _parity(pair[1])]) if pair else b"\x80\x80")
    payload = b"\xb5\x00\x31GA94\x03" + bytes([0x40 | 1, 0xFF]) + cc + b"\xff"
    body, out, zeros = bytes([4, len(payload)]) + payload + b"\x80", bytearray(), 0
    for x in body:
        if zeros >= 2 and x <= 3:
            out.append(3)
            zeros = 0
        out.append(x)
        zeros = zeros + 1 if x == 0 else 0
    return b"\x06" + bytes(out)


def _captioned(video: Path, dst: Path, tmp: Path, video_offset: float, start: int = 10, pad: bool = True,
               erase: int = 38) -> None:
    """``video`` re-encoded without B-frames (byte pairs in decode order are then in display order), a
    pop-on caption "HELLO" shown from frame ``start + 7`` to ``start + erase`` carried in its pictures, muxed with
    a tone and the video started ``video_offset`` s late. ``pad``: every other picture carries a null byte
    pair (as broadcast streams do); else only the pictures with caption data carry any."""
    import re

    raw = tmp / "cc_in.h264"
    ffmpeg.run(["-y", "-v", "error", "-i", str(video), "-c:v", "libx264", "-bf", "0", "-crf", "18", "-f", "h264",
                str(raw)], what="re-encoding without B-frames failed")
    data = raw.read_bytes()
    cuts = [m.start() for m in re.finditer(b"\x00\x00\x01", data)]
    rcl, eoc, edm, enm = (0x14, 0x20), (0x14, 0x2F), (0x14, 0x2C), (0x14, 0x2E)
    plan = dict(enumerate([rcl, rcl, enm, enm, (ord("H"), ord("E")), (ord("L"), ord("L")), (ord("O"), 0), eoc, eoc],
                          start=start))  # the first EOC (frame start + 7) shows it
    plan.update({start + erase: edm, start + erase + 1: edm})  # erased at frame start + erase
    out, frame = bytearray(), 0
    for i, s in enumerate(cuts):
        nal = data[s + 3:cuts[i + 1] if i + 1 < len(cuts) else len(data)].rstrip(b"\x00")
        if nal[0] & 0x1F in (1, 5) and nal[1] & 0x80:  # a picture's first slice
            if pad or frame in plan:
                out += b"\x00\x00\x00\x01" + _caption_sei(plan.get(frame))
            frame += 1
        out += b"\x00\x00\x00\x01" + nal
    cc = tmp / "cc.h264"
    cc.write_bytes(bytes(out))
    ffmpeg.run(["-y", "-v", "error", "-r", "30000/1001", "-itsoffset", f"{video_offset}", "-i", str(cc), "-f", "lavfi",
                "-i", "sine=frequency=440:duration=3", "-map", "0:v", "-map", "1:a", "-c:v", "copy", "-c:a", "aac",
                "-t", "2.5", str(dst)], what="muxing a captioned clip failed")


def test_closed_captions_in_the_video_become_webvtt_captions(media_dir: Path, tmp_path: Path, capsys):
    """CEA-608 captions inside the pictures (as US broadcast masters carry them) would be lost by re-encoding
    decoded pictures: pershot info lists them, --subtitles cc (or all) carries them as WebVTT (kind captions),
    HLS marks them as subtitles for the deaf and hard of hearing, DASH with Role caption; every variant says
    CLOSED-CAPTIONS=NONE (no caption data in band)."""
    from pershot.cli import main
    from pershot.subtitles import has_captions, subtitle_streams

    src = _source(media_dir, tmp_path)
    video = tmp_path / "v_only.mp4"
    ffmpeg.run(["-y", "-v", "error", "-i", str(src), "-map", "0:v", "-c", "copy", str(video)], what="x")
    cap = tmp_path / "captioned.mp4"
    _captioned(video, cap, tmp_path, video_offset=0.4)
    assert has_captions(cap) and not has_captions(src)
    found = subtitle_streams(cap)
    assert len(found) == 1 and found[0].captions and found[0].index == 0
    assert main(["info", str(cap)]) == 0
    assert "subtitles: closed captions in video stream 0" in capsys.readouterr().out

    out = tmp_path / "lad"
    api.ladder(cap, grid=GRID, complexity=1.0, rungs=1, out_dir=out, shots=SHOTS, jobs=1, plots=False)
    res = api.encode_renditions(out / "ladder.json", out / "r", jobs=1, subtitles="cc", hls=True, dash=True)
    (cc,) = [r for r in res if r.kind == "captions"]
    assert (cc.rung, cc.name, Path(cc.path).name) == (-101, "Captions", "subtitles_cc.vtt")
    cues = read_vtt(Path(cc.path).read_text(encoding="utf-8"))
    frame = 1001 / 30000  # the video starts 0.4 s late, and the captions with it
    assert [(c.text, c.start_s, c.end_s) for c in cues] == [
        ("HELLO", pytest.approx(17 * frame, abs=1e-3), pytest.approx(48 * frame, abs=1e-3))]
    master = (out / "r" / "hls" / "master.m3u8").read_text()
    (media,) = [ln for ln in master.splitlines() if ln.startswith("#EXT-X-MEDIA:TYPE=SUBTITLES")]
    assert 'NAME="Captions"' in media and "public.accessibility.transcribes-spoken-dialog" in media
    infs = [ln for ln in master.splitlines() if ln.startswith("#EXT-X-STREAM-INF")]
    assert infs and all(i.endswith("CLOSED-CAPTIONS=NONE") for i in infs)
    assert 'value="caption"' in (out / "r" / "dash" / "manifest.mpd").read_text()
    # caption data that starts late, only in the pictures that carry a caption (no null pairs before): found
    # all the same (the packets are searched, not the first frames decoded), and carried
    late = tmp_path / "late.mp4"
    _captioned(video, late, tmp_path, video_offset=0.0, start=31, pad=False, erase=20)  # none in frames 0-30
    assert has_captions(late)
    lad3 = tmp_path / "lad3"
    api.ladder(late, grid=GRID, complexity=1.0, rungs=1, out_dir=lad3, shots=SHOTS, jobs=1, plots=False)
    (cc,) = [r for r in api.encode_renditions(lad3 / "ladder.json", lad3 / "r", jobs=1, subtitles="all")
             if r.kind == "captions"]
    assert [(c.text, round(c.start_s / frame), round(c.end_s / frame)) for c in read_vtt(
        Path(cc.path).read_text(encoding="utf-8"))] == [("HELLO", 38, 51)]
    # asked of a source without: exit 2, before any encode
    lad2 = tmp_path / "lad2"
    api.ladder(src, grid=GRID, complexity=1.0, rungs=1, out_dir=lad2, shots=SHOTS, jobs=1, plots=False)
    assert main(["encode", str(lad2 / "ladder.json"), "-o", str(tmp_path / "none"), "--subtitles", "cc", "-q"]) == 2
    assert "video carries no closed captions" in capsys.readouterr().err and not (tmp_path / "none").exists()


def test_the_caption_marker_counts_only_after_its_header():
    from pershot.subtitles import _a53_cc_in

    assert _a53_cc_in(b"\x06\x04\x0b\xb5\x00\x31GA94\x03\x41")  # an H.264 SEI (T.35: US, ATSC)
    assert _a53_cc_in(b"\x00\x00\x01\xb2GA94\x03\x41")  # MPEG-2 user data
    assert not _a53_cc_in(b"\x12\x34GA94\x03\x41") and not _a53_cc_in(b"")  # the same bytes inside coded data


# ---------------------------------------------------------------- text as WebVTT shows it, and language tags

SRT_TEXT = """1
00:00:00,100 --> 00:00:00,900
x < y and 5 > 3 & co

2
00:00:01,000 --> 00:00:01,500
Arrow --> here
<i>kept</i>, <B>bold</B>, <u>under</u>, Tom &amp; Jerry

3
00:00:01,500 --> 00:00:01,900
<font color="red">red</font> x<y <3
"""
VTT_TEXT = """WEBVTT

NOTE escaped text, a voice, a class and cue settings

intro
00:00.100 --> 00:01.200 line:0 align:start
if a &lt;b&gt; c &lt;3
<v Bob>Hi</v> <c.yellow>there</c>, <i>you</i>

00:01.500 --> 00:01.900
last
"""


def test_cue_text_is_escaped_where_it_is_text_and_kept_where_it_is_markup(tmp_path: Path):
    """What a viewer reads is what the subtitle file says: SubRip (through ffmpeg, whose WebVTT encoder writes
    text unescaped) has its <, > and & escaped, its italics, bold and underline kept as tags; a WebVTT file is
    read as it is (not through ffmpeg, which decodes &lt;b&gt; to a bold tag and drops settings and spans)."""
    from pershot.subtitles import convert

    srt = tmp_path / "t.srt"
    srt.write_text(SRT_TEXT, encoding="utf-8")
    cues, _ = convert(srt)
    assert [c.text for c in cues] == [
        "x &lt; y and 5 &gt; 3 &amp; co",
        "Arrow --&gt; here\n<i>kept</i>, <b>bold</b>, <u>under</u>, Tom &amp; Jerry",
        "red x&lt;y &lt;3"]
    assert [(c.start_s, c.end_s) for c in cues] == [(0.1, 0.9), (1.0, 1.5), (1.5, 1.9)]
    assert read_vtt(vtt_text(cues)) == cues
    vtt = tmp_path / "t.vtt"
    vtt.write_text(VTT_TEXT, encoding="utf-8")
    cues, _ = convert(vtt)
    assert cues == [Cue(0.1, 1.2, "if a &lt;b&gt; c &lt;3\n<v Bob>Hi</v> <c.yellow>there</c>, <i>you</i>",
                        "line:0 align:start", "intro"), Cue(1.5, 1.9, "last")]
    # ASS: text escaped, its italics kept; a blank line (\N\N) would end the cue: the rest is not lost
    ass = tmp_path / "t.ass"
    ass.write_text("[Script Info]\nScriptType: v4.00+\n\n[Events]\nFormat: Layer, Start, End, Style, Name, MarginL, "
                   "MarginR, MarginV, Effect, Text\nDialogue: 0,0:00:00.10,0:00:00.90,Default,,0,0,0,,"
                   "a\\N\\N1 < 2 & {\\i1}so{\\i0}\n", encoding="utf-8")
    (cue,) = convert(ass)[0]
    assert cue.text == "a\n1 &lt; 2 &amp; <i>so</i>"


def test_a_cue_written_never_ends_early():
    """In WebVTT a '-->' or a blank line ends a cue: whatever its text, a cue written reads back whole."""
    doc = vtt_text([Cue(0.0, 1.0, "a --> b\n\nc"), Cue(1.0, 2.0, "next")])
    assert read_vtt(doc) == [Cue(0.0, 1.0, "a --&gt; b\nc"), Cue(1.0, 2.0, "next")]
    board = [Cue(0.0, 2.0, "thumbnails/shot0000.jpg"), Cue(2.0, 4.0, "thumbnails/shot0001.jpg")]
    assert read_vtt(vtt_text(board)) == board  # a storyboard's cues, as they were


def test_subtitle_languages_must_be_languages(tmp_path: Path):
    """A subtitle file's language is an ISO 639-1/639-2 code or a tag starting with one, else exit 2 naming it; a
    source stream's tag that is no language is carried as undetermined (published nowhere)."""
    from pershot.subtitles import sidecar_meta

    srt = tmp_path / "film.srt"
    srt.write_text(SRT_FR, encoding="utf-8")
    for bad in ("english", "xx"):
        with pytest.raises(InputError, match=f"subtitle language '{bad}' of film.srt is not an ISO 639-1/639-2"):
            parse_sidecar(f"{srt}:{bad}")
        with pytest.raises(InputError, match=f"'{bad}'"):
            parse_sidecar((srt, bad))
    assert [parse_sidecar(f"{srt}:{t}")[1] for t in ("en-GB", "zh-Hans", "haw", "und")] == ["en-GB", "zh-Hans",
                                                                                            "haw", ""]
    assert sidecar_meta(tmp_path / "film.xx.srt", "")["language"] == ""
    found = [SubtitleStream(2, "subrip", True, "english"), SubtitleStream(3, "subrip", True, "xx"),
             SubtitleStream(4, "ass", True, "fre", forced=True)]
    carried, _ = subtitle_picks("x.mkv", "all", found)
    assert [(s.index, s.language, s.forced) for s in carried] == [(2, "", False), (3, "", False), (4, "fre", True)]
    assert [s.language for s in subtitle_picks("x.mkv", ["xx", 0], found)[0]] == ["", ""]  # found by its tag
    from pershot.languages import known

    assert all(known(t) for t in ("en", "eng", "fre", "fra", "FR", "pt-BR", "pt_BR", "zh-Hans", "es-419",
                                  "sr-Latn-RS", "haw", "gsw", "und"))
    assert not any(known(t) for t in ("english", "xx", "qaa", "e", "en-", "en--GB", "x-private", "12", ""))


def test_subtitles_reach_hls_and_dash_as_the_viewer_should_read_them(media_dir: Path, tmp_path: Path, capsys):
    """End to end: a source with a SubRip stream tagged 'english' and a WebVTT stream tagged 'xx', and a SubRip
    file: escaped text in the WebVTT files and the HLS segments, the WebVTT stream's settings and spans kept,
    LANGUAGE and lang only where there is a language; a file given as :english or :xx is refused first."""
    from pershot.cli import main

    clip = cut(media_dir / "testvideo.mp4", tmp_path / "clip.mp4", start_frame=240, frames=60, height=90)
    (tmp_path / "in.srt").write_text(SRT_TEXT, encoding="utf-8")
    (tmp_path / "in.vtt").write_text(VTT_TEXT, encoding="utf-8")
    src = tmp_path / "src.mkv"
    ffmpeg.run(["-y", "-v", "error", "-i", str(clip), "-i", str(tmp_path / "in.srt"), "-i", str(tmp_path / "in.vtt"),
                "-map", "0:v", "-map", "1", "-map", "2", "-c:v", "copy", "-c:s:0", "srt", "-c:s:1", "copy",
                "-metadata:s:s:0", "language=english", "-metadata:s:s:1", "language=xx", str(src)],
               what="muxing a subtitled clip failed")
    out = tmp_path / "lad"
    api.ladder(src, grid=GRID, complexity=1.0, rungs=1, out_dir=out, shots=SHOTS, jobs=1, plots=False)
    side = tmp_path / "side.srt"
    side.write_text(SRT_TEXT, encoding="utf-8")
    dst = tmp_path / "r"
    for bad in ("english", "xx"):
        assert main(["encode", str(out / "ladder.json"), "-o", str(dst), "-q", "--hls", "--dash",
                     "--subtitle-file", f"{side}:{bad}"]) == InputError.exit_code
        assert f"subtitle language '{bad}' of side.srt is not an ISO 639-1/639-2" in capsys.readouterr().err
        assert not dst.exists()
    assert main(["encode", str(out / "ladder.json"), "-o", str(dst), "-q", "--hls", "--dash", "-j", "1",
                 "--subtitles", "all", "--subtitle-file", f"{side}:en"]) == 0
    names = sorted(p.name for p in dst.glob("subtitles*.vtt"))
    assert names == ["subtitles_0.vtt", "subtitles_1.vtt", "subtitles_2_en.vtt"]
    first = "x &lt; y and 5 &gt; 3 &amp; co"
    for name in ("subtitles_0.vtt", "subtitles_2_en.vtt"):
        text = (dst / name).read_text(encoding="utf-8")
        assert first in text and "Arrow --&gt; here" in text and "<i>kept</i>" in text and " < " not in text
    assert "intro\n00:00:00.100 --> 00:00:01.200 line:0 align:start\nif a &lt;b&gt; c &lt;3\n<v Bob>Hi</v>" in (
        dst / "subtitles_1.vtt").read_text(encoding="utf-8")
    hls = dst / "hls"
    segs = [read_vtt(p.read_text(encoding="utf-8")) for p, _ in read_playlist(hls / "subs" / "index.m3u8").items]
    assert segs[0][0].text == first and "-->" not in "".join(c.text for s in segs for c in s)
    master = (hls / "master.m3u8").read_text()
    media = [ln for ln in master.splitlines() if ln.startswith("#EXT-X-MEDIA:TYPE=SUBTITLES")]
    assert len(media) == 3 and [m.count("LANGUAGE=") for m in media] == [0, 0, 1] and 'LANGUAGE="en"' in media[2]
    mpd = (dst / "dash" / "manifest.mpd").read_text()
    assert mpd.count('mimeType="text/vtt"') == 3 and 'lang="en"' in mpd
    assert 'lang="english"' not in mpd and 'lang="xx"' not in mpd


def test_audio_languages_are_published_only_where_they_are_languages():
    from pershot.languages import published

    # HLS LANGUAGE / DASH lang of an audio rendition: a stream tagged "english" published LANGUAGE="english"
    assert [published(t) for t in ("eng", "fre", "pt_BR", "haw", "english", "xx", "yue", "und", "")] == [
        "en", "fr", "pt-BR", "haw", "", "", "", "", ""]
