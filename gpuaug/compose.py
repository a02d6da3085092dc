"""Composer: per-sample parameters -> per-sample 2x3 inverse warp matrices.

The result ``A`` (shape ``(B, 2, 3)``, float64) maps an output pixel
``(r, c)`` to its source coordinate, in SciPy's evaluation order::

    in_row = (A[b, 0, 2] + r * A[b, 0, 0]) + c * A[b, 0, 1]
    in_col = (A[b, 1, 2] + r * A[b, 1, 0]) + c * A[b, 1, 1]

The matrices are the ones Keras builds (docs/semantics.md §3.1): ``R @ S @ Sh @ Z`` in
float64 with ``np.dot``, centred by ``Off(o) @ M @ Off(-o)``, then rows and columns
swapped.  The compatibility mode (:mod:`gpuaug.compat`) changes only the pivot, which
shift parameter moves which axis, and whether the axes are swapped.

Keras's products are 3x3 BLAS calls, and BLAS may fuse a multiply and an add (it does
on any CPU with FMA), so the same numbers computed another way can differ in the last
bit.  :func:`compose_by_matmul` is the literal chain, five stacked 3x3 products.  The
default path, :func:`compose_by_entries`, works out each entry of the chain from the
factors' constant zeros and ones: every entry is then one product, a sum with an exact
term, or a sum of two products, and the six sums of two products are left to BLAS in
two small products (a stacked 2x2 and one 2-D product), so they round as Keras's
3x3 products round.  Whether they do is checked once per process against the literal
chain (:func:`entries_match_the_chain`); where not, the literal chain is used.  The
two may differ only in the sign of zero entries, which no coordinate can tell.
"""

from __future__ import annotations

import functools

import numpy as np

from .compat import check_compat
from .params import TransformParams
from .trig import sincos_degrees


def compose_matrices(
    params: TransformParams, height: int, width: int, compat: str = "keras", *,
    keras_rounding: bool = True,
) -> np.ndarray:
    """Return the ``(B, 2, 3)`` inverse matrices for images of ``height x width``.

    ``keras_rounding`` (default) gives Keras's matrices to the last bit, as its 3x3
    BLAS products round them; False computes the same entries with plain float64
    arithmetic and :func:`~gpuaug.trig.sincos_degrees` (each within a few ulps of
    Keras's), about three times faster: what keyed draws use, since they have no Keras
    to match.
    """
    check_compat(compat)
    if not keras_rounding:
        return compose_by_entries(params, height, width, compat, blas=False)
    if entries_match_the_chain():
        return compose_by_entries(params, height, width, compat)
    return compose_by_matmul(params, height, width, compat)


def _pivot(height: int, width: int, compat: str) -> tuple[float, float]:
    """The pivot ``(o_x, o_y)`` in Keras's frame."""
    if compat == "keras":
        # Keras passes (x=H, y=W) although its frame has x = column: the pivot
        # is transposed for non-square images.  Kept on purpose (a quirk).
        return float(height) / 2 - 0.5, float(width) / 2 - 0.5
    if compat == "fixed":
        return float(width) / 2 - 0.5, float(height) / 2 - 0.5
    return float(height) / 2 + 0.5, float(width) / 2 + 0.5  # keras-preprocessing 1.1.2


def _shifts(params: TransformParams, compat: str) -> tuple[np.ndarray, np.ndarray]:
    """The shifts along Keras's x and y."""
    if compat == "fixed":  # height shifts move rows (Keras's frame: y is the row)
        return params.ty, params.tx
    return params.tx, params.ty


