"""Overlapping the next batch's decode and augmentation with the current batch's use.

:meth:`Iterator.prefetch` runs ``next(iterator)`` in a background thread, a bounded
number of batches ahead, so that decoding batch i+1 (file reads, DALI) overlaps the
training step on batch i.  The batches and their order are exactly ``next()``'s.
On CUDA the thread works on a stream of its own; each batch carries an event that
the consumer's stream waits on, so nothing is read before it is written, and each
hand-over records an event on the consumer's stream that the thread waits on before
its next batch, so memory the pool hands back is not rewritten while still being read
(use a batch before asking for the next one).  Memory is
bounded: at most ``depth`` finished batches plus the one being made.  Each batch
travels with the iterator's position right after it was drawn, so
:meth:`Prefetcher.state_dict` describes the batches handed out, not those made ahead.

While a prefetcher runs it owns its iterator: a second prefetcher, ``reset()``,
``next()`` or ``it[i]`` from another thread would take batches out of (or rewind) the
sequence it is making ahead, so the iterator refuses them until :meth:`Prefetcher.close`.
A consumer waiting for a batch is woken by ``close()`` from another thread.
"""

from __future__ import annotations

import queue
import threading
from typing import Any, Optional

from ..environment import cuda_index

_POLL_S = 0.05  # how soon a waiting consumer notices close() from another thread


def _put(q: queue.Queue, stop: threading.Event, item: Any) -> bool:
    while not stop.is_set():
        try:
            q.put(item, timeout=0.05)
            return True
        except queue.Full:
            continue
    return False


def _produce(source: Any, q: queue.Queue, stop: threading.Event, stream: Optional[Any],
             released: list) -> None:
    while not stop.is_set():
        if stream is not None and released:
            # Batches the consumer has finished with are released here, after the wait on
            # its stream is queued: their memory can come back from CuPy's pool to this
            # stream only once the consumer's work on them is done.
            pending = []
            while released:  # list.pop is atomic: the consumer may append meanwhile
                pending.append(released.pop(0))
            stream.wait_event(pending[-1][0])  # the latest covers all earlier work
            del pending
        batch = next(source)
        snapshot = source._snapshot() if hasattr(source, "_snapshot") else None
        event = stream.record() if stream is not None else None
        if not _put(q, stop, (batch, event, None, snapshot)):
            return


def _run(source: Any, q: queue.Queue, stop: threading.Event, device: str,
         released: list) -> None:
    # A module-level function: the thread holds no reference to the Prefetcher, so a
    # Prefetcher that is dropped without close() is collected and stops its thread.
    try:
        if device == "cpu":
            _produce(source, q, stop, None, released)
            return
        import cupy

        with cupy.cuda.Device(cuda_index(device)):
            stream = cupy.cuda.Stream(non_blocking=True)
            with stream:
                _produce(source, q, stop, stream, released)
    except BaseException as exc:  # handed to the consumer, raised there
        _put(q, stop, (None, None, exc, None))


class Prefetcher:
    """An iterator over ``next(source)``, computed ahead in a background thread."""

    def __init__(self, source: Any, depth: int = 2, device: str = "cpu") -> None:
        if not isinstance(depth, int) or isinstance(depth, bool) or depth < 1:
            raise ValueError(f"`depth` must be a positive integer. Received: {depth!r}")
        self._queue: queue.Queue = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._device = device
        # (event on the consumer's stream, batches it may release) at each hand-over.
        self._released: list = []
        self._held: list = []  # the batch last handed out, kept until the producer has waited
        self._source = source
        # The iterator's position after the last batch handed out (before any, now).
        self._position = source._snapshot() if hasattr(source, "_snapshot") else None
        if hasattr(source, "_claim_for"):
            source._claim_for(self)  # refuses a second prefetcher
        self._thread = threading.Thread(target=_run, args=(source, self._queue, self._stop, device,
                                                           self._released),
                                        name="gpuaug-prefetch", daemon=True)
        self._thread.start()

    def __iter__(self) -> "Prefetcher":
        return self

    @property
    def running(self) -> bool:
        """Whether the prefetcher still owns its iterator (not closed, thread not ended)."""
        return not self._stop.is_set() and self._thread.is_alive()

    @property
    def producer_ident(self) -> Optional[int]:
        """The producer thread's identifier (the one thread that may draw from the iterator)."""
        return self._thread.ident

    def _take(self) -> tuple:
        """The next item of the queue; woken by close() or the producer's end (within a poll)."""
        while True:
            try:
                return self._queue.get(timeout=_POLL_S)
            except queue.Empty:
                if self._stop.is_set():
                    raise RuntimeError("the prefetcher was closed while waiting for a batch"
                                       ) from None
                if not self._thread.is_alive() and self._queue.empty():
                    raise RuntimeError("the prefetch thread has stopped (closed, or failed "
                                       "earlier)") from None

    def __next__(self) -> Any:
        if self._device != "cpu":
            import cupy

            # The previous batch is handed back with an event after everything the consumer
            # queued on it; the producer drops it only after waiting for that event.
            held, self._held = self._held, []
            self._released.append((cupy.cuda.get_current_stream().record(), held))
        batch, event, exc, snapshot = self._take()
        if exc is not None:
            self.close()
            raise exc
        self._position = snapshot
        if event is not None:
            import cupy

            cupy.cuda.get_current_stream().wait_event(event)
            self._held = [batch]
        return batch

    def state_dict(self) -> dict[str, Any]:
        """The iterator's state after the batches handed out so far (not those made ahead).

        Resume with ``it.load_state_dict(state)`` on a new iterator, then ``next()`` or
        a new prefetcher: the same batches follow.
        """
        if self._position is None:
            raise TypeError("state_dict() needs a gpuaug iterator as the prefetcher's source")
        return self._source._state_of(self._position)

    def close(self) -> None:
        """Stop the thread and drop the batches made ahead."""
        self._stop.set()
        # The producer sees the flag between batches and within 50 ms of a blocked put.
        self._thread.join(timeout=60)
        while True:
            try:
                self._queue.get_nowait()
            except queue.Empty:
                break

    def __enter__(self) -> "Prefetcher":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:
        stop = getattr(self, "_stop", None)
        if stop is not None:
            stop.set()
