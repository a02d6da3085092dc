"""The fused kernels against the NumPy reference: every mode, order, layout, dtype, compat.

Each test body runs on the host emulation of the CUDA kernels (exact: it performs
the reference's arithmetic in the same order) and, where a GPU exists, on the CUDA
backend (docs/semantics.md §14 tolerances).  Inputs are fresh random images,
never constant; outputs are poisoned before every launch.
"""

from __future__ import annotations

import dataclasses
import warnings
import zlib

import numpy as np
import pytest

import gpuaug
from gpuaug import presets
from gpuaug.backends import NumpyBackend
from gpuaug.backends.cuda.variants import INPUT_TYPES, OUTPUT_TYPES, WORK_TYPES, route
from gpuaug.backends.reference.output_format import numpy_dtype
from gpuaug.compose import compose_matrices
from gpuaug.config import AugmentConfig
from gpuaug.params import TransformParams

from fused_backends import (
    BACKENDS,
    assert_matches_reference,
    make_backend,
    to_device,
    to_host,
    ulp16,
)

# The classic configuration's geometry with a stronger shear and vertical flips as well;
# fill_mode and rescale are left out because each test sets its own.
CLASSIC = {**{k: v for k, v in presets.CLASSIC.items() if k not in ("fill_mode", "rescale")},
           "shear_range": 20, "vertical_flip": True}


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request, build_dir):
    return make_backend(request.param, build_dir)


def _draw(gen: gpuaug.ImageDataGenerator, x: np.ndarray, seed: int) -> TransformParams:
    gen.random_state.seed(seed)
    return gen.sampler.draw_batch(gen.random_state, len(x), x.shape[1:])


def _images(rng, shape, dtype, low=0.0, high=255.0) -> np.ndarray:
    if np.dtype(dtype) == np.uint8:
        return rng.integers(0, 256, shape, dtype=np.uint8)
    return rng.uniform(low, high, shape).astype(dtype)


def _featurewise(config: AugmentConfig, channels: int, rng) -> AugmentConfig:
    shape = (1, 1, channels) if config.channels_last else (channels, 1, 1)
    return dataclasses.replace(
        config, featurewise_center=True, featurewise_std_normalization=True,
        mean=rng.uniform(0.2, 0.6, shape).astype(config.dtype),
        std=rng.uniform(0.1, 0.4, shape).astype(config.dtype))


def _matrices(x, params, config) -> np.ndarray:
    h, w = x.shape[1:3] if config.channels_last else x.shape[2:4]
    return compose_matrices(params, h, w, config.compat)


def _augment(backend, x, params, config) -> np.ndarray:
    """``backend.augment`` of the host batch ``x``, back on the host."""
    return to_host(backend.augment(to_device(backend, x), _matrices(x, params, config), params,
                                   config))


@pytest.mark.parametrize("work,output_dtype", [("float32", None), ("float64", "uint8"),
                                               ("float16", "bfloat16")])
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_a_batch_of_images_without_pixels_comes_back_empty(backend, data_format, work,
                                                           output_dtype):
    """No rows or no columns: nothing to launch, an empty batch of the output's shape
    (through the table's conversions too)."""
    gen = gpuaug.ImageDataGenerator(**CLASSIC, rescale=1 / 255, data_format=data_format,
                                    dtype=work)
    config = dataclasses.replace(gen.config(), output_dtype=output_dtype)
    for shape in ((2, 5, 0, 3), (2, 0, 5, 3)):
        if data_format == "channels_first":
            shape = (shape[0], shape[3], shape[1], shape[2])
        x = np.zeros(shape, dtype=np.uint8)
        params = TransformParams.identity(len(x))
        out = _augment(backend, x, params, config)
        assert out.shape == shape and out.dtype == numpy_dtype(config.out_dtype)


def _unwarped_first(gen, rng, shape, in_dtype, data_format, out_format):
    """``(x, params, config)``: fresh images of ``shape`` (NHWC; NCHW for channels_first),
    drawn parameters whose first sample Keras leaves unwarped, the config for ``out_format``;
    the emulation's launch record cleared."""
    if data_format == "channels_first":
        shape = (shape[0], shape[3], shape[1], shape[2])
    x = _images(rng, shape, in_dtype)
    params = _draw(gen, x, int(rng.integers(1 << 31)))
    params.theta[0] = params.tx[0] = params.ty[0] = params.shear[0] = 0.0  # unwarped
    params.zx[0] = params.zy[0] = 1.0
    return x, params, dataclasses.replace(gen.config(), output_data_format=out_format)


