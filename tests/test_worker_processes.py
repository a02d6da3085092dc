"""Copies of an iterator in worker processes: the batches of one process, files skipped once.

Keras's ``use_multiprocessing=True`` forks a pool at every epoch whose workers read
``it[i]`` in whatever order they are free; a DataLoader's workers do the same with
``spawn`` or ``fork``.  Whatever the workers and their scheduling, a seeded iterator
yields the batches that one process reading each epoch in order yields, in Keras's mode
as in the keyed one; without a seed copies never repeat each other's draws; a file that
a copy skips reaches ``skipped_files`` in the parent and is not read again.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import pickle
import warnings

import numpy as np
import pytest
from PIL import Image

import gpuaug
from gpuaug.iterators.skip_log import SkipLog

CONFIG = dict(rotation_range=40, width_shift_range=0.2, height_shift_range=0.2,
              zoom_range=0.2, horizontal_flip=True, channel_shift_range=20.0)

# Forking is what Keras's enqueuer does, so it is what is tested.  Where other tests
# imported JAX (or Python 3.12 sees threads) the fork warns of deadlocks in children that
# would use them; these children use NumPy and Pillow only.
pytestmark = [
    pytest.mark.filterwarnings("ignore:os.fork\\(\\) was called:RuntimeWarning"),
    pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:Exception ignored in. <function _at_fork"
                               ":pytest.PytestUnraisableExceptionWarning"),
]


def _data(n=23):
    rng = np.random.default_rng(8)
    return rng.integers(0, 256, (n, 9, 10, 3)).astype(np.uint8), np.arange(n)


_SHARED = {}


def _read(index):  # in a forked worker: the iterator it inherited
    return _SHARED["it"][index]


def _read_copy(args):  # in a spawned worker: the iterator pickled with the task
    it, index = args
    return it[index]


def _epochs_in_workers(it, epochs, workers, order_seed=0, start="fork"):
    """Each epoch read by a fresh pool in a shuffled index order; the parent ends epochs.

    ``start`` "fork": the workers inherit the iterator; "spawn": each task pickles it.
    """
    rng = np.random.default_rng(order_seed)
    out = []
    for _ in range(epochs):
        it.on_epoch_begin()
        _SHARED["it"] = it
        order = rng.permutation(len(it)).tolist()
        with multiprocessing.get_context(start).Pool(workers) as pool:
            if start == "fork":
                read = pool.map(_read, order, chunksize=1)
            else:
                read = pool.map(_read_copy, [(it, i) for i in order], chunksize=1)
            batches = dict(zip(order, read))
        out.append([batches[i] for i in range(len(it))])
        it.on_epoch_end()
    return out


def _epochs_here(it, epochs):
    out = []
    for _ in range(epochs):
        it.on_epoch_begin()
        out.append([it[i] for i in range(len(it))])
        it.on_epoch_end()
    return out


def _assert_same_epochs(a, b):
    assert len(a) == len(b)
    for epoch_a, epoch_b in zip(a, b):
        assert len(epoch_a) == len(epoch_b)
        for (xa, ya), (xb, yb) in zip(epoch_a, epoch_b):
            np.testing.assert_array_equal(ya, yb)
            np.testing.assert_array_equal(xa, xb)


@pytest.mark.parametrize("rng", ["keras", "keyed"])
@pytest.mark.parametrize("workers", [2, 3])
def test_worker_copies_yield_the_batches_of_one_process(rng, workers):
    x, y = _data()
    gen = gpuaug.ImageDataGenerator(**CONFIG, rng=rng, device="cpu")
    expected = _epochs_here(gen.flow(x, y, batch_size=5, seed=11), 3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # it[i] in copies is sound: nothing to warn about
        got = _epochs_in_workers(gen.flow(x, y, batch_size=5, seed=11), 3, workers)
    _assert_same_epochs(got, expected)
    # Epochs differ from each other (the parent moved past the copies' seeds).
    assert not np.array_equal(got[0][0][0], got[1][0][0])


def test_spawned_worker_copies_yield_the_batches_of_one_process():
    x, y = _data()
    gen = gpuaug.ImageDataGenerator(**CONFIG, device="cpu")
    expected = _epochs_here(gen.flow(x, y, batch_size=5, seed=4), 2)
    got = _epochs_in_workers(gen.flow(x, y, batch_size=5, seed=4), 2, 2, start="spawn")
    _assert_same_epochs(got, expected)


def test_worker_copies_match_one_process_after_the_parent_read_batches_itself():
    """Keras's TensorFlow adapter reads batches in the parent for the output signature first."""
    x, y = _data()
    gen = gpuaug.ImageDataGenerator(**CONFIG, device="cpu")
    here = gen.flow(x, y, batch_size=5, seed=3)
    [here[i] for i in range(2)]
    expected = _epochs_here(here, 2)
    parent = gen.flow(x, y, batch_size=5, seed=3)
    [parent[i] for i in range(2)]
    _assert_same_epochs(_epochs_in_workers(parent, 2, 2), expected)


