"""MPEG-DASH packaging: fMP4 segments cut at shot starts without re-encoding, lined up across rungs,
a manifest with true figures; and renditions whose decode timestamps advance one frame at a time."""
from __future__ import annotations

import copy
import dataclasses
import io
import os
import xml.etree.ElementTree as ET
from fractions import Fraction
from pathlib import Path

import pytest
from conftest import cut

from pershot import api, ffmpeg
from pershot.bitstream import (Av1Sequence, HevcProfile, av1_sequence, av1_stream, codec_string, hevc_codec_string,
                               hevc_entry_and_codec, hevc_profiles, unescape)
from pershot.dash import _NS, TRICKMODE, iso_duration, min_bandwidth
from pershot.errors import InputError
from pershot.renditions import _check_packaging, concat_list, join_args, reorder_depth, uniform_dts
from pershot.shots import Shot

FPS = Fraction(30000, 1001)


# --------------------------------------------------------------------------- pure parts


def test_min_bandwidth_is_the_smallest_rate_that_never_stalls():
    # 3 segments of 2 s; 1 s buffered first. From segment 0: 8 kbit due at 1 s, +2 kbit due at 3 s,
    # +2 kbit due at 5 s -> 8000 b/s; from segment 1: 2 kbit at 1 s -> 2000; the start at 0 decides.
    assert min_bandwidth([8000, 2000, 2000], [0, 2, 4], 1.0) == pytest.approx(8000)
    # a late spike decides from its own start: 12 kbit due 1 s after playback starts there
    assert min_bandwidth([2000, 2000, 12000], [0, 2, 4], 1.0) == pytest.approx(12000)
    # a longer buffer: 12 kbit due at 4 s (3000) beats 14 kbit at 6 s from segment 1 and 16 kbit at 8 s from 0
    assert min_bandwidth([2000, 2000, 12000], [0, 2, 4], 4.0) == pytest.approx(3000)
    # brute force: at any rate below, some start stalls; at the rate, none does
    sizes, starts, m = [5000, 1000, 9000, 3000, 7000], [0, 1.5, 2.5, 5, 6], 2.0

    def stalls(rate):
        for s in range(len(sizes)):
            got = 0.0
            for k in range(s, len(sizes)):
                got += sizes[k]
                if got / rate > m + starts[k] - starts[s] + 1e-9:
                    return True
        return False

    bw = min_bandwidth(sizes, starts, m)
    assert not stalls(bw) and stalls(bw * 0.99)
    with pytest.raises(InputError):
        min_bandwidth(sizes, starts, 0)


def test_iso_duration_covers_the_time():
    assert iso_duration(6.006) == "PT6.006S"
    assert iso_duration(8.0081) == "PT8.009S"  # rounded up: a duration must cover the media
    assert iso_duration(3003 / 375.0) == "PT8.008S"  # float noise below a microsecond is not rounded up
    assert iso_duration(0.5) == "PT0.500S"
    assert iso_duration(3723.25) == "PT3723.250S"


def test_hevc_codec_string():
    main = HevcProfile(profile_space=0, tier=0, profile_idc=1, compatibility=0x60000000,
                       constraints=bytes([0x90, 0, 0, 0, 0, 0]), level_idc=93)
    assert hevc_codec_string([main]) == "hev1.1.6.L93.90"  # ISO/IEC 14496-15 annex E's form
    main10 = HevcProfile(0, 1, 2, 0x20000000, bytes([0xB0, 0, 0, 0, 0, 0]), 120)
    assert hevc_codec_string([main10], "hvc1") == "hvc1.2.4.H120.B0"
    # a mix: the higher profile and level, the flags both share, the high tier if either has it
    assert hevc_codec_string([main, main10]) == "hev1.2.4.H120.90"
    with pytest.raises(InputError):
        hevc_codec_string([])


