"""SciPy's boundary rules for ``affine_transform`` at spline order 0 and 1.

Keras warps every channel with ``scipy.ndimage.affine_transform``; reproducing
its output means reproducing SciPy's treatment of coordinates that fall
outside the image (docs/semantics.md §4).  Two steps, both per axis:

1. :func:`map_coordinate` folds a continuous source coordinate ``u`` back into
   ``[0, n-1]`` *before* the interpolation taps are chosen.  ``constant`` maps
   an out-of-range coordinate to ``-1``, which the caller turns into ``cval``
   for the whole output pixel (a hard cut-off, nothing is blended).
2. :func:`map_tap` maps the integer tap indices ``floor(u)`` / ``floor(u)+1``
   that still fall outside ``[0, n-1]``.

These two functions are the single NumPy statement of the rules; the CUDA
kernel mirrors them in ``gpuaug/kernels/boundary.cuh`` (its twin) and tests hold
both equal to ``scipy.ndimage.map_coordinates``.  Everything is float64, as in SciPy.
"""

from __future__ import annotations

import numpy as np

from ...validation import check_choice
from ..interface import FILL_MODES

#: Returned by :func:`map_coordinate` for ``constant`` mode outside the image.
OUTSIDE = -1.0


def map_coordinate(u: np.ndarray, n: int, mode: str) -> np.ndarray:
    """Fold source coordinates ``u`` (float64, any shape) into axis length ``n``.

    Only values with ``u < 0`` or ``u > n - 1`` change.  For ``constant`` they
    become :data:`OUTSIDE`; ``nearest`` leaves them alone (its taps clamp);
    ``reflect`` and ``wrap`` fold them into ``(-1, n)``, where the taps then
    mirror onto the image, exactly as SciPy does.
    """
    u = np.asarray(u, dtype=np.float64)
    below = u < 0
    above = u > n - 1
    if mode == "nearest":
        # Left alone: the taps are clamped instead, and the weights still come
        # from the unclamped coordinate (this matters in the last ulp).
        return u
    if mode == "constant":
        return np.where(below | above, OUTSIDE, u)
    if n <= 1:
        return np.where(below | above, 0.0, u)
    if mode == "reflect":
        # Half-sample symmetric: ... d c b a | a b c d | d c b a ...
        period = 2.0 * n
        low = np.where(u < -period, u + period * np.trunc(-u / period), u)
        # SciPy nudges coordinates within 1e-15 of the edge to 1e-15 - 1.
        low = np.where(low < -n, low + period, np.where(low > -1e-15, 1e-15, -low) - 1.0)
        high = u - period * np.trunc(u / period)
        high = np.where(high >= n, period - high - 1.0, high)
    elif mode == "wrap":
        # SciPy's legacy wrap treats samples 0 and n-1 as one point: period n-1.
        period = float(n - 1)
        low = u + period * (np.trunc(-u / period) + 1.0)
        high = u - period * np.trunc(u / period)
    else:
        check_choice("fill_mode", mode, FILL_MODES)
    return np.where(below, low, np.where(above, high, u))


def map_tap(j: np.ndarray, n: int, mode: str) -> np.ndarray:
    """Map integer tap indices ``j`` (int64, any shape) into ``[0, n-1]``.

    ``nearest`` clamps; ``reflect`` mirrors about the half-sample edge; for
    ``wrap`` and ``constant`` SciPy mirrors about the whole sample, which only
    ever touches taps whose weight is 0.
    """
    j = np.asarray(j, dtype=np.int64)
    if n <= 1:
        return np.zeros_like(j)
    if mode == "nearest":
        return np.clip(j, 0, n - 1)
    if mode == "reflect":
        j = np.where(j < 0, -j - 1, j)
        j = np.where(j >= n, 2 * n - j - 1, j)
    elif mode in ("wrap", "constant"):
        j = np.where(j < 0, -j, j)
        j = np.where(j > n - 1, 2 * n - 2 - j, j)
    else:
        check_choice("fill_mode", mode, FILL_MODES)
    # A tap can only leave the image by one sample; the clip guards taps of
    # weight 0 on tiny axes so that the gather never reads out of bounds.
    return np.clip(j, 0, n - 1)
