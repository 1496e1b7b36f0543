"""Encoder registry: name -> :class:`~pershot.encoders.base.EncoderSpec`.

One module per encoder (``x264``, ``x265``, ``svtav1``); each builds ffmpeg
argument lists with pure functions. Names are case-insensitive; the ffmpeg
names (``libx264``...) are accepted as aliases.
"""
from __future__ import annotations

from ..errors import ConfigError
from .base import RC_MODES, EncodeParams, EncoderSpec, encode_args, overhead_args
from . import svtav1, x264, x265

ENCODERS: dict[str, EncoderSpec] = {m.SPEC.name: m.SPEC for m in (x264, x265, svtav1)}
_ALIASES = {
    "libx264": "x264", "h264": "x264", "avc": "x264",
    "libx265": "x265", "hevc": "x265", "h265": "x265",
    "libsvtav1": "svtav1", "svt-av1": "svtav1", "svt_av1": "svtav1", "av1": "svtav1",
}


def canonical_name(name: str) -> str:
    n = str(name).strip().lower()
    n = _ALIASES.get(n, n)
    if n not in ENCODERS:
        raise ConfigError(f"unknown encoder {name!r} (choose from {', '.join(ENCODERS)})")
    return n


def get(name: str) -> EncoderSpec:
    """The spec of encoder ``name`` (ConfigError when unknown)."""
    return ENCODERS[canonical_name(name)]


def names() -> list[str]:
    return list(ENCODERS)


def version(name: str) -> str:
    """Version string of the encoder library inside the ffmpeg in use (cached per process)."""
    return get(name).version_probe()


__all__ = ["ENCODERS", "RC_MODES", "EncodeParams", "EncoderSpec", "encode_args", "overhead_args", "canonical_name",
           "get", "names", "version"]
