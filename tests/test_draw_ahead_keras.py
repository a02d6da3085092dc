"""Keras's draws made ahead are the draws Keras makes, and leave its stream where Keras does.

In Keras's mode the iterator replays its stream for the next batches on a scratch
generator and serves a batch only from the exact stream state Keras would draw it from
(:class:`gpuaug.iterators.ahead.KerasAhead`).  These tests compare iterators that draw
ahead with ones that draw each batch from the live stream when it comes, through
``next()``, ``it[i]`` in any order, epochs, no seed, reads of the stream between batches,
resuming from a state, and the stream state afterwards; the
Keras parity tests (``test_iterators_keras.py``) compare the same iterators with Keras.
"""

from __future__ import annotations

import numpy as np
import pytest

import gpuaug
import gpuaug.iterators.base as base
from gpuaug.drawn import DrawnBatch
from gpuaug.iterators.ahead import KerasAhead

CONFIG = dict(rotation_range=30, width_shift_range=0.1, height_shift_range=3, shear_range=8,
              zoom_range=0.2, horizontal_flip=True, channel_shift_range=10.0)


def _data(n=29):
    rng = np.random.default_rng(8)
    return rng.integers(0, 256, (n, 6, 7, 3)).astype(np.uint8), np.arange(n)


def _draw_each_batch(self, count):
    """The draws without anything ahead: the sampler on the live stream."""
    return DrawnBatch.of(self.image_data_generator.sampler.draw_batch(
        self.random_state, count, self.image_shape))


def _run(monkeypatch, ahead: int, read, seed=3):
    if ahead:
        monkeypatch.setattr(base, "AHEAD_KERAS_BATCHES", ahead)
    else:
        monkeypatch.setattr(base.Iterator, "_keras_params", _draw_each_batch)
    x, y = _data()
    it = gpuaug.ImageDataGenerator(**CONFIG, device="cpu").flow(x, y, batch_size=4, seed=seed)
    if seed is None:
        it.random_state.seed(11)  # the same unseeded stream for both iterators
    batches = read(it)
    return batches, it.random_state.get_state()


def _assert_same(a, b):
    (batches_a, state_a), (batches_b, state_b) = a, b
    assert len(batches_a) == len(batches_b)
    for (xa, ya), (xb, yb) in zip(batches_a, batches_b, strict=True):
        np.testing.assert_array_equal(ya, yb)
        np.testing.assert_array_equal(xa, xb)
    np.testing.assert_array_equal(state_a[1], state_b[1])  # the stream ends where it would
    assert state_a[2:] == state_b[2:]


def _next_over_epochs(it):
    return [next(it) for _ in range(3 * len(it) + 2)]  # epochs, short last batches


def _index_in_any_order(it):
    out = [it[i] for i in (0, 1, 2, 7, 3, 3, 5)]
    it.on_epoch_end()  # a permutation drawn from the stream between batches
    return out + [it[i] for i in range(len(it))]


@pytest.mark.parametrize("seed", [3, None])
@pytest.mark.parametrize("read", [_next_over_epochs, _index_in_any_order])
def test_drawing_ahead_yields_the_batches_and_stream_of_drawing_each_batch(monkeypatch, read,
                                                                          seed):
    each = _run(monkeypatch, 0, read, seed)
    monkeypatch.undo()
    for ahead in (1, 2, 3, 16):
        _assert_same(_run(monkeypatch, ahead, read, seed), each)


def test_batches_read_in_order_are_drawn_once_per_stretch(monkeypatch):
    calls = []
    draw = KerasAhead.draw.__func__

    def counted(cls, sampler, count, shape, seeds):
        calls.append(len(seeds))
        return draw(cls, sampler, count, shape, seeds)

    monkeypatch.setattr(KerasAhead, "draw", classmethod(counted))
    monkeypatch.setattr(base, "AHEAD_KERAS_BATCHES", 4)
    x, y = _data(32)  # 8 full batches of 4 per epoch
    it = gpuaug.ImageDataGenerator(**CONFIG, device="cpu").flow(x, y, batch_size=4, seed=3)
    for _ in range(16):
        next(it)
    # Each epoch's first batch draws after the epoch's permutation, from the stream itself;
    # batches 1-4 and 5-8 are drawn ahead (8 being the next epoch's first: one wasted).
    assert calls == [4, 4, 4, 4]


def test_reading_the_stream_between_batches_reads_kerass_stream(monkeypatch):
    """The stream owes the draws made ahead: whoever reads it first gets them replayed."""
    def read(it):
        out = []
        for _ in range(5):
            out.append(next(it))
            out.append((it.random_state.random_sample(3), np.zeros(1)))  # a user's draw
        return out

    each = _run(monkeypatch, 0, read)
    monkeypatch.undo()
    _assert_same(_run(monkeypatch, 8, read), each)


def test_a_state_taken_mid_stretch_resumes_kerass_batches(monkeypatch):
    monkeypatch.setattr(base, "AHEAD_KERAS_BATCHES", 8)
    x, y = _data()
    gen = gpuaug.ImageDataGenerator(**CONFIG, device="cpu")
    it = gen.flow(x, y, batch_size=4, seed=3)
    for _ in range(3):
        next(it)
    state = it.state_dict()
    expected = [next(it) for _ in range(9)]
    resumed = gen.flow(x, y, batch_size=4, seed=3)
    resumed.load_state_dict(state)
    for (xa, ya), (xb, yb) in zip(expected, (next(resumed) for _ in range(9)), strict=True):
        np.testing.assert_array_equal(ya, yb)
        np.testing.assert_array_equal(xa, xb)


@pytest.mark.keras
@pytest.mark.parametrize("offset", [1, 3, 20])
@pytest.mark.parametrize("shuffle", [True, False])
def test_seeds_near_2_to_the_32_fail_at_kerass_batch(keras_image, offset, shuffle):
    """Keras seeds batch k with seed + k and refuses seeds from 2**32 on: with
    seed = 2**32 - offset it yields `offset` batches, then raises.  Draws made ahead must
    neither fail earlier nor change a batch before that."""
    x, y = _data()
    seed = 2**32 - offset
    theirs = keras_image.ImageDataGenerator(**CONFIG).flow(x, y, batch_size=4, seed=seed,
                                                           shuffle=shuffle)
    ours = gpuaug.ImageDataGenerator(**CONFIG, device="cpu").flow(x, y, batch_size=4,
                                                                  seed=seed, shuffle=shuffle)
    for k in range(offset):
        (xa, ya), (xb, yb) = next(ours), next(theirs)
        np.testing.assert_array_equal(ya, yb)
        np.testing.assert_array_equal(xa, xb, err_msg=f"batch {k}")
    for it in (theirs, ours):
        with pytest.raises(ValueError, match="Seed must be between 0 and 2"):
            next(it)
