"""`pershot train-codec`: what it refuses before training, how it orders levels, Ctrl-C, --init, its names."""
from __future__ import annotations

import json
import os
import pickle
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("compressai")

from pershot import cli, codecs  # noqa: E402
from pershot.codecs import learned  # noqa: E402
from pershot.errors import InputError  # noqa: E402


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    """Two small pictures (smooth shapes and noise), enough for a few training steps."""
    from PIL import Image

    d = tmp_path_factory.mktemp("data")
    rng = np.random.default_rng(3)
    y, x = np.mgrid[0:64, 0:80]
    for i in range(2):
        a = np.stack([(x * (2 + i)) % 256, (y * 3) % 256, ((x + y) * 2) % 256], axis=2).astype(float)
        a += rng.normal(0, 6, a.shape)
        Image.fromarray(np.clip(a, 0, 255).astype(np.uint8)).save(d / f"p{i}.png")
    return d


def _args(data: Path, out: Path, *extra: str, arch: str = "factorized", lmbda: str = "0.01,0.05") -> list[str]:
    crop = "64" if arch == "hyperprior" else "16"
    return ["train-codec", "--arch", arch, "--lmbda", lmbda, "--data", str(data), "--minutes", "0.005",
            "--crop", crop, "--batch", "1", "--threads", "1", "-o", str(out), *extra]


def _one_error(capsys, *words: str) -> str:
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.startswith("pershot: error:")]
    assert len(lines) == 1 and "Traceback" not in err, err
    for w in words:
        assert w in lines[0], (w, lines[0])
    return lines[0]


def test_a_name_whose_codec_exists_is_refused_before_training(tmp_path, data, capsys):
    """--name hyperprior makes lic-hyperprior, the shipped codec's name: the model would never be used. Within
    one folder a hyperprior x (lic-x, lic-x-lite) and a model x-lite (lic-x-lite) clash the same way."""
    out = tmp_path / "w"
    assert cli.main(_args(data, out, "--name", "hyperprior")) == 2
    _one_error(capsys, "lic-hyperprior", "--name")
    assert not out.exists()  # refused before anything was trained or written
    assert cli.main(_args(data, out, "--name", "jpeg")) == 0  # lic-jpeg: no codec has it
    capsys.readouterr()
    both = tmp_path / "both"
    both.mkdir()
    doc = {"format": 1, "models": {"x": {"file": "x.pt", "sha256": "0" * 64, "arch": "hyperprior", "lmbdas": [0.01],
                                         "decoders": {"lic-x": "full", "lic-x-lite": "lite"}}}}
    (both / "manifest.json").write_text(json.dumps(doc))
    assert cli.main(_args(data, both, "--name", "x-lite")) == 2
    _one_error(capsys, "lic-x-lite", "'x'")
    assert not (both / "x-lite.ckpt").exists()
    # the other way round: a model x-lite is there, a hyperprior x would make lic-x-lite
    assert learned.name_conflicts("x", "hyperprior", out) == []
    doc["models"] = {"x-lite": {**doc["models"]["x"], "arch": "factorized", "decoders": {"lic-x-lite": "full"}}}
    (both / "manifest.json").write_text(json.dumps(doc))
    assert any("lic-x-lite" in c for c in learned.name_conflicts("x", "hyperprior", both))
    assert learned.name_conflicts("x-lite", "factorized", both) == []  # retraining a model is no clash


@pytest.mark.parametrize("extra,words", [
    (["--batch", "0"], ["--batch"]),
    (["--batch", "-2"], ["--batch"]),
    (["--crop", "0"], ["--crop", "16"]),
    (["--crop", "50"], ["--crop", "multiple of 16"]),
    (["--lr", "nan"], ["--lr"]),
    (["--lr", "-1"], ["--lr"]),
    (["--threads", "-1"], ["--threads"]),
    (["--device", "bogus"], ["bogus"]),
    (["--device", "cuda:99"], ["cuda:99"]),
    (["--minutes", "inf"], ["--minutes", "finite"]),
    (["--lmbda", "0.01,inf"], ["--lmbda"]),
])
def test_bad_arguments_are_one_line_before_training(tmp_path, data, capsys, extra, words):
    out = tmp_path / "w"
    assert cli.main(_args(data, out) + extra) == 2
    _one_error(capsys, *words)
    assert not out.exists()


def test_hyperprior_crop_must_be_a_multiple_of_64(tmp_path, data, capsys):
    args = _args(data, tmp_path / "w", arch="hyperprior")
    args[args.index("--crop") + 1] = "32"
    assert cli.main(args) == 2
    _one_error(capsys, "--crop", "64")


