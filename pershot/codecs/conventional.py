"""Conventional image codecs: JPEG, WebP and AVIF through Pillow, HEVC intra and
JPEG XL through the embedded ffmpeg.

Levels are integers where higher means more bits:

==========  =====================================  ==========================
codec       level                                  file
==========  =====================================  ==========================
jpeg        libjpeg quality (4:2:0, optimised)     .jpg (native)
webp        libwebp quality (method 6)             .webp (native)
avif        libavif quality, libaom, 4:2:0         .avif (native)
jxl         quality, mapped to libjxl's distance   .jxl (native)
hevc        51 - QP, x265 preset medium, 4:2:0     .psi (container: raw HEVC
                                                   needs even sizes, so the
                                                   image is padded and the
                                                   container records the crop)
==========  =====================================  ==========================

CPU time: Pillow codecs are timed in-process (``time.process_time``, all
threads; libavif is limited to one thread); ffmpeg codecs by the child's own
rusage (``os.wait4``), which includes ffmpeg's RGB<->YUV conversion (small next
to the codec) but not Python's.
"""
from __future__ import annotations

import io
import tempfile
from pathlib import Path

import numpy as np

from .. import ffmpeg
from ..errors import CodecError, FFmpegError, MissingDependencyError
from . import ImageCodec, container
from .imageio import check_image, pad_to_multiple


def _pil_features() -> dict[str, bool]:
    from PIL import features

    return {k: bool(features.check(k)) for k in ("jpg", "webp", "avif")}


class _PillowCodec(ImageCodec):
    fmt = ""
    feature = ""

    def unavailable_reason(self) -> str | None:
        try:
            ok = _pil_features().get(self.feature, False)
        except Exception as ex:  # noqa: BLE001
            return f"Pillow features unreadable: {ex}"
        return None if ok else f"this Pillow has no {self.feature} support"

    def _save_kwargs(self, level: int) -> dict:  # pragma: no cover - interface
        raise NotImplementedError

    def encode(self, image: np.ndarray, level: int) -> bytes:
        from PIL import Image

        img = check_image(image)
        lv = self.check_level(level)
        buf = io.BytesIO()
        try:
            Image.fromarray(img).save(buf, self.fmt, **self._save_kwargs(lv))
        except (OSError, ValueError) as ex:
            raise CodecError(f"{self.name} encoding failed: {ex}") from ex
        return buf.getvalue()

    def decode(self, data: bytes) -> np.ndarray:
        from PIL import Image

        if not self.sniff(data):
            raise CodecError(f"not a {self.name} bitstream")
        try:
            with Image.open(io.BytesIO(data), formats=[self.fmt]) as im:
                im.load()
                if im.mode != "RGB":
                    im = im.convert("RGB")
                return np.ascontiguousarray(np.asarray(im))
        except (OSError, ValueError, SyntaxError, EOFError) as ex:
            msg = str(ex).splitlines()[0] if str(ex) else type(ex).__name__
            raise CodecError(f"{self.name} bitstream is truncated or corrupted: {msg}") from ex


class JpegCodec(_PillowCodec):
    name = "jpeg"
    description = "JPEG (libjpeg-turbo via Pillow, 4:2:0, optimised Huffman tables)"
    levels = (5, 10, 15, 20, 30, 40, 50, 60, 70, 80, 90, 95)
    extension = ".jpg"
    fmt = "JPEG"
    feature = "jpg"

    def _save_kwargs(self, level: int) -> dict:
        return {"quality": level, "optimize": True, "subsampling": 2}

    def sniff(self, data: bytes) -> bool:
        return data[:3] == b"\xff\xd8\xff"


class WebpCodec(_PillowCodec):
    name = "webp"
    description = "WebP lossy (libwebp via Pillow, method 6)"
    levels = (5, 10, 20, 30, 40, 50, 60, 70, 80, 90, 95)
    extension = ".webp"
    fmt = "WEBP"
    feature = "webp"

    def _save_kwargs(self, level: int) -> dict:
        return {"quality": level, "method": 6}

    def sniff(self, data: bytes) -> bool:
        return data[:4] == b"RIFF" and data[8:12] == b"WEBP"


