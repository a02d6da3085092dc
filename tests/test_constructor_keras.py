"""Constructor validation errors and warnings, compared with Keras's own."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import gpuaug

pytestmark = pytest.mark.keras

BAD_ARGUMENTS = [
    dict(data_format="channels_middle"),
    dict(validation_split=1.5),
    dict(validation_split=-0.1),
    dict(zoom_range=[0.1, 0.2, 0.3]),
    dict(zoom_range=["a", "b"]),
    dict(zoom_range=(0.5, None)),
    dict(brightness_range=(0.5,)),
    dict(brightness_range=0.5),
    dict(brightness_range=np.array([0.5, 1.5])),
]


def _error(factory, kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(Exception) as info:
            factory(**kwargs)
    return info.value


@pytest.mark.parametrize("kwargs", BAD_ARGUMENTS, ids=lambda k: repr(k))
def test_same_error_type_and_message(keras_image, kwargs):
    theirs = _error(keras_image.ImageDataGenerator, kwargs)
    ours = _error(gpuaug.ImageDataGenerator, kwargs)
    assert type(ours) is type(theirs)
    assert str(ours) == str(theirs)


def test_bare_float32_zoom_is_a_type_error_like_keras(keras_image):
    theirs = _error(keras_image.ImageDataGenerator, dict(zoom_range=np.float32(0.2)))
    ours = _error(gpuaug.ImageDataGenerator, dict(zoom_range=np.float32(0.2)))
    assert type(ours) is type(theirs) is TypeError


WARNING_CASES = [
    dict(zca_whitening=True),
    dict(zca_whitening=True, featurewise_std_normalization=True),
    dict(zca_whitening=True, featurewise_center=True, featurewise_std_normalization=True),
    dict(featurewise_std_normalization=True),
    dict(samplewise_std_normalization=True),
    dict(samplewise_std_normalization=True, samplewise_center=True),
    dict(featurewise_std_normalization=True, samplewise_std_normalization=True),
]


def _warnings(factory, kwargs):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        gen = factory(**kwargs)
    messages = [str(w.message) for w in caught if issubclass(w.category, UserWarning)]
    flags = {k: getattr(gen, k) for k in (
        "featurewise_center", "featurewise_std_normalization", "samplewise_center")}
    return messages, flags


@pytest.mark.parametrize("kwargs", WARNING_CASES, ids=lambda k: repr(k))
def test_same_warnings_in_same_order_and_same_overrides(keras_image, kwargs):
    assert _warnings(gpuaug.ImageDataGenerator, kwargs) == _warnings(
        keras_image.ImageDataGenerator, kwargs)


def test_defaults_and_normalised_attributes_match(keras_image):
    theirs = keras_image.ImageDataGenerator(zoom_range=0.25, data_format="channels_first")
    ours = gpuaug.ImageDataGenerator(zoom_range=0.25, data_format="channels_first")
    for name in ("zoom_range", "channel_axis", "row_axis", "col_axis", "dtype", "fill_mode",
                 "cval", "rescale", "interpolation_order", "mean", "std", "zca_whitening_matrix",
                 "_validation_split", "brightness_range"):
        assert getattr(ours, name) == getattr(theirs, name), name


@pytest.mark.parametrize("name", ["featurewise_center", "featurewise_std_normalization",
                                  "zca_whitening"])
def test_unfitted_standardize_warns_like_keras(keras_image, name):
    kwargs = {name: True}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = keras_image.ImageDataGenerator(**kwargs)
        ours = gpuaug.ImageDataGenerator(**kwargs)
    x = np.random.default_rng(0).uniform(0, 255, (4, 4, 3)).astype(np.float32)
    with warnings.catch_warnings(record=True) as k:
        warnings.simplefilter("always")
        theirs.standardize(x.copy())
    with warnings.catch_warnings(record=True) as g:
        warnings.simplefilter("always")
        ours.standardize(x.copy())
    assert [str(w.message) for w in g] == [str(w.message) for w in k]


def test_fit_rank_error_matches(keras_image):
    x = np.zeros((4, 5, 3), dtype=np.float32)
    theirs = _error(keras_image.ImageDataGenerator().fit, dict(x=x))
    ours = _error(gpuaug.ImageDataGenerator().fit, dict(x=x))
    assert (type(ours), str(ours)) == (type(theirs), str(theirs))