def test_bad_files_are_one_line_errors_before_training(tmp_path, data, capsys):
    """--init that is empty, a pickle that is not tensors, missing; a damaged checkpoint to resume; a dataset .npz
    that is not one; an OUTPUT manifest.json that cannot take the model: each exit 2, one line, nothing trained."""
    class Evil:
        def __reduce__(self):
            return (os.system, ("echo never run",))

    (tmp_path / "empty.pt").write_bytes(b"")
    (tmp_path / "evil.pt").write_bytes(pickle.dumps(Evil(), protocol=2))
    nometa, obj, notzip = tmp_path / "nometa.npz", tmp_path / "obj.npz", tmp_path / "notzip.npz"
    np.savez(nometa, img0=np.zeros((32, 32, 3), np.uint8))
    np.savez(obj, meta=np.array(json.dumps([{"name": "a", "fmin": 1, "fmax": 2}])),
             img0=np.array([np.zeros(3), "x"], dtype=object))
    notzip.write_bytes(b"junk")
    cases = [
        (["--init", str(tmp_path / "empty.pt")], "w1", ["--init", "empty"]),
        (["--init", str(tmp_path / "evil.pt")], "w2", ["--init", "weights_only=True"]),
        (["--init", str(tmp_path / "missing.pt")], "w3", ["--init", "no such file"]),
        (["--data", str(nometa)], "w4", ["meta"]),
        (["--data", str(obj)], "w5", ["obj.npz"]),
        (["--data", str(notzip)], "w6", ["not a zip"]),
    ]
    for extra, out, words in cases:
        assert cli.main(_args(data, tmp_path / out) + extra) == 2, extra
        line = _one_error(capsys, *words)
        assert "weights_only=False" not in line and "allow_pickle" not in line
        assert not (tmp_path / out).exists()
    bad_ckpt = tmp_path / "w7"
    bad_ckpt.mkdir()
    (bad_ckpt / "my-factorized.ckpt").write_bytes(b"PK\x03\x04 truncated")
    assert cli.main(_args(data, bad_ckpt)) == 2
    _one_error(capsys, "my-factorized.ckpt", "--no-resume")
    for manifest in ("{not json", None):
        out = tmp_path / ("w8" if manifest else "w9")
        out.mkdir()
        if manifest:
            (out / "manifest.json").write_text(manifest)
        else:
            (out / "manifest.json").mkdir()
        assert cli.main(_args(data, out)) == 2
        _one_error(capsys, "manifest.json")
        assert not (out / "my-factorized.ckpt").exists()  # checked before the run, not after it


def test_two_dimensional_npz_image_is_read_as_gray(tmp_path):
    from pershot.codecs.train import load_training_data

    p = tmp_path / "gray.npz"
    g = np.arange(64 * 48, dtype=np.uint16).reshape(48, 64) % 256
    np.savez(p, meta=np.array(json.dumps([{"name": "g", "fmin": 1, "fmax": 2}])), img0=g.astype(np.uint8))
    (im,) = load_training_data(p)
    assert im.pixels.shape == (48, 64, 3) and im.gray and np.array_equal(im.pixels[..., 2], g)


def test_a_run_that_diverges_is_one_line_with_advice(tmp_path, data, capsys):
    assert cli.main(_args(data, tmp_path / "w", "--lr", "1e4")) == 2
    _one_error(capsys, "diverged", "learning rate")


def test_lambdas_are_sorted_ascending_and_repeats_refused(tmp_path, data, capsys):
    """Level 1 must be the fewest bits: lambdas given out of order are sorted (and the run says so);
    a lambda given twice would make two identical levels and is refused."""
    from pershot.codecs.train import TrainConfig, train

    out = tmp_path / "w"
    assert cli.main(_args(data, out, "-q", lmbda="0.05,0.01,0.02")) == 0
    assert "sorted" in capsys.readouterr().err
    doc = json.loads((out / "manifest.json").read_text())
    assert doc["models"]["my-factorized"]["lmbdas"] == [0.01, 0.02, 0.05]
    assert cli.main(_args(data, tmp_path / "w2", lmbda="0.01,0.05,0.01")) == 2
    _one_error(capsys, "0.01", "more than once")
    with pytest.raises(InputError, match="ascending"):  # the library refuses an unsorted list
        train(TrainConfig(arch="factorized", lmbdas=(0.05, 0.01), crop=16, batch=1, max_steps=1), data,
              tmp_path / "x.ckpt")


def test_ctrl_c_saves_the_checkpoint_and_says_how_to_resume(tmp_path, data, capsys, monkeypatch):
    """Ctrl-C during training kept nothing (checkpoints came every 120 s) and printed the probe command's
    message. Now the steps made are saved (atomically) and the message says the same command resumes them."""
    from pershot.codecs import train as train_mod

    real, calls = train_mod.rd_loss, []

    def interrupted_at_the_sixth_step(*a, **k):
        calls.append(1)
        if len(calls) == 6:
            raise KeyboardInterrupt
        return real(*a, **k)

    monkeypatch.setattr(train_mod, "rd_loss", interrupted_at_the_sixth_step)
    out = tmp_path / "w"
    args = _args(data, out, "-q")
    args[args.index("--minutes") + 1] = "5"
    assert cli.main(args) == 130
    err = capsys.readouterr().err
    ck = out / "my-factorized.ckpt"
    assert "interrupted" in err and str(ck) in err and "the same command resumes" in err and "probes" not in err
    st = torch.load(ck, map_location="cpu", weights_only=True)
    assert st["step"] == 5 and not list(out.glob(".*tmp*"))
    monkeypatch.setattr(train_mod, "rd_loss", real)
    args[args.index("--minutes") + 1] = "0.01"
    assert cli.main(args) == 0  # resumes it
    assert json.loads((out / "manifest.json").read_text())["models"]["my-factorized"]["training"]["steps"] > 5


def test_init_is_said_unused_on_resume_and_refused_for_another_architecture(tmp_path, data, capsys):
    out = tmp_path / "w"
    # weights of the shipped hyperprior fit 1 of the 60 parameters of a factorized model
    assert cli.main(_args(data, out, "--init", str(learned.WEIGHTS_DIR / "hyperprior.pt"))) == 2
    _one_error(capsys, "--init", "another architecture")
    assert not out.exists()
    assert cli.main(_args(data, out, "-q")) == 0
    capsys.readouterr()
    assert cli.main(_args(data, out, "-q", "--init", str(learned.WEIGHTS_DIR / "factorized.pt"))) == 0
    err = capsys.readouterr().err
    assert "--init" in err and "not used" in err and "--no-resume" in err
    codecs.reload()
