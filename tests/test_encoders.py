"""Encoder argument building (pure, no ffmpeg) and one real encode per encoder."""
from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import pytest

import core_clips
from pershot import encoders, ffmpeg, media
from pershot.encoders import EncodeParams
from pershot.errors import ConfigError


def P(enc: str = "x264", preset: str = "medium", mode: str = "crf", value: float = 23, **kw) -> EncodeParams:
    base = dict(encoder=enc, preset=preset, rc_mode=mode, value=value, width=640, height=360,
                fps=Fraction(30000, 1001), frames=48)
    base.update(kw)
    return EncodeParams(**base)


def _opt(args: list[str], flag: str) -> str:
    return args[args.index(flag) + 1]


def _kv(s: str) -> dict[str, str]:
    return dict(x.split("=", 1) for x in s.split(":"))


def test_common_argument_list_shape() -> None:
    args = encoders.encode_args(encoders.get("x264"), P(), "/tmp/in dir/-src.y4m", "/tmp/o.264")
    assert all(isinstance(a, str) for a in args)
    assert _opt(args, "-i") == "file:/tmp/in dir/-src.y4m"  # no shell, no option or protocol confusion
    assert args[-1] == "file:/tmp/o.264" and _opt(args, "-f") == "yuv4mpegpipe"
    assert args[args.index("-i") - 2:args.index("-i")] == ["-f", "yuv4mpegpipe"]
    assert _opt(args, "-r") == "30000/1001"  # CFR at the source's average rate, frames one to one
    assert _opt(args, "-fps_mode") == "passthrough"
    assert _opt(args, "-frames:v") == "48"
    assert _opt(args, "-pix_fmt") == "yuv420p"  # 8-bit 4:2:0 output
    assert _opt(args, "-c:v") == "libx264"
    assert args[-3:-1] == ["-f", "h264"]  # raw elementary stream: size_bytes is the bitstream alone
    # the overhead run: the same process up to the encoder, which it leaves out
    over = encoders.overhead_args(P(), "/tmp/in dir/-src.y4m")
    assert over[:-3] == args[:args.index("-c:v")] and over[-3:] == ["-f", "null", "-"]
    assert "-c:v" not in over and "libx264" not in over


def test_encoder_cpu_is_the_process_less_its_overhead() -> None:
    from pershot.probe import ENCODER_CPU_FLOOR, encoder_cpu_s

    assert encoder_cpu_s(0.5, 0.02) == pytest.approx(0.48)
    assert encoder_cpu_s(0.02, 0.02) == pytest.approx(ENCODER_CPU_FLOOR * 0.02)  # timer noise: floored, positive
    assert encoder_cpu_s(0.01, 0.02) == pytest.approx(ENCODER_CPU_FLOOR * 0.01)


def test_x264_args() -> None:
    a = encoders.get("x264").codec_args(P(preset="veryslow", value=27.5))
    assert _opt(a, "-preset") == "veryslow" and _opt(a, "-crf") == "27.5" and _opt(a, "-threads") == "1"
    kv = _kv(_opt(a, "-x264-params"))
    assert kv["keyint"] == "48" and kv["open-gop"] == "0"  # one closed GOP: keyframe at the shot start
    q = encoders.get("x264").codec_args(P(mode="qp", value=30, keyint=24, extra=(("aq-mode", "2"),)))
    assert _opt(q, "-qp") == "30" and "-crf" not in q
    assert _kv(_opt(q, "-x264-params")) == {"keyint": "24", "open-gop": "0", "aq-mode": "2"}
    # the settings SEI is dropped (argument revision 2), unless an option asks for SEI a stream needs
    assert _opt(a, "-bsf:v") == "filter_units=remove_types=6" and _opt(q, "-bsf:v") == "filter_units=remove_types=6"
    assert encoders.get("x264").args_revision == 2
    for kv_opt in (("nal-hrd", "vbr"), ("mastering-display", "G(1,2)"), ("pic_struct", "1")):
        assert "-bsf:v" not in encoders.get("x264").codec_args(P(extra=(kv_opt,)))


