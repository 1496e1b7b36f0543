"""HLS packaging: segments cut at shot starts without re-encoding, a master playlist with true figures."""
from __future__ import annotations

import io
from pathlib import Path

import av
import pytest
from conftest import cut

from pershot import api, ffmpeg
from pershot.errors import InfeasibleError, InputError
from pershot.hls import avc_codec_string, h264_sps, read_playlist
from pershot.shots import Shot

#: ultrafast (Constrained Baseline) and medium (High): rungs can mix H.264 profiles
GRID = {"name": "hls", "heights": [90, 144], "crf": [26, 36], "encoders": {"x264": {"presets": ["ultrafast", "medium"]}}}


def test_codec_string_covers_every_shot():
    assert avc_codec_string([(66, 0xC0, 12)]) == "avc1.42c00c"
    assert avc_codec_string([(100, 0, 13)]) == "avc1.64000d"
    assert avc_codec_string([(66, 0xC0, 12), (100, 0, 13), (77, 0x40, 21)]) == "avc1.640015"
    with pytest.raises(InputError):
        avc_codec_string([])


def test_read_playlist(tmp_path: Path):
    (tmp_path / "a.ts").write_bytes(b"x" * 1000)
    (tmp_path / "b.ts").write_bytes(b"x" * 500)
    pl = tmp_path / "index.m3u8"
    pl.write_text("#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2.0,\na.ts\n#EXTINF:0.5,\nb.ts\n#EXT-X-ENDLIST\n")
    seg = read_playlist(pl)
    # peak: over runs of 1 to 3 s (RFC 8216), so b (0.5 s) only with a: 1,500 B in 2.5 s, as the average
    assert seg.rates_bps() == (12000 / 2.5, 12000 / 2.5)
    assert [(p.name, d) for p, d in seg.items] == [("a.ts", 2.0), ("b.ts", 0.5)] and seg.target_s == 2.0


def _rfc_peak(bits_seconds, target: float) -> float:
    """RFC 8216's peak segment bit rate, by the letter: the highest bits / seconds of every contiguous set of
    segments lasting between 0.5 and 1.5 times the target duration."""
    rates = [sum(b for b, _ in bits_seconds[i:j]) / sum(d for _, d in bits_seconds[i:j])
             for i in range(len(bits_seconds)) for j in range(i + 1, len(bits_seconds) + 1)
             if 0.5 * target <= sum(d for _, d in bits_seconds[i:j]) <= 1.5 * target]
    return max(rates)


def test_peak_is_over_runs_of_half_to_one_and_a_half_target_durations():
    """A segment far shorter than the target (an audio playlist's 0.02 s of AAC priming past the video's end,
    a one-frame last shot) counts with the one before it, not alone: it made BANDWIDTH up to twice too high."""
    import random

    from pershot.hls import peak_and_average

    segs = [(6e6, 6.0), (12e6, 6.0), (160000.0, 0.02)]  # 1 and 2 Mbit/s; then 20 kB in 0.02 s: 8 Mbit/s alone
    want = (12e6 + 160000) / 6.02  # the last two together; the first two (12 s) are longer than 1.5 x 6 s
    # the target: by default the longest segment's, rounded up
    assert peak_and_average(segs) == (pytest.approx(want), pytest.approx(18.16e6 / 12.02))
    assert peak_and_average(segs, 6.0) == peak_and_average(segs)
    assert peak_and_average([(1000.0, 0.2), (1000.0, 0.1)], 1.0) == (pytest.approx(2000 / 0.3),) * 2  # < 0.5 s
    rng = random.Random(7)
    for _ in range(200):  # as RFC 8216 words it, over every contiguous set
        target = rng.choice([1, 2, 6])
        segs = [(rng.uniform(1e3, 1e6), rng.choice([rng.uniform(0.01, 0.3), rng.uniform(0.5, 1.0)]) * target)
                for _ in range(rng.randint(1, 12))]
        if sum(d for _, d in segs) >= 0.5 * target:
            assert peak_and_average(segs, target)[0] == pytest.approx(_rfc_peak(segs, target))


def test_image_stream_bandwidth_is_its_peak_over_runs_of_images(tmp_path: Path):
    """The storyboard's EXT-X-IMAGE-STREAM-INF: a last shot of 0.1 s counts with the image before it."""
    from types import SimpleNamespace

    from pershot.hls import image_stream
    from pershot.subtitles import Cue

    (tmp_path / "thumbnails").mkdir()
    cues = []
    for k, (t0, t1, size) in enumerate([(0.0, 2.0, 1000), (2.0, 4.0, 1000), (4.0, 4.1, 5000)]):
        (tmp_path / "thumbnails" / f"shot{k:04d}.jpg").write_bytes(b"x" * size)
        cues.append(Cue(t0, t1, f"thumbnails/shot{k:04d}.jpg"))
    (line,) = image_stream(cues, SimpleNamespace(width=160, height=90), tmp_path)
    assert "#EXT-X-TARGETDURATION:2" in (tmp_path / "thumbnails" / "index.m3u8").read_text()
    # runs of 1 to 3 s: the second and third images, 6,000 B in 2.1 s (the third alone: 5,000 B in 0.1 s)
    assert line.startswith(f"#EXT-X-IMAGE-STREAM-INF:BANDWIDTH={round(48000 / 2.1)},RESOLUTION=160x90,")


