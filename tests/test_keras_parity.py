"""Differential tests against Keras 3's ImageDataGenerator (the target behaviour).

Tolerance: exact.  Parameter dicts are compared key by key with ``==`` (and
their types), the RNG streams must end at the same position, and images must
be bit-identical (``array_equal``, same dtype) for every fill mode x order x
data_format x dtype, which docs/semantics.md §14 established is achievable.
"""

from __future__ import annotations

import numpy as np
import pytest

import gpuaug

from keras_cases import image_shape, random_config

pytestmark = pytest.mark.keras
SEEDS = [0, 1, 42, 2**32 - 1]


def _pair(keras_image, config):
    return (keras_image.ImageDataGenerator(**config),
            gpuaug.ImageDataGenerator(**config, device="cpu"))


@pytest.mark.parametrize("case", range(160))
def test_random_transform_dicts_equal(keras_image, keras_format, case):
    rng = np.random.default_rng(case)
    config = random_config(rng)
    keras_format(config["data_format"])
    theirs, ours = _pair(keras_image, config)
    shape = image_shape(rng, config["data_format"])
    seed = SEEDS[case % len(SEEDS)]
    expected = theirs.get_random_transform(shape, seed)
    got = ours.get_random_transform(shape, seed)
    assert got == expected
    assert {k: type(v) for k, v in got.items()} == {k: type(v) for k, v in expected.items()}
    # Same number of draws consumed: the next value of both streams agrees.
    assert ours.random_state.random_sample() == np.random.random_sample()


