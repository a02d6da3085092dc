"""compat='fixed': what the Keras documentation promises, checked by tracking pixels."""

from __future__ import annotations

import numpy as np
import pytest

import gpuaug


def _gen(**kwargs):
    return gpuaug.ImageDataGenerator(device="cpu", compat="fixed", interpolation_order=0,
                                     fill_mode="constant", cval=-1, **kwargs)


def _marker(h=9, w=15, r=2, c=3):
    x = np.zeros((h, w, 1), np.float32)
    x[r, c, 0] = 100
    return x


def test_height_shift_moves_rows_and_width_shift_moves_columns():
    x = _marker()
    gen = _gen()
    down = gen.apply_transform(x, {"tx": -3})  # tx comes from height_shift_range
    assert np.argwhere(down[..., 0] == 100).tolist() == [[5, 3]]
    right = gen.apply_transform(x, {"ty": -4})  # ty from width_shift_range
    assert np.argwhere(right[..., 0] == 100).tolist() == [[2, 7]]


def test_keras_mode_keeps_the_swapped_axes():
    x = _marker()
    keras_like = gpuaug.ImageDataGenerator(interpolation_order=0, fill_mode="constant", cval=-1)
    moved = keras_like.apply_transform(x, {"tx": -3})
    assert np.argwhere(moved[..., 0] == 100).tolist() == [[2, 6]]  # columns, not rows


@pytest.mark.parametrize("shape", [(9, 15), (16, 7), (10, 10)])
def test_rotation_pivots_on_the_true_centre(shape):
    """A 180 degree turn about the true centre flips both axes, also for non-square images."""
    h, w = shape
    x = np.random.default_rng(0).uniform(0, 255, (h, w, 3)).astype(np.float32)
    # fill 'nearest': sin(pi) is 1.2e-16, not 0, so edge coordinates land a
    # hair outside the image, where 'constant' would cut them off.
    turned = gpuaug.ImageDataGenerator(compat="fixed", interpolation_order=0).apply_transform(
        x, {"theta": 180.0})
    np.testing.assert_array_equal(turned, x[::-1, ::-1])


def test_zoom_keeps_the_centre_fixed():
    x = _marker(9, 15, 4, 7)  # the true centre
    zoomed = _gen().apply_transform(x, {"zx": 0.5, "zy": 0.5})
    assert zoomed[4, 7, 0] == 100


def test_brightness_keeps_scale_and_precision():
    x = np.random.default_rng(1).uniform(0, 1, (5, 6, 3)).astype(np.float32)
    out = _gen().apply_transform(x, {"brightness": 1.5})
    np.testing.assert_array_equal(out, x * np.float32(1.5))
