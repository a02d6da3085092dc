"""Shared fixtures: the Keras and keras-preprocessing oracles, and the GPU skip."""

from __future__ import annotations

import os
import warnings

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "numpy")


def _import_keras():
    try:
        import keras
        from keras.src.legacy.preprocessing import image as legacy
    except ImportError as exc:  # pragma: no cover - depends on the environment
        pytest.skip(f"Keras oracle not installed ({exc}); run `make test` to install it")
    return keras, legacy


@pytest.fixture(scope="session")
def build_dir(request):
    """Where the host builds of the kernels go (tests/emulation), kept between runs."""
    return request.config.cache.mkdir("gpuaug-emulation")


@pytest.fixture(scope="session")
def keras_image():
    """Keras 3's legacy preprocessing module (ImageDataGenerator, apply_affine_transform)."""
    return _import_keras()[1]


@pytest.fixture()
def keras_format(request):
    """Set Keras's global image data format for one test and restore it after.

    Keras's brightness path converts through PIL in the *global* format, so the
    oracle must run with the global format equal to the generator's.
    """
    keras, _ = _import_keras()
    before = keras.config.image_data_format()

    def set_format(fmt: str) -> None:
        keras.config.set_image_data_format(fmt)

    yield set_format
    keras.config.set_image_data_format(before)


@pytest.fixture(scope="session")
def kp_image():
    """keras-preprocessing 1.1.2's image module (the legacy geometry)."""
    try:
        from keras_preprocessing import image
    except ImportError as exc:  # pragma: no cover
        pytest.skip(f"keras-preprocessing not installed ({exc}); run `make test` to install it")
    return image


@pytest.fixture(autouse=True)
def _quiet_oracles():
    # SciPy warns once per channel that Keras imports it from a deprecated
    # namespace; Keras's own UserWarnings are asserted where they matter.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        yield


def pytest_collection_modifyitems(config, items):
    try:
        import cupy

        has_gpu = cupy.cuda.runtime.getDeviceCount() > 0
        reason = "no CUDA device visible to CuPy"
    except Exception as exc:  # ImportError, or CUDA driver errors
        has_gpu, reason = False, f"CuPy/CUDA not usable here: {exc.__class__.__name__}: {exc}"
    if not has_gpu:
        skip = pytest.mark.skip(reason=reason)
        for item in items:
            if "gpu" in item.keywords:
                item.add_marker(skip)


def random_image(rng: np.random.Generator, shape, dtype) -> np.ndarray:
    """Fresh uniform(0, 255) data, never constant."""
    return rng.uniform(0, 255, shape).astype(dtype)
