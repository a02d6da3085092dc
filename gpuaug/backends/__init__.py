"""Backends: one ``apply`` / ``augment`` interface, one implementation per device.

``NumpyBackend`` is the reference (and the CPU fallback); the CUDA backend
(:mod:`.cuda_backend`, a :class:`.fused_backend.FusedBackend` with a CuPy
launcher) implements the same methods and is judged against it.
"""

from __future__ import annotations

from typing import Any

from .numpy_backend import NumpyBackend

__all__ = ["NumpyBackend", "backend_for"]


def backend_for(x: Any) -> Any:
    """The backend for an array: NumPy on the CPU, CUDA where ``x`` lives on a GPU."""
    if hasattr(x, "__cuda_array_interface__"):
        from .cuda_backend import cuda_backend

        return cuda_backend(int(x.device.id))  # the engine hands over CuPy arrays
    return NumpyBackend()
