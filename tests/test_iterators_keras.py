"""``flow`` and ``flow_from_directory`` against Keras's own iterators, batch for batch.

Same seed, same call sequence (``next()`` and ``[i]`` interleaved, across epochs,
after ``reset()``): the NumPy path must give Keras's batches exactly, labels and
attributes equal, the same printed line and the same error messages.
"""

from __future__ import annotations

import contextlib
import io
import os
import warnings

import numpy as np
import pytest
from PIL import Image

import gpuaug

pytestmark = pytest.mark.keras

AUG = dict(rotation_range=30, width_shift_range=0.2, height_shift_range=0.1, shear_range=10,
           zoom_range=0.2, horizontal_flip=True, channel_shift_range=10.0, rescale=1 / 255)


def _pair(keras_image, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return (keras_image.ImageDataGenerator(**kwargs),
                gpuaug.ImageDataGenerator(**kwargs, device="cpu"))


def _equal(a, b) -> None:
    if isinstance(a, (tuple, list)):
        assert type(a) is type(b) and len(a) == len(b)
        for p, q in zip(a, b):
            _equal(p, q)
        return
    assert a.dtype == b.dtype and a.shape == b.shape, (a.dtype, b.dtype, a.shape, b.shape)
    np.testing.assert_array_equal(a, b)


def _walk(ki, gi, calls) -> None:
    """Apply the same call sequence to both iterators and compare every result."""
    for call in calls:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if call == "next":
                a, b = next(ki), next(gi)
            elif call == "reset":
                ki.reset(), gi.reset()
                continue
            elif call == "epoch":
                ki.on_epoch_end(), gi.on_epoch_end()
                continue
            else:
                index = min(call, len(ki) - 1)  # the same call sequence fits every length
                a, b = ki[index], gi[index]
        _equal(a, b)


CALLS = ["next", "next", 1, "next", "next", "epoch", 0, "next", "reset", "next", 2, "next"]


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
@pytest.mark.parametrize("batch_size,shuffle,seed", [(4, True, 5), (3, False, 0), (7, True, 123),
                                                     (32, True, 1)])
def test_flow_batches_equal_keras(keras_image, keras_format, data_format, batch_size, shuffle,
                                  seed):
    keras_format(data_format)
    rng = np.random.default_rng(seed)
    shape = (11, 9, 13, 3) if data_format == "channels_last" else (11, 3, 9, 13)
    x = rng.integers(0, 256, shape, dtype=np.uint8)
    y = rng.integers(0, 3, 11)
    kg, gg = _pair(keras_image, **AUG, data_format=data_format)
    ki = kg.flow(x, y, batch_size=batch_size, shuffle=shuffle, seed=seed)
    gi = gg.flow(x, y, batch_size=batch_size, shuffle=shuffle, seed=seed)
    assert len(ki) == len(gi)
    _walk(ki, gi, CALLS)


def test_flow_with_misc_inputs_weights_and_subsets(keras_image):
    rng = np.random.default_rng(3)
    x = rng.uniform(0, 255, (12, 8, 8, 3)).astype(np.float32)
    misc = [rng.normal(size=(12, 2)), rng.integers(0, 9, 12)]
    y = np.tile([0, 1, 2], 4)
    w = rng.uniform(size=12)
    kg, gg = _pair(keras_image, **AUG, validation_split=0.25)
    for subset in ("training", "validation"):
        ki = kg.flow((x, misc), y, batch_size=5, seed=2, subset=subset)
        gi = gg.flow((x, misc), y, batch_size=5, seed=2, subset=subset)
        _walk(ki, gi, ["next", "next", "next", 0])
    ki = kg.flow(x, y, sample_weight=w, batch_size=5, seed=9)
    gi = gg.flow(x, y, sample_weight=w, batch_size=5, seed=9)
    _walk(ki, gi, ["next", "next", 1])
    ki, gi = kg.flow(x, None, batch_size=4, seed=1), gg.flow(x, None, batch_size=4, seed=1)
    _walk(ki, gi, ["next", 2])


def _same_error(keras_fn, gpuaug_fn) -> None:
    """gpuaug raises Keras's exception type (or a subclass of it) with Keras's message."""
    (k_type, k_text), (g_type, g_text) = _message(keras_fn), _message(gpuaug_fn)
    assert issubclass(g_type, k_type), (g_type, k_type)
    assert g_text == k_text


def _message(fn):
    """The exception's type and text; a printed set's items sorted (its order varies)."""
    import re

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(Exception) as info:
            fn()
    text = re.sub(r"\{([^{}]*)\}", lambda m: "{" + ", ".join(sorted(m.group(1).split(", "))) + "}",
                  str(info.value))
    return type(info.value), text


@pytest.mark.parametrize("case", ["rank", "y", "weights", "misc", "subset", "classes", "index"])
def test_flow_errors_equal_keras(keras_image, case):
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 255, (6, 5, 5, 3)).astype(np.float32)
    kg, gg = _pair(keras_image, validation_split=0.5)
    calls = {
        "rank": lambda g: g.flow(x[0]),
        "y": lambda g: g.flow(x, np.arange(5)),
        "weights": lambda g: g.flow(x, np.arange(6), sample_weight=np.ones(4)),
        "misc": lambda g: g.flow((x, [np.ones(6), np.ones(3)])),
        "subset": lambda g: g.flow(x, np.arange(6), subset="test"),
        "classes": lambda g: g.flow(x, np.array([0, 0, 0, 1, 1, 1]), subset="training"),
        "index": lambda g: g.flow(x, batch_size=4)[2],
    }[case]
    _same_error(lambda: calls(kg), lambda: calls(gg))


