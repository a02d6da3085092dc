"""Batch draws equal Keras's draws, value for value, in Keras's order.

``RandomTransformSampler.draw_batch`` draws a whole batch with a few array calls; these
tests hold it equal, bit for bit, to drawing image after image (``draw``, Keras's own
order and calls) and to Keras itself, for every argument form (uniform ranges, integer
and list shift ranges on NumPy's masked ``choice`` path, zoom pairs, flips on or off,
channel shift, brightness), and check that the stream ends where Keras's ends.
"""

from __future__ import annotations

import numpy as np
import pytest

import gpuaug
from gpuaug import rng as rng_module
from gpuaug.params import PARAM_KEYS, TransformParams

from keras_cases import image_shape, random_config

CHOICE_FORMS = [
    dict(width_shift_range=5, height_shift_range=[0.1, 0.3, -0.2]),
    dict(width_shift_range=1, height_shift_range=[3], zoom_range=[0.5, 0.5]),  # choice of one
    dict(width_shift_range=-3, height_shift_range=7, rotation_range=-10),  # -3: uniform path
    dict(width_shift_range=list(range(129)), height_shift_range=1000, shear_range=5),
    dict(width_shift_range=[0.05, 0.5], height_shift_range=(0.1,),
         channel_shift_range=20, brightness_range=(0.5, 1.5), vertical_flip=True),
    dict(width_shift_range=[np.float32(0.25), 0.5], height_shift_range=2**31 + 11),
    dict(width_shift_range=2**32, height_shift_range=2**40 + 1),  # one word; 64-bit words
]


def _per_image(sampler, rng, count, shape) -> TransformParams:
    return TransformParams.from_dicts(sampler.draw(rng, shape) for _ in range(count))


def assert_same_params(got: TransformParams, expected: TransformParams) -> None:
    for key in PARAM_KEYS:
        a, b = getattr(got, key), getattr(expected, key)
        assert a.dtype == b.dtype, key
        np.testing.assert_array_equal(a, b, err_msg=key)  # NaN where both have none


def _check_batch_equals_images(config, shape, seed, count):
    sampler = gpuaug.ImageDataGenerator(**config, device="cpu").sampler
    batch_rng, image_rng = np.random.RandomState(seed), np.random.RandomState(seed)
    got = sampler.draw_batch(batch_rng, count, shape)
    assert len(got) == count
    assert_same_params(got, _per_image(sampler, image_rng, count, shape))
    # The stream ends where drawing image by image leaves it.
    assert batch_rng.random_sample() == image_rng.random_sample()


@pytest.mark.parametrize("case", range(120))
def test_batch_draws_equal_image_draws_for_random_configurations(case):
    rng = np.random.default_rng(case)
    config = random_config(rng)
    shape = image_shape(rng, config["data_format"])
    count = int(rng.choice([1, 2, 7, 32, 100]))
    _check_batch_equals_images(config, shape, int(rng.integers(2**32)), count)


@pytest.mark.parametrize("config", CHOICE_FORMS, ids=range(len(CHOICE_FORMS)))
@pytest.mark.parametrize("count", [1, 3, 64, 1000])
def test_choice_shift_ranges_replay_numpys_masked_sampler(config, count):
    for seed in (0, 1, 42, 2**32 - 1):
        _check_batch_equals_images(config, (13, 17, 3), seed, count)


def test_an_empty_batch_draws_nothing():
    sampler = gpuaug.ImageDataGenerator(rotation_range=10, width_shift_range=3).sampler
    rng = np.random.RandomState(5)
    assert len(sampler.draw_batch(rng, 0, (8, 8, 3))) == 0
    assert rng.random_sample() == np.random.RandomState(5).random_sample()


def test_where_uniform_is_not_vectorisable_the_batch_is_drawn_image_by_image(monkeypatch):
    monkeypatch.setattr(rng_module, "_uniform_check", lambda: False)
    monkeypatch.setattr("gpuaug.sampler.legacy_uniform_is_vectorisable", lambda: False)
    _check_batch_equals_images(dict(rotation_range=30, zoom_range=0.2), (9, 9, 1), 3, 17)


