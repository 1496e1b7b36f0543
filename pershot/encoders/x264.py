"""libx264 (H.264/AVC): CRF 0-51 or constant QP 0-69; single-threaded by default."""
from __future__ import annotations

import functools

from .base import EncodeParams, EncoderSpec, HdrKeys, fmt_value, kv_params, probe_encoder_stderr, search_version

PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow", "placebo")


#: x264 options that make it write SEI messages a stream can need (HRD timing, picture structure,
#: interlacing, frame packing, recovery points, HDR metadata, AVC-Intra): with any of them, SEI
#: units are kept
SEI_OPTIONS = frozenset({"nal-hrd", "pic-struct", "interlaced", "tff", "bff", "fake-interlaced", "frame-packing",
                         "intra-refresh", "open-gop", "mastering-display", "cll", "alternative-transfer",
                         "avcintra-class", "avcintra-flavor"})
#: drops the NAL units of type 6 (SEI). Without the options above, x264's only SEI is the
#: user-data message with its version and settings, about 650 bytes an encode that no decoder
#: uses: x264 has no switch for it, and on a short shot at a low rung it is several percent of
#: the bitrate (2.4 kbps on a 2.2 s shot).
STRIP_SEI = ["-bsf:v", "filter_units=remove_types=6"]

#: static HDR metadata options
HDR = HdrKeys("-x264-params", "mastering-display", "cll")


def codec_args(p: EncodeParams) -> list[str]:
    rc = ["-crf", fmt_value(p.value)] if p.rc_mode == "crf" else ["-qp", fmt_value(p.value)]
    own = [*p.hdr_options(HDR), *p.extra]
    params = [("keyint", p.gop()), ("open-gop", 0), *own]
    strip = [] if any(k.replace("_", "-") in SEI_OPTIONS for k, _ in own) else STRIP_SEI
    return ["-preset", p.preset, *rc, "-threads", str(p.threads), "-x264-params", kv_params(params), *strip]


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
    hdr=HDR,
    bsfs=("filter_units",),
    args_revision=2,  # 2: the settings SEI is stripped
)