def _trig(params: TransformParams, keras_rounding: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """``(cos, sin)``, each ``(2, B)``: row 0 of the rotation, row 1 of the shear.

    ``keras_rounding``: NumPy's ``deg2rad``, ``cos`` and ``sin``, as Keras calls them;
    False: :func:`~gpuaug.trig.sincos_degrees` (as accurate, and about twice as fast
    where NumPy's float64 trigonometry is not vectorised).
    """
    angles = np.empty((2, len(params)))
    angles[0] = params.theta
    angles[1] = params.shear
    if not keras_rounding:
        return sincos_degrees(angles)
    np.deg2rad(angles, out=angles)  # elementwise: as Keras's one by one
    return np.cos(angles), np.sin(angles)


def _result(count: int, compat: str) -> tuple[np.ndarray, tuple[np.ndarray, ...]]:
    """The (B, 2, 3) result, and its columns in Keras's frame as writable ``(2, B)`` views.

    The result is the transpose of a ``(2, 3, B)`` array, so that every column of every
    row is contiguous over the batch: the arithmetic writes straight into it.
    Returns ``(result, (c0, c1, c2))`` with ``c_k[r]`` entry ``(r, k)`` of Keras's matrix.
    """
    by_entry = np.empty((2, 3, count))
    if compat == "keras-preprocessing":
        columns = (by_entry[:, 0], by_entry[:, 1], by_entry[:, 2])
    else:  # Keras's frame is (x, y) = (column, row); SciPy's is (row, column).
        columns = (by_entry[::-1, 1], by_entry[::-1, 0], by_entry[::-1, 2])
    return by_entry.transpose(2, 0, 1), columns


def compose_by_entries(params: TransformParams, height: int, width: int,
                       compat: str = "keras", *, blas: bool = True) -> np.ndarray:
    """Keras's chain entry by entry (see the module docstring).

    ``blas`` leaves the six sums of two products to BLAS and takes NumPy's trigonometry
    (Keras's rounding, checked by :func:`entries_match_the_chain`); False computes the sums
    in plain float64 and the sines and cosines with :func:`~gpuaug.trig.sincos_degrees`.

    Both rows of the centred matrix are computed at once, as ``(2, B)`` arrays: row
    ``r`` of ``R`` is ``(a[r], b[r])`` with ``a = (cos, sin)`` and ``b = (-sin, cos)``.
    A batch is then a few dozen array operations whatever its size.
    """
    count = len(params)
    cos, sin = _trig(params, keras_rounding=blas)
    x, y = _shifts(params, compat)
    o_x, o_y = _pivot(height, width, compat)
    a = np.empty((2, count))  # R's first column, row by row
    a[0], a[1] = cos[0], sin[0]
    b = np.empty((2, count))  # R's second column
    np.negative(sin[0], out=b[0])
    b[1] = cos[0]
    minus_shear_sin = np.negative(sin[1])
    # Stage 1, the four sums of two products of R @ S and (R @ S) @ Sh:
    #   translation  rs[r] = a[r] * x + b[r] * y
    #   column 1     m[r]  = a[r] * -sin(shear) + b[r] * cos(shear)
    if blas:  # in one stacked product, [[c, -s], [s, c]] @ [[x, -sin(shear)], [y, cos(shear)]]
        rotation = np.empty((count, 2, 2))
        rotation[:, :, 0], rotation[:, :, 1] = a.T, b.T
        other = np.empty((count, 2, 2))
        other[:, 0, 0], other[:, 1, 0] = x, y
        other[:, 0, 1], other[:, 1, 1] = minus_shear_sin, cos[1]
        sums = np.matmul(rotation, other)
        rs, m = sums[:, :, 0].T, sums[:, :, 1].T
    else:
        rs = a * x
        rs += b * y
        m = a * minus_shear_sin
        m += b * cos[1]
    # Times Z (diagonal): one product per entry; the translation column passes through.
    result, (n0, n1, t2) = _result(count, compat)
    np.multiply(a, params.zx, out=n0)
    np.multiply(m, params.zy, out=n1)
    # Off(o) @ N @ Off(-o): the translation column is N[:, :2] @ (-o) + (N[:, 2] + o).
    if blas:  # one 2-D product for both rows of every sample: BLAS's rounding
        n = np.empty((count, 2, 2))  # contiguous, or NumPy would not hand it to BLAS
        n[:, :, 0], n[:, :, 1] = n0.T, n1.T
        u = (n.reshape(-1, 2) @ np.array([[-o_x, 0.0], [-o_y, 0.0]]))[:, 0].reshape(-1, 2).T
    else:
        u = n0 * -o_x
        u += n1 * -o_y
    rs += np.array([[o_x], [o_y]])  # in place: rs is this call's own array on both paths
    np.add(u, rs, out=t2)
    return result


def _stack3(rows: list[list[np.ndarray | float]], batch: int) -> np.ndarray:
    """Build a (batch, 3, 3) float64 stack from a 3x3 nest of scalars/columns."""
    out = np.empty((batch, 3, 3), dtype=np.float64)
    for i, row in enumerate(rows):
        for j, value in enumerate(row):
            out[:, i, j] = value
    return out


def compose_by_matmul(params: TransformParams, height: int, width: int,
                      compat: str = "keras") -> np.ndarray:
    """Keras's chain literally: ``R @ S @ Sh @ Z``, centred, as stacked 3x3 products.

    Keras skips factors that are the identity; multiplying by an exact identity
    changes no value, so every factor is included.
    """
    cos, sin = _trig(params)
    c, s, shear_sin, shear_cos = cos[0], sin[0], sin[1], cos[1]
    x, y = _shifts(params, compat)
    o_x, o_y = _pivot(height, width, compat)
    batch = len(params)
    rotation = _stack3([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]], batch)
    shift = _stack3([[1.0, 0.0, x], [0.0, 1.0, y], [0.0, 0.0, 1.0]], batch)
    shearing = _stack3([[1.0, -shear_sin, 0.0], [0.0, shear_cos, 0.0], [0.0, 0.0, 1.0]], batch)
    zoom = _stack3([[params.zx, 0.0, 0.0], [0.0, params.zy, 0.0], [0.0, 0.0, 1.0]], batch)
    m = np.matmul(np.matmul(np.matmul(rotation, shift), shearing), zoom)
    offset = np.array([[1.0, 0.0, o_x], [0.0, 1.0, o_y], [0.0, 0.0, 1.0]])
    reset = np.array([[1.0, 0.0, -o_x], [0.0, 1.0, -o_y], [0.0, 0.0, 1.0]])
    t = np.matmul(np.matmul(offset, m), reset)
    result, columns = _result(batch, compat)
    for k, column in enumerate(columns):
        column[...] = t[:, :2, k].T
    return result