def test_flow_channel_warning_equals_keras(keras_image):
    x = np.random.default_rng(0).uniform(0, 255, (3, 5, 5, 2)).astype(np.float32)
    kg, gg = _pair(keras_image)
    with pytest.warns(UserWarning) as kw:
        kg.flow(x)
    with pytest.warns(UserWarning) as gw:
        gg.flow(x)
    assert [str(w.message) for w in kw] == [str(w.message) for w in gw]


def test_iterators_never_touch_the_global_rng():
    x = np.random.default_rng(0).integers(0, 256, (8, 6, 6, 3), dtype=np.uint8)
    np.random.seed(11)
    expected = np.random.random_sample()
    np.random.seed(11)
    it = gpuaug.ImageDataGenerator(**AUG, device="cpu").flow(x, batch_size=3)
    next(it), it[1], next(it)
    assert np.random.random_sample() == expected


# ----------------------------------------------------------------- directories
def _write(path, size, mode, rng) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    channels = {"RGB": 3, "RGBA": 4, "L": 1, "P": 1}[mode]
    a = rng.integers(0, 256, (size[1], size[0], channels), dtype=np.uint8)
    img = Image.fromarray(a[..., 0] if channels == 1 else a, "L" if mode == "P" else mode)
    (img.convert("P") if mode == "P" else img).save(path)


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    """Mixed sizes and modes, nested folders, upper-case extensions, a hidden class,
    a file at the top level, a non-image, a class with one file and an empty class."""
    root = tmp_path_factory.mktemp("tree")
    rng = np.random.default_rng(0)
    for i in range(6):
        _write(f"{root}/cats/c{i}.png", (30 + i, 20 + 2 * i), "RGB", rng)
    _write(f"{root}/cats/sub/deep.PNG", (17, 23), "RGB", rng)
    _write(f"{root}/cats/sub/deeper/x.png", (26, 26), "RGBA", rng)
    _write(f"{root}/dogs/d0.png", (40, 40), "RGBA", rng)
    _write(f"{root}/dogs/d1.bmp", (25, 31), "L", rng)
    _write(f"{root}/dogs/d2.png", (20, 24), "P", rng)
    _write(f"{root}/dogs/d3.png", (24, 20), "RGB", rng)  # already target size
    _write(f"{root}/Zebra/z.png", (33, 19), "RGB", rng)
    _write(f"{root}/.hidden/h.png", (10, 10), "RGB", rng)
    _write(f"{root}/top.png", (10, 10), "RGB", rng)
    os.makedirs(f"{root}/empty")
    (root / "dogs" / "notes.txt").write_text("not an image")
    (root / "dogs" / "anim.gif").write_bytes(b"GIF89a")
    return str(root)


def _iterators(keras_image, tree, gen_kwargs, **kwargs):
    kg, gg = _pair(keras_image, **gen_kwargs)
    out_k, out_g = io.StringIO(), io.StringIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with contextlib.redirect_stdout(out_k):
            ki = kg.flow_from_directory(tree, **kwargs)
        with contextlib.redirect_stdout(out_g):
            gi = gg.flow_from_directory(tree, **kwargs)
    assert out_g.getvalue() == out_k.getvalue()
    assert out_g.getvalue().startswith("Found ")
    return ki, gi


ATTRIBUTES = ("filenames", "filepaths", "samples", "n", "num_classes", "class_indices",
              "image_shape", "class_mode", "target_size", "color_mode", "split", "subset",
              "batch_size", "shuffle", "seed", "directory")