def test_av1_sequence_header_fields():
    # seq_profile 0, not still, not reduced, no timing info, no display delay, 1 operating point,
    # idc 0, level 8 (4.0) -> tier bit follows, 1
    bits = "000" "0" "0" "0" "0" "00000" "000000000000" "01000" "1"
    payload = int(bits.ljust(40, "0"), 2).to_bytes(5, "big")
    assert av1_sequence(payload) == Av1Sequence(profile=0, level=8, tier=1)
    reduced = int("001" "1" "1" "00101".ljust(16, "0"), 2).to_bytes(2, "big")
    assert av1_sequence(reduced) == Av1Sequence(profile=1, level=5, tier=0)
    timing = int("000" "0" "0" "1".ljust(8, "0"), 2).to_bytes(1, "big")
    assert av1_sequence(timing) is None  # left to the av1C figures


def test_unescape_removes_emulation_prevention():
    assert unescape(bytes([0, 0, 3, 1, 0, 0, 3, 0, 5])) == bytes([0, 0, 1, 0, 0, 0, 5])
    assert unescape(bytes([0, 3, 0, 0, 3])) == bytes([0, 3, 0, 0])


@pytest.mark.parametrize("fmt", ["hls", "dash"])
def test_packaging_checks_before_any_encode(fmt):
    """HLS and DASH package x264, x265 and SVT-AV1 ladders of one encoder and one resolution per rung."""
    def shot(i, w=160, h=90):
        return {"shot": i, "width": w, "height": h, "encode": {"ffmpeg_encoder": "libx265"}}

    kw = {fmt: True}
    doc = {"rungs": [{"rung": 0, "shots": [shot(0), shot(1)]}, {"rung": 1, "shots": [shot(0, 256, 144)]}]}
    _check_packaging(doc, None, **kw)  # HEVC: fragmented MP4
    _check_packaging(doc, None, hls=True, dash=True)
    av1 = copy.deepcopy(doc)
    for r in av1["rungs"]:
        for sh in r["shots"]:
            sh["encode"] = {"ffmpeg_encoder": "libsvtav1"}
    _check_packaging(av1, None, **kw)  # AV1 too
    mixed = copy.deepcopy(doc)
    mixed["rungs"][0]["shots"][1].update(width=256, height=144)
    with pytest.raises(InputError, match=f"{fmt.upper()} packaging needs one resolution"):
        _check_packaging(mixed, None, **kw)
    two = copy.deepcopy(doc)
    two["rungs"][1]["shots"][0]["encode"]["ffmpeg_encoder"] = "libsvtav1"
    with pytest.raises(InputError, match="one encoder"):
        _check_packaging(two, None, **kw)
    _check_packaging(two, [1], **kw)  # rungs not asked for are not checked
    vp9 = copy.deepcopy(doc)
    vp9["rungs"][0]["shots"][0]["encode"]["ffmpeg_encoder"] = "libvpx-vp9"
    with pytest.raises(InputError, match="x264, x265 and SVT-AV1"):
        _check_packaging(vp9, None, **kw)
    _check_packaging(vp9, None)  # nothing asked, nothing checked


def test_packaging_needs_the_muxer(monkeypatch):
    """An ffmpeg given with --ffmpeg that lacks the hls or dash muxer fails before any encode."""
    from pershot import ffmpeg as ff
    from pershot.errors import ConfigError

    assert ff.has_muxer("dash") and ff.has_muxer("hls") and ff.has_muxer("mp4")
    assert not ff.has_muxer("no-such-format")
    doc = {"rungs": [{"rung": 0, "shots": [{"shot": 0, "width": 160, "height": 90,
                                            "encode": {"ffmpeg_encoder": "libx264"}}]}]}
    real = ff.ffmpeg_info()
    monkeypatch.setattr(ff, "ffmpeg_info", lambda: dataclasses.replace(real, muxers=real.muxers - {"dash"}))
    with pytest.raises(ConfigError, match="no dash muxer"):
        _check_packaging(doc, None, dash=True)
    _check_packaging(doc, None, hls=True)  # HLS does not need it


# --------------------------------------------------------------------------- joined decode timestamps