def _frames(ts_files) -> int:

    n = 0
    for f in ts_files:
        with av.open(str(f)) as c:
            n += sum(1 for _ in c.decode(video=0))
    return n


def _iframe_starts(master: Path) -> dict[str, list[float]]:
    """Check a master's I-frame playlists (one per variant, same codec and size; each entry a byte range
    of the variant's segments that decodes alone to one key frame, the spans adding up to the variant's
    length) and return each one's key frame times (seconds from the start), by variant URI."""
    lines = master.read_text().splitlines()
    variants = {u: inf for inf, u in zip(lines, lines[1:]) if inf.startswith("#EXT-X-STREAM-INF")}
    iframes = [ln for ln in lines if ln.startswith("#EXT-X-I-FRAME-STREAM-INF")]
    assert len(iframes) == len(variants)
    out = {}
    for ln in iframes:
        uri = ln.split('URI="')[1].rstrip('"')
        v = uri.replace("iframes.m3u8", "index.m3u8")
        attrs = lambda x: (x.split("RESOLUTION=")[1].split(",")[0], x.split('CODECS="')[1].split(",")[0].rstrip('"'))
        assert attrs(ln) == attrs(variants[v])
        text = (master.parent / uri).read_text().splitlines()
        assert "#EXT-X-I-FRAMES-ONLY" in text
        init = next((x.split('URI="')[1].rstrip('"') for x in text if x.startswith("#EXT-X-MAP:")), None)
        t, starts = 0.0, []
        for inf, rng, seg in zip(text, text[1:], text[2:]):
            if not inf.startswith("#EXTINF:"):
                continue
            n, off = (int(x) for x in rng.split(":")[1].split("@"))
            head = (master.parent / uri).parent
            data = ((head / init).read_bytes() if init else b"") + (head / seg).read_bytes()[off:off + n]
            with av.open(io.BytesIO(data)) as c:
                frames = list(c.decode(video=0))
            assert len(frames) == 1 and frames[0].key_frame  # one picture, decodable alone
            starts.append(round(t, 3))
            t += float(inf[8:].split(",")[0])
        assert t == pytest.approx(sum(d for _, d in read_playlist(master.parent / v).items), abs=1e-3)
        out[v] = starts
    return out


def test_hls_package_of_a_ladder_with_audio(media_dir: Path, tmp_path: Path):
    a = cut(media_dir / "testvideo.mp4", tmp_path / "a.mp4", start_frame=240, frames=45, height=144)
    b = cut(media_dir / "testvideo.mp4", tmp_path / "b.mp4", start_frame=420, frames=45, height=144)
    src = tmp_path / "av.mp4"
    ffmpeg.run(["-y", "-v", "error", "-i", str(a), "-i", str(b), "-f", "lavfi", "-i", "sine=frequency=440:duration=4",
                "-filter_complex", "[0:v][1:v]concat=n=2:v=1:a=0[v]", "-map", "[v]", "-map", "2:a", "-c:v", "libx264",
                "-crf", "14", "-c:a", "aac", "-shortest", str(src)], what="making a two-shot clip failed")
    shots = [Shot(index=0, start_frame=0, end_frame=45, start_s=0.0, end_s=1.5015),
             Shot(index=1, start_frame=45, end_frame=90, start_s=1.5015, end_s=3.003)]
    out = tmp_path / "lad"
    api.ladder(src, grid=GRID, complexity=0.6, rungs=3, out_dir=out, shots=shots, jobs=1, plots=False)
    res = api.encode_renditions(out / "ladder.json", out / "r", jobs=1, audio="aac:64", hls=True)
    assert (out / "r" / "hls" / "master.m3u8").is_file()
    # trick play: one 3 s segment per variant, each shot's first frame an entry of its I-frame playlist
    starts = _iframe_starts(out / "r" / "hls" / "master.m3u8")
    assert len(starts) == 3 and all(st == pytest.approx([0.0, 1.5015], abs=2e-3) for st in starts.values())
    # again with 1 s segments: the 3 s clip then gives two, cut at the second shot's start
    from pershot.hls import package

    package(res, out / "r" / "hls", fps=30000 / 1001, segment_s=1.0)
    video = sorted((r for r in res if r.kind == "video"), key=lambda r: r.rung)
    master = (out / "r" / "hls" / "master.m3u8").read_text()
    assert master.startswith("#EXTM3U") and master.count('#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="audio"') == 1
    infs = [ln for ln in master.splitlines() if ln.startswith("#EXT-X-STREAM-INF:")]
    assert len(infs) == len(video) >= 2
    bw = [int(ln.split("BANDWIDTH=")[1].split(",")[0]) for ln in infs]
    assert bw == sorted(bw)
    durations = []
    for r in video:
        inf = next(ln for ln in infs if f"RESOLUTION={r.width}x{r.height}," in ln and
                   master.splitlines()[master.splitlines().index(ln) + 1] == f"rung{r.rung:02d}/index.m3u8")
        peak = int(inf.split("BANDWIDTH=")[1].split(",")[0])
        avg = int(inf.split("AVERAGE-BANDWIDTH=")[1].split(",")[0])
        assert peak >= avg > 0 and "FRAME-RATE=29.970" in inf
        assert f'CODECS="{avc_codec_string(h264_sps(r.path))},mp4a.40.2"' in inf
        seg = read_playlist(out / "r" / "hls" / f"rung{r.rung:02d}" / "index.m3u8")
        assert _frames(p for p, _ in seg.items) == r.frames == 90  # every frame, none twice
        durations.append([d for _, d in seg.items])
    frame = 1001 / 30000
    for d in durations:  # segments line up across rungs: a new one at the second shot's first frame
        assert len(d) == 2 and abs(d[0] - 1.5015) <= 2 * frame and abs(sum(d) - 3.003) <= 3 * frame
    aud = read_playlist(out / "r" / "hls" / "audio" / "index.m3u8")
    assert aud.items and abs(sum(d for _, d in aud.items) - 3.003) < 0.05


