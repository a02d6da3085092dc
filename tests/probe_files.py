"""Hand-made files that probe the decoders, shared by the tests that need them."""

from __future__ import annotations

import struct
import zlib


def png_declaring(width: int, height: int) -> bytes:
    """A small PNG whose header declares ``width`` x ``height`` (Pillow's bomb case)."""
    def chunk(kind, body):
        return (struct.pack(">I", len(body)) + kind + body
                + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
            + chunk(b"IDAT", zlib.compress(b"\x00" * 4096)) + chunk(b"IEND", b""))


def failing_on(data: bytes, run):
    """``run`` (a DALI decoder's method taking encoded buffers) raising DALI's error for any
    run that holds ``data``, as DALI does for a file it cannot decode."""
    def failing(self, encoded):
        if any(e.tobytes() == data for e in encoded):
            raise RuntimeError("Critical error in pipeline: nvImageCodec failure")
        return run(self, encoded)
    return failing
