"""precision="fast": the float32 warp stays within its stated bounds of the exact result,
keeps every fill mode's rules exactly, and is what a fast generator runs.

The bounds (README, "Exact or fast"), on the 0..255 scale of uint8 images of 64 to
224 pixels: order 1 within 0.01 of the exact value; order 0 picks another source
pixel for at most 0.01 % of values; after the uint8 truncation of the PIL brightness
at most 0.1 % of values differ, by at most ceil(max brightness) levels.  Each test body
runs on the host emulation of the kernels (the same source NVRTC compiles: float32
operations and FMAs round alike on the host and the GPU) and on CUDA where a GPU
exists.  Inputs are fresh random images; outputs are poisoned before every launch.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import gpuaug
from gpuaug.backends import NumpyBackend
from gpuaug.compose import compose_matrices
from gpuaug.params import TransformParams

from fused_backends import BACKENDS, assert_matches_reference, make_backend, to_device, to_host

GEOMETRY = dict(rotation_range=40, width_shift_range=0.2, height_shift_range=0.2,
                shear_range=20, zoom_range=0.3, horizontal_flip=True, vertical_flip=True)
FILL_MODES = ("nearest", "reflect", "wrap", "constant")


class RecordingLauncher:
    """Wraps a launcher: which (precision, pass) ran, in order."""

    def __init__(self, inner) -> None:
        self.inner, self.xp, self.ran = inner, inner.xp, []

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def launch(self, variant, kernel_pass, grid, block, args):
        self.ran.append((variant.precision, kernel_pass))
        self.inner.launch(variant, kernel_pass, grid, block, args)


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request, build_dir):
    fused = make_backend(request.param, build_dir)
    fused.launcher = RecordingLauncher(fused.launcher)
    return fused


def _run(backend, x, params, config):
    """(fast kernels' output, the exact NumPy reference, the passes that ran)."""
    h, w = x.shape[1:3]
    m = compose_matrices(params, h, w, config.compat)
    backend.launcher.ran.clear()
    out = to_host(backend.augment(to_device(backend, x), m, params, config))
    ref = NumpyBackend().augment(x, m, params, config)
    return out, ref, list(backend.launcher.ran)


def _fast(**settings):
    gen = gpuaug.ImageDataGenerator(**settings, device="cpu", precision="fast")
    return gen, gen.config()


def _draws(gen, x, seed):
    gen.random_state.seed(seed)
    return gen.sampler.draw_batch(gen.random_state, len(x), x.shape[1:])


@pytest.mark.parametrize("fill_mode", FILL_MODES)
@pytest.mark.parametrize("size", [64, 224])
def test_bilinear_values_stay_within_a_hundredth_of_a_level(backend, fill_mode, size):
    rng = np.random.default_rng(size + len(fill_mode))
    x = rng.integers(0, 256, (6, size, size, 3), dtype=np.uint8)
    gen, config = _fast(**GEOMETRY, fill_mode=fill_mode, cval=17.0)
    out, ref, ran = _run(backend, x, _draws(gen, x, size), config)
    assert ran == [("fast", "write_plain")]
    error = np.abs(out.astype(np.float64) - ref)
    assert error.max() <= 0.01, error.max()
    assert (error > 0).any()  # float32 arithmetic: not the exact kernel in disguise


@pytest.mark.parametrize("fill_mode", FILL_MODES)
def test_nearest_neighbour_picks_another_pixel_for_at_most_a_ten_thousandth(backend,
                                                                            fill_mode):
    rng = np.random.default_rng(7)
    x = rng.integers(0, 256, (8, 224, 224, 3), dtype=np.uint8)
    gen, config = _fast(**GEOMETRY, fill_mode=fill_mode, interpolation_order=0)
    out, ref, _ = _run(backend, x, _draws(gen, x, 3), config)
    assert np.mean(out != ref) <= 1e-4


def test_brightness_after_truncation_differs_rarely_and_by_few_levels(backend):
    rng = np.random.default_rng(11)
    x = rng.integers(0, 256, (8, 224, 224, 3), dtype=np.uint8)
    high = 1.5
    gen, config = _fast(**GEOMETRY, brightness_range=(0.5, high))
    out, ref, ran = _run(backend, x, _draws(gen, x, 5), config)
    assert ("fast", "write") in ran  # the general kernel: brightness needs the min / max pass
    differs = out != ref
    assert differs.mean() <= 1e-3
    assert np.abs(out.astype(np.float64) - ref).max() <= math.ceil(high)


@pytest.mark.parametrize("settings", [
    dict(channel_shift_range=30.0),
    dict(samplewise_center=True, samplewise_std_normalization=True),
    dict(rescale=1 / 255, output_dtype="uint8"),
    dict(rescale=1 / 255, data_format="channels_last", output_data_format="channels_first"),
], ids=["channel shift", "samplewise", "uint8 out", "NCHW out"])
def test_the_steps_after_the_warp_keep_the_kernels_tolerances(backend, settings):
    """Everything else within docs/semantics.md §14's kernel tolerances of the reference."""
    rng = np.random.default_rng(13)
    x = rng.integers(0, 256, (5, 96, 80, 3), dtype=np.uint8)
    gen, config = _fast(**GEOMETRY, **settings)
    out, ref, _ = _run(backend, x, _draws(gen, x, 2), config)
    assert_matches_reference(out, ref, order=1, fill_mode="nearest", exact=False)


@pytest.mark.parametrize("in_dtype", [np.float16, np.float32])
def test_float_inputs_are_read_as_exactly_as_uint8(backend, in_dtype):
    """float16 / float32 images enter the float32 warp unrounded: the same 0.01 bound."""
    rng = np.random.default_rng(29)
    x = rng.uniform(0, 255, (4, 96, 96, 3)).astype(in_dtype)
    gen, config = _fast(**GEOMETRY)
    out, ref, ran = _run(backend, x, _draws(gen, x, 6), config)
    assert ran == [("fast", "write_plain")]
    assert np.abs(out.astype(np.float64) - ref).max() <= 0.01


def test_float16_work_stays_within_one_float16_ulp_or_the_float32_bound(backend):
    rng = np.random.default_rng(17)
    x = rng.integers(0, 256, (4, 128, 128, 3), dtype=np.uint8)
    gen, config = _fast(**GEOMETRY, dtype="float16")
    out, ref, _ = _run(backend, x, _draws(gen, x, 1), config)
    assert out.dtype == ref.dtype == np.float16
    # Rounded to float16 from a float32 value within 0.01 of the exact one: one ulp where
    # the ulp is larger than that (above 16), the float32 bound below.
    ulp = np.spacing(np.abs(ref)).astype(np.float64)
    error = np.abs(out.astype(np.float64) - ref)
    assert (error <= np.maximum(ulp, 0.01)).all()
    assert (error[ref > 16] <= ulp[ref > 16]).all()


def _exactly_representable_params(count: int, size: int, rng) -> TransformParams:
    """Shifts by whole pixels (far outside the image too), zooms by 1/2, 1 or 2, flips:
    coordinates and weights exact in float32, so only the rules can make a difference."""
    return TransformParams(
        theta=np.zeros(count), shear=np.zeros(count),
        tx=rng.integers(-2 * size, 2 * size, count).astype(float),
        ty=rng.integers(-2 * size, 2 * size, count).astype(float),
        zx=rng.choice([0.5, 1.0, 2.0], count), zy=rng.choice([0.5, 1.0, 2.0], count),
        flip_horizontal=rng.random(count) < 0.5, flip_vertical=rng.random(count) < 0.5,
        channel_shift_intensity=np.full(count, np.nan), brightness=np.full(count, np.nan))


@pytest.mark.parametrize("fill_mode", FILL_MODES)
@pytest.mark.parametrize("order", [0, 1])
def test_every_fill_modes_rules_are_kept_exactly(backend, fill_mode, order):
    """Where float32 represents every coordinate exactly, fast equals exact bit for bit."""
    rng = np.random.default_rng(order * 10 + len(fill_mode))
    x = rng.integers(0, 256, (24, 21, 30, 3), dtype=np.uint8)
    params = _exactly_representable_params(len(x), 30, rng)
    _, config = _fast(fill_mode=fill_mode, cval=-3.0, interpolation_order=order)
    out, ref, _ = _run(backend, x, params, config)
    np.testing.assert_array_equal(out, ref)


def test_a_fast_generator_runs_the_fast_kernels_and_an_exact_one_the_exact_kernels(backend):
    rng = np.random.default_rng(19)
    x = rng.integers(0, 256, (3, 40, 40, 3), dtype=np.uint8)
    for precision in ("exact", "fast"):
        gen = gpuaug.ImageDataGenerator(**GEOMETRY, rescale=1 / 255, device="cpu",
                                        precision=precision)
        _, _, ran = _run(backend, x, _draws(gen, x, 0), gen.config())
        assert ran == [(precision, "write_plain")]


def test_the_cpu_path_is_exact_whatever_the_precision():
    rng = np.random.default_rng(23)
    x = rng.integers(0, 256, (6, 48, 40, 3), dtype=np.uint8)
    batches = []
    for precision in ("exact", "fast"):
        gen = gpuaug.ImageDataGenerator(**GEOMETRY, device="cpu", precision=precision)
        batches.append(next(gen.flow(x, batch_size=6, shuffle=False, seed=4)))
    np.testing.assert_array_equal(batches[0], batches[1])


def test_an_unknown_precision_is_refused_by_name():
    with pytest.raises(ValueError, match="precision"):
        gpuaug.ImageDataGenerator(precision="quick", device="cpu")


@pytest.mark.parametrize("fill_mode", FILL_MODES)
def test_samples_keras_leaves_unwarped_are_exact_in_fast_mode(backend, fill_mode):
    """No geometry, flips only: every tap lands on a pixel with weights (1, 0), so even the
    float32 warp gives the input's values exactly (uint8 input: no select is needed)."""
    rng = np.random.default_rng(len(fill_mode))
    x = rng.integers(0, 256, (4, 17, 23, 3), dtype=np.uint8)
    for order in (0, 1):
        gen, config = _fast(horizontal_flip=True, vertical_flip=True, rescale=1 / 255,
                            fill_mode=fill_mode, interpolation_order=order)
        params = _draws(gen, x, order)
        out, ref, _ = _run(backend, x, params, config)
        np.testing.assert_array_equal(out, ref)


@pytest.mark.parametrize("fill_mode", FILL_MODES)
@pytest.mark.parametrize("order", [0, 1])
@pytest.mark.parametrize("value, dtype", [(200, np.uint8), (123.456, np.float32)])
def test_a_flat_image_stays_flat(backend, fill_mode, order, value, dtype):
    """The fast warp's weights of an axis add up to exactly 1, so a flat region (here the
    whole image, and cval for the constant fill) interpolates to its own value, bit for bit,
    as in the exact mode: a 0/1 mask stays 0/1."""
    gen, config = _fast(**GEOMETRY, fill_mode=fill_mode, cval=float(np.float32(value)),
                        interpolation_order=order)
    x = np.full((6, 37, 29, 3), value, dtype=dtype)
    out, _, ran = _run(backend, x, _draws(gen, x, 13), config)
    np.testing.assert_array_equal(out, np.full(x.shape, np.float32(value)))
    if ran:  # the emulation's record
        assert ran == [("fast", "write_plain")]
