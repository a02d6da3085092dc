"""Keyed draws: a sample's parameters depend on (seed, epoch, sample index) alone.

So batch size, ``it[i]`` order, shards, threads, worker processes and prefetch cannot
change them; and they are sound random numbers: uniform over each range (KS tests),
independent across samples, slots and epochs, different for each seed.  (Copies in
worker processes, in both modes: tests/test_worker_processes.py.)
"""

from __future__ import annotations

import multiprocessing

import numpy as np
import pytest

import gpuaug
import gpuaug.iterators
from gpuaug.rng import epoch_key, keyed_uniforms

stats = pytest.importorskip("scipy.stats", reason="SciPy runs the statistical tests")

CONFIG = dict(rotation_range=40, width_shift_range=2, height_shift_range=[0.1, 0.2, 0.3],
              shear_range=10, zoom_range=0.25, horizontal_flip=True, vertical_flip=True,
              channel_shift_range=30.0, brightness_range=(0.6, 1.4))


def _data(n=29):
    rng = np.random.default_rng(3)
    return rng.integers(0, 256, (n, 9, 11, 3)).astype(np.uint8), np.arange(n)


def _keyed(**kwargs):
    return gpuaug.ImageDataGenerator(**CONFIG, rng="keyed", device="cpu", **kwargs)


def _per_sample(batches) -> dict[int, np.ndarray]:
    out = {}
    for x, y in batches:
        for image, label in zip(x, y):
            assert int(label) not in out, "a sample came twice in one epoch"
            out[int(label)] = image
    return out


def _epoch_by_index(it, order=None):
    indices = range(len(it)) if order is None else order
    return _per_sample(it[i] for i in indices)


def _assert_same_samples(a, b):
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])


def test_batch_size_and_call_order_do_not_change_a_samples_augmentation():
    x, y = _data()
    gen = _keyed()
    reference = _epoch_by_index(gen.flow(x, y, batch_size=29, seed=4))
    for batch_size in (1, 4, 7):
        it = gen.flow(x, y, batch_size=batch_size, seed=4)
        _assert_same_samples(_epoch_by_index(it, reversed(range(len(it)))), reference)


def test_drawing_ahead_changes_no_samples_augmentation(monkeypatch):
    """Keyed draws are made a stretch ahead; stretches of any length give the same samples."""
    import gpuaug.iterators.base as base

    x, y = _data()
    gen = _keyed()
    monkeypatch.setattr(base, "AHEAD_SAMPLES", 1)  # a stretch is one batch: nothing ahead
    reference = _epoch_by_index(gen.flow(x, y, batch_size=4, seed=4))
    for ahead in (5, 8, 12, 4096):
        monkeypatch.setattr(base, "AHEAD_SAMPLES", ahead)
        it = gen.flow(x, y, batch_size=4, seed=4)
        _assert_same_samples(_per_sample(next(it) for _ in range(len(it))), reference)
        it = gen.flow(x, y, batch_size=4, seed=4)
        order = [0, 1, 5, 2, 3, 7, 4, 6]  # in order, a jump, back, the last (short) batch
        _assert_same_samples(_epoch_by_index(it, order), reference)


def test_reading_in_order_draws_once_per_stretch(monkeypatch):
    import gpuaug.iterators.base as base
    from gpuaug.sampler import RandomTransformSampler

    calls = []
    draw_keyed = RandomTransformSampler.draw_keyed

    def counted(self, key, indices, shape):
        calls.append(len(indices))
        return draw_keyed(self, key, indices, shape)

    monkeypatch.setattr(RandomTransformSampler, "draw_keyed", counted)
    monkeypatch.setattr(base, "AHEAD_SAMPLES", 10)  # two batches of 4 (whole batches only)
    x, y = _data()
    it = _keyed().flow(x, y, batch_size=4, seed=4)
    for _ in range(len(it)):
        next(it)
    assert calls == [8, 8, 8, 5]


def test_a_setting_changed_mid_epoch_applies_to_the_next_batch():
    x, y = _data()
    gen = _keyed()
    it = gen.flow(x, y, batch_size=4, seed=4)
    it[0]  # draws the stretch ahead with rotation_range=40
    gen.rotation_range = 0
    changed = it[1]
    fresh = _keyed()
    fresh.rotation_range = 0
    np.testing.assert_array_equal(changed[0], fresh.flow(x, y, batch_size=4, seed=4)[1][0])


