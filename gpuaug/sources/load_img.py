"""Keras's ``load_img`` + ``img_to_array`` with Pillow: one file to an (H, W, C) array.

Colour-mode conversion comes before the resize, with Pillow's filters and
``keep_aspect_ratio``'s centre crop (docs/semantics.md §7).  Pixels come back as
uint8, except 16/32-bit grayscale, whose values Keras passes through unscaled
(float32 here).  This is the exactness reference for every decoder.
"""

from __future__ import annotations

import io
import os
import stat
from typing import Optional

import numpy as np
from PIL import Image, UnidentifiedImageError

from ..errors import ArgumentError

INTERPOLATIONS = {
    "nearest": Image.Resampling.NEAREST,
    "bilinear": Image.Resampling.BILINEAR,
    "bicubic": Image.Resampling.BICUBIC,
    "hamming": Image.Resampling.HAMMING,
    "box": Image.Resampling.BOX,
    "lanczos": Image.Resampling.LANCZOS,
}
COLOR_MODES = ("rgb", "rgba", "grayscale")
CHANNELS = {"rgb": 3, "rgba": 4, "grayscale": 1}


def check_interpolation(interpolation: object) -> str:
    """Keras's message for an unknown resize filter (Keras raises it at the first resize)."""
    if not isinstance(interpolation, str) or interpolation not in INTERPOLATIONS:
        raise ArgumentError(
            f"Invalid interpolation method {interpolation} specified. Supported methods "
            f"are {', '.join(INTERPOLATIONS)}")
    return interpolation


_KINDS = ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR,
          "a character device"), (stat.S_ISBLK, "a block device"), (stat.S_ISDIR, "a folder"))


def read_regular_file(path: str) -> bytes:
    """The bytes of ``path``, which must be a regular file once links are followed.

    Opening a FIFO (or a device) blocks or never ends, whatever the decoder does after:
    such a path fails here at once, as the file's own error (OSError).
    """
    mode = os.stat(path).st_mode
    if not stat.S_ISREG(mode):
        kind = next((name for test, name in _KINDS if test(mode)), "something else")
        raise OSError(f"{path} is {kind}, not a regular file: only regular files are images")
    with open(path, "rb") as f:
        return f.read()


def open_image(data: bytes, path: str) -> Image.Image:
    """``Image.open`` of a file's bytes; a file Pillow cannot identify is named by its path.

    (Pillow names an in-memory file by its object's address: ``<_io.BytesIO object at
    0x7f...>``, which tells the user nothing and differs at every call.)
    """
    try:
        return Image.open(io.BytesIO(data))
    except UnidentifiedImageError:
        raise UnidentifiedImageError(f"cannot identify image file {path!r}") from None


def load_image(path: str, color_mode: str = "rgb", target_size: Optional[tuple[int, int]] = None,
               interpolation: str = "nearest", keep_aspect_ratio: bool = False) -> np.ndarray:
    """One image as an (H, W, C) array, decoded and resized as Keras's ``load_img`` does."""
    return decode_image(read_regular_file(path), path, color_mode, target_size, interpolation,
                        keep_aspect_ratio)


def decode_image(data: bytes, path: str, color_mode: str = "rgb",
                 target_size: Optional[tuple[int, int]] = None, interpolation: str = "nearest",
                 keep_aspect_ratio: bool = False) -> np.ndarray:
    """:func:`load_image` of a file's bytes already read (``path`` names it in errors)."""
    img = open_image(data, path)
    if color_mode == "grayscale":
        if img.mode not in ("L", "I;16", "I"):
            img = img.convert("L")
    elif color_mode == "rgba":
        if img.mode != "RGBA":
            img = img.convert("RGBA")
    elif color_mode == "rgb":
        if img.mode != "RGB":
            img = img.convert("RGB")
    else:
        raise ArgumentError('color_mode must be "grayscale", "rgb", or "rgba"')
    if target_size is not None:
        size = (target_size[1], target_size[0])
        if img.size != size:
            resample = INTERPOLATIONS[check_interpolation(interpolation)]
            if keep_aspect_ratio:
                width, height = img.size
                crop_h = min(height, (width * size[1]) // size[0])
                crop_w = min(width, (height * size[0]) // size[1])
                top, left = (height - crop_h) // 2, (width - crop_w) // 2
                img = img.resize(size, resample, box=(left, top, left + crop_w, top + crop_h))
            else:
                img = img.resize(size, resample)
    x = np.asarray(img)
    img.close()
    if x.dtype != np.uint8:
        x = x.astype(np.float32)  # 16/32-bit grayscale: values pass through unscaled
    return x if x.ndim == 3 else x[:, :, None]
