"""Image codecs: one interface, a registry by name, and third-party plugins.

An :class:`ImageCodec` turns an ``H x W x 3`` uint8 RGB image into bytes at one
of its integer ``levels`` (higher level = more bits, better quality) and back.
Built-in codecs are the conventional ones (JPEG, WebP, AVIF through Pillow;
HEVC intra and JPEG XL through the embedded ffmpeg) and the learned ones
(CompressAI models trained by pershot, shipped in ``pershot/weights``).

Third-party codecs plug in through the ``pershot.codecs`` entry-point group:
an entry point may name an :class:`ImageCodec` subclass (instantiated with no
arguments), an instance, or a callable returning one codec or an iterable of
codecs. A plugin that fails to load is skipped and reported by
:func:`plugin_errors`; it never breaks the built-in codecs, nor does a codec
whose ``unavailable_reason`` raises (it is listed as unusable, the exception
its reason). Names are unique: a plugin cannot replace a built-in codec.
:func:`plugin_errors` also reports the weights folders' problems (an unreadable
``manifest.json``, a model whose codec name another model already has).

Nothing here imports torch: learned codecs read their levels and decoder
complexity from the weights manifest and import torch only to code an image.
"""
from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator

import numpy as np

from ..errors import CodecError, ConfigError, InputError, MissingDependencyError
from . import container

ENTRY_POINT_GROUP = "pershot.codecs"
_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_.+-]{0,63}$")


@dataclass(frozen=True)
class CodecInfo:
    """What ``pershot codecs`` lists about a codec."""

    name: str
    kind: str
    description: str
    levels: tuple[int, ...]
    available: bool
    reason: str | None = None
    extension: str = ".bin"
    decoder_kmac_per_px: float | None = None
    source: str = "builtin"


class ImageCodec:
    """Base class of every image codec.

    Subclasses set ``name``, ``kind``, ``description``, ``levels`` (ascending:
    a higher level gives more bits and better quality) and ``extension``, and
    implement :meth:`encode` and :meth:`decode`. Codecs whose bitstream is not
    a self-identifying file should wrap it with :mod:`pershot.codecs.container`
    (then :func:`decode_bytes` finds them by name); others implement
    :meth:`sniff`. Codecs that run child processes override the ``*_timed``
    methods so the CPU time of the child is counted.
    """

    name: str = ""
    kind: str = "conventional"
    description: str = ""
    levels: tuple[int, ...] = ()
    extension: str = ".bin"

    # -- availability
    def unavailable_reason(self) -> str | None:
        """``None`` when usable here, else why not (missing library, ffmpeg encoder...)."""
        return None

    def available(self) -> bool:
        return self.unavailable_reason() is None

    def size_problem(self, width: int, height: int) -> str | None:
        """``None`` when this codec takes an image of this size, else why not."""
        return None

    # -- coding
    def encode(self, image: np.ndarray, level: int) -> bytes:  # pragma: no cover - interface
        raise NotImplementedError

    def decode(self, data: bytes) -> np.ndarray:  # pragma: no cover - interface
        raise NotImplementedError

    def sniff(self, data: bytes) -> bool:
        """True when ``data`` looks like this codec's (non-container) bitstream."""
        return False

    def encode_timed(self, image: np.ndarray, level: int) -> tuple[bytes, float]:
        """``(bitstream, cpu_seconds)``; CPU time of this process (all threads)."""
        t0 = time.process_time()
        data = self.encode(image, level)
        return data, time.process_time() - t0

    def decode_timed(self, data: bytes) -> tuple[np.ndarray, float]:
        t0 = time.process_time()
        img = self.decode(data)
        return img, time.process_time() - t0

    # -- complexity
    def decoder_kmac_per_px(self) -> float | None:
        """Decoder multiply-accumulates per pixel, in thousands, where known (learned codecs)."""
        return None

    # -- helpers
    def check_level(self, level: int) -> int:
        try:
            lv = int(level)
        except (TypeError, ValueError) as ex:
            raise InputError(f"{self.name}: level must be an integer, got {level!r}") from ex
        if lv != level or lv not in self.levels:
            raise InputError(f"{self.name}: level {level!r} is not one of {list(self.levels)}")
        return lv

    def info(self, source: str = "builtin") -> CodecInfo:
        reason = _reason(self)
        try:
            kmac = self.decoder_kmac_per_px()
        except Exception:  # noqa: BLE001 - a listing never fails on one codec
            kmac = None
        return CodecInfo(name=self.name, kind=self.kind, description=self.description, levels=tuple(self.levels),
                         available=reason is None, reason=reason, extension=self.extension,
                         decoder_kmac_per_px=kmac, source=source)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"


