"""Pillow's nearest resize of a whole batch of decoded images, one kernel launch.

The host half of ``gpuaug/kernels/resize.cu``.  DALI decodes a batch into images of
their own sizes; resizing them one by one costs a handful of CuPy calls per image
(index uploads, a gather, a copy): about 1,500 calls, 10-20 ms of host time, for a
256-image batch, more than DALI takes to decode it.  Here the index maps are made once
per (source size, target size) and kept across batches, shared by the images of one
size, every image gets one :data:`~gpuaug.backends.interface.RESIZE_SOURCE_RECORD`
(filled by array operations: 0.23 ms of host time for 256 images of random sizes on the
2-core CI machine, 0.47 ms image by image), and one launch writes the resized batch: two
small uploads and one kernel whatever the batch size.

``launch`` runs the kernel: :func:`cuda_launch` on a GPU; the test suite passes the
kernel's host build (``tests/emulation``), so the same source is checked against the
per-image NumPy path without a GPU.
"""

from __future__ import annotations

import functools
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
    The maps hold one row map per distinct height, then one column map per distinct width
    (an image already of the target's height or width gets the identity map).  Array
    operations throughout, and the maps themselves cached across batches: this runs on
    the host for every decoded batch.
    """
    h, w = target
    sizes = np.asarray(shapes, dtype=np.int64).reshape(-1, 2)
    too_large = sizes[:, 0] * sizes[:, 1] * 3 >= 2**31  # the kernel indexes in 32 bits
    if too_large.any():
        height, width = sizes[int(np.argmax(too_large))]
        raise ValueError(f"a decoded image of {width}x{height} is too large to resize on "
                         "the GPU (at most 2^31 - 1 bytes)")
    heights, row_of = np.unique(sizes[:, 0], return_inverse=True)
    widths, col_of = np.unique(sizes[:, 1], return_inverse=True)
    records = RESIZE_SOURCE_RECORD.zeros(len(sizes))
    records["pixels"] = np.asarray(pointers, dtype=np.uint64).reshape(-1)
    records["width"] = sizes[:, 1]
    records["row_map"] = (np.arange(len(heights)) * h)[row_of.reshape(-1)]
    records["col_map"] = (len(heights) * h + np.arange(len(widths)) * w)[col_of.reshape(-1)]
    chunks = [index_map(int(n), h) for n in heights] + [index_map(int(n), w) for n in widths]
    maps = np.concatenate(chunks) if chunks else np.zeros(1, np.int32)
    return records, maps


@functools.lru_cache(maxsize=1024)
def index_map(n_in: int, n_out: int) -> np.ndarray:
    """The source index of each of ``n_out`` positions (Pillow's nearest), as int32."""
    index = np.arange(n_out) if n_in == n_out else pil_nearest_indices(n_in, n_out)
    index = index.astype(np.int32)
    index.flags.writeable = False  # shared by every batch that asks
    return index


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
