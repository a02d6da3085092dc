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


def compose_matrices(
    params: TransformParams, height: int, width: int, compat: str = "keras", *,
    keras_rounding: bool = True,
) -> np.ndarray:
    """Return the ``(B, 2, 3)`` inverse matrices for images of ``height x width``.

    ``keras_rounding`` (default) gives Keras's matrices to the last bit, as its 3x3
    BLAS products round them; False computes the same entries with plain float64
    arithmetic (each within an ulp of Keras's), about three times faster: what keyed
    draws use, since they have no Keras to match.
    """
    check_compat(compat)
    if not keras_rounding:
        return compose_by_entries(params, height, width, compat, blas=False)
    if entries_match_the_chain():
        return compose_by_entries(params, height, width, compat)
    return compose_by_matmul(params, height, width, compat)


def _factors(params: TransformParams, height: int, width: int, compat: str):
    """cos / sin of rotation and shear, the shifts in Keras's frame, the pivot."""
    angles = np.deg2rad(np.stack([params.theta, params.shear]))  # elementwise: as one by one
    cos, sin = np.cos(angles), np.sin(angles)
    if compat == "fixed":
        # Height shifts move rows (Keras's frame: y is the row), width shifts columns.
        shift_x, shift_y = params.ty, params.tx
    else:
        shift_x, shift_y = params.tx, params.ty
    if compat == "keras":
        # Keras passes (x=H, y=W) although its frame has x = column: the pivot
        # is transposed for non-square images.  Kept on purpose (a quirk).
        o_x, o_y = float(height) / 2 - 0.5, float(width) / 2 - 0.5
    elif compat == "fixed":
        o_x, o_y = float(width) / 2 - 0.5, float(height) / 2 - 0.5
    else:  # keras-preprocessing 1.1.2
        o_x, o_y = float(height) / 2 + 0.5, float(width) / 2 + 0.5
    return cos[0], sin[0], sin[1], cos[1], shift_x, shift_y, o_x, o_y


def _finish(t00, t01, t02, t10, t11, t12, compat: str) -> np.ndarray:
    """The (B, 2, 3) result from the centred matrix's first two rows (Keras's (x, y) frame)."""
    if compat != "keras-preprocessing":
        # Keras's frame is (x, y) = (column, row); SciPy's is (row, column).
        t00, t01, t02, t10, t11, t12 = t11, t10, t12, t01, t00, t02
    out = np.empty((len(t00), 2, 3))
    for (i, j), value in zip(((0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (1, 2)),
                             (t00, t01, t02, t10, t11, t12), strict=True):
        out[:, i, j] = value
    return out


def compose_by_entries(params: TransformParams, height: int, width: int,
                       compat: str = "keras", *, blas: bool = True) -> np.ndarray:
    """Keras's chain entry by entry (see the module docstring).

    ``blas`` leaves the six sums of two products to BLAS (Keras's rounding, checked by
    :func:`entries_match_the_chain`); False computes them in plain float64.
    """
    c, s, shear_sin, shear_cos, x, y, o_x, o_y = _factors(params, height, width, compat)
    # Stage 1, the four sums of two products of R @ S and (R @ S) @ Sh, in one product:
    #   [[c, -s], [s, c]] @ [[x, -sin(shear)], [y, cos(shear)]]
    if blas:
        rotation = np.stack([c, -s, s, c], axis=-1).reshape(-1, 2, 2)
        other = np.stack([x, -shear_sin, y, shear_cos], axis=-1).reshape(-1, 2, 2)
        sums = np.matmul(rotation, other)
        rs_02, m_01, rs_12, m_11 = sums[:, 0, 0], sums[:, 0, 1], sums[:, 1, 0], sums[:, 1, 1]
    else:
        rs_02, m_01 = c * x + -s * y, c * -shear_sin + -s * shear_cos
        rs_12, m_11 = s * x + c * y, s * -shear_sin + c * shear_cos
    # Times Z (diagonal): one product per entry; the translation column passes through.
    n00, n01 = c * params.zx, m_01 * params.zy
    n10, n11 = s * params.zx, m_11 * params.zy
    # Off(o) @ N @ Off(-o): the translation column is N[:, :2] @ (-o) + (N[:, 2] + o).
    if blas:  # one 2-D product for both rows of every sample: BLAS's rounding
        n = np.stack([n00, n01, n10, n11], axis=-1).reshape(-1, 2)
        shifted = (n @ np.array([[-o_x, 0.0], [-o_y, 0.0]]))[:, 0].reshape(-1, 2)
        u0, u1 = shifted[:, 0], shifted[:, 1]
    else:
        u0, u1 = n00 * -o_x + n01 * -o_y, n10 * -o_x + n11 * -o_y
    t02 = u0 + (rs_02 + o_x)
    t12 = u1 + (rs_12 + o_y)
    return _finish(n00, n01, t02, n10, n11, t12, compat)


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
    c, s, shear_sin, shear_cos, x, y, o_x, o_y = _factors(params, height, width, compat)
    batch = len(params)
    rotation = _stack3([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]], batch)
    shift = _stack3([[1.0, 0.0, x], [0.0, 1.0, y], [0.0, 0.0, 1.0]], batch)
    shearing = _stack3([[1.0, -shear_sin, 0.0], [0.0, shear_cos, 0.0], [0.0, 0.0, 1.0]], batch)
    zoom = _stack3([[params.zx, 0.0, 0.0], [0.0, params.zy, 0.0], [0.0, 0.0, 1.0]], batch)
    m = np.matmul(np.matmul(np.matmul(rotation, shift), shearing), zoom)
    offset = np.array([[1.0, 0.0, o_x], [0.0, 1.0, o_y], [0.0, 0.0, 1.0]])
    reset = np.array([[1.0, 0.0, -o_x], [0.0, 1.0, -o_y], [0.0, 0.0, 1.0]])
    t = np.matmul(np.matmul(offset, m), reset)
    return _finish(t[:, 0, 0], t[:, 0, 1], t[:, 0, 2], t[:, 1, 0], t[:, 1, 1], t[:, 1, 2],
                   compat)


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