def test_worker_copies_with_save_to_dir_save_what_one_process_saves(tmp_path):
    x, y = _data(12)
    gen = gpuaug.ImageDataGenerator(**CONFIG, device="cpu")
    for name, reader in (("here", _epochs_here), ("workers", _epochs_in_workers)):
        folder = tmp_path / name
        folder.mkdir()
        it = gen.flow(x, y, batch_size=4, seed=5, save_to_dir=str(folder))
        reader(it, 2) if reader is _epochs_here else reader(it, 2, 2)
    # The names carry the save-name numbers drawn from the stream after each batch's draws.
    assert sorted(os.listdir(tmp_path / "here")) == sorted(os.listdir(tmp_path / "workers"))
    assert len(os.listdir(tmp_path / "here")) == 24


def test_keras_mode_copies_without_a_seed_do_not_repeat_each_other():
    one_image = np.repeat(_data(1)[0], 16, axis=0)  # only the draws tell batches apart
    it = gpuaug.ImageDataGenerator(**CONFIG, device="cpu").flow(
        one_image, np.arange(16), batch_size=2, shuffle=False)
    [batches] = _epochs_in_workers(it, 1, 4)
    images = [x for x, _ in batches]
    for i in range(len(images)):
        for j in range(i):
            assert not np.array_equal(images[i], images[j]), (i, j)


def test_next_on_a_keras_mode_copy_warns_and_indexing_does_not():
    x, y = _data()
    it = gpuaug.ImageDataGenerator(**CONFIG, device="cpu").flow(x, y, batch_size=5, seed=9)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        next(it)  # in the process that made it: silent
    it._creator_pid = -1  # as in a DataLoader worker or a Keras use_multiprocessing child
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        it[1]
    with pytest.warns(RuntimeWarning, match="repeat each other's augmentation.*rng='keyed'"):
        next(it)


# ---------------------------------------------------------------- skipped files
def _folder_with_a_bad_file(root):
    rng = np.random.default_rng(2)
    for label in ("a", "b"):
        (root / label).mkdir(parents=True)
        for i in range(4):
            Image.fromarray(rng.integers(0, 256, (6, 6, 3), dtype=np.uint8)).save(
                root / label / f"{i}.png")
    (root / "a" / "broken.png").write_bytes(b"not an image")
    return str(root / "a" / "broken.png")


def test_files_skipped_by_worker_copies_reach_the_parent_and_are_not_read_again(tmp_path):
    bad = _folder_with_a_bad_file(tmp_path / "data")
    it = gpuaug.ImageDataGenerator(device="cpu").flow_from_directory(
        str(tmp_path / "data"), target_size=(6, 6), batch_size=3, seed=1, on_error="skip")
    _SHARED["it"] = it
    with multiprocessing.get_context("fork").Pool(2) as pool:
        pool.map(_read, range(len(it)), chunksize=1)
    assert [path for path, _ in it.skipped_files] == [bad]  # read from the log, mid-epoch
    assert "cannot identify image file" in dict(it.skipped_files)[bad]
    resumed = gpuaug.ImageDataGenerator(device="cpu").flow_from_directory(  # the state has them
        str(tmp_path / "data"), target_size=(6, 6), batch_size=3, seed=1, on_error="skip")
    resumed.load_state_dict(it.state_dict())
    assert resumed.skipped_files == it.skipped_files
    it.on_epoch_end()
    written = os.path.getsize(it._skip_log.path)
    [epoch] = _epochs_in_workers(it, 1, 2)
    assert os.path.getsize(it._skip_log.path) == written  # the copies knew it: not reread
    assert sum(len(labels) for _, labels in epoch) == 8