def test_this_platforms_uniform_is_vectorisable():
    """Where it is not, the fast path is off (the test above); here it must be on."""
    assert rng_module.legacy_uniform_is_vectorisable()


@pytest.mark.keras
@pytest.mark.parametrize("case", range(40))
def test_batch_draws_equal_keras(keras_image, keras_format, case):
    rng = np.random.default_rng(500 + case)
    config = random_config(rng)
    if case % 4 == 0:
        config.update(CHOICE_FORMS[case // 4 % len(CHOICE_FORMS)])
    keras_format(config["data_format"])
    theirs = keras_image.ImageDataGenerator(**config)
    ours = gpuaug.ImageDataGenerator(**config, device="cpu")
    shape = image_shape(rng, config["data_format"])
    seed = int(rng.integers(2**32))
    count = int(rng.choice([1, 5, 33]))
    np.random.seed(seed)
    expected = TransformParams.from_dicts(theirs.get_random_transform(shape)
                                          for _ in range(count))
    ours.random_state.seed(seed)
    got = ours.sampler.draw_batch(ours.random_state, count, shape)
    assert_same_params(got, expected)
    assert ours.random_state.random_sample() == np.random.random_sample()


@pytest.mark.keras
def test_iterator_batches_across_reseeding_points_equal_keras(keras_image):
    """flow() reseeds before every batch and reshuffles every epoch: 4 epochs, a short batch."""
    rng = np.random.default_rng(9)
    x = rng.uniform(0, 255, (23, 6, 7, 3)).astype(np.float32)
    y = np.arange(23)
    config = dict(rotation_range=30, width_shift_range=4, height_shift_range=[0.1, 0.2],
                  zoom_range=0.3, horizontal_flip=True, channel_shift_range=10.0)
    theirs = keras_image.ImageDataGenerator(**config).flow(x, y, batch_size=5, seed=11)
    ours = gpuaug.ImageDataGenerator(**config, device="cpu").flow(x, y, batch_size=5, seed=11)
    for _ in range(4 * 5 + 2):
        (a, ya), (b, yb) = next(theirs), next(ours)
        np.testing.assert_array_equal(yb, ya)
        np.testing.assert_array_equal(b, a)


def test_a_changed_range_is_drawn_with_its_new_form():
    """Keras reads the ranges at every draw: 2 (choice of -1, 0, 1) and 2.0 (uniform) differ."""
    gen = gpuaug.ImageDataGenerator(width_shift_range=2, device="cpu")
    first = gen.sampler.draw_batch(np.random.RandomState(0), 200, (9, 9, 3))
    assert set(np.unique(first.ty)) <= {-1.0, 0.0, 1.0}
    gen.width_shift_range = 2.0
    gen.zoom_range[0] = 0.5  # Keras's list, edited in place
    second = gen.sampler.draw_batch(np.random.RandomState(0), 200, (9, 9, 3))
    assert len(np.unique(second.ty)) == 200 and second.zx.min() < 1.0


def test_a_random_state_on_another_bit_generator_draws_as_image_by_image():
    config = dict(width_shift_range=5, rotation_range=10)  # a choice: the word replay path
    sampler = gpuaug.ImageDataGenerator(**config, device="cpu").sampler
    for make in (lambda: np.random.RandomState(np.random.PCG64(3)),
                 lambda: np.random.RandomState(np.random.Philox(3))):
        batch_rng, image_rng = make(), make()
        assert_same_params(sampler.draw_batch(batch_rng, 9, (8, 8, 3)),
                           _per_image(sampler, image_rng, 9, (8, 8, 3)))
        assert batch_rng.random_sample() == image_rng.random_sample()


def test_a_range_that_overflows_raises_as_numpy_does():
    sampler = gpuaug.ImageDataGenerator(rotation_range=1e300, device="cpu").sampler
    object.__setattr__(sampler, "rotation_range", 1.7e308)  # past validation, as Keras allows
    with pytest.raises(OverflowError, match="Range exceeds valid bounds"):
        sampler.draw(np.random.RandomState(0), (8, 8, 3))
    with pytest.raises(OverflowError, match="Range exceeds valid bounds"):
        sampler.draw_batch(np.random.RandomState(0), 3, (8, 8, 3))
