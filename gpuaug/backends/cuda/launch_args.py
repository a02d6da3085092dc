"""Host side of a fused-kernel launch: the batch's one upload, and the launch shape.

Everything a launch needs besides the pixels and the shape goes into **one** byte
buffer, uploaded once per batch: the ``Epilogue`` record (the batch-wide constants of
the steps after the warp), one ``SampleParams`` record per sample, then the
featurewise mean and ``std + 1e-6`` as float64.  The records are declared in
:mod:`gpuaug.backends.interface`.  Every value is converted here exactly as NumPy
would convert it in Keras's code, so the kernels only ever round once per step.
No CUDA library is imported: the emulated launcher of the test suite uses this too.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any, Optional

import numpy as np

from ...config import AugmentConfig
from ...params import TransformParams
from ..interface import (
    BLOCK_THREADS,
    COMPAT,
    EPILOGUE_RECORD,
    SAMPLE_FLAGS,
    SAMPLE_RECORD,
    STANDARDIZE_FLAGS,
)

_STD = STANDARDIZE_FLAGS


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


# Both records are whole 8-byte words (every field is 8 bytes, or 4 bytes paired or padded),
# so the upload is packed as an array of words, not through NumPy's structured views.
_WORD = {name: SAMPLE_RECORD.dtype.fields[name][1] // 8 for name in SAMPLE_RECORD.dtype.names}
_WORDS = SAMPLE_RECORD.dtype.itemsize // 8
_HEAD_WORDS = EPILOGUE_RECORD.dtype.itemsize // 8
_HEAD_WORD = {name: EPILOGUE_RECORD.dtype.fields[name][1] // 8
              for name in EPILOGUE_RECORD.dtype.names}
_EMPTY_KEYS = (int(order_key(np.inf)), int(order_key(-np.inf)))  # min and max before a pass
_FLIP_H, _FLIP_V = np.uint64(SAMPLE_FLAGS.FLIP_H), np.uint64(SAMPLE_FLAGS.FLIP_V)
_UNWARPED = np.uint64(SAMPLE_FLAGS.UNWARPED)


def fast_geometry(matrices: np.ndarray, height: int, width: int,
                  flip_vertical: Optional[np.ndarray] = None,
                  flip_horizontal: Optional[np.ndarray] = None) -> np.ndarray:
    """precision="fast": each sample's geometry as ``(n, 6)`` float32 for the kernels.

    ``(m0, m1, m3, m4, row0, col0)``: the matrix's linear part, halved, each coefficient
    negated where a flip mirrors the offset it multiplies (the vertical flip: the row's,
    m0 and m3; the horizontal: the column's, m1 and m4), and the source coordinate of the
    image's centre pixel ``((h - 1) / 2, (w - 1) / 2)`` computed in float64 (in the exact
    kernels' order) before rounding, so that a pixel's float32 coordinate is two FMAs of
    exact doubled offsets from the centre (``FastGeometry`` in warp.cuh).  Halving and a
    sign are exact: the kernel reads the coefficients as they are, with no work per sample.
    """
    m = np.asarray(matrices, dtype=np.float64)
    n = len(m)
    r_mid, c_mid = 0.5 * (height - 1), 0.5 * (width - 1)
    out = np.empty((n, 6), dtype=np.float32)
    out[:, 0:2] = m[:, 0, :2]
    out[:, 2:4] = m[:, 1, :2]
    for flips, columns in ((flip_vertical, [0, 2]), (flip_horizontal, [1, 3])):
        flipped = np.zeros(n, bool) if flips is None else np.asarray(flips, bool)
        out[:, columns] *= np.where(flipped, np.float32(-0.5), np.float32(0.5))[:, None]
    for row, column in ((0, 4), (1, 5)):
        centre = m[:, row, 2] + r_mid * m[:, row, 0]
        centre += c_mid * m[:, row, 1]
        out[:, column] = centre
    return out


def pack_samples(matrices: np.ndarray, params: TransformParams, work_dtype: str,
                 out: Optional[np.ndarray] = None, *,
                 fast_image: Optional[tuple[int, int]] = None) -> np.ndarray:
    """The per-sample records of a batch, with the reduction slots initialised.

    ``out``: ``(len(params), words)`` float64 words to write into (a slice of the upload),
    else a new array of ``SAMPLE_RECORD`` records.  ``fast_image``: precision="fast", the
    images' (height, width); the matrix words then hold :func:`fast_geometry` instead.
    """
    n = len(params)
    records = SAMPLE_RECORD.zeros(n) if out is None else out
    words = records.view(np.float64).reshape(n, _WORDS) if out is None else out
    bits = words.view(np.uint64)
    m = _WORD["m"]
    if fast_image is None:
        words[:, m:m + 6].reshape(n, 2, 3)[...] = matrices  # a view: any strides, one copy
    else:  # float32 pairs in the first three matrix words, the rest unused
        geometry = fast_geometry(matrices, *fast_image, params.flip_vertical,
                                 params.flip_horizontal)
        words[:, m:m + 3] = geometry.view(np.float64)
        words[:, m + 3:m + 6] = 0.0
    # NumPy adds the intensity after rounding it to the batch's dtype (reference/pointwise.py).
    shift = params.channel_shift_intensity
    words[:, _WORD["shift"]] = shift if work_dtype == "float64" else shift.astype(work_dtype)
    words[:, _WORD["brightness"]] = params.brightness
    flags = bits[:, _WORD["flags"]]
    np.multiply(params.flip_horizontal, _FLIP_H, out=flags)
    flags |= np.multiply(params.flip_vertical, _FLIP_V, dtype=np.uint64)
    flags |= np.multiply(params.skips_the_warp(), _UNWARPED, dtype=np.uint64)
    bits[:, _WORD["lo_key"]] = _EMPTY_KEYS[0]
    bits[:, _WORD["hi_key"]] = _EMPTY_KEYS[1]
    bits[:, _WORD["moment_blocks"]] = 0
    return records


def pack_sample_words(matrices: np.ndarray, params: TransformParams, work_dtype: str, *,
                      fast_image: Optional[tuple[int, int]] = None) -> np.ndarray:
    """:func:`pack_samples` as ``(len(params), words)`` float64 words, ready to copy in."""
    words = np.zeros((len(params), _WORDS))
    pack_samples(matrices, params, work_dtype, words, fast_image=fast_image)
    return words


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
    # np.float64 is a subclass of float, but not weak: test for NumPy scalars first.
    if isinstance(value, (bool, int, float)) and not isinstance(value, np.generic):
        return float(np.dtype(work_dtype).type(value))
    rt = np.result_type(np.dtype(work_dtype), np.asarray(value).dtype)
    return float(np.asarray(value, dtype=rt))


@dataclass(frozen=True)
class Epilogue:
    """The batch-wide part of a launch: the ``Epilogue`` record and the statistics it points to.

    The record's ``mean_offset`` / ``std_offset`` are filled in by :func:`pack_upload`,
    which decides where the statistics go.
    """

    record: np.ndarray  # one EPILOGUE_RECORD
    mean: Optional[Statistic]
    std_eps: Optional[Statistic]

    @functools.cached_property
    def words(self) -> np.ndarray:
        """The record as 8-byte words, as :func:`pack_upload` copies it."""
        return np.ascontiguousarray(self.record).reshape(1).view(np.uint64)

    @functools.cached_property
    def flags(self) -> int:
        return int(self.record["flags"])

    @functools.cached_property
    def sample_stats(self) -> bool:
        return bool(self.flags & (_STD.STD_SAMPLE_CENTER | _STD.STD_SAMPLE_SCALE))


def width_divisor(width: int) -> tuple[int, int]:
    """``(magic, shift)`` with which the kernels divide a pixel index by ``width`` exactly.

    ``gpuaug::divide_by_magic`` takes ``(n * magic) >> shift`` for ``0 <= n < 2^31`` (a pixel
    index: the host keeps ``h * w * c`` under 2^31): ``shift = 31 + ceil(log2 width)`` and
    ``magic = ceil(2^shift / width)``, below 2^32 (the proof is in numeric.cuh).  A wide
    multiply and a shift per pixel, where a division by a number known only at run time
    costs about twenty instructions.
    """
    if not 1 <= width <= 2**31:
        raise ValueError(f"width {width} outside 1 .. 2^31")
    shift = 31 + (width - 1).bit_length()
    return -(-(2**shift) // width), shift


def make_epilogue(config: AugmentConfig, image_shape: tuple[int, int, int], *,
                  standardize: bool, featurewise: tuple[bool, bool]) -> Epilogue:
    """The epilogue of ``config`` for images of ``image_shape`` (in the data format).

    ``standardize`` False stops after the brightness (Keras's ``apply_transform``);
    ``featurewise`` says whether the featurewise centre / scale steps run (the
    caller has checked that the statistics exist and warned otherwise).
    """
    work = config.dtype
    record = EPILOGUE_RECORD.zeros()
    flags = 0
    mean = std_eps = None
    if standardize:
        if config.rescale:
            flags |= _STD.STD_RESCALE
            record["rescale"] = _in_numpy_precision(config.rescale, work)
            record["rescale32"] = np.float32(record["rescale"])
        if config.samplewise_center:
            flags |= _STD.STD_SAMPLE_CENTER
        if config.samplewise_std_normalization:
            flags |= _STD.STD_SAMPLE_SCALE
        if featurewise[0]:
            flags |= _STD.STD_FEATURE_CENTER
            mean = _broadcast_statistic(config.mean, image_shape, config.channels_last, "mean")
        if featurewise[1]:
            flags |= _STD.STD_FEATURE_SCALE
            # Keras divides by `std + 1e-6`, computed by NumPy in std's own dtype.
            std_eps = _broadcast_statistic(np.asarray(config.std) + 1e-6, image_shape,
                                           config.channels_last, "std")
    height, width, channels = image_shape if config.channels_last else (*image_shape[1:],
                                                                         image_shape[0])
    record["sample_elements"] = height * width * channels
    if width:  # no pixels: no launch
        record["width_magic"], record["width_shift"] = width_divisor(width)
    record["compat"] = COMPAT.code(config.compat)
    record["flags"] = flags
    record["cval"] = float(config.cval)
    record["eps"] = float(np.dtype(work).type(1e-6))
    return Epilogue(record, mean, std_eps)


def pack_upload(matrices: np.ndarray, params: TransformParams, work_dtype: str,
                epilogue: Epilogue, records: Optional[np.ndarray] = None, *,
                fast_image: Optional[tuple[int, int]] = None,
                sources: Optional[tuple[np.ndarray, np.ndarray]] = None) -> np.ndarray:
    """The batch's one upload (uint8): the epilogue, the sample records, the statistics.

    One buffer of 8-byte words, written in place, so every part starts 8-byte aligned;
    the statistics' byte offsets and strides go into the epilogue record (0 where a
    statistic is absent: its flag is off and the kernel never reads it).  ``records``:
    the samples' records already packed (:func:`pack_sample_words` of these matrices and
    parameters, and this ``fast_image``), copied in as they are.  ``fast_image``: see
    :func:`pack_samples`.  ``sources``: for the resized input, the samples'
    ``ResizeSource`` records and the int32 index maps they point into
    (:func:`gpuaug.sources.batch_resize.plan`), appended last with their byte offsets in
    the epilogue.
    """
    n = len(params)
    start = _HEAD_WORDS + n * _WORDS
    stats = [(stat, prefix) for stat, prefix in ((epilogue.mean, "mean"),
                                                 (epilogue.std_eps, "std")) if stat is not None]
    extra = [part.view(np.uint8) for part in sources] if sources is not None else []
    extra_words = sum(-(-part.size // 8) for part in extra)
    words = np.empty(start + sum(stat.values.size for stat, _ in stats) + extra_words,
                     dtype=np.float64)
    bits = words.view(np.uint64)
    bits[:_HEAD_WORDS] = epilogue.words
    if records is None:
        pack_samples(matrices, params, work_dtype, words[_HEAD_WORDS:start].reshape(n, _WORDS),
                     fast_image=fast_image)
    else:
        words[_HEAD_WORDS:start].reshape(n, _WORDS)[...] = records
    # Where each sample starts, written here because the records (drawn.py packs a whole
    # span's at once) do not know their place in the batch.
    step = np.uint64(epilogue.record["sample_elements"])
    bits[_HEAD_WORDS + _WORD["first"]:start:_WORDS] = np.arange(n, dtype=np.uint64) * step
    for stat, prefix in stats:
        offset = _HEAD_WORD[f"{prefix}_offset"]
        strides = _HEAD_WORD[f"{prefix}_strides"]
        bits[offset] = start * 8
        bits[strides:strides + 3] = np.array(stat.strides, dtype=np.int64).view(np.uint64)
        words[start:start + stat.values.size] = stat.values.reshape(-1)
        start += stat.values.size
    if sources is not None:
        for part, field in zip(extra, ("sources_offset", "maps_offset"), strict=True):
            bits[_HEAD_WORD[field]] = start * 8
            size = -(-part.size // 8)
            words[start + size - 1] = 0  # the padding after the last bytes: no stale bytes
            words[start:start + size].view(np.uint8)[:part.size] = part
            start += size
    return words.view(np.uint8)


BLOCK = BLOCK_THREADS
#: Pixels of a sample each thread writes (the grid-stride loop's trips): a thread's setup
#: for a sample (its record, the launch constants) is paid once for that many pixels.
#: Four keeps a 32-image 224^2 batch at 400 k threads, more than an H100 holds at once.
PIXELS_PER_THREAD = 4
_MAX_GRID_Y = 65535


def launch_grid(batch: int, pixels: int, pixels_per_thread: int = PIXELS_PER_THREAD
                ) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
    """Grid and block for a batch: x over a sample's pixels, y over samples (grid-stride).

    ``pixels_per_thread`` other than :data:`PIXELS_PER_THREAD` is for benchmarks
    (``FusedBackend.kernels_alone``): any value gives the same pixels, the samplewise
    moments aside (their partial sums follow the grid).  The kernels' pixel index and
    stride are 32-bit (augment.cu PixelWalk): their sum must stay below 2^32, which it does
    for any image the host accepts (``pixels`` < 2^31, ``BLOCK`` a divisor of 2^31).
    """
    if not 1 <= pixels_per_thread or pixels >= 2**31:
        raise ValueError(f"launch_grid: {pixels} pixels, {pixels_per_thread} per thread")
    blocks = max(1, math.ceil(pixels / (BLOCK * pixels_per_thread)))
    assert pixels + blocks * BLOCK <= 2**32, "the pixel walk's 32-bit index would wrap"
    return (blocks, max(1, min(batch, _MAX_GRID_Y)), 1), (BLOCK, 1, 1)


def partials_size(batch: int, grid: tuple[int, int, int], block: tuple[int, int, int]) -> int:
    """float64s in the moments pass's buffer.

    (sum, sum of squares) per warp, block and sample, then each sample's totals (the
    last block of a sample adds its partials; the write pass reads the totals).
    """
    return batch * grid[0] * ((block[0] + 31) // 32) * 2 + 2 * batch
