"""Keras's ``Iterator`` contract (docs/semantics.md §6), with a private RNG.

Batch order, shuffling, the seeding rule per batch call and the draw order are
Keras's, so a seeded gpuaug iterator yields Keras's batches.  Keras seeds and
draws from the *global* NumPy RNG; here each iterator owns a ``RandomState``
seeded at exactly the same points, so iterators are reproducible side by side
and never disturb the caller's global RNG.  Everything that touches the RNG (the
seed, the permutation, the per-sample parameters and ``save_to_dir`` name
hashes) happens under the iterator's lock; decoding and augmenting happen
outside it, so several threads can read one iterator.

With the generator's ``rng="keyed"`` the epoch's order comes from (seed, epoch) and
each sample's parameters from (seed, epoch, sample index) (:mod:`gpuaug.rng`), as
they already do across shards: nothing depends on which batch, call order, thread
or process asks.  In Keras's mode a copy of the iterator in another process (a
DataLoader worker, Keras's ``use_multiprocessing``) seeds ``it[i]`` by its place in the
epoch, so that copies yield what one process reading in order would
(:meth:`Iterator._seed_copy_batch`); ``next()`` on such copies would repeat each other's
draws, and warns.
"""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.util
import logging
import numbers
import os
import sys
import threading
import warnings
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Optional, Union
from typing import Iterator as _PyIterator

import numpy as np

from .. import validation
from ..drawn import DrawnBatch, DrawnSpan
from ..host_memory import keep_heap_top
from ..output import to_host
from ..params import TransformParams
from ..rng import epoch_key, keyed_uniforms, new_seed
from ..sources.listing import WHITE_LIST_FORMATS
from . import state as iterator_state
from .ahead import KerasAhead, KeyedAhead

_log = logging.getLogger("gpuaug")

#: ``shard_id`` / ``num_shards``: an integer, "env" (RANK / WORLD_SIZE) or None (one shard).
ShardArg = Union[int, str, None]

if TYPE_CHECKING:
    from .prefetch import Prefetcher


#: Draws are made about this many samples ahead, in whole batches (gpuaug.iterators.ahead):
#: a batch's host work is a few dozen NumPy calls whatever its size (gpuaug.drawn).  A
#: stretch's calls cost about 150 us however long it is; at 8192 samples (about 1 ms of
#: work, 2 MB of arrays) keyed B=256 batches took 72 us each against 80 at 4096
#: (bench/RESULTS.md, host benchmark)...
AHEAD_SAMPLES = 8192
#: ... and at most this many batches ahead in Keras's mode, whose stream is drawn batch by
#: batch (small batches gain little more, and a stream moved elsewhere wastes them).
AHEAD_KERAS_BATCHES = 16


@dataclass(frozen=True)
class BatchDraws:
    """The random draws of one batch, taken under the lock in Keras's order."""

    drawn: Optional[DrawnBatch]  # None when the iterator has no generator
    save_hashes: Optional[list[int]]  # the save_to_dir file name numbers, if saving

    @property
    def params(self) -> Optional[TransformParams]:
        return self.drawn.params if self.drawn is not None else None


def _pydataset_setting(field: str) -> property:
    """A read-write property over ``field``, as keras.utils.PyDataset declares its settings."""
    return property(lambda self: getattr(self, field),
                    lambda self, value: setattr(self, field, value))