@pytest.mark.parametrize("kwargs", [
    dict(),
    dict(class_mode="binary", color_mode="grayscale", batch_size=4),
    dict(class_mode="sparse", color_mode="rgba", interpolation="bilinear"),
    dict(class_mode="input", interpolation="bicubic", keep_aspect_ratio=True),
    dict(class_mode=None, interpolation="lanczos", shuffle=False),
    dict(classes=["dogs", "cats", "missing"], interpolation="box"),
    dict(subset="training", interpolation="hamming"),
    dict(subset="validation", keep_aspect_ratio=True, class_mode="sparse"),
])
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_flow_from_directory_equals_keras(keras_image, keras_format, tree, kwargs, data_format):
    keras_format(data_format)
    gen_kwargs = dict(AUG, data_format=data_format, validation_split=0.4)
    kwargs = dict(dict(target_size=(24, 20), batch_size=5, seed=7), **kwargs)
    ki, gi = _iterators(keras_image, tree, gen_kwargs, **kwargs)
    for name in ATTRIBUTES:
        assert getattr(gi, name) == getattr(ki, name), name
    _equal(ki.classes, gi.classes)
    assert gi.labels is gi.classes and gi.sample_weight is None
    assert len(gi) == len(ki)
    _walk(ki, gi, CALLS)


def test_follow_links_and_directory_errors_equal_keras(keras_image, tree, tmp_path):
    linked = tmp_path / "linked"
    linked.mkdir()
    os.symlink(os.path.join(tree, "cats"), linked / "cats")
    (linked / "dogs").mkdir()
    os.symlink(os.path.join(tree, "dogs"), linked / "dogs" / "more")
    for follow in (False, True):
        ki, gi = _iterators(keras_image, str(linked), {}, target_size=(8, 8), follow_links=follow)
        assert gi.filenames == ki.filenames
    kg, gg = _pair(keras_image)
    for kwargs in (dict(color_mode="cmyk"), dict(subset="test"), dict(class_mode="raw"),
                   dict(target_size=(9, 9), interpolation="area")):
        def make(g, kwargs=kwargs):
            with contextlib.redirect_stdout(io.StringIO()):
                it = g.flow_from_directory(tree, **kwargs)
            return it[0]
        _same_error(lambda: make(kg), lambda: make(gg))
    assert _message(lambda: kg.flow_from_directory(str(tmp_path / "nope")))[0] is \
        _message(lambda: gg.flow_from_directory(str(tmp_path / "nope")))[0]


def test_save_to_dir_writes_keras_names_and_pictures(keras_image, tree, tmp_path):
    (tmp_path / "k").mkdir()
    (tmp_path / "g").mkdir()
    kg, gg = _pair(keras_image, **AUG)
    with contextlib.redirect_stdout(io.StringIO()):
        ki = kg.flow_from_directory(tree, target_size=(12, 12), batch_size=4, seed=3,
                                    save_to_dir=str(tmp_path / "k"), save_prefix="aug")
        gi = gg.flow_from_directory(tree, target_size=(12, 12), batch_size=4, seed=3,
                                    save_to_dir=str(tmp_path / "g"), save_prefix="aug")
    _walk(ki, gi, ["next", "next", 1])
    names = sorted(os.listdir(tmp_path / "k"))
    assert names and sorted(os.listdir(tmp_path / "g")) == names
    for name in names:
        with Image.open(tmp_path / "k" / name) as a, Image.open(tmp_path / "g" / name) as b:
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


FIT_SCRIPT = r"""
import numpy as np
import keras                      # imported first: gpuaug's iterators become PyDatasets
import gpuaug

rng = np.random.default_rng(0)
x = rng.integers(0, 256, (20, 8, 8, 3), dtype=np.uint8)
y = keras.utils.to_categorical(rng.integers(0, 2, 20), 2)
it = gpuaug.ImageDataGenerator(rotation_range=20, horizontal_flip=True, rescale=1 / 255,
                               device="cpu").flow(x, y, batch_size=6, seed=1)
assert isinstance(it, keras.utils.PyDataset), type(it).__mro__
model = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Flatten(),
                          keras.layers.Dense(2, activation="softmax")])
model.compile("sgd", "categorical_crossentropy")
history = model.fit(it, epochs=2, verbose=0)
assert len(history.history["loss"]) == 2 and np.isfinite(history.history["loss"]).all()
print("fit ok", len(it))
"""


def test_model_fit_consumes_a_flow_iterator(tmp_path):
    """Keras 3 ``model.fit(it)`` (JAX backend, in a subprocess) trains for two epochs."""
    import subprocess
    import sys

    pytest.importorskip("jax", reason="model.fit needs a trainable Keras backend (JAX)")
    env = dict(os.environ, KERAS_BACKEND="jax", JAX_PLATFORMS="cpu")
    script = tmp_path / "fit.py"
    script.write_text(FIT_SCRIPT)
    done = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "fit ok 4" in done.stdout


