"""The CUDA twin of the reference backend: the fused kernels' host side and their launch.

``fused.FusedBackend`` turns ``apply`` / ``augment`` into kernel launches for any
``Launcher``; ``launch_args`` packs the batch's one upload; ``variants`` names the
compile-time instantiations; ``source`` assembles the kernel source with the generated
interface; ``nvrtc`` compiles and loads it (the one module that loads CUDA code);
``launcher`` runs it through CuPy.  Only ``nvrtc`` and ``launcher`` import CuPy, and
only when called.
"""

from __future__ import annotations

from .fused import FusedBackend, Launcher


def cuda_backend(device_id: int = 0) -> FusedBackend:
    """The CUDA backend of device ``device_id`` (one per device, cached)."""
    from .launcher import cuda_backend as _cuda_backend

    return _cuda_backend(device_id)


__all__ = ["FusedBackend", "Launcher", "cuda_backend"]
