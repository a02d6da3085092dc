"""``save_to_dir``: Keras's way of writing augmented samples to look at."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image


def array_to_img_scaled(x: np.ndarray, data_format: str) -> Image.Image:
    """Keras's ``array_to_img(x, data_format, scale=True)``: min-max stretch to 0..255."""
    x = np.asarray(x, dtype=np.float32)
    if data_format == "channels_first":
        x = x.transpose(1, 2, 0)
    x = x - np.min(x)
    x_max = np.max(x)
    if x_max != 0:
        x /= x_max
    x *= 255
    channels = x.shape[2]
    if channels == 4:
        return Image.fromarray(x.astype("uint8"), "RGBA")
    if channels == 3:
        return Image.fromarray(x.astype("uint8"), "RGB")
    if channels == 1:
        return Image.fromarray(x[:, :, 0].astype("uint8"), "L")
    raise ValueError(f"Unsupported channel number: {channels}")


def save_batch(batch: np.ndarray, index_array: np.ndarray, hashes: list[int], directory: str,
               prefix: str, fmt: str, data_format: str) -> None:
    """Write ``{prefix}_{index}_{hash}.{fmt}`` for every sample, inside ``directory`` only."""
    root = Path(directory).resolve()
    for i, (j, h) in enumerate(zip(index_array, hashes, strict=True)):
        path = (root / f"{prefix}_{j}_{h}.{fmt}").resolve()
        if root not in path.parents:
            raise ValueError(
                f"save_prefix {prefix!r} would write outside save_to_dir {directory!r}")
        array_to_img_scaled(batch[i], data_format).save(os.fspath(path))