# ------------------------------------------------------------------ registry

@dataclass
class _Registry:
    codecs: dict[str, ImageCodec] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)
    plugin_errors: list[str] = field(default_factory=list)
    loaded: bool = False
    failed_reasons: set[str] = field(default_factory=set)  # codecs whose unavailable_reason() raised


_reg = _Registry()
_lock = threading.RLock()


def register(codec: ImageCodec, *, source: str = "user", replace: bool = False) -> ImageCodec:
    """Add ``codec`` to the registry (``replace`` only for codecs registered by the caller)."""
    if not isinstance(codec, ImageCodec):
        raise ConfigError(f"not an ImageCodec: {codec!r}")
    if not isinstance(codec.name, str) or not _NAME_RE.match(codec.name):
        raise ConfigError(f"invalid codec name {codec.name!r} (lowercase letters, digits, _.+-; at most 64)")
    levels = tuple(codec.levels)
    if not levels or any(not isinstance(v, (int, np.integer)) or v < 0 or v > 10_000 for v in levels) \
            or list(levels) != sorted(set(levels)):
        raise ConfigError(f"codec {codec.name!r}: levels must be distinct ascending integers in 0..10000")
    with _lock:
        _ensure_loaded()
        if codec.name in _reg.codecs and not replace:
            raise ConfigError(f"an image codec named {codec.name!r} is already registered ({_reg.sources[codec.name]})")
        if replace and _reg.sources.get(codec.name) == "builtin":
            raise ConfigError(f"cannot replace the built-in codec {codec.name!r}")
        _reg.codecs[codec.name] = codec
        _reg.sources[codec.name] = source
    return codec


def unregister(name: str) -> None:
    with _lock:
        if _reg.sources.get(name) == "builtin":
            raise ConfigError(f"cannot unregister the built-in codec {name!r}")
        _reg.codecs.pop(name, None)
        _reg.sources.pop(name, None)


def reload() -> None:
    """Forget every codec and plugin; the next lookup loads built-ins and entry points again."""
    with _lock:
        _reg.codecs.clear()
        _reg.sources.clear()
        _reg.plugin_errors.clear()
        _reg.failed_reasons.clear()
        _reg.loaded = False


def _ensure_loaded() -> None:
    if _reg.loaded:
        return
    _reg.loaded = True
    from . import conventional, learned

    for c in [*conventional.builtin_codecs(), *learned.builtin_codecs(warnings=_reg.plugin_errors)]:
        _reg.codecs[c.name] = c
        _reg.sources[c.name] = "builtin"
    _load_entry_points()


def _iter_entry_points() -> Iterable[Any]:
    from importlib import metadata

    try:
        return list(metadata.entry_points(group=ENTRY_POINT_GROUP))
    except TypeError:  # pragma: no cover - Python < 3.10 API
        return list(metadata.entry_points().get(ENTRY_POINT_GROUP, []))


def _load_entry_points() -> None:
    for ep in _iter_entry_points():
        where = f"plugin {ep.name!r} ({ep.value})"
        try:
            obj = ep.load()
            if isinstance(obj, type) and issubclass(obj, ImageCodec):
                found: list[Any] = [obj()]
            elif isinstance(obj, ImageCodec):
                found = [obj]
            elif callable(obj):
                res = obj()
                found = [res] if isinstance(res, ImageCodec) else list(res)
            else:
                raise ConfigError("entry point is neither an ImageCodec nor a callable returning codecs")
            for c in found:
                if not isinstance(c, ImageCodec):
                    raise ConfigError(f"returned {c!r}, not an ImageCodec")
                if c.name in _reg.codecs:
                    _reg.plugin_errors.append(f"{where}: codec name {c.name!r} is taken; plugin codec ignored")
                    continue
                if c.kind not in ("conventional", "learned", "plugin"):
                    c.kind = "plugin"
                register(c, source=f"plugin:{ep.name}")
        except Exception as ex:  # noqa: BLE001 - a broken plugin must not break pershot
            msg = str(ex).splitlines()[0] if str(ex) else type(ex).__name__
            _reg.plugin_errors.append(f"{where}: {type(ex).__name__}: {msg}")


