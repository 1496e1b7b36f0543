"""The source's colour description travels: probes and renditions signal it, scores ignore it,
full range becomes limited range, thumbnails convert with the source's matrix, HDR is refused."""
from __future__ import annotations

import dataclasses
import json
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from pershot import api, ffmpeg
from pershot.encoders import EncodeParams, encode_args, get
from pershot.errors import MediaError
from pershot.media import SourceInfo, check_sdr, colour_description, encode_colour, extract_shot, probe_source
from pershot.probe import probe_key
from pershot.metrics import MetricParams
from pershot.shots import Shot

BT709 = "color_primaries=bt709:color_trc=bt709:colorspace=bt709:range=tv"
GRID = {"name": "colour", "heights": [90], "crf": [30], "encoders": {"x264": {"presets": ["veryfast"]}}}
SHOTS = [Shot(index=0, start_frame=0, end_frame=30, start_s=0.0, end_s=float(30 / Fraction(30000, 1001)))]
INFO = SourceInfo(path="/v.mp4", width=320, height=180, display_width=320, display_height=180,
                  display_aspect=Fraction(16, 9), rotation=0, fps=Fraction(25), frame_count=50, duration_s=2.0,
                  pix_fmt="yuv420p", bit_depth=8, is_vfr=False, codec="h264", content_hash="h")


def test_colour_description_names_what_is_specified():
    assert colour_description(1, 1, 1, 1) == (("color_primaries", "bt709"), ("color_trc", "bt709"),
                                              ("colorspace", "bt709"), ("range", "tv"))
    assert colour_description(9, 16, 9, 1) == (("color_primaries", "bt2020"), ("color_trc", "smpte2084"),
                                               ("colorspace", "bt2020nc"), ("range", "tv"))
    assert colour_description(None, None, None, None) == ()
    assert colour_description(3, 99, 3, 0) == ()  # reserved / unknown code points are left out
    assert colour_description(None, None, None, None, pix_fmt="yuvj420p") == (("range", "pc"),)


def test_encode_colour_limited_range_and_bt709_for_rgb():
    full = dataclasses.replace(INFO, colour=(("colorspace", "smpte170m"), ("range", "pc")))
    assert full.full_range and encode_colour(full) == (("colorspace", "smpte170m"), ("range", "tv"))
    rgb = dataclasses.replace(INFO, pix_fmt="gbrp", colour=(("color_primaries", "bt709"), ("colorspace", "gbr")))
    assert encode_colour(rgb) == (("color_primaries", "bt709"), ("colorspace", "bt709"), ("range", "tv"))
    assert encode_colour(INFO) == ()


def test_hdr_sources_are_refused():
    check_sdr(INFO)
    for trc in ("smpte2084", "arib-std-b67"):
        with pytest.raises(MediaError, match=f"HDR.*{trc}"):
            check_sdr(dataclasses.replace(INFO, colour=(("color_trc", trc),)))
    check_sdr(dataclasses.replace(INFO, colour=(("color_primaries", "bt2020"), ("color_trc", "bt2020-10"))))


def test_encode_args_tag_frames_and_keys_change_only_with_colour():
    p = EncodeParams(encoder="x264", preset="fast", rc_mode="crf", value=28, width=320, height=180,
                     fps=Fraction(25), frames=50)
    tagged = dataclasses.replace(p, colour=(("colorspace", "bt709"), ("range", "tv")))
    plain = encode_args(get("x264"), p, "in.y4m", "out.264")
    args = encode_args(get("x264"), tagged, "in.y4m", "out.264")
    assert "-vf" not in plain
    assert args[args.index("-vf") + 1] == "setparams=colorspace=bt709:range=tv"
    shot = Shot(index=0, start_frame=0, end_frame=50, start_s=0.0, end_s=2.0)
    k_plain = probe_key(INFO, shot, p, MetricParams(), "v", "f")
    assert probe_key(INFO, shot, tagged, MetricParams(), "v", "f") != k_plain
    assert probe_key(INFO, shot, dataclasses.replace(p, colour=()), MetricParams(), "v", "f") == k_plain


def _clip(media_dir: Path, dst: Path, vf: str = "", extra: tuple[str, ...] = ()) -> Path:
    """Frames 240-269 of testvideo.mp4 (one shot of a real photograph) at 160x90."""
    chain = "trim=start_frame=240:end_frame=270,setpts=PTS-STARTPTS,scale=160:90:flags=bicubic" + (
        "," + vf if vf else "")
    ffmpeg.run(["-y", "-v", "error", "-i", str(media_dir / "testvideo.mp4"), "-vf", chain, "-an", "-c:v", "libx264",
                "-preset", "veryfast", "-crf", "14", *extra, str(dst)], what="cutting a test clip failed")
    return dst


