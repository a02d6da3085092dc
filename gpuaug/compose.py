"""Composer: per-sample parameters -> per-sample 2x3 inverse warp matrices.

The result ``A`` (shape ``(B, 2, 3)``, float64) maps an output pixel
``(r, c)`` to its source coordinate, in SciPy's evaluation order::

    in_row = (A[b, 0, 2] + r * A[b, 0, 0]) + c * A[b, 0, 1]
    in_col = (A[b, 1, 2] + r * A[b, 1, 0]) + c * A[b, 1, 1]

The matrices are built the way Keras builds them (docs/semantics.md §3.1):
``R @ S @ Sh @ Z`` in float64, centred by ``Off(o) @ M @ Off(-o)``, then rows
and columns swapped.  Keras skips factors that are the identity; multiplying
by an exact identity changes no bit, so the vectorised chain below includes
every factor and stays bit-identical to Keras's per-image ``np.dot`` chain.
The compatibility mode (:mod:`gpuaug.compat`) changes only the pivot, which
shift parameter moves which axis, and whether the axes are swapped.
"""

from __future__ import annotations

import numpy as np

from .compat import check_compat
from .params import TransformParams


def _stack3(rows: list[list[np.ndarray | float]], batch: int) -> np.ndarray:
    """Build a (batch, 3, 3) float64 stack from a 3x3 nest of scalars/columns."""
    out = np.empty((batch, 3, 3), dtype=np.float64)
    for i, row in enumerate(rows):
        for j, value in enumerate(row):
            out[:, i, j] = value
    return out


def compose_matrices(
    params: TransformParams, height: int, width: int, compat: str = "keras"
) -> np.ndarray:
    """Return the ``(B, 2, 3)`` inverse matrices for images of ``height x width``."""
    check_compat(compat)
    batch = len(params)
    theta = np.deg2rad(params.theta)
    shear = np.deg2rad(params.shear)
    cos_t, sin_t = np.cos(theta), np.sin(theta)
    if compat == "fixed":
        # Height shifts move rows (Keras's frame: y is the row), width shifts columns.
        shift_x, shift_y = params.ty, params.tx
    else:
        shift_x, shift_y = params.tx, params.ty
    rotation = _stack3([[cos_t, -sin_t, 0.0], [sin_t, cos_t, 0.0], [0.0, 0.0, 1.0]], batch)
    shift = _stack3([[1.0, 0.0, shift_x], [0.0, 1.0, shift_y], [0.0, 0.0, 1.0]], batch)
    shearing = _stack3(
        [[1.0, -np.sin(shear), 0.0], [0.0, np.cos(shear), 0.0], [0.0, 0.0, 1.0]], batch
    )
    zoom = _stack3([[params.zx, 0.0, 0.0], [0.0, params.zy, 0.0], [0.0, 0.0, 1.0]], batch)
    m = np.matmul(np.matmul(np.matmul(rotation, shift), shearing), zoom)

    if compat == "keras":
        # Keras passes (x=H, y=W) although its frame has x = column: the pivot
        # is transposed for non-square images.  Kept on purpose (a quirk).
        o_x, o_y = float(height) / 2 - 0.5, float(width) / 2 - 0.5
    elif compat == "fixed":
        o_x, o_y = float(width) / 2 - 0.5, float(height) / 2 - 0.5
    else:  # keras-preprocessing 1.1.2
        o_x, o_y = float(height) / 2 + 0.5, float(width) / 2 + 0.5
    offset = np.array([[1.0, 0.0, o_x], [0.0, 1.0, o_y], [0.0, 0.0, 1.0]])
    reset = np.array([[1.0, 0.0, -o_x], [0.0, 1.0, -o_y], [0.0, 0.0, 1.0]])
    t = np.matmul(np.matmul(offset, m), reset)

    if compat != "keras-preprocessing":
        # Keras's frame is (x, y) = (column, row); SciPy's is (row, column).
        t = t[:, [1, 0, 2]][:, :, [1, 0, 2]]
    return np.ascontiguousarray(t[:, :2, :])
