"""Batched affine warp in NumPy, bit-exact with ``scipy.ndimage.affine_transform``.

The reference twin of ``gpuaug/kernels/warp.cuh``.

The whole batch is warped at once: coordinates, boundary folding, tap indices
and weights are computed as arrays over ``(batch, rows, columns)``, and pixel
values are gathered for all channels together (``np.take`` along axis 0, about
ten times faster than fancy indexing for rows of a few channels).  The only loop walks bands of
output rows so that the float64 temporaries stay in cache; it is not a loop
over images or pixels.

Exactness (docs/semantics.md §4): coordinates are float64 and evaluated in
SciPy's order, order 0 rounds with ``floor(u + 0.5)``, order 1 weights are
``w0 = 1 - t`` and ``w1 = 1 - w0``, and the taps accumulate as
``acc += (v * w_row) * w_col`` in the order r0c0, r0c1, r1c0, r1c1.
"""

from __future__ import annotations

import numpy as np
import numpy.typing

from ...validation import check_choice
from .boundary import map_coordinate, map_tap

#: Output pixels per band; about 1 MiB of float64 per temporary at 3 channels.
_PIXELS_PER_BAND = 1 << 15


def _axis_taps(u: np.ndarray, n: int, mode: str, order: int):
    """Fold ``u`` and return ``(tap0, tap1, w0, w1, outside)`` along one axis.

    For order 0, ``tap1``, ``w0`` and ``w1`` are None.  ``outside`` marks pixels
    that SciPy fills with ``cval`` (only ``constant`` produces any).
    """
    cc = map_coordinate(u, n, mode)
    if mode == "constant":
        outside = ~(cc > -1.0)  # SciPy's test; also sends NaN coordinates to cval
        cc = np.where(outside, 0.0, cc)
    else:
        outside = np.zeros(cc.shape, dtype=bool)
    if order == 0:
        start = np.floor(cc + 0.5).astype(np.int64)
        return map_tap(start, n, mode), None, None, None, outside
    start_f = np.floor(cc)
    w0 = 1.0 - (cc - start_f)
    w1 = 1.0 - w0
    start = start_f.astype(np.int64)
    return map_tap(start, n, mode), map_tap(start + 1, n, mode), w0, w1, outside


@np.errstate(invalid="ignore", over="ignore")  # non-finite data: silently, as SciPy does
def warp_nhwc(
    x: np.ndarray,
    matrices: np.ndarray,
    flip_horizontal: np.ndarray,
    flip_vertical: np.ndarray,
    *,
    order: int,
    fill_mode: str,
    cval: float,
    dtype: np.typing.DTypeLike = None,
    unwarped: np.typing.ArrayLike = None,
) -> np.ndarray:
    """Warp a channels-last batch ``x`` (B, H, W, C) with per-sample matrices.

    Flips are folded into the output coordinates: a flipped sample reads the
    warped pixel of the mirrored output position, which is exactly "warp, then
    reverse the axis" as Keras does it.  Returns a new contiguous array of
    ``dtype`` (default ``x.dtype``); values of ``x`` must convert to float64
    exactly, as every supported input dtype does.  ``unwarped``: per sample, whether
    Keras skips the warp (:meth:`~gpuaug.params.TransformParams.skips_the_warp`); those
    samples are only flipped, so non-finite values do not spread to their neighbours.
    """
    check_choice("interpolation_order", order, (0, 1))
    b, h, w, c = x.shape
    out = np.empty(x.shape, dtype=x.dtype if dtype is None else dtype)
    if x.size == 0:
        return out
    src = x.astype(np.float64, copy=False).reshape(b * h * w, c)
    rows_all = np.arange(h, dtype=np.float64)
    cols = np.arange(w, dtype=np.float64)
    rows_all = np.where(flip_vertical[:, None], (h - 1) - rows_all, rows_all)  # (B, H)
    cols = np.where(flip_horizontal[:, None], (w - 1) - cols, cols)[:, None, :]  # (B, 1, W)
    a = matrices[:, :, :, None, None]  # (B, 2, 3, 1, 1): broadcast over the band
    base = (np.arange(b, dtype=np.int64) * (h * w))[:, None, None]
    band = max(1, _PIXELS_PER_BAND // max(1, b * w))

    for r0 in range(0, h, band):
        rows = rows_all[:, r0:r0 + band, None]  # (B, h', 1)
        u_row = (a[:, 0, 2] + rows * a[:, 0, 0]) + cols * a[:, 0, 1]
        u_col = (a[:, 1, 2] + rows * a[:, 1, 0]) + cols * a[:, 1, 1]
        r_a, r_b, wr_a, wr_b, out_r = _axis_taps(u_row, h, fill_mode, order)
        c_a, c_b, wc_a, wc_b, out_c = _axis_taps(u_col, w, fill_mode, order)
        row_a = base + r_a * w
        if order == 0:
            acc = np.take(src, row_a + c_a, axis=0)
        else:
            row_b = base + r_b * w
            wr_a, wr_b = wr_a[..., None], wr_b[..., None]
            wc_a, wc_b = wc_a[..., None], wc_b[..., None]
            acc = np.take(src, row_a + c_a, axis=0)
            acc *= wr_a
            acc *= wc_a
            tap = np.empty_like(acc)  # reused: fresh large temporaries cost page faults
            for rows_idx, cols_idx, w_row, w_col in (
                (row_a, c_b, wr_a, wc_b), (row_b, c_a, wr_b, wc_a), (row_b, c_b, wr_b, wc_b)
            ):
                np.take(src, rows_idx + cols_idx, axis=0, out=tap)
                tap *= w_row
                tap *= w_col
                acc += tap
        outside = out_r | out_c
        if outside.any():
            acc[outside] = cval
        if unwarped is not None and np.any(unwarped):
            # The (flipped) pixel itself: rows and cols are exact integers here.
            pixel = base + rows.astype(np.int64) * w + cols.astype(np.int64)  # (B, h', W)
            acc[unwarped] = np.take(src, pixel[unwarped], axis=0)
        out[:, r0:r0 + band] = acc
    return out
