"""libx264 (H.264/AVC): CRF 0-51 or constant QP 0-69; single-threaded by default."""
from __future__ import annotations

import functools

from .base import EncodeParams, EncoderSpec, fmt_value, kv_params, probe_encoder_stderr, search_version

PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow", "placebo")


def codec_args(p: EncodeParams) -> list[str]:
    rc = ["-crf", fmt_value(p.value)] if p.rc_mode == "crf" else ["-qp", fmt_value(p.value)]
    params = [("keyint", p.gop()), ("open-gop", 0), *p.extra]
    return ["-preset", p.preset, *rc, "-threads", str(p.threads), "-x264-params", kv_params(params)]


@functools.lru_cache(maxsize=None)
def version() -> str:
    _, data = probe_encoder_stderr("libx264", ["-preset", "ultrafast", "-threads", "1"], "h264", ".264")
    text = data.decode("latin-1")
    return "x264 " + search_version(r"x264 - core (\d+(?: r\d+ ?[0-9a-f]*)?)", text)


SPEC = EncoderSpec(
    name="x264",
    ffmpeg_name="libx264",
    presets=PRESETS,
    value_range={"crf": (0, 51), "qp": (0, 69)},
    muxer="h264",
    ext=".264",
    codec_args=codec_args,
    version_probe=version,
)
