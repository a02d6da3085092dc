"""gpuaug's own arguments and checks, and the declared-once options table."""

from __future__ import annotations

import contextlib
import inspect
import io
import re

import numpy as np
import pytest

import gpuaug
from gpuaug.options import GENERATOR_OPTIONS


def test_signature_matches_declared_options():
    params = list(inspect.signature(gpuaug.ImageDataGenerator.__init__).parameters.values())[1:]
    assert [p.name for p in params] == [o.name for o in GENERATOR_OPTIONS]
    for param, option in zip(params, GENERATOR_OPTIONS):
        assert param.default == option.default, option.name
        expected_kind = (inspect.Parameter.KEYWORD_ONLY if option.keyword_only
                         else inspect.Parameter.POSITIONAL_OR_KEYWORD)
        assert param.kind == expected_kind, option.name
        assert option.name in gpuaug.ImageDataGenerator.__doc__


@pytest.mark.parametrize("kwargs, names", [
    (dict(fill_mode="mirror"), "fill_mode"),
    (dict(fill_mode="grid-wrap"), "fill_mode"),
    (dict(interpolation_order=3), "interpolation_order"),
    (dict(interpolation_order=True), "interpolation_order"),
    (dict(compat="tf2"), "compat"),
    (dict(device="gpu"), "device"),
    (dict(device=0), "device"),
    (dict(dtype="int32"), "dtype"),
    (dict(output_dtype="int8"), "output_dtype"),
    (dict(output_dtype="float64"), "output_dtype"),
    (dict(output_data_format="NCHW"), "output_data_format"),
])
def test_bad_gpuaug_arguments_name_the_argument(kwargs, names):
    with pytest.raises(ValueError, match=names):
        gpuaug.ImageDataGenerator(**kwargs)


@pytest.mark.parametrize("name, value", [
    ("compat", "tf2"), ("fill_mode", "mirror"), ("output_dtype", "int8"),
    ("output_data_format", "NCHW"), ("interpolation_order", 2), ("device", "gpu"),
])
def test_enumerated_generator_arguments_share_one_message_shape(name, value):
    with pytest.raises(ValueError) as info:
        gpuaug.ImageDataGenerator(**{name: value})
    assert re.match(rf"^`{name}` must be one of .+\. Received: {re.escape(repr(value))}",
                    str(info.value)), str(info.value)


@pytest.mark.parametrize("name, value", [("output", "mxnet"), ("decoder", "nvjpeg"),
                                         ("on_error", "ignore")])
def test_enumerated_iterator_arguments_share_one_message_shape(tmp_path, name, value):
    (tmp_path / "a").mkdir()
    gen = gpuaug.ImageDataGenerator(device="cpu")
    with pytest.raises(ValueError) as info, contextlib.redirect_stdout(io.StringIO()):
        gen.flow_from_directory(str(tmp_path), **{name: value})
    assert re.match(rf"^`{name}` must be one of .+\. Received: '{value}'", str(info.value))


def test_cuda_request_without_a_usable_device_is_a_clear_error():
    from gpuaug.environment import cuda_status

    usable, reason = cuda_status()
    if usable:
        with pytest.raises(RuntimeError, match="cuda:999 does not exist"):
            gpuaug.ImageDataGenerator(device="cuda:999")
    else:
        with pytest.raises(RuntimeError, match="CUDA backend is not available"):
            gpuaug.ImageDataGenerator(device="cuda")


def test_auto_device_picks_cuda_where_usable_and_never_touches_global_rng():
    from gpuaug.environment import cuda_status

    np.random.seed(123)
    expected = np.random.random_sample()
    np.random.seed(123)
    gen = gpuaug.ImageDataGenerator(rotation_range=30, device="auto")
    gen.get_random_transform((8, 8, 3), seed=5)
    gen.random_transform_batch(np.ones((2, 8, 8, 3), np.uint8) * 7)
    assert gen.device == ("cuda:0" if cuda_status()[0] else "cpu")
    assert np.random.random_sample() == expected


@pytest.mark.parametrize("batch, error", [
    (np.zeros((3, 4, 4), np.float32), ValueError),
    (np.zeros((2, 4, 4, 3), np.int32), TypeError),
])
def test_augment_batch_rejects_bad_batches(batch, error):
    params = gpuaug.TransformParams.identity(len(batch))
    with pytest.raises(error, match="batch"):
        gpuaug.augment_batch(batch, params, gpuaug.AugmentConfig())


