"""Finding and decoding image files exactly as Keras does (keras-semantics.md §7).

``list_class_files`` reproduces the class discovery, walk order, extension
white-list and per-class validation split of Keras's ``DirectoryIterator``;
``load_image`` is Keras's ``load_img`` + ``img_to_array`` with Pillow (colour
mode conversion before the resize, Pillow's filters, ``keep_aspect_ratio``'s
centre crop), returning uint8 pixels (float32 for 16/32-bit grayscale, whose
values Keras passes through unscaled).
"""

from __future__ import annotations

import io
import os
import warnings
from typing import Optional

import numpy as np
from PIL import Image

WHITE_LIST_FORMATS = ("png", "jpg", "jpeg", "bmp", "ppm", "tif", "tiff")
INTERPOLATIONS = {
    "nearest": Image.Resampling.NEAREST,
    "bilinear": Image.Resampling.BILINEAR,
    "bicubic": Image.Resampling.BICUBIC,
    "hamming": Image.Resampling.HAMMING,
    "box": Image.Resampling.BOX,
    "lanczos": Image.Resampling.LANCZOS,
}
COLOR_MODES = ("rgb", "rgba", "grayscale")


class ArgumentError(ValueError):
    """A bad loading argument (not a bad file): raised as is, never skipped."""
CHANNELS = {"rgb": 3, "rgba": 4, "grayscale": 1}


def discover_classes(directory: str) -> list[str]:
    """Sub-directories of ``directory`` in Python's string order (hidden ones included)."""
    return [d for d in sorted(os.listdir(directory)) if os.path.isdir(os.path.join(directory, d))]


def _walk(class_dir: str, follow_links: bool) -> list[tuple[str, list[str], list[str]]]:
    """``os.walk``, except that a directory already on the path down to it is not re-entered.

    With ``follow_links`` a symbolic link back to one of its own ancestors (directly, or
    through other links) makes ``os.walk`` (and Keras) walk forever; here the looping
    directory is skipped with a warning naming it.  Two links to the same directory that
    are not a loop are both walked, as in Keras.
    """
    entries = []
    ancestors: dict[str, tuple[str, ...]] = {}  # root -> real paths from class_dir down to it
    for root, dirs, files in os.walk(class_dir, followlinks=follow_links):
        real = os.path.realpath(root)
        above = ancestors.get(os.path.dirname(root), ())
        if follow_links and real in above:
            warnings.warn(f"{root} leads back to {real}, a directory above it: not followed "
                          "(a symbolic link loop would never end)", stacklevel=5)
            dirs[:] = []
            continue
        ancestors[root] = above + (real,)
        entries.append((root, dirs, files))
    return entries


def _valid_files(class_dir: str, follow_links: bool):
    walk = sorted(_walk(class_dir, follow_links), key=lambda entry: entry[0])
    for root, _, files in walk:
        for fname in sorted(files):
            if fname.lower().endswith(".tiff"):
                warnings.warn('Using ".tiff" files with multiple bands will cause distortion. '
                              "Please verify your output.", stacklevel=4)
            if fname.lower().endswith(WHITE_LIST_FORMATS):
                yield root, fname


def list_class_files(directory: str, classes: list[str], split: Optional[tuple[float, float]],
                     follow_links: bool) -> tuple[list[str], np.ndarray]:
    """``(filenames relative to directory, int32 class index per file)`` in Keras's order."""
    filenames: list[str] = []
    labels: list[int] = []
    for index, name in enumerate(classes):
        class_dir = os.path.join(directory, name)
        files = list(_valid_files(class_dir, follow_links))
        if split:
            files = files[int(split[0] * len(files)):int(split[1] * len(files))]
        for root, fname in files:
            filenames.append(os.path.join(name, os.path.relpath(os.path.join(root, fname),
                                                                class_dir)))
            labels.append(index)
    return filenames, np.asarray(labels, dtype=np.int32)


def load_image(path: str, color_mode: str = "rgb", target_size: Optional[tuple[int, int]] = None,
               interpolation: str = "nearest", keep_aspect_ratio: bool = False) -> np.ndarray:
    """One image as an (H, W, C) array, decoded and resized as Keras's ``load_img`` does."""
    with open(path, "rb") as f:
        img = Image.open(io.BytesIO(f.read()))
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
            if not isinstance(interpolation, str) or interpolation not in INTERPOLATIONS:
                raise ArgumentError(
                    f"Invalid interpolation method {interpolation} specified. Supported "
                    f"methods are {', '.join(INTERPOLATIONS)}")
            resample = INTERPOLATIONS[interpolation]
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
