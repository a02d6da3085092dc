"""Nothing lost, nothing duplicated, labels attached, reproducible, flat memory.

Labels are written into the pixels (image k is filled with k), so a label that
leaves its image, a sample seen twice or a sample dropped is caught directly.
"""

from __future__ import annotations

import contextlib
import io
import os
import threading

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import gpuaug


def _labelled(n: int) -> tuple[np.ndarray, np.ndarray]:
    x = (np.arange(n, dtype=np.float32) % 251)[:, None, None, None] * np.ones((1, 2, 3, 1),
                                                                            np.float32)
    return x, np.arange(n)


def _check_batch(x, y) -> list[int]:
    assert len(x) == len(y)
    for img, label in zip(x, y):
        assert np.all(img == label % 251), "a label left its image"
    return y.tolist()


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 60), batch_size=st.integers(1, 11), shuffle=st.booleans(),
       seed=st.one_of(st.none(), st.integers(0, 2**20)),
       split=st.sampled_from([0.0, 0.2, 0.5]), subset=st.sampled_from([None, "training",
                                                                       "validation"]),
       partial=st.integers(0, 3), use_getitem=st.booleans())
def test_every_sample_once_per_epoch_with_its_label(n, batch_size, shuffle, seed, split, subset,
                                                    partial, use_getitem):
    x, y = _labelled(n)
    gen = gpuaug.ImageDataGenerator(validation_split=split, device="cpu")
    if subset is not None and split == 0.0:
        subset = None
    it = gen.flow(x, y, batch_size=batch_size, shuffle=shuffle, seed=seed, subset=subset,
                  ignore_class_split=True)
    k = int(n * split)
    expected = sorted(range(k) if subset == "validation" else range(k, n) if subset else range(n))
    for _ in range(partial):  # a partial epoch, then reset(): the next epoch starts afresh
        if len(it):
            _check_batch(*next(it))
    it.reset()
    for _ in range(2):
        seen = []
        for i in range(len(it)):
            seen += _check_batch(*(it[i] if use_getitem else next(it)))
        if use_getitem:
            it.on_epoch_end()
        assert sorted(seen) == expected


def test_same_seed_same_batches_across_runs_and_decoder_threads(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(0)
    for c in "ab":
        for i in range(5):
            os.makedirs(tmp_path / c, exist_ok=True)
            Image.fromarray(rng.integers(0, 256, (9, 8, 3), np.uint8)).save(
                tmp_path / c / f"{i}.jpg", quality=90)
    gen = gpuaug.ImageDataGenerator(rotation_range=30, zoom_range=0.2, horizontal_flip=True,
                                    device="cpu")
    runs = []
    for decoder in ("pillow", "pillow", "dali"):
        if decoder == "dali":
            pytest.importorskip("nvidia.dali", reason="NVIDIA DALI not installed")
        with contextlib.redirect_stdout(io.StringIO()):
            it = gen.flow_from_directory(str(tmp_path), target_size=(9, 8), batch_size=3, seed=4,
                                         decoder=decoder)
        if decoder == "dali":
            it._decode.num_threads = 3  # several decoder threads: same pixels
        runs.append([next(it) for _ in range(6)])
    for other in runs[1:]:
        for (a, ya), (b, yb) in zip(runs[0], other):
            np.testing.assert_array_equal(a, b)
            np.testing.assert_array_equal(ya, yb)


def test_one_iterator_read_from_several_threads_keeps_labels_attached():
    x, y = _labelled(97)
    it = gpuaug.ImageDataGenerator(rotation_range=0, device="cpu").flow(x, y, batch_size=5,
                                                                         seed=3)
    seen: list[int] = []
    lock = threading.Lock()

    def worker(indices):
        for i in indices:
            labels = _check_batch(*it[i])
            with lock:
                seen.extend(labels)

    threads = [threading.Thread(target=worker, args=(range(t, len(it), 4),)) for t in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(seen) == list(range(97))  # one index array per epoch, shared by the threads


def _rss_mib() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


@pytest.mark.slow
@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="needs Linux /proc")
def test_soak_host_memory_stays_flat(tmp_path):
    """Many epochs through decode, augmentation and labels: resident memory must not grow."""
    from gpuaug.datasets import make_sample

    make_sample(tmp_path, per_class=6, sizes=(40, 60))
    gen = gpuaug.ImageDataGenerator(rotation_range=40, zoom_range=0.2, horizontal_flip=True,
                                    channel_shift_range=10.0, rescale=1 / 255, device="cpu")
    with contextlib.redirect_stdout(io.StringIO()):
        it = gen.flow_from_directory(str(tmp_path), target_size=(48, 48), batch_size=8, seed=0)
    samples = []
    for epoch in range(60):
        for i in range(len(it)):
            it[i]
        it.on_epoch_end()
        if epoch in (10, 59):
            samples.append(_rss_mib())
    assert samples[1] - samples[0] < 16, f"RSS grew from {samples[0]:.1f} to {samples[1]:.1f} MiB"


@pytest.mark.gpu
@pytest.mark.slow
def test_soak_gpu_memory_pool_stays_flat():
    import cupy

    x, y = _labelled(64)
    gen = gpuaug.ImageDataGenerator(rotation_range=40, rescale=1 / 255, device="cuda")
    it = gen.flow(x, y, batch_size=16, seed=0)
    pool = cupy.get_default_memory_pool()
    totals = []
    for epoch in range(200):
        for i in range(len(it)):
            it[i]
        it.on_epoch_end()
        if epoch in (20, 199):
            cupy.cuda.Device().synchronize()
            totals.append(pool.total_bytes())
    assert totals[1] <= totals[0], totals
