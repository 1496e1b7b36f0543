"""Learned image codecs: CompressAI models trained by pershot, with shipped weights.

The codecs are listed from ``pershot/weights/manifest.json`` (and from the
``manifest.json`` of every folder in ``$PERSHOT_CODEC_WEIGHTS``, separated by
``os.pathsep``, where ``pershot train-codec -o DIR`` puts its own models), so
listing them imports nothing heavy; torch and compressai are imported on the
first encode or decode.

* Weights are plain state dicts read with ``torch.load(weights_only=True)``
  from bytes whose SHA-256 was checked against the manifest first.
* Bitstreams are :mod:`pershot.codecs.container` files holding the codec name,
  the first 4 bytes of the weights' SHA-256 (a file made with other weights is
  refused, not decoded into garbage), the level, the image size and padding,
  and the entropy coder's strings.
* Images are padded (edge replication) to the model's multiple (16 or 64) and
  cropped back after decoding, so any size from 1x1 works. The analysis and
  synthesis transforms run in horizontal stripes (with context rows beyond
  their receptive fields, so the result equals the whole-image one), which
  keeps memory near 1 GB for a 2048x2048 image; images over
  :data:`MAX_PIXELS` are refused (the entropy coder's symbol lists and the
  CPU time grow with the pixels: about 15 s per megapixel to decode here).
* Decoding is deterministic: CDF tables are shipped, the hyperprior's entropy
  parameters are computed in exact integer arithmetic (see ``_nets``).
"""
from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..atomic import write_text
from ..errors import CodecError, InputError, MissingDependencyError
from . import ImageCodec, container
from .imageio import check_image

WEIGHTS_DIR = Path(__file__).resolve().parent.parent / "weights"
MANIFEST = "manifest.json"
ENV_WEIGHTS = "PERSHOT_CODEC_WEIGHTS"
#: the largest image a learned codec codes (4096 x 4096); larger ones: downscale or use a conventional codec
MAX_PIXELS = 4096 * 4096
#: the image size the manifest's decoder kMAC/pixel figures are counted at
REF_SIZE = (512, 768)


def _missing_deps() -> str | None:
    missing = [m for m in ("torch", "compressai") if importlib.util.find_spec(m) is None]
    if missing:
        return f"needs {' and '.join(missing)} (install the 'learned' extra: pip install 'pershot[learned]')"
    return None


def _import_torch():
    reason = _missing_deps()
    if reason:
        raise MissingDependencyError(f"learned image codecs {reason}")
    import torch

    from . import _nets

    return torch, _nets


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class ModelEntry:
    """One weights file of a manifest."""

    key: str
    file: Path
    sha256: str
    arch: str
    config: dict
    lmbdas: tuple[float, ...]
    decoders: dict  # codec name -> "full" | "lite"
    kmac_per_px: dict  # "full"/"lite" -> decoder kMAC per pixel at REF_SIZE
    training: dict


_model_cache: dict[tuple[str, str], Any] = {}
_model_lock = threading.Lock()


def _load_model(entry: ModelEntry):
    """The model of ``entry``, loaded once per process from SHA-256-checked bytes."""
    ck = (str(entry.file), entry.sha256)
    with _model_lock:
        m = _model_cache.get(ck)
        if m is not None:
            return m
        torch, _nets = _import_torch()
        try:
            data = entry.file.read_bytes()
        except OSError as ex:
            raise CodecError(f"cannot read weights {entry.file}: {ex.strerror or ex}") from ex
        got = sha256_bytes(data)
        if got != entry.sha256:
            raise CodecError(f"weights {entry.file.name} fail their SHA-256 check (manifest {entry.sha256[:12]}..., "
                             f"file {got[:12]}...): reinstall pershot or retrain")
        import io

        try:
            sd = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
            model = _nets.build(entry.arch, entry.lmbdas, entry.config)
            model.load_state_dict(sd)
        except Exception as ex:  # noqa: BLE001 - any failure here is a bad weights file
            raise CodecError(f"weights {entry.file.name} do not load into a {entry.arch} model: {ex}") from ex
        model.eval()
        _model_cache[ck] = model
        return model