def _master_rates(master: Path) -> dict[str, tuple[int, int]]:
    """(BANDWIDTH, AVERAGE-BANDWIDTH) of each variant and I-frame variant of a master, by its playlist's URI."""
    lines = master.read_text().splitlines()
    out = {}
    for i, ln in enumerate(lines):
        if ln.startswith(("#EXT-X-STREAM-INF:", "#EXT-X-I-FRAME-STREAM-INF:")):
            uri = ln.split('URI="')[1].split('"')[0] if "URI=" in ln else lines[i + 1]
            out[uri] = tuple(int(ln.split(k)[1].split(",")[0]) for k in (":BANDWIDTH=", "AVERAGE-BANDWIDTH="))
    return out


def _playlist_bits(playlist: Path) -> tuple[list[tuple[float, float]], float]:
    """((bits, seconds) of each segment, target duration) of a media playlist, as on disk: a segment's bytes, or
    its byte range's (I-frame playlists)."""
    lines = playlist.read_text().splitlines()
    target = float(next(ln for ln in lines if ln.startswith("#EXT-X-TARGETDURATION:")).split(":")[1])
    out, dur, size = [], None, None
    for ln in lines:
        if ln.startswith("#EXTINF:"):
            dur = float(ln[8:].split(",")[0])
        elif ln.startswith("#EXT-X-BYTERANGE:"):
            size = int(ln.split(":")[1].split("@")[0])
        elif ln and not ln.startswith("#"):
            out.append(((size if size is not None else (playlist.parent / ln).stat().st_size) * 8.0, dur))
            dur = size = None
    return out, target


def test_bandwidth_is_the_peak_over_runs_of_segments_not_a_short_last_one(media_dir: Path, tmp_path: Path):
    """BANDWIDTH is RFC 8216's peak segment bit rate (over runs of segments lasting 0.5 to 1.5 target
    durations) of the variant plus its audio's: the audio playlist's last segment (AAC priming past the video's
    end: 0.02 to 0.05 s, mostly TS tables) and a last shot of one frame, each counted alone, made it up to
    twice that."""
    frames = [(240, 30), (420, 30), (600, 30), (700, 1)]
    parts = [cut(media_dir / "testvideo.mp4", tmp_path / f"{k}.mp4", start_frame=f, frames=n, height=144)
             for k, (f, n) in enumerate(frames)]
    src = tmp_path / "four.mp4"
    ffmpeg.run(["-y", "-v", "error", *(x for p in parts for x in ("-i", str(p))), "-f", "lavfi", "-i",
                "sine=frequency=440:sample_rate=48000:duration=4", "-filter_complex",
                "[0:v][1:v][2:v][3:v]concat=n=4:v=1:a=0[v]", "-map", "[v]", "-map", "4:a", "-c:v", "libx264",
                "-crf", "14", "-c:a", "aac", "-shortest", str(src)], what="making a four-shot clip failed")
    ends = [30, 60, 90, 91]
    shots = [Shot(index=k, start_frame=([0] + ends)[k], end_frame=e, start_s=([0] + ends)[k] * 1001 / 30000,
                  end_s=e * 1001 / 30000) for k, e in enumerate(ends)]
    out = tmp_path / "lad"
    api.ladder(src, grid=GRID, complexity=1.0, rungs=2, out_dir=out, shots=shots, jobs=1, plots=False)
    api.encode_renditions(out / "ladder.json", out / "r", jobs=1, audio="aac:128", hls=True, segment_s=1.0)
    master = out / "r" / "hls" / "master.m3u8"
    audio, a_target = _playlist_bits(master.parent / "audio" / "index.m3u8")
    assert a_target == 1 and audio[-1][1] < 0.1  # the short last segment this is about
    a_peak = _rfc_peak(audio, a_target)
    assert max(b / d for b, d in audio) == audio[-1][0] / audio[-1][1] > 1.2 * a_peak  # alone: much more
    rates = _master_rates(master)
    assert len(rates) == 4
    for uri, (bw, avg) in rates.items():
        segs, target = _playlist_bits(master.parent / uri)
        assert len(segs) == 4 and segs[-1][1] < 0.04  # the one-frame shot: a segment (an I-frame) of its own
        assert max(b / d for b, d in segs) == segs[-1][0] / segs[-1][1] > 1.2 * _rfc_peak(segs, target)
        own = sum(b for b, _ in segs) / sum(d for _, d in segs)
        if uri.endswith("iframes.m3u8"):
            assert bw == round(_rfc_peak(segs, target)) and avg == round(own)
        else:
            assert bw == round(_rfc_peak(segs, target) + a_peak)
            assert avg == round(own + sum(b for b, _ in audio) / sum(d for _, d in audio))