def test_x265_args() -> None:
    a = encoders.get("x265").codec_args(P("x265", "slow", value=30))
    assert _opt(a, "-preset") == "slow" and _opt(a, "-crf") == "30"
    kv = _kv(_opt(a, "-x265-params"))
    assert kv["pools"] == "1" and kv["frame-threads"] == "1"  # one thread
    assert kv["keyint"] == "48" and kv["open-gop"] == "0"
    assert kv["info"] == "0"  # no settings SEI (~2.3 kB an encode), hence argument revision 2
    assert encoders.get("x265").args_revision == 2 and encoders.get("svtav1").args_revision == 1
    assert _opt(encoders.get("x265").codec_args(P("x265", mode="qp", value=32)), "-qp") == "32"


def test_svtav1_args() -> None:
    a = encoders.get("svtav1").codec_args(P("svtav1", "8", value=35))
    assert _opt(a, "-preset") == "8" and _opt(a, "-crf") == "35"
    kv = _kv(_opt(a, "-svtav1-params"))
    assert kv["lp"] == "1" and kv["irefresh-type"] == "2" and kv["keyint"] == "48" and "aq-mode" not in kv
    q = encoders.get("svtav1").codec_args(P("svtav1", "8", mode="qp", value=40))
    assert _opt(q, "-qp") == "40" and _kv(_opt(q, "-svtav1-params"))["aq-mode"] == "0"  # truly constant QP


def test_registry_and_validation() -> None:
    assert encoders.names() == ["x264", "x265", "svtav1"]
    assert encoders.get("libx264").name == "x264" and encoders.get("HEVC").name == "x265"
    assert encoders.get("SVT-AV1").name == "svtav1"
    with pytest.raises(ConfigError, match="unknown encoder"):
        encoders.get("vp9")
    spec = encoders.get("x264")
    assert spec.preset_rank("ultrafast") == 0 < spec.preset_rank("medium") < spec.preset_rank("veryslow")
    sv = encoders.get("svtav1")
    assert sv.preset_rank("13") == 0 < sv.preset_rank("4")  # 13 is SVT-AV1's fastest
    for bad in (P(value=60), P(preset="warp"), P(mode="abr"), P(width=641), P(frames=0)):
        with pytest.raises(ConfigError):
            encoders.encode_args(spec, bad, "a.y4m", "b.264")
    with pytest.raises(ConfigError):
        encoders.encode_args(sv, P("svtav1", "8", value=30.5), "a.y4m", "b.obu")
    with pytest.raises(ConfigError):
        spec.codec_args(P(extra=(("bad:key", "1"),)))


def test_versions_detected() -> None:
    assert encoders.version("x264").startswith("x264 ") and encoders.version("x264") != "x264 unknown"
    assert encoders.version("x265") != "x265 unknown"
    assert encoders.version("svtav1") != "svtav1 unknown"


@pytest.mark.parametrize("enc,preset,value", [("x264", "veryfast", 30), ("x265", "ultrafast", 32), ("svtav1", "12", 40)])
def test_real_encode_of_each_shot_has_its_frame_count(media_dir: Path, tmp_path: Path, enc: str, preset: str,
                                                      value: int) -> None:
    """counter.mp4 (cuts at 10 and 20): each shot's encode decodes to exactly its frames, keyframe first."""
    src = core_clips.counter_small(media_dir, tmp_path)
    info = media.probe_source(src)
    spec = encoders.get(enc)
    total = 0
    for a, b in [(0, 10), (10, 20), (20, 30)]:
        ex = media.extract_shot(info, a, b, tmp_path / f"s{a}", [(160, 90)], reference=False)
        out = tmp_path / f"{enc}{a}{spec.ext}"
        p = EncodeParams(enc, preset, "crf", value, 160, 90, info.fps, b - a)
        res = ffmpeg.run(encoders.encode_args(spec, p, ex.scaled[(160, 90)], out))
        assert res.cpu_s > 0
        if enc == "x265":  # info=0 reached the encoder: no SEI with its settings in the stream
            assert b"x265 (build" not in out.read_bytes()
        if enc == "x264":  # the settings SEI was dropped from the stream
            assert b"x264 - core" not in out.read_bytes()
        with av.open(str(out), format=spec.muxer) as c:
            frames = list(c.decode(video=0))
        assert len(frames) == b - a
        assert frames[0].key_frame
        assert (frames[0].width, frames[0].height) == (160, 90) and frames[0].format.name == "yuv420p"
        assert frames[0].rotation == 0
        total += len(frames)
    assert total == 30
