"""The composer's fast paths give Keras's matrices: bit for bit with Keras's rounding,
within rounding of them without it.

:func:`compose_by_matmul` is Keras's chain literally (stacked 3x3 products, as Keras's
``np.dot`` calls); the default path works entry by entry and must agree with it on every
value, in every compatibility mode, on square and non-square images.
"""

from __future__ import annotations

import numpy as np
import pytest

from gpuaug.compose import (
    compose_by_entries,
    compose_by_matmul,
    compose_matrices,
    entries_match_the_chain,
    probe_params,
)
from gpuaug.params import TransformParams

COMPATS = ("keras", "keras-preprocessing", "fixed")


def _random_params(seed: int, count: int = 500) -> TransformParams:
    rng = np.random.default_rng(seed)
    return TransformParams(
        theta=rng.uniform(-180, 180, count), shear=rng.uniform(-45, 45, count),
        tx=rng.uniform(-60, 60, count), ty=rng.uniform(-60, 60, count),
        zx=rng.uniform(0.5, 1.5, count), zy=rng.uniform(0.5, 1.5, count),
        flip_horizontal=np.zeros(count, bool), flip_vertical=np.zeros(count, bool),
        channel_shift_intensity=np.full(count, np.nan), brightness=np.full(count, np.nan))


@pytest.mark.parametrize("compat", COMPATS)
@pytest.mark.parametrize("shape", [(224, 224), (31, 480), (1, 2)])
def test_the_default_path_equals_kerass_literal_chain_bit_for_bit(compat, shape):
    for seed in range(3):
        params = _random_params(seed)
        literal = compose_by_matmul(params, *shape, compat)
        got = compose_matrices(params, *shape, compat)
        assert got.shape == (len(params), 2, 3) and got.dtype == np.float64
        np.testing.assert_array_equal(got, literal)


def test_the_entry_by_entry_path_is_the_one_in_use_on_this_machine():
    """Where BLAS rounds as the literal chain does (any x86-64 OpenBLAS), the fast path runs."""
    assert entries_match_the_chain()
    params = probe_params(200, seed=5)
    np.testing.assert_array_equal(compose_by_entries(params, 64, 48),
                                  compose_by_matmul(params, 64, 48))


@pytest.mark.parametrize("compat", COMPATS)
def test_plain_rounding_stays_within_rounding_of_kerass(compat):
    params = _random_params(11, 2000)
    keras = compose_by_matmul(params, 224, 160, compat)
    plain = compose_matrices(params, 224, 160, compat, keras_rounding=False)
    # Each entry is a sum of at most three rounded terms, bounded by ulps of the terms, and
    # a sum of products of sines and cosines that the two paths compute apart (NumPy's and
    # gpuaug.trig's, each within 6e-16 of the exact value): bounded by those differences
    # times the largest factors (shifts, pivot, zooms).
    scale = np.maximum(np.abs(keras), 224.0 * np.abs(keras[..., :2]).sum(-1, keepdims=True))
    factors = (np.abs(params.tx) + np.abs(params.ty) + 224 + 160) * (
        np.abs(params.zx) + np.abs(params.zy) + 1)
    bound = 4 * np.spacing(scale) + 1.2e-15 * factors[:, None, None]
    assert (np.abs(plain - keras) <= bound).all()


def test_an_empty_batch_composes_to_no_matrices():
    params = TransformParams.identity(0)
    for rounding in (True, False):
        assert compose_matrices(params, 8, 8, keras_rounding=rounding).shape == (0, 2, 3)


def test_the_identity_maps_every_pixel_to_itself():
    params = TransformParams.identity(3)
    for compat in COMPATS:
        for rounding in (True, False):
            m = compose_matrices(params, 9, 7, compat, keras_rounding=rounding)
            np.testing.assert_array_equal(m, np.broadcast_to([[1.0, 0, 0], [0, 1.0, 0]], m.shape))
