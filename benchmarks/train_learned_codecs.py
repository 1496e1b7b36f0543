"""The recipe that trained pershot's shipped learned-codec weights.

Runs several ``pershot.codecs.train`` jobs side by side on one device (a GPU
when there is one), each in its own process so that one failure leaves the
others running, restarts a job once if it dies early, and collects the float16
model states and training logs in ``--out``. Freeze them into shippable
weights afterwards with ``python -m pershot.codecs.learned freeze``.

    python benchmarks/train_learned_codecs.py --data .devdata/train.npz --out OUT --minutes 7 --device cuda

The dataset comes from ``python -m pershot.codecs.dataset .devdata/train.npz``.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

# job name -> (arch, peak lr, seed); the two hyperprior runs hedge the learning rate
JOBS = {
    "hyperprior_a": ("hyperprior", 2.5e-4, 0),
    "hyperprior_b": ("hyperprior", 1.2e-4, 1),
    "factorized": ("factorized", 2.5e-4, 0),
}

# used when `import compressai` itself fails (its __init__ imports every optional part):
# a bare package object lets compressai.entropy_models / compressai.layers import alone
_STUB = r"""
import importlib.util, sys, types
spec = importlib.util.find_spec("compressai")
pkg = types.ModuleType("compressai"); pkg.__path__ = list(spec.submodule_search_locations)
pkg.available_entropy_coders = lambda: ["ans"]; pkg.get_entropy_coder = lambda: "ans"
sys.modules["compressai"] = pkg
"""
_RUN = "import sys; from pershot.codecs.train import main; sys.exit(main(sys.argv[1:]))"


def _compressai_ok(env: dict) -> bool:
    r = subprocess.run([sys.executable, "-c", "import compressai, compressai.entropy_models, compressai.layers"],
                       env=env, capture_output=True, text=True, timeout=300)
    if r.returncode:
        print("plain `import compressai` failed; using the bare-package import:\n" + r.stderr[-1500:], flush=True)
    return r.returncode == 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--minutes", type=float, required=True, help="training minutes per job (all run at once)")
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--crop", type=int, default=256)
    ap.add_argument("--pool", type=int, default=512)
    ap.add_argument("--jobs", default=",".join(JOBS))
    a = ap.parse_args(argv)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    work = Path(os.environ.get("TMPDIR", "/tmp")) / "pershot-train"
    work.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).resolve().parent.parent), env.get("PYTHONPATH", "")])
    env["PYTHONUNBUFFERED"] = "1"
    t0 = time.monotonic()
    code = _RUN if _compressai_ok(env) else _STUB + _RUN
    print(f"compressai check took {time.monotonic() - t0:.1f}s", flush=True)
    deadline = t0 + a.minutes * 60 + 60

    def launch(name: str, minutes: float, batch: int) -> subprocess.Popen:
        arch, lr, seed = JOBS[name]
        cmd = [sys.executable, "-c", code, "--arch", arch, "--data", a.data, "--minutes", f"{minutes:.3f}",
               "--batch", str(batch), "--crop", str(a.crop), "--lr", str(lr), "--pool", str(a.pool),
               "--device", a.device, "--seed", str(seed), "--checkpoint", str(work / f"{name}.ckpt"),
               "--half", str(out / f"{name}.half.pt"), "--log", str(out / f"{name}.log.json")]
        logf = open(work / f"{name}.stdout", "ab")
        print(f"launch {name}: {minutes:.2f} min, batch {batch}", flush=True)
        return subprocess.Popen(cmd, env=env, stdout=logf, stderr=subprocess.STDOUT)

    names = [n for n in a.jobs.split(",") if n]
    procs = {n: (launch(n, a.minutes, a.batch), time.monotonic(), False) for n in names}
    status: dict[str, str] = {}
    while procs:
        time.sleep(2)
        for n, (p, started, retried) in list(procs.items()):
            rc = p.poll()
            if rc is None:
                if time.monotonic() > deadline + 30:
                    p.kill()
                continue
            del procs[n]
            tail = (work / f"{n}.stdout").read_bytes()[-3000:].decode("utf-8", "replace")
            if rc == 0:
                status[n] = "ok"
                print(f"{n} done: {tail.strip().splitlines()[-1][:400] if tail.strip() else ''}", flush=True)
                continue
            print(f"{n} failed (exit {rc}):\n{tail}", flush=True)
            left = (deadline - 60 - time.monotonic()) / 60
            if not retried and left > 1.0:
                procs[n] = (launch(n, left, max(4, a.batch // 2)), time.monotonic(), True)
            else:
                status[n] = f"failed ({rc})"
    for n in names:
        so = work / f"{n}.stdout"
        if so.is_file():
            shutil.copyfile(so, out / f"{n}.stdout.txt") if len(names) <= 2 else None
    print(json.dumps({"status": status, "wall_s": round(time.monotonic() - t0, 1)}), flush=True)
    return 0 if all(v == "ok" for v in status.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
