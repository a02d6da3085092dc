"""Normalisation after augmentation: Keras's ``standardize``, batched (docs/semantics.md §5).

Works on a batch in the generator's data format.  Keras standardizes one image at
a time; here every per-image statistic (samplewise mean and std) is a reduction
over each sample's own pixels, which gives the same numbers.  The reference twin of
``gpuaug/kernels/standardize.cuh``; the CUDA backend also runs :func:`standardize_batch`
(with CuPy) after a ``preprocessing_function`` and :func:`zca_whiten` for ZCA.
The statistics ``fit`` computes live in :mod:`gpuaug.fit_statistics`.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from ...config import AugmentConfig

_NOT_FIT = (
    "This ImageDataGenerator specifies `{}`, but it hasn't been fit on any "
    "training data. Fit it first by calling `.fit(numpy_data)`."
)


def _per_sample(values: np.ndarray, ndim: int) -> np.ndarray:
    return values.reshape((-1,) + (1,) * (ndim - 1))


def _rows_in_keras_order(x: np.ndarray, planar: np.ndarray, channels_last: bool) -> np.ndarray:
    """Each sample as one contiguous row, its values in the order Keras's memory held them.

    NumPy sums an image pairwise in *memory* order, so the last bit of a
    samplewise mean depends on the layout Keras's per-image pipeline left
    behind: channel planes (C, H, W) after SciPy's per-channel warp or the
    channel shift, interleaved (H, W, C) after the PIL brightness round trip
    or when nothing was resampled.
    """
    chw = x.transpose(0, 3, 1, 2) if channels_last else x
    hwc = x if channels_last else x.transpose(0, 2, 3, 1)
    rows = np.empty((len(x), x[0].size), dtype=x.dtype)
    if planar.any():
        rows[planar] = chw[planar].reshape(int(planar.sum()), -1)
    if not planar.all():
        rows[~planar] = hwc[~planar].reshape(int((~planar).sum()), -1)
    return rows


def _samplewise(x: np.ndarray, planar: np.ndarray | None, channels_last: bool, stat: str):
    if planar is None:  # the caller's own array: reduce it in its own memory order
        return getattr(np, stat)(x, axis=tuple(range(1, x.ndim)), keepdims=True)
    rows = _rows_in_keras_order(x, planar, channels_last)
    return _per_sample(getattr(rows, stat)(axis=1), x.ndim)


def featurewise_steps(config: AugmentConfig, stacklevel: int = 4) -> tuple[bool, bool, bool]:
    """Which of featurewise centre, featurewise scale and ZCA run for ``config``.

    A step that is switched on but has no statistics yet is skipped with Keras's
    warning, as Keras's ``standardize`` does.
    """
    steps = []
    for flag, value, name in (
        (config.featurewise_center, config.mean, "featurewise_center"),
        (config.featurewise_std_normalization, config.std, "featurewise_std_normalization"),
        (config.zca_whitening, config.zca_whitening_matrix, "zca_whitening"),
    ):
        if flag and value is None:
            warnings.warn(_NOT_FIT.format(name), stacklevel=stacklevel)
        steps.append(bool(flag) and value is not None)
    return steps[0], steps[1], steps[2]


def standardize_batch(
    x: np.ndarray, config: AugmentConfig, planar: np.ndarray | None = None, *, xp: Any = np,
) -> np.ndarray:
    """Apply Keras's normalisation steps, in Keras's order, to every sample of ``x``.

    ``planar`` (bool per sample) says which samples Keras would hold in
    channel planes at this point (see :func:`_rows_in_keras_order`); None
    reduces ``x`` in its own memory order.  Works in place where Keras does
    (float arrays) and returns the result, which is a new array after ZCA
    whitening or a ``preprocessing_function``.  ``xp`` is the array module of
    ``x`` (NumPy or CuPy).
    """
    center, scale, zca = featurewise_steps(config)
    if config.preprocessing_function is not None:
        # A user function sees one image at a time, as in Keras.
        x = xp.stack([xp.asarray(config.preprocessing_function(img)) for img in x]) \
            if len(x) else x
        # Keras would reduce the function's result in *its* memory order, which
        # depends on the function; reduce the stacked result as it lies (samplewise
        # statistics may then differ from Keras's in the last bit).
        planar = None
    if config.rescale:
        x *= config.rescale
    if config.samplewise_center:
        x -= _samplewise(x, planar, config.channels_last, "mean")
    if config.samplewise_std_normalization:
        x /= _samplewise(x, planar, config.channels_last, "std") + 1e-6
    if center:
        x -= xp.asarray(config.mean)
    if scale:
        x /= xp.asarray(config.std) + 1e-6
    if zca:
        x = zca_whiten(x, config.zca_whitening_matrix, xp)
    return x


def zca_whiten(x: Any, matrix: np.ndarray, xp: Any = np) -> Any:
    """Each image, flattened, times the ZCA matrix (float64, as Keras's product)."""
    flat = x.reshape(-1, math.prod(x.shape[-3:]))
    return xp.reshape(flat @ xp.asarray(matrix), x.shape)
