"""Training loop of the learned image codecs (imports torch and compressai).

One rate-conditioned model per architecture: every training sample draws a
level ``l`` and its Lagrange multiplier ``lmbda[l]``; the loss is
``lmbda * 255^2 * MSE + bpp`` averaged over the batch (plus the lite
decoder's own MSE term for the hyperprior, whose gradient stops at the latent).

* Data: an ``.npz`` made by :mod:`pershot.codecs.dataset` (images plus the
  range of downscale factors each may be read at), or a folder of images.
  Crops are cut at a random downscale factor (anti-aliased, which also washes
  out the coding artefacts of video frames), flipped and rotated; gray images
  get a random tint. Crops are made in pools on the training device.
* Schedule: time-based (``minutes``), Adam, linear warm-up, flat, then cosine
  decay to 3% of the peak learning rate; gradient norm clipped at 1.
* Resumable: a checkpoint (model, optimisers, step, elapsed time) is written
  atomically every ``checkpoint_every_s``, at the end and on Ctrl-C
  (KeyboardInterrupt); a rerun with the same architecture and lambdas resumes it
  until the total ``minutes`` are spent.
* Checked first: the configuration (:func:`check_config`: lambdas ascending,
  crops a multiple of the model's downscale, a device that is there...), the
  data, the checkpoint to resume and the ``init`` file; a bad one is an
  :class:`~pershot.errors.InputError`, as is a run that diverges.
"""
from __future__ import annotations

import json
import math
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from ..atomic import atomic_path, deferred_signals
from ..errors import InputError
from . import _nets

DEFAULT_LMBDAS = (0.0018, 0.0035, 0.0067, 0.013, 0.025, 0.0483)


@dataclass(frozen=True)
class TrainConfig:
    arch: str
    lmbdas: tuple[float, ...] = DEFAULT_LMBDAS
    minutes: float = 10.0
    batch: int = 8
    crop: int = 128
    lr: float = 2e-4
    aux_lr: float = 1e-3
    pool: int = 512
    seed: int = 0
    device: str = "cpu"
    threads: int | None = None
    checkpoint_every_s: float = 120.0
    model_config: dict = field(default_factory=dict)
    max_steps: int | None = None  # stop early (tests, smoke runs)


@dataclass(frozen=True)
class TrainResult:
    checkpoint: str
    arch: str
    steps: int
    minutes: float
    device: str
    final: dict
    log: list


# ------------------------------------------------------------------ data

@dataclass
class TrainImage:
    name: str
    pixels: np.ndarray  # H x W x 3 uint8
    fmin: float = 1.0
    fmax: float = 2.0
    gray: bool = False


def load_training_data(path: str | os.PathLike) -> list[TrainImage]:
    """Images from a dataset ``.npz`` (see :mod:`pershot.codecs.dataset`) or a folder of images."""
    p = Path(path)
    if p.is_file() and p.suffix == ".npz":
        return _load_npz(p)
    if p.is_dir():
        from .imageio import load_image

        files = sorted(f for f in p.iterdir() if f.suffix.lower() in (".png", ".jpg", ".jpeg", ".webp", ".tif", ".tiff", ".bmp", ".ppm"))
        out = []
        for f in files:
            a = load_image(f)
            gray = bool(np.all(a[..., 0] == a[..., 1]) and np.all(a[..., 1] == a[..., 2]))
            out.append(TrainImage(f.name, a, 1.0, 2.0, gray))
        if not out:
            raise InputError(f"no training images (png/jpg/webp/tif/bmp/ppm) in {p}")
        return out
    raise InputError(f"training data must be a folder of images or a dataset .npz: {p}")


