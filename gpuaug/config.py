"""The static part of an augmentation: everything but the per-sample draws."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Optional

import numpy as np


@dataclass(frozen=True)
class AugmentConfig:
    """What :func:`gpuaug.augment_batch` needs besides the batch and its parameters.

    ``dtype`` is the working and output dtype (Keras's generator ``dtype``);
    inputs of other dtypes (uint8 typically) are converted to it first, as the
    Keras iterators do.  ``mean``, ``std`` and ``zca_whitening_matrix`` are the
    statistics :meth:`ImageDataGenerator.fit` computes (None until fitted).

    ``output_dtype`` and ``output_data_format`` (gpuaug's own) choose what the
    augmented batch is delivered as; None keeps ``dtype`` and ``data_format``.
    ``rng`` is the generator's draw mode: ``"keras"`` composes matrices with Keras's
    rounding, ``"keyed"`` in plain float64 (:func:`gpuaug.compose.compose_matrices`).
    ``precision`` is the CUDA kernels' warp arithmetic: ``"exact"`` (SciPy's float64,
    bit for bit) or ``"fast"`` (float32 coordinates, weights and taps); the NumPy
    reference is always exact.
    The conversion is the last step, after standardization: ``"uint8"`` rounds
    half to even and saturates to 0..255 (NaN 0), the float outputs round once to nearest
    even (docs/semantics.md §13, "Output dtypes").
    """

    data_format: str = "channels_last"
    dtype: str = "float32"
    interpolation_order: int = 1
    fill_mode: str = "nearest"
    cval: float = 0.0
    compat: str = "keras"
    rescale: Any = None
    preprocessing_function: Optional[Callable[[np.ndarray], np.ndarray]] = None
    samplewise_center: bool = False
    samplewise_std_normalization: bool = False
    featurewise_center: bool = False
    featurewise_std_normalization: bool = False
    zca_whitening: bool = False
    mean: Optional[np.ndarray] = None
    std: Optional[np.ndarray] = None
    zca_whitening_matrix: Optional[np.ndarray] = None
    output_dtype: Optional[str] = None
    output_data_format: Optional[str] = None
    rng: str = "keras"
    precision: str = "exact"

    @property
    def out_dtype(self) -> str:
        """The dtype of the delivered batch."""
        return self.dtype if self.output_dtype is None else self.output_dtype

    @property
    def out_channels_last(self) -> bool:
        """Whether the delivered batch is channels-last."""
        fmt = self.data_format if self.output_data_format is None else self.output_data_format
        return fmt == "channels_last"

    @property
    def channels_last(self) -> bool:
        return self.data_format == "channels_last"