def _reason(codec: ImageCodec) -> str | None:
    """``codec.unavailable_reason()``; one that raises makes the codec unusable, with the exception as the
    reason (and one warning in :func:`plugin_errors`): a broken plugin never breaks a listing or a choice."""
    try:
        reason = codec.unavailable_reason()
    except Exception as ex:  # noqa: BLE001 - a plugin's bug
        msg = str(ex).splitlines()[0] if str(ex) else ""
        reason = f"unavailable_reason() failed: {type(ex).__name__}" + (f": {msg}" if msg else "")
        with _lock:
            if codec.name not in _reg.failed_reasons:
                _reg.failed_reasons.add(codec.name)
                _reg.plugin_errors.append(f"codec {codec.name!r}: {reason}; treated as unusable")
        return reason
    return str(reason) if reason else None


def plugin_errors() -> list[str]:
    """One line per plugin entry point that could not be loaded, per codec whose ``unavailable_reason()``
    raised, and per problem of a weights folder (a malformed ``manifest.json``, a shadowed model)."""
    with _lock:
        _ensure_loaded()
        return list(_reg.plugin_errors)


def codec_names(available_only: bool = False) -> list[str]:
    with _lock:
        _ensure_loaded()
        items = list(_reg.codecs.values())
    return [c.name for c in items if not available_only or _reason(c) is None]


def iter_codecs(available_only: bool = False) -> Iterator[ImageCodec]:
    with _lock:
        _ensure_loaded()
        items = list(_reg.codecs.values())
    for c in items:
        if not available_only or _reason(c) is None:
            yield c


def get_codec(name: str) -> ImageCodec:
    """The codec registered as ``name`` (ConfigError if unknown, CodecError if unusable here)."""
    with _lock:
        _ensure_loaded()
        c = _reg.codecs.get(name)
    if c is None:
        msg = f"unknown image codec {name!r}; known: {', '.join(codec_names())}"
        folders = [e for e in plugin_errors() if e.startswith("weights folder") and " is skipped: " in e]
        if folders:  # the codec may be in a weights folder that could not be read
            msg += f" ({folders[0]}" + (f"; and {len(folders) - 1} more: see `pershot codecs`)" if folders[1:] else ")")
        raise ConfigError(msg)
    reason = _reason(c)
    if reason:
        from .learned import LearnedCodec, missing_dependencies

        if isinstance(c, LearnedCodec) and missing_dependencies():
            raise MissingDependencyError(f"image codec {name!r} is not usable here: {reason}")
        raise CodecError(f"image codec {name!r} is not usable here: {reason}")
    return c


def list_codecs() -> list[CodecInfo]:
    with _lock:
        _ensure_loaded()
        items = [(c, _reg.sources[n]) for n, c in _reg.codecs.items()]
    return [c.info(source=s) for c, s in items]


def codec_for_bitstream(data: bytes) -> ImageCodec:
    """Which registered codec made ``data`` (container name, else each codec's sniff)."""
    if not data:
        raise CodecError("empty bitstream")
    if container.is_container(data):
        bs = container.unpack(data)
        return get_codec(bs.codec)
    for c in iter_codecs():
        try:
            if c.sniff(data):
                reason = _reason(c)
                if reason:
                    raise CodecError(f"bitstream is {c.name}, which is not usable here: {reason}")
                return c
        except CodecError:
            raise
        except Exception:  # noqa: BLE001 - a plugin's sniff must not break detection
            continue
    raise CodecError("unrecognised image bitstream (not a pershot container, JPEG, WebP, AVIF or JPEG XL file)")


def decode_bytes(data: bytes) -> tuple[np.ndarray, ImageCodec]:
    """Decode any bitstream a registered codec made; returns ``(image, codec)``."""
    codec = codec_for_bitstream(data)
    return codec.decode(data), codec


__all__ = [
    "ENTRY_POINT_GROUP", "CodecInfo", "ImageCodec", "register", "unregister", "reload", "plugin_errors",
    "codec_names", "iter_codecs", "get_codec", "list_codecs", "codec_for_bitstream", "decode_bytes",
]