def _two_shots(media_dir: Path, tmp_path: Path) -> tuple[Path, list[Shot]]:
    """Two 1 s shots of testvideo.mp4 at 256x144, joined, and the shots they are."""
    a = cut(media_dir / "testvideo.mp4", tmp_path / "a.mp4", start_frame=240, frames=30, height=144)
    b = cut(media_dir / "testvideo.mp4", tmp_path / "b.mp4", start_frame=420, frames=30, height=144)
    src = tmp_path / "two.mp4"
    ffmpeg.run(["-y", "-v", "error", "-i", str(a), "-i", str(b), "-filter_complex", "[0:v][1:v]concat=n=2:v=1:a=0",
                "-c:v", "libx264", "-crf", "14", str(src)], what="making a two-shot clip failed")
    return src, [Shot(index=0, start_frame=0, end_frame=30, start_s=0.0, end_s=1.001),
                 Shot(index=1, start_frame=30, end_frame=60, start_s=1.001, end_s=2.002)]


def test_hls_of_an_hevc_ladder_is_fmp4_hvc1_where_a_rung_has_one_set_of_parameter_sets(media_dir: Path,
                                                                                          tmp_path: Path):
    """x265 rungs are cut into fragmented MP4: ``hvc1`` with the parameter sets in the initialization
    segment alone where the rung's shots share them, ``hev1`` with them in band where they do not
    (ultrafast and medium write different ones); every variant plays every frame."""
    import json


    from pershot.bitstream import _length_prefixed
    from pershot.hls import in_band_rungs

    src, shots = _two_shots(media_dir, tmp_path)
    grid = {"name": "hevc", "heights": [144], "crf": [28, 36], "encoders": {"x265": {"presets": ["medium"]}}}
    out = tmp_path / "lad"
    api.ladder(src, grid=grid, complexity=1.0, rungs=2, out_dir=out, shots=shots, jobs=1, plots=False)
    doc = json.loads((out / "ladder.json").read_text())
    args = doc["rungs"][0]["shots"][0]["encode"]["ffmpeg_args"]  # rung 0, shot 0: ultrafast instead
    args[args.index("-preset") + 1] = "ultrafast"
    res = api.encode_renditions(doc, out / "r", jobs=1, hls=True, source=src)
    master = out / "r" / "hls" / "master.m3u8"
    text = master.read_text()
    assert "#EXT-X-VERSION:7" in text and "VIDEO-RANGE" not in text  # SDR
    assert 'CODECS="hev1.1.' in text and 'CODECS="hvc1.1.' in text
    assert in_band_rungs(master) == ["rung00/index.m3u8"]
    for r in res:
        entry = "hev1" if r.rung == 0 else "hvc1"
        playlist = out / "r" / "hls" / f"rung{r.rung:02d}" / "index.m3u8"
        assert "#EXT-X-MAP:URI=" in playlist.read_text()
        with av.open(str(playlist)) as c:
            st = c.streams.video[0]
            assert st.codec_context.codec_tag == entry
            types = {(n[0] >> 1) & 0x3F for p in c.demux(st) if p.size for n in _length_prefixed(bytes(p))}
        with av.open(str(playlist)) as c:
            assert sum(1 for _ in c.decode(video=0)) == r.frames == 60
        assert bool(types & {32, 33, 34}) == (entry == "hev1")  # hvc1: none in band


def test_one_set_of_parameter_sets_per_rung_gives_hvc1_rungs(media_dir: Path, tmp_path: Path):
    """Probes record a digest of each encode's parameter sets (CRF does not change it, the preset can);
    a ladder with ``same_parameter_sets`` keeps one per rung, and every HLS rung is then hvc1."""
    from pershot.hls import in_band_rungs

    src, shots = _two_shots(media_dir, tmp_path)
    grid = {"name": "hevc2", "heights": [144, 90], "crf": [26, 32, 38],
            "encoders": {"x265": {"presets": ["ultrafast", "medium"]}}}
    out = tmp_path / "lad"
    kw = dict(grid=grid, rungs=3, out_dir=out, shots=shots, jobs=1, plots=False, same_parameter_sets=True)
    try:  # a budget that makes rungs mix presets; measured CPU times can put its edge just above 0.4
        lad = api.ladder(src, complexity=0.4, **kw)
    except InfeasibleError as ex:
        lad = api.ladder(src, complexity=min(1.0, ex.min_feasible or 1.0), **kw)
    probes = lad.prepared.table
    assert probes["param_sets"].str.startswith("ps").all()
    per = probes.groupby(["shot", "preset", "height"])["param_sets"].nunique()
    assert (per == 1).all()  # the CRF never changes them
    fast = probes.set_index(["shot", "preset", "height", "crf"])["param_sets"]
    assert fast[(0, "ultrafast", 144, 26.0)] != fast[(0, "medium", 144, 26.0)]
    assert (lad.table.groupby("rung")["param_sets"].nunique() == 1).all()
    api.encode_renditions(out / "ladder.json", out / "r", jobs=1, hls=True)
    master = out / "r" / "hls" / "master.m3u8"
    infs = [ln for ln in master.read_text().splitlines() if ln.startswith("#EXT-X-STREAM-INF")]
    assert in_band_rungs(master) == [] and sum('CODECS="hvc1.' in ln for ln in infs) == len(lad.rungs)


