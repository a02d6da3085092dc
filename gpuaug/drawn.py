"""Drawn parameters and what the engine derives from them, made once for many samples.

A batch's host work is a few dozen NumPy calls (draw, compose the matrices, pack the
kernel's records), each costing about as much as its call overhead, whatever the
batch size.  Made once for a stretch of samples (a :class:`DrawnSpan`) and handed out
as views (:class:`DrawnBatch`), that work is paid once per stretch instead of once per
batch.  The iterators draw a stretch ahead in both modes (:mod:`gpuaug.iterators.ahead`
says how drawing early changes nothing); parameters a caller hands over directly are a
span of their own batch.

Everything a span derives is keyed by what it depends on (image size, compatibility
mode, rounding, working dtype) and made at most once, under the span's lock: the
threads of a prefetcher or of ``workers=`` may ask for it together.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import numpy as np

from .backends.cuda.launch_args import pack_sample_words  # NumPy only: no CUDA
from .compose import compose_matrices
from .params import TransformParams


class DrawnSpan:
    """The parameters of consecutive samples, with their matrices and packed records."""

    def __init__(self, params: TransformParams) -> None:
        self.params = params
        self._lock = threading.RLock()  # records() asks for matrices() while holding it
        self._derived: dict[tuple, np.ndarray] = {}

    def __len__(self) -> int:
        return len(self.params)

    def batch(self, start: int, stop: int) -> "DrawnBatch":
        """Samples ``start:stop`` of the span (views of its arrays)."""
        if start == 0 and stop == len(self.params):
            return DrawnBatch(self, start, stop, self.params)
        return DrawnBatch(self, start, stop, self.params.view(start, stop))

    def matrices(self, height: int, width: int, compat: str, keras_rounding: bool) -> np.ndarray:
        """:func:`~gpuaug.compose.compose_matrices` of the whole span, made once."""
        key = ("matrices", height, width, compat, keras_rounding)
        return self._once(key, lambda: compose_matrices(
            self.params, height, width, compat, keras_rounding=keras_rounding))

    def records(self, height: int, width: int, compat: str, keras_rounding: bool,
                work_dtype: str, precision: str = "exact") -> np.ndarray:
        """The fused kernels' sample records of the whole span, as ``(n, words)`` float64 words.

        ``precision`` "fast" packs the float32 geometry the fast kernels read.
        """
        key = ("records", height, width, compat, keras_rounding, work_dtype, precision)
        return self._once(key, lambda: pack_sample_words(
            self.matrices(height, width, compat, keras_rounding), self.params, work_dtype,
            fast_image=(height, width) if precision == "fast" else None))

    def _once(self, key: tuple, make: Any) -> np.ndarray:
        value = self._derived.get(key)
        if value is None:
            with self._lock:
                value = self._derived.get(key)
                if value is None:
                    value = self._derived[key] = make()
        return value


@dataclass(frozen=True)
class DrawnBatch:
    """One batch's share of a :class:`DrawnSpan`: ``params`` and slices of what derives from it."""

    span: DrawnSpan
    start: int
    stop: int
    params: TransformParams

    @classmethod
    def of(cls, params: TransformParams) -> "DrawnBatch":
        """A batch that is its own span (parameters given by a caller, or drawn per batch)."""
        return DrawnSpan(params).batch(0, len(params))

    def __len__(self) -> int:
        return self.stop - self.start

    def matrices(self, height: int, width: int, compat: str, keras_rounding: bool) -> np.ndarray:
        return self.span.matrices(height, width, compat, keras_rounding)[self.start:self.stop]

    def records(self, height: int, width: int, compat: str, keras_rounding: bool,
                work_dtype: str, precision: str = "exact") -> np.ndarray:
        return self.span.records(height, width, compat, keras_rounding, work_dtype,
                                 precision)[self.start:self.stop]

    def subset(self, kept: np.ndarray) -> "DrawnBatch":
        """The samples ``kept`` (indices into this batch), as a batch of their own."""
        return DrawnBatch.of(self.params[kept])