def _load_npz(p: Path) -> list[TrainImage]:
    """The images of a dataset ``.npz``; anything else is one InputError."""
    import zipfile

    from .imageio import check_image

    hint = "(make one with python -m pershot.codecs.dataset, or give a folder of images)"
    out = []
    try:
        with open(p, "rb") as f:
            if f.read(4) != b"PK\x03\x04":  # numpy would speak of pickles
                raise InputError(f"{p} is not a dataset .npz (not a zip archive) {hint}")
        with np.load(p, allow_pickle=False) as z:
            if not hasattr(z, "files") or "meta" not in z.files:
                raise InputError(f"{p} is not a pershot dataset .npz: it has no 'meta' entry {hint}")
            meta = json.loads(str(z["meta"]))
            if not isinstance(meta, list):
                raise InputError(f"{p}: its 'meta' entry is not a list of images {hint}")
            for i, m in enumerate(meta):
                if f"img{i}" not in z.files:
                    raise InputError(f"{p}: 'meta' lists {len(meta)} images, and img{i} is missing")
                raw = z[f"img{i}"]
                a = check_image(raw, f"{p}: img{i}")
                fmin, fmax = float(m["fmin"]), float(m["fmax"])
                if not (math.isfinite(fmin) and math.isfinite(fmax) and 0 < fmin <= fmax):
                    raise InputError(f"{p}: img{i} has downscale factors fmin {fmin}, fmax {fmax}: "
                                     "0 < fmin <= fmax is needed")
                out.append(TrainImage(str(m["name"]), a, fmin, fmax, bool(m.get("gray", raw.ndim == 2))))
    except InputError:
        raise
    except (OSError, ValueError, KeyError, TypeError, AttributeError, EOFError, zipfile.BadZipFile) as ex:
        msg = str(ex).splitlines()[0] if str(ex) else type(ex).__name__
        if isinstance(ex, KeyError):
            msg = f"an entry of 'meta' lacks {ex}"
        elif "pickle" in msg.lower():  # numpy's message would suggest unpickling it
            msg = "it holds pickled Python objects, not plain arrays"
        raise InputError(f"{p} is not a readable dataset .npz ({msg}) {hint}") from ex
    if not out:
        raise InputError(f"no training images in {p}")
    return out


class CropSampler:
    """Random anti-aliased crops at random downscale factors, made on ``device``."""

    def __init__(self, images: Sequence[TrainImage], crop: int, device: torch.device, gen: torch.Generator):
        if not images:
            raise InputError("no training images")
        self.crop = crop
        self.device = device
        self.gen = gen
        self.imgs = []
        weights = []
        for im in images:
            h, w = im.pixels.shape[:2]
            fmax = min(im.fmax, h / crop, w / crop)
            if fmax < 1.0:
                # too small for a crop at native size: upscale factor < 1 is refused, pad instead
                fmax = 1.0
            fmin = min(im.fmin, fmax)
            t = torch.tensor(np.asarray(im.pixels, dtype=np.uint8)).permute(2, 0, 1).contiguous().to(device)
            self.imgs.append((t, fmin, fmax, im.gray))
            # gray textures are a seasoning, not the meal
            weights.append(h * w / (((fmin + fmax) / 2) ** 2) * (0.4 if im.gray else 1.0))
        self.weights = torch.tensor(weights, dtype=torch.float64)

    def _one(self) -> torch.Tensor:
        g = self.gen
        i = int(torch.multinomial(self.weights, 1, generator=g))
        t, fmin, fmax, gray = self.imgs[i]
        u = float(torch.rand(1, generator=g))
        f = math.exp(math.log(fmin) + u * (math.log(fmax) - math.log(fmin)))
        _, h, w = t.shape
        side = max(self.crop, min(int(round(self.crop * f)), h, w))
        y0 = int(torch.randint(0, max(1, h - side + 1), (1,), generator=g))
        x0 = int(torch.randint(0, max(1, w - side + 1), (1,), generator=g))
        c = t[:, y0:y0 + side, x0:x0 + side].float().unsqueeze(0) / 255.0
        if c.shape[-1] < self.crop or c.shape[-2] < self.crop:
            c = F.pad(c, (0, max(0, self.crop - c.shape[-1]), 0, max(0, self.crop - c.shape[-2])), mode="replicate")
        if side != self.crop:
            c = F.interpolate(c, size=(self.crop, self.crop), mode="bilinear", antialias=True, align_corners=False)
        c = c[..., : self.crop, : self.crop]
        k = int(torch.randint(0, 8, (1,), generator=g))
        if k & 4:
            c = c.flip(-1)
        if k & 3:
            c = torch.rot90(c, k & 3, dims=(-2, -1))
        if gray:
            tint = 0.75 + 0.25 * torch.rand(1, 3, 1, 1, generator=g).to(c.device)
            c = c * tint
        return c.clamp_(0, 1)

    def pool(self, n: int) -> torch.Tensor:
        return torch.cat([self._one() for _ in range(n)])


# ------------------------------------------------------------------ schedule

def lr_factor(frac: float) -> float:
    """Warm-up over the first 3%, flat until 55%, cosine decay to 3% at the end."""
    frac = min(max(frac, 0.0), 1.0)
    if frac < 0.03:
        return 0.1 + 0.9 * frac / 0.03
    if frac < 0.55:
        return 1.0
    t = (frac - 0.55) / 0.45
    return 0.03 + 0.97 * 0.5 * (1 + math.cos(math.pi * t))


