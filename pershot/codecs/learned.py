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


def missing_dependencies() -> str | None:
    """Why the learned codecs cannot run here (torch or compressai missing), or ``None``."""
    return _missing_deps()


def load_error_text(ex: BaseException) -> str:
    """What ``torch.load(weights_only=True)`` found wrong with a file, in one line, without torch's advice
    to load it with ``weights_only=False`` (which would run whatever code the file holds)."""
    if isinstance(ex, EOFError):
        return "the file is empty or truncated"
    text = str(ex)
    if "Weights only load failed" in text:
        skip = ("weights only load failed", "weights_only", "please file an issue", "check the documentation")
        keep = [ln.strip() for ln in text.splitlines() if ln.strip() and not any(k in ln.lower() for k in skip)]
        detail = " ".join(keep).replace("WeightsUnpickler error:", "").strip()
        return "it holds more than tensors, which torch.load(weights_only=True) refuses" + (
            f" ({detail})" if detail else "")
    first = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
    first = first.split(". ")[0].rstrip(".")  # torch goes on with guesses and advice
    return f"{type(ex).__name__}: {first}" if first else type(ex).__name__


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
            raise CodecError(f"weights {entry.file.name} do not load into a {entry.arch} model: "
                             f"{load_error_text(ex)}") from ex
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
            cls = MissingDependencyError if _missing_deps() else CodecError
            raise cls(f"{self.name}: {reason}")
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
        bs = self.check_bitstream(data)
        ph, pw = bs.height + bs.pad_bottom, bs.width + bs.pad_right
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

    def check_bitstream(self, data: bytes) -> container.Bitstream:
        """The container of ``data`` once its header passed every check that needs no model (codec, weights,
        level, padding, size); a CodecError otherwise."""
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
        return bs


# ------------------------------------------------------------------ decoding in a child process

#: set in a process that decodes learned bitstreams for another one (:func:`decode_isolated`, `pershot decode`)
DECODE_CHILD_ENV = "PERSHOT_DECODE_CHILD"


def decode_isolated(data: bytes) -> tuple[np.ndarray, str]:
    """Decode a learned codec's bitstream in a child process; returns ``(image, codec_name)``.

    CompressAI's rANS decoder does not check where its input ends: a crafted payload (with a valid CRC) makes
    it read past the end, and the process dies of a segmentation fault. No check of the payload's length
    rules that out (the bytes read depend on the values decoded: a 16x16 image whose 4 MB payload is all 0xff
    reads far past its end), so a bitstream from outside is decoded in a child: its crash is a CodecError
    here. The child imports torch and loads the weights again (seconds) on every call."""
    import subprocess
    import sys

    root = str(Path(__file__).resolve().parents[2])  # the child runs this very pershot
    code = (f"import sys; r = {root!r}; r in sys.path or sys.path.insert(0, r); "
            "from pershot.codecs.learned import _decode_child; _decode_child()")
    r = subprocess.run([sys.executable, "-c", code], input=bytes(data), capture_output=True,
                       env={**os.environ, DECODE_CHILD_ENV: "1"}, check=False)
    if r.returncode < 0:
        raise CodecError(f"the learned decoder crashed on the bitstream (signal {-r.returncode}): it is damaged "
                         "or was made to crash it")
    if r.returncode != 0:
        from .. import errors

        lines = [ln for ln in r.stderr.decode("utf-8", "replace").splitlines() if ln.strip()]
        try:
            err = json.loads(lines[-1])
            cls, message = getattr(errors, err["error"], None), str(err["message"])
        except (IndexError, ValueError, KeyError, TypeError):
            raise CodecError("the learned decoder failed in its child process (exit "
                             f"{r.returncode}): {lines[-1] if lines else 'no message'}") from None
        if not (isinstance(cls, type) and issubclass(cls, errors.PershotError)) or cls is errors.FFmpegError:
            cls = CodecError
        raise cls(message)
    name, _, npy = r.stdout.partition(b"\n")
    try:
        import io

        img = np.load(io.BytesIO(npy), allow_pickle=False)
    except ValueError as ex:  # pragma: no cover - the child's output is ours
        raise CodecError(f"the learned decoder's child process gave no image: {ex}") from ex
    return img, name.decode("utf-8")


def _decode_child() -> None:
    """The child of :func:`decode_isolated`: a bitstream on stdin; the codec name, a newline and the image (.npy)
    on stdout, or a project error as one JSON line on stderr and its exit code."""
    import io
    import sys

    from .. import errors
    from . import decode_bytes

    data = sys.stdin.buffer.read()
    try:
        img, codec = decode_bytes(data)
    except errors.PershotError as ex:
        sys.stderr.write(json.dumps({"error": type(ex).__name__, "message": str(ex)}) + "\n")
        sys.stderr.flush()
        raise SystemExit(ex.exit_code or 1) from None
    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(img), allow_pickle=False)
    sys.stdout.buffer.write(codec.name.encode("utf-8") + b"\n" + buf.getvalue())
    sys.stdout.buffer.flush()


# ------------------------------------------------------------------ manifests