def _launch_record(backend):
    """The emulation's record of launches, cleared (None on a GPU, which keeps none)."""
    launches = getattr(backend.launcher, "launches", None)
    if launches is not None:
        launches.clear()
    return launches


def _compare(backend, x, params, config, *, method="augment", exact=None, brightness=None):
    m = _matrices(x, params, config)
    ref = getattr(NumpyBackend(), method)(x, m, params, config)
    out = to_host(getattr(backend, method)(to_device(backend, x), m, params, config))
    if exact is None:
        exact = backend.name == "cuda-emulated"
    assert_matches_reference(out, ref, order=config.interpolation_order,
                             fill_mode=config.fill_mode, exact=exact, brightness=brightness)
    return out, ref


@pytest.mark.parametrize("compat", gpuaug.COMPAT_MODES)
@pytest.mark.parametrize("out_format", ["channels_last", "channels_first"])
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
@pytest.mark.parametrize("order", [0, 1])
@pytest.mark.parametrize("fill_mode", ["nearest", "reflect", "wrap", "constant"])
def test_every_mode_order_layout_and_compat(backend, fill_mode, order, data_format, out_format,
                                            compat):
    """Warp + flips + channel shift + brightness + rescale + featurewise, fused, per variant."""
    rng = np.random.default_rng(zlib.crc32(repr((fill_mode, order, data_format, out_format,
                                                 compat)).encode()))
    gen = gpuaug.ImageDataGenerator(
        **CLASSIC, channel_shift_range=30.0, brightness_range=(0.5, 1.5), fill_mode=fill_mode,
        cval=37.5, interpolation_order=order, rescale=1 / 255, data_format=data_format,
        compat=compat, device="cpu")
    shape = (4, 13, 19, 3) if data_format == "channels_last" else (4, 3, 13, 19)
    x = _images(rng, shape, np.uint8)
    config = dataclasses.replace(_featurewise(gen.config(), 3, rng), output_data_format=out_format)
    _compare(backend, x, _draw(gen, x, int(rng.integers(1 << 31))), config, brightness=1.5)


def _dtype_cases():
    for in_dtype in INPUT_TYPES:
        for work in WORK_TYPES:
            for out_dtype in OUTPUT_TYPES:
                if out_dtype != "float64" or work == "float64":  # no invented precision
                    yield in_dtype, work, out_dtype


def _lean(config: AugmentConfig, in_dtype: str) -> bool:
    """Whether the batch's route has the lean kernels (``variants.Entry.lean``): float32
    and float64 work do; float16 work takes the general kernels."""
    return route(in_dtype, config.dtype, config.out_dtype, not config.channels_last,
                 not config.out_channels_last, config.interpolation_order, config.fill_mode,
                 config.precision).variant.lean


@pytest.mark.parametrize("in_dtype,work,out_dtype", list(_dtype_cases()))
def test_every_dtype(backend, in_dtype, work, out_dtype):
    """Every input x working x output dtype; float inputs reach outside 0..255 (Keras's
    local-scale brightness branch) and float64 input with narrower work is cast first."""
    rng = np.random.default_rng(7)
    gen = gpuaug.ImageDataGenerator(**CLASSIC, channel_shift_range=15.0,
                                    brightness_range=(0.3, 1.7), dtype=work, device="cpu")
    x = _images(rng, (3, 11, 16, 3), in_dtype, low=-40.0, high=290.0)
    config = dataclasses.replace(gen.config(), output_dtype=out_dtype)
    _compare(backend, x, _draw(gen, x, 3), config, brightness=1.7)


@pytest.mark.parametrize("shape", [(1, 1, 1, 1), (2, 1, 7, 3), (3, 7, 1, 3), (2, 2, 2, 4),
                                   (5, 5, 3, 2), (2, 64, 48, 5), (1, 3, 130, 1)])
@pytest.mark.parametrize("fill_mode", ["nearest", "reflect", "wrap", "constant"])
def test_image_sizes_and_channel_counts(backend, shape, fill_mode):
    """1x1, single rows and columns, odd and non-square sizes, 1 to 5 channels."""
    rng = np.random.default_rng(shape[1] * 1000 + shape[2])
    channels = shape[-1]
    pil_ok = channels in (1, 3, 4)
    gen = gpuaug.ImageDataGenerator(
        **CLASSIC, channel_shift_range=20.0, brightness_range=(0.6, 1.4), fill_mode=fill_mode,
        cval=-3.0, compat="keras" if pil_ok else "fixed", device="cpu")
    x = _images(rng, shape, np.uint8)
    _compare(backend, x, _draw(gen, x, 11), gen.config(), brightness=1.4)