def _timestamps(path) -> list[tuple[int, int]]:
    import av

    with av.open(str(path)) as c:
        st = c.streams.video[0]
        return [(int(p.pts), int(p.dts)) for p in c.demux(st) if p.size]


def test_a_rung_mixing_b_frame_delays_gets_one_frame_per_sample(tmp_path: Path):
    """x264 ultrafast (no B-frames) between two medium shots (B-pyramid, two frames of delay): joined
    as they come, the decode timestamps after the ultrafast shot bunch up one tick apart; with one
    delay for the rung, every sample lasts one frame and the presentation times do not move."""
    parts = []
    for i, preset in enumerate(("medium", "ultrafast", "medium")):
        p = tmp_path / f"s{i}.ts"
        ffmpeg.run(["-y", "-v", "error", "-f", "lavfi", "-i", f"testsrc2=size=160x90:rate={FPS}", "-frames:v", "20",
                    "-pix_fmt", "yuv420p", "-c:v", "libx264", "-preset", preset, "-crf", "30", "-f", "mpegts", str(p)],
                   what="encoding a shot failed")
        parts.append(str(p))
    assert [reorder_depth(p) for p in parts] == [2, 0, 2]
    lst = tmp_path / "list.txt"
    lst.write_text(concat_list(parts))
    plain, even = tmp_path / "plain.mp4", tmp_path / "even.mp4"
    ffmpeg.run(join_args(str(lst), str(plain), "mp4", "avc3"), what="join failed")
    ffmpeg.run(join_args(str(lst), str(even), "mp4", "avc3", uniform_dts(2, FPS)), what="join failed")
    a, b = _timestamps(plain), _timestamps(even)
    assert len(a) == len(b) == 60
    assert sorted(p for p, _ in a) == sorted(p for p, _ in b) == [i * 3003 for i in range(60)]
    assert [p for p, _ in a] == [p for p, _ in b]  # decode order and presentation times kept
    steps_plain = {d2 - d1 for (_, d1), (_, d2) in zip(a, a[1:])}
    assert min(steps_plain) < 3003  # the bunching this fixes (1-tick samples)
    assert {d2 - d1 for (_, d1), (_, d2) in zip(b, b[1:])} == {3003}
    assert all(d <= p for p, d in b)


# --------------------------------------------------------------------------- a packaged ladder

#: ultrafast and medium: rungs can mix B-frame delays and H.264 profiles
GRID = {"name": "dash", "heights": [90, 144], "crf": [26, 36], "encoders": {"x264": {"presets": ["ultrafast", "medium"]}}}


def _two_shot_clip(media_dir: Path, tmp_path: Path) -> tuple[Path, list[Shot]]:
    a = cut(media_dir / "testvideo.mp4", tmp_path / "a.mp4", start_frame=240, frames=45, height=144)
    b = cut(media_dir / "testvideo.mp4", tmp_path / "b.mp4", start_frame=420, frames=45, height=144)
    src = tmp_path / "av.mp4"
    ffmpeg.run(["-y", "-v", "error", "-i", str(a), "-i", str(b), "-f", "lavfi", "-i", "sine=frequency=440:duration=4",
                "-filter_complex", "[0:v][1:v]concat=n=2:v=1:a=0[v]", "-map", "[v]", "-map", "2:a", "-c:v", "libx264",
                "-crf", "14", "-c:a", "aac", "-shortest", str(src)], what="making a two-shot clip failed")
    shots = [Shot(index=0, start_frame=0, end_frame=45, start_s=0.0, end_s=1.5015),
             Shot(index=1, start_frame=45, end_frame=90, start_s=1.5015, end_s=3.003)]
    return src, shots


