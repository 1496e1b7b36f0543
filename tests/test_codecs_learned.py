"""Learned image codecs: bitstreams, determinism (runs, processes, threads), bad input, weights, training."""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("compressai")

from pershot import codecs  # noqa: E402
from pershot.codecs import container, imageio, learned, metrics  # noqa: E402
from pershot.codecs.select import code_image  # noqa: E402
from pershot.errors import CodecError, InputError  # noqa: E402

LEARNED = ["lic-factorized", "lic-hyperprior", "lic-hyperprior-lite"]


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    data = pytest.importorskip("skimage.data")
    from pershot.codecs.dataset import box_downscale

    return np.ascontiguousarray(box_downscale(data.astronaut(), 4)[:97, :121])


def _h(a: np.ndarray | bytes) -> str:
    return hashlib.sha256(a if isinstance(a, bytes) else a.tobytes()).hexdigest()


@pytest.mark.parametrize("name", LEARNED)
def test_round_trip_repeatable_and_monotone(name, photo):
    c = codecs.get_codec(name)
    bpp, psnr, ssim = [], [], []
    for lv in c.levels:
        d1 = c.encode(photo, lv)
        r1 = c.decode(d1)
        assert r1.shape == photo.shape and r1.dtype == np.uint8
        if lv == 3:  # repeated runs give the same bitstream and the same image
            assert c.encode(photo, lv) == d1 and np.array_equal(c.decode(d1), r1)
        bpp.append(8 * len(d1) / photo.shape[0] / photo.shape[1])
        psnr.append(metrics.psnr_rgb(photo, r1))
        ssim.append(metrics.ms_ssim(photo, r1))
    assert all(b2 > b1 for b1, b2 in zip(bpp, bpp[1:])), bpp
    assert all(q2 > q1 - 0.05 for q1, q2 in zip(psnr, psnr[1:])), psnr
    assert psnr[-1] > psnr[0] + 1.5 and ssim[-1] > ssim[0]


def test_lite_decoder_reads_the_same_bitstream(photo):
    full, lite = codecs.get_codec("lic-hyperprior"), codecs.get_codec("lic-hyperprior-lite")
    d = full.encode(photo, 4)
    assert container.unpack(lite.encode(photo, 4)).chunks == container.unpack(d).chunks
    a, b = full.decode(d), lite.decode(d)
    assert a.shape == b.shape == photo.shape and not np.array_equal(a, b)
    assert lite.decoder_kmac_per_px() <= 0.25 * full.decoder_kmac_per_px()