@pytest.mark.parametrize("fill_mode", ["nearest", "reflect", "wrap", "constant"])
@pytest.mark.parametrize("order", [0, 1])
@pytest.mark.parametrize("layouts", [("channels_last", "channels_last"),
                                     ("channels_first", "channels_last"),
                                     ("channels_last", "channels_first")])
def test_the_plain_kernel_is_the_reference_without_optional_steps(backend, fill_mode, order,
                                                                   layouts):
    """The usual batch (warp, flips, rescale) takes augment_write_plain: RGB in straight-line
    code, 1 and 4 channels in its loop, a sample Keras leaves unwarped, uint8 and float
    input, every working dtype (float16 work through the general kernel)."""
    data_format, out_format = layouts
    rng = np.random.default_rng(zlib.crc32(repr((fill_mode, order, layouts)).encode()))
    for in_dtype, work, channels in (("uint8", "float32", 3), ("uint8", "float64", 3),
                                     ("float32", "float32", 3), ("uint8", "float16", 4),
                                     ("float16", "float32", 1)):
        gen = gpuaug.ImageDataGenerator(
            **CLASSIC, fill_mode=fill_mode, cval=11.25, interpolation_order=order,
            rescale=1 / 255, dtype=work, data_format=data_format, compat="fixed",
            device="cpu")
        x, params, config = _unwarped_first(gen, rng, (5, 14, 11, channels), in_dtype,
                                            data_format, out_format)
        launches = _launch_record(backend)
        _compare(backend, x, params, config)
        if launches is not None:
            assert launches == (["write_plain"] if _lean(config, in_dtype) else ["write"])


def _through_the_general_kernels(backend, x, params, config):
    """``augment`` with the plain kernels turned off: augment_moments and augment_write."""
    make_plan = backend._plan
    backend._plan = lambda *args: dataclasses.replace(make_plan(*args), plain_write=False)
    try:
        return _augment(backend, x, params, config)
    finally:
        del backend._plan


def _bits(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a).view(np.uint8)


@pytest.mark.parametrize("fill_mode", ["nearest", "reflect", "wrap", "constant"])
@pytest.mark.parametrize("order", [0, 1])
@pytest.mark.parametrize("layouts", [("channels_last", "channels_last"),
                                     ("channels_first", "channels_last"),
                                     ("channels_last", "channels_first")])
def test_the_lean_samplewise_kernels_give_the_general_kernels_bits(backend, fill_mode, order,
                                                                  layouts):
    """A samplewise batch without channel shift or brightness takes augment_moments_plain
    and augment_write_samplewise: the same bits as augment_moments and augment_write (which
    a shifted batch takes), the reference's values within the samplewise tolerance.  Centre
    only, centre and scale, scale only (a config Keras's constructor never makes), with and
    without a rescale; RGB in straight-line code, 1 and 4 channels in the loop; uint8 and
    float input, every working dtype, both precisions; a sample Keras leaves unwarped.
    float16 work has the general kernels only: its batches are held to the reference."""
    data_format, out_format = layouts
    case = ("samplewise", fill_mode, order, layouts)
    rng = np.random.default_rng(zlib.crc32(repr(case).encode()))
    scaled = dict(samplewise_center=True, samplewise_std_normalization=True)
    for in_dtype, work, channels, precision, steps in (
            ("uint8", "float32", 3, "exact", scaled),
            ("uint8", "float32", 3, "fast", scaled),
            ("uint8", "float32", 3, "exact", dict(samplewise_center=True)),
            ("uint8", "float32", 3, "exact", dict(scaled, rescale=None)),
            ("uint8", "float32", 3, "exact", dict(scaled, center_off=True)),
            ("uint8", "float64", 3, "exact", scaled),
            ("float32", "float32", 4, "fast", scaled),
            ("uint8", "float16", 4, "exact", scaled),
            ("float16", "float32", 1, "exact", dict(samplewise_center=True))):
        steps = {"rescale": 1 / 255, **steps}
        center_off = steps.pop("center_off", False)
        gen = gpuaug.ImageDataGenerator(
            **CLASSIC, **steps, fill_mode=fill_mode, cval=11.25, interpolation_order=order,
            dtype=work, data_format=data_format, compat="fixed", precision=precision,
            device="cpu")
        x, params, config = _unwarped_first(gen, rng, (5, 14, 11, channels), in_dtype,
                                            data_format, out_format)
        if center_off:
            config = dataclasses.replace(config, samplewise_center=False)
        launches = _launch_record(backend)
        if precision == "fast":  # its error against the reference: tests/test_fast_precision.py
            lean = _augment(backend, x, params, config)
        elif work == "float16" and config.samplewise_std_normalization:
            # NumPy reduces a float16 batch in float16 and the kernels in float64: the std
            # may differ by an ulp, and the values by up to two (docs/semantics.md §14).
            lean = _augment(backend, x, params, config)
            b = NumpyBackend().augment(x, _matrices(x, params, config), params, config)
            a = lean.astype(np.float64)
            ulp = ulp16(np.maximum(np.abs(a), np.abs(b.astype(np.float64))), "float16")
            assert (np.abs(a - b) <= 2 * ulp).all()
        else:
            lean, _ = _compare(backend, x, params, config, exact=False)  # float64 sums
        if launches is not None:
            assert launches == (["moments_plain", "write_samplewise"] if _lean(config, in_dtype)
                                else ["moments", "write"])
            launches.clear()
        if not _lean(config, in_dtype):
            continue  # the general kernels served it: nothing lean to compare
        general = _through_the_general_kernels(backend, x, params, config)
        if launches is not None:
            assert launches == ["moments", "write"]
        np.testing.assert_array_equal(_bits(lean), _bits(general))


