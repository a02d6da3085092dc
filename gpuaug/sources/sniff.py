"""What a JPEG or PNG file declares in its first bytes: size, channels, sample depth.

The DALI decoder reads it before decoding, to send DALI only the files whose pixels are
known to equal Pillow's (8-bit baseline or progressive JPEG with 1 or 3 components,
8-bit PNG in grayscale, RGB, palette or RGBA) and every other file to Pillow itself, and
to refuse a decompression bomb (Pillow's ``MAX_IMAGE_PIXELS`` rule) before DALI
allocates it.  Pillow's own ``Image.open`` reads the same fields but parses a JPEG's
markers in Python (~65 us a file, a sixth of a 256-image batch's decode time on a GPU);
this reads the two fixed-layout headers only, in a few microseconds.  It decodes
nothing; anything it does not recognise goes to Pillow.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Optional

from PIL import Image

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: JPEG start-of-frame markers (ITU T.81 table B.1): every SOFn but DHT, JPG and DAC.
_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_BASELINE_OR_PROGRESSIVE = frozenset({0xC0, 0xC1, 0xC2})  # Huffman-coded, the usual kinds
_NO_LENGTH = frozenset({0x01, *range(0xD0, 0xD9)})  # TEM, RSTn, SOI: no length field
_DALI_PNG_COLOUR_TYPES = frozenset({0, 2, 3, 6})  # grayscale, RGB, palette, RGBA


@dataclass(frozen=True)
class Header:
    """A file's declared geometry: ``format`` "jpeg" or "png", size, channels, bits a sample.

    ``kind``: the JPEG frame marker or the PNG colour type.
    """

    format: str
    height: int
    width: int
    bits: int
    kind: int
    channels: int = 0

    @property
    def dali_equals_pillow(self) -> bool:
        """Whether DALI's RGB decode of this file is Pillow's, pixel for pixel (tested)."""
        if self.format == "jpeg":
            return (self.kind in _BASELINE_OR_PROGRESSIVE and self.bits == 8
                    and self.channels in (1, 3))
        return self.bits == 8 and self.kind in _DALI_PNG_COLOUR_TYPES


def sniff(data: bytes) -> Optional[Header]:
    """The header of a JPEG or PNG file's bytes; None for anything else or a damaged header."""
    if data[:8] == _PNG_SIGNATURE:
        return _png(data)
    if data[:3] == b"\xff\xd8\xff":
        return _jpeg(data)
    return None


def _png(data: bytes) -> Optional[Header]:
    # The IHDR chunk comes first: length, b"IHDR", width, height, bit depth, colour type.
    if len(data) < 26 or data[12:16] != b"IHDR":
        return None
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    return Header("png", height, width, bits=data[24], kind=data[25])


def _jpeg(data: bytes) -> Optional[Header]:
    """The first frame header, walking the marker segments from the start of the image."""
    i, n = 2, len(data)
    while i + 4 <= n:
        if data[i] != 0xFF:
            return None  # not a marker where one must be: damaged
        marker = data[i + 1]
        if marker == 0xFF:  # a fill byte
            i += 1
        elif marker in _NO_LENGTH:
            i += 2
        elif marker in (0xD9, 0xDA):  # end of image, or scan data before any frame header
            return None
        elif marker in _SOF:
            if i + 10 > n:
                return None
            return Header("jpeg", height=int.from_bytes(data[i + 5:i + 7], "big"),
                          width=int.from_bytes(data[i + 7:i + 9], "big"), bits=data[i + 4],
                          kind=marker, channels=data[i + 9])
        else:
            i += 2 + int.from_bytes(data[i + 2:i + 4], "big")
    return None


def check_pixels(header: Header) -> None:
    """Pillow's decompression-bomb rule on the declared size, before anything is decoded.

    Over ``Image.MAX_IMAGE_PIXELS`` (read at each call, as Pillow does): a
    ``DecompressionBombWarning``; over twice that: ``DecompressionBombError``.  Pillow's
    messages: the caller names the file.
    """
    limit = Image.MAX_IMAGE_PIXELS
    pixels = header.width * header.height
    if limit is None or pixels <= limit:
        return
    if pixels > 2 * limit:
        raise Image.DecompressionBombError(
            f"Image size ({pixels} pixels) exceeds limit of {2 * limit} pixels, "
            "could be decompression bomb DOS attack.")
    warnings.warn(f"Image size ({pixels} pixels) exceeds limit of {limit} pixels, "
                  "could be decompression bomb DOS attack.", Image.DecompressionBombWarning,
                  stacklevel=3)
