"""Warm-started continuation of a learned codec's training, as one job on one device.

Starts from shipped weights (or a checkpoint / float16 export), trains
``pershot.codecs.train.train`` for ``--minutes`` with the same loss and
schedule as the recipe (``benchmarks/train_learned_codecs.py``), and writes
the float16 model state (``OUT/KEY.half.pt``, refreshed at every checkpoint)
and the training log (``OUT/KEY.log.json``). Freeze it afterwards with
``python -m pershot.codecs.learned freeze OUT/KEY.half.pt pershot/weights KEY``.

``--fast-sampler`` replaces the per-crop sampler by one that scales every
picture once, at a few downscale factors spread over its range, and cuts a
whole pool of crops with one copy per crop and batched flips, rotations and
tints (same distribution of content, factors on a grid instead of continuous).

    python benchmarks/finetune_learned_codec.py --data .devdata/train.npz \
        --init pershot/weights/hyperprior.pt --arch hyperprior --out OUT --minutes 3 --device cuda --fast-sampler
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def _import_compressai() -> str:
    """Import compressai; where its ``__init__`` fails, fall back to the recipe's bare package."""
    try:
        import compressai  # noqa: F401
        import compressai.entropy_models  # noqa: F401
        import compressai.layers  # noqa: F401
        return "plain"
    except Exception as ex:  # noqa: BLE001 - any import failure
        for k in [k for k in sys.modules if k == "compressai" or k.startswith("compressai.")]:
            del sys.modules[k]
        spec = importlib.util.spec_from_file_location("_recipe", REPO / "benchmarks" / "train_learned_codecs.py")
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        exec(mod._STUB, {})  # the recipe's bare-package import (a fixed string of that file)
        import compressai.entropy_models  # noqa: F401
        import compressai.layers  # noqa: F401
        return f"bare package ({type(ex).__name__}: {str(ex)[:200]})"


def make_fast_sampler():
    import numpy as np
    import torch
    import torch.nn.functional as F

    from pershot.errors import InputError

    class FastCropSampler:
        LEVELS = 6

        def __init__(self, images, crop, device, gen):
            if not images:
                raise InputError("no training images")
            self.crop, self.device, self.gen = crop, device, gen
            self.banks, weights, gray = [], [], []
            for im in images:
                h, w = im.pixels.shape[:2]
                fmax = max(1.0, min(im.fmax, h / crop, w / crop))
                fmin = min(im.fmin, fmax)
                t = torch.tensor(np.asarray(im.pixels, dtype=np.uint8)).permute(2, 0, 1).contiguous().to(device)
                n = 1 if fmax - fmin < 1e-3 else self.LEVELS
                for k in range(n):
                    f = fmin if n == 1 else math.exp(math.log(fmin) + (k + 0.5) / n * (math.log(fmax) - math.log(fmin)))
                    sh, sw = max(1, int(round(h / f))), max(1, int(round(w / f)))
                    x = t.float().unsqueeze(0)
                    if (sh, sw) != (h, w):
                        x = F.interpolate(x, size=(sh, sw), mode="bilinear", antialias=True, align_corners=False)
                    if sh < crop or sw < crop:
                        x = F.pad(x, (0, max(0, crop - sw), 0, max(0, crop - sh)), mode="replicate")
                    self.banks.append(x.round().clamp(0, 255).to(torch.uint8)[0])
                    weights.append(h * w / (((fmin + fmax) / 2) ** 2) * (0.4 if im.gray else 1.0) / n)
                    gray.append(bool(im.gray))
            self.weights = torch.tensor(weights, dtype=torch.float64)
            self.gray = torch.tensor(gray)

        def pool(self, n: int) -> torch.Tensor:
            g, c = self.gen, self.crop
            idx = torch.multinomial(self.weights, n, replacement=True, generator=g)
            u = torch.rand(n, 2, generator=g, dtype=torch.float64)
            out = torch.empty(n, 3, c, c, dtype=torch.uint8, device=self.device)
            for j, i in enumerate(idx.tolist()):
                b = self.banks[i]
                h, w = b.shape[-2:]
                y0 = int(u[j, 0] * (h - c + 1))
                x0 = int(u[j, 1] * (w - c + 1))
                out[j].copy_(b[:, y0:y0 + c, x0:x0 + c])
            x = out.float().div_(255.0)
            k = torch.randint(0, 8, (n,), generator=g)
            for kk in range(1, 8):
                sel = (k == kk).nonzero().flatten()
                if sel.numel() == 0:
                    continue
                sd = sel.to(self.device)
                y = x[sd]
                if kk & 4:
                    y = y.flip(-1)
                if kk & 3:
                    y = torch.rot90(y, kk & 3, dims=(-2, -1))
                x[sd] = y
            tint = 0.75 + 0.25 * torch.rand(n, 3, generator=g)
            tint[~self.gray[idx]] = 1.0
            x.mul_(tint.to(self.device).view(n, 3, 1, 1))
            return x.clamp_(0, 1)

    return FastCropSampler