def _representations(mpd: Path):
    root = ET.parse(mpd).getroot()
    out = []
    for a in root.findall("d:Period/d:AdaptationSet", _NS):
        trick = any(e.get("schemeIdUri") == TRICKMODE for e in a.findall("d:EssentialProperty", _NS))
        for rep in a.findall("d:Representation", _NS):
            tpl = rep.find("d:SegmentTemplate", _NS)
            if tpl is None:  # a side-loaded file (WebVTT subtitles): no segments
                continue
            ss = tpl.findall("d:SegmentTimeline/d:S", _NS)
            scale = int(tpl.get("timescale"))
            t, starts, durs = 0, [], []
            for s in ss:
                t = int(s.get("t", t))
                for _ in range(int(s.get("r", "0")) + 1):
                    starts.append(t / scale)
                    durs.append(int(s.get("d")) / scale)
                    t += int(s.get("d"))
            rid = rep.get("id")
            files = [mpd.parent / tpl.get("media").replace("$RepresentationID$", rid).replace(
                "$Number%05d$", f"{n:05d}") for n in range(int(tpl.get("startNumber", "1")),
                                                           int(tpl.get("startNumber", "1")) + len(starts))]
            init = mpd.parent / tpl.get("initialization").replace("$RepresentationID$", rid)
            out.append(("trick" if trick else a.get("contentType"), rep, starts, durs, init, files))
    return root, out


def _check_trick(root, reps, main_reps, shot_starts) -> None:
    """One trick-mode set per main video set (DASH-IF's EssentialProperty naming the main set's id): key
    frames only, one per shot, each decodable, its timeline spanning the presentation."""
    import av

    sets = root.findall("d:Period/d:AdaptationSet", _NS)
    mains = [a for a in sets if a.get("contentType") == "video"
             and not any(e.get("schemeIdUri") == TRICKMODE for e in a.findall("d:EssentialProperty", _NS))]
    tricks = [x for x in reps if x[0] == "trick"]
    assert len(tricks) == len(mains) >= 1
    values = sorted(e.get("value") for a in sets for e in a.findall("d:EssentialProperty", _NS)
                    if e.get("schemeIdUri") == TRICKMODE)
    assert values == sorted(a.get("id") for a in mains)
    total = sum(main_reps[0][3])
    for _, rep, starts, durs, init, files in tricks:
        assert rep.get("codingDependency") == "false" and int(rep.get("maxPlayoutRate")) >= 1
        assert rep.get("codecs") in {m[1].get("codecs") for m in main_reps}
        assert sum(durs) == pytest.approx(total, abs=2e-3)
        data = init.read_bytes() + b"".join(f.read_bytes() for f in files)
        with av.open(io.BytesIO(data)) as c:
            st = c.streams.video[0]
            frames = [(float(f.pts * st.time_base), f.key_frame) for f in c.decode(st)]
        assert [k for _, k in frames] == [True] * len(shot_starts)
        assert [t for t, _ in frames] == pytest.approx(shot_starts, abs=2e-3)


def _decode(init: Path, files) -> int:
    import av

    data = init.read_bytes() + b"".join(f.read_bytes() for f in files)
    with av.open(io.BytesIO(data)) as c:
        return sum(1 for _ in c.decode(video=0))