class AvifCodec(_PillowCodec):
    name = "avif"
    description = "AVIF still (libavif + libaom via Pillow, 4:2:0, speed 6, 1 thread)"
    levels = (10, 20, 30, 40, 50, 60, 70, 80, 90)
    extension = ".avif"
    fmt = "AVIF"
    feature = "avif"

    def _save_kwargs(self, level: int) -> dict:
        return {"quality": level, "speed": 6, "subsampling": "4:2:0", "max_threads": 1, "codec": "aom"}

    def sniff(self, data: bytes) -> bool:
        return data[4:8] == b"ftyp" and data[8:12] in (b"avif", b"avis", b"mif1", b"msf1")

    def decode(self, data: bytes) -> np.ndarray:
        from PIL import Image

        if not self.sniff(data):
            raise CodecError("not an avif bitstream")
        try:
            with Image.open(io.BytesIO(data), formats=["AVIF"]) as im:
                im.load()
                return np.ascontiguousarray(np.asarray(im.convert("RGB")))
        except (OSError, ValueError, SyntaxError, EOFError) as ex:
            msg = str(ex).splitlines()[0] if str(ex) else type(ex).__name__
            raise CodecError(f"avif bitstream is truncated or corrupted: {msg}") from ex


# ------------------------------------------------------------------ ffmpeg codecs

#: an ffmpeg decode of one image that runs longer than this is a broken bitstream
DECODE_TIMEOUT_S = 120.0

def _parse_pam(buf: bytes, what: str) -> np.ndarray:
    end = buf.find(b"ENDHDR\n")
    if not buf.startswith(b"P7\n") or end < 0:
        raise CodecError(f"{what}: decoder produced no image")
    fields: dict[str, str] = {}
    for line in buf[3:end].decode("ascii", "replace").splitlines():
        parts = line.split(None, 1)
        if len(parts) == 2:
            fields[parts[0]] = parts[1].strip()
    try:
        w, h, d = int(fields["WIDTH"]), int(fields["HEIGHT"]), int(fields["DEPTH"])
    except (KeyError, ValueError) as ex:
        raise CodecError(f"{what}: decoder produced a malformed image header") from ex
    body = buf[end + 7:]
    if d != 3 or len(body) < w * h * 3:
        raise CodecError(f"{what}: decoder produced a short image (truncated or corrupted bitstream)")
    return np.frombuffer(body[: w * h * 3], np.uint8).reshape(h, w, 3).copy()


class _FFmpegCodec(ImageCodec):
    encoder = ""

    def unavailable_reason(self) -> str | None:
        try:
            if not ffmpeg.has_encoder(self.encoder):
                return f"the ffmpeg at {ffmpeg.ffmpeg_path()} has no {self.encoder} encoder"
        except (MissingDependencyError, FFmpegError) as ex:
            return str(ex)
        return None

    def _enc_args(self, level: int) -> list[str]:  # pragma: no cover - interface
        raise NotImplementedError

    def _run_encode(self, img: np.ndarray, level: int, out_fmt: list[str]) -> tuple[bytes, float]:
        h, w = img.shape[:2]
        with tempfile.TemporaryDirectory(prefix="pershot-img-") as td:
            src = Path(td) / "in.rgb"
            src.write_bytes(img.tobytes())
            dst = Path(td) / ("out" + self.extension)
            res = ffmpeg.run(["-y", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{w}x{h}", "-i", str(src),
                              "-frames:v", "1", *self._enc_args(level), *out_fmt, str(dst)],
                             what=f"{self.name} encoding failed")
            try:
                data = dst.read_bytes()
            except OSError as ex:
                raise CodecError(f"{self.name} encoder wrote no output") from ex
        if not data:
            raise CodecError(f"{self.name} encoder wrote an empty bitstream")
        return data, res.cpu_s

    def _run_decode(self, payload: bytes, in_fmt: list[str], suffix: str) -> tuple[np.ndarray, float]:
        with tempfile.TemporaryDirectory(prefix="pershot-img-") as td:
            src = Path(td) / ("in" + suffix)
            src.write_bytes(payload)
            try:
                # -xerror: stop at the first decoding error (libjxl otherwise loops on a truncated file)
                res = ffmpeg.run(["-xerror", *in_fmt, "-i", str(src), "-frames:v", "1", "-f", "image2pipe",
                                  "-c:v", "pam", "-pix_fmt", "rgb24", "-"], capture_stdout=True,
                                 timeout=DECODE_TIMEOUT_S, what=f"{self.name} decoding failed")
            except FFmpegError as ex:  # the decoder's last word, not its whole log
                last = [line for line in ex.stderr.strip().splitlines() if line.strip()][-1:]
                if (ex.returncode is not None and ex.returncode < 0) or not last:  # killed, timed out, not started
                    raise CodecError(f"{self.name} decoding failed: {ex}") from ex
                raise CodecError(f"{self.name} bitstream is truncated or corrupted: {last[0].strip()[:200]}") from ex
        return _parse_pam(res.stdout, self.name), res.cpu_s

    def encode(self, image: np.ndarray, level: int) -> bytes:
        return self.encode_timed(image, level)[0]

    def decode(self, data: bytes) -> np.ndarray:
        return self.decode_timed(data)[0]


