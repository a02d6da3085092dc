"""Host side of a fused-kernel launch: the per-batch upload and the scalar arguments.

Everything a launch needs besides the pixels goes into **one** byte buffer that is
uploaded once per batch: the per-sample records (``SAMPLE_DTYPE``, the twin of
``SampleParams`` in ``kernels/augment.cuh``), then the featurewise mean and
``std + 1e-6`` as float64.  The scalars (rescale, epsilon, cval, flags, strides)
travel as kernel arguments.  Every value is converted here exactly as NumPy
would convert it in Keras's code, so the kernels only ever round once per step.
No CUDA library is imported: the emulated launcher of the test suite uses this too.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Optional

import numpy as np

from ..compat import COMPAT_MODES
from ..config import AugmentConfig
from ..params import TransformParams

#: One record per sample, field for field ``gpuaug::SampleParams`` (11 x 8 bytes).
SAMPLE_DTYPE = np.dtype([
    ("m", np.float64, (6,)),
    ("shift", np.float64),
    ("brightness", np.float64),
    ("flags", np.uint64),
    ("lo_key", np.uint64),
    ("hi_key", np.uint64),
], align=True)
assert SAMPLE_DTYPE.itemsize == 88

FLIP_H, FLIP_V = 1, 2
STD_RESCALE, STD_SAMPLE_CENTER, STD_SAMPLE_SCALE = 1, 2, 4
STD_FEATURE_CENTER, STD_FEATURE_SCALE = 8, 16
COMPAT_CODES = {mode: i for i, mode in enumerate(COMPAT_MODES)}
assert COMPAT_MODES == ("keras", "keras-preprocessing", "fixed")  # kernels/augment.cuh order


def order_key(values: np.ndarray) -> np.ndarray:
    """``gpuaug::order_key``: uint64 keys that sort like the float64 ``values``."""
    bits = np.asarray(values, dtype=np.float64).view(np.uint64)
    negative = (bits >> np.uint64(63)).astype(bool)
    return np.where(negative, ~bits, bits | np.uint64(1 << 63))


def key_value(keys: np.ndarray) -> np.ndarray:
    """The inverse of :func:`order_key`."""
    keys = np.asarray(keys, dtype=np.uint64)
    high = (keys >> np.uint64(63)).astype(bool)
    return np.where(high, keys & np.uint64((1 << 63) - 1), ~keys).view(np.float64)


def pack_samples(matrices: np.ndarray, params: TransformParams, work_dtype: str) -> np.ndarray:
    """The per-sample records of a batch, with the reduction slots initialised."""
    records = np.zeros(len(params), dtype=SAMPLE_DTYPE)
    records["m"] = np.asarray(matrices, dtype=np.float64).reshape(len(params), 6)
    # NumPy adds the intensity after rounding it to the batch's dtype (numpy_epilogue).
    records["shift"] = params.channel_shift_intensity.astype(work_dtype).astype(np.float64)
    records["brightness"] = params.brightness
    records["flags"] = (params.flip_horizontal * FLIP_H) | (params.flip_vertical * FLIP_V)
    records["lo_key"] = order_key(np.inf)
    records["hi_key"] = order_key(-np.inf)
    return records


@dataclass(frozen=True)
class Statistic:
    """A featurewise array broadcast over one image: values plus (row, col, chan) strides."""

    values: np.ndarray  # float64, contiguous
    strides: tuple[int, int, int]


def _broadcast_statistic(value: Any, image_shape: tuple[int, int, int], channels_last: bool,
                         name: str) -> Statistic:
    v = np.asarray(value)
    while v.ndim > 3 and v.shape[0] == 1:  # (1, 1, 1, C) and the like
        v = v[0]
    v = np.ascontiguousarray(v, dtype=np.float64)
    try:
        view = np.broadcast_to(v, image_shape)
    except ValueError:
        raise ValueError(
            f"`{name}` of shape {np.shape(value)} does not broadcast over images of shape "
            f"{image_shape}"
        ) from None
    s = tuple(stride // 8 for stride in view.strides)
    strides = (s[0], s[1], s[2]) if channels_last else (s[1], s[2], s[0])
    return Statistic(v, strides)


def _in_numpy_precision(value: Any, work_dtype: str) -> float:
    """The multiplier NumPy uses in ``x *= value`` for an array of ``work_dtype``.

    A Python number is 'weak' (NEP 50) and rounds to the array's dtype; a NumPy
    scalar keeps its own precision and the product is rounded back.
    """
    if isinstance(value, (bool, int, float)):
        return float(np.dtype(work_dtype).type(value))
    rt = np.result_type(np.dtype(work_dtype), np.asarray(value).dtype)
    return float(np.asarray(value, dtype=rt))


@dataclass(frozen=True)
class Epilogue:
    """The batch-wide part of a launch: which standardization steps run, with what."""

    compat: int
    flags: int
    cval: float
    rescale: float
    eps: float
    mean: Optional[Statistic]
    std_eps: Optional[Statistic]

    @property
    def sample_stats(self) -> bool:
        return bool(self.flags & (STD_SAMPLE_CENTER | STD_SAMPLE_SCALE))


def make_epilogue(config: AugmentConfig, image_shape: tuple[int, int, int], *,
                  standardize: bool, featurewise: tuple[bool, bool]) -> Epilogue:
    """The epilogue of ``config`` for images of ``image_shape`` (in the data format).

    ``standardize`` False stops after the brightness (Keras's ``apply_transform``);
    ``featurewise`` says whether the featurewise centre / scale steps run (the
    caller has checked that the statistics exist and warned otherwise).
    """
    work = config.dtype
    flags = 0
    rescale = 0.0
    mean = std_eps = None
    if standardize:
        if config.rescale:
            flags |= STD_RESCALE
            rescale = _in_numpy_precision(config.rescale, work)
        if config.samplewise_center:
            flags |= STD_SAMPLE_CENTER
        if config.samplewise_std_normalization:
            flags |= STD_SAMPLE_SCALE
        if featurewise[0]:
            flags |= STD_FEATURE_CENTER
            mean = _broadcast_statistic(config.mean, image_shape, config.channels_last, "mean")
        if featurewise[1]:
            flags |= STD_FEATURE_SCALE
            # Keras divides by `std + 1e-6`, computed by NumPy in std's own dtype.
            std_eps = _broadcast_statistic(np.asarray(config.std) + 1e-6, image_shape,
                                           config.channels_last, "std")
    return Epilogue(
        compat=COMPAT_CODES[config.compat],
        flags=flags,
        cval=float(config.cval),
        rescale=rescale,
        eps=float(np.dtype(work).type(1e-6)),
        mean=mean,
        std_eps=std_eps,
    )


def pack_upload(records: np.ndarray, epilogue: Epilogue) -> tuple[np.ndarray, int, int]:
    """One byte buffer: the records, then the mean, then std + eps (8-byte aligned).

    Returns ``(buffer, mean_offset, std_offset)`` in bytes (0 where absent).
    """
    parts = [records.view(np.uint8).reshape(-1)]
    offset = parts[0].size
    offsets = []
    for stat in (epilogue.mean, epilogue.std_eps):
        if stat is None:
            offsets.append(0)
            continue
        offsets.append(offset)
        parts.append(stat.values.view(np.uint8).reshape(-1))
        offset += parts[-1].size
    return np.concatenate(parts), offsets[0], offsets[1]


BLOCK = 256
_MAX_GRID_Y = 65535


def launch_grid(batch: int, pixels: int) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
    """Grid and block for a batch: x over a sample's pixels, y over samples (grid-stride)."""
    return (max(1, math.ceil(pixels / BLOCK)), max(1, min(batch, _MAX_GRID_Y)), 1), (BLOCK, 1, 1)


def partials_size(batch: int, grid: tuple[int, int, int], block: tuple[int, int, int]) -> int:
    """float64s in the moments pass's buffer: (sum, sum of squares) per warp, block, sample."""
    return batch * grid[0] * ((block[0] + 31) // 32) * 2