def _weights_dirs() -> list[Path]:
    dirs = [WEIGHTS_DIR]
    for d in os.environ.get(ENV_WEIGHTS, "").split(os.pathsep):
        if d.strip() and Path(d.strip()).resolve() not in {x.resolve() for x in dirs}:  # each folder once
            dirs.append(Path(d.strip()))
    return dirs


def read_manifest_doc(path: Path) -> dict:
    """The JSON of a weights manifest (a dict with a ``models`` dict), or a CodecError saying what is wrong."""
    if path.exists() and not path.is_file():
        raise CodecError(f"weights manifest {path} is not a file")
    try:
        doc = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError) as ex:
        msg = (ex.strerror or str(ex)) if isinstance(ex, OSError) else str(ex)
        raise CodecError(f"unreadable weights manifest {path}: {msg}") from ex
    if not isinstance(doc, dict) or not isinstance(doc.get("models", {}), dict):
        raise CodecError(f"weights manifest {path} is not a pershot manifest (no \"models\" object)")
    return doc


def read_manifest(folder: Path) -> list[ModelEntry]:
    p = folder / MANIFEST
    if not p.exists():
        return []
    doc = read_manifest_doc(p)
    out = []
    for key, m in sorted(doc.get("models", {}).items()):
        try:
            out.append(ModelEntry(key=key, file=folder / m["file"], sha256=m["sha256"], arch=m["arch"],
                                  config=dict(m.get("config", {})), lmbdas=tuple(float(v) for v in m["lmbdas"]),
                                  decoders=dict(m["decoders"]), kmac_per_px=dict(m.get("kmac_per_px", {})),
                                  training=dict(m.get("training", {}))))
        except (KeyError, TypeError, ValueError, AttributeError) as ex:
            raise CodecError(f"weights manifest {p}: model {key!r} is malformed ({ex})") from ex
    return out


def _where(entry: ModelEntry) -> str:
    folder = entry.file.parent
    if folder == WEIGHTS_DIR:
        return f"the shipped model {entry.key!r}"
    return f"model {entry.key!r} of {folder}"


def builtin_codecs(warnings: list[str] | None = None) -> list[ImageCodec]:
    """The learned codecs of the shipped weights and of each ``$PERSHOT_CODEC_WEIGHTS`` folder, in that order:
    a codec name is the first model's that has it. A folder whose manifest cannot be read is skipped, and a
    model whose codec name an earlier one has is never used; each is a line added to ``warnings``."""
    codecs: list[ImageCodec] = []
    seen: dict[str, ModelEntry] = {}
    for d in _weights_dirs():
        try:
            entries = read_manifest(d)
        except CodecError as ex:
            if d == WEIGHTS_DIR:
                raise
            if warnings is not None:
                warnings.append(f"weights folder {d} ({ENV_WEIGHTS}) is skipped: {ex}")
            continue
        for e in entries:
            for name, dec in sorted(e.decoders.items()):
                if name in seen:
                    if warnings is not None:
                        warnings.append(f"weights folder {d}: model {e.key!r} is never used as {name}: "
                                        f"{_where(seen[name])} has that codec name (retrain it with another --name)")
                    continue
                seen[name] = e
                codecs.append(LearnedCodec(name, e, dec))
    return codecs


def codec_names_of(key: str, arch: str, prefix: str = "lic") -> list[str]:
    """The codec names a model trained as ``key`` gets (:func:`freeze_weights`; default model configs)."""
    return [f"{prefix}-{key}", *([f"{prefix}-{key}-lite"] if arch == "hyperprior" else [])]


def name_conflicts(key: str, arch: str, dest_dir: str | os.PathLike) -> list[str]:
    """Why weights frozen as ``key`` into ``dest_dir`` would never be used: each codec name they would get
    that a codec already has (a built-in or plugin codec, another model of a weights folder, another model
    of ``dest_dir``). The model ``key`` of ``dest_dir`` itself (a retrained one) is no conflict."""
    from . import _reg, _lock, _ensure_loaded

    dest = Path(dest_dir).resolve()

    def same_model(e: ModelEntry) -> bool:
        return e.key == key and e.file.parent.resolve() == dest

    out = []
    names = codec_names_of(key, arch)
    with _lock:
        _ensure_loaded()
        taken = {n: (c, _reg.sources.get(n, "")) for n, c in _reg.codecs.items()}
    for n in names:
        if n not in taken:
            continue
        c, source = taken[n]
        if isinstance(c, LearnedCodec):
            if not same_model(c.entry):
                out.append(f"{n} is {_where(c.entry)}")
        else:
            out.append(f"{n} is a {'plugin' if source.startswith('plugin') else 'built-in'} codec")
    own = Path(dest_dir) / MANIFEST
    if own.exists():  # dest_dir need not be in $PERSHOT_CODEC_WEIGHTS yet
        for e in read_manifest(Path(dest_dir)):
            for n in sorted(set(names) & set(e.decoders)):
                if e.key != key and not any(n in x for x in out):
                    out.append(f"{n} is {_where(e)}")
    return out


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
    doc = read_manifest_doc(mpath) if mpath.exists() else {"format": 1, "models": {}}
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
