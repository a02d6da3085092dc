"""The last step of a batch: deliver it in the requested dtype and layout.

Shared by the NumPy reference and the CUDA backend's unfused path (``xp`` is
``numpy`` or ``cupy``); the fused kernel does the same conversion per value
(``store_value`` in ``gpuaug/kernels/numeric.cuh``, its twin).
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from ...validation import check_choice

#: Output dtypes a batch can be delivered in.
OUTPUT_DTYPES = ("float32", "float16", "bfloat16", "uint8", "float64")


def bfloat16_dtype() -> np.dtype:
    """NumPy's bfloat16 (from ml_dtypes, which JAX and CuPy also use)."""
    try:
        import ml_dtypes
    except ImportError:  # pragma: no cover - depends on the environment
        raise ImportError(
            "output_dtype='bfloat16' needs the ml_dtypes package: pip install ml_dtypes"
        ) from None
    return np.dtype(ml_dtypes.bfloat16)


@functools.lru_cache(maxsize=None)
def dtype_name(dtype: np.dtype) -> str:
    """``dtype.name``, which NumPy works out in Python each time it is read (per batch here)."""
    return dtype.name


@functools.lru_cache(maxsize=None)
def numpy_dtype(name: str) -> np.dtype:
    return bfloat16_dtype() if name == "bfloat16" else np.dtype(name)


def check_output_dtype(name: Any, work_dtype: str) -> str:
    """Validate ``output_dtype`` against the working dtype; returns its name."""
    check_choice("output_dtype", name, OUTPUT_DTYPES)
    if name == "float64" and work_dtype != "float64":
        raise ValueError(
            "`output_dtype='float64'` needs dtype='float64' (a wider output than the "
            f"working dtype {work_dtype!r} would invent precision)"
        )
    return name


def to_output(x: Any, channels_last: bool, out_channels_last: bool, out_dtype: str, xp: Any = np):
    """Transpose ``x`` (B, ., ., .) to the output layout and convert it to ``out_dtype``."""
    if channels_last != out_channels_last:
        x = x.transpose(0, 2, 3, 1) if out_channels_last else x.transpose(0, 3, 1, 2)
    if out_dtype == "uint8":
        x = xp.clip(xp.rint(xp.nan_to_num(x, nan=0.0, posinf=255.0, neginf=0.0)), 0, 255)
    return xp.ascontiguousarray(x.astype(numpy_dtype(out_dtype), copy=False))
