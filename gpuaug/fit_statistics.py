"""The statistics of ``ImageDataGenerator.fit``: per-channel mean and std, the ZCA matrix.

Keras's ``fit`` (docs/semantics.md §5) on a whole array at once; the generator
stores the results and the backends apply them in ``standardize``.
"""

from __future__ import annotations

import numpy as np


def feature_statistics(
    x: np.ndarray, channel_axis: int, *, center: bool, std_normalize: bool
) -> tuple[np.ndarray | None, np.ndarray | None, np.ndarray]:
    """Keras's ``fit`` statistics: per-channel mean and std of a batch.

    Returns ``(mean, std, centred_and_scaled_x)``; mean and std are shaped to
    broadcast over one image, ``(1, 1, C)`` or ``(C, 1, 1)``.  ``x`` is updated
    in place, as Keras does, because ZCA is fitted on the result.
    """
    axes = tuple(a for a in (1, 2, 3) if a != channel_axis)
    shape = [1, 1, 1]
    shape[channel_axis - 1] = x.shape[channel_axis]
    mean = std = None
    if center:
        mean = np.reshape(np.mean(x, axis=(0,) + axes), shape)
        x -= mean
    if std_normalize:
        std = np.reshape(np.std(x, axis=(0,) + axes), shape)
        x /= std + 1e-6
    return mean, std, x


def zca_matrix(x: np.ndarray, epsilon: float, compat: str) -> np.ndarray:
    """The ZCA whitening matrix of a centred batch, Keras's or keras-preprocessing's.

    Keras: ``U * sqrt(n) / (s + eps) @ U.T`` from the SVD of the data.
    keras-preprocessing: ``U / sqrt(lambda + eps) @ U.T`` from the SVD of the
    covariance.  Both are ``(D, D)`` float64 with ``D = H * W * C``.
    """
    n = len(x)
    flat = np.reshape(x, (n, -1))
    if compat == "keras-preprocessing":
        sigma = np.dot(flat.T, flat) / flat.shape[0]
        u, s, _ = np.linalg.svd(sigma)
        return (u * (1.0 / np.sqrt(s[np.newaxis] + epsilon))).dot(u.T)
    u, s, _ = np.linalg.svd(flat.T, full_matrices=False)
    return (u * (np.sqrt(n) / (s + epsilon))).dot(u.T)