def test_dash_package_of_a_ladder_with_audio(media_dir: Path, tmp_path: Path):
    src, shots = _two_shot_clip(media_dir, tmp_path)
    out = tmp_path / "lad"
    api.ladder(src, grid=GRID, complexity=0.6, rungs=3, out_dir=out, shots=shots, jobs=1, plots=False)
    res = api.encode_renditions(out / "ladder.json", out / "r", jobs=1, audio="aac:64", dash=True)
    video = sorted((r for r in res if r.kind == "video"), key=lambda r: r.rung)
    assert len(video) >= 2
    for r in video:  # every rendition: one frame per sample
        ts = _timestamps(r.path)
        assert {d2 - d1 for (_, d1), (_, d2) in zip(ts, ts[1:])} == {3003} and all(d <= p for p, d in ts)
    # again with 1 s segments: the 3 s clip then gives two, cut at the second shot's start
    from pershot.dash import package

    pkg = package(res, out / "r" / "dash", fps=FPS, segment_s=1.0)
    assert pkg.manifest == out / "r" / "dash" / "manifest.mpd" and pkg.mixed_sequence_headers == ()
    root, reps = _representations(pkg.manifest)
    assert root.get("type") == "static" and root.get("mediaPresentationDuration") == "PT3.003S"
    vids = [x for x in reps if x[0] == "video"]
    auds = [x for x in reps if x[0] == "audio"]
    assert len(vids) == len(video) and len(auds) == 1
    longest = max(max(d) for _, _, _, d, _, _ in reps)
    assert root.get("maxSegmentDuration") == iso_duration(longest) == root.get("minBufferTime")
    for r, (_, rep, starts, durs, init, files) in zip(video, vids):
        # the switch points are the same frames in every rung: the second shot's first frame
        assert starts == [0.0, pytest.approx(1.5015)] and sum(durs) == pytest.approx(3.003)
        assert int(rep.get("width")) == r.width and int(rep.get("height")) == r.height
        assert rep.get("codecs") == codec_string(r.path, "avc3") and rep.get("codecs").startswith("avc3.")
        bits = [f.stat().st_size * 8.0 for f in files]
        assert int(rep.get("bandwidth")) == pytest.approx(min_bandwidth(bits, starts, longest), abs=1)
        assert _decode(init, files) == r.frames == 90  # every frame, none twice
        assert _decode(init, files[1:]) == 45  # a player joining at the second segment
    bws = [int(rep.get("bandwidth")) for _, rep, *_ in vids]
    assert bws == sorted(bws)
    _, arep, astarts, adurs, ainit, afiles = auds[0]
    assert arep.get("codecs") == "mp4a.40.2" and sum(adurs) == pytest.approx(3.003, abs=0.05)
    assert all(f.is_file() for f in afiles) and ainit.is_file()
    assert not (out / "r" / "dash.part").exists()
    _check_trick(root, reps, vids, [0.0, 1.5015])


def test_dash_package_of_hevc_and_av1(media_dir: Path, tmp_path: Path):
    """x265 rungs get hvc1 or hev1 (parameter sets in band) and a codec string read from their SPS; an AV1
    rung mixing SVT-AV1 presets carries two sequence headers, and plays from any segment."""
    src, shots = _two_shot_clip(media_dir, tmp_path)
    for enc, presets, crf, entry in (("x265", ["ultrafast", "medium"], [28, 38], "hev1."),
                                     ("svtav1", ["12", "8"], [35, 50], "av01.0.")):
        grid = {"name": enc, "heights": [144], "crf": crf, "encoders": {enc: {"presets": presets}}}
        out = tmp_path / enc
        api.ladder(src, grid=grid, complexity=1.0, rungs=2, out_dir=out, shots=shots, jobs=1, plots=False)
        res = api.encode_renditions(out / "ladder.json", out / "r", jobs=1)
        from pershot.dash import package

        pkg = package(res, out / "r" / "dash", fps=FPS, segment_s=1.0)
        root, reps = _representations(pkg.manifest)
        _check_trick(root, reps, [x for x in reps if x[0] == "video"], [0.0, 1.5015])
        reps = [x for x in reps if x[0] == "video"]
        for r, (_, rep, starts, _, init, files) in zip(sorted(res, key=lambda r: r.rung), reps):
            # HEVC: hvc1 where the rung's shots share one set of parameter sets (Safari's MSE needs it)
            want = hevc_entry_and_codec(r.path)[0] if enc == "x265" else None
            assert rep.get("codecs") == codec_string(r.path, want) and rep.get("codecs").startswith(want or entry)
            assert starts == [0.0, pytest.approx(1.5015)]
            assert _decode(init, files) == 90 and _decode(init, files[1:]) == 45
            if enc == "x265":
                assert {p.profile_idc for p in hevc_profiles(r.path)} == {1}  # Main
                assert want.encode() in init.read_bytes()
    # SVT-AV1 presets 12 and 8 signal different tools: a rung with both carries two sequence headers
    mixed = tmp_path / "mixed.mp4"
    parts = []
    for i, preset in enumerate(("12", "8")):
        p = tmp_path / f"av1_{i}.mp4"
        ffmpeg.run(["-y", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=160x96:rate=24", "-frames:v", "12",
                    "-pix_fmt", "yuv420p", "-c:v", "libsvtav1", "-preset", preset, "-crf", "40",
                    "-svtav1-params", "keyint=-1", str(p)], what="encoding AV1 failed")
        parts.append(str(p))
    lst = tmp_path / "l.txt"
    lst.write_text(concat_list(parts))
    ffmpeg.run(join_args(str(lst), str(mixed), "mp4"), what="join failed")
    info = av1_stream(mixed)
    assert info.sequence_headers == 2 and info.codec.startswith("av01.0.")
    assert av1_stream(parts[0]).sequence_headers == 1


