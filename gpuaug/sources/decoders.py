"""Decode sources for the file iterators: Pillow (the exactness reference) and NVIDIA DALI.

``decoder="auto"`` picks DALI with device ``mixed`` (nvJPEG on the GPU) when the
generator runs on CUDA and DALI is installed, else Pillow.  ``"dali"`` asks for
DALI explicitly (``mixed`` on CUDA, its CPU decoder otherwise); ``"pillow"`` is
Keras's ``load_img`` exactly.

What differs between DALI and Pillow was measured (tests/test_decoders.py,
docs/guide/iterators.md):
DALI's CPU decoder gives Pillow's RGB pixels for PNG and for baseline JPEG; DALI's own
grayscale conversion and nearest-neighbour resize do *not* follow Pillow's rules, so
gpuaug does both itself after DALI's RGB decode (Pillow's integer luma, Pillow's
accumulated nearest-neighbour positions) and stays exact; on the GPU with ``nearest`` the
augment kernels apply both as they read DALI's images (:meth:`DaliDecoder.lend`, no resized
batch in between).  The antialiased filters
(bilinear, bicubic, lanczos) are DALI's own and differ from Pillow's by a few levels.
DALI gets only the files whose decode was shown equal to Pillow's (8-bit JPEG and PNG,
read from their headers by :mod:`.sniff`, EXIF orientation ignored as Pillow does);
16-bit, 1-bit, TIFF, BMP and any file DALI fails on are decoded by Pillow, and a
declared size over Pillow's decompression-bomb limit is refused before DALI decodes it.
(DALI's GPU JPEG decoder, nvJPEG, is not libjpeg-turbo: its pixels differ, see the guide.)
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import weakref
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Optional

import numpy as np

from ..decoded import DecodedImages
from ..environment import cuda_index, dali_status
from ..errors import ArgumentError, Unavailable
from ..validation import check_choice, check_positive_int
from . import batch_resize
from .load_img import CHANNELS, decode_image, load_image, read_regular_file
from .sniff import check_pixels, sniff

_log = logging.getLogger("gpuaug")

DECODERS = ("auto", "dali", "pillow")

#: Decoders alive in this process, told when it forks (os.register_at_fork below).
_LIVE: "weakref.WeakSet[Any]" = weakref.WeakSet()
#: DALI pipelines a forked child inherited: never run (their threads stayed in the
#: parent, so a run waits forever) and never freed (freeing one joins those threads).
_INHERITED: list[Any] = []


def _after_fork_in_child() -> None:
    for decoder in list(_LIVE):
        decoder.after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
ON_ERROR = ("raise", "skip")
#: The most files one DALI pipeline run decodes; a larger batch takes several runs.
MAX_DALI_BATCH = 1024
_DALI_FILTERS = ("nearest", "bilinear", "bicubic", "lanczos")


def _dali_unsupported(color_mode: str, interpolation: str, keep_aspect_ratio: bool) -> str:
    if color_mode not in ("rgb", "grayscale"):
        return f"color_mode={color_mode!r} (DALI decodes rgb and grayscale)"
    if interpolation not in _DALI_FILTERS:
        return f"interpolation={interpolation!r} (DALI has {', '.join(_DALI_FILTERS)})"
    if keep_aspect_ratio:
        return "keep_aspect_ratio=True"
    return ""


def choose_decoder(decoder: Any, device: str, color_mode: str, interpolation: str,
                   keep_aspect_ratio: bool) -> str:
    """``"pillow"``, ``"dali-cpu"`` or ``"dali-mixed"`` for ``decoder=`` and the settings."""
    check_choice("decoder", decoder, DECODERS)
    if decoder == "pillow":
        return "pillow"
    unsupported = _dali_unsupported(color_mode, interpolation, keep_aspect_ratio)
    usable, reason = dali_status()
    if decoder == "auto":
        return "dali-mixed" if (device != "cpu" and usable and not unsupported) else "pillow"
    if not usable:
        raise Unavailable(f"decoder='dali': {reason}; decoder='pillow' (or 'auto') decodes "
                          "without DALI")
    if unsupported:
        raise ValueError(f"decoder='dali' does not support {unsupported}; use decoder='pillow'")
    return "dali-mixed" if device != "cpu" else "dali-cpu"


def check_on_error(on_error: Any) -> str:
    return check_choice("on_error", on_error, ON_ERROR)


def usable_cpus() -> int:
    """The CPUs this process may run on (its affinity), not the machine's count."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS and Windows have no affinity call
        return os.cpu_count() or 1


