"""The CuPy launcher: the fused kernels run on a GPU, and the CUDA backend of a device.

The batch stays on the device from input to output; the only host-to-device copy
per batch is the packed parameter buffer (a few hundred bytes).  Kernels run on
CuPy's current stream of the batch's device.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from ...environment import cuda_status
from ...errors import Unavailable
from .fused import FusedBackend
from .nvrtc import get_kernel
from .variants import KernelVariant


class CupyLauncher:
    """Runs the fused kernels on one CUDA device through CuPy."""

    def __init__(self, device_id: int) -> None:
        import cupy

        self.xp = cupy
        self.device_id = device_id
        self._device = cupy.cuda.Device(device_id)

    def context(self) -> Any:
        return self._device

    def upload(self, host: np.ndarray) -> Any:
        with self._device:
            return self.xp.asarray(host)

    def allocate(self, shape: tuple[int, ...], dtype: np.dtype) -> Any:
        cupy = self.xp
        with self._device:
            try:
                return cupy.empty(shape, dtype=dtype)
            except cupy.cuda.memory.OutOfMemoryError as exc:
                # FusedBackend says what the buffer was for and for how many images.
                raise MemoryError(f"out of GPU memory on cuda:{self.device_id} ({exc})") from exc

    def launch(self, variant: KernelVariant, kernel_pass: str, grid: tuple[int, int, int],
               block: tuple[int, int, int], args: tuple) -> None:
        with self._device:
            get_kernel(variant, kernel_pass, self.device_id)(grid, block, args)


@functools.lru_cache(maxsize=None)
def cuda_backend(device_id: int = 0) -> FusedBackend:
    """The CUDA backend of device ``device_id`` (one per device, cached)."""
    usable, reason = cuda_status()
    if not usable:
        raise Unavailable(f"gpuaug: the CUDA backend is not available: {reason}")
    import cupy

    count = cupy.cuda.runtime.getDeviceCount()
    if not 0 <= device_id < count:
        raise Unavailable(f"gpuaug: cuda:{device_id} does not exist; {count} device(s) visible")
    return FusedBackend(CupyLauncher(device_id), name=f"cuda:{device_id}")
