"""Image codecs without torch: registry, plugins, container, conventional codecs, inputs, hull choice, CLI."""
from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from pershot import codecs
from pershot.codecs import container, imageio, metrics
from pershot.codecs.select import ImageResult, choose, code_image, rdc_points
from pershot.errors import CodecError, ConfigError, InfeasibleError, InputError

CONVENTIONAL = ["jpeg", "webp", "avif", "jxl", "hevc"]


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    """A small natural picture: astronaut, box-downscaled 4x (128x128), then cropped to odd sides."""
    data = pytest.importorskip("skimage.data")
    from pershot.codecs.dataset import box_downscale

    return np.ascontiguousarray(box_downscale(data.astronaut(), 4)[:97, :121])


# ------------------------------------------------------------------ container

def test_container_round_trip_and_checks():
    bs = container.Bitstream(codec="x-test", level=300, width=70000, height=3, pad_bottom=13, pad_right=0,
                             chunks=(b"", b"abc" * 100), weights_tag=b"\x01\x02\x03\x04")
    data = container.pack(bs)
    assert container.is_container(data)
    assert container.unpack(data) == bs
    for cut in (1, 5, len(data) // 2, len(data) - 1):
        with pytest.raises(CodecError):
            container.unpack(data[:cut])
    bad = bytearray(data)
    bad[len(bad) // 2] ^= 0x10
    with pytest.raises(CodecError, match="CRC"):
        container.unpack(bytes(bad))
    with pytest.raises(CodecError, match="magic"):
        container.unpack(b"JUNK" + data[4:])
    with pytest.raises(CodecError, match="version"):
        container.unpack(data[:4] + b"\x09" + data[5:])


# ------------------------------------------------------------------ registry and plugins

def test_builtin_codecs_listed():
    names = codecs.codec_names()
    for n in CONVENTIONAL + ["lic-factorized", "lic-hyperprior", "lic-hyperprior-lite"]:
        assert n in names
    infos = {i.name: i for i in codecs.list_codecs()}
    assert infos["jpeg"].kind == "conventional" and infos["jpeg"].decoder_kmac_per_px is None
    lic = infos["lic-hyperprior"]
    assert lic.kind == "learned" and lic.levels == (1, 2, 3, 4, 5, 6)
    # the light decoder is at most a quarter of the full one's multiply-accumulates
    assert infos["lic-hyperprior-lite"].decoder_kmac_per_px <= 0.25 * lic.decoder_kmac_per_px
    with pytest.raises(ConfigError, match="unknown image codec"):
        codecs.get_codec("no-such-codec")


_PLUGIN = '''
import zlib
import numpy as np
from pershot.codecs import ImageCodec, container

class DummyCodec(ImageCodec):
    """Keeps the top ``level`` bits of every sample, zlib-compressed."""
    name = "dummy-bits"
    kind = "plugin"
    description = "test plugin"
    levels = (1, 2, 3, 4)
    extension = ".psi"

    def encode(self, image, level):
        lv = self.check_level(level)
        q = (np.asarray(image) >> (8 - lv)).astype(np.uint8)
        h, w = q.shape[:2]
        return container.pack(container.Bitstream(codec=self.name, level=lv, width=w, height=h,
                                                  chunks=(zlib.compress(q.tobytes(), 9),)))

    def decode(self, data):
        bs = container.unpack(data)
        q = np.frombuffer(zlib.decompress(bs.chunks[0]), np.uint8).reshape(bs.height, bs.width, 3)
        half = (1 << (8 - bs.level)) >> 1
        return ((q.astype(np.uint16) << (8 - bs.level)) + half).astype(np.uint8)

def broken():
    raise RuntimeError("this plugin is broken on purpose")
'''


@pytest.fixture
def dummy_plugin(tmp_path, monkeypatch):
    """Install a tiny plugin distribution (a dist-info with entry points) on sys.path."""
    (tmp_path / "pershot_dummy_plugin.py").write_text(_PLUGIN)
    di = tmp_path / "pershot_dummy_plugin-0.1.dist-info"
    di.mkdir()
    (di / "METADATA").write_text("Metadata-Version: 2.1\nName: pershot-dummy-plugin\nVersion: 0.1\n")
    (di / "entry_points.txt").write_text("[pershot.codecs]\ndummy = pershot_dummy_plugin:DummyCodec\n"
                                         "broken = pershot_dummy_plugin:broken\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    codecs.reload()
    yield tmp_path
    monkeypatch.delitem(sys.modules, "pershot_dummy_plugin", raising=False)
    codecs.reload()


def test_plugin_entry_point(dummy_plugin, photo):
    c = codecs.get_codec("dummy-bits")
    assert c.kind == "plugin"
    assert any("broken" in e and "on purpose" in e for e in codecs.plugin_errors())
    assert "jpeg" in codecs.codec_names()  # a broken plugin breaks nothing else
    sizes, psnrs = [], []
    for lv in c.levels:
        data = c.encode(photo, lv)
        img, found = codecs.decode_bytes(data)
        assert found is c and img.shape == photo.shape
        sizes.append(len(data))
        psnrs.append(metrics.psnr_rgb(photo, img))
    assert sizes == sorted(sizes) and psnrs == sorted(psnrs)
    # the plugin takes part in the hull choice like any codec
    r = code_image(photo, codec="dummy-bits", target_psnr=psnrs[-1] - 0.01)
    assert (r.codec, r.level) == ("dummy-bits", 4)
    r = code_image(photo, codec="dummy-bits", target_psnr=psnrs[0] - 1)
    assert (r.codec, r.level) == ("dummy-bits", 1)
    # a plugin cannot take a built-in name
    from pershot_dummy_plugin import DummyCodec

    class Clash(DummyCodec):
        name = "jpeg"

    with pytest.raises(ConfigError):
        codecs.register(Clash())


# ------------------------------------------------------------------ conventional codecs

@pytest.mark.parametrize("name", CONVENTIONAL)
def test_conventional_rate_rises_distortion_falls(name, photo):
    c = codecs.get_codec(name)
    levels = c.levels[:: max(1, len(c.levels) // 4)]
    bpp, psnr = [], []
    for lv in levels:
        data = c.encode(photo, lv)
        rec, found = codecs.decode_bytes(data)
        assert found.name == name
        assert rec.shape == photo.shape and rec.dtype == np.uint8
        bpp.append(len(data) * 8 / photo.shape[0] / photo.shape[1])
        psnr.append(metrics.psnr_rgb(photo, rec))
    assert all(b2 > b1 for b1, b2 in zip(bpp, bpp[1:])), bpp
    assert all(q2 > q1 - 0.05 for q1, q2 in zip(psnr, psnr[1:])), psnr
    assert psnr[-1] > psnr[0] + 3


@pytest.mark.parametrize("name", CONVENTIONAL)
@pytest.mark.parametrize("shape", [(1, 1), (3, 5), (17, 2)])
def test_conventional_tiny_and_odd_sizes(name, shape, photo):
    img = np.ascontiguousarray(photo[: shape[0], : shape[1]])
    c = codecs.get_codec(name)
    rec = c.decode(c.encode(img, c.levels[-1]))
    assert rec.shape == img.shape


@pytest.mark.parametrize("name", CONVENTIONAL)
def test_conventional_corrupt_bitstreams(name, photo):
    c = codecs.get_codec(name)
    data = c.encode(photo, c.levels[len(c.levels) // 2])
    for bad in (data[: len(data) // 3], data[:12], b"\0" * 40):
        with pytest.raises(CodecError):
            c.decode(bad)
    with pytest.raises(CodecError):
        codecs.decode_bytes(b"definitely not an image bitstream")


def test_ms_ssim_against_pytorch_msssim(photo):
    torch = pytest.importorskip("torch")
    pm = pytest.importorskip("pytorch_msssim")
    data = codecs.get_codec("jpeg").encode(photo, 20)
    rec = codecs.get_codec("jpeg").decode(data)
    big = np.ascontiguousarray(np.tile(photo, (2, 2, 1)))  # pytorch_msssim needs >160 px
    bigrec = np.ascontiguousarray(np.tile(rec, (2, 2, 1)))
    ref = pm.ms_ssim(torch.from_numpy(big).permute(2, 0, 1)[None].double(),
                     torch.from_numpy(bigrec).permute(2, 0, 1)[None].double(), data_range=255).item()
    ours = metrics.ms_ssim(big, bigrec)
    assert abs(ours - ref) < 0.01
    assert metrics.ms_ssim(photo, photo) == pytest.approx(1.0)
    assert metrics.psnr_rgb(photo, photo) == float("inf")


# ------------------------------------------------------------------ inputs

def test_ms_ssim_reference_made_once_scores_the_same(photo):
    rng = np.random.default_rng(3)
    ref = metrics.MsSsimReference(photo)
    for _ in range(3):
        d = np.clip(photo.astype(int) + rng.integers(-25, 26, photo.shape), 0, 255).astype(np.uint8)
        assert ref.score(d) == metrics.ms_ssim(photo, d) == metrics.ms_ssim(ref, d) < 1.0
    assert metrics.ms_ssim(ref, photo) == pytest.approx(1.0)
    with pytest.raises(ValueError):
        ref.score(photo[:-2])


def test_load_image_modes(tmp_path, photo):
    from PIL import Image

    gray = photo[..., 1]
    Image.fromarray(gray).save(tmp_path / "g.png")
    a = imageio.load_image(tmp_path / "g.png")
    assert a.shape == photo.shape and np.array_equal(a[..., 0], gray) and np.array_equal(a[..., 2], gray)

    rgba = np.dstack([photo, np.full(photo.shape[:2], 255, np.uint8)])
    Image.fromarray(rgba).save(tmp_path / "opaque.png")
    assert np.array_equal(imageio.load_image(tmp_path / "opaque.png"), photo)
    rgba[0, 0, 3] = 10
    Image.fromarray(rgba).save(tmp_path / "alpha.png")
    with pytest.raises(InputError, match="alpha"):
        imageio.load_image(tmp_path / "alpha.png")

    g16 = (gray.astype(np.uint16) * 257)
    Image.fromarray(g16).save(tmp_path / "g16.png")
    a16 = imageio.load_image(tmp_path / "g16.png")
    assert a16.dtype == np.uint8 and np.array_equal(a16[..., 0], gray)

    Image.fromarray(photo).convert("P").save(tmp_path / "pal.png")
    assert imageio.load_image(tmp_path / "pal.png").shape == photo.shape

    (tmp_path / "notes.txt").write_text("not an image at all")
    with pytest.raises(InputError, match="not a readable image"):
        imageio.load_image(tmp_path / "notes.txt")
    png = (tmp_path / "g.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(png[: len(png) // 2])
    with pytest.raises(InputError):
        imageio.load_image(tmp_path / "cut.png")
    with pytest.raises(InputError, match="no such image"):
        imageio.load_image(tmp_path / "missing.png")


def test_load_rgb48_png(tmp_path, photo):
    """A 16-bit RGB PNG (made by ffmpeg) reads as 8-bit RGB."""
    from pershot import ffmpeg

    h, w = photo.shape[:2]
    (tmp_path / "in.rgb").write_bytes((photo.astype("<u2") * 257).tobytes())
    ffmpeg.run(["-y", "-f", "rawvideo", "-pix_fmt", "rgb48le", "-s", f"{w}x{h}", "-i", str(tmp_path / "in.rgb"),
                "-frames:v", "1", "-pix_fmt", "rgb48be", str(tmp_path / "rgb48.png")])
    a = imageio.load_image(tmp_path / "rgb48.png")
    assert a.dtype == np.uint8 and a.shape == photo.shape
    assert np.abs(a.astype(int) - photo).max() <= 1


def test_size_limit(monkeypatch, photo):
    monkeypatch.setattr(imageio, "MAX_PIXELS", 1000)
    with pytest.raises(InputError, match="limit"):
        imageio.check_image(photo)
    with pytest.raises(InputError):
        imageio.check_image(np.zeros((4, 4, 2), np.uint8))


# ------------------------------------------------------------------ hull choice

def _pt(codec, level, bpp, psnr, dec):
    return ImageResult(codec=codec, level=level, width=10, height=10, bytes=int(bpp * 100 / 8), bpp=bpp,
                       psnr_rgb=psnr, psnr_y=psnr, ms_ssim=0.9, encode_cpu_s=0.1, decode_cpu_s=dec, kmac_per_px=None)


def test_choose_honours_complexity_cap():
    pts = [
        _pt("fast", 1, 0.2, 28.0, 0.01), _pt("fast", 2, 0.5, 31.0, 0.01), _pt("fast", 3, 1.0, 33.0, 0.01),
        _pt("mid", 1, 0.2, 29.5, 0.30), _pt("mid", 2, 0.5, 32.5, 0.30), _pt("mid", 3, 1.0, 35.0, 0.30),
        _pt("slow", 1, 0.2, 30.0, 1.00), _pt("slow", 2, 0.5, 33.5, 1.00), _pt("slow", 3, 1.0, 36.0, 1.00),
    ]
    for cap, want in [(None, "slow"), (1.0, "slow"), (0.5, "mid"), (0.3, "mid"), (0.1, "fast"), (0.01, "fast")]:
        r = choose(pts, target_bpp=0.6, complexity=cap)
        assert r.codec == want and r.level == 2 and r.chosen
        assert cap is None or r.complexity <= cap
    r = choose(pts, target_psnr=32.0, complexity=0.5)
    assert (r.codec, r.level) == ("mid", 2)
    r = choose(pts, target_psnr=32.0, complexity=0.05)
    assert (r.codec, r.level) == ("fast", 3)
    with pytest.raises(InfeasibleError) as ei:
        choose(pts, target_bpp=0.6, complexity=0.001)
    assert ei.value.min_feasible == pytest.approx(0.01)
    with pytest.raises(InfeasibleError, match="cheapest"):
        choose(pts, target_bpp=0.1)
    with pytest.raises(InfeasibleError, match="best is"):
        choose(pts, target_psnr=40, complexity=0.5)
    with pytest.raises(InputError):
        choose(pts, target_bpp=0.5, target_psnr=30)


def test_real_hull_choice_under_cap(photo):
    pts = rdc_points(photo, ["jpeg", "webp", "hevc"])
    assert max(p.complexity for p in pts) == pytest.approx(1.0)
    target = float(np.median([p.bpp for p in pts]))
    for cap in (1.0, 0.5, 0.2):
        feas = [p for p in pts if p.complexity <= cap]
        if not feas:
            with pytest.raises(InfeasibleError):
                choose(pts, target_bpp=target, complexity=cap)
            continue
        r = choose(pts, target_bpp=target, complexity=cap)
        assert r.complexity <= cap and r.bpp <= target
        # nothing cheaper than the target and within the cap is on the hull above it
        from pershot.hull import upper_hull

        hull = [feas[i] for i in upper_hull([p.bpp for p in feas], [p.psnr_rgb for p in feas])]
        assert r.psnr_rgb == max(p.psnr_rgb for p in hull if p.bpp <= target)


def test_code_image_among_given_codecs(photo):
    pts: list = []
    r = code_image(photo, target_psnr=30.0, codecs=["jpeg", "webp"], points=pts)
    assert r.codec in {"jpeg", "webp"} and r.psnr_rgb >= 30.0
    assert {p.codec for p in pts} == {"jpeg", "webp"}
    assert len(pts) == len(codecs.get_codec("jpeg").levels) + len(codecs.get_codec("webp").levels)
    # the choice over those points alone: the cheapest hull vertex at or above 30 dB
    best = choose([dataclasses.replace(p, chosen=False) for p in pts], target_psnr=30.0)
    assert (best.codec, best.level) == (r.codec, r.level)
    with pytest.raises(InputError, match="not both"):
        code_image(photo, "jpeg", target_psnr=30.0, codecs=["webp"])
    with pytest.raises(InputError, match="empty"):
        code_image(photo, target_psnr=30.0, codecs=[])


def test_code_image_bytes_match_file(tmp_path, photo):
    r = code_image(photo, codec="webp", level=50)
    assert r.bytes == len(r.data) and r.bpp == pytest.approx(8 * len(r.data) / (97 * 121))
    assert r.psnr_rgb == pytest.approx(metrics.psnr_rgb(photo, r.decoded))
    with pytest.raises(InputError):
        code_image(photo, level=3)
    with pytest.raises(InputError):
        code_image(photo)
    with pytest.raises(InputError):
        code_image(photo, codec="jpeg", level=7)


# ------------------------------------------------------------------ CLI and lazy imports

def _cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pershot.cli", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=300)


def test_cli_image_decode_codecs(tmp_path, photo):
    from PIL import Image

    Image.fromarray(photo).save(tmp_path / "in.png")
    r = _cli("image", str(tmp_path / "in.png"), "--codec", "hevc", "--level", "20", "-o", str(tmp_path / "out"))
    assert r.returncode == 0, r.stderr
    bit = tmp_path / "out" / "in.psi"
    rows = (tmp_path / "out" / "image.csv").read_text().splitlines()
    head, row = rows[0].split(","), dict(zip(rows[0].split(","), rows[1].split(",")))
    assert head[:4] == ["codec", "level", "bytes", "bpp"]
    assert int(row["bytes"]) == bit.stat().st_size
    assert float(row["bpp"]) == pytest.approx(8 * bit.stat().st_size / (97 * 121), rel=1e-5)
    r = _cli("decode", str(bit), "-o", str(tmp_path / "dec.png"))
    assert r.returncode == 0, r.stderr
    assert np.array_equal(imageio.load_image(tmp_path / "dec.png"), imageio.load_image(tmp_path / "out" / "in.decoded.png"))
    # errors: one line, the error's exit code
    bad = tmp_path / "bad.psi"
    data = bytearray(bit.read_bytes())
    data[-10] ^= 0xFF
    bad.write_bytes(bytes(data))
    r = _cli("decode", str(bad), "-o", str(tmp_path / "x.png"))
    assert r.returncode == 8 and r.stderr.strip().count("\n") == 0 and "corrupted" in r.stderr
    r = _cli("image", str(tmp_path / "nope.png"), "--codec", "jpeg", "--level", "50", "-o", str(tmp_path / "o"))
    assert r.returncode == 2 and r.stderr.startswith("pershot: error:")
    r = _cli("image", str(tmp_path / "in.png"), "--target-bpp", "0.0001", "--codec", "jpeg", "-o", str(tmp_path / "o"))
    assert r.returncode == 7 and "cheapest" in r.stderr


def test_listing_does_not_import_torch():
    code = textwrap.dedent("""
        import json, sys, io, contextlib
        import pershot
        from pershot import cli, codecs
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            assert cli.main(["codecs", "--json"]) == 0
        doc = json.loads(buf.getvalue())
        names = [c["name"] for c in doc["codecs"]]
        assert "lic-hyperprior" in names and "jpeg" in names
        cli.build_parser()
        import pershot.shots, pershot.api
        pershot.image_codecs()
        print(json.dumps({"torch": "torch" in sys.modules, "compressai": "compressai" in sys.modules}))
    """)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout.strip().splitlines()[-1]) == {"torch": False, "compressai": False}


def test_conventional_coding_does_not_import_torch(tmp_path, photo):
    from PIL import Image

    Image.fromarray(photo).save(tmp_path / "in.png")
    code = textwrap.dedent(f"""
        import sys
        from pershot import api
        r = api.code_image({str(tmp_path / 'in.png')!r}, codec="jpeg", level=40)
        assert r.bytes > 0
        print("torch" in sys.modules)
    """)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "False"


def test_cli_image_bad_options_before_any_coding_and_nothing_lost(tmp_path, photo, monkeypatch, capsys):
    """Found by a review: --complexity out of range was refused only after every point was measured; the same
    codec named twice was measured twice (two rows chosen); an output folder holding the input overwrote it;
    an unreachable target threw away what was measured; decode wrote PNG data under any name."""
    from PIL import Image

    from pershot import cli
    from pershot.codecs import select

    Image.fromarray(photo).save(tmp_path / "in.jpg", quality=90)
    before = (tmp_path / "in.jpg").read_bytes()
    real = select.measure
    monkeypatch.setattr(select, "measure", lambda *a, **k: pytest.fail("a point was measured"))
    for c in ("1.5", "0", "nan"):
        assert cli.main(["image", str(tmp_path / "in.jpg"), "--target-bpp", "1", "--complexity", c,
                         "-o", str(tmp_path / "o")]) == 2
    monkeypatch.setattr(select, "measure", real)
    # the input's own folder: the re-encode would replace it
    assert cli.main(["image", str(tmp_path / "in.jpg"), "--codec", "jpeg", "--level", "50",
                     "-o", str(tmp_path)]) == 2
    assert (tmp_path / "in.jpg").read_bytes() == before and "overwritten" in capsys.readouterr().err
    assert cli.main(["image", str(tmp_path / "in.jpg"), "--target-bpp", "2", "--codecs", "jpeg,jpeg",
                     "-o", str(tmp_path / "d"), "-q"]) == 0
    rows = (tmp_path / "d" / "image.csv").read_text().splitlines()[1:]
    assert len(rows) == len(codecs.get_codec("jpeg").levels) and sum(r.endswith(",1") for r in rows) == 1
    # an unreachable target: exit 7, and image.csv still holds every measured point
    assert cli.main(["image", str(tmp_path / "in.jpg"), "--target-bpp", "0.0001", "--codecs", "jpeg",
                     "-o", str(tmp_path / "u"), "-q"]) == 7
    assert len((tmp_path / "u" / "image.csv").read_text().splitlines()) == 1 + len(codecs.get_codec("jpeg").levels)
    bit = tmp_path / "d" / "in.jpg"  # the chosen JPEG
    assert bit.is_file()
    capsys.readouterr()
    assert cli.main(["decode", str(bit), "-o", str(tmp_path / "x.jpg")]) == 2
    assert "writes PNG" in capsys.readouterr().err and not (tmp_path / "x.jpg").exists()
    (tmp_path / "adir.png").mkdir()
    assert cli.main(["decode", str(bit), "-o", str(tmp_path / "adir.png")]) == 2
    assert "is a folder" in capsys.readouterr().err


def test_a_decoder_that_times_out_is_not_called_a_corrupt_bitstream(photo, monkeypatch):
    """The decoder's last line stands for its log in a corrupt bitstream's error; a decoder killed at its
    time limit leaves no such line, and says so (found by a review: it was reported as corrupt)."""
    from pershot.codecs import conventional

    c = codecs.get_codec("jxl")
    if not c.available():
        pytest.skip(f"jxl: {c.unavailable_reason()}")
    data = c.encode(photo, c.levels[0])
    with pytest.raises(CodecError, match="truncated or corrupted: ") as ei:
        c.decode(data[: len(data) // 3])
    assert len(str(ei.value)) < 300
    monkeypatch.setattr(conventional, "DECODE_TIMEOUT_S", 1e-4)
    with pytest.raises(CodecError, match="timed out") as ei:
        c.decode(data)
    assert "corrupted" not in str(ei.value)


# ------------------------------------------------------------------ audit fixes (inputs, plugins, weights folders)

def test_exif_orientation_is_applied(tmp_path):
    """A camera's JPEG stored sideways (EXIF Orientation 6) is coded as a viewer shows it, not as stored."""
    from PIL import Image, ImageOps

    rng = np.random.default_rng(1)
    stored = np.repeat(np.repeat(rng.integers(0, 256, (6, 10, 3), dtype=np.uint8), 16, 0), 16, 1)  # 96x160
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    Image.fromarray(stored).save(tmp_path / "cam.jpg", quality=95, exif=exif.tobytes())
    got = imageio.load_image(tmp_path / "cam.jpg")
    with Image.open(tmp_path / "cam.jpg") as im:
        shown = np.asarray(ImageOps.exif_transpose(im).convert("RGB"))
    assert got.shape == (160, 96, 3) == shown.shape and np.array_equal(got, shown)
    # the same pixels, turned: the stored top row is the displayed right column
    assert np.abs(got[:, -1].astype(int) - np.asarray(Image.open(tmp_path / "cam.jpg"))[0]).mean() < 8
    # an image without the tag is read as stored
    Image.fromarray(stored).save(tmp_path / "plain.png")
    assert np.array_equal(imageio.load_image(tmp_path / "plain.png"), stored)


_RAISING_PLUGIN = '''
import numpy as np
from pershot.codecs import ImageCodec, container

class Raises(ImageCodec):
    name = "raises-reason"
    levels = (1, 2)
    extension = ".psi"
    description = "its unavailable_reason raises"
    def unavailable_reason(self):
        raise RuntimeError("boom in unavailable_reason")
    def encode(self, image, level):
        raise AssertionError("never used")
    def decode(self, data):
        raise AssertionError("never used")
'''


def test_a_plugin_whose_unavailable_reason_raises_breaks_nothing(tmp_path, monkeypatch, capsys):
    """Listing (`pershot codecs`, pershot.image_codecs()) and the choice among every codec call each codec's
    unavailable_reason(): one that raises is an unusable codec with the exception as its reason, one warning."""
    import pershot
    from pershot import cli

    (tmp_path / "pershot_raising_plugin.py").write_text(_RAISING_PLUGIN)
    di = tmp_path / "pershot_raising_plugin-0.1.dist-info"
    di.mkdir()
    (di / "METADATA").write_text("Metadata-Version: 2.1\nName: pershot-raising-plugin\nVersion: 0.1\n")
    (di / "entry_points.txt").write_text("[pershot.codecs]\nraises = pershot_raising_plugin:Raises\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    codecs.reload()
    try:
        info = {i.name: i for i in pershot.image_codecs()}
        assert not info["raises-reason"].available and "boom in unavailable_reason" in info["raises-reason"].reason
        assert info["jpeg"].available
        assert "raises-reason" not in codecs.codec_names(available_only=True)
        assert all(c.name != "raises-reason" for c in codecs.iter_codecs(available_only=True))
        with pytest.raises(CodecError, match="boom"):
            codecs.get_codec("raises-reason")
        assert cli.main(["codecs"]) == 0
        out, err = capsys.readouterr()
        assert "raises-reason" in out and err.count("boom in unavailable_reason") == 1 and "Traceback" not in err
        from pershot.codecs import select

        chosen_among = {c.name for c in select.candidates(16, 16)}  # a choice among every usable codec
        assert "jpeg" in chosen_among and "raises-reason" not in chosen_among
    finally:
        monkeypatch.delitem(sys.modules, "pershot_raising_plugin", raising=False)
        codecs.reload()


def _manifest(folder: Path, models: dict) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    doc = {"format": 1, "models": {key: {"file": f"{key}.pt", "sha256": "0" * 64, "arch": arch, "lmbdas": [0.01, 0.02],
                                         "decoders": {f"lic-{key}": "full",
                                                      **({f"lic-{key}-lite": "lite"} if arch == "hyperprior" else {})}}
                                   for key, arch in models.items()}}
    (folder / "manifest.json").write_text(json.dumps(doc))


def test_weights_folders_shadowed_models_and_bad_manifests_are_warned(tmp_path, monkeypatch, capsys):
    """A user model whose codec name an earlier model has is never used, and a folder whose manifest.json
    cannot be read is skipped: `pershot codecs` says so for each, naming the folder."""
    from pershot import cli
    from pershot.codecs import learned

    _manifest(tmp_path / "a", {"hyperprior": "factorized"})  # lic-hyperprior: the shipped model has it
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "manifest.json").write_text("{bad")
    _manifest(tmp_path / "c", {"x": "hyperprior", "x-lite": "factorized"})  # lic-x-lite twice in one folder
    _manifest(tmp_path / "d", {"fine": "factorized"})
    dirs = [tmp_path / n for n in "abcd"]
    monkeypatch.setenv(learned.ENV_WEIGHTS, os.pathsep.join(map(str, dirs)))
    codecs.reload()
    try:
        errs = codecs.plugin_errors()
        assert any(str(dirs[0]) in e and "'hyperprior'" in e and "lic-hyperprior" in e and "shipped" in e
                   for e in errs), errs
        assert any(str(dirs[1]) in e and "manifest.json" in e for e in errs), errs
        assert any(str(dirs[2]) in e and "'x-lite'" in e and "lic-x-lite" in e for e in errs), errs
        assert not any(str(dirs[3]) in e for e in errs)
        used = {c.name: c for c in codecs.iter_codecs()}
        assert used["lic-hyperprior"].entry.file.parent == learned.WEIGHTS_DIR
        assert used["lic-x-lite"].entry.key == "x" and "lic-fine" in used
        assert cli.main(["codecs"]) == 0
        err = capsys.readouterr().err
        assert err.count("pershot: warning: weights folder") == 3, err
        with pytest.raises(ConfigError, match="manifest"):  # the codec asked for may be in the unreadable folder
            codecs.get_codec("lic-elsewhere")
    finally:
        monkeypatch.delenv(learned.ENV_WEIGHTS)
        codecs.reload()


def test_learned_codec_without_torch_is_the_missing_dependency_exit_code(tmp_path, monkeypatch, capsys, photo):
    """Without torch or compressai, naming a learned codec or decoding its bitstream is exit 9 (a missing
    dependency, as train-codec says), not 8 (a bad bitstream)."""
    from PIL import Image

    from pershot import cli
    from pershot.codecs import learned
    from pershot.errors import MissingDependencyError

    monkeypatch.setattr(learned, "_missing_deps", lambda: "needs torch (install the 'learned' extra)")
    codecs.reload()
    try:
        Image.fromarray(photo).save(tmp_path / "in.png")
        assert cli.main(["image", str(tmp_path / "in.png"), "--codec", "lic-hyperprior", "--level", "2",
                         "-o", str(tmp_path / "o")]) == 9
        entry = next(e for e in learned.read_manifest(learned.WEIGHTS_DIR) if "lic-factorized" in e.decoders)
        psi = tmp_path / "x.psi"
        psi.write_bytes(container.pack(container.Bitstream(codec="lic-factorized", level=1, width=16, height=16,
                                                           chunks=(b"\0" * 8,),
                                                           weights_tag=bytes.fromhex(entry.sha256[:8]))))
        assert cli.main(["decode", str(psi), "-o", str(tmp_path / "x.png")]) == 9
        err = capsys.readouterr().err
        assert err.count("needs torch") == 2 and not (tmp_path / "x.png").exists()
        with pytest.raises(MissingDependencyError):
            codecs.get_codec("lic-factorized")
    finally:
        monkeypatch.undo()
        codecs.reload()