class Iterator:
    """The base of gpuaug's iterators: ``__len__``, ``__getitem__``, ``next()``, epochs.

    Subclasses provide ``image_shape`` (one image, in the data format),
    ``_save_hash_high`` (Keras's bound for save-name numbers) and
    :meth:`_batch` (build the batch from indices and draws).
    """

    white_list_formats = WHITE_LIST_FORMATS  # Keras's attribute
    _save_hash_high = int(1e7)

    def __init__(self, n: int, batch_size: int, shuffle: bool, seed: Optional[int], *,
                 shard_id: ShardArg = None, num_shards: ShardArg = None,
                 equal_shards: bool = False, workers: int = 1, use_multiprocessing: bool = False,
                 max_queue_size: int = 10) -> None:
        validation.check_positive_int("batch_size", batch_size)
        _check_pydataset_settings(workers, use_multiprocessing, max_queue_size)
        if not isinstance(equal_shards, (bool, np.bool_)):
            raise TypeError(f"`equal_shards` must be True or False. Received: {equal_shards!r}")
        validation.check_seed(seed)
        self.shard_id, self.num_shards = resolve_shards(shard_id, num_shards)
        if self.num_shards > 1 and shuffle and seed is None:
            raise ValueError(
                f"`seed` is required with num_shards={self.num_shards} (shard {self.shard_id}) "
                "and shuffle=True: every shard must "
                "draw the same epoch order so that the shards stay disjoint")
        self.rng = getattr(self.image_data_generator, "rng", "keras")
        if self.rng == "keyed" and seed is None:
            seed = new_seed()  # recorded in `seed` (and in state_dict), so a run can resume
            _log.info("gpuaug: rng='keyed' without a seed: this iterator uses seed=%d", seed)
        self._creator_pid = os.getpid()
        keep_heap_top()  # the per-batch host work reuses its memory (gpuaug.host_memory)
        # In a copy in another process (Keras's mode): (pid, batches seen when copied,
        # whether the copy draws the epoch's order), see _seed_copy_batch.
        self._copy_epoch: Optional[tuple[int, int, bool]] = None
        self._read_this_epoch = 0  # batches drawn in this process since the epoch began
        self.n_total = n
        # This shard's samples per epoch: positions shard_id, shard_id + num_shards, ... of
        # the epoch's order, padded (equal_shards) to ceil(n / num_shards) by repeating its
        # first samples, as torch's DistributedSampler does.
        self.equal_shards = bool(equal_shards) and self.num_shards > 1
        self.n = (-(-n // self.num_shards) if self.equal_shards
                  else len(range(self.shard_id, n, self.num_shards)))
        self.epoch = 0
        self.batch_size = batch_size
        self.seed = seed
        self.shuffle = shuffle
        self.batch_index = 0
        self.total_batches_seen = 0
        self.lock = threading.Lock()
        self.index_array: Optional[np.ndarray] = None
        self._order_epoch = 0  # the epoch whose order index_array holds (keyed and sharded)
        # What drew index_array, for state_dict(): the stream's state before Keras's
        # permutation, "arange" (no shuffle) or "epoch" (keyed or sharded orders).
        self._order_source: Any = None
        self._flow_started = False  # next()'s first call resets the position, later ones not
        self._batch_start: Optional[int] = None  # where next()'s batch starts in index_array
        self._ahead: Any = None  # draws made ahead: a KeyedAhead or a KerasAhead
        self._prefetcher: Any = None  # a weak reference to the prefetcher that owns it
        self.random_state = np.random.RandomState()
        # Reseeded at every keyed or sharded epoch: the order RandomState(seed + epoch) gives,
        # without a new generator's cost (its OS-entropy seeding, 115 us on the CI machine).
        self._order_stream = np.random.RandomState()
        self.index_generator = self._flow_index()
        super().__init__()  # keras.utils.PyDataset's, when it is mixed in
        # PyDataset's settings, kept here whether or not it is mixed in (it may be later,
        # when the program imports Keras: see keras_compatible).
        self._workers = int(workers)
        self._use_multiprocessing = bool(use_multiprocessing)
        self._max_queue_size = int(max_queue_size)
        _remember_until_keras(self)

    # ------------------------------------------------------------- Keras's contract
    # PyDataset's settings (its own properties, where it is mixed in, read the same fields).
    workers = _pydataset_setting("_workers")
    use_multiprocessing = _pydataset_setting("_use_multiprocessing")
    max_queue_size = _pydataset_setting("_max_queue_size")

    @property
    def _keras_order(self) -> bool:
        """Whether epochs are ordered by Keras's rule (one shard, Keras's draws)."""
        return self.num_shards == 1 and self.rng == "keras"

    def _set_index_array(self) -> None:
        if self._keras_order:  # Keras's rule: the batch's seeded stream draws the order
            self.index_array = np.arange(self.n)
            self._order_source = "arange"
            if self.shuffle:
                self._order_source = self.random_state.get_state()
                self.index_array = self.random_state.permutation(self.n)
            return
        self._order_source = "epoch"
        self._order_epoch = self.epoch
        self.index_array = self._epoch_order(self.epoch)
        self.epoch += 1

    def _epoch_order(self, epoch: int) -> np.ndarray:
        """Sharded or keyed: the epoch's order depends on the seed and the epoch number
        alone, so all shards agree on it whatever each one's batch count; each keeps its
        stride of it."""
        order = np.arange(self.n_total)
        if self.shuffle:
            self._order_stream.seed((self.seed + epoch) % 2**32)
            order = self._order_stream.permutation(self.n_total)
        if self.equal_shards:  # at least once: the first samples of the order again
            order = np.resize(order, self.n * self.num_shards)
        return order[self.shard_id::self.num_shards]

    @property
    def random_state(self) -> np.random.RandomState:
        """The stream Keras's mode draws from (Keras uses the global one), reseeded per batch.

        Always where Keras's stream would be: draws made ahead leave it owing the last
        batch's draws (:class:`~gpuaug.iterators.ahead.StreamAfter`), replayed here before
        anyone reads it.
        """
        owed = self._stream_owed
        self._fresh_seed = None  # whoever reads the stream may draw from it
        if owed is not None:
            self._stream_owed = None
            owed.replay(self._stream)
        return self._stream

    @random_state.setter
    def random_state(self, value: np.random.RandomState) -> None:
        self._stream = value
        self._stream_owed = None
        self._fresh_seed = None

    def _seed_batch(self) -> None:
        if self.seed is None or self.rng == "keyed":  # keyed draws use no stream
            return
        seed = self._seed_for(self.total_batches_seen)
        self._reseed(seed)  # a reseed overwrites whatever the stream was owed
        self._fresh_seed = seed  # nothing has drawn since: draws made ahead may serve

    def _seed_for(self, batches_seen: int) -> Any:
        """The seed of the batch that follows ``batches_seen`` others."""
        if self.num_shards == 1:  # Keras's rule
            return self.seed + batches_seen
        # Every shard its own stream, or all ranks would draw the same parameters.
        return tuple(int(v) for v in np.random.SeedSequence(
            [self.seed, self.shard_id, self.num_shards, batches_seen]).generate_state(4))

    def _reseed(self, seed: Any) -> None:
        """Seed the stream (None: from the operating system); nothing is owed or served ahead."""
        self._stream.seed(seed)
        self._stream_owed = None
        self._fresh_seed = None

    def _seed_copy_batch(self, idx: int) -> None:
        """Seed ``it[idx]`` in a copy made in another process, as one process reading in order.

        Keras's rule seeds a call with ``seed + calls so far``.  Copies in worker processes
        (Keras's ``use_multiprocessing``, a DataLoader's workers) each count their own
        calls, so they would repeat each other's draws, and which batch got which draws
        would depend on the scheduling.  A copy seeds batch ``idx`` with the seed of the
        batch ``idx`` places after those seen when it was copied, and draws the epoch's
        order (when it came without one) from the seed of the epoch's first batch, as one
        process does: the copies yield the batches of one process reading the epoch in
        order, whatever the workers.  Without a seed each copy draws from a stream of its
        own, seeded by the operating system.
        """
        pid = os.getpid()
        if self._copy_epoch is None or self._copy_epoch[0] != pid:
            if self.seed is None:
                self._reseed(None)  # not the parent's stream state, which every copy holds
            self._copy_epoch = (pid, self.total_batches_seen, self.index_array is None)
        if self.seed is None:
            return
        _, first, draws_order = self._copy_epoch
        position = idx if idx >= 0 else max(0, len(self) + idx)
        if draws_order and self._keras_order and (self.index_array is None or position == 0):
            self._reseed(self._seed_for(first))
            self._set_index_array()  # drawn at the epoch's first batch...
            if position == 0:
                return  # ... whose draws follow the order in the stream
        self._reseed(self._seed_for(first + position))

    def __getitem__(self, idx: int) -> Any:
        self._refuse_while_prefetching("it[i]")
        if idx >= len(self):
            raise ValueError(
                f"Asked to retrieve element {idx}, but the Sequence has length {len(self)}"
            )
        with self.lock:
            if self.rng == "keras" and os.getpid() != self._creator_pid:
                self._seed_copy_batch(idx)
            else:
                self._seed_batch()
            self.total_batches_seen += 1
            self._read_this_epoch += 1
            if self.index_array is None:
                self._set_index_array()
            # A negative idx is not rejected, as in Keras: it slices from the end (-1: empty).
            index_array = self.index_array[self.batch_size * idx:self.batch_size * (idx + 1)]
            draws = self._draw(index_array, self.batch_size * idx if idx >= 0 else None)
        return self._batch(index_array, draws)

    def __len__(self) -> int:
        return (self.n + self.batch_size - 1) // self.batch_size

    def on_epoch_begin(self) -> None:
        """Keras 3 calls it before an epoch: the epoch's batches are counted from here."""
        with self.lock:
            self._read_this_epoch = 0

    def on_epoch_end(self) -> None:
        """A new order for the next epoch (not reseeded, as in Keras).

        In Keras's mode, when no batch of the ending epoch was drawn in this process
        (copies in worker processes read it), the batch count and stream first move to
        where reading it here would have left them (:meth:`_catch_up_with_copies`).
        """
        self._refuse_while_prefetching("on_epoch_end()")
        with self.lock:
            self._collect_from_copies()
            if self.rng == "keras" and not self._read_this_epoch:
                self._catch_up_with_copies()
            if self.index_array is None and not self._keras_order:
                # The epoch that ended was drawn elsewhere (worker processes' copies):
                # it was epoch `self.epoch`, so the next one is the one after it.
                self.epoch += 1
            self._set_index_array()
            self._read_this_epoch = 0

    def _catch_up_with_copies(self) -> None:
        """After an epoch read by copies elsewhere: the count and stream of reading it here.

        Keras's mode, no batch drawn in this process since the epoch began: copies in
        worker processes read it (:meth:`_seed_copy_batch`).  The batch count moves past
        the epoch's batches, and the stream is left where the epoch's last batch leaves
        it, so the next order and seeds are those of one process reading every epoch.
        """
        batches = len(self)
        self.total_batches_seen += batches
        if self.seed is None or not batches:
            return
        self._reseed(self._seed_for(self.total_batches_seen - 1))
        last = self.n - (batches - 1) * self.batch_size
        self._draw(np.zeros(last, dtype=np.int64), None)  # what the last batch drew

    def _collect_from_copies(self) -> None:
        """What copies in other processes learnt (files they skipped): none here."""

    def set_epoch(self, epoch: int) -> None:
        """Move to ``epoch``'s order (keyed draws or shards): for copies in worker processes.

        The order and the keyed draws of an epoch depend on (seed, epoch) alone, so a
        worker's copy that is told the epoch yields what the parent would.  Keras's mode
        has no such epochs (its order comes from the stream); there this raises.
        """
        validation.check_real("epoch", epoch)
        if self._keras_order:
            raise ValueError("set_epoch() needs rng='keyed' or several shards: in Keras's mode "
                             "an epoch's order comes from the random stream, not its number")
        if isinstance(epoch, bool) or int(epoch) != epoch or epoch < 0:
            raise ValueError(f"`epoch` must be a whole number >= 0. Received: {epoch!r}")
        with self.lock:
            self.epoch = int(epoch)
            self._set_index_array()

    def reset(self) -> None:
        self._refuse_while_prefetching("reset()")
        self.batch_index = 0

    def _flow_index(self, resume: bool = False) -> _PyIterator[np.ndarray]:
        """next()'s positions: Keras's ``_flow_index``.  The generator holds the iterator
        weakly, so that the iterator (which holds the generator) is freed when dropped even
        with the cycle collector off (``gc.disable()``), its decode pool and files with it."""
        return _flow_index(weakref.ref(self), resume)

    def __iter__(self) -> "Iterator":
        return self

    def __next__(self) -> Any:
        self._refuse_while_prefetching("next()")
        if self.rng == "keras" and os.getpid() != self._creator_pid:
            warnings.warn(
                "gpuaug: next() on a copy of this iterator made in another process, with "
                "rng='keras': each copy continues the parent's seeded stream, so copies that "
                "call next() repeat each other's augmentation parameters. Read copies by "
                "index (it[i]), use ImageDataGenerator(rng='keyed'), or no worker processes "
                "(gpuaug batches on the device already).", RuntimeWarning, stacklevel=2)
        with self.lock:
            self._read_this_epoch += 1
            index_array = next(self.index_generator)
            draws = self._draw(index_array, self._batch_start)
        return self._batch(index_array, draws)

    next = __next__  # Keras 2 and keras-preprocessing spell it it.next()

    def one_epoch(self) -> _PyIterator[Any]:
        """The batches left in the current epoch of :meth:`next`, then stop: a finite loop.

        ``for x, y in it:`` never ends (Keras's iterators are endless); PyTorch-style
        loops write ``for x, y in it.one_epoch():`` instead, ``len(it)`` batches from an
        epoch's start.  They are the batches ``next(it)`` gives, so the epoch after it
        (the next call) is reshuffled by Keras's rule, and a prefetcher's ``next()``
        yields the same sequence.
        """
        with self.lock:
            left = len(self) - self.batch_index  # batch_index: the epoch's batches given
        for _ in range(left):
            yield next(self)

    def tf_dataset(self) -> Any:
        """The epochs as a ``tf.data.Dataset``: ``from_generator`` with an ``output_signature``.

        One pass over the dataset is one epoch (``it[i]`` for every batch, then
        ``on_epoch_end()``); iterate it again, or ``.repeat()`` it, for more.  The
        elements are what the iterator yields (``(x, y)``, ``(x, y, w)`` or ``x``), with
        a batch dimension of None (the last batch may be shorter); the signature comes
        from the first batch, read quietly (nothing saved to ``save_to_dir``, no unreadable
        file logged) and then undone (:meth:`state_dict`), so the batches are the
        iterator's own.  Arrays on a GPU (CuPy) are handed over through the host;
        ``output="tf"`` hands tensors over as they are.  Make it before reading the
        iterator elsewhere: the first batch is read and undone on the iterator itself.

        Raises:
            ValueError: the iterator has no samples (tf.data needs a first element's
                types).
            RuntimeError: a prefetcher runs on the iterator.
            ImageFileError: the first batch has a file ``on_error`` does not skip, or
                (``EmptyBatchError``) no readable file.
        """
        self._refuse_while_prefetching("tf_dataset()")
        if len(self) == 0:
            raise ValueError(f"tf_dataset(): this {type(self).__name__} has no samples, so "
                             "there is no batch to take the dataset's element types from")
        import tensorflow as tf

        state = self.state_dict()
        try:
            with self._quietly():
                first = self[0]
        finally:
            self.load_state_dict(state)

        def spec(value: Any) -> Any:
            if isinstance(value, (tuple, list)):
                return tuple(spec(v) for v in value)
            return tf.TensorSpec(shape=(None, *value.shape[1:]), dtype=tf.as_dtype(value.dtype))

        on_device = getattr(self, "output", "auto") in ("auto", "cupy")  # CuPy: via the host

        def host(value: Any) -> Any:
            if isinstance(value, (tuple, list)):
                return tuple(host(v) for v in value)
            return to_host(value) if on_device else value

        def epoch() -> Any:
            for i in range(len(self)):
                yield host(self[i])
            self.on_epoch_end()

        return tf.data.Dataset.from_generator(epoch, output_signature=spec(first))

    @contextlib.contextmanager
    def _quietly(self) -> _PyIterator[None]:
        """Batches this thread reads inside are only looked at: nothing goes to
        ``save_to_dir`` and no unreadable file is logged (the batches read for real will
        save and log).  Per thread: other threads reading the iterator meanwhile save and
        log as usual."""
        _LOOKING.iterator = self
        try:
            yield
        finally:
            _LOOKING.iterator = None

    def _saves(self) -> bool:
        """Whether the batch being read goes to ``save_to_dir`` (not in a quiet look)."""
        return bool(self.save_to_dir) and self._logs()

    def _logs(self) -> bool:
        """Whether the batch being read is logged (not in this thread's quiet look)."""
        return getattr(_LOOKING, "iterator", None) is not self

    # ------------------------------------------------------- copies in other processes
    def __getstate__(self) -> dict[str, Any]:
        """Everything but the lock and next()'s generator, which are made again on arrival.

        So an iterator travels to worker processes that pickle it (a DataLoader with
        ``spawn``, Keras's multiprocessing); in Keras's mode such copies repeat each
        other's draws (and warn), keyed ones do not.
        """
        with self.lock:
            self._collect_from_copies()
        state = self.__dict__.copy()
        state.pop("lock", None)
        state.pop("_prefetcher", None)  # a weak reference to this process's thread
        state.pop("index_generator", None)
        state.pop("_ahead", None)  # a cache of keyed draws, made again where it is needed
        state.pop("_order_stream", None)  # scratch, reseeded before every use
        for cache in ("_relative_names", "_summary"):  # a file list's: made again if asked
            state.pop(cache, None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        if "random_state" in state:  # pickled before the stream became a property
            state["_stream"] = state.pop("random_state")
        # Caches and marks an older gpuaug did not pickle start empty.
        self.__dict__.update(_ahead=None, _stream_owed=None, _fresh_seed=None,
                             equal_shards=False, _prefetcher=None, _copy_epoch=None,
                             _read_this_epoch=0, _workers=1, _use_multiprocessing=False,
                             _max_queue_size=10)
        self.__dict__.update(state)
        self._order_stream = np.random.RandomState()
        self.lock = threading.Lock()
        self.index_generator = self._flow_index(resume=self._flow_started)

    def __reduce__(self) -> tuple:
        # A class mixed with Keras's PyDataset is made at run time: rebuild it by its base.
        cls = type(self)
        base = next((b for b, mixed in _keras_classes.items() if mixed is cls), cls)
        return (_rebuild, (base, base is not cls), self.__getstate__())

    # ------------------------------------------------------------------ resume
    def state_dict(self) -> dict[str, Any]:
        """Where this iterator is, as plain data: give it to :meth:`load_state_dict` to resume.

        Taken between batches (with a prefetcher running, ask the prefetcher: it knows
        which batches were handed out).  JSON-serialisable; see
        :mod:`gpuaug.iterators.state` for what it holds.
        """
        with self.lock:
            return self._state_of(self._snapshot())

    def _state_of(self, snapshot: dict[str, Any]) -> dict[str, Any]:
        """The state of a position :meth:`_snapshot` took (here or in a prefetcher)."""
        return iterator_state.make_state(self._identity(), snapshot, self._data_summary())

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from ``state`` (another process's included): the same batches follow.

        The iterator must be made with the same data and arguments (seed included; for
        files, the same files relative to their common folder, wherever that is, the same
        classes and ``on_error``); a state from another iterator or a corrupted one raises
        :class:`~gpuaug.iterators.state.StateError` (a ``ValueError``) naming what differs
        or which field is wrong, and leaves the iterator as it was.
        """
        self._refuse_while_prefetching("load_state_dict()")
        snapshot = iterator_state.read_state(state, self._identity(), batches=len(self),
                                             data_summary=self._data_summary())
        with self.lock:
            self._restore(snapshot)

    def _identity(self) -> dict[str, Any]:
        seed = None if self.seed is None else int(self.seed)
        return {"iterator": type(self).__name__, "samples": int(self.n_total),
                "data": self._data_fingerprint(), "batch_size": int(self.batch_size),
                "shuffle": bool(self.shuffle), "seed": seed, "rng": self.rng,
                "shard_id": int(self.shard_id), "num_shards": int(self.num_shards),
                **({"equal_shards": True} if self.equal_shards else {})}

    def _data_fingerprint(self) -> str:
        return ""

    def _data_summary(self) -> Optional[dict[str, Any]]:
        """What a refused state's message compares (file iterators: their folders)."""
        return None

    def _skipped_for_state(self) -> list[tuple[str, str]]:
        """The files skipped so far, as a state names them (file iterators)."""
        return []

    def _skipped_from_state(self, items: list[tuple[str, str]]) -> Optional[dict[str, str]]:
        """The skipped files of a state, as this iterator knows them (None: it has none)."""
        return None

    def _snapshot(self) -> dict[str, Any]:
        self._collect_from_copies()
        return {
            "batch_index": self.batch_index, "total_batches_seen": self.total_batches_seen,
            "epoch": self.epoch, "order_epoch": self._order_epoch,
            "flow_started": self._flow_started, "read_this_epoch": self._read_this_epoch,
            "order": None if self.index_array is None else self._order_source,
            # What the stream is owed stands for its state until a state is written.
            "random_state": None if self.rng != "keras" else (
                self._stream_owed or self.random_state.get_state()),
            "skipped": self._skipped_for_state(),
        }

    def _restore(self, snapshot: dict[str, Any]) -> None:
        # Everything that can fail first, then the assignments: a refused state leaves the
        # iterator as it was.
        skipped = self._skipped_from_state(snapshot["skipped"])
        order = snapshot["order"]
        if order is None:
            index_array = None
        elif order == "arange":
            index_array = np.arange(self.n)
        elif order == "epoch":  # rebuilt from (seed, epoch)
            index_array = self._epoch_order(snapshot["order_epoch"])
        else:  # the stream just before Keras's permutation: draw it again
            replay = np.random.RandomState()
            replay.set_state(order)
            index_array = replay.permutation(self.n)
        if snapshot["random_state"] is not None:
            self.random_state.set_state(snapshot["random_state"])
        self.batch_index = snapshot["batch_index"]
        self.total_batches_seen = snapshot["total_batches_seen"]
        self.epoch = snapshot["epoch"]
        self._order_epoch = snapshot["order_epoch"]
        self._read_this_epoch = snapshot["read_this_epoch"]
        self._order_source = order
        self.index_array = index_array
        if skipped is not None:
            self._skipped = skipped
        self._flow_started = snapshot["flow_started"]
        self.index_generator = self._flow_index(resume=self._flow_started)

    def prefetch(self, depth: int = 2) -> "Prefetcher":
        """``next(self)`` batches computed ``depth`` ahead in a background thread.

        Same batches in the same order as calling ``next()``; use it as an endless
        iterator (``for x, y in it.prefetch(): ...``) and ``close()`` it, or use it
        as a context manager.  Until it is closed it owns this iterator: a second
        prefetcher, ``next()``, ``it[i]``, ``reset()`` and ``on_epoch_end()`` raise
        ``RuntimeError`` (they would take batches out of, or rewind, the sequence it is
        making ahead).
        """
        from .prefetch import Prefetcher

        generator = self.image_data_generator
        device = getattr(generator, "device", "cpu") if generator is not None else "cpu"
        return Prefetcher(self, depth, device)

    def _claim_for(self, prefetcher: Any) -> None:
        """Record ``prefetcher`` as this iterator's owner; refuse if another one runs."""
        with self.lock:
            current = self._running_prefetcher()
            if current is not None:
                raise RuntimeError("this iterator already has a running prefetcher; close() it "
                                   "first (two would take batches from one sequence)")
            self._prefetcher = weakref.ref(prefetcher)

    def _running_prefetcher(self) -> Any:
        prefetcher = self._prefetcher() if self._prefetcher is not None else None
        return prefetcher if prefetcher is not None and prefetcher.running else None

    def _refuse_while_prefetching(self, what: str) -> None:
        prefetcher = self._running_prefetcher()
        if prefetcher is not None and threading.get_ident() != prefetcher.producer_ident:
            raise RuntimeError(f"{what} while a prefetcher runs on this iterator would take "
                               "batches out of the sequence it is making ahead; close() the "
                               "prefetcher first, or take the batches from it")

    # ------------------------------------------------------------ for subclasses
    image_data_generator: Any = None
    save_to_dir: Optional[str] = None
    image_shape: tuple[int, ...] = ()

    def _draw(self, index_array: np.ndarray, start: Optional[int]) -> BatchDraws:
        """Per-sample parameters, then save-name hashes: Keras's draw order (§6), or keyed.

        ``index_array`` is ``self.index_array[start:start + batch_size]`` (``start`` None:
        not known to be a slice of it).
        """
        if self.rng == "keyed":
            return self._draw_keyed(index_array, start)
        drawn = None
        if self.image_data_generator is not None:
            drawn = self._keras_params(len(index_array))
        hashes = None
        if self._saves():
            hashes = [int(self.random_state.randint(self._save_hash_high)) for _ in index_array]
        return BatchDraws(drawn, hashes)

    def _draw_keyed(self, index_array: np.ndarray, start: Optional[int]) -> BatchDraws:
        """Parameters and save-name numbers from (seed, epoch, sample index) alone."""
        drawn = None
        if self.image_data_generator is not None:
            drawn = self._keyed_params(index_array, start)
        hashes = None
        if self._saves():
            u = keyed_uniforms(epoch_key(self.seed, self._order_epoch, 1), index_array, 1)
            hashes = [int(v) for v in (u[:, 0] * self._save_hash_high).astype(np.int64)]
        return BatchDraws(drawn, hashes)

    def _keras_params(self, count: int) -> DrawnBatch:
        """Keras's draws for the batch, from the stream as it stands: made ahead when they can be.

        A full batch drawn right after its reseed, without ``save_to_dir`` (whose name
        numbers come from the same stream), is served from draws made
        ``AHEAD_KERAS_BATCHES`` batches ahead (:class:`KerasAhead`); any other batch draws
        from the stream itself.
        """
        sampler = self.image_data_generator.sampler
        seed, self._fresh_seed = self._fresh_seed, None
        if (seed is None or count != self.batch_size or self._saves() or not isinstance(
                getattr(self._stream, "_bit_generator", None), np.random.MT19937)):
            return DrawnBatch.of(sampler.draw_batch(self.random_state, count, self.image_shape))
        ahead = self._ahead if isinstance(self._ahead, KerasAhead) else None
        served = ahead.serve(sampler, seed, count) if ahead is not None else None
        if served is None:
            seen = self.total_batches_seen  # this batch is number seen - 1, seeded with `seed`
            batches = max(1, min(AHEAD_KERAS_BATCHES, AHEAD_SAMPLES // count))
            if self.num_shards == 1:  # Keras's seeds end at 2**32 - 1, where Keras fails:
                batches = min(batches, 2**32 - seed)  # nothing is drawn ahead past them
            seeds = [seed] + [self._seed_for(seen + i) for i in range(batches - 1)]
            ahead = self._ahead = KerasAhead.draw(sampler, count, self.image_shape, seeds)
            served = ahead.serve(sampler, seed, count)
        drawn, self._stream_owed = served
        return drawn

    def _keyed_params(self, index_array: np.ndarray, start: Optional[int]) -> DrawnBatch:
        """The batch's keyed parameters, drawn :data:`AHEAD_SAMPLES` ahead when read in order.

        A sample's parameters depend on (key, sample index) alone, so drawing them early
        changes nothing; a span is kept for one epoch order, key and sampler (settings),
        and reading out of order (``it[i]`` at random) draws just the batch.
        """
        sampler = self.image_data_generator.sampler
        key = epoch_key(self.seed, self._order_epoch)
        order, count = self.index_array, len(index_array)
        ahead = self._ahead if isinstance(self._ahead, KeyedAhead) else None
        if start is not None and ahead is not None:
            drawn = ahead.batch(order, key, sampler, start, count)
            if drawn is not None:
                return drawn
        if start is None or not (start == 0 or (ahead is not None and ahead.ends_at(order, start))):
            return DrawnBatch.of(sampler.draw_keyed(key, index_array, self.image_shape))
        indices = order[start:start + max(1, AHEAD_SAMPLES // count) * count]  # whole batches
        span = DrawnSpan(sampler.draw_keyed(key, indices, self.image_shape))
        self._ahead = KeyedAhead(order, key, sampler, start, span)
        return span.batch(0, count)

    def _batch(self, index_array: np.ndarray, draws: BatchDraws):
        raise NotImplementedError


def _check_pydataset_settings(workers: Any, use_multiprocessing: Any, max_queue_size: Any) -> None:
    """Keras 3's PyDataset settings, checked by name (Keras takes anything, and fails later)."""
    if isinstance(workers, bool) or not isinstance(workers, numbers.Integral) or workers < 0:
        raise ValueError(f"`workers` must be a whole number >= 0. Received: {workers!r}")
    if not isinstance(use_multiprocessing, (bool, np.bool_)):
        raise TypeError("`use_multiprocessing` must be True or False. "
                        f"Received: {use_multiprocessing!r}")
    validation.check_positive_int("max_queue_size", max_queue_size)


#: ``shard_id`` / ``num_shards`` value that asks for torch.distributed's RANK / WORLD_SIZE.
FROM_ENVIRONMENT = "env"


def resolve_shards(shard_id: Any, num_shards: Any) -> tuple[int, int]:
    """``(shard_id, num_shards)``: both None, one shard; ``"env"``, RANK / WORLD_SIZE.

    Sharding is asked for, never implied: an evaluation iterator in a ``torchrun`` job
    that sets neither reads every sample.  ``"env"`` (for either or both) reads
    torch.distributed's variables, and one shard where they are not set.
    """
    source = "arguments"
    if FROM_ENVIRONMENT in (shard_id, num_shards):
        if {shard_id, num_shards} - {FROM_ENVIRONMENT, None}:
            raise ValueError("`shard_id` and `num_shards` both come from the environment "
                             f"(\"{FROM_ENVIRONMENT}\") or both from arguments. Received: "
                             f"shard_id={shard_id!r}, num_shards={num_shards!r}")
        rank, world = os.environ.get("RANK"), os.environ.get("WORLD_SIZE")
        if rank is None and world is None:
            _log.info("gpuaug: shard_id/num_shards=%r but RANK and WORLD_SIZE are not set: "
                      "one shard", FROM_ENVIRONMENT)
            return 0, 1
        source = f"the environment (RANK={rank!r}, WORLD_SIZE={world!r})"
        try:
            shard_id, num_shards = int(rank or 0), int(world or 1)
        except ValueError:
            raise ValueError(f"RANK and WORLD_SIZE must be integers; {source}") from None
        if not 0 <= shard_id < num_shards:
            raise ValueError(f"`shard_id` / `num_shards` from {source} are inconsistent: "
                             "RANK must be in [0, WORLD_SIZE)")
    elif shard_id is None and num_shards is None:
        return 0, 1
    if shard_id is None or num_shards is None:
        raise ValueError("`shard_id` and `num_shards` go together: give both or neither. "
                         f"Received: shard_id={shard_id!r}, num_shards={num_shards!r}")
    for name, value in (("shard_id", shard_id), ("num_shards", num_shards)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise TypeError(f"`{name}` must be an integer or {FROM_ENVIRONMENT!r}. "
                            f"Received: {value!r}")
    if num_shards < 1 or not 0 <= shard_id < num_shards:
        raise ValueError(f"`shard_id` must be in [0, num_shards) and `num_shards` >= 1. "
                         f"Received: shard_id={shard_id}, num_shards={num_shards} (from {source})")
    return int(shard_id), int(num_shards)


def shard_note(shard_id: int, num_shards: int, count: int) -> str:
    """What the "Found ..." line adds for a shard (nothing for one shard)."""
    if num_shards == 1:
        return ""
    return f" This iterator yields shard {shard_id} of {num_shards}: {count} of them."


#: The iterator a thread is only looking at (Iterator._quietly), per thread.
_LOOKING = threading.local()


def _flow_index(ref: "weakref.ref[Iterator]", resume: bool) -> _PyIterator[np.ndarray]:
    """Iterator._flow_index's generator; no strong reference to the iterator across a yield."""
    it = ref()
    if it is None:
        return
    if not resume:
        it.reset()
    it._flow_started = True
    while True:
        it._seed_batch()
        if it.batch_index == 0:
            it._set_index_array()
        current = 0 if it.n == 0 else (it.batch_index * it.batch_size) % it.n
        if it.n > current + it.batch_size:
            it.batch_index += 1
        else:
            it.batch_index = 0
        it.total_batches_seen += 1
        it._batch_start = current  # for next(): where its batch starts in the order
        positions = it.index_array[current:current + it.batch_size]
        del it
        yield positions
        it = ref()
        if it is None:
            return


_keras_classes: dict[type, type] = {}


def _rebuild(base: type, keras_mixed: bool) -> "Iterator":
    """An empty iterator of ``base`` (mixed with PyDataset again where Keras is imported)."""
    cls = keras_compatible(base) if keras_mixed else base
    return cls.__new__(cls)


def keras_compatible(cls: type) -> type:
    """``cls`` mixed with ``keras.utils.PyDataset`` when Keras is already imported.

    ``model.fit(it)`` accepts only PyDataset instances.  Importing Keras here would
    import its backend (TensorFlow, JAX or PyTorch) into programs that never asked
    for it, so the mix-in happens only where the program has imported Keras itself;
    iterators made before that are mixed in when it does (:class:`_WhenKerasIsImported`).
    """
    keras = sys.modules.get("keras")
    base = getattr(getattr(keras, "utils", None), "PyDataset", None)
    if base is None:
        return cls
    if cls not in _keras_classes:
        _keras_classes[cls] = type(cls.__name__, (cls, base),
                                   {"__module__": cls.__module__, "__doc__": cls.__doc__})
    return _keras_classes[cls]


#: Iterators made before the program imported Keras: mixed with PyDataset when it does.
_BEFORE_KERAS: "weakref.WeakSet[Iterator]" = weakref.WeakSet()
_keras_hook_lock = threading.Lock()


class _WhenKerasIsImported(importlib.abc.MetaPathFinder):
    """Mixes PyDataset into the iterators made before ``import keras``, right after it.

    Keras's ``model.fit`` checks ``isinstance(x, PyDataset)`` before it touches ``x``, so
    an iterator made first would be refused ("Unrecognized data type").  This finder
    sits in ``sys.meta_path`` until Keras's module has run: every spec of ``keras`` it is
    asked for comes from the other finders with its loader wrapped, so that whichever of
    them Python executes turns the live iterators into PyDatasets.  A mere lookup
    (``importlib.util.find_spec("keras")``, which TensorFlow makes while importing)
    executes nothing and leaves the finder in place.  It never imports anything itself.
    """

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> Any:
        if name != "keras" or getattr(_finding, "keras", False):
            return None  # asked again while asking the others (a second hook): theirs
        _finding.keras = True
        try:
            for finder in list(sys.meta_path):  # the others, as Python would ask them
                find = getattr(finder, "find_spec", None)
                if finder is self or find is None:
                    continue
                spec = find(name, path, target)
                if spec is not None:
                    break
            else:
                return None
        finally:
            _finding.keras = False
        loader = getattr(spec, "loader", None)
        if loader is None or not hasattr(loader, "exec_module"):
            return spec
        run_keras = loader.exec_module

        def exec_module(module: Any) -> None:
            run_keras(module)
            with _keras_hook_lock:
                if self in sys.meta_path:
                    sys.meta_path.remove(self)  # Keras is imported: nothing left to do
            _mix_keras_into_earlier_iterators()

        loader.exec_module = exec_module  # this spec's own loader object
        return spec


_hook = _WhenKerasIsImported()
_finding = threading.local()  # the hook is asking the other finders for Keras


def _remember_until_keras(iterator: "Iterator") -> None:
    """Have ``iterator`` mixed with PyDataset if the program imports Keras later."""
    if "keras" in sys.modules:
        return
    with _keras_hook_lock:
        _BEFORE_KERAS.add(iterator)
        if _hook not in sys.meta_path:
            sys.meta_path.insert(0, _hook)


def _mix_keras_into_earlier_iterators() -> None:
    for iterator in list(_BEFORE_KERAS):
        mixed = keras_compatible(type(iterator))
        if type(iterator) is not mixed:
            iterator.__class__ = mixed
    _BEFORE_KERAS.clear()
