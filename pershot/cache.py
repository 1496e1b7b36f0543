"""Content-addressed probe cache: one JSON file per probe, written atomically.

The key is the SHA-256 of a canonical JSON document holding everything that
can change a probe's result: the schema version, the source's content hash,
the shot's frame range, the encoder's name and library version, the ffmpeg
version, every encode parameter (preset, rate-control mode and value, size,
frame rate, threads, GOP, extra options) and every metric parameter (VMAF
model, subsampling, scaler, reference size). Shot numbers and preset ranks
are not in the key: they depend on the run, not on the probe.

Location: ``--cache DIR`` / ``PERSHOT_CACHE`` / the user cache directory
(``platformdirs.user_cache_dir("pershot")``), under ``probes-v<schema>/``.
An entry is written as soon as its probe finishes (temp file + rename), so an
interrupted run loses no finished probe; an unreadable entry counts as a miss
and is overwritten.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Mapping

from .errors import InputError

SCHEMA_VERSION = 1
ENV_VAR = "PERSHOT_CACHE"


def default_dir() -> Path:
    """``$PERSHOT_CACHE``, else the user cache directory for pershot."""
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("pershot", appauthor=False))


def make_key(params: Mapping[str, Any]) -> str:
    """SHA-256 of the canonical JSON of ``params`` (plus the schema version)."""
    doc = {"schema": SCHEMA_VERSION, **params}
    blob = json.dumps(doc, sort_keys=True, separators=(",", ":"), default=str, allow_nan=True)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


class ProbeCache:
    """A folder of probe results addressed by key."""

    def __init__(self, root: str | os.PathLike | None = None):
        base = Path(root).expanduser() if root is not None else default_dir()
        if base.exists() and not base.is_dir():
            raise InputError(f"cache path is not a folder: {base}")
        self.base = base
        self.root = base / f"probes-v{SCHEMA_VERSION}"

    def __repr__(self) -> str:
        return f"ProbeCache({str(self.base)!r})"

    def __reduce__(self):  # picklable for worker processes
        return (ProbeCache, (str(self.base),))

    def path(self, key: str) -> Path:
        if len(key) < 8 or not all(c in "0123456789abcdef" for c in key):
            raise ValueError(f"bad cache key {key!r}")
        return self.root / key[:2] / f"{key}.json"

    def get(self, key: str) -> dict | None:
        """The stored entry, or None (missing, unreadable or from another schema)."""
        p = self.path(key)
        try:
            with open(p, encoding="utf-8") as f:
                doc = json.load(f)
        except (OSError, ValueError):
            return None
        if not isinstance(doc, dict) or doc.get("schema") != SCHEMA_VERSION or doc.get("key") != key:
            return None
        return doc

    def __contains__(self, key: str) -> bool:
        return self.get(key) is not None

    def put(self, key: str, entry: Mapping[str, Any]) -> Path:
        """Store ``entry`` under ``key`` atomically."""
        from .atomic import write_text

        doc = {"schema": SCHEMA_VERSION, "key": key, **entry}
        text = json.dumps(doc, sort_keys=True, separators=(",", ":"), allow_nan=True)
        p = self.path(key)
        try:
            return write_text(p, text)
        except OSError as ex:
            raise InputError(f"cannot write the probe cache at {self.base}: {ex.strerror or ex}") from ex

    def keys(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.stem for p in self.root.glob("??/*.json"))

    def __len__(self) -> int:
        return len(self.keys())


def open_cache(cache: "ProbeCache | str | os.PathLike | bool | None" = True) -> ProbeCache | None:
    """Normalize the ``cache`` argument of the API: True = default folder, False/None = no cache."""
    if cache is None or cache is False:
        return None
    if cache is True:
        return ProbeCache()
    if isinstance(cache, ProbeCache):
        return cache
    return ProbeCache(cache)
