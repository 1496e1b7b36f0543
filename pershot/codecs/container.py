"""pershot's self-describing image bitstream file (``.psi``).

Learned codecs (and conventional ones whose raw bitstream is not a standalone
image file, like HEVC intra) store their payload in this container, so that
``pershot decode FILE`` needs nothing but the file and the installed weights.

Layout, version 1 (all integers unsigned; ``varint`` is LEB128)::

    magic        4 bytes   b"PSIC"
    version      1 byte    1
    name_len     1 byte    1..64
    codec        name_len  codec name, ASCII
    weights_tag  4 bytes   first 4 bytes of the weights' SHA-256 (zeros: no weights)
    level        varint    the codec level the image was coded at
    width        varint    image width  (1..65535 * 4)
    height       varint    image height
    pad_bottom   varint    rows added below before coding (cropped after decoding)
    pad_right    varint    columns added on the right
    n_chunks     varint    number of payload chunks (0..16)
    n_chunks x ( length varint, bytes )
    crc32        4 bytes   CRC-32 (big-endian) of everything above

The CRC makes a truncated or corrupted file a clear error instead of a silent
garbage image (an entropy decoder happily decodes random bytes).
"""
from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

from ..errors import CodecError

MAGIC = b"PSIC"
VERSION = 1
MAX_SIDE = 1 << 18
MAX_CHUNKS = 16
EXTENSION = ".psi"


@dataclass(frozen=True)
class Bitstream:
    codec: str
    level: int
    width: int
    height: int
    pad_bottom: int = 0
    pad_right: int = 0
    chunks: tuple[bytes, ...] = ()
    weights_tag: bytes = b"\0\0\0\0"
    version: int = VERSION


def is_container(data: bytes) -> bool:
    return data[:4] == MAGIC


def _varint(n: int) -> bytes:
    if n < 0:
        raise ValueError("varint must be >= 0")
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def pack(bs: Bitstream) -> bytes:
    name = bs.codec.encode("ascii")
    if not 1 <= len(name) <= 64:
        raise CodecError(f"codec name must be 1..64 ASCII characters: {bs.codec!r}")
    if len(bs.weights_tag) != 4:
        raise CodecError("weights tag must be 4 bytes")
    if not (1 <= bs.width <= MAX_SIDE and 1 <= bs.height <= MAX_SIDE):
        raise CodecError(f"image size out of range: {bs.width}x{bs.height}")
    if len(bs.chunks) > MAX_CHUNKS:
        raise CodecError(f"too many payload chunks: {len(bs.chunks)}")
    out = bytearray(MAGIC)
    out.append(VERSION)
    out.append(len(name))
    out += name
    out += bs.weights_tag
    for v in (bs.level, bs.width, bs.height, bs.pad_bottom, bs.pad_right, len(bs.chunks)):
        out += _varint(int(v))
    for c in bs.chunks:
        out += _varint(len(c))
        out += c
    out += struct.pack(">I", zlib.crc32(out) & 0xFFFFFFFF)
    return bytes(out)


class _Reader:
    def __init__(self, data: bytes, end: int):
        self.data = data
        self.pos = 0
        self.end = end

    def take(self, n: int) -> bytes:
        if self.pos + n > self.end:
            raise CodecError("bitstream is truncated")
        b = self.data[self.pos: self.pos + n]
        self.pos += n
        return b

    def varint(self) -> int:
        n = 0
        shift = 0
        while True:
            b = self.take(1)[0]
            n |= (b & 0x7F) << shift
            if not b & 0x80:
                return n
            shift += 7
            if shift > 35:
                raise CodecError("bitstream is corrupted (bad integer field)")


def unpack(data: bytes) -> Bitstream:
    """Parse and check a container; raise CodecError on anything wrong."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise CodecError("bitstream must be bytes")
    data = bytes(data)
    if data[:4] != MAGIC:
        raise CodecError("not a pershot image bitstream (bad magic)")
    if len(data) < 4 + 1 + 1 + 1 + 4 + 6 + 4:
        raise CodecError("bitstream is truncated")
    version = data[4]
    if version != VERSION:
        raise CodecError(f"bitstream format version {version} is not supported (this pershot reads version {VERSION})")
    (crc,) = struct.unpack(">I", data[-4:])
    if zlib.crc32(data[:-4]) & 0xFFFFFFFF != crc:
        raise CodecError("bitstream is truncated or corrupted (CRC mismatch)")
    r = _Reader(data, len(data) - 4)
    r.take(5)
    n = r.take(1)[0]
    try:
        codec = r.take(n).decode("ascii")
    except UnicodeDecodeError as ex:
        raise CodecError("bitstream is corrupted (codec name)") from ex
    tag = r.take(4)
    level, width, height, pb, pr, nch = (r.varint() for _ in range(6))
    if not (1 <= width <= MAX_SIDE and 1 <= height <= MAX_SIDE) or pb > 4096 or pr > 4096 or nch > MAX_CHUNKS:
        raise CodecError("bitstream is corrupted (header fields out of range)")
    chunks = tuple(r.take(r.varint()) for _ in range(nch))
    if r.pos != r.end:
        raise CodecError("bitstream is corrupted (trailing bytes)")
    return Bitstream(codec=codec, level=level, width=width, height=height, pad_bottom=pb, pad_right=pr,
                     chunks=chunks, weights_tag=tag, version=version)
