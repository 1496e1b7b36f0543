"""10-bit encodes and HDR ladders: grids and commands ask for the depth, frames are decoded and scored
at it, the key and the reports carry it, and an HDR source keeps its transfer and mastering metadata
through probes, renditions and manifests."""
from __future__ import annotations

import dataclasses
import json
import struct
from fractions import Fraction
from pathlib import Path

import pandas as pd
import pytest

from pershot import api, ffmpeg
from pershot.bitstream import Colour, colour_of
from pershot.dash import colour_properties
from pershot.encoders import EncodeParams, encode_args, get
from pershot.encoders.base import args_bit_depth
from pershot.errors import ConfigError, MediaError
from pershot.grid import parse_grid
from pershot.media import (HdrMetadata, SourceInfo, check_sdr, encode_hdr, hdr_metadata_from_side_data,
                           probe_source, y4m_bytes)
from pershot.metrics import MetricParams
from pershot.probe import probe_key
from pershot.shots import Shot

#: the ST 2086 metadata of a P3-D65 mastering display of 1000 cd/m2, as HDR10 masters carry it
P3 = HdrMetadata(primaries=(0.68, 0.32, 0.265, 0.69, 0.15, 0.06, 0.3127, 0.329), luminance=(0.005, 1000.0),
                 max_cll=1000, max_fall=400)
X265_P3 = "G(13250,34500)B(7500,3000)R(34000,16000)WP(15635,16450)L(10000000,50)"
INFO = SourceInfo(path="/v.mp4", width=320, height=180, display_width=320, display_height=180,
                  display_aspect=Fraction(16, 9), rotation=0, fps=Fraction(25), frame_count=50, duration_s=2.0,
                  pix_fmt="yuv420p10le", bit_depth=10, is_vfr=False, codec="hevc", content_hash="h")
PQ = (("color_primaries", "bt2020"), ("color_trc", "smpte2084"), ("colorspace", "bt2020nc"), ("range", "tv"))
P = EncodeParams(encoder="x265", preset="fast", rc_mode="crf", value=28, width=320, height=180, fps=Fraction(25),
                 frames=50)


def test_grid_bit_depth_top_level_per_encoder_and_override():
    g = parse_grid({"heights": [144], "crf": [30], "bit_depth": 10,
                    "encoders": {"x265": {"presets": ["fast"]}, "x264": {"presets": ["fast"], "bit_depth": 8}}})
    assert {e.encoder: e.bit_depth for e in g.encoders} == {"x265": 10, "x264": 8}
    assert g.bit_depths == (8, 10)
    assert g.with_bit_depth(10).bit_depths == (10,) and g.with_bit_depth(None) is g
    assert parse_grid({"heights": [144], "crf": [30], "encoders": {"x264": {"presets": ["fast"]}}}).bit_depths == (8,)
    for bad in (9, 12, True, "10", 10.0):
        with pytest.raises(ConfigError, match="bit_depth must be 8 or 10"):
            parse_grid({"heights": [144], "crf": [30], "bit_depth": bad, "encoders": {"x264": {"presets": ["fast"]}}})
    with pytest.raises(ConfigError, match="encoders.x264.bit_depth"):
        parse_grid({"heights": [144], "crf": [30], "encoders": {"x264": {"presets": ["fast"], "bit_depth": 16}}})
    with pytest.raises(ConfigError, match="--bit-depth"):
        g.with_bit_depth(12)


def test_encode_args_read_and_write_the_bit_depth():
    for name in ("x264", "x265", "svtav1"):
        spec = get(name)
        p = dataclasses.replace(P, encoder=name, preset=spec.presets[5], bit_depth=10)
        args = encode_args(spec, p, "in.y4m", "out" + spec.ext)
        assert args[args.index("-pix_fmt") + 1] == "yuv420p10le" and args_bit_depth(args) == 10
        assert args_bit_depth(encode_args(spec, dataclasses.replace(p, bit_depth=8), "in.y4m", "o" + spec.ext)) == 8
    assert args_bit_depth(["-c:v", "libx264"]) == 8
    with pytest.raises(ConfigError, match="bit depth"):
        get("x265").check(dataclasses.replace(P, bit_depth=12))


