"""The batched engine: parameters in, augmented batch out, on the batch's device."""

from __future__ import annotations

from typing import Any

import numpy as np

from .backends import NumpyBackend
from .backends.numpy_backend import SUPPORTED_INPUT_DTYPES
from .compose import compose_matrices
from .config import AugmentConfig
from .params import TransformParams
from .standardize import standardize_batch


def _check_batch(batch: Any, params: TransformParams, config: AugmentConfig) -> np.ndarray:
    x = np.asarray(batch)
    if x.ndim != 4:
        raise ValueError(
            f"`batch` must be a 4-D array of images ({'B, H, W, C' if config.channels_last else 'B, C, H, W'}"
            f" for data_format={config.data_format!r}); got shape {x.shape}"
        )
    if x.dtype.type not in SUPPORTED_INPUT_DTYPES:
        names = ", ".join(np.dtype(t).name for t in SUPPORTED_INPUT_DTYPES)
        raise TypeError(f"`batch` has dtype {x.dtype}; supported dtypes are {names}")
    if len(params) != x.shape[0]:
        raise ValueError(
            f"`params` describes {len(params)} samples but `batch` holds {x.shape[0]}"
        )
    return x


def transform_batch(
    batch: Any, params: TransformParams, config: AugmentConfig
) -> np.ndarray:
    """Keras's ``apply_transform`` for every sample: warp, channel shift, flips, brightness."""
    x = _check_batch(batch, params, config)
    h, w = x.shape[1:3] if config.channels_last else x.shape[2:4]
    matrices = compose_matrices(params, h, w, config.compat)
    return NumpyBackend().apply(x, matrices, params, config)


def augment_batch(
    batch: Any, params: TransformParams, config: AugmentConfig
) -> np.ndarray:
    """Augment and standardize a batch: what a Keras iterator yields for it.

    Equivalent to ``standardize(apply_transform(x.astype(dtype), p))`` for every
    image ``x`` with its parameters ``p``, computed for the whole batch at once.
    Returns a new array of ``config.dtype``.
    """
    x = transform_batch(batch, params, config)
    return standardize_batch(x, config, keras_planar_layout(params, config)).astype(
        config.dtype, copy=False)


def keras_planar_layout(params: TransformParams, config: AugmentConfig) -> np.ndarray:
    """Which samples Keras's per-image pipeline leaves in channel planes (C, H, W).

    SciPy warps channel by channel and the channel shift stacks channels, both
    producing planes; the PIL brightness round trip produces an interleaved
    (H, W, C) buffer; untouched channels-last images stay interleaved.  Only
    the last bit of samplewise statistics depends on it.
    """
    resampled = (
        (params.theta != 0) | (params.tx != 0) | (params.ty != 0) | (params.shear != 0)
        | (params.zx != 1) | (params.zy != 1)
        | ~np.isnan(params.channel_shift_intensity)
    )
    if not config.channels_last:
        resampled = np.ones(len(params), dtype=bool)  # planes are the native layout
    return resampled & np.isnan(params.brightness)
