"""compat='keras-preprocessing' against keras-preprocessing 1.1.2 (TF <= 2.8 geometry).

Tolerance: exact for parameters and warped pixels; ZCA allclose (KP uses
SciPy's float32 SVD, gpuaug NumPy's: rtol 1e-3, atol 1e-5 on the matrix).
"""

from __future__ import annotations

import numpy as np
import pytest

import gpuaug

from keras_cases import image_shape, random_config

pytestmark = pytest.mark.keras


def _pair(kp_image, config):
    return (kp_image.ImageDataGenerator(**config),
            gpuaug.ImageDataGenerator(**config, device="cpu", compat="keras-preprocessing"))


@pytest.mark.parametrize("case", range(120))
def test_kp_transforms_bit_exact(kp_image, case):
    rng = np.random.default_rng(9000 + case)
    config = random_config(rng)
    config["fill_mode"] = ["nearest", "reflect", "wrap", "constant"][case % 4]
    config["interpolation_order"] = (case // 4) % 2
    if config["brightness_range"] is not None:
        # KP's brightness always converts through PIL as channels_last.
        config["data_format"] = "channels_last"
    theirs, ours = _pair(kp_image, config)
    x = rng.uniform(0, 255, image_shape(rng, config["data_format"])).astype(
        [np.float32, np.float64][case % 2])
    seed = int(rng.integers(2**32))
    params = theirs.get_random_transform(x.shape, seed)
    assert ours.get_random_transform(x.shape, seed) == params
    expected = theirs.apply_transform(x.copy(), params)
    got = ours.apply_transform(x.copy(), params)
    assert got.dtype == expected.dtype
    np.testing.assert_array_equal(got, expected)


def test_kp_brightness_stretches_to_0_255(kp_image):
    x = np.random.default_rng(1).uniform(0.2, 0.6, (6, 7, 3)).astype(np.float32)
    theirs, ours = _pair(kp_image, dict(brightness_range=(1, 1)))
    got = ours.apply_transform(x, {"brightness": 1.0})
    np.testing.assert_array_equal(got, theirs.apply_transform(x.copy(), {"brightness": 1.0}))
    assert got.min() == 0 and got.max() == 255


def test_kp_zca(kp_image):
    rng = np.random.default_rng(2)
    # More samples than features: a full-rank covariance.  (With fewer, the
    # null space's float32 noise is amplified by 1/sqrt(eps) and no two SVD
    # implementations agree.)
    x = rng.uniform(0, 255, (400, 3, 4, 3)).astype(np.float32)
    with pytest.warns(UserWarning):
        theirs, ours = _pair(kp_image, dict(zca_whitening=True))
    theirs.fit(x)
    ours.fit(x)
    np.testing.assert_array_equal(ours.mean, theirs.mean)
    # KP computes in float32 with SciPy's SVD, gpuaug with NumPy's.
    np.testing.assert_allclose(ours.principal_components, theirs.principal_components,
                               rtol=1e-3, atol=1e-5)
