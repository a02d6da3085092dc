"""``sincos_degrees`` is within 6e-16 of the exact sine and cosine, at every scale of angle.

The oracle reduces the angle to [-45, 45] degrees by quarter turns, exactly
(``math.remainder`` is exact), and takes NumPy's functions there, where converting to
radians rounds by at most 5.6e-17: within about 2e-16 of the exact values at any
angle, where ``np.cos(np.deg2rad(x))`` itself drifts by ulps of the angle in radians.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from gpuaug.trig import EXACT_LIMIT, STEP, sincos_degrees

TOLERANCE = 8e-16  # gpuaug.trig's 6e-16 plus the oracle's own 2e-16


def _oracle(degrees: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    cos, sin = [], []
    for x in degrees.reshape(-1).tolist():
        rest = math.remainder(x, 90.0)  # exact: x - n * 90 with |rest| <= 45
        quarter = round((x - rest) / 90.0) % 4
        c, s = np.cos(np.deg2rad(rest)), np.sin(np.deg2rad(rest))
        c, s = ((c, s), (-s, c), (-c, -s), (s, -c))[quarter]
        cos.append(c)
        sin.append(s)
    return np.reshape(cos, degrees.shape), np.reshape(sin, degrees.shape)


@pytest.mark.parametrize("scale", [1e-6, 45.0, 180.0, 360.0, 1e4, 1e9, EXACT_LIMIT / 2])
def test_sine_and_cosine_are_within_6e16_of_the_exact_values(scale):
    rng = np.random.default_rng(int(scale) % 2**32 + 7)
    degrees = rng.uniform(-scale, scale, (2, 3000))
    cos, sin = sincos_degrees(degrees)
    want_cos, want_sin = _oracle(degrees)
    assert cos.shape == sin.shape == degrees.shape and cos.dtype == np.float64
    assert np.abs(cos - want_cos).max() <= TOLERANCE
    assert np.abs(sin - want_sin).max() <= TOLERANCE


def test_table_points_quarter_turns_and_half_steps_are_exact_enough():
    """The reduction's edges: the table's own angles, the points halfway between, signed zero."""
    k = np.arange(-600, 600)
    degrees = np.concatenate([k * STEP, (k + 0.5) * STEP, np.nextafter((k + 0.5) * STEP, 0),
                              k * 90.0, [0.0, -0.0, 5e-324]])
    cos, sin = sincos_degrees(degrees)
    want_cos, want_sin = _oracle(degrees)
    assert np.abs(cos - want_cos).max() <= TOLERANCE
    assert np.abs(sin - want_sin).max() <= TOLERANCE
    assert sincos_degrees(np.zeros(3))[0].tolist() == [1.0, 1.0, 1.0]
    assert sincos_degrees(np.zeros(3))[1].tolist() == [0.0, 0.0, 0.0]


def test_what_cannot_be_reduced_exactly_is_left_to_numpy():
    """Infinities, NaN and angles past the exact range: NumPy's answers, for the whole array."""
    for odd in (np.inf, -np.inf, np.nan, 4 * EXACT_LIMIT):
        degrees = np.array([[30.0, odd], [-45.0, 1.0]])
        with np.errstate(invalid="ignore"):
            cos, sin = sincos_degrees(degrees)
            radians = np.deg2rad(degrees)
            np.testing.assert_array_equal(cos, np.cos(radians))
            np.testing.assert_array_equal(sin, np.sin(radians))


def test_an_empty_array_gives_empty_results():
    cos, sin = sincos_degrees(np.empty((2, 0)))
    assert cos.shape == sin.shape == (2, 0)
