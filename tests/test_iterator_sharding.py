"""Data-parallel sharding: disjoint shards that together cover every epoch exactly once, or
(``equal_shards=True``) shards of one length that cover it at least once, with exactly
``num_shards * ceil(n / num_shards) - n`` repeats."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import gpuaug


def _shard_epochs(n, batch_size, num_shards, seed, shuffle, epochs, use_getitem,
                  equal_shards=False, lengths=None):
    """Labels each shard yields per epoch; the label of a sample is its index.

    ``lengths``: a list that receives each shard's ``len(it)``.
    """
    x = np.zeros((n, 1, 1, 1), dtype=np.uint8)
    gen = gpuaug.ImageDataGenerator(device="cpu")
    seen = [[] for _ in range(epochs)]
    for shard in range(num_shards):
        it = gen.flow(x, np.arange(n), batch_size=batch_size, shuffle=shuffle, seed=seed,
                      shard_id=shard, num_shards=num_shards, equal_shards=equal_shards)
        if lengths is not None:
            lengths.append(len(it))
        for epoch in range(epochs):
            if use_getitem:
                for i in range(len(it)):
                    seen[epoch].extend(it[i][1].tolist())
                it.on_epoch_end()
            else:
                for _ in range(len(it)):
                    seen[epoch].extend(next(it)[1].tolist())
    return seen


@settings(max_examples=60, deadline=None)
@given(n=st.integers(0, 57), batch_size=st.integers(1, 9), num_shards=st.integers(1, 6),
       seed=st.integers(0, 2**31), shuffle=st.booleans(), use_getitem=st.booleans())
def test_every_sample_once_per_epoch_across_shards(n, batch_size, num_shards, seed, shuffle,
                                                   use_getitem):
    for labels in _shard_epochs(n, batch_size, num_shards, seed, shuffle, 3, use_getitem):
        assert sorted(labels) == list(range(n))


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 57), batch_size=st.integers(1, 9), num_shards=st.integers(2, 6),
       seed=st.integers(0, 2**31), shuffle=st.booleans(), use_getitem=st.booleans())
def test_equal_shards_have_one_length_and_repeat_exactly_the_padding(n, batch_size, num_shards,
                                                                      seed, shuffle,
                                                                      use_getitem):
    """The README's torchrun advice (every rank min(len(it)) steps) lost samples (3 per
    epoch for n = 1027, 8 shards, batch 32): equal shards lose none (issue 16)."""
    lengths: list[int] = []
    epochs = _shard_epochs(n, batch_size, num_shards, seed, shuffle, 2, use_getitem,
                           equal_shards=True, lengths=lengths)
    per_shard = -(-n // num_shards)
    assert lengths == [-(-per_shard // batch_size)] * num_shards  # every rank, same steps
    for labels in epochs:
        counts = np.bincount(labels, minlength=n)
        assert len(labels) == per_shard * num_shards and counts.min() >= 1  # at least once
        assert (counts - 1).sum() == per_shard * num_shards - n  # the exact repeats
        assert counts.max() - counts.min() <= 1  # spread evenly (once more at most, n large)


def test_the_torchrun_case_from_the_issue_loses_nothing_with_equal_shards():
    n, shards, batch = 1027, 8, 32
    lengths: list[int] = []
    (labels,) = _shard_epochs(n, batch, shards, 0, True, 1, True, equal_shards=True,
                              lengths=lengths)
    assert set(lengths) == {5} and set(labels) == set(range(n))
    assert len(labels) - n == 8 * 129 - n == 5  # the exact count of repeats


def test_epochs_are_reshuffled_and_labels_stay_with_their_images():
    n = 23
    x = np.arange(n, dtype=np.uint8).reshape(n, 1, 1, 1) * 10  # the label, in the pixels
    gen = gpuaug.ImageDataGenerator(device="cpu")
    orders = []
    for shard in range(2):
        it = gen.flow(x, np.arange(n), batch_size=4, seed=3, shard_id=shard, num_shards=2)
        epoch_orders = []
        for _ in range(2):
            order = []
            for _ in range(len(it)):
                bx, by = next(it)
                np.testing.assert_array_equal(bx[:, 0, 0, 0], by * 10.0)
                order.extend(by.tolist())
            epoch_orders.append(order)
        orders.append(epoch_orders)
    assert orders[0][0] != orders[0][1]  # a new permutation each epoch


def test_sharding_comes_from_the_environment_only_when_asked(monkeypatch, tmp_path, capsys):
    """RANK / WORLD_SIZE sharded every iterator silently: an evaluation iterator printed
    "Found 20 images" and yielded 5 (issue 16).  Now only "env" reads them."""
    from PIL import Image

    x = np.zeros((10, 1, 1, 1), np.uint8)
    gen = gpuaug.ImageDataGenerator(device="cpu")
    monkeypatch.setenv("RANK", "2")
    monkeypatch.setenv("WORLD_SIZE", "3")
    plain = gen.flow(x, np.arange(10), batch_size=10, seed=0)
    assert (plain.shard_id, plain.num_shards, plain.n) == (0, 1, 10)
    asked = gen.flow(x, np.arange(10), batch_size=10, seed=0, shard_id="env", num_shards="env")
    assert (asked.shard_id, asked.num_shards, asked.n) == (2, 3, 3)
    assert gen.flow(x, batch_size=4, seed=0, num_shards="env").num_shards == 3
    # The "Found" line says which shard and how many of the images it yields.
    (tmp_path / "a").mkdir()
    for i in range(8):
        Image.fromarray(np.full((4, 4, 3), i, np.uint8)).save(tmp_path / "a" / f"{i}.png")
    capsys.readouterr()
    gen.flow_from_directory(str(tmp_path), target_size=(4, 4), seed=0, shard_id="env",
                            num_shards="env")
    assert capsys.readouterr().out.strip() == (
        "Found 8 images belonging to 1 classes. This iterator yields shard 2 of 3: 2 of them.")
    gen.flow_from_directory(str(tmp_path), target_size=(4, 4))
    assert capsys.readouterr().out.strip() == "Found 8 images belonging to 1 classes."
    monkeypatch.delenv("RANK")
    monkeypatch.delenv("WORLD_SIZE")
    assert gen.flow(x, batch_size=4, shard_id="env", num_shards="env").num_shards == 1


@pytest.mark.parametrize("kwargs,error,match", [
    (dict(shard_id=0), ValueError, "give both or neither"),
    (dict(shard_id=3, num_shards=3), ValueError, "shard_id"),
    (dict(shard_id=0, num_shards=0), ValueError, "num_shards"),
    (dict(shard_id=0.5, num_shards=2), TypeError, "shard_id"),
    (dict(shard_id="env", num_shards=3), ValueError, "both come from the environment"),
    (dict(shard_id="rank", num_shards=3), TypeError, "shard_id"),
    (dict(shard_id=0, num_shards=2, equal_shards="yes"), TypeError, "equal_shards"),
    (dict(shard_id=0, num_shards=2, seed=None), ValueError, "seed"),
])
def test_bad_shard_arguments_name_the_argument(kwargs, error, match):
    x = np.zeros((4, 1, 1, 1), np.uint8)
    with pytest.raises(error, match=match):
        gpuaug.ImageDataGenerator(device="cpu").flow(x, **kwargs)


def test_output_adapters_on_the_cpu():
    """output= hands the batch to the named library; labels follow it (or stay NumPy, asked)."""
    x = np.random.default_rng(0).integers(0, 256, (5, 4, 4, 3), dtype=np.uint8)
    gen = gpuaug.ImageDataGenerator(rotation_range=10, device="cpu")
    ref, ref_y = gen.flow(x, np.arange(5), batch_size=5, seed=1, output="numpy")[0]
    assert isinstance(ref, np.ndarray)
    jnp = pytest.importorskip("jax.numpy")
    out, y = gen.flow(x, np.arange(5), batch_size=5, seed=1, output="jax")[0]
    assert isinstance(out, jnp.ndarray) and isinstance(y, jnp.ndarray)
    np.testing.assert_array_equal(np.asarray(out), ref)
    np.testing.assert_array_equal(np.asarray(y), ref_y)
    _, y = gen.flow(x, np.arange(5), batch_size=5, seed=1, output="jax", numpy_labels=True)[0]
    assert isinstance(y, np.ndarray)
    with pytest.raises(ValueError, match="output"):
        gen.flow(x, output="pandas")


def test_prefetch_yields_next_s_batches_in_order_and_stops(tmp_path):
    x = np.random.default_rng(1).integers(0, 256, (11, 6, 6, 3), dtype=np.uint8)
    gen = gpuaug.ImageDataGenerator(rotation_range=30, zoom_range=0.2, device="cpu")
    plain = gen.flow(x, np.arange(11), batch_size=4, seed=8)
    ahead = gen.flow(x, np.arange(11), batch_size=4, seed=8)
    with ahead.prefetch(depth=2) as batches:
        for _ in range(8):  # several epochs, partial batches included
            (a, ya), (b, yb) = next(plain), next(batches)
            np.testing.assert_array_equal(ya, yb)
            np.testing.assert_array_equal(a, b)
    assert not batches._thread.is_alive()
    assert batches._queue.qsize() == 0
    with pytest.raises(ValueError, match="depth"):
        ahead.prefetch(depth=0)


def test_prefetch_raises_the_producer_s_error_in_the_consumer(tmp_path):
    from PIL import Image

    (tmp_path / "a").mkdir()
    for i in range(3):
        Image.fromarray(np.full((5, 5, 3), i, np.uint8)).save(tmp_path / "a" / f"{i}.png")
    gen = gpuaug.ImageDataGenerator(device="cpu")
    it = gen.flow_from_directory(str(tmp_path), target_size=(5, 5), batch_size=1, shuffle=False)
    (tmp_path / "a" / "1.png").unlink()  # vanishes after the listing
    batches = it.prefetch()
    next(batches)
    from gpuaug.errors import ImageFileError

    with pytest.raises(ImageFileError, match="1.png.*FileNotFoundError"):
        next(batches)
    assert not batches._thread.is_alive()


def test_two_iterators_in_two_threads_give_their_sequential_batches():
    import threading

    x = np.random.default_rng(2).integers(0, 256, (9, 5, 5, 3), dtype=np.uint8)
    gen = gpuaug.ImageDataGenerator(rotation_range=30, horizontal_flip=True, device="cpu")

    def run(seed):
        it = gen.flow(x, np.arange(9), batch_size=2, seed=seed)
        return [next(it) for _ in range(10)]

    expected = {seed: run(seed) for seed in (1, 2)}
    results = {}
    threads = [threading.Thread(target=lambda s=s: results.__setitem__(s, run(s))) for s in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for seed in (1, 2):
        for (a, ya), (b, yb) in zip(expected[seed], results[seed]):
            np.testing.assert_array_equal(a, b)
            np.testing.assert_array_equal(ya, yb)
