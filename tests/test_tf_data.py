"""``it.tf_dataset()``: the iterator as a ``tf.data.Dataset`` in one call, with its own batches.

Runs where TensorFlow installs (the test extra has its CPU build on Linux x86-64); elsewhere
skipped, saying so.
"""

from __future__ import annotations

import numpy as np
import pytest

import gpuaug

tf = pytest.importorskip("tensorflow", reason="TensorFlow not installed")


def _data(n=10):
    rng = np.random.default_rng(2)
    return rng.integers(0, 256, (n, 6, 7, 3)).astype(np.uint8), np.arange(n)


@pytest.mark.parametrize("output", ["numpy", "tf"])
def test_one_pass_is_one_epoch_of_the_iterators_own_batches(output):
    x, y = _data()
    gen = gpuaug.ImageDataGenerator(rotation_range=30, horizontal_flip=True, device="cpu")
    expected = []
    twin = gen.flow(x, y, batch_size=4, seed=5)
    for _ in range(2):
        expected += [twin[i] for i in range(len(twin))]
        twin.on_epoch_end()
    dataset = gen.flow(x, y, batch_size=4, seed=5, output=output).tf_dataset()
    assert dataset.element_spec[0].shape.as_list() == [None, 6, 7, 3]
    got = [(xb.numpy(), yb.numpy()) for _ in range(2) for xb, yb in dataset]
    assert len(got) == len(expected) == 6  # two epochs of 4 + 4 + 2
    for (xa, ya), (xb, yb) in zip(got, expected):
        np.testing.assert_array_equal(ya, yb)
        np.testing.assert_array_equal(xa, xb)


def test_sample_weights_and_no_labels_keep_their_structure():
    x, y = _data()
    gen = gpuaug.ImageDataGenerator(device="cpu")
    weighted = gen.flow(x, y, sample_weight=np.linspace(0, 1, 10), batch_size=5).tf_dataset()
    assert len(weighted.element_spec) == 3
    images = gen.flow(x, batch_size=5).tf_dataset()
    assert images.element_spec.shape.as_list() == [None, 6, 7, 3]
    assert sum(int(batch.shape[0]) for batch in images) == 10
