"""An iterator stopped after batch k and resumed elsewhere yields the uninterrupted run's batches.

Both draw modes, seeded and unseeded, ``next()`` and Keras's ``it[i]`` + ``on_epoch_end``
pattern, in-memory and file iterators, through a prefetcher, and across processes (the
state travels as JSON).  A state from another iterator, or a corrupted one, is refused
with a message that says what differs.
"""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import gpuaug
from gpuaug.iterators.state import StateError

CONFIG = dict(rotation_range=30, width_shift_range=3, height_shift_range=0.1, zoom_range=0.2,
              horizontal_flip=True, channel_shift_range=10.0)
ROOT = Path(__file__).resolve().parents[1]


def _data():
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (23, 8, 9, 3)).astype(np.uint8), np.arange(23)


def _flow(rng: str, seed, batch_size: int = 4, **kwargs):
    x, y = _data()
    gen = gpuaug.ImageDataGenerator(**CONFIG, rng=rng, device="cpu")
    return gen.flow(x, y, batch_size=batch_size, seed=seed, **kwargs)


def _same(batches_a, batches_b) -> None:
    assert len(batches_a) == len(batches_b)
    for (xa, ya), (xb, yb) in zip(batches_a, batches_b):
        np.testing.assert_array_equal(ya, yb)
        np.testing.assert_array_equal(xa, xb)


def _by_next(it, count):
    return [next(it) for _ in range(count)]


def _by_index(it, calls):
    """Keras's model.fit pattern: it[i] in a shuffled order, on_epoch_end between epochs."""
    out = []
    for call in calls:
        if call == "end":
            it.on_epoch_end()
        else:
            out.append(it[call])
    return out


@pytest.mark.parametrize("rng, seed", [("keras", 5), ("keras", None), ("keyed", 5)])
@pytest.mark.parametrize("stop", [0, 1, 5, 6, 13])  # 6 batches per epoch: edges included
def test_next_resumes_where_it_stopped(rng, seed, stop):
    reference = _flow(rng, seed)
    stopped = _flow(rng, seed)
    if seed is None:  # an unseeded Keras iterator continues its stream: make both the same
        reference.random_state.seed(99)
        stopped.random_state.seed(99)
    expected = _by_next(reference, stop + 9)
    _by_next(stopped, stop)
    state = json.loads(json.dumps(stopped.state_dict()))  # plain data, through JSON
    resumed = _flow(rng, seed)
    resumed.load_state_dict(state)
    _same(_by_next(resumed, 9), expected[stop:])


@pytest.mark.parametrize("rng", ["keras", "keyed"])
@pytest.mark.parametrize("stop", [8, 6])  # 6: the epoch read, its end not yet called
def test_indexing_with_epoch_ends_resumes_mid_epoch(rng, stop):
    calls = [0, 3, 1, 5, 2, 4, "end", 2, 0, 5, "end", 1, 1, 4, 3]
    expected = _by_index(_flow(rng, 8), calls)
    stopped = _flow(rng, 8)
    first = _by_index(stopped, calls[:stop])
    state = stopped.state_dict()
    resumed = _flow(rng, 8)
    resumed.load_state_dict(state)
    _same(first + _by_index(resumed, calls[stop:]), expected)


def test_a_state_taken_before_any_batch_resumes_from_the_start():
    state = _flow("keras", 3).state_dict()
    resumed = _flow("keras", 3)
    resumed.load_state_dict(state)
    _same(_by_next(resumed, 8), _by_next(_flow("keras", 3), 8))


@pytest.mark.parametrize("rng", ["keras", "keyed"])
def test_a_prefetchers_state_is_that_of_the_batches_handed_out(rng):
    expected = _by_next(_flow(rng, 4), 14)
    with _flow(rng, 4).prefetch(depth=3) as batches:
        first = _by_next(batches, 5)
        state = batches.state_dict()  # the producer is ahead; the state is not
    resumed = _flow(rng, 4)
    resumed.load_state_dict(state)
    _same(first + _by_next(resumed, 9), expected)


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    from gpuaug.datasets import make_sample

    return make_sample(tmp_path_factory.mktemp("resume"), classes=("a", "b", "c"),
                       per_class=5, sizes=(10, 16), seed=4, formats=("png",))


def _directory(tree, rng="keras", seed=2, on_error="raise"):
    gen = gpuaug.ImageDataGenerator(**CONFIG, rng=rng, device="cpu")
    with contextlib.redirect_stdout(io.StringIO()):
        return gen.flow_from_directory(str(tree), target_size=(12, 12), batch_size=4, seed=seed,
                                       decoder="pillow", on_error=on_error)


@pytest.mark.parametrize("rng", ["keras", "keyed"])
def test_file_iterators_resume(tree, rng):
    expected = _by_next(_directory(tree, rng), 11)
    stopped = _directory(tree, rng)
    _by_next(stopped, 6)
    resumed = _directory(tree, rng)
    resumed.load_state_dict(stopped.state_dict())
    _same(_by_next(resumed, 5), expected[6:])


_CHILD = textwrap.dedent("""
    import json, sys
    import numpy as np
    sys.path.insert(0, {tests!r})
    import test_resume as t
    rng, seed, stop, count, path = sys.argv[1], json.loads(sys.argv[2]), int(sys.argv[3]), \\
        int(sys.argv[4]), sys.argv[5]
    it = t._flow(rng, seed)
    if stop:  # the first process: run, then leave the state behind
        if seed is None:
            it.random_state.seed(99)
        t._by_next(it, stop)
        json.dump(it.state_dict(), open(path, "w"))
    else:  # the second: resume, then write what it yields
        it.load_state_dict(json.load(open(path)))
        np.save(path + ".npy", np.concatenate([x for x, _ in t._by_next(it, count)]))
""")