def _optimisers(model: _nets.GainedModel, cfg: TrainConfig):
    main = [p for n, p in model.named_parameters() if not n.endswith(".quantiles") and p.requires_grad]
    aux = [p for n, p in model.named_parameters() if n.endswith(".quantiles")]
    return torch.optim.Adam(main, lr=cfg.lr), torch.optim.Adam(aux, lr=cfg.aux_lr)


def check_device(device: str) -> torch.device:
    """``device`` (cpu, cuda, cuda:N) as a torch device that is there, or an InputError."""
    try:
        dev = torch.device(device)
    except (RuntimeError, ValueError, TypeError) as ex:
        raise InputError(f"device {device!r} is not one of cpu, cuda, cuda:N") from ex
    if dev.type == "cpu":
        return dev
    if dev.type != "cuda":
        raise InputError(f"device {device!r}: training runs on cpu or cuda (cuda:N)")
    if not torch.cuda.is_available():
        raise InputError(f"device {device!r}: no CUDA GPU is usable here (torch {torch.__version__}); "
                         "train on cpu")
    n = torch.cuda.device_count()
    if dev.index is not None and dev.index >= n:
        raise InputError(f"device {device!r}: this machine has {n} CUDA GPU{'s' if n != 1 else ''} (cuda:0"
                         f"{f'..cuda:{n - 1}' if n > 1 else ''})")
    return dev


def check_config(cfg: TrainConfig) -> None:
    """An InputError for the first setting of ``cfg`` that cannot train (checked before any work)."""
    if cfg.arch not in _nets.ARCHS:
        raise InputError(f"unknown architecture {cfg.arch!r}; known: {', '.join(_nets.ARCHS)}")
    lm = [float(v) for v in cfg.lmbdas]
    if not lm or not all(math.isfinite(v) and v > 0 for v in lm):
        raise InputError(f"lambdas must be positive finite numbers: {lm}")
    if any(b <= a for a, b in zip(lm, lm[1:])):
        raise InputError(f"lambdas must be distinct and ascending (level 1 the fewest bits): {lm}")
    for what, v in (("minutes", cfg.minutes * 60), ("learning rate", cfg.lr), ("aux learning rate", cfg.aux_lr)):
        if not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
            raise InputError(f"the {what} must be a finite number > 0, not {v}")
    for what, v in (("batch", cfg.batch), ("pool", cfg.pool)):
        if not isinstance(v, int) or v < 1:
            raise InputError(f"the {what} must be at least 1, not {v}")
    if cfg.threads is not None and (not isinstance(cfg.threads, int) or cfg.threads < 1):
        raise InputError(f"threads must be at least 1, not {cfg.threads}")
    m = _nets.ARCHS[cfg.arch][0].multiple
    if not isinstance(cfg.crop, int) or cfg.crop < m or cfg.crop % m:
        raise InputError(f"the crop size must be a multiple of {m} for a {cfg.arch} model (its transforms "
                         f"downscale {m}x): {cfg.crop}")
    check_device(cfg.device)


def _torch_load(path: str | os.PathLike, what: str, map_location: torch.device | str = "cpu", advice: str = ""):
    """``torch.load(weights_only=True)`` of a file, or an InputError naming ``what`` and the problem."""
    from .learned import load_error_text

    p = Path(path)
    if not p.is_file():
        raise InputError(f"{what} {p}: " + ("a folder, not a file" if p.is_dir() else "no such file"))
    import warnings

    try:
        with warnings.catch_warnings():  # torch's notes on pickle protocols: the error says what matters
            warnings.simplefilter("ignore", UserWarning)
            return torch.load(p, map_location=map_location, weights_only=True)
    except OSError as ex:
        raise InputError(f"{what} {p} cannot be read: {ex.strerror or ex}") from ex
    except Exception as ex:  # noqa: BLE001 - a damaged or foreign file: torch's errors are of many kinds
        raise InputError(f"{what} {p} is not a checkpoint or weights file: {load_error_text(ex)}{advice}") from ex


def _config_key(cfg: TrainConfig) -> dict:
    return {"arch": cfg.arch, "lmbdas": [float(v) for v in cfg.lmbdas], "model_config": cfg.model_config}


