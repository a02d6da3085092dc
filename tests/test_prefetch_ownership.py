"""A running prefetcher owns its iterator, and close() from any thread ends every wait.

Issue 16's findings: a consumer waiting in ``next(prefetcher)`` was never woken by
``close()`` from another thread; ``reset()`` or a second prefetcher while one ran mixed
old-epoch batches into the new epoch (36 distinct samples of 40).  Now the iterator
refuses whatever would take batches out of the sequence being made ahead, until the
prefetcher is closed, and a waiting consumer raises within a poll interval.
"""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

import gpuaug
from gpuaug.iterators.prefetch import Prefetcher


def _flow(n: int = 40, batch_size: int = 4):
    x = np.random.default_rng(3).integers(0, 256, (n, 6, 6, 3), dtype=np.uint8)
    gen = gpuaug.ImageDataGenerator(rotation_range=20, device="cpu")
    return gen.flow(x, np.arange(n), batch_size=batch_size, seed=5)


class _Blocking:
    """A source whose second batch waits until released (a slow disk, a FIFO)."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.calls = 0

    def __next__(self):
        self.calls += 1
        if self.calls > 1:
            self.release.wait(timeout=30)
        return self.calls


def test_close_from_another_thread_wakes_a_consumer_waiting_for_a_batch():
    source = _Blocking()
    prefetcher = Prefetcher(source, depth=1)
    assert next(prefetcher) == 1
    outcome: dict = {}

    def consume():
        started = time.monotonic()
        try:
            next(prefetcher)
            outcome["result"] = "a batch"
        except RuntimeError as exc:
            outcome["result"] = str(exc)
        outcome["waited"] = time.monotonic() - started

    consumer = threading.Thread(target=consume)
    consumer.start()
    time.sleep(0.3)  # the consumer is waiting: the producer is stuck in the source
    closer = threading.Thread(target=prefetcher.close)
    closer.start()
    consumer.join(timeout=5)
    assert not consumer.is_alive(), "the consumer was never woken"
    assert "closed" in outcome["result"] and outcome["waited"] < 3
    source.release.set()  # let the producer finish its batch, so close() returns
    closer.join(timeout=10)
    assert not closer.is_alive()


def test_a_second_prefetcher_is_refused_until_the_first_is_closed():
    it = _flow()
    first = it.prefetch(depth=2)
    with pytest.raises(RuntimeError, match="already has a running prefetcher"):
        it.prefetch()
    first.close()
    with it.prefetch() as second:  # allowed once the first is closed
        x, y = next(second)
        assert len(y) == 4


@pytest.mark.parametrize("call", ["next", "getitem", "reset", "on_epoch_end"])
def test_the_iterator_refuses_what_would_take_batches_from_a_running_prefetcher(call):
    it = _flow()
    actions = {"next": lambda: next(it), "getitem": lambda: it[0], "reset": it.reset,
               "on_epoch_end": it.on_epoch_end}
    with it.prefetch(depth=2) as batches:
        next(batches)
        with pytest.raises(RuntimeError, match="prefetcher"):
            actions[call]()
        next(batches)  # the prefetcher itself is unaffected
    actions[call]()  # and the iterator is the user's again once it is closed


def test_an_epoch_through_a_prefetcher_holds_every_sample_once():
    """The case issue 16 measured: 10 batches of 4 from 40 samples, all 40 distinct."""
    it = _flow()
    with it.prefetch(depth=3) as batches:
        labels = np.concatenate([next(batches)[1] for _ in range(10)])
    assert sorted(labels.tolist()) == list(range(40))
