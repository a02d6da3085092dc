"""The backends judged against the NumPy reference, and how they are judged.

One test body runs against every fused-kernel backend: the host emulation of the
CUDA kernels (always) and the real CUDA backend (``gpu`` marker; skipped with a
reason where no device exists).  Both allocate their outputs poisoned (every byte
0xFF: NaN for floats, 255 for uint8), so a pixel the kernels fail to write fails.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from gpuaug.backends.cuda import FusedBackend

BACKENDS = ["emulated", pytest.param("cuda", marks=pytest.mark.gpu)]


def make_backend(kind: str, build_dir) -> FusedBackend:
    if kind == "emulated":
        from emulation import emulated_backend

        return emulated_backend(build_dir)
    import cupy

    from gpuaug.backends.cuda.launcher import CupyLauncher

    class PoisoningLauncher(CupyLauncher):
        def allocate(self, shape, dtype):
            out = super().allocate(shape, dtype)
            out.view(cupy.uint8).fill(0xFF)
            return out

    return FusedBackend(PoisoningLauncher(0), name="cuda:0")


def to_host(x: Any) -> np.ndarray:
    if hasattr(x, "__cuda_array_interface__"):
        import cupy

        return cupy.asnumpy(x)
    return np.asarray(x)


def to_device(backend: FusedBackend, x: np.ndarray) -> Any:
    return backend.xp.asarray(x)


def ulp16(values: np.ndarray, dtype_name: str) -> np.ndarray:
    """One unit in the last place of a float16 / bfloat16 value, elementwise."""
    mant = 10 if dtype_name == "float16" else 7
    mag = np.abs(values)
    with np.errstate(divide="ignore"):
        exp = np.floor(np.log2(np.where(mag > 0, mag, 1.0)))
    return np.exp2(exp - mant)


def assert_matches_reference(out: np.ndarray, ref: np.ndarray, *, order: int, fill_mode: str,
                             exact: bool, brightness: float | None = None) -> None:
    """docs/semantics.md §14's tolerances for a kernel against the NumPy reference.

    - ``exact``: bit for bit (the host emulation runs the reference's arithmetic);
    - otherwise every value within ``5e-5 x (max - min)`` of the reference (one
      level for uint8, one unit in the last place for 16-bit floats), except that
      order 0 and the constant / wrap edges may differ in 0.01 % of values and,
      with brightness, 0.05 % of values may be off by up to ceil(b_max) levels.
    """
    assert out.flags.c_contiguous, "a backend's batch is C-contiguous"
    assert out.shape == ref.shape and out.dtype == ref.dtype, (
        out.shape, out.dtype, ref.shape, ref.dtype)
    if exact:
        np.testing.assert_array_equal(out.view(np.uint8), ref.view(np.uint8))
        return
    a = out.astype(np.float64)
    b = ref.astype(np.float64)
    assert not np.isnan(a[~np.isnan(b)]).any(), "unwritten (poisoned) values in the kernel output"
    span = max(float(np.nanmax(b) - np.nanmin(b)), 1.0) if b.size else 1.0
    tol = np.full(b.shape, 5e-5 * span)
    if out.dtype == np.uint8:
        tol[...] = 1.0
    elif out.dtype.itemsize == 2:
        tol = np.maximum(tol, ulp16(b, out.dtype.name))
    diff = np.abs(a - b)
    off = ~(diff <= tol) & ~(np.isnan(a) & np.isnan(b))
    allowed = 0.0
    if order == 0 or fill_mode in ("constant", "wrap"):
        allowed = 1e-4
    if brightness is not None:
        allowed = 5e-4
        if off.any():
            assert diff[off].max() <= math.ceil(brightness) * span / 255 + tol.max()
    assert off.mean() <= allowed, (
        f"{int(off.sum())} of {off.size} values differ by more than the tolerance "
        f"(max diff {float(np.nanmax(diff)) if diff.size else 0.0})")