def test_cli_dash_option_fails_before_any_work(tmp_path: Path, capsys):
    from pershot.cli import main

    src = tmp_path / "v.mp4"
    ffmpeg.run(["-y", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=160x90:rate=10", "-frames:v", "10",
                "-pix_fmt", "yuv420p", str(src)], what="making a clip failed")
    for opts, msg in ((["--dash"], "--dash goes with --encode"),
                      (["--encode", "--dash", "--per-shot-resolution"], "--per-shot-resolution")):
        out = tmp_path / "out"
        assert main(["ladder", str(src), *opts, "-o", str(out), "-q"]) == InputError.exit_code
        assert msg in capsys.readouterr().err
        assert not (out / "shots.csv").exists()


def test_codec_string_refuses_what_it_cannot_name(tmp_path: Path):
    vp9 = tmp_path / "v.webm"
    ffmpeg.run(["-y", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=160x90:rate=10", "-frames:v", "3",
                "-c:v", "libvpx-vp9", str(vp9)], what="making a VP9 clip failed")
    with pytest.raises(InputError, match="H.264, HEVC and AV1 only"):
        codec_string(vp9)
    assert os.path.getsize(vp9) > 0


@pytest.mark.parametrize("ext", ["mkv", "mp4"])
def test_audio_names_are_the_streams_titles_in_hls_and_dash(media_dir: Path, tmp_path: Path, ext):
    """A main track and a commentary track in one language: HLS NAME and DASH Label are each stream's title
    (ffmpeg's MP4 muxer keeps it in the rendition, and in an MP4 source, as the track's ``name``, not
    ``title``), not "English" twice."""
    src, shots = _two_shot_clip(media_dir, tmp_path)
    mkv = tmp_path / f"titled.{ext}"
    ffmpeg.run(["-y", "-v", "error", "-i", str(src), "-f", "lavfi", "-i", "sine=frequency=880:duration=4",
                "-map", "0:v", "-map", "0:a", "-map", "1:a", "-c:v", "copy", "-c:a", "aac",
                "-metadata:s:a", "language=eng", "-metadata:s:a:0", "title=Main",
                "-metadata:s:a:1", 'title=Director, "commentary"', str(mkv)],
               what="making a two-track clip failed")
    out = tmp_path / "lad"
    api.ladder(mkv, grid=GRID, complexity=1.0, rungs=1, out_dir=out, shots=shots, jobs=1, plots=False)
    api.encode_renditions(out / "ladder.json", out / "r", jobs=1, audio="aac:64", audio_stream="all", hls=True,
                          dash=True)
    media = [ln for ln in (out / "r" / "hls" / "master.m3u8").read_text().splitlines()
             if ln.startswith("#EXT-X-MEDIA:TYPE=AUDIO")]
    assert [ln.split('NAME="')[1].split('"')[0] for ln in media] == ["Main", "Director, commentary"]  # no quotes
    assert all('LANGUAGE="en"' in ln for ln in media) and 'DEFAULT=YES' in media[0]
    root = ET.parse(out / "r" / "dash" / "manifest.mpd").getroot()
    sets = [a for a in root.findall("d:Period/d:AdaptationSet", _NS) if a.get("contentType") == "audio"]
    assert [(a.get("lang"), a.find("d:Label", _NS).text) for a in sets] == [("en", "Main"),
                                                                            ("en", 'Director, "commentary"')]