@pytest.mark.parametrize("out_dtype", ["uint8", "float16", "bfloat16", "float32"])
def test_the_plain_kernel_writes_every_output_dtype_as_the_reference(backend, out_dtype):
    """Its float32 value chain ends in the same stores as the general kernel's float64 one."""
    rng = np.random.default_rng(len(out_dtype))
    gen = gpuaug.ImageDataGenerator(**CLASSIC, rescale=1 / 3, device="cpu")
    x = _images(rng, (4, 15, 13, 3), np.uint8)
    config = dataclasses.replace(gen.config(), output_dtype=out_dtype)
    _compare(backend, x, _draw(gen, x, 8), config)


@pytest.mark.parametrize("shape", [(2, 4100, 3, 3), (2, 2100, 1, 3), (2, 1500, 7, 3),
                                   (1, 3, 4000, 3)])
def test_tall_and_wide_images_where_a_threads_pixels_skip_rows(backend, shape):
    """A thread walks its pixels by the grid's stride without dividing: on a GPU the stride
    spans rows; here (one thread per block) images with fewer columns than blocks make it
    span rows too, with and without a remainder.  Every pass: min/max, moments, write."""
    rng = np.random.default_rng(shape[1])
    x = _images(rng, shape, np.uint8)
    for kwargs in (dict(rescale=1 / 255), dict(channel_shift_range=20.0, samplewise_center=True,
                                                samplewise_std_normalization=True)):
        gen = gpuaug.ImageDataGenerator(**CLASSIC, **kwargs, device="cpu")
        _compare(backend, x, _draw(gen, x, 4), gen.config(),
                 exact=False if "samplewise_center" in kwargs else None)


def test_more_samples_than_one_grid_column(backend):
    """70,000 samples: more than CUDA's 65,535 grid rows, so the sample loop must stride."""
    rng = np.random.default_rng(70)
    gen = gpuaug.ImageDataGenerator(**CLASSIC, rescale=0.5, device="cpu")
    x = _images(rng, (70_000, 1, 2, 1), np.uint8)
    _compare(backend, x, _draw(gen, x, 70), gen.config())


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
@pytest.mark.parametrize("shift,brightness", [(0.0, None), (25.0, None), (25.0, (0.5, 1.5))])
def test_samplewise_statistics(backend, data_format, shift, brightness):
    """Samplewise centre and std: a moments pre-pass; float64 sums on the device against
    NumPy's float32 pairwise sums, so within tolerance rather than exact."""
    rng = np.random.default_rng(5)
    gen = gpuaug.ImageDataGenerator(
        **CLASSIC, channel_shift_range=shift, brightness_range=brightness, rescale=1 / 255,
        samplewise_center=True, samplewise_std_normalization=True, data_format=data_format,
        device="cpu")
    shape = (6, 21, 17, 3) if data_format == "channels_last" else (6, 3, 21, 17)
    x = _images(rng, shape, np.uint8)
    _compare(backend, x, _draw(gen, x, 5), gen.config(), exact=False,
             brightness=None if brightness is None else 1.5)


# Batches the kernel table serves through conversions (variants.route): a channels-first
# batch transposed first, float16 / float64 work whose kernels write their own dtype
# channels-last, an output converted after.
ROUTED = [("float32", "channels_last", None), ("float16", "channels_first", "uint8"),
          ("float64", "channels_first", "float16"), ("float32", "channels_first", "uint8")]


