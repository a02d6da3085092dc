"""The hand-picked kernel table and the routes to it (gpuaug/backends/cuda/variants.py).

The table compiles the dtypes and layouts users need; every other combination reaches one
of its entries through exact conversions around the kernels.  Each route is held against
the NumPy reference: bit for bit on the host emulation, within docs/semantics.md §14's
tolerances on a GPU; inputs are fresh random images, outputs poisoned.
"""

from __future__ import annotations

import dataclasses
import itertools
import zlib

import numpy as np
import pytest

import gpuaug
from gpuaug import presets
from gpuaug.backends import NumpyBackend
from gpuaug.backends.cuda.variants import (
    INPUT_TYPES,
    OUTPUT_TYPES,
    TABLE,
    WORK_TYPES,
    KernelVariant,
    all_variants,
    route,
)
from gpuaug.compose import compose_matrices

from fused_backends import BACKENDS, assert_matches_reference, make_backend, to_device, to_host

FORMATS = ("channels_last", "channels_first")


@pytest.fixture(scope="module", params=BACKENDS)
def backend(request, build_dir):
    return make_backend(request.param, build_dir)


def _cases():
    for in_dtype, work, out_dtype in itertools.product(INPUT_TYPES, WORK_TYPES, OUTPUT_TYPES):
        if out_dtype == "float64" and work != "float64":
            continue  # refused: an output wider than the work would invent precision
        for data_format, out_format in itertools.product(FORMATS, FORMATS):
            yield in_dtype, work, out_dtype, data_format, out_format


def _listed(source: str, work: str):
    return next((e for e in TABLE if (e.source, e.work) == (source, work)), None)


def test_a_listed_combination_is_read_and_written_by_its_kernel_alone():
    """No conversion where the table compiles the combination; every variant of the matrix
    is what route() picks for its own dtypes and layout."""
    for variant in all_variants():
        way = route(variant.in_dtype, variant.work_dtype, variant.out_dtype, False,
                    variant.out_chw, variant.order, variant.fill_mode, variant.precision,
                    variant.resized, variant.luma)
        assert way.variant == variant
        assert (way.cast_input, way.transpose_input, way.converts_output) == (None, False, False)


@pytest.mark.parametrize("in_dtype,work,out_dtype,data_format,out_format", list(_cases()))
def test_every_route_is_the_reference(backend, in_dtype, work, out_dtype, data_format,
                                      out_format):
    """Every input x working x output dtype x input and output layout: the kernels' route
    (cast or transpose first, a conversion after) gives the reference's batch, with the
    lean kernels (rescale only) and the general ones (channel shift and brightness)."""
    in_chw, out_chw = data_format == "channels_first", out_format == "channels_first"
    way = route(in_dtype, work, out_dtype, in_chw, out_chw, 1, "reflect")
    entry = _listed(in_dtype, work)
    assert way.cast_input == (None if entry else work)
    assert way.transpose_input == in_chw
    listed = (out_dtype, out_chw) in (entry or _listed(work, work)).outputs
    assert way.converts_output == (not listed)
    rng = np.random.default_rng(zlib.crc32(repr((in_dtype, work, out_dtype, data_format,
                                                 out_format)).encode()))
    shape = (3, 9, 7, 3) if data_format == "channels_last" else (3, 3, 9, 7)
    if in_dtype == "uint8":
        x = rng.integers(0, 256, shape, dtype=np.uint8)
    else:  # reaching past 0..255: Keras's local-scale brightness branch
        x = rng.uniform(-40.0, 290.0, shape).astype(in_dtype)
    for steps in (dict(rescale=1 / 255), dict(channel_shift_range=15.0,
                                                brightness_range=(0.3, 1.7))):
        gen = gpuaug.ImageDataGenerator(**{**presets.CLASSIC, **steps, "fill_mode": "reflect"},
                                        dtype=work, data_format=data_format, device="cpu")
        gen.random_state.seed(5)
        params = gen.sampler.draw_batch(gen.random_state, len(x), x.shape[1:])
        config = dataclasses.replace(gen.config(), output_dtype=out_dtype,
                                     output_data_format=out_format)
        m = compose_matrices(params, *(shape[1:3] if not in_chw else shape[2:4]), config.compat)
        ref = NumpyBackend().augment(x, m, params, config)
        out = to_host(backend.augment(to_device(backend, x), m, params, config))
        assert_matches_reference(out, ref, order=1, fill_mode="reflect",
                                 exact=backend.name == "cuda-emulated", brightness=1.7)


def test_a_variant_outside_the_table_is_refused_and_says_where_the_table_is():
    with pytest.raises(ValueError, match="variants.TABLE.*route"):
        KernelVariant("float16", "float32", "float32", 1, "nearest", False)
    with pytest.raises(ValueError, match="writes uint8 NCHW"):
        KernelVariant("uint8", "uint8", "float32", 1, "nearest", True)
    with pytest.raises(ValueError, match="float32 work"):
        route("uint8", "float64", "float64", False, False, 1, "nearest", resized=True)


def test_float16_work_has_the_general_kernels_only():
    """float16 work: three general passes per variant, no lean ones (they would not pay)."""
    for variant in all_variants():
        general = variant.work_dtype == "float16"
        assert variant.lean != general
        assert ("write_plain" in variant.passes()) != general