def test_cli_rendition_options_fail_before_any_work(tmp_path: Path, capsys):
    from pershot.cli import main

    src = tmp_path / "v.mp4"
    ffmpeg.run(["-y", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=160x90:rate=10", "-frames:v", "10",
                "-pix_fmt", "yuv420p", str(src)], what="making a clip failed")
    for opts, msg in ((["--hls"], "goes with --encode"), (["--encode", "--hls", "--per-shot-resolution"],
                                                           "--per-shot-resolution"),
                      (["--encode", "--audio", "aac:9"], r"[16, 512]")):
        out = tmp_path / "out"
        assert main(["ladder", str(src), *opts, "-o", str(out), "-q"]) == InputError.exit_code
        assert msg in capsys.readouterr().err
        assert not (out / "shots.csv").exists()  # nothing was done


def test_sps_reader_refuses_other_codecs(tmp_path: Path):
    hevc = tmp_path / "v.mp4"
    ffmpeg.run(["-y", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=160x90:rate=10", "-frames:v", "3",
                "-pix_fmt", "yuv420p", "-c:v", "libx265", "-x265-params", "log-level=error", str(hevc)],
               what="making an HEVC clip failed")
    with pytest.raises(InputError, match="is hevc, not h264"):
        h264_sps(hevc)


def test_hls_of_an_av1_ladder_keeps_one_sequence_header_per_rung(media_dir: Path, tmp_path: Path, capsys):
    """SVT-AV1 rungs are cut into fragmented MP4 (``av01``, codec string from the sequence header).
    ``pershot ladder --encode --hls`` keeps one sequence header per rung by itself (presets 12 and 8
    write different ones); a rung that mixes them is packaged too, plays whole, and is named."""
    import json


    from pershot.bitstream import av1_stream
    from pershot.cli import main
    from pershot.hls import several_sequence_headers
    from pershot.shots import write_shots_csv

    src, shots = _two_shots(media_dir, tmp_path)
    write_shots_csv(shots, tmp_path / "shots.csv")
    (tmp_path / "grid.toml").write_text('name = "av1"\nheights = [144]\ncrf = [35, 50]\n'
                                        '[encoders.svtav1]\npresets = ["12", "8"]\n')
    out = tmp_path / "lad"
    assert main(["ladder", str(src), "--grid", str(tmp_path / "grid.toml"), "--shots", str(tmp_path / "shots.csv"),
                 "--rungs", "2", "--complexity", "1", "--encode", "--hls", "--no-plots", "-j", "1", "-q",
                 "-o", str(out)]) == 0
    assert "sequence header" not in capsys.readouterr().err
    doc = json.loads((out / "ladder.json").read_text())
    assert doc["stats"]["same_parameter_sets"] is True
    probes = __import__("pandas").read_csv(out / "probes.csv")
    assert probes.groupby("preset")["param_sets"].nunique().eq(1).all()  # the CRF never changes it
    assert probes["param_sets"].nunique() == 2  # presets 12 and 8 differ
    master = out / "renditions" / "hls" / "master.m3u8"
    text = master.read_text()
    infs = [ln for ln in text.splitlines() if ln.startswith("#EXT-X-STREAM-INF")]
    assert "#EXT-X-VERSION:7" in text and sum('CODECS="av01.0.' in ln for ln in infs) == 2
    assert all(st == [0.0] for st in _iframe_starts(master).values())  # trick play: a key frame decodes alone
    for rung in (0, 1):
        playlist = master.parent / f"rung{rung:02d}" / "index.m3u8"
        assert "#EXT-X-MAP:URI=" in playlist.read_text()
        with av.open(str(playlist)) as c:
            assert c.streams.video[0].codec_context.codec_tag == "av01"
            assert sum(1 for _ in c.decode(video=0)) == 60
    # rung 0 with one shot at the other preset: two sequence headers, still packaged and playable
    args = doc["rungs"][0]["shots"][0]["encode"]["ffmpeg_args"]
    i = args.index("-preset") + 1
    args[i] = "8" if args[i] == "12" else "12"
    res = api.encode_renditions(doc, tmp_path / "r", jobs=1, hls=True, source=src)
    assert several_sequence_headers(res) == [0]
    assert av1_stream(next(r.path for r in res if r.rung == 0)).sequence_headers == 2
    with av.open(str(tmp_path / "r" / "hls" / "rung00" / "index.m3u8")) as c:
        assert sum(1 for _ in c.decode(video=0)) == 60