def test_hdr_metadata_options_in_each_encoders_units():
    assert P3.master_display() == X265_P3 and P3.light_level == "1000,400"
    assert P3.master_display_float() == ("G(0.26500,0.69000)B(0.15000,0.06000)R(0.68000,0.32000)"
                                         "WP(0.31270,0.32900)L(1000.0000,0.0050)")
    hdr = dataclasses.replace(P, bit_depth=10, hdr=P3)
    x265 = get("x265").codec_args(hdr)
    assert f"master-display={X265_P3}:max-cll=1000,400" in x265[x265.index("-x265-params") + 1]
    svt = get("svtav1").codec_args(dataclasses.replace(hdr, encoder="svtav1", preset="8"))
    assert "mastering-display=G(0.26500" in svt[-1] and "content-light=1000,400" in svt[-1]
    x264 = get("x264").codec_args(dataclasses.replace(hdr, encoder="x264"))
    assert f"mastering-display={X265_P3}:cll=1000,400" in x264[x264.index("-x264-params") + 1]
    assert "-bsf:v" not in x264  # the SEI units that carry the metadata are kept
    # never at 8 bits, and only what is given
    assert "master-display" not in " ".join(get("x265").codec_args(dataclasses.replace(hdr, bit_depth=8)))
    light = dataclasses.replace(hdr, hdr=HdrMetadata(max_cll=600, max_fall=0))
    assert light.hdr_options() == [("max-cll", "600,0")]


def test_hdr_metadata_from_ffmpeg_side_data():
    rat = [(34000, 50000), (16000, 50000), (13250, 50000), (34500, 50000), (7500, 50000), (3000, 50000),
           (15635, 50000), (16450, 50000), (50, 10000), (10000000, 10000)]
    mastering = struct.pack("<20i2i", *[x for r in rat for x in r], 1, 1)
    got = hdr_metadata_from_side_data(mastering, struct.pack("<2I", 1000, 400))
    assert got == P3 and got.master_display() == X265_P3
    # primaries without luminance are half of ST 2086, which no encoder takes: nothing to carry
    assert hdr_metadata_from_side_data(struct.pack("<20i2i", *[x for r in rat for x in r], 1, 0), None) is None
    light = hdr_metadata_from_side_data(struct.pack("<20i2i", *[x for r in rat for x in r], 1, 0), mastering[-8:])
    assert light is not None and not light.mastering and light.primaries is not None
    assert hdr_metadata_from_side_data(struct.pack("<20i2i", *([0, 1] * 10), 0, 0), struct.pack("<2I", 0, 0)) is None
    assert hdr_metadata_from_side_data(b"short", None) is None
    assert HdrMetadata.from_dict(P3.as_dict()) == P3
    for bad in (None, [], {"primaries": [1, 2]}, {"luminance": ["x", 1]}, {}):
        assert HdrMetadata.from_dict(bad) is None


def test_hdr_source_needs_10_bit_or_a_tonemap():
    hdr = dataclasses.replace(INFO, colour=PQ, hdr_metadata=P3)
    check_sdr(hdr, (10,))
    for depths in ((8,), (8, 10)):
        with pytest.raises(MediaError, match="--bit-depth 10.*--tonemap"):
            check_sdr(hdr, depths)
    assert encode_hdr(hdr) == P3
    assert encode_hdr(dataclasses.replace(hdr, tonemap="mobius")) is None
    assert encode_hdr(dataclasses.replace(INFO, hdr_metadata=P3)) is None  # SDR: nothing to carry


def test_probe_keys_change_with_bit_depth_and_hdr_only():
    shot = Shot(index=0, start_frame=0, end_frame=50, start_s=0.0, end_s=2.0)
    k8 = probe_key(INFO, shot, P, MetricParams(), "v", "f")
    k10 = probe_key(INFO, shot, dataclasses.replace(P, bit_depth=10), MetricParams(), "v", "f")
    k10h = probe_key(INFO, shot, dataclasses.replace(P, bit_depth=10, hdr=P3), MetricParams(), "v", "f")
    assert len({k8, k10, k10h}) == 3
    # 8-bit keys are the ones made before bit depths existed (metadata is never written at 8 bits)
    assert probe_key(INFO, shot, dataclasses.replace(P, hdr=P3), MetricParams(), "v", "f") == k8