@pytest.mark.parametrize("work,data_format,output_dtype", ROUTED)
def test_apply_is_keras_apply_transform(backend, work, data_format, output_dtype):
    """``apply`` stops after brightness, in the working dtype and data format."""
    rng = np.random.default_rng(9)
    gen = gpuaug.ImageDataGenerator(**CLASSIC, channel_shift_range=10.0,
                                    brightness_range=(0.5, 1.5), rescale=1 / 255,
                                    samplewise_center=True, dtype=work, data_format=data_format,
                                    compat="fixed", device="cpu")
    shape = (3, 12, 10, 3) if data_format == "channels_last" else (3, 3, 12, 10)
    x = _images(rng, shape, np.float32, low=0, high=255)
    config = dataclasses.replace(gen.config(), output_dtype=output_dtype)
    _compare(backend, x, _draw(gen, x, 9), config, method="apply")


@pytest.mark.parametrize("work,data_format,output_dtype", ROUTED)
def test_zca_and_preprocessing_function_paths(backend, work, data_format, output_dtype):
    """The steps that are not per-pixel run as array operations after the kernel."""
    rng = np.random.default_rng(4)
    shape = (4, 6, 5, 3) if data_format == "channels_last" else (4, 3, 6, 5)
    x = _images(rng, shape, np.uint8)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gen = gpuaug.ImageDataGenerator(**CLASSIC, zca_whitening=True, rescale=1 / 255,
                                        dtype=work, data_format=data_format, device="cpu")
    mean_shape = (1, 1, 3) if data_format == "channels_last" else (3, 1, 1)
    config = dataclasses.replace(
        gen.config(), mean=rng.uniform(0.3, 0.5, mean_shape).astype(work),
        zca_whitening_matrix=rng.normal(0, 0.1, (90, 90)), output_dtype=output_dtype)
    _compare(backend, x, _draw(gen, x, 4), config, exact=False)

    gen = gpuaug.ImageDataGenerator(**CLASSIC, rescale=1 / 255, samplewise_center=True,
                                    preprocessing_function=lambda img: img * 2 - 1, dtype=work,
                                    data_format=data_format, device="cpu")
    config = dataclasses.replace(gen.config(), output_dtype=output_dtype)
    _compare(backend, x, _draw(gen, x, 8), config, exact=False)


def test_unfit_featurewise_steps_warn_like_the_reference(backend):
    rng = np.random.default_rng(2)
    gen = gpuaug.ImageDataGenerator(featurewise_center=True, device="cpu")
    x = _images(rng, (2, 5, 5, 3), np.uint8)
    params = _draw(gen, x, 2)
    m = compose_matrices(params, 5, 5, "keras")
    with pytest.warns(UserWarning, match="featurewise_center.*hasn't been fit"):
        out = backend.augment(to_device(backend, x), m, params, gen.config())
    np.testing.assert_array_equal(to_host(out), x.astype(np.float32))


def test_pil_brightness_needs_one_three_or_four_channels(backend):
    gen = gpuaug.ImageDataGenerator(brightness_range=(0.5, 1.5), device="cpu")
    x = np.random.default_rng(0).integers(0, 256, (2, 4, 4, 2), dtype=np.uint8)
    params = _draw(gen, x, 0)
    with pytest.raises(ValueError, match="Unsupported channel number: 2"):
        backend.augment(to_device(backend, x), compose_matrices(params, 4, 4), params,
                        gen.config())


