"""The NumPy twin: Keras's augmentation for whole batches, bit-exact, the oracle of the kernels."""

from __future__ import annotations

from .backend import SUPPORTED_INPUT_DTYPES, NumpyBackend, keras_planar_layout

__all__ = ["SUPPORTED_INPUT_DTYPES", "NumpyBackend", "keras_planar_layout"]