def check_decode_threads(decode_threads: Any) -> int:
    """``decode_threads``: a positive int, or None for :func:`usable_cpus`."""
    if decode_threads is None:
        return usable_cpus()
    check_positive_int("decode_threads", decode_threads)
    return int(decode_threads)


def make_decoder(decoder: Any, device: str, color_mode: str, target_size: tuple[int, int],
                 interpolation: str, keep_aspect_ratio: bool, max_batch: int,
                 decode_threads: int = 1):
    """The decode source for the iterator's settings: ``PillowDecoder`` or ``DaliDecoder``.

    ``decoder`` is the user's choice (see :func:`choose_decoder`), ``device`` the
    generator's resolved device ("cpu" or "cuda:N"); ``decode_threads`` the threads
    that decode a batch's files (Pillow's pool, DALI's ``num_threads``).
    """
    chosen = choose_decoder(decoder, device, color_mode, interpolation, keep_aspect_ratio)
    if chosen == "pillow":
        return PillowDecoder(color_mode, target_size, interpolation, keep_aspect_ratio,
                             threads=decode_threads)
    return DaliDecoder("mixed" if chosen == "dali-mixed" else "cpu", cuda_index(device),
                       color_mode, target_size, interpolation, max_batch,
                       num_threads=decode_threads)


class FilePool:
    """``map`` over a batch's files on ``threads`` threads, results in the files' order.

    Pillow releases the GIL while it decodes and resizes, and file reads release it
    too, so a batch's files are read on every core.  The threads are made on first use
    in each process (a pool inherited through ``fork`` has none) and never pickled.
    """

    def __init__(self, threads: int) -> None:
        self.threads = threads
        self._pool: Optional[tuple[int, ThreadPoolExecutor]] = None  # (pid, pool)
        self._lock = threading.Lock()
        _LIVE.add(self)

    def after_fork(self) -> None:
        """In a forked child: the parent's threads are not here, and its lock may be held."""
        self._pool = None
        self._lock = threading.Lock()

    def __getstate__(self) -> dict[str, Any]:
        return {"threads": self.threads}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["threads"])

    def map(self, fn: Any, items: list[Any]) -> list[Any]:
        if self.threads <= 1 or len(items) <= 1:
            return [fn(item) for item in items]
        with self._lock:
            if self._pool is None or self._pool[0] != os.getpid():
                pool = ThreadPoolExecutor(self.threads, thread_name_prefix="gpuaug-decode")
                weakref.finalize(self, pool.shutdown, wait=False)
                self._pool = (os.getpid(), pool)
            executor = self._pool[1]
        return list(executor.map(fn, items))


def _file_error(fn: Any) -> Any:
    """``fn`` that returns a file's own failure instead of raising it (an argument's is raised)."""
    def call(*args: Any) -> Any:
        try:
            return fn(*args)
        except ArgumentError:
            raise
        except Exception as exc:  # any other failure is this file's, reported by name
            return exc
    return call


class PillowDecoder:
    """Keras's ``load_img`` for every file, stacked on the host, on ``threads`` threads.

    The images come back in the files' order, whatever thread read them.
    """

    name = "pillow"

    def __init__(self, color_mode: str, target_size: tuple[int, int], interpolation: str,
                 keep_aspect_ratio: bool, threads: int = 1) -> None:
        self.color_mode = color_mode
        self.target_size = target_size
        self.interpolation = interpolation
        self.keep_aspect_ratio = keep_aspect_ratio
        self.pool = FilePool(threads)

    @property
    def threads(self) -> int:
        return self.pool.threads

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        if "pool" not in state:  # pickled before the pool existed: one thread
            self.pool = FilePool(1)

    def _load(self, path: str) -> Any:
        return load_image(path, self.color_mode, self.target_size, self.interpolation,
                          self.keep_aspect_ratio)

    def lend(self, paths: list[str]) -> Any:
        """A context manager giving ``self(paths)``: Pillow's batch is the caller's to keep."""
        return contextlib.nullcontext(self(paths))

    def __call__(self, paths: list[str]) -> tuple[np.ndarray, dict[int, BaseException]]:
        """``(batch of the readable files, {position: error} of the others)``."""
        results = self.pool.map(_file_error(self._load), paths)
        images = [r for r in results if not isinstance(r, BaseException)]
        failures = {i: r for i, r in enumerate(results) if isinstance(r, BaseException)}
        if not images:
            shape = (0,) + self.target_size + (CHANNELS[self.color_mode],)
            return np.zeros(shape, np.uint8), failures
        if len({im.dtype for im in images}) > 1:  # 16-bit grayscale beside 8-bit files
            images = [im.astype(np.float32) for im in images]
        return np.stack(images), failures