@pytest.mark.parametrize("kwargs,passes", [
    (dict(CLASSIC, rescale=1 / 255), ["write_plain"]),
    (dict(CLASSIC), ["write_plain"]),
    (dict(CLASSIC, rescale=1 / 255, dtype="float64"), ["write_plain"]),
    (dict(CLASSIC, rescale=1 / 255, dtype="float16"), ["write"]),  # no lean kernels there
    # NumPy multiplies a float32 batch by a float64 scalar in float64: the general kernel.
    (dict(CLASSIC, rescale=np.float64(1 / 255)), ["write"]),
    (dict(CLASSIC, rescale=1 / 255, featurewise_center=True), ["write"]),
    (dict(CLASSIC, channel_shift_range=10.0), ["minmax", "write"]),
    (dict(CLASSIC, brightness_range=(0.5, 1.5)), ["minmax", "write"]),
    (dict(CLASSIC, brightness_range=(0.5, 1.5), compat="fixed"), ["write"]),
    (dict(CLASSIC, samplewise_center=True), ["moments_plain", "write_samplewise"]),
    (dict(CLASSIC, rescale=1 / 255, samplewise_std_normalization=True, samplewise_center=True),
     ["moments_plain", "write_samplewise"]),
    (dict(CLASSIC, samplewise_center=True, featurewise_center=True), ["moments", "write"]),
    (dict(CLASSIC, channel_shift_range=5.0, samplewise_std_normalization=True,
          samplewise_center=True), ["minmax", "moments", "write"]),
])
def test_one_launch_unless_whole_image_statistics_are_needed(build_dir, kwargs, passes):
    """The classic configuration is one launch of the plain kernel (the warp and the
    rescale); the optional steps take the general one; min/max and moments add one
    pre-pass each."""
    backend = make_backend("emulated", build_dir)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # featurewise_center without fit(): Keras warns
        gen = gpuaug.ImageDataGenerator(**kwargs, device="cpu")
        x = _images(np.random.default_rng(1), (2, 8, 8, 3), np.uint8)
        params = _draw(gen, x, 1)
        config = gen.config()
        if config.featurewise_center:
            config = _featurewise(config, 3, np.random.default_rng(2))
        samplewise = config.samplewise_center or config.samplewise_std_normalization
        _compare(backend, x, params, config, exact=False if samplewise else None,  # sum order
                 brightness=1.5)
    assert backend.launcher.launches == passes


@pytest.mark.parametrize("kwargs,passes", [
    (dict(CLASSIC, rescale=1 / 255), ("write_plain",)),
    (dict(CLASSIC, samplewise_std_normalization=True, samplewise_center=True),
     ("moments_plain", "write_samplewise")),
    (dict(CLASSIC, channel_shift_range=9.0, samplewise_center=True),
     ("minmax", "moments", "write")),
])
def test_the_kernels_alone_rerun_augments_batch_on_one_upload(build_dir, kwargs, passes):
    """The launch-only benchmark's closure: augment's kernels and output, run after run (the
    pre-passes' counters restored between runs), with the records packed and uploaded once."""
    backend = make_backend("emulated", build_dir)
    gen = gpuaug.ImageDataGenerator(**kwargs, device="cpu")
    x = _images(np.random.default_rng(4), (3, 17, 13, 3), np.uint8)
    params = _draw(gen, x, 4)
    m = _matrices(x, params, gen.config())
    expected = _augment(backend, x, params, gen.config())
    uploads, first_pass_sees = [], []
    upload, launch = backend.launcher.upload, backend.launcher.launch

    def watch(variant, kernel_pass, grid, block, args):
        if kernel_pass == passes[0]:  # the upload as each run's first kernel finds it
            first_pass_sees.append(np.array(args[2] if kernel_pass.startswith("write")
                                            else args[1]))
        launch(variant, kernel_pass, grid, block, args)

    backend.launcher.upload = lambda packed: uploads.append(packed) or upload(packed)
    backend.launcher.launch = watch
    backend.launcher.launches.clear()
    try:
        run, named, _ = backend.kernels_alone(to_device(backend, x), m, params, gen.config())
        assert named == passes
        for _ in range(3):
            out = run()
            np.testing.assert_array_equal(_bits(to_host(out)), _bits(expected))
            out[...] = np.nan  # poisoned: the next run must write it all again
    finally:
        del backend.launcher.upload, backend.launcher.launch
    assert len(uploads) == 2  # the upload and its pristine twin, made once
    assert backend.launcher.launches == list(passes) * 3
    for seen in first_pass_sees[1:]:  # counters and min / max keys restored between runs
        np.testing.assert_array_equal(seen, first_pass_sees[0])


