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


def _tree_with_a_bad_file(root):
    from PIL import Image

    (root / "a").mkdir(parents=True)
    for i in range(3):
        Image.fromarray(np.full((6, 6, 3), 40 * i, np.uint8)).save(root / "a" / f"{i}.png")
    (root / "a" / "0_bad.png").write_bytes(b"not a png")  # sorted first: in the first batch
    return root


def test_building_the_dataset_saves_and_logs_nothing(tmp_path, caplog):
    """The first batch read for the element types is only looked at: no file in save_to_dir,
    no unreadable file logged, until the dataset is iterated (then once per batch read)."""
    saved = tmp_path / "saved"
    saved.mkdir()
    gen = gpuaug.ImageDataGenerator(rotation_range=20, device="cpu")
    it = gen.flow_from_directory(str(_tree_with_a_bad_file(tmp_path / "data")),
                                 target_size=(6, 6), batch_size=2, shuffle=False,
                                 save_to_dir=str(saved), on_error="skip")
    with caplog.at_level("WARNING", logger="gpuaug"):
        dataset = it.tf_dataset()
        assert list(saved.iterdir()) == [] and "0_bad.png" not in caplog.text
        assert it.skipped_files == []
        images = sum(int(x.shape[0]) for x, _ in dataset)
    assert images == 3 and len(list(saved.iterdir())) == 3
    assert sum("0_bad.png" in record.getMessage() for record in caplog.records) == 1
    assert [path for path, _ in it.skipped_files] == [str(tmp_path / "data" / "a" / "0_bad.png")]


def test_an_empty_iterator_says_it_has_no_samples():
    it = gpuaug.ImageDataGenerator(device="cpu").flow(np.zeros((0, 6, 7, 3)), batch_size=2)
    with pytest.raises(ValueError, match=r"tf_dataset\(\): this NumpyArrayIterator has no samples"):
        it.tf_dataset()


def test_the_quiet_look_is_this_threads_only(tmp_path):
    """While one thread looks at a batch quietly, another reading the iterator saves its
    batch as usual (nothing shared is switched off)."""
    import threading

    saved = tmp_path / "saved"
    saved.mkdir()
    x, y = _data()
    it = gpuaug.ImageDataGenerator(device="cpu").flow(x, y, batch_size=2, shuffle=False,
                                                      save_to_dir=str(saved))
    with it._quietly():
        it[0]  # looked at: nothing saved
        assert list(saved.iterdir()) == []
        other = threading.Thread(target=lambda: it[1])
        other.start()
        other.join()
    assert len(list(saved.iterdir())) == 2 and it.save_to_dir == str(saved)


def test_a_running_prefetcher_refuses_tf_dataset():
    x, y = _data()
    it = gpuaug.ImageDataGenerator(device="cpu").flow(x, y, batch_size=2)
    with it.prefetch():
        with pytest.raises(RuntimeError, match=r"tf_dataset\(\) while a prefetcher runs"):
            it.tf_dataset()