def test_an_hdr_av1_rung_names_its_colour_in_the_codec_string(tmp_path: Path):
    """AV1's short codec string implies BT.709: a PQ rung gets the long form (colour code points),
    and HLS says VIDEO-RANGE=PQ; an SDR rung keeps the short form."""
    from pershot.bitstream import av1_stream
    from pershot.hls import package
    from pershot.renditions import Rendition

    rows = []
    for rung, (tags, depth) in enumerate(((None, "yuv420p"),
                                          ("color_primaries=bt2020:color_trc=smpte2084:colorspace=bt2020nc",
                                           "yuv420p10le"))):
        p = tmp_path / f"r{rung}.mp4"
        ffmpeg.run(["-y", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=160x96:rate=24", "-frames:v", "24",
                    *(["-vf", "setparams=" + tags] if tags else []), "-pix_fmt", depth, "-c:v", "libsvtav1",
                    "-preset", "12", "-svtav1-params", "keyint=-1", str(p)], what="encoding AV1 failed")
        rows.append(Rendition(rung=rung, name=p.name, path=str(p), container="mp4", width=160, height=96, frames=24,
                              duration_s=1.0, size_bytes=p.stat().st_size, bitrate_kbps=1.0, ladder_kbps=1.0,
                              encode_cpu_s=0.0))
    assert av1_stream(rows[0].path).codec == "av01.0.00M.08"
    assert av1_stream(rows[1].path).codec == "av01.0.00M.10.0.110.09.16.09.0"
    text = package(rows, tmp_path / "hls", fps=24).read_text()
    lines = [ln for ln in text.splitlines() if ln.startswith("#EXT-X-STREAM-INF")]
    assert any('CODECS="av01.0.00M.08"' in ln and "VIDEO-RANGE" not in ln for ln in lines)
    assert any('CODECS="av01.0.00M.10.0.110.09.16.09.0"' in ln and "VIDEO-RANGE=PQ" in ln for ln in lines)