def test_y4m_sizes_at_10_bits():
    assert y4m_bytes(320, 180, 10, 10) - 128 == 10 * (2 * 320 * 180 * 3 // 2 + 6)
    assert y4m_bytes(320, 180, 10) - 128 == 10 * (320 * 180 * 3 // 2 + 6)


def test_dash_colour_descriptors():
    assert colour_properties(Colour(1, 1, 1)) == [] and colour_properties(Colour(2, 2, 2)) == []
    pq = colour_properties(Colour(9, 16, 9))
    assert pq == [("SupplementalProperty", "urn:mpeg:mpegB:cicp:ColourPrimaries", 9),
                  ("EssentialProperty", "urn:mpeg:mpegB:cicp:TransferCharacteristics", 16),
                  ("SupplementalProperty", "urn:mpeg:mpegB:cicp:MatrixCoefficients", 9)]
    assert all(tag == "SupplementalProperty" for tag, _, _ in colour_properties(Colour(9, 18, 9)))
    assert Colour(9, 16, 9).video_range == "PQ" and Colour(9, 18, 9).video_range == "HLG"
    assert Colour(1, 1, 1).video_range == "SDR"


# ---------------------------------------------------------------- with real frames


def _sdr_clip(media_dir: Path, dst: Path) -> Path:
    """Frames 240-287 of testvideo.mp4 (one shot of a photograph) at 320x180, 8-bit."""
    ffmpeg.run(["-y", "-v", "error", "-i", str(media_dir / "testvideo.mp4"), "-vf",
                "trim=start_frame=240:end_frame=288,setpts=PTS-STARTPTS,scale=320:180", "-an", "-c:v", "libx264",
                "-preset", "veryfast", "-crf", "12", str(dst)], what="cutting a test clip failed")
    return dst


def _pq_clip(media_dir: Path, dst: Path) -> Path:
    """The same frames as 10-bit HEVC tagged PQ / BT.2020, with P3-D65 1000-nit mastering metadata."""
    ffmpeg.run(["-y", "-v", "error", "-i", str(media_dir / "testvideo.mp4"), "-vf",
                "trim=start_frame=240:end_frame=288,setpts=PTS-STARTPTS,scale=320:180,format=yuv420p10le,"
                "setparams=color_primaries=bt2020:color_trc=smpte2084:colorspace=bt2020nc:range=tv",
                "-an", "-c:v", "libx265", "-preset", "ultrafast", "-x265-params",
                f"crf=12:log-level=error:master-display={X265_P3}:max-cll=1000,400", str(dst)],
               what="making a PQ clip failed")
    return dst


def _pix_fmt(path: str | Path) -> str:
    import av

    with av.open(str(path)) as c:
        return next(c.decode(video=0)).format.name


def test_10_bit_ladder_of_an_8_bit_source(media_dir: Path, tmp_path: Path):
    src = _sdr_clip(media_dir, tmp_path / "sdr.mp4")
    grid = {"name": "ten", "heights": [180], "crf": [20, 36], "encoders": {"x265": {"presets": ["ultrafast"]}}}
    shots = [Shot(index=0, start_frame=0, end_frame=48, start_s=0.0, end_s=48 / 30)]
    p8 = api.probe(src, grid, shots=shots, jobs=1)
    out = tmp_path / "lad"
    lad = api.ladder(src, grid=grid, complexity=1.0, rungs=1, out_dir=out, shots=shots, jobs=1, plots=False,
                     bit_depth=10)
    p10 = api.probe(src, parse_grid(grid).with_bit_depth(10), shots=shots, jobs=1)
    assert list(p8["bit_depth"]) == [8, 8] and list(p10["bit_depth"]) == [10, 10]
    assert set(p8["key"]).isdisjoint(p10["key"])
    # scored at 10 bits against a 10-bit reference: the same picture quality as at 8 bits, not a mismatch
    for a, b in zip(p8.sort_values("crf").itertuples(), p10.sort_values("crf").itertuples()):
        assert abs(a.vmaf - b.vmaf) < 3 and abs(a.psnr_y - b.psnr_y) < 1.5
    assert p10["vmaf"].max() > 90
    assert list(lad.table["bit_depth"]) == [10]
    doc = json.loads((out / "ladder.json").read_text())
    cmd = doc["rungs"][0]["shots"][0]["encode"]["ffmpeg_args"]
    assert args_bit_depth(cmd) == 10 and doc["source"]["hdr"] is None
    res = api.encode_renditions(out / "ladder.json", out / "renditions", jobs=1)
    assert len(res) == 1 and _pix_fmt(res[0].path) == "yuv420p10le"
    assert probe_source(res[0].path).frame_count == 48


def test_hdr_ladder_keeps_pq_and_mastering_metadata(media_dir: Path, tmp_path: Path):
    src = _pq_clip(media_dir, tmp_path / "pq.mp4")
    info = probe_source(src)
    assert info.hdr_transfer == "smpte2084" and info.hdr_metadata == P3
    grid = {"name": "hdr", "heights": [180, 144], "crf": [22, 34], "encoders": {"x264": {"presets": ["veryfast"]}}}
    shots = [Shot(index=0, start_frame=0, end_frame=24, start_s=0.0, end_s=0.8),
             Shot(index=1, start_frame=24, end_frame=48, start_s=0.8, end_s=1.6)]
    out = tmp_path / "lad"
    with pytest.raises(MediaError, match="--bit-depth 10"):
        api.ladder(src, grid=grid, complexity=1.0, rungs=2, out_dir=out, shots=shots, jobs=1, plots=False)
    assert not out.exists() or not (out / "ladder.json").exists()
    lad = api.ladder(src, grid=grid, complexity=1.0, rungs=2, out_dir=out, shots=shots, jobs=1, plots=False,
                     bit_depth=10, thumbnails={"height": 90, "codecs": ["jpeg"]})
    assert any("HDR (smpte2084) ladder scored by VMAF" in w for w in lad.warnings)
    # thumbnails are SDR images: tone-mapped, so close to the SDR frames the PQ clip was made from
    import numpy as np
    from PIL import Image

    from pershot.media import DEFAULT_TONEMAP, with_tonemap
    from pershot.thumbnails import read_frame

    sdr = read_frame(with_tonemap(info, DEFAULT_TONEMAP), 12, 90).astype(float)
    thumb = np.asarray(Image.open(out / "thumbnails" / "shot0000.jpg").convert("RGB"), dtype=float)
    assert thumb.shape == sdr.shape and np.abs(thumb - sdr).mean() < 6
    doc = json.loads((out / "ladder.json").read_text())
    assert doc["source"]["hdr"] == "smpte2084" and HdrMetadata.from_dict(doc["source"]["hdr_metadata"]) == P3
    res = api.encode_renditions(out / "ladder.json", out / "renditions", jobs=1, hls=True, dash=True)
    assert [r.kind for r in res] == ["video", "video", "thumbnails"]  # the thumbnails' storyboard last
    res = res[:2]
    for r in res:
        got = probe_source(r.path)
        assert got.bit_depth == 10 and got.hdr_transfer == "smpte2084" and got.hdr_metadata == P3
        assert colour_of(r.path) == Colour(9, 16, 9)
    master = (out / "renditions" / "hls" / "master.m3u8").read_text()
    # the variants and their I-frame playlists (trick play) alike
    assert master.count("VIDEO-RANGE=PQ") == 4 and master.count("#EXT-X-I-FRAME-STREAM-INF:") == 2
    mpd = (out / "renditions" / "dash" / "manifest.mpd").read_text()
    assert 'EssentialProperty schemeIdUri="urn:mpeg:mpegB:cicp:TransferCharacteristics" value="16"' in mpd


def test_optimize_then_encode_adds_the_hdr_metadata_the_commands_lack(media_dir: Path, tmp_path: Path):
    """``pershot optimize`` never sees the source: its 10-bit commands get the metadata at encode time."""
    from pershot import optimize, write_ladder

    src = _pq_clip(media_dir, tmp_path / "pq.mp4")
    grid = {"name": "hdr", "heights": [180], "crf": [26], "bit_depth": 10,
            "encoders": {"svtav1": {"presets": ["12"]}}}
    shots = [Shot(index=0, start_frame=0, end_frame=48, start_s=0.0, end_s=1.6)]
    probes = api.probe(src, grid, shots=shots, jobs=1)
    lad = optimize(probes, None, 1.0, rungs=1)
    write_ladder(lad, tmp_path / "opt", plots=False)
    doc = json.loads((tmp_path / "opt" / "ladder.json").read_text())
    args = doc["rungs"][0]["shots"][0]["encode"]["ffmpeg_args"]
    assert args_bit_depth(args) == 10 and "mastering-display" not in " ".join(args)
    doc["source"] = {"path": str(src)}
    res = api.encode_renditions(doc, tmp_path / "rend", jobs=1)
    got = probe_source(res[0].path)
    m = got.hdr_metadata  # AV1 stores chromaticity in 1/65536 and luminance in 1/16384 cd/m2
    assert m.primaries == pytest.approx(P3.primaries, abs=2e-5) and m.luminance == pytest.approx(P3.luminance, rel=0.01)
    assert (m.max_cll, m.max_fall) == (1000, 400)
    assert got.hdr_transfer == "smpte2084"


def test_cli_info_and_errors_for_an_hdr_source(media_dir: Path, tmp_path: Path, capsys):
    from pershot.cli import main

    src = _pq_clip(media_dir, tmp_path / "pq.mp4")
    assert main(["info", str(src), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["hdr"] == "smpte2084" and HdrMetadata.from_dict(doc["hdr_metadata"]) == P3
    assert main(["info", str(src)]) == 0
    assert "MaxCLL 1000, MaxFALL 400" in capsys.readouterr().out
    code = main(["ladder", str(src), "--grid", "test", "--rungs", "1", "-q", "-o", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 3 and "--bit-depth 10" in err and "Traceback" not in err
    assert not (tmp_path / "o" / "ladder.json").exists()
    with pytest.raises(SystemExit) as ex:  # argparse: a usage error
        main(["probe", str(src), "--grid", "test", "--bit-depth", "12", "-o", str(tmp_path / "o")])
    assert ex.value.code == 2 and "--bit-depth: invalid choice: 12" in capsys.readouterr().err


def test_an_8_bit_only_encoder_fails_before_any_work(media_dir: Path, tmp_path: Path, monkeypatch):
    from pershot import ffmpeg as ff
    from pershot.probe import plan_probes

    assert "yuv420p10le" in ff.encoder_pix_fmts("libx265")  # the bundled ffmpeg's encoders take 10 bits
    src = _sdr_clip(media_dir, tmp_path / "sdr.mp4")
    shots = [Shot(index=0, start_frame=0, end_frame=48, start_s=0.0, end_s=1.6)]
    grid = parse_grid({"name": "g", "heights": [144], "crf": [30], "bit_depth": 10,
                       "encoders": {"x265": {"presets": ["ultrafast"]}}})
    monkeypatch.setattr(ff, "encoder_pix_fmts", lambda name: frozenset({"yuv420p", "yuv444p"}))
    with pytest.raises(ConfigError, match="libx265 cannot encode 10-bit video"):
        plan_probes(probe_source(src), shots, grid)
    plan_probes(probe_source(src), shots, grid.with_bit_depth(8))  # 8 bits: fine


def test_a_10_bit_x264_ladder_says_what_plays_it():
    from pershot.ladder import optimize_ladder
    from pershot.synthetic import synthetic_probes

    df = synthetic_probes(3, presets=["fast", "medium"], heights=(360, 180), crfs=(22, 30, 38), seed=1)
    eight = optimize_ladder(df, 3, 1.0)
    ten = optimize_ladder(df.assign(bit_depth=10), 3, 1.0)
    assert not any("High 10" in w for w in eight.warnings)
    assert any("High 10" in w for w in ten.warnings) and set(ten.table["bit_depth"]) == {10}
    assert not any("High 10" in w for w in optimize_ladder(df.assign(bit_depth=10, encoder="x265"), 3, 1.0).warnings)
    from pershot.errors import OptimizeError

    mixed = pd.concat([df.assign(bit_depth=8), df.assign(bit_depth=10)], ignore_index=True)
    with pytest.raises(OptimizeError, match="at 8 and 10 bits"):
        optimize_ladder(mixed, 3, 1.0)


def test_a_10_bit_source_laddered_at_8_bits_says_what_is_not_measured(media_dir: Path, tmp_path: Path):
    from pershot import api

    src = tmp_path / "sdr10.mkv"
    ffmpeg.run(["-y", "-v", "error", "-i", str(media_dir / "testvideo.mp4"), "-vf",
                "trim=start_frame=240:end_frame=270,setpts=PTS-STARTPTS,scale=160:90,format=yuv420p10le",
                "-c:v", "ffv1", str(src)], what="making a 10-bit clip failed")
    grid = {"name": "b8", "heights": [90], "crf": [30], "encoders": {"x264": {"presets": ["veryfast"]}}}
    lad = api.ladder(src, grid=grid, complexity=1.0, rungs=1, out_dir=None, jobs=1, plots=False)
    assert any("the source is 10-bit and the grid b8 encodes at 8 bits" in w for w in lad.warnings)
    lad = api.ladder(src, grid=dict(grid, bit_depth=10), complexity=1.0, rungs=1, out_dir=None, jobs=1, plots=False)
    assert not any("-bit and the grid" in w for w in lad.warnings)