@pytest.mark.parametrize("case", range(240))
def test_apply_transform_bit_exact(keras_image, keras_format, case):
    rng = np.random.default_rng(1000 + case)
    config = random_config(rng)
    # Cover the product fill mode x order x data_format x dtype systematically.
    config["fill_mode"] = ["nearest", "reflect", "wrap", "constant"][case % 4]
    config["interpolation_order"] = (case // 4) % 2
    config["data_format"] = ["channels_last", "channels_first"][(case // 8) % 2]
    dtype = [np.float32, np.float64][(case // 16) % 2]
    keras_format(config["data_format"])
    theirs, ours = _pair(keras_image, config)
    x = rng.uniform(0, 255, image_shape(rng, config["data_format"])).astype(dtype)
    if case % 7 == 0:
        x -= 100  # data outside 0..255: Keras's min-max brightness branch
    params = theirs.get_random_transform(x.shape, int(rng.integers(2**32)))
    expected = theirs.apply_transform(x.copy(), params)
    got = ours.apply_transform(x.copy(), params)
    assert got.dtype == expected.dtype
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_exact_half_pixel_and_integer_shifts(keras_image, keras_format, data_format):
    """Order-0 ties (coordinates exactly at .5) round as SciPy rounds them."""
    keras_format(data_format)
    rng = np.random.default_rng(7)
    for fill_mode in ("nearest", "reflect", "wrap", "constant"):
        config = dict(fill_mode=fill_mode, interpolation_order=0, cval=-1.0,
                      data_format=data_format)
        theirs, ours = _pair(keras_image, config)
        x = rng.uniform(0, 255, image_shape(rng, data_format, 3)).astype(np.float32)
        for tx, ty in [(0.5, 0), (0, -0.5), (1.5, 2.5), (3, -4), (-0.5, 0.5)]:
            params = {"tx": tx, "ty": ty}
            np.testing.assert_array_equal(ours.apply_transform(x, params),
                                          theirs.apply_transform(x.copy(), params))


@pytest.mark.parametrize("case", range(40))
def test_batch_engine_equals_keras_iterator_loop(keras_image, keras_format, case):
    """``random_transform_batch`` == Keras's per-image random_transform + standardize."""
    rng = np.random.default_rng(5000 + case)
    config = random_config(rng)
    config.update(
        rescale=[None, 1 / 255.0, 0.5][case % 3],
        samplewise_center=bool(case % 2),
        samplewise_std_normalization=bool((case // 2) % 2),
    )
    keras_format(config["data_format"])
    theirs, ours = _pair(keras_image, config)
    shape = image_shape(rng, config["data_format"], channels=3)
    batch = rng.integers(0, 256, (6,) + shape).astype(np.uint8)
    seed = int(rng.integers(2**32))
    np.random.seed(seed)
    expected = np.stack([
        theirs.standardize(theirs.random_transform(img.astype(np.float32))) for img in batch
    ]).astype(np.float32)
    got, params = ours.random_transform_batch(batch, seed=seed)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, expected)
    # The parameters replay: the same batch comes back through augment_batch.
    replay = gpuaug.augment_batch(batch, params, ours.config())
    np.testing.assert_array_equal(replay, got)


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
@pytest.mark.parametrize("augment", [False, True])
def test_fit_and_standardize_equal(keras_image, keras_format, data_format, augment):
    keras_format(data_format)
    rng = np.random.default_rng(11)
    config = dict(featurewise_center=True, featurewise_std_normalization=True, rescale=1 / 255.0,
                  rotation_range=20, zoom_range=0.1, horizontal_flip=True, data_format=data_format)
    theirs, ours = _pair(keras_image, config)
    shape = (8, 9, 3) if data_format == "channels_last" else (3, 8, 9)
    x = rng.uniform(0, 255, (12,) + shape).astype(np.float32)
    theirs.fit(x, augment=augment, rounds=2, seed=3)
    ours.fit(x, augment=augment, rounds=2, seed=3)
    np.testing.assert_array_equal(ours.mean, theirs.mean)
    np.testing.assert_array_equal(ours.std, theirs.std)
    img = x[0].copy()
    np.testing.assert_array_equal(ours.standardize(img.copy()), theirs.standardize(img.copy()))


def test_zca_fit_and_standardize(keras_image, keras_format):
    keras_format("channels_last")
    rng = np.random.default_rng(12)
    with pytest.warns(UserWarning):
        theirs = keras_image.ImageDataGenerator(zca_whitening=True)
    with pytest.warns(UserWarning):
        ours = gpuaug.ImageDataGenerator(zca_whitening=True, device="cpu")
    x = rng.uniform(0, 255, (20, 4, 5, 3)).astype(np.float32)
    theirs.fit(x)
    ours.fit(x)
    np.testing.assert_array_equal(ours.mean, theirs.mean)
    # The SVD is the same LAPACK call on the same data: equal bit for bit here;
    # the stated tolerance covers other BLAS builds.
    np.testing.assert_allclose(ours.zca_whitening_matrix, theirs.zca_whitening_matrix,
                               rtol=1e-10, atol=1e-10)
    img = x[3].copy()
    np.testing.assert_allclose(ours.standardize(img.copy()), theirs.standardize(img.copy()),
                               rtol=1e-5, atol=1e-4)


def test_standardize_works_in_place(keras_image):
    ours = gpuaug.ImageDataGenerator(rescale=0.5, samplewise_center=True, device="cpu")
    x = np.random.default_rng(0).uniform(0, 255, (4, 5, 3)).astype(np.float32)
    out = ours.standardize(x)
    assert np.shares_memory(out, x)
    assert abs(float(x.mean())) < 1e-3


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_preprocessing_function_runs_per_image_before_rescale(keras_image, keras_format,
                                                              data_format):
    """Same order of steps as Keras; samplewise stats may differ in the last bit
    (Keras reduces the function's output in its memory order): rtol 1e-6."""
    keras_format(data_format)
    rng = np.random.default_rng(21)
    config = dict(rotation_range=30, zoom_range=0.2, samplewise_center=True, rescale=0.5,
                  preprocessing_function=lambda im: im[::-1] * 0.5 + 3, data_format=data_format)
    theirs, ours = _pair(keras_image, config)
    shape = (7, 9, 3) if data_format == "channels_last" else (3, 7, 9)
    batch = rng.uniform(0, 255, (4,) + shape).astype(np.float32)
    np.random.seed(8)
    expected = np.stack([theirs.standardize(theirs.random_transform(img.copy())) for img in batch])
    got, _ = ours.random_transform_batch(batch, seed=8)
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-4)