def test_one_master_playlist_for_an_x264_and_an_x265_ladder(media_dir: Path, tmp_path: Path, capsys):
    """Two ladders of one title, one per codec, from one probe run: encoded into x264/ and x265/, the
    audio once, and one master playlist listing every variant (H.264 first, then HEVC), one audio
    group, segments cut at the same frames in every variant; every variant plays whole. DASH: one
    manifest, a video adaptation set per codec."""
    import json

    from test_dash import _decode, _representations

    from pershot.cli import main
    from pershot.hls import in_band_rungs

    src, shots = _two_shots(media_dir, tmp_path)
    with_audio = tmp_path / "av.mp4"
    ffmpeg.run(["-y", "-v", "error", "-i", str(src), "-f", "lavfi", "-i", "sine=frequency=440:duration=3",
                "-map", "0:v", "-map", "1:a", "-c:v", "copy", "-c:a", "aac", "-shortest", str(with_audio)],
               what="adding audio failed")
    grid = {"name": "two", "heights": [144, 90], "crf": [26, 34],
            "encoders": {"x264": {"presets": ["veryfast"]}, "x265": {"presets": ["medium"]}}}
    from pershot.shots import write_shots_csv

    write_shots_csv(shots, tmp_path / "shots.csv")
    (tmp_path / "grid.toml").write_text('name = "two"\nheights = [144, 90]\ncrf = [26, 34]\n'
                                        '[encoders.x264]\npresets = ["veryfast"]\n'
                                        '[encoders.x265]\npresets = ["medium"]\n')
    # one run: a ladder per encoder (OUT/x264/, OUT/x265/), their renditions packaged together
    (tmp_path / "film.en.srt").write_text("1\n00:00:00,500 --> 00:00:01,500\nAcross the cut\n", encoding="utf-8")
    assert main(["ladder", str(with_audio), "--grid", str(tmp_path / "grid.toml"), "--encoder", "x264,x265",
                 "--shots", str(tmp_path / "shots.csv"), "--rungs", "2", "-c", "1", "--no-plots", "--encode",
                 "--hls", "--dash", "--audio", "aac:64", "--subtitle-file", str(tmp_path / "film.en.srt"),
                 "-o", str(tmp_path), "-j", "1", "-q"]) == 0
    assert json.loads((tmp_path / "x265" / "ladder.json").read_text())["encoder"] == "x265"
    assert (tmp_path / "x264" / "probes.csv").is_file() and (tmp_path / "x265" / "summary.csv").is_file()
    out = tmp_path / "renditions"
    master = out / "hls" / "master.m3u8"
    lines = master.read_text().splitlines()
    uris = [u for inf, u in zip(lines, lines[1:]) if inf.startswith("#EXT-X-STREAM-INF")]
    infs = [ln for ln in lines if ln.startswith("#EXT-X-STREAM-INF")]
    assert [u.split("/")[0] for u in uris] == ["h264", "h264", "hevc", "hevc"] and in_band_rungs(master) == []
    assert all('CODECS="avc1.' in i for i in infs[:2]) and all('CODECS="hvc1.' in i for i in infs[2:])
    assert all(',mp4a.40.2"' in i and 'AUDIO="audio"' in i for i in infs) and "#EXT-X-VERSION:7" in lines
    assert sum(ln.startswith("#EXT-X-MEDIA:TYPE=AUDIO") for ln in lines) == 1
    # the subtitles once (with the first ladder), one group every variant of every codec names
    assert sum(ln.startswith("#EXT-X-MEDIA:TYPE=SUBTITLES") for ln in lines) == 1
    assert all('SUBTITLES="subs"' in i for i in infs) and (out / "x264" / "subtitles_en.vtt").is_file()
    assert not list((out / "x265").glob("subtitles*"))
    assert (out / "x264" / "renditions.csv").is_file() and (out / "x265" / "renditions.csv").is_file()
    assert list(out.glob("*/audio_aac64.m4a")) == [out / "x264" / "audio_aac64.m4a"]
    cuts = {tuple(round(d, 3) for _, d in read_playlist(master.parent / u).items) for u in uris}
    assert len(cuts) == 1  # the same segment boundaries in every variant
    # trick play: MPEG-TS lists every shot's key frame; fragmented MP4 the one its segment starts with
    starts = _iframe_starts(master)
    assert all(starts[u] == pytest.approx([0.0, 1.001], abs=2e-3) for u in uris[:2])
    assert all(starts[u] == [0.0] for u in uris[2:])
    for u in uris:
        with av.open(str(master.parent / u)) as c:
            assert sum(1 for _ in c.decode(video=0)) == 60
    aud = read_playlist(master.parent / "audio" / "index.m3u8")
    assert aud.items and abs(sum(d for _, d in aud.items) - 2.002) < 0.1
    # one timeline, though three ffmpeg runs cut the H.264 (MPEG-TS), HEVC and audio (fragmented MP4) streams:
    # each variant's first frame and the audio's start at TIME_OFFSET_S (before, the H.264 variants began 1.4 s
    # after the audio they play with)
    from test_subtitles import _first_pts

    from pershot.hls import TIME_OFFSET_S

    def init_of(u: str) -> Path:  # a fragmented-MP4 playlist's initialization segment (EXT-X-MAP)
        text = (master.parent / u).read_text()
        return (master.parent / u).parent / text.split('#EXT-X-MAP:URI="')[1].split('"')[0]

    for u in uris:
        first = read_playlist(master.parent / u).items[0][0]
        pts = _first_pts(first, init_of(u) if first.suffix == ".m4s" else None)
        assert pts == pytest.approx(TIME_OFFSET_S, abs=1e-6), u
    a_first = _first_pts(aud.items[0][0], init_of("audio/index.m3u8"))
    assert TIME_OFFSET_S - 0.05 < a_first <= TIME_OFFSET_S  # AAC's priming samples just before
    root, reps = _representations(out / "dash" / "manifest.mpd")
    sets = root.findall("{urn:mpeg:dash:schema:mpd:2011}Period/{urn:mpeg:dash:schema:mpd:2011}AdaptationSet")
    main_sets = [a for a in sets if not a.findall("{urn:mpeg:dash:schema:mpd:2011}EssentialProperty")]
    assert [a.get("contentType") for a in main_sets] == ["video", "video", "audio", "text"]
    assert sum(kind == "trick" for kind, *_ in reps) == 2  # a trick-mode set for each codec's video set
    videos = [(rep.get("codecs"), starts, init, files) for kind, rep, starts, _, init, files in reps
              if kind == "video"]
    assert [c.split(".")[0] for c, *_ in videos] == ["avc3", "avc3", "hvc1", "hvc1"]
    assert len({tuple(st) for _, st, _, _ in videos}) == 1  # the same switch points in every set
    assert all(_decode(init, files) == 60 for _, _, init, files in videos)
    # bad input, before any encode: one ladder twice, --rungs, ladders of other shots
    capsys.readouterr()
    one = str(tmp_path / "x264" / "ladder.json")
    assert main(["ladder", str(with_audio), "--grid", str(tmp_path / "grid.toml"), "--encoder", "x264,svtav1",
                 "-o", str(tmp_path / "bad"), "-q"]) == 4  # not in the grid: before any work
    assert "x264, x265" in capsys.readouterr().err and not (tmp_path / "bad").exists()
    for extra, msg in (([one], "one ladder per codec"), (["--rungs", "0"], "encoded whole")):
        args = ["encode", one, str(tmp_path / "x265" / "ladder.json")]
        args = args[:2] + extra if extra == [one] else args + extra
        assert main(args + ["-o", str(tmp_path / "bad"), "-q"]) == InputError.exit_code
        assert msg in capsys.readouterr().err and not (tmp_path / "bad" / "x264").exists()
    api.ladder(with_audio, grid=grid, complexity=1.0, rungs=2, out_dir=tmp_path / "other", jobs=1, plots=False,
               encoder="x265", shots=[Shot(index=0, start_frame=0, end_frame=60, start_s=0.0, end_s=2.002)])
    with pytest.raises(InputError, match="same shots|one shots.csv"):
        api.encode_renditions([one, tmp_path / "other" / "ladder.json"], tmp_path / "bad", hls=True)


