"""Pillow's nearest resize of a whole batch of decoded images, one kernel launch.

The host half of ``gpuaug/kernels/resize.cu``.  DALI decodes a batch into images of
their own sizes; resizing them one by one costs a handful of CuPy calls per image
(index uploads, a gather, a copy): about 1,500 calls, 10-20 ms of host time, for a
256-image batch, more than DALI takes to decode it.  Here the index maps are made once
per (source size, target size) and shared by the images of one size, every image gets
one :data:`~gpuaug.backends.interface.RESIZE_SOURCE_RECORD`, and one launch writes the
resized batch: two small uploads and one kernel whatever the batch size.

``launch`` runs the kernel: :func:`cuda_launch` on a GPU; the test suite passes the
kernel's host build (``tests/emulation``), so the same source is checked against the
per-image NumPy path without a GPU.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Sequence

import numpy as np

from ..backends.interface import RESIZE_SOURCE_RECORD
from .pillow_rules import pil_nearest_indices

KERNEL = "gpuaug::resize_nearest"
BLOCK = 256
_MAX_GRID_Y = 65535

Launch = Callable[[tuple[int, int, int], tuple[int, int, int], tuple], None]


def plan(shapes: Sequence[tuple[int, int]], pointers: Sequence[int],
         target: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """``(records, maps)``: one ResizeSource per image, and the int32 index maps they share.

    ``shapes``: each image's (height, width) of 3-channel uint8 pixels at ``pointers``.
    An image already of the target's height (width) gets the identity row (column) map.
    """
    h, w = target
    chunks: list[np.ndarray] = []
    offsets: dict[tuple[int, int], int] = {}
    used = 0

    def offset(n_in: int, n_out: int) -> int:
        nonlocal used
        if (n_in, n_out) not in offsets:
            index = np.arange(n_out) if n_in == n_out else pil_nearest_indices(n_in, n_out)
            chunks.append(index.astype(np.int32))
            offsets[(n_in, n_out)] = used
            used += n_out
        return offsets[(n_in, n_out)]

    records = RESIZE_SOURCE_RECORD.zeros(len(shapes))
    for i, ((height, width), pointer) in enumerate(zip(shapes, pointers, strict=True)):
        if height * width * 3 >= 2**31:  # the kernel indexes within an image in 32 bits
            raise ValueError(f"a decoded image of {width}x{height} is too large to resize on "
                             "the GPU (at most 2^31 - 1 bytes)")
        records[i] = (pointer, width, offset(height, h), offset(width, w))
    maps = np.concatenate(chunks) if chunks else np.zeros(1, np.int32)
    return records, maps


def launch_shape(images: int, pixels: int) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
    """Grid and block: x over an image's output pixels, y over the images (grid-stride)."""
    return (max(1, math.ceil(pixels / BLOCK)), max(1, min(images, _MAX_GRID_Y)), 1), (BLOCK, 1, 1)


def resize(pointers: Sequence[int], shapes: Sequence[tuple[int, int]], target: tuple[int, int],
           channels: int, xp: Any, launch: Launch) -> Any:
    """The images at ``pointers`` resized to ``target`` (Pillow's nearest), as one batch.

    ``channels`` 3: RGB; 1: Pillow's luma.  ``xp`` makes the arrays (CuPy on a GPU);
    returns ``(len(pointers), height, width, channels)`` uint8, written by one launch.
    """
    h, w = target
    out = xp.empty((len(pointers), h, w, channels), dtype=np.uint8)
    if not len(pointers):
        return out
    records, maps = plan(shapes, pointers, target)
    grid, block = launch_shape(len(pointers), h * w)
    launch(grid, block, (xp.asarray(records.view(np.uint8)), xp.asarray(maps), out,
                         np.int64(len(pointers)), np.int64(h), np.int64(w), np.int64(channels)))
    return out


def cuda_launch(device_id: int) -> Launch:
    """The kernel on device ``device_id``, on CuPy's current stream (compiled once)."""
    from ..backends.cuda.nvrtc import get_plain_kernel

    kernel = get_plain_kernel("resize.cu", KERNEL, device_id)
    return lambda grid, block, args: kernel(grid, block, args)
