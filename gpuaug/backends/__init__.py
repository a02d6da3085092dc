"""Backends: one ``apply`` interface, one implementation per device.

``NumpyBackend`` is the reference (and the CPU fallback); the CUDA backend
implements the same ``apply`` signature and is judged against it.
"""

from __future__ import annotations

from .numpy_backend import NumpyBackend

__all__ = ["NumpyBackend"]