def rd_loss(model: _nets.GainedModel, x: torch.Tensor, lvl: torch.Tensor) -> tuple[torch.Tensor, dict]:
    out = model(x, lvl)
    n, _, h, w = x.shape
    lm = model.lmbdas[lvl]
    mse = ((out["x_hat"] - x) ** 2).mean(dim=(1, 2, 3))
    bpp = sum(torch.log(lk).sum(dim=(1, 2, 3)) for lk in out["likelihoods"]) / (-math.log(2) * h * w)
    loss = (lm * 255.0 ** 2 * mse + bpp).mean()
    parts = {"mse": mse.detach(), "bpp": bpp.detach()}
    if "x_hat_lite" in out:
        mse_l = ((out["x_hat_lite"] - x) ** 2).mean(dim=(1, 2, 3))
        loss = loss + (lm * 255.0 ** 2 * mse_l).mean()
        parts["mse_lite"] = mse_l.detach()
    return loss, parts


def train(cfg: TrainConfig, data: str | os.PathLike | Sequence[TrainImage], checkpoint: str | os.PathLike, *,
          resume: bool = True, init: str | os.PathLike | None = None,
          progress: Callable[[int, float, float, dict], None] | None = None,
          on_checkpoint: Callable[[Path], None] | None = None) -> TrainResult:
    """Train (or resume training) a model for ``cfg.minutes`` in total; returns where the checkpoint is.

    ``init`` warm-starts from a checkpoint or weights file (parameters whose
    names and shapes match: at least half of the model's parameter values), unless a checkpoint is resumed.
    A KeyboardInterrupt saves the checkpoint (atomically) before it goes on."""
    check_config(cfg)
    device = check_device(cfg.device)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    images = load_training_data(data) if isinstance(data, (str, os.PathLike)) else list(data)
    torch.manual_seed(cfg.seed)
    gen = torch.Generator(device="cpu").manual_seed(cfg.seed)
    sampler = CropSampler(images, cfg.crop, device, gen)
    model = _nets.build(cfg.arch, cfg.lmbdas, cfg.model_config or None).to(device)
    opt, aux_opt = _optimisers(model, cfg)
    ckpt = Path(checkpoint)
    step, elapsed, log = 0, 0.0, []
    if ckpt.exists() and not ckpt.is_file():
        raise InputError(f"checkpoint {ckpt} is not a file")
    if resume and ckpt.is_file():
        again = "delete it or use --no-resume to start over"
        st = _torch_load(ckpt, "checkpoint", device, advice=f" (damaged?): {again}")
        if not isinstance(st, dict) or st.get("config_key") != json.loads(json.dumps(_config_key(cfg))):
            raise InputError(f"checkpoint {ckpt} was made for another architecture or lambdas; use another path or --no-resume")
        try:
            model.load_state_dict(st["model"], strict=False)
            opt.load_state_dict(st["opt"])
            aux_opt.load_state_dict(st["aux_opt"])
            step, elapsed = int(st["step"]), float(st["elapsed_s"])
            log = json.loads(st.get("log", "[]"))
        except (KeyError, RuntimeError, ValueError, TypeError) as ex:
            why = str(ex).splitlines()[0] if str(ex) else type(ex).__name__
            raise InputError(f"checkpoint {ckpt} is damaged ({why}): {again}") from ex
        gen.manual_seed(cfg.seed + step)
    elif init:
        _warm_start(model, init)
    total = cfg.minutes * 60.0
    model.train()
    L = model.n_levels
    t_start = time.monotonic() - elapsed
    last_ckpt = time.monotonic()
    pool = torch.empty(0)
    pool_pos = 0
    acc: dict[str, list] = {"loss": [], "bpp": [[] for _ in range(L)], "psnr": [[] for _ in range(L)], "psnr_lite": [[] for _ in range(L)]}
    last_log = time.monotonic()
    sync_every = 10 if device.type == "cuda" else 1  # reading losses back costs a GPU sync
    saved_step = step
    try:
        while True:
            elapsed = time.monotonic() - t_start
            if elapsed >= total or (cfg.max_steps is not None and step >= cfg.max_steps):
                break
            f = lr_factor(elapsed / total)
            for gparam in opt.param_groups:
                gparam["lr"] = cfg.lr * f
            if pool_pos + cfg.batch > pool.shape[0]:
                pool = sampler.pool(max(cfg.pool, cfg.batch))
                pool_pos = 0
            x = pool[pool_pos: pool_pos + cfg.batch]
            pool_pos += cfg.batch
            lvl = torch.sort(torch.randint(0, L, (x.shape[0],), generator=gen)).values.to(device)
            loss, parts = rd_loss(model, x, lvl)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            aux = model.aux_loss()
            aux_opt.zero_grad(set_to_none=True)
            aux.backward()
            aux_opt.step()
            step += 1
            if step % sync_every == 0 or step < 10:
                lv = lvl.tolist()
                mse = parts["mse"].clamp_min(1e-10).cpu().tolist()
                bpp = parts["bpp"].cpu().tolist()
                msel = parts["mse_lite"].clamp_min(1e-10).cpu().tolist() if "mse_lite" in parts else None
                acc["loss"].append(loss.item())
                for j, l in enumerate(lv):
                    acc["bpp"][l].append(bpp[j])
                    acc["psnr"][l].append(-10 * math.log10(mse[j]))
                    if msel:
                        acc["psnr_lite"][l].append(-10 * math.log10(msel[j]))
                if not math.isfinite(acc["loss"][-1]):
                    kept = f"; the checkpoint of step {saved_step} is kept" if ckpt.is_file() else ""
                    raise InputError(f"training diverged at step {step} (loss {acc['loss'][-1]}): try a lower "
                                     f"learning rate (--lr, {cfg.lr:g} now) or smaller lambdas{kept}")
            now = time.monotonic()
            if now - last_log >= 30:
                log.append(_summarise(step, now - t_start, cfg.lr * f, acc))
                acc = {"loss": [], "bpp": [[] for _ in range(L)], "psnr": [[] for _ in range(L)],
                       "psnr_lite": [[] for _ in range(L)]}
                last_log = now
            if progress is not None and (step % 10 == 0):
                progress(step, now - t_start, total, log[-1] if log else {})
            if cfg.checkpoint_every_s and now - last_ckpt >= cfg.checkpoint_every_s:
                _save_checkpoint(ckpt, model, opt, aux_opt, step, now - t_start, cfg, log)
                saved_step = step
                if on_checkpoint is not None:
                    on_checkpoint(ckpt)
                last_ckpt = time.monotonic()
    except KeyboardInterrupt:
        if step > saved_step:  # steps made since the last save are kept
            with deferred_signals():  # a second Ctrl-C does not cut the save short
                _save_checkpoint(ckpt, model, opt, aux_opt, step, time.monotonic() - t_start, cfg, log)
        raise
    elapsed = time.monotonic() - t_start
    if any(acc["bpp"]):
        log.append(_summarise(step, elapsed, cfg.lr * lr_factor(1.0), acc))
    _save_checkpoint(ckpt, model, opt, aux_opt, step, elapsed, cfg, log)
    return TrainResult(checkpoint=str(ckpt), arch=cfg.arch, steps=step, minutes=elapsed / 60.0,
                       device=_device_name(device), final=log[-1] if log else {}, log=log)