class JxlCodec(_FFmpegCodec):
    name = "jxl"
    description = "JPEG XL (libjxl via ffmpeg, effort 7)"
    levels = (10, 20, 30, 40, 50, 60, 70, 80, 90, 95)
    extension = ".jxl"
    encoder = "libjxl"

    @staticmethod
    def distance(quality: int) -> float:
        """libjxl's quality-to-distance mapping (as cjxl -q)."""
        q = float(quality)
        if q >= 30:
            return max(0.1 + (100 - q) * 0.09, 0.0)
        return 6.4 + 2.5 ** ((30 - q) / 5.0) / 6.25

    def _enc_args(self, level: int) -> list[str]:
        return ["-c:v", "libjxl", "-distance", f"{self.distance(level):.4f}", "-effort", "7"]

    def sniff(self, data: bytes) -> bool:
        return data[:2] == b"\xff\x0a" or data[:12] == b"\x00\x00\x00\x0cJXL \r\n\x87\n"

    def encode_timed(self, image: np.ndarray, level: int) -> tuple[bytes, float]:
        img = check_image(image)
        lv = self.check_level(level)
        return self._run_encode(img, lv, ["-f", "image2", "-update", "1"])

    def decode_timed(self, data: bytes) -> tuple[np.ndarray, float]:
        if not self.sniff(data):
            raise CodecError("not a JPEG XL bitstream")
        return self._run_decode(data, ["-f", "jpegxl_pipe"], ".jxl")


class HevcCodec(_FFmpegCodec):
    name = "hevc"
    description = "HEVC intra (x265 via ffmpeg, preset medium, 4:2:0, fixed QP = 51 - level)"
    levels = (9, 13, 17, 20, 23, 26, 29, 32, 35)
    extension = container.EXTENSION
    encoder = "libx265"
    preset = "medium"

    def _enc_args(self, level: int) -> list[str]:
        return ["-c:v", "libx265", "-preset", self.preset, "-qp", str(51 - level),
                "-x265-params", "log-level=error:keyint=1:info=0", "-pix_fmt", "yuv420p"]

    def encode_timed(self, image: np.ndarray, level: int) -> tuple[bytes, float]:
        img = check_image(image)
        lv = self.check_level(level)
        h, w = img.shape[:2]
        # 4:2:0 needs even sides; x265 also dislikes pictures smaller than a CTU row of 8x8 blocks
        padded, pb, pr = pad_to_multiple(img, 2)
        if padded.shape[0] < 16 or padded.shape[1] < 16:
            eh, ew = max(0, 16 - padded.shape[0]), max(0, 16 - padded.shape[1])
            padded = np.pad(padded, ((0, eh), (0, ew), (0, 0)), mode="edge")
            pb, pr = pb + eh, pr + ew
        payload, cpu = self._run_encode(padded, lv, ["-f", "hevc"])
        data = container.pack(container.Bitstream(codec=self.name, level=lv, width=w, height=h,
                                                  pad_bottom=pb, pad_right=pr, chunks=(payload,)))
        return data, cpu

    def decode_timed(self, data: bytes) -> tuple[np.ndarray, float]:
        bs = container.unpack(data)
        if bs.codec != self.name or len(bs.chunks) != 1:
            raise CodecError(f"not an {self.name} bitstream")
        img, cpu = self._run_decode(bs.chunks[0], ["-f", "hevc"], ".hevc")
        ph, pw = bs.height + bs.pad_bottom, bs.width + bs.pad_right
        if img.shape[:2] != (ph, pw):
            raise CodecError(f"hevc bitstream decodes to {img.shape[1]}x{img.shape[0]}, header says {pw}x{ph}")
        return np.ascontiguousarray(img[: bs.height, : bs.width]), cpu


def builtin_codecs() -> list[ImageCodec]:
    return [JpegCodec(), WebpCodec(), AvifCodec(), JxlCodec(), HevcCodec()]


__all__ = ["JpegCodec", "WebpCodec", "AvifCodec", "JxlCodec", "HevcCodec", "builtin_codecs"]