def warm_start_parameters(model, path) -> int:
    """Load the parameters alone (names and shapes matching) from weights, a checkpoint or an export.

    Buffers keep the fresh model's values: shipped weights and float16 exports
    hold float16-rounded buffers, where the likelihood lower bound (1e-9) has
    become 0 and a likelihood that underflows makes the loss infinite."""
    import torch

    st = torch.load(path, map_location="cpu", weights_only=True)
    sd = st["model"] if isinstance(st, dict) and "model" in st else st
    own = dict(model.named_parameters())
    n = 0
    with torch.no_grad():
        for k, p in own.items():
            if k in sd and sd[k].shape == p.shape:
                p.copy_(sd[k].to(p.dtype))
                n += 1
    print(f"warm start: {n}/{len(own)} parameters from {path}", flush=True)
    return n


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--init", required=True, help="shipped weights, checkpoint or float16 export to start from")
    ap.add_argument("--arch", required=True)
    ap.add_argument("--key", default=None, help="output name (default: the architecture)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--minutes", type=float, required=True)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--crop", type=int, default=256)
    ap.add_argument("--lr", type=float, default=2.5e-4)
    ap.add_argument("--pool", type=int, default=512)
    ap.add_argument("--seed", type=int, default=2)
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--checkpoint-every", type=float, default=45.0)
    ap.add_argument("--fast-sampler", action="store_true")
    ap.add_argument("--max-steps", type=int, default=None)
    a = ap.parse_args(argv)
    t0 = time.monotonic()
    how = _import_compressai()
    print(f"compressai: {how} ({time.monotonic() - t0:.1f}s)", flush=True)
    import torch

    from pershot.codecs import train as T

    if a.fast_sampler:
        T.CropSampler = make_fast_sampler()
    T._warm_start = warm_start_parameters
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    key = a.key or a.arch
    half, logp = out / f"{key}.half.pt", out / f"{key}.log.json"
    work = Path(os.environ.get("TMPDIR", "/tmp")) / "pershot-finetune"
    work.mkdir(parents=True, exist_ok=True)
    ckpt = work / f"{key}.ckpt"
    if ckpt.exists():
        ckpt.unlink()
    cfg = T.TrainConfig(arch=a.arch, minutes=a.minutes, batch=a.batch, crop=a.crop, lr=a.lr, pool=a.pool,
                        seed=a.seed, device=a.device, checkpoint_every_s=a.checkpoint_every, max_steps=a.max_steps)
    t1 = time.monotonic()

    def prog(step: int, el: float, tot: float, last: dict) -> None:
        if step % 500 == 0:
            print(f"[{key}] step {step} {el:.0f}/{tot:.0f}s {step / max(el, 1e-9):.1f} steps/s {json.dumps(last)}",
                  flush=True)

    res = T.train(cfg, a.data, ckpt, resume=False, init=a.init, progress=prog,
                  on_checkpoint=lambda p: T.export_half(p, half))
    T.export_half(ckpt, half)
    summary = {"arch": res.arch, "steps": res.steps, "minutes": round(res.minutes, 2), "device": res.device,
               "warm_start": str(a.init), "fast_sampler": a.fast_sampler, "compressai": how,
               "setup_s": round(t1 - t0, 1), "final": res.final, "log": res.log, "config": json.loads(
                   json.dumps({k: getattr(cfg, k) for k in ("batch", "crop", "lr", "pool", "seed", "device")}))}
    from pershot.atomic import write_text

    write_text(logp, json.dumps(summary, indent=1))
    print(json.dumps({k: summary[k] for k in ("arch", "steps", "minutes", "device", "final")}), flush=True)
    print(f"wall {time.monotonic() - t0:.1f}s; cuda max mem "
          f"{torch.cuda.max_memory_allocated() / 2**30 if torch.cuda.is_available() else 0:.2f} GiB", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
