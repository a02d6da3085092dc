"""Every argument fuzzed: a bad value is a TypeError / ValueError naming it, at the call.

The invariant checked for each generated value: either the generator (or iterator)
refuses it with an error whose message names the argument, or it accepts it and a
whole augmented batch then comes out finite, without any exception.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import gpuaug

JUNK = st.one_of(
    st.none(), st.booleans(), st.text(max_size=5),
    st.integers(-10**12, 10**12),
    st.floats(allow_nan=True, allow_infinity=True),
    st.lists(st.one_of(st.floats(allow_nan=True, allow_infinity=True),
                       st.integers(-100, 100), st.text(max_size=2)), max_size=4),
    st.tuples(st.floats(-5, 5), st.floats(-5, 5)),
    st.dictionaries(st.text(max_size=2), st.integers(), max_size=2),
    st.just(object()), st.just(1 + 2j),
)
ARGUMENTS = [
    "rotation_range", "width_shift_range", "height_shift_range", "brightness_range",
    "shear_range", "zoom_range", "channel_shift_range", "fill_mode", "cval", "rescale",
    "preprocessing_function", "data_format", "validation_split", "interpolation_order",
    "dtype", "zca_epsilon", "compat", "device", "output_dtype", "output_data_format",
]
BATCH = np.random.default_rng(0).integers(0, 256, (2, 6, 5, 3), dtype=np.uint8)


def _names(exc: BaseException, name: str) -> bool:
    text = str(exc)
    return name in text or name.replace("_", " ") in text


@pytest.mark.parametrize("name", ARGUMENTS)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=JUNK)
def test_generator_arguments(name, value):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        kwargs = {name: value}
        if name != "device":
            kwargs["device"] = "cpu"
        try:
            gen = gpuaug.ImageDataGenerator(**kwargs)
        except (TypeError, ValueError) as exc:
            assert _names(exc, name), f"{type(exc).__name__} does not name {name}: {exc}"
            return
        except RuntimeError as exc:  # device="cuda" without a GPU: named, and says why
            assert name == "device" and "device" in str(exc)
            return
        batch = BATCH if gen.data_format == "channels_last" else BATCH.transpose(0, 3, 1, 2)
        try:
            out, _ = gen.random_transform_batch(batch, seed=1)
        except (TypeError, ValueError) as exc:  # only acceptable where Keras fails per image
            assert _names(exc, name) or "channel" in str(exc), (name, value, exc)
            return
    out = np.asarray(getattr(out, "get", lambda: out)(), dtype=np.float64)
    assert out.shape[0] == 2 and not np.isnan(out).any(), (name, value)


@pytest.mark.parametrize("name", ["batch_size", "seed", "target_size", "shuffle", "class_mode",
                                  "color_mode", "subset", "interpolation", "output", "decoder",
                                  "on_error", "shard_id"])
@settings(max_examples=25, deadline=None, suppress_health_check=[
    HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(value=JUNK)
def test_directory_iterator_arguments(tmp_path_factory, name, value):
    import contextlib
    import io

    from PIL import Image

    root = tmp_path_factory.getbasetemp() / "fuzz-tree"
    if not root.exists():
        (root / "a").mkdir(parents=True)
        Image.fromarray(BATCH[0]).save(root / "a" / "x.png")
    gen = gpuaug.ImageDataGenerator(device="cpu", validation_split=0.5)
    kwargs = {name: value}
    if name == "shard_id":
        kwargs["num_shards"] = 2
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            it = gen.flow_from_directory(str(root), **kwargs)
            batch = it[0] if len(it) else None
        except (TypeError, ValueError, RuntimeError) as exc:
            assert _names(exc, name) or (name == "seed" and "Seed" in str(exc)) \
                or (name == "shard_id" and "seed" in str(exc)), (name, value, exc)
            return
    if batch is not None:
        x = batch[0] if isinstance(batch, tuple) else batch
        assert math.isfinite(float(np.asarray(x).sum()))
