"""The last step of a batch: deliver it in the requested dtype and layout.

Shared by the NumPy reference and the CUDA backend's unfused path (``xp`` is
``numpy`` or ``cupy``); the fused kernel does the same conversion per value
(``store_value`` in ``gpuaug/kernels/numeric.cuh``, its twin). The rules are gpuaug's own
(docs/semantics.md §13, "Output dtypes"): float16 and bfloat16 are rounded here, from the
bit patterns, so that no library's cast (which differs between versions) decides them.
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


#: The (exponent bits, stored mantissa bits) of the 16-bit output formats.
SMALL_FLOATS = {"float16": (5, 10), "bfloat16": (8, 7)}


def round_to_small_float(x: Any, exp_bits: int, mant_bits: int, xp: Any = np) -> Any:
    """The bits of ``x`` rounded once, to nearest even, to a 16-bit binary float format.

    The project's own rounding of float16 and bfloat16 outputs (docs/semantics.md §13, "Output
    dtypes"), rather than a library's cast: from float64, ml_dtypes < 0.7, torch, JAX and
    TensorFlow round through float32 (twice); NumPy's float16 cast and ml_dtypes >= 0.7 once,
    as here. The twin of
    ``round_to_small_float`` in ``gpuaug/kernels/numeric.cuh``, step for step.

    Args:
        x: a float array (float16, float32 or float64: each converts to float64 exactly).
        exp_bits: the format's exponent bits (5 for float16, 8 for bfloat16).
        mant_bits: its stored mantissa bits (10 for float16, 7 for bfloat16).
        xp: ``numpy`` or ``cupy``, the module of ``x``.

    Returns:
        A uint16 array of ``x``'s shape: the rounded values' bit patterns. Values past the
        largest finite one round to infinity, NaN becomes the format's quiet NaN with ``x``'s
        sign, and values at most half the smallest subnormal become a zero of ``x``'s sign.
    """
    u64 = xp.uint64
    bits = xp.ascontiguousarray(x, dtype=xp.float64).view(u64)
    bias = (1 << (exp_bits - 1)) - 1
    inf_bits = ((1 << exp_bits) - 1) << mant_bits
    sign = (bits >> u64(63)) << u64(exp_bits + mant_bits)
    exp = ((bits >> u64(52)) & u64(0x7FF)).astype(xp.int64)
    frac = bits & u64((1 << 52) - 1)
    e = exp - 1023
    significand = frac | u64(1 << 52)
    # Normal in the target: drop 52 - mant_bits bits; subnormal: as many more as e is below
    # its smallest normal exponent. Past 54 dropped bits the value is under a quarter of the
    # smallest subnormal; the shift is clipped to 63 there (and the result is zero anyway).
    normal = e >= 1 - bias
    shift = (52 - mant_bits) + xp.where(normal, 0, (1 - bias) - e)
    shift = xp.minimum(shift, 63).astype(u64)
    kept = significand >> shift
    base = xp.where(normal, (xp.maximum(e + bias, 0).astype(u64) << u64(mant_bits))
                    | (kept & u64((1 << mant_bits) - 1)), kept)
    rest = significand & ((u64(1) << shift) - u64(1))
    half = u64(1) << (shift - u64(1))
    base = base + ((rest > half) | ((rest == half) & ((base & u64(1)) == 1))).astype(u64)
    # A carry out of the mantissa reaches the next binade, or infinity: both correct.
    out = xp.where(shift > 54, u64(0), base)
    out = xp.where(exp == 0, u64(0), out)  # zero, or a float64 subnormal: far below range
    out = xp.where(e > bias, u64(inf_bits), out)
    out = xp.where(exp == 0x7FF, u64(inf_bits) | xp.where(frac != 0, u64(1 << (mant_bits - 1)),
                                                          u64(0)), out)
    return (sign | out).astype(xp.uint16)


def to_output(x: Any, channels_last: bool, out_channels_last: bool, out_dtype: str, xp: Any = np):
    """Transpose ``x`` (B, ., ., .) to the output layout and convert it to ``out_dtype``."""
    if channels_last != out_channels_last:
        x = x.transpose(0, 2, 3, 1) if out_channels_last else x.transpose(0, 3, 1, 2)
    if out_dtype == "uint8":
        x = xp.clip(xp.rint(xp.nan_to_num(x, nan=0.0, posinf=255.0, neginf=0.0)), 0, 255)
    elif out_dtype in SMALL_FLOATS and x.dtype != numpy_dtype(out_dtype):
        return round_to_small_float(x, *SMALL_FLOATS[out_dtype], xp).view(numpy_dtype(out_dtype))
    return xp.ascontiguousarray(x.astype(numpy_dtype(out_dtype), copy=False))