def test_params_length_must_match_batch():
    with pytest.raises(ValueError, match="params"):
        gpuaug.augment_batch(np.zeros((3, 4, 4, 3), np.uint8), gpuaug.TransformParams.identity(2),
                             gpuaug.AugmentConfig())


def test_params_round_trip_and_reject_unknown_keys():
    gen = gpuaug.ImageDataGenerator(rotation_range=20, channel_shift_range=5, horizontal_flip=True)
    dicts = [gen.get_random_transform((6, 7, 3), seed=s) for s in range(4)]
    params = gpuaug.TransformParams.from_dicts(dicts)
    assert params.to_dicts() == [
        {k: (None if v is None else (int(v) if k.startswith("flip") else float(v)))
         for k, v in d.items()} for d in dicts]
    assert len(params[1:3]) == 2
    with pytest.raises(ValueError, match="rotation"):
        gpuaug.TransformParams.from_dicts([{"rotation": 3.0}])


def test_uint8_batch_equals_float_batch():
    """uint8 input is converted to the generator dtype first, as Keras iterators do."""
    rng = np.random.default_rng(3)
    batch = rng.integers(0, 256, (5, 9, 11, 3), dtype=np.uint8)
    gen = gpuaug.ImageDataGenerator(rotation_range=40, zoom_range=0.2, channel_shift_range=10,
                                    device="cpu")
    out_u8, params = gen.random_transform_batch(batch, seed=9)
    out_f = gpuaug.augment_batch(batch.astype(np.float32), params, gen.config())
    np.testing.assert_array_equal(out_u8, out_f)


@pytest.mark.parametrize("output_dtype", ["float16", "bfloat16", "uint8", "float32"])
@pytest.mark.parametrize("output_data_format", [None, "channels_first"])
def test_output_dtype_and_layout_convert_the_finished_batch(output_dtype, output_data_format):
    """The output options are a last step: the default batch, transposed and converted."""
    ml_dtypes = pytest.importorskip("ml_dtypes")
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (3, 9, 7, 3), dtype=np.uint8)
    kwargs = dict(rotation_range=30, zoom_range=0.2, channel_shift_range=20.0)
    plain, _ = gpuaug.ImageDataGenerator(**kwargs, device="cpu").random_transform_batch(x, seed=1)
    out, _ = gpuaug.ImageDataGenerator(
        **kwargs, output_dtype=output_dtype, output_data_format=output_data_format,
        device="cpu").random_transform_batch(x, seed=1)
    if output_data_format == "channels_first":
        plain = plain.transpose(0, 3, 1, 2)
    if output_dtype == "uint8":
        expected = np.clip(np.rint(plain), 0, 255).astype(np.uint8)
    elif output_dtype == "bfloat16":
        expected = plain.astype(ml_dtypes.bfloat16)
    else:
        expected = plain.astype(output_dtype)
    assert out.dtype == expected.dtype and out.flags.c_contiguous
    np.testing.assert_array_equal(out.view(np.uint8), np.ascontiguousarray(expected).view(np.uint8))


def test_a_gpu_dataset_with_a_cpu_generator_is_refused_naming_x():
    class OnAGpu:  # what a CuPy array or a CUDA tensor looks like from the outside
        __cuda_array_interface__ = {"shape": (4, 8, 8, 3), "typestr": "|u1", "version": 3,
                                    "data": (0, False)}
        shape = (4, 8, 8, 3)

        def __len__(self):
            return 4

    with pytest.raises(ValueError, match="`x` lives on a GPU but the generator runs on the CPU"):
        gpuaug.ImageDataGenerator(device="cpu").flow(OnAGpu(), np.arange(4))


def test_the_reused_configuration_follows_every_change_of_a_setting():
    import pickle

    gen = gpuaug.ImageDataGenerator(rescale=1 / 255, device="cpu")
    first = gen.config()
    assert gen.config() is first  # reused while nothing changed
    gen.rescale = np.float64(1 / 255)  # equal, but NumPy multiplies by it differently
    assert gen.config() is not first and type(gen.config().rescale) is np.float64
    gen.featurewise_center = True
    gen.mean = np.full((1, 1, 3), 100.0)
    with_mean = gen.config()
    assert with_mean.mean is gen.mean
    copy = pickle.loads(pickle.dumps(gen))
    copy.mean = np.full((1, 1, 3), 7.0)  # a new array, maybe at a freed array's address
    assert copy.config().mean is copy.mean
