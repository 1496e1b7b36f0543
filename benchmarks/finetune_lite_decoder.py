"""Train the hyperprior's lite decoder alone (CPU is enough), everything else frozen.

The lite synthesis reads the full model's quantised latents; after the
encoder moved (warm-started training), this lets the lite decoder catch up
without touching the encoder, hyperprior or full decoder. Loss: the lite
decoder's ``lmbda * 255^2 * MSE`` (its bits are the full model's). Reads and
writes float16 model states like ``pershot.codecs.train.export_half`` makes;
freeze the output with ``python -m pershot.codecs.learned freeze``.

    python benchmarks/finetune_lite_decoder.py IN.half.pt OUT.half.pt --data .devdata/train.npz --minutes 10
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("src")
    ap.add_argument("dest")
    ap.add_argument("--data", required=True)
    ap.add_argument("--minutes", type=float, required=True)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--crop", type=int, default=192)
    ap.add_argument("--lr", type=float, default=5e-5)
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--threads", type=int, default=None)
    a = ap.parse_args(argv)
    import torch

    import finetune_learned_codec as ft
    from pershot.atomic import atomic_path
    from pershot.codecs import _nets
    from pershot.codecs import train as T
    from pershot.codecs.train import _device_name, load_training_data, lr_factor

    if a.threads:
        torch.set_num_threads(a.threads)
    st = torch.load(a.src, map_location="cpu", weights_only=True)
    ck = st["config_key"]
    model = _nets.build(ck["arch"], ck["lmbdas"], ck.get("model_config") or None)
    ft.warm_start_parameters(model, a.src)
    if not getattr(model, "has_lite", False):
        raise SystemExit("this model has no lite decoder")
    for n, p in model.named_parameters():
        p.requires_grad_(n.startswith("g_s_lite.") or n == "log_igain_lite")
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=a.lr)
    torch.manual_seed(a.seed)
    gen = torch.Generator().manual_seed(a.seed)
    sampler = ft.make_fast_sampler()(load_training_data(a.data), a.crop, torch.device("cpu"), gen)
    model.train()
    L = model.n_levels
    total = a.minutes * 60
    t0 = time.monotonic()
    step, log, acc = 0, [], {"lite": [[] for _ in range(L)]}
    pool, pos = sampler.pool(64), 0
    while time.monotonic() - t0 < total:
        frac = (time.monotonic() - t0) / total
        for g in opt.param_groups:
            g["lr"] = a.lr * lr_factor(frac)
        if pos + a.batch > pool.shape[0]:
            pool, pos = sampler.pool(64), 0
        x = pool[pos:pos + a.batch]
        pos += a.batch
        lvl = torch.sort(torch.randint(0, L, (x.shape[0],), generator=gen)).values
        with torch.no_grad():
            counts = torch.bincount(lvl, minlength=L).tolist()
            y = model.g_a(x) * model.gain(lvl)
            z = model.h_a(y)
            _, _, z_q = model._bottleneck(model.z_ebs, z, counts)
            _, means = model.h_s(z_q).chunk(2, 1)
            y_q = torch.round(y - means) + means
        x_lite = model.g_s_lite(y_q * torch.exp(model.log_igain_lite[lvl])[:, :, None, None])
        mse = ((x_lite - x) ** 2).mean(dim=(1, 2, 3))
        mse_d = mse.detach().tolist()
        loss = (model.lmbdas[lvl] * 255.0 ** 2 * mse).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        step += 1
        for j, l in enumerate(lvl.tolist()):
            acc["lite"][l].append(-10 * math.log10(max(mse_d[j], 1e-10)))
        if step % 20 == 0:
            rec = {"step": step, "elapsed_s": round(time.monotonic() - t0, 1),
                   "psnr_lite": [round(sum(v) / len(v), 3) if v else None for v in acc["lite"]]}
            log.append(rec)
            print(json.dumps(rec), flush=True)
            acc = {"lite": [[] for _ in range(L)]}
    sd = {k: (v.detach().to(torch.float16) if v.is_floating_point() and k != "lmbdas" else v.detach())
          for k, v in model.state_dict().items()}
    out = dict(st)
    out["model"] = sd
    out["lite_finetune"] = json.dumps({"steps": step, "minutes": round((time.monotonic() - t0) / 60, 2),
                                       "device": _device_name(torch.device("cpu")), "batch": a.batch,
                                       "crop": a.crop, "lr": a.lr, "seed": a.seed, "log": log})
    with atomic_path(a.dest) as tmp:
        torch.save(out, tmp)
    print(json.dumps({"steps": step, "minutes": round((time.monotonic() - t0) / 60, 2)}), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
