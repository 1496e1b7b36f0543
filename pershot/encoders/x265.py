"""libx265 (HEVC): CRF 0-51 or constant QP 0-51; one worker thread, one frame thread."""
from __future__ import annotations

import functools

from .base import EncodeParams, EncoderSpec, HdrKeys, fmt_value, kv_params, probe_encoder_stderr, search_version

PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow", "placebo")

#: static HDR metadata options
HDR = HdrKeys("-x265-params", "master-display", "max-cll")


def codec_args(p: EncodeParams) -> list[str]:
    rc = ["-crf", fmt_value(p.value)] if p.rc_mode == "crf" else ["-qp", fmt_value(p.value)]
    params = [
        ("pools", p.threads),
        ("frame-threads", 1),
        ("lookahead-threads", 0),
        ("keyint", p.gop()),
        ("open-gop", 0),
        ("log-level", "error"),
        ("info", 0),  # no SEI with the encoder's settings: ~2.3 kB per encode that no player needs
        *p.hdr_options(HDR),
        *p.extra,
    ]
    return ["-preset", p.preset, *rc, "-x265-params", kv_params(params)]


@functools.lru_cache(maxsize=None)
def version() -> str:
    err, _ = probe_encoder_stderr("libx265", ["-preset", "ultrafast", "-x265-params", "pools=1:frame-threads=1"],
                                  "hevc", ".265")
    return "x265 " + search_version(r"HEVC encoder version (\S+)", err)


SPEC = EncoderSpec(
    name="x265",
    ffmpeg_name="libx265",
    presets=PRESETS,
    value_range={"crf": (0, 51), "qp": (0, 51)},
    muxer="hevc",
    ext=".265",
    codec_args=codec_args,
    version_probe=version,
    hdr=HDR,
    args_revision=2,  # 2: info=0
)
