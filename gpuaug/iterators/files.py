"""What the file-reading iterators share (Keras's ``BatchFromFilesMixin``).

Decoding (Pillow, ``load_img`` semantics), the image shape, the validation split
bounds, ``save_to_dir`` and the labels of each ``class_mode``; the subclasses
decide which files, in which order, with which labels.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Generator
from typing import Any, Optional

import numpy as np

from .. import validation
from ..backends.reference.output_format import to_output
from ..decoded import DecodedImages
from ..drawn import DrawnBatch
from ..engine import array_module, augment_on
from ..errors import EmptyBatchError, ImageFileError, the_files_own
from ..output import check_output, convert_batch, convert_labels, to_host
from ..sources.decoders import check_decode_threads, check_on_error, make_decoder
from ..sources.load_img import CHANNELS, COLOR_MODES, check_interpolation
from .base import BatchDraws, Iterator
from .saving import check_save_to_dir, save_batch
from .skip_log import SkipLog
from .state import StateError, files_summary, names_fingerprint, relative_names

_log = logging.getLogger("gpuaug")

class FileBatchIterator(Iterator):
    """Batches decoded from ``filepaths``; subclasses set the files and labels."""

    _filepaths: list[str]
    classes: Any = None
    class_indices: dict[str, int] = {}
    class_mode: Optional[str] = None

    def _set_processing_attrs(self, image_data_generator: Any, target_size: tuple[int, int],
                              color_mode: str, data_format: Optional[str],
                              save_to_dir: Optional[str], save_prefix: str, save_format: str,
                              subset: Optional[str], interpolation: str,
                              keep_aspect_ratio: bool, output: str, decoder: str = "auto",
                              batch_size: int = 32, on_error: str = "raise",
                              decode_threads: Optional[int] = None,
                              numpy_labels: bool = False) -> None:
        """Keras's ``set_processing_attrs``: checks and messages in Keras's order."""
        self.image_data_generator = image_data_generator
        validation.check_target_size(target_size)
        self.target_size = tuple(int(v) for v in target_size)
        self.keep_aspect_ratio = keep_aspect_ratio
        if not isinstance(color_mode, str) or color_mode not in COLOR_MODES:
            raise ValueError(
                f'Invalid color mode: {color_mode}; expected "rgb", "rgba", or "grayscale".')
        self.color_mode = color_mode
        self.data_format = data_format or "channels_last"
        channels = (CHANNELS[color_mode],)
        if self.target_size[0] * self.target_size[1] * channels[0] >= 2**31:
            raise ValueError(f"`target_size` {self.target_size!r} is too large: an image may hold "
                             "at most 2**31 - 1 values (height x width x channels)")
        self.image_shape = (self.target_size + channels if self.data_format == "channels_last"
                            else channels + self.target_size)
        self.save_to_dir = save_to_dir
        self.save_prefix = save_prefix
        self.save_format = save_format
        if save_to_dir:
            validation.check_save_format(save_format)
            check_save_to_dir(save_to_dir)  # Keras: FileNotFoundError at the first batch
        # Keras's message, at the call rather than at the first image to resize
        self.interpolation = check_interpolation(interpolation)
        if subset is not None:
            vs = image_data_generator._validation_split
            if subset == "validation":
                split: Optional[tuple[float, float]] = (0, vs)
            elif subset == "training":
                split = (vs, 1)
            else:  # (also for unhashable junk: compared with ==, never hashed)
                raise ValueError(
                    f'Invalid subset name: {subset};expected "training" or "validation"')
        else:
            split = None
        self.split = split
        self.subset = subset
        self.output = check_output(output)
        self.numpy_labels = validation.check_bool("numpy_labels", numpy_labels)
        self.on_error = check_on_error(on_error)
        self._skipped: dict[str, str] = {}
        self._skip_log = SkipLog()  # files that copies in worker processes skip
        device = image_data_generator.device if image_data_generator is not None else "cpu"
        self.decode_threads = check_decode_threads(decode_threads)
        self._decode = make_decoder(decoder, device, color_mode, self.target_size, interpolation,
                                    keep_aspect_ratio, batch_size, self.decode_threads)
        self.decoder = self._decode.name

    @property
    def filepaths(self) -> list[str]:
        return self._filepaths

    # A state identifies the files by their paths relative to their common folder, so that
    # it resumes wherever the same files are (iterators/state.py relative_names).
    @property
    def _relative(self) -> list[str]:
        if getattr(self, "_relative_names", None) is None:
            self._relative_names = relative_names(self._filepaths)
        return self._relative_names

    def _data_fingerprint(self) -> str:
        if getattr(self, "_fingerprint", None) is None:
            self._fingerprint = names_fingerprint(self._relative)
        return self._fingerprint

    def _data_summary(self) -> dict[str, Any]:
        if getattr(self, "_summary", None) is None:
            self._summary = files_summary(self._relative)
        return self._summary

    def _identity(self) -> dict[str, Any]:
        classes = sorted(self.class_indices, key=self.class_indices.__getitem__)
        # on_error: a state of a "skip" run names files its batches went without, which a
        # "raise" run must not drop (nor a "skip" run read) silently.
        return {**super()._identity(), "classes": classes, "on_error": self.on_error}

    def _skipped_for_state(self) -> list[tuple[str, str]]:
        # Taken after every batch by a prefetcher: nothing per file unless a file was skipped.
        if not self._skipped:
            return []
        relative = dict(zip(self._filepaths, self._relative, strict=True))
        return [(relative.get(path, path), reason) for path, reason in self._skipped.items()]

    def _skipped_from_state(self, items: list[tuple[str, str]]) -> dict[str, str]:
        if not items:
            return {}
        paths: dict[str, list[str]] = {}  # a name, and every spelling of it in the list
        for name, path in zip(self._relative, self._filepaths, strict=True):
            paths.setdefault(name, []).append(path)
        unknown = [name for name, _ in items if name not in paths]
        if unknown:
            raise StateError(f"corrupted state: skipped_files names {unknown[0]!r}, which is "
                             "not one of this iterator's files")
        return {path: reason for name, reason in items for path in paths[name]}

    @property
    def skipped_files(self) -> list[tuple[str, str]]:
        """``(path, reason)`` of every file dropped so far (``on_error="skip"``).

        Files that copies of this iterator in worker processes dropped (Keras's
        ``use_multiprocessing``, a DataLoader's workers) are included.
        """
        with self.lock:
            self._collect_from_copies()
            return list(self._skipped.items())

    def _collect_from_copies(self) -> None:
        """Add the files that copies in other processes skipped (under the lock)."""
        log = self.__dict__.get("_skip_log")  # None: pickled by a gpuaug without it
        if log is not None and log.is_owner:
            for path, reason in log.read_new():
                self._skipped.setdefault(path, reason)

    @contextlib.contextmanager
    def _loaded(self, index_array: np.ndarray) -> Generator[tuple[Any, np.ndarray], None, None]:
        """The batch's readable images in the data format, and which positions they are.

        NumPy from Pillow and DALI's CPU decoder; CuPy, on the GPU, from DALI ``mixed``,
        or DALI's decoded images themselves (:class:`DecodedImages`, lent until the block
        ends), which the kernels read through Pillow's nearest maps: resized and laid out
        in the data format by the kernels, not here (unless the generator's data format is
        not this iterator's, or there is no generator: then resized here).  An unreadable
        file raises :class:`ImageFileError` naming it (``on_error="raise"``) or is dropped
        with its label, logged once and listed in :attr:`skipped_files`.
        """
        paths = [self._filepaths[j] for j in index_array]
        todo = [i for i, p in enumerate(paths) if p not in self._skipped]  # known-bad: not reread
        with self._decode.lend([paths[i] for i in todo]) as (batch, failures):
            kept = self._account(paths, todo, failures)
            if isinstance(batch, DecodedImages):
                if not self._kernels_lay_out(batch):
                    batch = batch.resized(self.data_format == "channels_last")
            elif self.data_format == "channels_first":
                batch = batch.transpose(0, 3, 1, 2)
            yield batch, kept

    def _kernels_lay_out(self, images: DecodedImages) -> bool:
        """Whether the generator's kernels read ``images`` in this iterator's data format:
        they read them in the generator's, which a ``DirectoryIterator`` built by hand may
        not share (and without a generator nothing reads them)."""
        generator = self.image_data_generator
        return generator is not None and getattr(generator, "data_format",
                                                 None) == self.data_format

    def _account(self, paths: list[str], todo: list[int],
                 failures: dict[int, BaseException]) -> np.ndarray:
        """The positions of ``paths`` decoded, after ``on_error`` has dealt with ``failures``
        (positions in ``todo``, the paths read)."""
        for position, exc in failures.items():
            if not the_files_own(exc):  # not the file's fault: raised as what it is
                exc.add_note(f"(while gpuaug read {paths[todo[position]]!r})")
                raise exc
        if failures:
            position, exc = next(iter(failures.items()))
            if self.on_error == "raise":
                raise ImageFileError(paths[todo[position]], exc) from exc
            for position, exc in failures.items():
                path = paths[todo[position]]
                reason = f"{type(exc).__name__}: {exc}"
                self._skipped[path] = reason
                if self._logs():  # tf_dataset()'s look at the first batch logs nothing
                    _log.warning("gpuaug: skipping unreadable image %s (%s)", path, reason)
                log = self.__dict__.get("_skip_log")
                if log is not None and not log.is_owner:  # a worker's copy: tell the iterator
                    log.write(path, reason)
        kept = np.asarray([i for k, i in enumerate(todo) if k not in failures], dtype=np.int64)
        if len(paths) and not len(kept):
            raise EmptyBatchError(paths, [self._skipped[p] for p in paths])
        return kept

    def _labels(self, index_array: np.ndarray, batch: Any) -> Any:
        """The labels of ``class_mode`` (None: there are none)."""
        if self.class_mode == "input":
            return convert_batch(batch.copy(), self.output)
        if self.class_mode in {"binary", "sparse"}:
            array = getattr(self, "_classes_array", None)
            if array is None:  # once, not per batch: a list of a million labels is slow
                array = self._classes_array = np.asarray(self.classes)
            return array[index_array].astype(self.dtype)
        if self.class_mode == "categorical":
            y = np.zeros((len(index_array), len(self.class_indices)), dtype=self.dtype)
            for i, j in enumerate(index_array):
                y[i, self.classes[j]] = 1.0  # a list of classes gives a multi-hot row
            return y
        if self.class_mode == "multi_output":
            return [output[index_array] for output in self.labels]
        if self.class_mode == "raw":
            return self.labels[index_array]
        return None

    def _batch(self, index_array: np.ndarray, draws: BatchDraws):
        with self._loaded(index_array) as (pixels, kept):
            if len(kept) < len(index_array):  # skipped files leave with their labels and draws
                index_array = index_array[kept]
                draws = BatchDraws(
                    draws.drawn.subset(kept) if draws.drawn is not None else None,
                    [draws.save_hashes[i] for i in kept] if draws.save_hashes
                    else draws.save_hashes)
            batch = _augment_in_float32(self.image_data_generator, pixels, draws.drawn,
                                        self.dtype)
        if self._saves():
            gen = self.image_data_generator
            out_last = gen.config().out_channels_last if gen is not None else (
                self.data_format == "channels_last")
            layout = "channels_last" if out_last else "channels_first"
            save_batch(to_host(batch), index_array, draws.save_hashes, self.save_to_dir,
                       self.save_prefix, self.save_format, layout)
        y = self._labels(index_array, batch)
        x = convert_batch(batch, self.output)
        if y is None:
            return x
        weights = self.sample_weight
        out = (x, y) if weights is None else (x, y, weights[index_array])
        if self.numpy_labels or self.class_mode == "input":  # "input": y is x's copy
            return out
        return out[:1] + tuple(convert_labels(v, x, self.output) for v in out[1:])


def _augment_in_float32(generator: Any, batch: Any, params: Optional[DrawnBatch],
                        dtype: str) -> Any:
    """Keras's file iterators work in float32 (``img_to_array``) and cast to ``dtype`` at the end.

    Without a generator (Keras allows ``image_data_generator=None``) the decoded images
    are only converted to ``dtype``.
    """
    if generator is None:
        return batch.astype(dtype)
    config = generator.config(dtype)
    if config.dtype == "float32":
        return augment_on(generator.device, batch, params, config)
    x = augment_on(generator.device, batch, params,
                   generator.config("float32", delivered=False))
    return to_output(x, config.channels_last, config.out_channels_last, config.out_dtype,
                     array_module(x))
