"""The last step of a batch: deliver it in the requested dtype and layout.

Shared by the NumPy reference and the CUDA backend's unfused path (``xp`` is
``numpy`` or ``cupy``); the fused kernel does the same conversion per value
(``store_value`` in ``gpuaug/kernels/numeric.cuh``, its twin). The rules are gpuaug's own
(docs/semantics.md §13, "Output dtypes"): float16 and bfloat16 are rounded here, so that no
library's float64 cast (which differs between libraries and versions) decides them.
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


#: The 16-bit float outputs, which gpuaug rounds itself (docs/semantics.md §13, "Output dtypes").
SMALL_FLOATS = ("float16", "bfloat16")


def float32_rounded_to_odd(x: Any, xp: Any = np) -> Any:
    """``x`` (float64) as float32, toward zero, with the last bit set wherever that was inexact.

    Rounding this to nearest in a format of at most 22 significant bits with float32's
    exponent range or less (float16, bfloat16) gives ``x`` rounded to that format once: the
    set bit keeps an inexact value off every midpoint of the narrower format (Boldo and
    Melquiond, "When double rounding is odd", 2005). Overflow goes to float32's largest value
    (odd), which every 16-bit format rounds to infinity.
    """
    with np.errstate(over="ignore"):  # past float32's range: handled below, not an error
        nearest = x.astype(xp.float32)
    wide = nearest.astype(xp.float64)
    bits = nearest.view(xp.uint32)
    # Where rounding to nearest went away from zero, the truncation is the float32 just below
    # in magnitude: one less in the (sign-magnitude) bits. A NaN never went away from zero,
    # and counts as inexact: its last bit set, it is still a NaN of its sign.
    bits -= xp.abs(wide) > xp.abs(x)
    bits |= wide != x
    return nearest


def round_to_small_float(x: Any, out_dtype: str, xp: Any = np) -> Any:
    """``x`` rounded once, to nearest even, to float16 or bfloat16.

    The project's own rounding of those outputs (docs/semantics.md §13, "Output dtypes")
    rather than whatever a library's float64 cast does: from float64, ml_dtypes < 0.7, torch,
    JAX and TensorFlow round through float32 (twice); NumPy's float16 cast and ml_dtypes >= 0.7
    once, as here. The kernels round from the bit patterns instead (``round_to_small_float`` in
    ``gpuaug/kernels/numeric.cuh``); tests/test_output_rounding.py holds both to the definition.

    Args:
        x: a float16, float32 or float64 array.
        out_dtype: ``"float16"`` or ``"bfloat16"``.
        xp: ``numpy`` or ``cupy``, the module of ``x``.

    Returns:
        ``x`` in ``out_dtype``: values from the largest finite one plus half its ulp up become
        infinity, NaN a quiet NaN of its sign, values at most half the smallest subnormal a
        zero of their sign.
    """
    if x.dtype == xp.float64:
        x = float32_rounded_to_odd(x, xp)
    if out_dtype == "float16":
        out = x.astype(xp.float16)  # from float32 or float16: IEEE's one rounding (or none)
        quiet_nan = 0x7E00
    else:
        bits = xp.ascontiguousarray(x, dtype=xp.float32).view(xp.uint32)
        # To nearest even on the upper 16 bits; a carry into the exponent is the next binade,
        # or infinity, as it should be.
        nearest = (bits >> 16) & 1
        nearest += 0x7FFF
        nearest += bits
        nearest >>= 16
        out = nearest.astype(xp.uint16).view(numpy_dtype("bfloat16"))
        quiet_nan = 0x7FC0
    nan = xp.isnan(x)
    if nan.any():  # the kernels' NaN: the format's quiet NaN with the sign, no payload
        out.view(xp.uint16)[nan] = xp.signbit(x[nan]).astype(xp.uint16) << 15 | quiet_nan
    return out


def to_output(x: Any, channels_last: bool, out_channels_last: bool, out_dtype: str, xp: Any = np):
    """Transpose ``x`` (B, ., ., .) to the output layout and convert it to ``out_dtype``."""
    if channels_last != out_channels_last:
        x = x.transpose(0, 2, 3, 1) if out_channels_last else x.transpose(0, 3, 1, 2)
    if out_dtype == "uint8":
        x = xp.clip(xp.rint(xp.nan_to_num(x, nan=0.0, posinf=255.0, neginf=0.0)), 0, 255)
    elif out_dtype in SMALL_FLOATS and x.dtype != numpy_dtype(out_dtype):
        return xp.ascontiguousarray(round_to_small_float(x, out_dtype, xp))
    return xp.ascontiguousarray(x.astype(numpy_dtype(out_dtype), copy=False))
