"""``save_to_dir``: Keras's way of writing augmented samples to look at."""

from __future__ import annotations

import itertools
import os
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
from PIL import Image


def check_save_to_dir(save_to_dir: Any) -> None:
    """Refuse a ``save_to_dir`` that is not an existing folder, at the iterator's call.

    Keras fails only at the first batch (``FileNotFoundError`` from Pillow's save), after
    whatever ran before it; gpuaug names the argument and the path at once.
    """
    if save_to_dir and not os.path.isdir(save_to_dir):
        raise FileNotFoundError(f"`save_to_dir` {save_to_dir!r} is not an existing folder; "
                                "create it first")


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


def _create_new(root: Path, stem: str, fmt: str) -> tuple[Path, BinaryIO]:
    """A file that did not exist: ``{stem}.{fmt}``, else ``{stem}-1.{fmt}``, ``-2``, ...

    Created exclusively, so that iterators in other threads or processes writing to the
    same folder (a training and a validation subset with one seed, say) cannot take it.
    """
    for n in itertools.count():
        path = root / (f"{stem}.{fmt}" if n == 0 else f"{stem}-{n}.{fmt}")
        try:
            return path, open(path, "xb")
        except FileExistsError:
            continue
    raise AssertionError("unreachable")


def save_batch(batch: np.ndarray, index_array: np.ndarray, hashes: list[int], directory: str,
               prefix: str, fmt: str, data_format: str) -> None:
    """Write ``{prefix}_{index}_{hash}.{fmt}`` for every sample, inside ``directory`` only.

    Keras's names; a name already taken (Keras's random hash collides, or two iterators
    share the folder) gets ``-1``, ``-2``, ... before the extension instead of replacing
    the file: nothing saved is overwritten.
    """
    root = Path(directory).resolve()
    pil_format = Image.registered_extensions()[f".{fmt.lower()}"]
    for i, (j, h) in enumerate(zip(index_array, hashes, strict=True)):
        stem = f"{prefix}_{j}_{h}"
        if root not in (root / f"{stem}.{fmt}").resolve().parents:
            raise ValueError(
                f"save_prefix {prefix!r} would write outside save_to_dir {directory!r}")
        image = array_to_img_scaled(batch[i], data_format)
        _, handle = _create_new(root, stem, fmt)
        with handle:
            image.save(handle, format=pil_format)