def probe_params(count: int = 3000, seed: int = 20261129) -> TransformParams:
    """Parameters that exercise every rounding of the chain: random, zero, round and huge."""
    rng = np.random.default_rng(seed)
    pick = rng.integers(0, 4, (6, count))
    theta = np.where(pick[0] == 0, 0.0, rng.uniform(-360, 360, count))
    shear = np.where(pick[1] == 0, 0.0, rng.uniform(-60, 60, count))
    tx = np.select([pick[2] == 0, pick[2] == 1], [0.0, np.round(rng.uniform(-50, 50, count))],
                   rng.uniform(-1e3, 1e3, count))
    ty = np.select([pick[3] == 0, pick[3] == 1], [0.0, rng.uniform(-0.5, 0.5, count)],
                   rng.uniform(-300, 300, count))
    zx = np.where(pick[4] == 0, 1.0, rng.uniform(0.1, 3.0, count))
    zy = np.where(pick[5] == 0, 1.0, rng.uniform(0.1, 3.0, count))
    return TransformParams.from_dicts(
        dict(theta=a, shear=b, tx=cc, ty=d, zx=e, zy=f)
        for a, b, cc, d, e, f in zip(theta, shear, tx, ty, zx, zy, strict=True))


@functools.lru_cache(maxsize=1)
def entries_match_the_chain() -> bool:
    """Whether :func:`compose_by_entries` equals :func:`compose_by_matmul` on this machine.

    Checked once per process on :func:`probe_params` in every compat mode and on
    square and non-square images; values compared with ``==``, so that only a
    zero's sign may differ.
    """
    params = probe_params()
    for compat in ("keras", "keras-preprocessing", "fixed"):
        for height, width in ((224, 224), (31, 480), (7, 3)):
            fast = compose_by_entries(params, height, width, compat)
            literal = compose_by_matmul(params, height, width, compat)
            if not np.array_equal(fast, literal):
                return False
    return True