def _stream_colour(path: Path) -> tuple[int, int, int, int]:
    import av

    with av.open(str(path)) as c:
        f = next(c.decode(video=0))
        return int(f.color_primaries), int(f.color_trc), int(f.colorspace), int(f.color_range)


def test_tagged_source_renditions_carry_its_tags_and_scores_ignore_them(media_dir: Path, tmp_path: Path):
    untagged = _clip(media_dir, tmp_path / "plain.mp4")
    tagged = _clip(media_dir, tmp_path / "bt709.mp4", vf=f"setparams={BT709}")
    assert probe_source(untagged).colour == ()
    info = probe_source(tagged)
    assert dict(info.colour) == {"color_primaries": "bt709", "color_trc": "bt709", "colorspace": "bt709",
                                 "range": "tv"}
    runs = {n: api.run_probes(p, GRID, tmp_path / n, shots=SHOTS, jobs=1).probes
            for n, p in (("plain", untagged), ("bt709", tagged))}
    a, b = runs["plain"].iloc[0], runs["bt709"].iloc[0]
    # the same pixels, coded the same way: the VUI adds a few bytes and nothing else
    assert 0 < b["size_bytes"] - a["size_bytes"] <= 16
    for m in ("vmaf", "psnr_y", "ssim"):
        assert b[m] == pytest.approx(a[m], abs=1e-9), m
    out = tmp_path / "lad"
    api.ladder(tagged, grid=GRID, complexity=1.0, rungs=1, out_dir=out, shots=SHOTS, jobs=1, plots=False)
    doc = json.loads((out / "ladder.json").read_text())
    assert doc["source"]["colour"] == dict(info.colour)
    assert f"setparams={BT709}" in doc["rungs"][0]["shots"][0]["encode"]["ffmpeg_args"]
    res = api.encode_renditions(out / "ladder.json", out / "renditions", jobs=1)
    mp4 = [Path(r.path) for r in res]
    assert mp4 and all(_stream_colour(p) == (1, 1, 1, 1) for p in mp4)


def test_ladder_from_probes_alone_still_gets_the_tags_when_encoded(media_dir: Path, tmp_path: Path):
    tagged = _clip(media_dir, tmp_path / "bt709.mp4", vf=f"setparams={BT709}")
    run = api.run_probes(tagged, GRID, tmp_path / "p", shots=SHOTS, jobs=1)
    lad = api.optimize(run.probes, None, 1.0, rungs=1)
    api.write_ladder(lad, tmp_path / "opt", plots=False)  # as `pershot optimize`: the source is not known
    doc = json.loads((tmp_path / "opt" / "ladder.json").read_text())
    assert "-vf" not in doc["rungs"][0]["shots"][0]["encode"]["ffmpeg_args"]
    api.encode_renditions(tmp_path / "opt" / "ladder.json", tmp_path / "r", source=tagged, jobs=1)
    mp4 = sorted((tmp_path / "r").glob("*.mp4"))
    assert mp4 and all(_stream_colour(p) == (1, 1, 1, 1) for p in mp4)


def test_full_range_source_becomes_limited_range(media_dir: Path, tmp_path: Path):
    full = _clip(media_dir, tmp_path / "full.mp4", vf="scale=out_range=full", extra=("-color_range", "pc"))
    info = probe_source(full)
    assert info.full_range
    ex = extract_shot(info, 0, 30, tmp_path / "y4m", [(160, 90)])
    data = Path(ex.reference).read_bytes()
    assert b"XCOLORRANGE=LIMITED" in data[:100]
    y = np.concatenate([np.frombuffer(f[:160 * 90], np.uint8) for f in data.split(b"FRAME\n")[1:]])
    assert y.min() >= 16 and y.max() <= 235
    # the decoded source spans more than the limited range: the conversion really happened
    with __import__("av").open(str(full)) as c:
        src_y = np.concatenate([f.to_ndarray()[:90].ravel() for f in c.decode(video=0)])
    assert src_y.max() > 235 or src_y.min() < 16


def test_hdr_source_fails_before_any_work(media_dir: Path, tmp_path: Path):
    from pershot.cli import main

    pq = _clip(media_dir, tmp_path / "pq.mp4", vf="setparams=color_primaries=bt2020:color_trc=smpte2084:"
                                                  "colorspace=bt2020nc")
    out = tmp_path / "out"
    assert main(["ladder", str(pq), "--complexity", "0.5", "--grid", "test", "-o", str(out), "-q"]) == \
        MediaError.exit_code
    assert not (out / "shots.csv").exists()
    assert main(["shots", str(pq), "-o", str(tmp_path / "s"), "-q"]) == 0  # shot detection is fine