def test_a_spawned_copy_reports_skipped_files_too(tmp_path):
    bad = _folder_with_a_bad_file(tmp_path / "data")
    it = gpuaug.ImageDataGenerator(device="cpu").flow_from_directory(
        str(tmp_path / "data"), target_size=(6, 6), batch_size=9, shuffle=False,
        on_error="skip")
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        [(x, labels)] = pool.map(_read_copy, [(it, 0)])
    assert len(labels) == 8
    assert [path for path, _ in it.skipped_files] == [bad]


def test_the_skip_log_reads_whole_lines_once_and_refuses_malformed_ones(tmp_path, caplog):
    log = SkipLog()
    log.path = str(tmp_path / "log.jsonl")
    assert log.read_new() == []  # nothing written yet: no file
    log.write("a.png", "bad")
    with open(log.path, "ab") as f:
        f.write(b"not json\n" + json.dumps(["b\npng", "worse"]).encode())  # no newline yet
    with caplog.at_level("WARNING", logger="gpuaug"):
        assert log.read_new() == [("a.png", "bad")]
    assert "malformed" in caplog.text
    with open(log.path, "ab") as f:
        f.write(b"\n")
    assert log.read_new() == [("b\npng", "worse")]
    assert log.read_new() == []


def test_the_skip_log_belongs_to_the_process_that_made_it(tmp_path, caplog):
    log = SkipLog()
    log.write("x.png", "bad")
    path = log.path
    copy = pickle.loads(pickle.dumps(log))
    del copy  # a copy never removes the owner's log
    assert os.path.exists(path)
    del log  # the owner does
    assert not os.path.exists(path)
    unwritable = SkipLog()
    unwritable.path = str(tmp_path / "missing" / "log.jsonl")
    with caplog.at_level("WARNING", logger="gpuaug"):
        unwritable.write("y.png", "bad")  # the batch goes on; the report is lost, and said so
    assert "could not report skipped file y.png" in caplog.text


@pytest.mark.keras
def test_kerass_multiprocessing_enqueuer_yields_the_batches_of_one_process(keras_image):
    """What ``model.fit`` runs for a PyDataset with ``use_multiprocessing=True``."""
    from keras.src.trainers.data_adapters.py_dataset_adapter import PyDatasetAdapter

    x, y = _data()

    def epochs(workers):
        it = gpuaug.ImageDataGenerator(**CONFIG, device="cpu").flow(x, y, batch_size=4, seed=6)
        it.workers, it.use_multiprocessing = workers, workers > 0  # PyDataset's setters
        adapter = PyDatasetAdapter(it)
        out = []
        for _ in range(3):
            adapter.on_epoch_begin()
            out.append([tuple(batch) for batch in adapter.get_numpy_iterator()])
            adapter.on_epoch_end()
        return out

    _assert_same_epochs(epochs(3), epochs(0))


@pytest.mark.parametrize("rng", ["keras", "keyed"])
def test_a_torch_dataloader_with_workers_yields_the_batches_of_one_process(rng):
    """The README's way: DataLoader(it, batch_size=None), on_epoch_end() between epochs."""
    torch = pytest.importorskip("torch")
    x, y = _data()
    gen = gpuaug.ImageDataGenerator(**CONFIG, rng=rng, device="cpu")
    expected = _epochs_here(gen.flow(x, y, batch_size=5, seed=13), 2)
    it = gen.flow(x, y, batch_size=5, seed=13)
    loader = torch.utils.data.DataLoader(it, batch_size=None, num_workers=2,
                                         multiprocessing_context="fork")
    got = []
    for _ in range(2):
        got.append([(xb.numpy(), yb.numpy()) for xb, yb in loader])
        it.on_epoch_end()
    _assert_same_epochs(got, expected)