def test_segment_duration_option(media_dir: Path, tmp_path: Path, capsys):
    """--segment-seconds: segments aim at it, starting at key frames (here the shot starts, 1.001 s apart)."""
    from pershot.cli import main

    src, shots = _two_shots(media_dir, tmp_path)
    out = tmp_path / "lad"
    api.ladder(src, grid=GRID, complexity=1.0, rungs=2, out_dir=out, shots=shots, jobs=1, plots=False)
    lad = str(out / "ladder.json")
    assert main(["encode", lad, "-o", str(tmp_path / "a"), "--rungs", "0", "--hls", "--dash", "-j", "1", "-q"]) == 0
    assert len(read_playlist(tmp_path / "a" / "hls" / "rung00" / "index.m3u8").items) == 1  # 6 s: one segment
    assert main(["encode", lad, "-o", str(tmp_path / "b"), "--rungs", "0", "--hls", "--dash", "--segment-seconds",
                 "0.5", "-j", "1", "-q"]) == 0
    seg = read_playlist(tmp_path / "b" / "hls" / "rung00" / "index.m3u8")
    assert [round(d, 3) for _, d in seg.items] == [1.001, 1.001]  # a segment per shot: its key frame starts it
    # DASH too: two segments of 1.001 s (90090 ticks at 90 kHz), against one of the whole 2 s by default
    assert '<S t="0" d="90090" r="1" />' in (tmp_path / "b" / "dash" / "manifest.mpd").read_text()
    assert '<S t="0" d="180180" />' in (tmp_path / "a" / "dash" / "manifest.mpd").read_text()
    capsys.readouterr()
    for bad in (["--segment-seconds", "0"], ["--segment-seconds", "nan"], ["--segment-seconds", "2"]):
        extra = ["--hls"] if bad[1] != "2" else []
        assert main(["encode", lad, "-o", str(tmp_path / "c"), *extra, *bad, "-q"]) == 2
        assert "segment" in capsys.readouterr().err
    assert not (tmp_path / "c").exists()  # refused before any encode


def test_7_1_audio_is_packaged_as_fragmented_mp4_beside_ts_video(media_dir: Path, tmp_path: Path):
    """AAC 7.1 (channel configuration 12) cannot travel in MPEG-TS (ADTS stops at 7): HLS packaging failed
    after every encode. Its audio playlist is now fragmented MP4 beside the H.264 rungs' TS, and plays."""
    from pershot.hls import aac_channel_config

    src, shots = _two_shots(media_dir, tmp_path)
    av71 = tmp_path / "av71.mov"
    ffmpeg.run(["-y", "-v", "error", "-i", str(src), "-f", "lavfi", "-i", "sine=frequency=440:duration=2",
                "-map", "0:v", "-map", "1:a", "-c:v", "copy", "-af", "aformat=channel_layouts=7.1",
                "-c:a", "pcm_s16le", str(av71)], what="making a 7.1 clip failed")
    out = tmp_path / "lad"
    api.ladder(av71, grid=dict(GRID, heights=[90]), complexity=1.0, rungs=1, out_dir=out, shots=shots, jobs=1,
               plots=False)
    res = api.encode_renditions(out / "ladder.json", out / "r", jobs=1, audio="aac", hls=True)
    aud = next(r for r in res if r.kind == "audio")
    assert aac_channel_config(aud.path) == 12
    hls = out / "r" / "hls"
    master = (hls / "master.m3u8").read_text()
    assert 'CHANNELS="8"' in master and "#EXT-X-VERSION:7" in master
    audio = (hls / "audio" / "index.m3u8").read_text()
    assert "#EXT-X-MAP:URI=" in audio and ".m4s" in audio
    video = next(p for p in hls.glob("rung*/index.m3u8")).read_text()
    assert ".ts" in video and "#EXT-X-MAP" not in video
    with av.open(str(hls / "audio" / "index.m3u8")) as c:
        assert c.streams.audio[0].channels == 8
        rate = c.streams.audio[0].rate
        assert sum(f.samples for f in c.decode(audio=0)) / rate == pytest.approx(2.002, abs=0.05)


def test_audio_menu_names_say_the_layout_not_only_the_count():
    from pershot.hls import audio_labels

    tags = [{"channels": 6, "layout": "5.1(side)", "language": "eng"}, {"channels": 8, "layout": "octagonal",
                                                                       "language": "eng"},
            {"channels": 8, "layout": "7.1", "language": "fra"}, {"channels": 5, "layout": "", "language": ""},
            {"channels": 2, "layout": "stereo", "language": "deu"}]
    # an octagonal source (8.0, no LFE) was "English 7.1", counted by its channels
    assert audio_labels(tags) == ["English 5.1", "English 8.0", "French 7.1", "Audio 5 ch", "German"]
