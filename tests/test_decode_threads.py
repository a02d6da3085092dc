"""Pillow on every core: a batch's files decode on ``decode_threads`` threads.

Whatever the thread count: the same pixels in the same order, the same labels, the
same files skipped and the same error for a bad file; decodes really overlap; the
pool survives ``fork`` (a child makes its own) and pickling; the count is checked by
name.
"""

from __future__ import annotations

import contextlib
import io
import multiprocessing
import os
import threading

import numpy as np
import pytest
from PIL import Image

import gpuaug
from gpuaug.sources import decoders
from gpuaug.sources.decoders import usable_cpus

pytestmark = [  # the fork test's children use NumPy and Pillow only (see test_worker_processes)
    pytest.mark.filterwarnings("ignore:os.fork\\(\\) was called:RuntimeWarning"),
    pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning"),
]


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    """Sizes, modes (RGB, RGBA, L, P, 16-bit L) and formats mixed, with two unreadable files."""
    root = tmp_path_factory.mktemp("threads")
    rng = np.random.default_rng(5)
    for label in ("a", "b"):
        (root / label).mkdir()
        for i in range(9):
            w, h = rng.integers(12, 60, 2)
            img = Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8))
            mode = ["RGB", "RGBA", "L", "P"][i % 4]
            img.convert(mode).save(root / label / f"{i}.png")
            img.save(root / label / f"{i}.jpg", quality=85)
        Image.fromarray(rng.integers(0, 65535, (15, 17), dtype=np.uint16)).save(
            root / label / "deep.png")
    (root / "a" / "4b.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    (root / "b" / "2z.jpg").write_bytes(b"")
    return str(root)


def _iterator(tree, threads, **kwargs):
    gen = gpuaug.ImageDataGenerator(rotation_range=15, horizontal_flip=True, device="cpu")
    with contextlib.redirect_stdout(io.StringIO()):
        return gen.flow_from_directory(tree, target_size=(21, 18), batch_size=7, seed=4,
                                       decoder="pillow", decode_threads=threads, **kwargs)


@pytest.mark.parametrize("color_mode", ["rgb", "grayscale", "rgba"])
def test_threads_decode_the_same_pixels_in_the_same_order(tree, color_mode):
    one = _iterator(tree, 1, color_mode=color_mode, on_error="skip")
    four = _iterator(tree, 4, color_mode=color_mode, on_error="skip")
    for i in range(len(one)):
        (x1, y1), (x4, y4) = one[i], four[i]
        np.testing.assert_array_equal(y4, y1)
        np.testing.assert_array_equal(x4, x1)
    assert four.skipped_files == one.skipped_files
    assert len(one.skipped_files) == 2
    for path, reason in one.skipped_files:  # the file by name, not an in-memory object
        assert "BytesIO" not in reason and (path in reason or "Truncated" in reason), reason


def test_a_bad_file_raises_the_same_error_whatever_the_thread_count(tree):
    messages = set()
    for threads in (1, 4):
        it = _iterator(tree, threads, shuffle=False)
        with pytest.raises(gpuaug.ImageFileError) as info:
            [it[i] for i in range(len(it))]
        messages.add(str(info.value))
    assert len(messages) == 1 and "4b.png" in messages.pop()  # the first bad file in order


def test_files_decode_at_the_same_time_on_the_pool(tree, monkeypatch):
    """Two decodes must meet at a barrier: impossible one file after another."""
    barrier = threading.Barrier(2, timeout=10)
    names, calls = set(), iter(range(10**6))
    load = decoders.load_image

    def meeting_load(*args, **kwargs):
        names.add(threading.current_thread().name)
        if next(calls) < 2:  # the batch's first two files wait for each other
            barrier.wait()
        return load(*args, **kwargs)

    monkeypatch.setattr(decoders, "load_image", meeting_load)
    it = _iterator(tree, 2, on_error="skip")
    x, _ = it[0]
    assert len(x) >= 5 and len(names) == 2
    assert all(name.startswith("gpuaug-decode") for name in names)


_SHARED = {}


def _first_batch_shape(_):
    x, _labels = _SHARED["it"][0]
    return x.shape


def test_a_forked_child_decodes_on_a_pool_of_its_own(tree):
    it = _iterator(tree, 3, on_error="skip")
    expected = it[0][0].shape  # the parent's pool has threads now; the child's copy has none
    _SHARED["it"] = it
    with multiprocessing.get_context("fork").Pool(1) as pool:
        assert pool.map_async(_first_batch_shape, [0]).get(timeout=60) == [expected]


def test_a_pickled_iterator_decodes_with_its_thread_count(tree):
    import pickle

    it = _iterator(tree, 3, on_error="skip")
    it[0]
    copy = pickle.loads(pickle.dumps(it))
    assert copy.decode_threads == 3
    np.testing.assert_array_equal(copy[1][0], it[1][0])


def test_decode_threads_defaults_to_the_usable_cpus_and_is_checked_by_name(tree):
    assert _iterator(tree, None).decode_threads == usable_cpus()
    assert usable_cpus() <= (os.cpu_count() or 1)
    for bad, error in ((0, ValueError), (-2, ValueError), (1.5, TypeError), (True, TypeError),
                       ("4", TypeError)):
        with pytest.raises(error, match="`decode_threads` must be a positive integer"):
            _iterator(tree, bad)


def test_dali_decodes_on_decode_threads_threads(tree):
    pytest.importorskip("nvidia.dali", reason="NVIDIA DALI not installed")
    gen = gpuaug.ImageDataGenerator(device="cpu")
    with contextlib.redirect_stdout(io.StringIO()):
        it = gen.flow_from_directory(tree, target_size=(21, 18), decoder="dali",
                                     decode_threads=3)
    assert it._decode.num_threads == 3