def test_decode_identical_across_processes_and_threads(tmp_path, photo):
    files = {}
    want = {}
    for name, lv in (("lic-hyperprior", 3), ("lic-factorized", 5), ("lic-hyperprior-lite", 2)):
        c = codecs.get_codec(name)
        d = c.encode(photo, lv)
        p = tmp_path / f"{name}.psi"
        p.write_bytes(d)
        files[name] = str(p)
        want[name] = _h(c.decode(d))
    # another process decodes under 1 and then 2 threads
    script = textwrap.dedent("""
        import hashlib, json, sys, torch
        from pershot import codecs
        out = {}
        for threads in (1, 2):
            torch.set_num_threads(threads)
            for name, path in json.loads(sys.argv[1]).items():
                img, _ = codecs.decode_bytes(open(path, "rb").read())
                out[f"{name}@{threads}"] = hashlib.sha256(img.tobytes()).hexdigest()
        print(json.dumps(out))
    """)
    r = subprocess.run([sys.executable, "-c", script, json.dumps(files)], capture_output=True, text=True,
                       env=dict(os.environ, OMP_NUM_THREADS="2"), timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "Warning" not in r.stderr, r.stderr[-2000:]  # nothing from torch/compressai reaches the user
    got = json.loads(r.stdout.strip().splitlines()[-1])
    assert got == {f"{n}@{t}": h for t in (1, 2) for n, h in want.items()}
    # and in this process under another thread count
    old = torch.get_num_threads()
    try:
        torch.set_num_threads(1 if old != 1 else 2)
        for name, path in files.items():
            assert _h(codecs.decode_bytes(Path(path).read_bytes())[0]) == want[name]
    finally:
        torch.set_num_threads(old)


def test_integer_entropy_parameters_are_exact():
    model = codecs.get_codec("lic-hyperprior").model()
    g = torch.Generator().manual_seed(0)
    z = torch.round(torch.randn(1, model.z_ebs[0].quantiles.shape[0], 3, 5, generator=g) * 3)
    z = z + model.z_ebs[2].quantiles[:, 0, 1].detach().view(1, -1, 1, 1)
    old = torch.get_num_threads()
    try:
        outs = []
        for th in (1, 2):
            torch.set_num_threads(th)
            outs.append(model.entropy_parameters(z))
    finally:
        torch.set_num_threads(old)
    (i1, m1), (i2, m2) = outs
    assert i1.dtype == torch.int32 and torch.equal(i1, i2) and torch.equal(m1, m2)
    # the integer network approximates the float one it was made from
    with torch.no_grad():
        s_f, m_f = model.h_s(z).chunk(2, 1)
    assert float((m1 - m_f).abs().max()) < 0.05
    idx_f = torch.bucketize(s_f.clamp_min(0.11).double(), model.gaussian_conditional.scale_table[:-1].double())
    assert float((idx_f.to(torch.int32) - i1).abs().float().mean()) < 0.05


@pytest.mark.parametrize("name", ["lic-hyperprior", "lic-factorized"])
@pytest.mark.parametrize("shape", [(1, 1), (2, 3), (65, 1), (17, 120)])
def test_tiny_and_odd_sizes(name, shape, photo):
    img = np.ascontiguousarray(photo[: shape[0], : shape[1]])
    c = codecs.get_codec(name)
    d = c.encode(img, 2)
    bs = container.unpack(d)
    assert (bs.width, bs.height) == (shape[1], shape[0])
    assert (bs.height + bs.pad_bottom) % c.multiple == 0 and (bs.width + bs.pad_right) % c.multiple == 0
    assert c.decode(d).shape == img.shape


def test_bad_bitstreams(photo):
    c = codecs.get_codec("lic-hyperprior")
    d = c.encode(photo, 3)
    for bad in (d[:-1], d[: len(d) // 2], d[:8]):
        with pytest.raises(CodecError):
            c.decode(bad)
    flipped = bytearray(d)
    flipped[-20] ^= 0x01
    with pytest.raises(CodecError, match="CRC"):
        c.decode(bytes(flipped))
    bs = container.unpack(d)
    from dataclasses import replace

    for forged, msg in [(replace(bs, weights_tag=b"\0\0\0\0"), "weights"), (replace(bs, level=9), "level"),
                        (replace(bs, pad_bottom=bs.pad_bottom + 1), "padding"), (replace(bs, chunks=bs.chunks[:1]), "chunks")]:
        with pytest.raises(CodecError, match=msg):
            c.decode(container.pack(forged))
    with pytest.raises(CodecError, match="not"):
        codecs.get_codec("lic-factorized").decode(d)


def test_weights_sha_mismatch(tmp_path, photo):
    src = learned.WEIGHTS_DIR
    shutil.copy(src / "manifest.json", tmp_path / "manifest.json")
    blob = bytearray((src / "factorized.pt").read_bytes())
    blob[len(blob) // 2] ^= 0x01
    (tmp_path / "factorized.pt").write_bytes(bytes(blob))
    entry = next(e for e in learned.read_manifest(tmp_path) if e.key == "factorized")
    c = learned.LearnedCodec("lic-factorized", entry)
    with pytest.raises(CodecError, match="SHA-256"):
        c.encode(photo, 1)


def test_learned_size_limit(monkeypatch, photo):
    """An image over the learned codecs' limit is an input error (exit 2), found before any coding: a choice on
    the hull leaves them out, naming one is refused (it once measured every conventional point first, then
    stopped with the bitstream error's code)."""
    from pershot.codecs import select

    monkeypatch.setattr(learned, "MAX_PIXELS", 1000)
    with pytest.raises(InputError, match="limit"):
        codecs.get_codec("lic-factorized").encode(photo, 1)
    monkeypatch.setattr(select, "measure", lambda *a, **k: pytest.fail("a point was measured"))
    for kw in ({"codec": "lic-hyperprior", "level": 2}, {"codecs": ["jpeg", "lic-factorized"], "target_bpp": 1.0}):
        with pytest.raises(InputError, match="lic-.* over the learned codecs' limit of 1,000 pixels"):
            code_image(photo, **kw)
    every = select.candidates(121, 97)
    assert every and all(c.kind != "learned" for c in every)
    assert any(c.kind == "learned" for c in select.candidates(20, 20))


def test_a_crafted_bitstream_that_crashes_the_entropy_decoder_is_one_error(tmp_path, monkeypatch, capsys):
    """An empty payload (its checksum valid) makes CompressAI's rANS decoder read past its end; on a 384x256
    picture that was a segmentation fault of pershot itself (seen here). `pershot decode` decodes learned
    bitstreams in a child process, and a child killed by a signal is one line and exit 8."""
    import subprocess
    import sys
    from dataclasses import replace

    from pershot import cli

    data = pytest.importorskip("skimage.data")
    picture = np.ascontiguousarray(data.chelsea()[:256, :384])
    good = codecs.get_codec("lic-factorized").encode(picture, 4)
    crafted = tmp_path / "x.psi"
    crafted.write_bytes(container.pack(replace(container.unpack(good), chunks=(b"",))))
    (tmp_path / "ok.psi").write_bytes(good)
    run = [sys.executable, "-m", "pershot.cli", "decode"]
    r = subprocess.run([*run, str(crafted), "-o", str(tmp_path / "x.png")], capture_output=True, text=True,
                       timeout=300)
    assert r.returncode in (0, 8)  # never a signal: the crash, where the memory past the payload faults, is exit 8
    if r.returncode:
        last = r.stderr.strip().splitlines()[-1]
        assert last.startswith("pershot: error:") and "Traceback" not in r.stderr and not (tmp_path / "x.png").exists()
    (tmp_path / "-ok.psi").write_bytes(good)  # a name like an option: the child is given it after --
    r = subprocess.run([*run, "-o", "ok.png", "--", "-ok.psi"], capture_output=True, text=True, timeout=300,
                       cwd=tmp_path)
    assert r.returncode == 0 and "lic-factorized" in r.stdout, r.stderr
    assert np.array_equal(imageio.load_image(tmp_path / "ok.png"), codecs.get_codec("lic-factorized").decode(good))
    # the child's death by a signal, whatever the memory layout: exit 8, one line
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: subprocess.CompletedProcess(a, -11))
    assert cli.main(["decode", str(crafted), "-o", str(tmp_path / "y.png")]) == 8
    err = capsys.readouterr().err
    assert "crashed" in err and "signal 11" in err and err.count("\n") == 1


def test_bytes_and_bpp_count_the_whole_file(photo):
    r = code_image(photo, codec="lic-hyperprior", level=2)
    assert r.bytes == len(r.data) and r.bpp == pytest.approx(8 * len(r.data) / (97 * 121))
    assert r.kmac_per_px == pytest.approx(codecs.get_codec("lic-hyperprior").decoder_kmac_per_px())


def test_manifest_records_training_and_macs():
    from pershot.codecs import _nets

    doc = json.loads((learned.WEIGHTS_DIR / "manifest.json").read_text())
    total = 0
    for key, m in doc["models"].items():
        p = learned.WEIGHTS_DIR / m["file"]
        total += p.stat().st_size
        assert learned.sha256_bytes(p.read_bytes()) == m["sha256"]
        for k in ("data", "steps", "minutes", "device"):
            assert m["training"].get(k), (key, k)
        model = codecs.get_codec(next(iter(m["decoders"]))).model()
        h, w = learned.REF_SIZE
        for dec, kmac in m["kmac_per_px"].items():
            assert _nets.decoder_macs(model, h, w, dec) / (h * w) / 1000 == pytest.approx(kmac, abs=1e-3)
    assert total <= 20e6


def test_training_smoke_resume_freeze_and_use(tmp_path, monkeypatch, photo):
    from pershot.codecs.train import TrainConfig, TrainImage, train

    imgs = [TrainImage("a", photo, 1.0, 1.5), TrainImage("b", np.ascontiguousarray(photo[:, ::-1]), 1.0, 1.2, False)]
    small = {"N": 16, "M": 24, "Nh": 16, "lite": [8, 8, 8]}
    cfg = TrainConfig(arch="hyperprior", lmbdas=(0.004, 0.05), minutes=10, batch=2, crop=64, pool=4, max_steps=3,
                      checkpoint_every_s=0, model_config=small, threads=1)
    ck = tmp_path / "smoke.ckpt"
    r = train(cfg, imgs, ck)
    assert r.steps == 3 and ck.is_file() and np.isfinite(r.final["loss"])
    r = train(TrainConfig(**{**cfg.__dict__, "max_steps": 5}), imgs, ck)  # resumes
    assert r.steps == 5
    e = learned.freeze_weights(ck, tmp_path / "w", "smoke", training={"data": "test", "steps": 5, "minutes": 0.1,
                                                                      "device": "cpu"})
    assert set(e.decoders) == {"lic-smoke", "lic-smoke-lite"}
    monkeypatch.setenv(learned.ENV_WEIGHTS, str(tmp_path / "w"))
    codecs.reload()
    try:
        c = codecs.get_codec("lic-smoke")
        assert c.levels == (1, 2)
        d = c.encode(photo, 2)
        assert c.decode(d).shape == photo.shape and np.array_equal(c.decode(d), codecs.decode_bytes(d)[0])
    finally:
        monkeypatch.delenv(learned.ENV_WEIGHTS)
        codecs.reload()
    # factorized trains too
    r = train(TrainConfig(arch="factorized", lmbdas=(0.01,), minutes=10, batch=2, crop=32, pool=4, max_steps=2,
                          checkpoint_every_s=0, model_config={"N": 8, "M": 12}, threads=1), imgs, tmp_path / "f.ckpt")
    assert r.steps == 2


def test_striped_transforms_equal_whole_image(monkeypatch):
    """Big images are coded in stripes; the result is the whole-image one."""
    from pershot.codecs import _nets
    from pershot.codecs.dataset import box_downscale

    data = pytest.importorskip("skimage.data")
    img = np.ascontiguousarray(box_downscale(data.astronaut(), 2)[:250, :70])
    for name in ("lic-hyperprior", "lic-factorized"):
        c = codecs.get_codec(name)
        d_whole = c.encode(img, 2)
        r_whole = c.decode(d_whole)
        monkeypatch.setattr(_nets, "SYN_STRIPE", 1)
        monkeypatch.setattr(_nets, "ANA_STRIPE", 1)
        monkeypatch.setattr(_nets, "ANA_HALO", 2)
        assert c.encode(img, 2) == d_whole
        assert np.array_equal(c.decode(d_whole), r_whole)
        monkeypatch.undo()


def test_cli_train_codec(tmp_path, monkeypatch, photo, capsys):
    from PIL import Image

    from pershot import cli

    data = tmp_path / "data"
    data.mkdir()
    Image.fromarray(photo).save(data / "a.png")
    Image.fromarray(np.ascontiguousarray(photo[::-1])).save(data / "b.png")
    out = tmp_path / "w"
    args = ["train-codec", "--arch", "factorized", "--lmbda", "0.004,0.03", "--data", str(data), "--minutes", "0.03",
            "--crop", "32", "--batch", "2", "--threads", "1", "-o", str(out), "-q"]
    assert cli.main(args) == 0
    assert "lic-my-factorized" in capsys.readouterr().out
    doc = json.loads((out / "manifest.json").read_text())
    tr = doc["models"]["my-factorized"]["training"]
    assert tr["steps"] > 0 and tr["device"].startswith("cpu") and tr["data"] == str(data)
    steps = tr["steps"]
    assert cli.main(args[:-3] + ["--minutes", "0.06", "-o", str(out), "-q"]) == 0  # resumes the checkpoint
    assert json.loads((out / "manifest.json").read_text())["models"]["my-factorized"]["training"]["steps"] > steps
    assert cli.main(["train-codec", "--arch", "factorized", "--lmbda=-1", "--data", str(data), "--minutes", "1"]) == 2


def test_half_export_keeps_buffers_and_warm_start_trains(tmp_path, photo):
    """A float16 export rounds parameters only (a 1e-9 likelihood bound in float16 is 0, which made a
    warm start's loss infinite); a warm start takes parameters only and trains with a finite loss."""
    import torch

    from pershot.codecs import _nets
    from pershot.codecs.train import TrainConfig, TrainImage, export_half, train

    imgs = [TrainImage("a", photo, 1.0, 1.5)]
    small = {"N": 16, "M": 24, "Nh": 16, "lite": [8, 8, 8]}
    cfg = TrainConfig(arch="hyperprior", lmbdas=(0.004, 0.05), minutes=10, batch=2, crop=64, pool=4, max_steps=2,
                      checkpoint_every_s=0, model_config=small, threads=1)
    ck = tmp_path / "a.ckpt"
    train(cfg, imgs, ck)
    half = export_half(ck, tmp_path / "a.half.pt")
    sd = torch.load(half, map_location="cpu", weights_only=True)["model"]
    params = {k for k, _ in _nets.build("hyperprior", cfg.lmbdas, small).named_parameters()}
    floats = {k: v for k, v in sd.items() if v.is_floating_point()}
    assert {k for k, v in floats.items() if v.dtype == torch.float16} == params
    assert all(v.dtype == torch.float32 for k, v in floats.items() if k not in params)
    r = train(TrainConfig(**{**cfg.__dict__, "max_steps": 2}), imgs, tmp_path / "b.ckpt", init=half)
    assert r.steps == 2 and np.isfinite(r.final["loss"])


def test_weights_load_under_either_compressai_naming():
    """CompressAI 1.2.6 names EntropyBottleneck parameters ``_matrix0``..., 1.2.8 ``matrices.0``...:
    pip picks either (1.2.6 beside numpy 2), so shipped weights must load under both."""
    import re

    import torch

    from pershot.codecs import _nets

    model = _nets.build("factorized", (0.01, 0.02), {"N": 8, "M": 12})
    sd = model.state_dict()
    eb = [k for k in sd if re.search(r"(\._matrix\d+|\.matrices\.\d+)$", k)]
    assert eb, "an entropy bottleneck has matrices"

    def other(k: str) -> str:
        for a, b in ((r"\._matrix(\d+)$", r".matrices.\1"), (r"\._bias(\d+)$", r".biases.\1"),
                     (r"\._factor(\d+)$", r".factors.\1"), (r"\.matrices\.(\d+)$", r"._matrix\1"),
                     (r"\.biases\.(\d+)$", r"._bias\1"), (r"\.factors\.(\d+)$", r"._factor\1")):
            k2 = re.sub(a, b, k)
            if k2 != k:
                return k2
        return k

    renamed = {other(k): v.clone() + 0.5 if v.is_floating_point() else v for k, v in sd.items()}
    assert set(renamed) != set(sd)
    fresh = _nets.build("factorized", (0.01, 0.02), {"N": 8, "M": 12})
    fresh.load_state_dict(renamed)
    for k, v in fresh.state_dict().items():
        assert torch.equal(v, renamed[other(k)] if other(k) in renamed else renamed[k]), k


def test_decode_image_api_survives_a_bitstream_that_crashes_the_entropy_decoder(tmp_path):
    """pershot.decode_image(path) on a crafted learned bitstream (valid CRC, 1024x1024 claimed, a 3-byte payload:
    CompressAI's rANS decoder reads far past its end) killed the calling process with a segmentation fault.
    The API decodes a learned bitstream in a child process: the caller gets a CodecError. No length check can
    do that instead: a 16x16 image whose payload is 4 MB of 0xff makes the decoder read past the end too."""
    import subprocess
    import sys

    c = codecs.get_codec("lic-factorized")
    crafted = tmp_path / "big.psi"
    crafted.write_bytes(container.pack(container.Bitstream(codec="lic-factorized", level=1, width=1024, height=1024,
                                                           chunks=(b"\0" * 3,), weights_tag=c.weights_tag)))
    two = tmp_path / "two.psi"  # an error the child finds reaches the caller as itself
    two.write_bytes(container.pack(container.Bitstream(codec="lic-factorized", level=1, width=16, height=16,
                                                       chunks=(b"\0" * 8, b""), weights_tag=c.weights_tag)))
    script = textwrap.dedent("""
        import sys, pershot
        from pershot.errors import PershotError
        for path in sys.argv[1:]:
            try:
                img, name = pershot.decode_image(path)
                print("decoded", img.shape, name)
            except PershotError as ex:
                print(type(ex).__name__, ex)
    """)
    r = subprocess.run([sys.executable, "-c", script, str(crafted), str(two)], capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, (r.returncode, r.stderr[-500:])  # the caller lives
    out = r.stdout.splitlines()
    assert out[0].startswith(("CodecError", "decoded")), out  # (the child's crash depends on memory layout)
    assert out[1] == "CodecError bitstream is corrupted (wrong number of payload chunks)", out


def test_decode_image_api_child_gives_the_in_process_image_and_errors(photo):
    import pershot
    from dataclasses import replace

    c = codecs.get_codec("lic-hyperprior-lite")
    d = c.encode(photo, 2)
    img, name = pershot.decode_image(d)  # in a child
    assert name == "lic-hyperprior-lite" and np.array_equal(img, c.decode(d))
    assert pershot.decode_image(d, isolate=False)[1] == name
    # a bad header is refused here, before any child
    with pytest.raises(CodecError, match="level 9"):
        pershot.decode_image(container.pack(replace(container.unpack(d), level=9)))


def test_weights_that_torch_refuses_are_one_line_without_the_weights_only_false_advice(tmp_path, monkeypatch):
    """A weights file that is not plain tensors (a pickle calling os.system) is refused by
    torch.load(weights_only=True); the error says so, and not torch's advice to load it with weights_only=False."""
    import pickle

    class Evil:
        def __reduce__(self):
            return (os.system, ("echo never run",))

    data = pickle.dumps({"g_a.0.weight": Evil()}, protocol=2)
    w = tmp_path / "w"
    w.mkdir()
    (w / "evil.pt").write_bytes(data)
    (w / "manifest.json").write_text(json.dumps({"format": 1, "models": {"evil": {
        "file": "evil.pt", "sha256": learned.sha256_bytes(data), "arch": "factorized", "lmbdas": [0.01, 0.02],
        "decoders": {"lic-evil": "full"}}}}))
    monkeypatch.setenv(learned.ENV_WEIGHTS, str(w))
    codecs.reload()
    try:
        with pytest.raises(CodecError) as ei:
            codecs.get_codec("lic-evil").model()
        msg = str(ei.value)
        assert "evil.pt" in msg and "system" in msg and "weights_only=True" in msg
        assert "False" not in msg and "Re-running" not in msg and "\n" not in msg
    finally:
        monkeypatch.delenv(learned.ENV_WEIGHTS)
        codecs.reload()