class DaliDecoder:
    """DALI's image decoder (``cpu`` or ``mixed``) with Pillow's luma and nearest rules.

    One pipeline per iterator, built on first use, with DALI's default (asynchronous)
    executor, fed the encoded bytes of each batch through ``external_source``; the
    files are read on ``num_threads`` threads, DALI decodes on as many.  With ``mixed``
    the decoded batch is a CuPy array on the generator's GPU that never visits host
    memory, ordered on the caller's current stream: no device-wide synchronisation, so
    a training step on another stream runs on while a batch decodes.  With ``nearest``,
    :meth:`lend` hands DALI's images over unresized, for the kernels to read.
    """

    def __init__(self, device: str, device_id: Optional[int], color_mode: str,
                 target_size: tuple[int, int], interpolation: str, max_batch: int,
                 num_threads: int = 4) -> None:
        self.name = f"dali-{device}"
        self.device = device
        self.device_id = device_id
        self.color_mode = color_mode
        self.target_size = tuple(target_size)
        self.interpolation = interpolation
        # A run's batch: the iterator's, bounded (DALI allocates for the whole batch size:
        # batch_size=10**9 on a small folder is std::bad_alloc), in runs of this many.
        self.max_batch = max(1, min(max_batch, MAX_DALI_BATCH))
        self.num_threads = num_threads
        self.pool = FilePool(num_threads)  # reads the files; decodes those routed to Pillow
        self._pipe = None
        self._lock = threading.Lock()  # one run at a time: threads share the decoder
        self._copied: Any = None  # a CUDA event: the last batch is out of DALI's buffers
        self._resize_launch: Any = None  # batch_resize's kernel on this device, loaded once
        self._forked_after_cuda = False  # see after_fork
        # lend() hands out DALI's decoded images unresized (DecodedImages), for the CUDA
        # kernels to read through Pillow's nearest maps (and Pillow's luma, for grayscale):
        # nearest only, and on the GPU only (on the CPU the NumPy reference resizes first
        # anyway; tests switch it on there to run DALI's decoder).
        self.lends = device == "mixed" and interpolation == "nearest"
        _LIVE.add(self)

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()  # a copy in another process builds its own pipeline
        state["_pipe"] = state["_copied"] = state["_resize_launch"] = None
        del state["_lock"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update({"_forked_after_cuda": False, "_copied": None, "_resize_launch": None,
                              "lends": False,
                              "pool": FilePool(state.get("num_threads", 1)), **state})
        self._lock = threading.Lock()
        _LIVE.add(self)

    def after_fork(self) -> None:
        """In a forked child: never touch the parent's pipeline; make one here if that works.

        A CPU pipeline is made again on first use.  A ``mixed`` decoder exists only for a
        generator on CUDA, which initialised CUDA in the parent (resolving its device did),
        and a forked child cannot use CUDA: the next batch raises an error that says what
        to do instead of failing in the driver or waiting forever.
        """
        self._lock = threading.Lock()  # another thread may have held it at the fork
        self._copied = self._resize_launch = None
        self._forked_after_cuda = self.device == "mixed"
        if self._pipe is not None:
            _INHERITED.append(self._pipe)
            self._pipe = None

    def _build(self):
        from nvidia.dali import fn, pipeline_def, types

        filters = {"bilinear": types.INTERP_LINEAR, "bicubic": types.INTERP_CUBIC,
                   "lanczos": types.INTERP_LANCZOS3}

        # One batch in flight: each run's files are only known when the batch is asked for.
        @pipeline_def(batch_size=self.max_batch, num_threads=self.num_threads,
                      device_id=self.device_id, prefetch_queue_depth=1)
        def pipe():
            encoded = fn.external_source(name="files", device="cpu")
            # adjust_orientation off: Pillow and Keras ignore a JPEG's EXIF orientation.
            images = fn.decoders.image(encoded, device=self.device, output_type=types.RGB,
                                       adjust_orientation=False)
            if self.interpolation != "nearest":
                images = fn.resize(images, size=self.target_size, interp_type=filters[
                    self.interpolation], antialias=True)
            return images

        p = pipe()
        p.build()
        return p

    def _decode(self, encoded: list[np.ndarray]) -> Any:
        """DALI's decode of every buffer, finished (Pillow's nearest and luma), as one batch.

        Raises if any buffer fails.  The batch is an array of its own: DALI's outputs are
        views of its buffers, which its next run overwrites.  On the GPU the whole batch
        is resized (and converted to luma) by one launch (:mod:`.batch_resize`).
        """
        batch = self._images(self._decoded_samples(encoded)).resized()
        if self.device == "mixed":
            import cupy

            self._copied = cupy.cuda.get_current_stream().record()
        return batch

    def _images(self, samples: list[Any]) -> DecodedImages:
        """DALI's images of a run, to be resized (Pillow's nearest: DALI's other filters
        have resized them already, and their maps are the identity) and, for grayscale,
        converted to Pillow's luma."""
        mixed = self.device == "mixed"
        return DecodedImages(samples, self.target_size, self.device_id if mixed else None,
                             self._lazy_resizer if mixed else None, CHANNELS[self.color_mode])

    def _decoded_samples(self, encoded: list[np.ndarray]) -> list[Any]:
        """DALI's decoded images of every buffer, as they come out (its tensors, views of
        its buffers until its next run); on the GPU ordered on the current stream."""
        if self._pipe is None:
            self._pipe = self._build()
        stream = None
        if self.device == "mixed":
            import cupy

            stream = cupy.cuda.get_current_stream()
            if self._copied is not None:  # DALI reuses its buffers: the last reads are done
                self._copied.synchronize()
        decoded = self._run(encoded, stream)  # ordered before what `stream` does next
        return [decoded[i] for i in range(len(encoded))]

    def _resizer(self) -> batch_resize.Launch:
        """:mod:`.batch_resize`'s kernel on this decoder's GPU, loaded once."""
        if self._resize_launch is None:
            self._resize_launch = batch_resize.cuda_launch(self.device_id)
        return self._resize_launch

    def _lazy_resizer(self, *args: Any) -> None:
        """:meth:`_resizer`'s launch, compiled only if a lent batch is resized after all."""
        self._resizer()(*args)

    def _run(self, encoded: list[np.ndarray], stream: Any) -> Any:
        try:
            (decoded,) = self._pipe.run(stream, files=encoded)
        except Exception:
            self._pipe = None  # a DALI pipeline is unusable after an error: rebuild next time
            raise
        return decoded

    def _decode_batch(self, for_dali: dict[int, np.ndarray], for_pillow: dict[int, bytes],
                      paths: list[str]) -> list[tuple[list[int], Any]]:
        """DALI's images of ``for_dali`` as ``(positions, batch)`` runs, at most a pipeline each.

        A run that fails is narrowed down file by file: a file DALI cannot decode moves
        to ``for_pillow``, which decodes it as Keras does or names it as unreadable.
        """
        items = list(for_dali.items())
        runs: list[tuple[list[int], Any]] = []
        for start in range(0, len(items), self.max_batch):
            chunk = items[start:start + self.max_batch]
            try:
                runs.append(([i for i, _ in chunk], self._decode([d for _, d in chunk])))
                continue
            except Exception:
                pass
            for i, data in chunk:
                try:
                    runs.append(([i], self._decode([data])))
                except Exception as exc:
                    _log.info("gpuaug: DALI could not decode %s (%s: %s); Pillow reads it",
                              paths[i], type(exc).__name__, exc)
                    for_pillow[i] = data.tobytes()
        return runs

    def __call__(self, paths: list[str]) -> tuple[Any, dict[int, BaseException]]:
        """``(batch of the readable files, {position: error} of the others)``."""
        with self._holding():
            return self._call(paths)

    @contextlib.contextmanager
    def lend(self, paths: list[str]) -> Any:
        """``self(paths)``, but the usual batch comes as DALI's images, lent, not resized.

        Yields ``(images, failures)``.  Where :attr:`lends` is set and DALI decodes every
        readable file in one run, ``images`` is :class:`DecodedImages`: DALI's own
        buffers, valid until the block ends, for kernels that read them through Pillow's
        nearest maps (:meth:`FusedBackend.augment_resized`).  The decoder is held until
        then, so another thread's batch decodes after this one's kernels are queued (the
        price of not copying).  Else ``images`` is ``self(paths)``'s batch, the caller's
        own, and the decoder is free at once.  On the GPU the decoder's next run waits,
        at the end of the block, for the work queued so far on the current stream (the
        kernels that read the images), not for anything else.
        """
        with self._holding():
            images, failures = self._call(paths, lend=self.lends)
            if isinstance(images, DecodedImages):
                try:
                    yield images, failures
                finally:
                    if self.device == "mixed":
                        import cupy

                        self._copied = cupy.cuda.get_current_stream().record()
                return
        yield images, failures

    @contextlib.contextmanager
    def _holding(self) -> Any:
        """The decoder for one caller at a time, on its GPU; refused in a forked child."""
        if self._forked_after_cuda:
            raise RuntimeError(
                f"gpuaug: decoder='dali' decoded on cuda:{self.device_id} in the process this "
                "one was forked from, and CUDA cannot be used in a forked child. Start worker "
                "processes with 'spawn' (torch: DataLoader(..., multiprocessing_context="
                "'spawn'); multiprocessing.set_start_method('spawn')), or use none: gpuaug "
                "batches on the GPU already")
        if self.device != "mixed":
            with self._lock:
                yield
            return
        import cupy

        with self._lock, cupy.cuda.Device(self.device_id):
            yield

    def _read(self, path: str) -> tuple[bytes, Any]:
        """A file's bytes and header, refused if it declares a decompression bomb."""
        data = read_regular_file(path)
        header = sniff(data)
        if header is not None:
            check_pixels(header)  # before DALI allocates it
        return data, header

    def _call(self, paths: list[str], lend: bool = False) -> tuple[Any, dict[int, BaseException]]:
        xp = np
        if self.device == "mixed":
            import cupy as xp  # noqa: N813
        failures: dict[int, BaseException] = {}
        for_dali: dict[int, np.ndarray] = {}
        for_pillow: dict[int, bytes] = {}
        for i, read in enumerate(self.pool.map(_file_error(self._read), paths)):
            if isinstance(read, BaseException):
                failures[i] = read
            elif read[1] is not None and read[1].dali_equals_pillow:
                for_dali[i] = np.frombuffer(read[0], dtype=np.uint8)
            else:  # 16-bit, 1-bit, TIFF, BMP, CMYK...: Pillow's answer, not DALI's
                for_pillow[i] = read[0]
        if lend and for_dali and not for_pillow and len(for_dali) <= self.max_batch:
            try:  # the usual batch: one run, DALI's images lent as they are
                samples = self._decoded_samples(list(for_dali.values()))
            except Exception:  # a file DALI fails on: narrowed down file by file below
                samples = None
            if samples is not None:
                images = self._images(samples)
                if images.fits_the_kernels:  # else narrowed down, and Pillow's, below
                    return images, failures
        runs = self._decode_batch(for_dali, for_pillow, paths) if for_dali else []
        if len(runs) == 1 and not failures and not for_pillow:
            return runs[0][1], {}  # the usual batch: DALI's run is the batch, no copy
        images = {i: batch[k] for positions, batch in runs for k, i in enumerate(positions)}
        by_pillow = self.pool.map(_file_error(lambda i: decode_image(
            for_pillow[i], paths[i], self.color_mode, self.target_size, self.interpolation)),
            list(for_pillow))
        for i, image in zip(for_pillow, by_pillow, strict=True):
            if isinstance(image, BaseException):
                failures[i] = image
            else:
                images[i] = xp.asarray(image)
        h, w = self.target_size
        dtypes = {img.dtype for img in images.values()}
        dtype = np.uint8 if dtypes <= {np.dtype(np.uint8)} else np.float32  # 16-bit grayscale
        out = xp.empty((len(images), h, w, CHANNELS[self.color_mode]), dtype=dtype)
        for k, i in enumerate(sorted(images)):
            out[k] = images[i]  # on the current stream, as the caller's next steps
        return out, dict(sorted(failures.items()))  # the first bad file first, as Pillow's
