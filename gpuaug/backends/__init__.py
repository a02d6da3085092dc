"""Backends: one ``apply`` / ``augment`` interface, two implementations as twins.

- :mod:`.reference`: NumPy, the oracle for every kernel and the CPU fallback;
- :mod:`.cuda`: the fused CUDA kernels (``gpuaug/kernels/``) and their host side;
- :mod:`.interface`: what Python and the kernels share, declared once.

:func:`backend_for` is the dispatch: the batch's device picks the implementation.
"""

from __future__ import annotations

from typing import Any

from .reference import NumpyBackend

__all__ = ["NumpyBackend", "backend_for"]


def backend_for(x: Any) -> Any:
    """The backend for an array: NumPy on the CPU, CUDA where ``x`` lives on a GPU."""
    if hasattr(x, "__cuda_array_interface__"):
        from .cuda import cuda_backend

        return cuda_backend(int(x.device.id))  # the engine hands over CuPy arrays
    return NumpyBackend()