def test_thumbnail_uses_the_sources_matrix(tmp_path: Path):
    from pershot.thumbnails import read_frame

    red = tmp_path / "red.mp4"
    ffmpeg.run(["-y", "-v", "error", "-f", "lavfi", "-i", "color=c=red:size=128x72:rate=10", "-frames:v", "3",
                "-vf", f"scale=out_color_matrix=bt709:out_range=tv,format=yuv420p,setparams={BT709}",
                "-c:v", "libx264", "-qp", "0", str(red)], what="making a red clip failed")
    rgb = read_frame(probe_source(red), 1)
    r, g, b = (float(np.median(rgb[..., i])) for i in range(3))
    # read with BT.601 instead, red comes back as (230, 0, 0); with BT.709 as (251, 0, 0)
    assert r >= 245 and g <= 6 and b <= 6


def _pq_clip(media_dir: Path, dst: Path, transfer: str = "smpte2084") -> tuple[Path, np.ndarray]:
    """Frames 240-269 of testvideo.mp4 at 320x180 re-coded as 10-bit HEVC in PQ (or ``transfer``) / BT.2020
    (an SDR picture carried as HDR, at 100 nits), and the SDR frames' luma it came from."""
    sdr = dst.with_suffix(".y4m")
    base = "trim=start_frame=240:end_frame=270,setpts=PTS-STARTPTS,scale=320:180"
    ffmpeg.run(["-y", "-v", "error", "-i", str(media_dir / "testvideo.mp4"), "-vf", base, "-f", "yuv4mpegpipe",
                str(sdr)], what="cutting the SDR frames failed")
    ffmpeg.run(["-y", "-v", "error", "-i", str(media_dir / "testvideo.mp4"), "-vf",
                f"{base},setparams={BT709},zscale=transfer=linear:npl=100,format=gbrpf32le,"
                f"zscale=primaries=bt2020:transfer={transfer}:matrix=bt2020nc:range=limited:npl=100,format=yuv420p10le",
                "-c:v", "libx265", "-x265-params", "log-level=error", "-crf", "8", str(dst)],
               what="making a PQ clip failed")
    return dst, _y4m_luma(sdr, 320, 180)


def _y4m_luma(path: Path | str, w: int, h: int) -> np.ndarray:
    data = Path(path).read_bytes()
    return np.stack([np.frombuffer(f[:w * h], np.uint8).reshape(h, w) for f in data.split(b"FRAME\n")[1:]]).astype(float)


def test_tonemap_maps_hdr_to_sdr_bt709(media_dir: Path, tmp_path: Path):
    from pershot.errors import InputError
    from pershot.media import with_tonemap

    pq, sdr = _pq_clip(media_dir, tmp_path / "pq.mp4")
    info = probe_source(pq)
    assert info.hdr_transfer == "smpte2084" and info.bit_depth == 10
    with pytest.raises(MediaError, match="--tonemap"):
        check_sdr(info)
    with pytest.raises(InputError, match="tone-mapping curve"):
        with_tonemap(info, "sharpen")
    assert with_tonemap(INFO, "hable") == INFO  # an SDR source ignores it
    clip = with_tonemap(info, "clip")
    check_sdr(clip)
    assert encode_colour(clip) == (("color_primaries", "bt709"), ("color_trc", "bt709"), ("colorspace", "bt709"),
                                   ("range", "tv"))
    # 100-nit content clipped at 100 nits comes back as the SDR frames it was made from
    out = _y4m_luma(extract_shot(clip, 0, 30, tmp_path / "clip", []).reference, 320, 180)
    assert out.shape == sdr.shape
    assert np.abs(out - sdr).mean() < 1.0 and np.percentile(np.abs(out - sdr), 99) <= 4
    # the PQ code values read as if they were SDR are far off: the mapping really happened
    import av

    with av.open(str(pq)) as c:
        raw = np.stack([f.to_ndarray()[:180] for f in c.decode(video=0)]).astype(float) / 4
    assert np.percentile(np.abs(raw - sdr), 99) > 10
    shot = SHOTS[0]
    p = EncodeParams(encoder="x264", preset="fast", rc_mode="crf", value=28, width=320, height=180,
                     fps=info.fps, frames=30, colour=encode_colour(clip))
    assert probe_key(clip, shot, p, MetricParams(), "v", "f") != probe_key(
        with_tonemap(info, "hable"), shot, p, MetricParams(), "v", "f")


def test_default_tonemap_keeps_hlg_material_within_sdr_range(media_dir: Path, tmp_path: Path):
    from pershot.media import DEFAULT_TONEMAP, with_tonemap

    hlg, sdr = _pq_clip(media_dir, tmp_path / "hlg.mp4", transfer="arib-std-b67")
    info = probe_source(hlg)
    assert info.hdr_transfer == "arib-std-b67"
    out = _y4m_luma(extract_shot(with_tonemap(info, DEFAULT_TONEMAP), 0, 30, tmp_path / "m", []).reference, 320, 180)
    assert np.abs(out - sdr).mean() < 3.0  # hable: about 19 levels darker on average


