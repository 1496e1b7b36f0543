"""pershot: per-shot rate-distortion-complexity video encoding optimizer.

The public API is re-exported lazily so that ``import pershot`` (and
``pershot shots``) stays fast: nothing heavy is imported until it is used.
"""
from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# public name -> module that defines it
_EXPORTS = {
    # core pipeline
    "probe_source": "pershot.api",
    "detect_shots": "pershot.api",
    "probe": "pershot.api",
    "run_probes": "pershot.api",
    "estimate_probes": "pershot.api",
    "load_grid": "pershot.grid",
    "SourceInfo": "pershot.media",
    "Shot": "pershot.shots",
    # optimizer
    "optimize": "pershot.api",
    "ladder": "pershot.api",
    "Ladder": "pershot.ladder",
    "LadderSpec": "pershot.ladder",
    "load_ladder": "pershot.api",
    "write_ladder": "pershot.api",
    "encode_renditions": "pershot.api",
    "bd_rate": "pershot.bdrate",
    "bd_quality": "pershot.bdrate",
    "versus_fixed": "pershot.baselines",
    "compare_ladders": "pershot.api",
    # image codecs
    "code_image": "pershot.api",
    "decode_image": "pershot.api",
    "image_codecs": "pershot.api",
    "ImageResult": "pershot.codecs.select",
    # errors
    "PershotError": "pershot.errors",
}

__all__ = sorted(_EXPORTS) + ["__version__"]


def __getattr__(name: str) -> Any:
    mod = _EXPORTS.get(name)
    if mod is None:
        raise AttributeError(f"module 'pershot' has no attribute {name!r}")
    value = getattr(importlib.import_module(mod), name)
    globals()[name] = value
    return value