def _summarise(step: int, elapsed: float, lr: float, acc: dict) -> dict:
    def m(v: list) -> float | None:
        return round(float(np.mean(v)), 4) if v else None

    return {"step": step, "elapsed_s": round(elapsed, 1), "lr": lr, "loss": m(acc["loss"]),
            "bpp": [m(v) for v in acc["bpp"]], "psnr": [m(v) for v in acc["psnr"]],
            "psnr_lite": [m(v) for v in acc["psnr_lite"]] if any(acc["psnr_lite"]) else None}


def _device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    import platform

    return f"cpu ({platform.machine()}, {torch.get_num_threads()} threads)"


def _save_checkpoint(path: Path, model, opt, aux_opt, step: int, elapsed: float, cfg: TrainConfig, log: list) -> None:
    state = {
        "config_key": _config_key(cfg),
        "train_config": json.dumps({k: v for k, v in asdict(cfg).items()}),
        "model": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "opt": opt.state_dict(),
        "aux_opt": aux_opt.state_dict(),
        "step": step,
        "elapsed_s": elapsed,
        "device": _device_name(next(model.parameters()).device),
        "log": json.dumps(log),
    }
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


#: a warm start must fill at least this share of the model's parameter values (the rest keep their
#: initialisation): less means the file was made for another architecture or model size
MIN_INIT_SHARE = 0.5