class LearnedCodec(ImageCodec):
    kind = "learned"
    extension = container.EXTENSION

    def __init__(self, name: str, entry: ModelEntry, decoder: str = "full"):
        self.name = name
        self.entry = entry
        self.decoder = decoder
        self.levels = tuple(range(1, len(entry.lmbdas) + 1))
        tr = entry.training or {}
        what = {"factorized": "factorized prior", "hyperprior": "mean-scale hyperprior"}.get(entry.arch, entry.arch)
        dec = ", light decoder" if decoder == "lite" else ""
        self.description = (f"learned: {what}{dec} (CompressAI, rate-conditioned, {len(self.levels)} levels; "
                            f"trained {tr.get('total_minutes', tr.get('minutes', '?'))} min on {tr.get('device', '?')})")
        self.multiple = 64 if entry.arch == "hyperprior" else 16

    @property
    def weights_tag(self) -> bytes:
        return bytes.fromhex(self.entry.sha256[:8])

    def unavailable_reason(self) -> str | None:
        reason = _missing_deps()
        if reason:
            return reason
        if not self.entry.file.is_file():
            return f"weights file {self.entry.file} is missing"
        return None

    def decoder_kmac_per_px(self) -> float | None:
        v = self.entry.kmac_per_px.get(self.decoder)
        return float(v) if v is not None else None

    def model(self):
        reason = self.unavailable_reason()
        if reason:
            raise CodecError(f"{self.name}: {reason}")
        return _load_model(self.entry)

    def encode_timed(self, image: np.ndarray, level: int) -> tuple[bytes, float]:
        self.model()  # loading torch and the weights is not the encoder's work
        return super().encode_timed(image, level)

    def decode_timed(self, data: bytes) -> tuple[np.ndarray, float]:
        self.model()
        return super().decode_timed(data)

    def size_problem(self, width: int, height: int) -> str | None:
        if width * height > MAX_PIXELS:
            return (f"{width}x{height} ({width * height:,} pixels) is over the learned codecs' limit of "
                    f"{MAX_PIXELS:,} pixels (4096x4096): downscale it or use a conventional codec")
        return None

    def encode(self, image: np.ndarray, level: int) -> bytes:
        img = check_image(image)
        lv = self.check_level(level)
        h, w = img.shape[:2]
        too_big = self.size_problem(w, h)
        if too_big:
            raise InputError(f"{self.name}: {too_big}")
        model = self.model()
        torch, _ = _import_torch()
        m = self.multiple
        pb, pr = (-h) % m, (-w) % m
        x = torch.from_numpy(np.array(img, dtype=np.float32)).permute(2, 0, 1).unsqueeze(0).div_(255.0)
        if pb or pr:
            x = torch.nn.functional.pad(x, (0, pr, 0, pb), mode="replicate")
        with torch.inference_mode():
            chunks, _shape = model.compress(x, lv - 1)
        return container.pack(container.Bitstream(codec=self.name, level=lv, width=w, height=h, pad_bottom=pb,
                                                  pad_right=pr, chunks=tuple(chunks), weights_tag=self.weights_tag))

    def _siblings(self) -> set[str]:
        return set(self.entry.decoders)

    def decode(self, data: bytes) -> np.ndarray:
        bs = container.unpack(data)
        if bs.codec not in self._siblings():
            raise CodecError(f"bitstream is {bs.codec!r}, not {self.name!r}")
        if bs.weights_tag != self.weights_tag:
            raise CodecError(f"bitstream was made with weights {bs.weights_tag.hex()}, the installed {self.name} "
                             f"weights are {self.weights_tag.hex()}")
        if bs.level not in self.levels:
            raise CodecError(f"bitstream is corrupted (level {bs.level} not in {list(self.levels)})")
        m = self.multiple
        ph, pw = bs.height + bs.pad_bottom, bs.width + bs.pad_right
        if ph % m or pw % m or bs.pad_bottom >= m or bs.pad_right >= m:
            raise CodecError("bitstream is corrupted (padding does not match the model)")
        if bs.width * bs.height > MAX_PIXELS:
            raise CodecError(f"bitstream is {bs.width}x{bs.height}, over the learned codecs' limit")
        model = self.model()
        torch, _ = _import_torch()
        shape = (ph // 64, pw // 64) if self.entry.arch == "hyperprior" else (ph // 16, pw // 16)
        try:
            with torch.inference_mode():
                if self.entry.arch == "hyperprior":
                    x = model.decompress(list(bs.chunks), shape, bs.level - 1, decoder=self.decoder)
                else:
                    x = model.decompress(list(bs.chunks), shape, bs.level - 1)
        except CodecError:
            raise
        except Exception as ex:  # noqa: BLE001 - the entropy decoder's errors on bad input
            raise CodecError(f"{self.name} bitstream is corrupted: {ex}") from ex
        out = x[0, :, : bs.height, : bs.width].mul(255.0).round_().clamp_(0, 255).to(torch.uint8)
        return np.ascontiguousarray(out.permute(1, 2, 0).numpy())


# ------------------------------------------------------------------ manifests

def _weights_dirs() -> list[Path]:
    dirs = [WEIGHTS_DIR]
    for d in os.environ.get(ENV_WEIGHTS, "").split(os.pathsep):
        if d.strip():
            dirs.append(Path(d.strip()))
    return dirs


def read_manifest(folder: Path) -> list[ModelEntry]:
    p = folder / MANIFEST
    if not p.is_file():
        return []
    try:
        doc = json.loads(p.read_text("utf-8"))
    except (OSError, ValueError) as ex:
        raise CodecError(f"unreadable weights manifest {p}: {ex}") from ex
    out = []
    for key, m in sorted(doc.get("models", {}).items()):
        try:
            out.append(ModelEntry(key=key, file=folder / m["file"], sha256=m["sha256"], arch=m["arch"],
                                  config=dict(m.get("config", {})), lmbdas=tuple(float(v) for v in m["lmbdas"]),
                                  decoders=dict(m["decoders"]), kmac_per_px=dict(m.get("kmac_per_px", {})),
                                  training=dict(m.get("training", {}))))
        except (KeyError, TypeError, ValueError) as ex:
            raise CodecError(f"weights manifest {p}: model {key!r} is malformed ({ex})") from ex
    return out


def builtin_codecs() -> list[ImageCodec]:
    codecs: list[ImageCodec] = []
    seen: set[str] = set()
    for d in _weights_dirs():
        try:
            entries = read_manifest(d)
        except CodecError:
            if d == WEIGHTS_DIR:
                raise
            continue
        for e in entries:
            for name, dec in sorted(e.decoders.items()):
                if name in seen:
                    continue
                seen.add(name)
                codecs.append(LearnedCodec(name, e, dec))
    return codecs


def freeze_weights(trained: str | os.PathLike, dest_dir: str | os.PathLike, key: str, *,
                   training: dict | None = None, name_prefix: str = "lic") -> ModelEntry:
    """Make shippable weights of a training checkpoint or float16 export.

    Rounds parameters to float16, rebuilds the CDF tables from the rounded
    parameters (``update(force=True)``), writes ``DEST/KEY.pt``, counts the
    decoders' MACs, and records file, SHA-256 and training details in
    ``DEST/manifest.json`` (replacing an entry of the same key)."""
    torch, _nets = _import_torch()
    import io

    st = torch.load(trained, map_location="cpu", weights_only=True)
    ck = st["config_key"]
    model = _nets.build(ck["arch"], ck["lmbdas"], ck.get("model_config") or None)
    sd = {k: v.float() if v.is_floating_point() else v for k, v in st["model"].items()}
    model.load_state_dict(sd, strict=False)
    model.eval()
    frozen = _nets.freeze(model)
    buf = io.BytesIO()
    torch.save(frozen, buf)
    data = buf.getvalue()
    dest = Path(dest_dir)
    dest.mkdir(parents=True, exist_ok=True)
    fname = f"{key}.pt"
    from ..atomic import write_bytes

    write_bytes(dest / fname, data)
    os.chmod(dest / fname, 0o644)
    decoders = {f"{name_prefix}-{key}": "full"}
    h, w = REF_SIZE
    kmac = {"full": round(_nets.decoder_macs(model, h, w, "full") / (h * w) / 1000, 3)}
    if getattr(model, "has_lite", False):
        decoders[f"{name_prefix}-{key}-lite"] = "lite"
        kmac["lite"] = round(_nets.decoder_macs(model, h, w, "lite") / (h * w) / 1000, 3)
    entry = {"file": fname, "sha256": sha256_bytes(data), "bytes": len(data), "arch": ck["arch"],
             "config": model.config, "lmbdas": [float(v) for v in ck["lmbdas"]], "decoders": decoders,
             "kmac_per_px": kmac, "kmac_counted_at": f"{w}x{h}",
             "training": dict(training or {})}
    mpath = dest / MANIFEST
    doc = json.loads(mpath.read_text("utf-8")) if mpath.is_file() else {"format": 1, "models": {}}
    doc.setdefault("models", {})[key] = entry
    write_text(mpath, json.dumps(doc, indent=1, sort_keys=True) + "\n")
    os.chmod(mpath, 0o644)
    with _model_lock:
        _model_cache.clear()
    return read_manifest(dest)[[e.key for e in read_manifest(dest)].index(key)]


def training_summary(trained: str | os.PathLike) -> dict:
    """Steps, minutes, device and data of a checkpoint or float16 export, for the manifest."""
    torch, _ = _import_torch()
    st = torch.load(trained, map_location="cpu", weights_only=True)
    cfg = json.loads(st.get("train_config", "{}"))
    return {"steps": int(st["step"]), "minutes": round(float(st["elapsed_s"]) / 60, 2), "device": st.get("device"),
            "batch": cfg.get("batch"), "crop": cfg.get("crop"), "lr": cfg.get("lr"), "seed": cfg.get("seed")}


def main(argv: list[str] | None = None) -> int:
    """``python -m pershot.codecs.learned freeze TRAINED DEST KEY [--data TEXT] [--note TEXT]``"""
    import argparse

    ap = argparse.ArgumentParser(prog="python -m pershot.codecs.learned")
    sub = ap.add_subparsers(dest="cmd", required=True)
    f = sub.add_parser("freeze")
    f.add_argument("trained")
    f.add_argument("dest")
    f.add_argument("key")
    f.add_argument("--data", default="")
    f.add_argument("--note", default="")
    f.add_argument("--extra", default="", help="JSON merged into the training record")
    a = ap.parse_args(argv)
    tr = training_summary(a.trained)
    if a.data:
        tr["data"] = a.data
    if a.note:
        tr["note"] = a.note
    if a.extra:
        tr.update(json.loads(a.extra))
    e = freeze_weights(a.trained, a.dest, a.key, training=tr)
    print(json.dumps({"key": e.key, "sha256": e.sha256, "decoders": e.decoders, "kmac_per_px": e.kmac_per_px}))
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())


__all__ = ["LearnedCodec", "ModelEntry", "MAX_PIXELS", "WEIGHTS_DIR", "builtin_codecs", "freeze_weights",
           "read_manifest", "sha256_bytes"]