def test_shards_together_are_the_single_run():
    x, y = _data()
    gen = _keyed()
    whole = _epoch_by_index(gen.flow(x, y, batch_size=5, seed=4))
    parts = {}
    for shard in range(3):
        parts.update(_epoch_by_index(gen.flow(x, y, batch_size=4, seed=4, shard_id=shard,
                                              num_shards=3)))
    _assert_same_samples(parts, whole)


def test_prefetch_and_next_agree_with_indexing():
    x, y = _data()
    gen = _keyed()
    it = gen.flow(x, y, batch_size=6, seed=2)
    expected = _epoch_by_index(gen.flow(x, y, batch_size=6, seed=2))
    with it.prefetch(depth=2) as batches:
        _assert_same_samples(_per_sample(next(batches) for _ in range(len(it))), expected)


def test_epochs_and_seeds_change_the_draws():
    x, y = _data()
    gen = _keyed()
    it = gen.flow(x, y, batch_size=29, seed=4)
    first = _epoch_by_index(it)
    it.on_epoch_end()
    second = _epoch_by_index(it)
    other_seed = _epoch_by_index(gen.flow(x, y, batch_size=29, seed=5))
    assert sum(np.array_equal(first[k], second[k]) for k in first) <= 1
    assert sum(np.array_equal(first[k], other_seed[k]) for k in first) <= 1


def _worker_batch(args):
    it, index = args
    return it[index]


def test_worker_processes_draw_what_the_parent_draws():
    x, y = _data()
    it = _keyed().flow(x, y, batch_size=5, seed=9)
    expected = [it[i] for i in range(len(it))]
    context = multiprocessing.get_context("spawn")
    with context.Pool(2) as pool:
        got = pool.map(_worker_batch, [(it, i) for i in range(len(it))])
    for (a, ya), (b, yb) in zip(expected, got):
        np.testing.assert_array_equal(ya, yb)
        np.testing.assert_array_equal(a, b)


# ------------------------------------------------------------------------ statistics
N = 200_000


def _splitmix64(state: int, count: int) -> list[int]:
    """SplitMix64 (Steele, Lea & Flood 2014) in plain Python integers, as published."""
    out = []
    for _ in range(count):
        state = (state + 0x9E3779B97F4A7C15) % 2**64
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) % 2**64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) % 2**64
        out.append(z ^ (z >> 31))
    return out


def test_keyed_uniforms_are_splitmix64s_stream_at_index_times_slots_plus_slot():
    assert _splitmix64(0, 1) == [0xE220A8397B1DCDAF]  # the published first output for seed 0
    assert keyed_uniforms(0, np.array([0]), 1)[0, 0] == (0xE220A8397B1DCDAF >> 12) * 2.0**-52
    key, slots = epoch_key(7, 3), 5
    stream = _splitmix64(key, 40 * slots)
    indices = np.array([39, 0, 17, 17, 3])  # any order, repeats included
    expected = [[(stream[i * slots + j] >> 12) * 2.0**-52 for j in range(slots)] for i in indices]
    np.testing.assert_array_equal(keyed_uniforms(key, indices, slots), expected)


def test_keyed_uniforms_are_uniform_in_every_slot():
    u = keyed_uniforms(epoch_key(1, 0), np.arange(N), 6)
    assert u.min() >= 0.0 and u.max() < 1.0
    for j in range(6):
        assert stats.kstest(u[:, j], "uniform").pvalue > 1e-3, j


def test_keyed_uniforms_are_independent_across_slots_samples_epochs_and_seeds():
    u = keyed_uniforms(epoch_key(1, 0), np.arange(N), 4)
    limit = 5 / np.sqrt(N)  # five standard errors of a correlation of independent samples
    corr = np.corrcoef(u.T)
    assert np.abs(corr[np.triu_indices(4, 1)]).max() < limit  # slots of one sample
    assert abs(np.corrcoef(u[:-1, 0], u[1:, 0])[0, 1]) < limit  # neighbouring samples
    assert abs(np.corrcoef(u[:-1, 3], u[1:, 0])[0, 1]) < limit  # last slot vs next sample's first
    next_epoch = keyed_uniforms(epoch_key(1, 1), np.arange(N), 4)
    other_seed = keyed_uniforms(epoch_key(2, 0), np.arange(N), 4)
    for other in (next_epoch, other_seed):
        assert abs(np.corrcoef(u[:, 0], other[:, 0])[0, 1]) < limit
        assert (u == other).mean() < 1e-4
    # Pairs of slots are jointly uniform: a 2-D histogram has no cell out of line.
    counts, _, _ = np.histogram2d(u[:, 0], u[:, 1], bins=10)
    assert stats.chisquare(counts.ravel()).pvalue > 1e-3