def _warm_start(model: _nets.GainedModel, path: str | os.PathLike) -> int:
    st = _torch_load(path, "--init file")
    sd = st["model"] if isinstance(st, dict) and "model" in st else st
    if not isinstance(sd, dict) or not any(isinstance(v, torch.Tensor) for v in sd.values()):
        raise InputError(f"--init file {path} holds no model parameters (not a checkpoint or weights file)")
    own = model.state_dict()
    sd = _nets.compat_keys(sd, own.keys())
    # parameters only: buffers (likelihood bounds, GDN pedestals, CDF tables) are constants or
    # derived from the parameters, and a float16 export rounds some of them to 0
    params = dict(model.named_parameters())
    take = {k: v.to(own[k].dtype) for k, v in sd.items()
            if k in params and isinstance(v, torch.Tensor) and own[k].shape == v.shape}
    total = sum(p.numel() for p in params.values())
    got = sum(params[k].numel() for k in take)
    if got < MIN_INIT_SHARE * total:
        raise InputError(f"--init file {path} fits {len(take)} of the {len(params)} parameters of this {model.arch} "
                         f"model ({100 * got / max(total, 1):.0f}% of their values; names and shapes must match): "
                         "it was made for another architecture or model size")
    own.update(take)
    torch.nn.Module.load_state_dict(model, own)
    return len(take)


def _param_names(state: dict) -> set[str]:
    """Names of the trainable parameters of the model a checkpoint was made for."""
    key = state["config_key"]
    model = _nets.build(key["arch"], key["lmbdas"], key.get("model_config") or None)
    names = {k for k, _ in model.named_parameters()}
    # in the checkpoint's own naming (it may come from another CompressAI release)
    back = _nets.compat_keys({k: None for k in state["model"]}, names)
    return {orig for orig, local in zip(state["model"], back) if local in names}


def export_half(checkpoint: str | os.PathLike, dest: str | os.PathLike) -> Path:
    """The model state of a checkpoint with float parameters in float16 (a small file
    to carry back from a training machine; :func:`pershot.codecs.learned.freeze_weights`
    makes shippable weights of it)."""
    st = torch.load(checkpoint, map_location="cpu", weights_only=True)
    model_params = _param_names(st)
    # parameters only go to float16; buffers (bounds of 1e-9, pedestals) would round to 0
    sd = {k: (v.to(torch.float16) if v.is_floating_point() and k in model_params else v)
          for k, v in st["model"].items()}
    out = {"model": sd, "config_key": st["config_key"], "train_config": st["train_config"], "step": st["step"],
           "elapsed_s": st["elapsed_s"], "device": st["device"], "log": st["log"]}
    with atomic_path(dest) as tmp:
        torch.save(out, tmp)
    return Path(dest)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m pershot.codecs.train``: one training run, for scripted (GPU) use."""
    import argparse

    ap = argparse.ArgumentParser(prog="python -m pershot.codecs.train")
    ap.add_argument("--arch", required=True, choices=sorted(_nets.ARCHS))
    ap.add_argument("--lmbdas", default=",".join(str(v) for v in DEFAULT_LMBDAS))
    ap.add_argument("--data", required=True)
    ap.add_argument("--minutes", type=float, required=True)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--crop", type=int, default=128)
    ap.add_argument("--lr", type=float, default=2e-4)
    ap.add_argument("--pool", type=int, default=512)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--checkpoint", required=True)
    ap.add_argument("--half", help="also write the float16 model state here")
    ap.add_argument("--log", help="write the training log (JSON) here")
    ap.add_argument("--checkpoint-every", type=float, default=90.0, help="seconds between checkpoints (and --half exports)")
    a = ap.parse_args(argv)
    cfg = TrainConfig(arch=a.arch, lmbdas=tuple(float(v) for v in a.lmbdas.split(",")), minutes=a.minutes,
                      batch=a.batch, crop=a.crop, lr=a.lr, pool=a.pool, seed=a.seed, device=a.device,
                      checkpoint_every_s=a.checkpoint_every)

    def prog(step: int, el: float, tot: float, last: dict) -> None:
        if step % 500 == 0:
            print(f"[{a.arch}] step {step} {el:.0f}/{tot:.0f}s {json.dumps(last)}", flush=True)

    def exported(path: Path) -> None:
        if a.half:
            export_half(path, a.half)

    res = train(cfg, a.data, a.checkpoint, resume=False, progress=prog, on_checkpoint=exported)
    if a.half:
        export_half(a.checkpoint, a.half)
    summary = {"arch": res.arch, "steps": res.steps, "minutes": round(res.minutes, 2), "device": res.device,
               "final": res.final, "log": res.log, "config": asdict(cfg)}
    if a.log:
        with atomic_path(a.log) as tmp:
            tmp.write_text(json.dumps(summary, indent=1))
    print(json.dumps({k: summary[k] for k in ("arch", "steps", "minutes", "device", "final")}), flush=True)
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
