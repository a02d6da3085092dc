"""What this machine offers gpuaug: CUDA through CuPy, NVIDIA DALI, library versions, devices.

Every question about the environment is answered here, once, so the generator, the
iterators, ``gpuaug info`` and the benchmarks agree: whether CUDA is usable and why
not, whether DALI is installed, which version of a library is present, and what a
``device=`` string means.  Nothing here imports CuPy or DALI until asked.
"""

from __future__ import annotations

import functools
import importlib
from dataclasses import dataclass
from typing import Any, Optional

from .validation import choice_message

DEVICE_FORMS = ("auto", "cpu", "cuda", "cuda:N")


@dataclass(frozen=True)
class DeviceSpec:
    """A parsed ``device=`` value: ``kind`` is "auto", "cpu" or "cuda"; ``index`` the GPU."""

    kind: str
    index: Optional[int] = None

    def __str__(self) -> str:
        return self.kind if self.index is None else f"{self.kind}:{self.index}"


def parse_device(device: Any) -> DeviceSpec:
    """``"auto"``, ``"cpu"``, ``"cuda"`` (device 0) or ``"cuda:N"``; anything else is a ValueError.

    The one parser of device strings: the generator resolves ``device=`` with it and
    everything downstream reads a resolved ``"cpu"`` / ``"cuda:N"`` back through it.
    """
    if isinstance(device, str):
        if device in ("auto", "cpu"):
            return DeviceSpec(device)
        if device == "cuda":
            return DeviceSpec("cuda", 0)
        if device.startswith("cuda:") and device[5:].isdigit():
            return DeviceSpec("cuda", int(device[5:]))
    raise ValueError(choice_message("device", device, DEVICE_FORMS,
                                    why="N: the index of a CUDA device"))


def cuda_index(device: str) -> Optional[int]:
    """The GPU of a resolved device string ("cuda:N" -> N), or None for "cpu"."""
    return parse_device(device).index


@functools.lru_cache(maxsize=1)
def cuda_status() -> tuple[bool, str]:
    """``(usable, reason)``: whether CuPy imports and sees a CUDA device, and if not why.

    Asked once per process (importing CuPy and the driver query take a while).
    """
    try:
        import cupy
    except ImportError as exc:
        return False, f"CuPy is not installed ({exc}); {install_hint()}"
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as exc:  # CUDARuntimeError: no driver, insufficient driver, ...
        return False, _why_cuda_fails(cupy, exc)
    if count == 0:
        return False, "no CUDA device is visible"
    return True, f"{count} CUDA device(s)"


def driver_cuda_version() -> Optional[int]:
    """The CUDA version the NVIDIA driver supports (12040: 12.4), from libcuda; None without one.

    Asked of the driver library itself (``cuDriverGetVersion``), so it answers where CuPy
    is not installed, or is built for another CUDA: what ``gpuaug info`` needs to say
    which extras fit this machine.
    """
    import ctypes

    for name in ("libcuda.so.1", "libcuda.so", "nvcuda.dll"):
        try:
            lib = ctypes.CDLL(name)
        except OSError:
            continue
        version = ctypes.c_int(0)
        if lib.cuDriverGetVersion(ctypes.byref(version)) == 0 and version.value:
            return version.value
    return None


def install_hint(driver: Optional[int] = None) -> str:
    """Which extras fit this machine's driver, as a ``pip install`` line or a reason."""
    driver = driver_cuda_version() if driver is None else driver
    if not driver:
        return "no NVIDIA driver found: the CPU engine needs no extras"
    if driver >= 13000:
        return f"the driver supports CUDA {_cuda_version(driver)}: pip install 'gpuaug[cuda,dali]'"
    if driver >= 12000:
        return (f"the driver supports CUDA {_cuda_version(driver)}: "
                "pip install 'gpuaug[cuda12,dali12]'")
    return (f"the driver supports CUDA {_cuda_version(driver)}, older than 12.0: update the "
            "NVIDIA driver (gpuaug needs CUDA 12 or 13)")


def _cuda_version(code: int) -> str:
    return f"{code // 1000}.{code % 1000 // 10}"  # 13020 -> "13.2"


def _why_cuda_fails(cupy: Any, exc: Exception) -> str:
    """What stops CUDA here, in words: no driver, a driver older than CuPy's CUDA, or else."""
    try:
        driver = cupy.cuda.runtime.driverGetVersion()  # 0: no driver installed
        runtime = cupy.cuda.runtime.runtimeGetVersion()
    except Exception:
        return f"CUDA is not usable ({exc})"
    if driver == 0:
        return "no NVIDIA driver is installed"
    if driver < runtime:
        return (f"the NVIDIA driver supports CUDA {_cuda_version(driver)}, older than the CUDA "
                f"{_cuda_version(runtime)} this CuPy was built for: update the driver, or "
                f"install the CuPy and DALI built for it ({install_hint(driver)})")
    return f"CUDA is not usable ({exc})"


def dali_status() -> tuple[bool, str]:
    """``(usable, reason)``: whether NVIDIA DALI imports, and if not why."""
    try:
        import nvidia.dali as dali
    except ImportError as exc:
        return False, f"NVIDIA DALI is not installed ({exc}); {install_hint()}"
    return True, f"DALI {dali.__version__}"


def module_version(module: str) -> Optional[str]:
    """``module.__version__`` if it imports ("unknown" without one), else None."""
    try:
        return getattr(importlib.import_module(module), "__version__", "unknown")
    except Exception:
        return None


def distribution_version(name: str) -> Optional[str]:
    """The installed version of a distribution, read from its metadata without importing it.

    For packages whose import is expensive or has side effects (Keras imports its
    backend), or that may not import at all.
    """
    try:
        from importlib.metadata import version

        return version(name)
    except Exception:
        return None