@pytest.mark.parametrize("precision", ["exact", "fast"])
def test_the_kernels_alone_give_the_same_batch_with_any_pixels_per_thread(build_dir, precision):
    """The launch-shape benchmark's knob changes the grid, not a pixel."""
    from gpuaug.backends.cuda.launch_args import BLOCK, PIXELS_PER_THREAD

    backend = make_backend("emulated", build_dir)
    gen = gpuaug.ImageDataGenerator(**CLASSIC, rescale=1 / 255, precision=precision,
                                    device="cpu")
    x = _images(np.random.default_rng(6), (3, 37, 29, 3), np.uint8)
    params = _draw(gen, x, 6)
    m = _matrices(x, params, gen.config())
    expected = _augment(backend, x, params, gen.config())
    grids = []
    launch = backend.launcher.launch
    backend.launcher.launch = lambda variant, kernel_pass, grid, block, args: (
        grids.append(grid), launch(variant, kernel_pass, grid, block, args))
    try:
        for per_thread in (1, PIXELS_PER_THREAD, 8):
            run = backend.kernels_alone(to_device(backend, x), m, params, gen.config(),
                                        pixels_per_thread=per_thread).run
            np.testing.assert_array_equal(_bits(to_host(run())), _bits(expected))
    finally:
        del backend.launcher.launch
    assert [g[0] for g in grids] == [-(-37 * 29 // (BLOCK * p)) for p in (1, 4, 8)]


def test_the_kernels_alone_refuse_a_batch_they_do_not_finish(build_dir):
    backend = make_backend("emulated", build_dir)
    gen = gpuaug.ImageDataGenerator(**CLASSIC, preprocessing_function=lambda v: v, device="cpu")
    x = _images(np.random.default_rng(5), (2, 6, 6, 3), np.uint8)
    params = _draw(gen, x, 5)
    with pytest.raises(ValueError, match="not finished by the kernels"):
        backend.kernels_alone(x, compose_matrices(params, 6, 6), params, gen.config())


def test_poisoned_output_catches_an_unwritten_batch(build_dir):
    """The poison works: a launcher that skips the write pass cannot pass for correct."""
    backend = make_backend("emulated", build_dir)
    backend.launcher.launch = lambda *args, **kwargs: None
    gen = gpuaug.ImageDataGenerator(**CLASSIC, device="cpu")
    x = _images(np.random.default_rng(3), (2, 6, 6, 3), np.uint8)
    with pytest.raises(AssertionError):
        _compare(backend, x, _draw(gen, x, 3), gen.config(), exact=False)


@pytest.mark.parametrize("steps,moments", [(dict(), "moments_plain"),
                                           (dict(channel_shift_range=9.0), "moments")])
def test_each_samples_moments_are_added_once_by_the_last_of_its_blocks(build_dir, steps,
                                                                      moments):
    """The moments pass leaves each sample's totals after the partials: the write pass reads
    two numbers per sample instead of every block adding all of the sample's partials.  Both
    moments kernels: the plain one, and the one for values with a channel shift."""
    from gpuaug.backends.interface import EPILOGUE_RECORD, SAMPLE_RECORD

    backend = make_backend("emulated", build_dir)
    seen = {}
    launch = backend.launcher.launch

    def watch(variant, kernel_pass, grid, block, args):
        launch(variant, kernel_pass, grid, block, args)
        if kernel_pass.startswith("moments"):
            seen.update(upload=args[1].copy(), partials=args[2].copy(), grid=grid,
                        kernel_pass=kernel_pass)

    backend.launcher.launch = watch
    gen = gpuaug.ImageDataGenerator(**CLASSIC, **steps, samplewise_center=True, device="cpu")
    x = _images(np.random.default_rng(5), (3, 23, 29, 3), np.uint8)
    params = _draw(gen, x, 5)
    backend.augment(x, compose_matrices(params, 23, 29), params, gen.config())
    assert seen["kernel_pass"] == moments
    n, blocks = 3, seen["grid"][0]  # the host build runs one thread (one warp) per block
    records = seen["upload"][EPILOGUE_RECORD.dtype.itemsize:][:n * SAMPLE_RECORD.dtype.itemsize]
    assert records.view(SAMPLE_RECORD.dtype)["moment_blocks"].tolist() == [blocks] * n
    partials = seen["partials"]
    for b in range(n):
        part = partials[b * blocks * 2:(b + 1) * blocks * 2]
        total_sum = total_sumsq = 0.0
        for i in range(blocks):  # the fixed order: block by block
            total_sum += part[2 * i]
            total_sumsq += part[2 * i + 1]
        totals = partials[n * blocks * 2 + 2 * b:n * blocks * 2 + 2 * b + 2]
        assert totals.tolist() == [total_sum, total_sumsq]
        assert np.isfinite(totals).all() and totals[1] > 0


def test_images_the_kernels_cannot_index_in_32_bits_are_refused_by_name():
    from gpuaug.backends.cuda.fused import _make_plan

    config = gpuaug.ImageDataGenerator(**CLASSIC, device="cpu").config()
    _make_plan((1, 26000, 27000, 3), np.uint8, config, True, "cuda:0")  # 2.1e9 values: fits
    with pytest.raises(ValueError, match=r"images of 27000x27000x3 are too large for the CUDA "
                                         r"kernels \(at most 2\^31 - 1 values per image\)"):
        _make_plan((1, 27000, 27000, 3), np.uint8, config, True, "cuda:0")


def test_fast_precision_refuses_sides_its_float32_offsets_cannot_hold():
    from gpuaug.backends.cuda.fused import FAST_MAX_SIDE, _make_plan

    config = gpuaug.ImageDataGenerator(**CLASSIC, precision="fast", device="cpu").config()
    _make_plan((1, FAST_MAX_SIDE, 2, 1), np.uint8, config, True, "cuda:0")
    with pytest.raises(ValueError, match=r"precision='fast' takes images of at most 16,777,216 "
                                         r"rows and columns; these are 16777217x2"):
        _make_plan((1, FAST_MAX_SIDE + 1, 2, 1), np.uint8, config, True, "cuda:0")


@pytest.mark.parametrize("refused, what, nbytes", [
    (0, "the output", 3 * 5 * 7 * 3 * 4),  # float32 out
    (1, "the samplewise statistics' partial sums", None),
])
def test_running_out_of_device_memory_names_the_buffer_the_batch_and_the_bytes(
        build_dir, refused, what, nbytes):
    backend = make_backend("emulated", build_dir)
    allocate, calls = backend.launcher.allocate, []

    def full(shape, dtype):
        calls.append((shape, dtype))
        if len(calls) - 1 == refused:
            raise MemoryError("out of GPU memory on cuda:0 (a test)")
        return allocate(shape, dtype)

    backend.launcher.allocate = full
    gen = gpuaug.ImageDataGenerator(**CLASSIC, samplewise_center=True, device="cpu")
    x = _images(np.random.default_rng(4), (3, 5, 7, 3), np.uint8)
    params = _draw(gen, x, 4)
    with pytest.raises(MemoryError) as caught:
        backend.augment(x, compose_matrices(params, 5, 7), params, gen.config())
    shape, dtype = calls[refused]
    nbytes = nbytes or int(np.prod(shape)) * np.dtype(dtype).itemsize
    message = str(caught.value)
    assert f"could not allocate {what} for a batch of 3 images of 5x7x3" in message
    assert f"{nbytes:,} bytes" in message and "smaller batch_size" in message
    assert "(a test)" in message  # the device's own words are kept


@pytest.mark.parametrize("case", range(40))
def test_random_generator_configurations(backend, case):
    """Keras's argument forms drawn at random (tests/keras_cases.py), random shapes and
    channel counts, every compat mode: the fused kernels equal the reference."""
    from keras_cases import image_shape, random_config

    rng = np.random.default_rng(1000 + case)
    data_format = ["channels_last", "channels_first"][case % 2]
    kwargs = random_config(rng, data_format)
    kwargs["compat"] = gpuaug.COMPAT_MODES[case % 3]
    kwargs["rescale"] = [None, 1 / 255, 2][case % 3]
    kwargs["samplewise_center"] = case % 5 == 0
    shape = (int(rng.integers(1, 5)),) + image_shape(rng, data_format)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gen = gpuaug.ImageDataGenerator(**kwargs, device="cpu")
    x = _images(rng, shape, np.uint8)
    b = gen.brightness_range
    _compare(backend, x, _draw(gen, x, case), gen.config(),
             exact=False if kwargs["samplewise_center"] else None,
             brightness=None if b is None else max(b))


@pytest.mark.parametrize("order", [0, 1])
@pytest.mark.parametrize("precision", ["exact", "fast"])
def test_without_geometry_non_finite_values_stay_where_they_are(backend, keras_image, order,
                                                                 precision):
    """Keras skips the warp when every geometric parameter has its default; the identity
    warp gpuaug ran instead spread 2 non-finite values to 8 (issue 16).  Flips still apply."""
    rng = np.random.default_rng(41)
    x = rng.uniform(0, 255, (4, 6, 7, 3)).astype(np.float32)
    x[0, 2, 3, 1], x[1, 0, 0, 0], x[2, 5, 6, 2] = np.nan, np.inf, -np.inf
    x[3, 1, 1, 0] = -0.0
    params = TransformParams.from_dicts([{}, {"flip_horizontal": True},
                                         {"flip_vertical": True}, {"theta": 0.0, "zx": 1.0}])
    keras_gen = keras_image.ImageDataGenerator(rescale=0.5, interpolation_order=order)
    expected = np.stack([keras_gen.standardize(keras_gen.apply_transform(img.copy(), d))
                         for img, d in zip(x, params.to_dicts(), strict=True)])
    gen = gpuaug.ImageDataGenerator(rescale=0.5, interpolation_order=order, device="cpu",
                                    precision=precision)
    config = gen.config()
    m = compose_matrices(params, 6, 7, config.compat)
    for got in (NumpyBackend().augment(x, m, params, config),
                to_host(backend.augment(to_device(backend, x), m, params, config))):
        np.testing.assert_array_equal(got.view(np.uint32), expected.view(np.uint32))