# ------------------------------------------------------------------ dataframes
@pytest.fixture(scope="module")
def frame(tree):
    pd = pytest.importorskip("pandas")
    rows = [
        ("cats/c0.png", "cat", ["cat"], 0.5, 1.0, 2.0),
        ("cats/c1.png", "dog", ["cat", "dog"], 1.5, 3.0, 4.0),
        ("cats/c2.png", "cat", ["dog"], 1.0, 5.0, 6.0),
        ("dogs/notes.txt", "dog", ["dog"], 1.0, 0.0, 0.0),      # not an image name
        ("dogs/missing.png", "dog", ["dog"], 1.0, 0.0, 0.0),    # does not exist
        ("dogs/d0.png", "dog", ["zebra", "dog"], 2.0, 7.0, 8.0),
        ("dogs/d1.bmp", "cat", ["cat"], 0.25, 9.0, 10.0),
        ("cats/sub/deep.PNG", "dog", ["dog"], 3.0, 11.0, 12.0),
        ("Zebra/z.png", "cat", ["zebra"], 1.0, 13.0, 14.0),
        ("dogs/d3.png", "dog", ["cat"], 0.75, 15.0, 16.0),
    ]
    return pd.DataFrame(rows, columns=["filename", "class", "tags", "w", "a", "b"])


def _df_iterators(keras_image, frame, tree, gen_kwargs, **kwargs):
    kg, gg = _pair(keras_image, **gen_kwargs)
    out_k, out_g = io.StringIO(), io.StringIO()
    with warnings.catch_warnings(record=True) as kw:
        warnings.simplefilter("always")
        with contextlib.redirect_stdout(out_k):
            ki = kg.flow_from_dataframe(frame, tree, **kwargs)
    with warnings.catch_warnings(record=True) as gw:
        warnings.simplefilter("always")
        with contextlib.redirect_stdout(out_g):
            gi = gg.flow_from_dataframe(frame, tree, **kwargs)
    assert out_g.getvalue() == out_k.getvalue() and out_g.getvalue().startswith("Found ")
    relevant = lambda ws: [str(w.message) for w in ws if "scipy" not in str(w.message).lower()]  # noqa: E731
    assert relevant(gw) == relevant(kw)
    return ki, gi


@pytest.mark.parametrize("kwargs", [
    dict(),
    dict(y_col="tags"),                                   # multi-hot
    dict(class_mode="binary", weight_col="w"),
    dict(class_mode="sparse", subset="validation"),
    dict(class_mode="input", color_mode="grayscale", classes=["cat"]),
    dict(class_mode="raw", y_col=["a", "b"], subset="training"),
    dict(class_mode="multi_output", y_col=["a", "b"]),
    dict(class_mode=None, interpolation="bilinear"),
    dict(classes=["dog", "cat", "dog"], y_col="tags"),
    dict(class_mode="other", y_col="a"),
])
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_flow_from_dataframe_equals_keras(keras_image, keras_format, frame, tree, kwargs,
                                          data_format):
    keras_format(data_format)
    gen_kwargs = dict(AUG, data_format=data_format, validation_split=0.3)
    kwargs = dict(dict(target_size=(16, 18), batch_size=3, seed=4), **kwargs)
    ki, gi = _df_iterators(keras_image, frame, tree, gen_kwargs, **kwargs)
    for name in ("filenames", "filepaths", "samples", "image_shape", "class_mode", "split",
                 "directory"):
        assert getattr(gi, name) == getattr(ki, name), name
    if kwargs.get("class_mode", "categorical") not in ("input", "raw", "multi_output", None,
                                                        "other"):
        assert gi.class_indices == ki.class_indices and gi.classes == ki.classes
    _walk(ki, gi, CALLS)


@pytest.mark.parametrize("kwargs", [
    dict(class_mode="multi_output", y_col="a"),
    dict(x_col="w"),
    dict(class_mode="binary", y_col="a"),
    dict(class_mode="binary", classes=["a", "b", "c"]),
    dict(class_mode="binary", y_col="tags"),
    dict(y_col="a"),
    dict(weight_col="class"),
    dict(class_mode="bad"),
    dict(subset="both"),
])
def test_flow_from_dataframe_errors_equal_keras(keras_image, frame, tree, kwargs):
    kg, gg = _pair(keras_image, validation_split=0.5)

    def make(g):
        with contextlib.redirect_stdout(io.StringIO()):
            return g.flow_from_dataframe(frame, tree, **kwargs)
    _same_error(lambda: make(kg), lambda: make(gg))