def test_tonemapped_ladder_and_renditions_are_sdr_bt709(media_dir: Path, tmp_path: Path):
    pq, _ = _pq_clip(media_dir, tmp_path / "pq.mp4")
    out = tmp_path / "lad"
    with pytest.raises(MediaError):
        api.ladder(pq, grid=GRID, complexity=1.0, rungs=1, out_dir=out, shots=SHOTS, jobs=1, plots=False)
    api.ladder(pq, grid=GRID, complexity=1.0, rungs=1, out_dir=out, shots=SHOTS, jobs=1, plots=False,
               tonemap="mobius")
    doc = json.loads((out / "ladder.json").read_text())
    assert doc["source"]["tonemap"] == "mobius"
    res = api.encode_renditions(out / "ladder.json", out / "renditions", jobs=1)
    assert res and all(_stream_colour(Path(r.path)) == (1, 1, 1, 1) for r in res)
    # another curve than the ladder's was silently ignored (the renditions were mobius's): now an error
    from pershot.errors import InputError

    with pytest.raises(InputError, match="made with tonemap mobius"):
        api.encode_renditions(out / "ladder.json", out / "other", jobs=1, tonemap="hable")
    assert not (out / "other").exists()
    assert api.encode_renditions(out / "ladder.json", out / "same", jobs=1, tonemap="mobius")


def test_tonemap_maps_from_the_sources_own_peak_and_stays_within_limited_range(tmp_path: Path):
    """Grey bars at 100, 1,000, 2,000 and 4,000 cd/m2 (PQ), graded for a 4,000-nit display (MaxCLL 4000):
    mapped from that peak, the three bright bars stay apart and every luma value within 16-235. Mapped
    as if the peak were 1,000 cd/m2 (ffmpeg's default: the linear light it is given carries no metadata),
    hable gave 150/235/246/254: the highlights clipped, and super-white in a limited-range stream."""
    from pershot.media import tonemap_peak, with_tonemap

    src = tmp_path / "bars.mp4"
    ffmpeg.run(["-y", "-v", "error", "-f", "lavfi", "-i",
                "nullsrc=size=320x180:rate=24:duration=0.25,format=yuv420p10le,"
                "geq=lum='if(lt(X,80),509,if(lt(X,160),723,if(lt(X,240),789,855)))':cb=512:cr=512",
                "-c:v", "libx265", "-x265-params",
                "log-level=error:lossless=1:colorprim=bt2020:transfer=smpte2084:colormatrix=bt2020nc:"
                "master-display=G(8500,39850)B(6550,2300)R(35400,14600)WP(15635,16450)L(40000000,50):"
                "max-cll=4000,400", str(src)], what="making PQ bars failed")
    info = probe_source(src)
    assert info.hdr_metadata is not None and info.hdr_metadata.max_cll == 4000 and tonemap_peak(info) == 40
    for curve in ("hable", "mobius"):
        ref = extract_shot(with_tonemap(info, curve), 0, 1, tmp_path / curve, []).reference
        y = _y4m_luma(ref, 320, 180)[0]
        bars = [float(np.median(y[:, x:x + 60])) for x in (10, 90, 170, 250)]
        assert y.min() >= 16 and y.max() <= 235
        # mobius keeps SDR's range nearly linear and squeezes what is above it (199/232/234/235 here)
        gap = 3 if curve == "hable" else 1
        assert all(b - a >= gap for a, b in zip(bars, bars[1:])), (curve, bars)


def test_rgb_source_is_converted_with_the_bt709_matrix_it_signals(tmp_path: Path):
    from pershot.thumbnails import read_frame

    red = tmp_path / "red.mkv"
    ffmpeg.run(["-y", "-v", "error", "-f", "lavfi", "-i", "color=c=red:size=128x72:rate=10", "-frames:v", "3",
                "-pix_fmt", "rgb24", "-c:v", "png", str(red)], what="making an RGB clip failed")
    info = probe_source(red)
    assert info.rgb and dict(encode_colour(info))["colorspace"] == "bt709"
    ex = extract_shot(info, 0, 3, tmp_path / "y4m", [])
    y = np.median(np.frombuffer(Path(ex.reference).read_bytes().split(b"FRAME\n")[1][:128 * 72], np.uint8))
    assert abs(y - 63) <= 1  # BT.709 luma of pure red in limited range (BT.601 would give 81)
    r, g, b = (float(np.median(read_frame(info, 1)[..., i])) for i in range(3))
    assert r >= 245 and g <= 6 and b <= 6
