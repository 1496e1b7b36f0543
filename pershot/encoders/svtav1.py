"""libsvtav1 (AV1): presets 13 (fastest) ... 0 (slowest); CRF 1-63 or constant QP 1-63
(``aq-mode=0`` so the QP is really constant); one level of parallelism (``lp=1``)."""
from __future__ import annotations

import functools

from .base import EncodeParams, EncoderSpec, HdrKeys, fmt_value, kv_params, probe_encoder_stderr, search_version

PRESETS = tuple(str(i) for i in range(13, -1, -1))

#: static HDR metadata options
HDR = HdrKeys("-svtav1-params", "mastering-display", "content-light", float_figures=True)


def codec_args(p: EncodeParams) -> list[str]:
    rc = ["-crf", fmt_value(p.value)] if p.rc_mode == "crf" else ["-qp", fmt_value(p.value)]
    params: list[tuple[str, object]] = [("lp", p.threads), ("keyint", p.gop()), ("irefresh-type", 2)]
    if p.rc_mode == "qp":
        params.append(("aq-mode", 0))
    params.append(("enable-stat-report", 0))
    params.extend(p.hdr_options(HDR))
    params.extend(p.extra)
    return ["-preset", str(p.preset), *rc, "-svtav1-params", kv_params(params)]


@functools.lru_cache(maxsize=None)
def version() -> str:
    err, _ = probe_encoder_stderr("libsvtav1", ["-preset", "12", "-svtav1-params", "lp=1"], "obu", ".obu")
    return "svtav1 " + search_version(r"SVT-AV1 Encoder Lib (v?\S+)", err)


SPEC = EncoderSpec(
    name="svtav1",
    ffmpeg_name="libsvtav1",
    presets=PRESETS,
    value_range={"crf": (1, 63), "qp": (1, 63)},
    muxer="obu",
    ext=".obu",
    codec_args=codec_args,
    version_probe=version,
    hdr=HDR,
    integer_values=True,
)