def test_keyed_parameters_follow_kerass_distributions():
    sampler = _keyed().sampler
    params = sampler.draw_keyed(epoch_key(7, 0), np.arange(N), (20, 30, 3))
    assert stats.kstest(params.theta, "uniform", args=(-40, 80)).pvalue > 1e-3
    assert stats.kstest(params.shear, "uniform", args=(-10, 20)).pvalue > 1e-3
    assert stats.kstest(params.zx, "uniform", args=(0.75, 0.5)).pvalue > 1e-3
    assert stats.kstest(params.brightness, "uniform", args=(0.6, 0.8)).pvalue > 1e-3
    # width_shift_range=2 is Keras's choice(2) * choice([-1, 1]): -1, 0, 1 with 1/4, 1/2, 1/4.
    values, counts = np.unique(params.ty, return_counts=True)
    assert values.tolist() == [-1.0, 0.0, 1.0]
    assert stats.chisquare(counts, N * np.array([0.25, 0.5, 0.25])).pvalue > 1e-3
    # height_shift_range=[0.1, 0.2, 0.3]: one of them, either sign, times the height (20).
    values, counts = np.unique(np.round(params.tx, 9), return_counts=True)
    assert np.allclose(values, [-6, -4, -2, 2, 4, 6])
    assert stats.chisquare(counts).pvalue > 1e-3
    for flip in (params.flip_horizontal, params.flip_vertical):
        assert abs(flip.mean() - 0.5) < 5 * 0.5 / np.sqrt(N)
    assert abs(np.corrcoef(params.flip_horizontal, params.flip_vertical)[0, 1]) < 5 / np.sqrt(N)


@pytest.mark.keras
def test_an_iterator_mixed_with_kerass_pydataset_pickles(keras_image):
    import pickle

    import keras

    x, y = _data()
    it = _keyed().flow(x, y, batch_size=5, seed=9)
    assert isinstance(it, keras.utils.PyDataset)
    copy = pickle.loads(pickle.dumps(it))
    assert isinstance(copy, keras.utils.PyDataset) and type(copy) is type(it)
    for i in (3, 0):
        np.testing.assert_array_equal(copy[i][0], it[i][0])
    np.testing.assert_array_equal(next(copy)[0], next(it)[0])


def test_workers_copies_follow_the_parents_epochs():
    """A DataLoader re-copies the iterator each epoch; the parent only ends epochs."""
    import pickle

    x, y = _data()
    single = _keyed().flow(x, y, batch_size=5, seed=9)
    epochs = []
    for _ in range(3):
        epochs.append(_epoch_by_index(single))
        single.on_epoch_end()
    parent = _keyed().flow(x, y, batch_size=5, seed=9)
    for expected in epochs:
        worker = pickle.loads(pickle.dumps(parent))  # what a worker process receives
        _assert_same_samples(_epoch_by_index(worker), expected)
        parent.on_epoch_end()  # the parent never drew itself
    persistent = pickle.loads(pickle.dumps(_keyed().flow(x, y, batch_size=5, seed=9)))
    persistent.set_epoch(2)  # a worker that outlives epochs is told which one it is in
    _assert_same_samples(_epoch_by_index(persistent), epochs[2])


def test_set_epoch_needs_epochs_that_depend_on_their_number():
    x, y = _data()
    with pytest.raises(ValueError, match="set_epoch.*rng='keyed'"):
        gpuaug.ImageDataGenerator(device="cpu").flow(x, y, seed=1).set_epoch(3)
    with pytest.raises(ValueError, match="epoch"):
        _keyed().flow(x, y, seed=1).set_epoch(-1)


@pytest.mark.keras
def test_a_subclass_of_an_iterator_pickles_as_itself(keras_image):
    import pickle

    x, y = _data()
    it = Labelled(x, y, _keyed(), batch_size=5, seed=2)
    copy = pickle.loads(pickle.dumps(it))
    assert type(copy) is Labelled and copy.extra == "mine"
    np.testing.assert_array_equal(copy[1][0], it[1][0])


class Labelled(gpuaug.iterators.NumpyArrayIterator):
    """A user's subclass (module level, as pickle needs)."""

    extra = "mine"
