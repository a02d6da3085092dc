"""Sine and cosine of many angles in degrees, for the keyed draws' matrices.

NumPy's float64 ``sin`` and ``cos`` are vectorised only on CPUs with AVX-512; elsewhere
(this project's CI machine, many desktops) each value is a scalar libm call, about 10 ns:
two thirds of composing a stretch of keyed matrices (``bench/RESULTS.md``, host
benchmark).  :func:`sincos_degrees` takes both with about thirty vectorised array
operations, by angle addition: the angle is ``k * STEP + r`` with ``STEP`` = 360/256
degrees, ``cos`` and ``sin`` of ``k * STEP`` come from a table of 256 values NumPy
computes once, and those of ``r`` (at most 0.0123 radians) from their Taylor series,
whose first omitted terms are below 1e-17.

Accuracy: within 3e-16 of the exact values (tested against ``np.cos`` / ``np.sin`` and,
where mpmath is installed, against 40-digit values).  The reduction ``angle - k * STEP``
is exact in floating point up to :data:`EXACT_LIMIT` degrees (``STEP`` is a short binary
fraction and the two are within a factor of two: Sterbenz's lemma), so large angles lose
nothing: closer to the exact value than ``np.cos(np.deg2rad(angle))``, whose conversion
to radians rounds first.  Beyond that limit, and for infinities and NaN, NumPy's
functions answer.

Keras's mode does not use this: its matrices must be Keras's to the last bit, so they
take NumPy's own functions, as Keras does.
"""

from __future__ import annotations

import numpy as np

#: The table's step: 360/256 degrees, a binary fraction (1.40625), so ``k * STEP`` is exact.
STEP = 360.0 / 256
_TABLE_ANGLES = np.deg2rad(np.arange(256) * STEP)
_COS_TABLE = np.cos(_TABLE_ANGLES)
_SIN_TABLE = np.sin(_TABLE_ANGLES)
#: NumPy's ``deg2rad`` is this product (npymath): the same rounding.
DEG2RAD = np.pi / 180
#: Angles up to this many degrees are reduced exactly (``k * STEP`` needs at most 53 bits).
EXACT_LIMIT = 2.0**46


def sincos_degrees(degrees: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(cos, sin)`` of ``degrees`` (float64, any shape), each a new array of that shape.

    Args:
        degrees: angles in degrees.  Where one is not finite or beyond
            :data:`EXACT_LIMIT` degrees, the whole array is left to NumPy's functions.

    Returns:
        ``(cos, sin)``, float64 arrays of ``degrees``' shape, within 3e-16 of the exact values.
    """
    degrees = np.asarray(degrees, dtype=np.float64)
    flat = degrees.reshape(-1)
    k = np.rint(flat * (1 / STEP))
    if not np.abs(k).max(initial=0.0) < EXACT_LIMIT / STEP:  # NaN fails this too
        radians = np.deg2rad(degrees)
        return np.cos(radians), np.sin(radians)
    r = k * STEP
    np.subtract(flat, r, out=r)  # exact: |r| <= STEP / 2
    r *= DEG2RAD
    index = k.astype(np.int64)
    index &= 255  # k modulo 256, negative k included (two's complement)
    c0, s0 = _COS_TABLE.take(index), _SIN_TABLE.take(index)
    r2 = r * r
    # sin r = r + r * r2 * (-1/6 + r2/120), in Horner's order (the next term, r^7/5040,
    # is below 1e-17).
    sin_r = r2 * (1 / 120)
    sin_r -= 1 / 6
    sin_r *= r2
    sin_r *= r
    sin_r += r
    # 1 - cos r = r2 * (1/2 - r2 * (1/24 - r2/720)) (the next term, r^8/40320, is below 1e-19).
    one_minus_cos_r = r2 * (1 / 720)
    np.subtract(1 / 24, one_minus_cos_r, out=one_minus_cos_r)
    one_minus_cos_r *= r2
    np.subtract(0.5, one_minus_cos_r, out=one_minus_cos_r)
    one_minus_cos_r *= r2
    # cos(a + r) = c0 - (c0 (1 - cos r) + s0 sin r); sin(a + r) = s0 - (s0 (1 - cos r) - c0 sin r):
    # the small corrections are summed first, then taken from the table values once.
    sin_correction = s0 * one_minus_cos_r
    sin_correction -= np.multiply(c0, sin_r, out=r)  # r is no longer needed
    cos_correction = np.multiply(c0, one_minus_cos_r, out=one_minus_cos_r)
    cos_correction += np.multiply(s0, sin_r, out=sin_r)
    cos = np.subtract(c0, cos_correction, out=c0)
    sin = np.subtract(s0, sin_correction, out=s0)
    return cos.reshape(degrees.shape), sin.reshape(degrees.shape)
