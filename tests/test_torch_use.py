"""PyTorch loops without traps: a finite epoch, labels as tensors beside the batch, bfloat16.

``for x, y in it:`` never ends (Keras's iterators are endless): ``it.one_epoch()`` is the
finite loop.  With ``output="torch"`` labels and sample weights are tensors on the
batch's device (``numpy_labels=True`` keeps them NumPy), and bfloat16 batches reach torch
on the CPU too.
"""

from __future__ import annotations

import numpy as np
import pytest

import gpuaug

CONFIG = dict(rotation_range=20, zoom_range=0.1, horizontal_flip=True)


def _data(n=11):
    rng = np.random.default_rng(6)
    return rng.integers(0, 256, (n, 7, 8, 3)).astype(np.uint8), np.arange(n)


def test_one_epoch_is_lens_batches_of_next_and_every_sample_once():
    x, y = _data()
    gen = gpuaug.ImageDataGenerator(**CONFIG, device="cpu")
    it = gen.flow(x, y, batch_size=4, seed=3)
    twin = gen.flow(x, y, batch_size=4, seed=3)
    for _ in range(2):  # two epochs, each reshuffled
        epoch = list(it.one_epoch())
        assert len(epoch) == len(it) == 3
        assert sorted(int(v) for _, labels in epoch for v in labels) == list(range(11))
        for (a, ya), (b, yb) in zip(epoch, (next(twin) for _ in range(3))):
            np.testing.assert_array_equal(ya, yb)
            np.testing.assert_array_equal(a, b)


def test_one_epoch_after_next_finishes_the_epoch_it_is_in():
    x, y = _data()
    it = gpuaug.ImageDataGenerator(device="cpu").flow(x, y, batch_size=4, seed=3)
    first = next(it)
    rest = list(it.one_epoch())
    assert len(rest) == 2
    seen = [int(v) for v in first[1]] + [int(v) for _, labels in rest for v in labels]
    assert sorted(seen) == list(range(11))
    assert len(list(it.one_epoch())) == 3  # then a whole epoch again


def test_torch_labels_and_weights_follow_the_batch():
    torch = pytest.importorskip("torch")
    x, y = _data()
    gen = gpuaug.ImageDataGenerator(**CONFIG, device="cpu")
    weights = np.linspace(0.5, 1.5, 11)
    xb, yb, wb = gen.flow(x, y, sample_weight=weights, batch_size=5, seed=2, output="torch")[1]
    ref = gen.flow(x, y, sample_weight=weights, batch_size=5, seed=2, output="numpy")[1]
    assert all(isinstance(t, torch.Tensor) and t.device == xb.device for t in (xb, yb, wb))
    for got, expected in zip((xb, yb, wb), ref):
        np.testing.assert_array_equal(got.numpy(), expected)
    _, yn, wn = gen.flow(x, y, sample_weight=weights, batch_size=5, seed=2, output="torch",
                         numpy_labels=True)[1]
    assert isinstance(yn, np.ndarray) and isinstance(wn, np.ndarray)


def test_torch_labels_of_a_folder_and_a_list_of_outputs(tmp_path):
    torch = pytest.importorskip("torch")
    import contextlib
    import io

    from PIL import Image

    for label in ("a", "b"):
        (tmp_path / label).mkdir()
        for i in range(3):
            image = Image.fromarray(np.full((5, 5, 3), 40 * i, np.uint8))
            image.save(tmp_path / label / f"{i}.png")
    gen = gpuaug.ImageDataGenerator(device="cpu")
    with contextlib.redirect_stdout(io.StringIO()):
        it = gen.flow_from_directory(str(tmp_path), target_size=(5, 5), batch_size=6,
                                     shuffle=False, output="torch")
    x, y = it[0]
    assert isinstance(y, torch.Tensor) and y.shape == (6, 2) and y.sum().item() == 6
    from gpuaug.output import convert_labels

    # class_mode="multi_output" labels are a list: each follows; strings stay NumPy
    multi = convert_labels([np.arange(3), np.array(["a", "b", "c"])], x, "torch")
    assert isinstance(multi[0], torch.Tensor) and isinstance(multi[1], np.ndarray)


def test_bfloat16_batches_reach_torch_on_the_cpu():
    torch = pytest.importorskip("torch")
    pytest.importorskip("ml_dtypes")
    x, y = _data()
    gen = gpuaug.ImageDataGenerator(**CONFIG, rescale=1 / 255, output_dtype="bfloat16",
                                    device="cpu")
    xb, _ = gen.flow(x, y, batch_size=5, seed=4, output="torch")[0]
    ref, _ = gen.flow(x, y, batch_size=5, seed=4, output="numpy")[0]
    assert xb.dtype == torch.bfloat16
    np.testing.assert_array_equal(xb.float().numpy(), ref.astype(np.float32))