@pytest.mark.parametrize("rng, seed", [("keras", 7), ("keras", None), ("keyed", 7)])
def test_resume_in_another_process(tmp_path, rng, seed):
    script = _CHILD.format(tests=str(ROOT / "tests"))
    path = str(tmp_path / "state.json")
    for stop in (5, 0):
        done = subprocess.run([sys.executable, "-c", script, rng, json.dumps(seed), str(stop),
                               "8", path], capture_output=True, text=True, timeout=300,
                              cwd=ROOT)
        assert done.returncode == 0, done.stderr
    reference = _flow(rng, seed)
    if seed is None:
        reference.random_state.seed(99)
    expected = np.concatenate([x for x, _ in _by_next(reference, 13)[5:]])
    np.testing.assert_array_equal(np.load(path + ".npy"), expected)


def _state_after(it, count=3):
    _by_next(it, count)
    return it.state_dict()


@pytest.mark.parametrize("other, says", [
    (lambda: _flow("keras", 5, batch_size=5), "batch_size: 4 in the state, 5 here"),
    (lambda: _flow("keras", 6), "seed: 5 in the state, 6 here"),
    (lambda: _flow("keyed", 5), "rng: 'keras' in the state, 'keyed' here"),
    (lambda: _flow("keras", 5, shuffle=False), "shuffle: True in the state, False here"),
    (lambda: gpuaug.ImageDataGenerator(device="cpu").flow(_data()[0][:20], _data()[1][:20],
                                                          batch_size=4, seed=5), "samples"),
    (lambda: gpuaug.ImageDataGenerator(device="cpu").flow(_data()[0][::-1].copy(), _data()[1],
                                                          batch_size=4, seed=5), "data"),
])
def test_a_state_from_another_iterator_is_refused_saying_what_differs(other, says):
    state = _state_after(_flow("keras", 5))
    with pytest.raises(StateError, match="belongs to another iterator.*" + says):
        other().load_state_dict(state)


def test_a_keyed_state_names_the_seed_to_resume_with():
    stopped = _flow("keyed", None)
    state = _state_after(stopped)
    with pytest.raises(StateError, match=f"make the iterator with seed={stopped.seed}"):
        _flow("keyed", None).load_state_dict(state)


def test_another_directory_is_refused(tree, tmp_path):
    state = _state_after(_directory(tree))
    from gpuaug.datasets import make_sample

    other = make_sample(tmp_path / "other", classes=("a", "b", "c"), per_class=5,
                        sizes=(10, 16), seed=4, formats=("jpg",))
    with pytest.raises(StateError, match="'a': 5 files in both, other names"):
        _directory(other).load_state_dict(state)
    with pytest.raises(StateError, match="iterator: 'DirectoryIterator' in the state"):
        _flow("keras", 2).load_state_dict(state)


def test_a_corrupted_state_is_refused_and_changes_nothing():
    it = _flow("keras", 5)
    state = _state_after(it)
    tampered = json.loads(json.dumps(state))
    tampered["gpuaug_iterator_state"]["position"]["total_batches_seen"] += 1
    fresh = _flow("keras", 5)
    expected = _by_next(_flow("keras", 5), 2)
    with pytest.raises(StateError, match="checksum does not match"):
        fresh.load_state_dict(tampered)
    for junk in (None, [], {"checksum": "x"}, {"gpuaug_iterator_state": {}}):
        with pytest.raises(StateError):
            fresh.load_state_dict(junk)
    _same(_by_next(fresh, 2), expected)  # the refused loads left it untouched


def test_a_consistent_but_invalid_state_is_refused():
    """Edited and checksummed again: the contents are still checked."""
    from gpuaug.iterators import state as state_module

    state = _state_after(_flow("keras", 5))
    body = json.loads(json.dumps(state["gpuaug_iterator_state"]))
    body["random_state"]["key"] = body["random_state"]["key"][:10]
    forged = {"gpuaug_iterator_state": body, "checksum": state_module._checksum(body)}
    with pytest.raises(StateError, match="MT19937"):
        _flow("keras", 5).load_state_dict(forged)


def test_numpy_integers_for_seed_and_batch_size_give_a_plain_state():
    it = _flow("keras", np.int64(5), batch_size=np.int64(4))
    state = json.loads(json.dumps(_state_after(it)))  # no NumPy scalar in the state
    resumed = _flow("keras", 5, batch_size=4)
    resumed.load_state_dict(state)


def test_a_forged_order_is_refused():
    from gpuaug.iterators import state as state_module

    state = _state_after(_flow("keyed", 5))
    body = json.loads(json.dumps(state["gpuaug_iterator_state"]))
    body["order"] = "sorted"
    forged = {"gpuaug_iterator_state": body, "checksum": state_module._checksum(body)}
    with pytest.raises(StateError, match="unknown epoch order 'sorted'"):
        _flow("keyed", 5).load_state_dict(forged)


def test_the_fingerprint_of_a_strided_dataset_copies_none_of_it():
    import tracemalloc

    from gpuaug.iterators.state import array_fingerprint

    nchw = np.random.default_rng(0).integers(0, 256, (2000, 3, 64, 64), dtype=np.uint8)
    nhwc = nchw.transpose(0, 2, 3, 1)  # a view, not contiguous
    tracemalloc.start()
    digest = array_fingerprint(nhwc)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < nhwc.nbytes / 20, peak
    assert digest == array_fingerprint(np.ascontiguousarray(nhwc))
    assert digest != array_fingerprint(nhwc[::-1])
