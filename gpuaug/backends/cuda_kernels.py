"""Compiling and caching the fused kernels: the one module that loads CUDA code.

At run time each variant is compiled by NVRTC through CuPy's ``RawModule`` on its
first use and cached per device (CuPy also keeps the binary in its on-disk cache,
so a second process starts warm).  :func:`compile_for_arch` runs the same NVRTC
compiler with the same source and options for a named architecture without a GPU,
which is how CI proves that every variant compiles.
"""

from __future__ import annotations

import threading
from typing import Any, Iterable

from .kernel_source import NVRTC_OPTIONS, kernel_source
from .kernel_variants import KernelVariant

_lock = threading.Lock()
_modules: dict[tuple[int, KernelVariant], Any] = {}


def get_kernel(variant: KernelVariant, kernel_pass: str, device_id: int) -> Any:
    """The ``cupy.RawKernel`` of ``variant``'s ``kernel_pass`` on device ``device_id``."""
    import cupy

    key = (device_id, variant)
    with _lock:
        module = _modules.get(key)
        if module is None:
            module = cupy.RawModule(code=kernel_source(), options=NVRTC_OPTIONS,
                                    name_expressions=list(variant.names()))
            _modules[key] = module
    try:
        return module.get_function(variant.name(kernel_pass))
    except cupy.cuda.compiler.CompileException as exc:
        raise RuntimeError(f"gpuaug: compiling the CUDA kernel {variant.name(kernel_pass)} "
                           f"failed:\n{exc}") from exc


def compile_for_arch(name_expressions: Iterable[str], arch: str) -> tuple[bytes, str]:
    """Compile kernel instantiations to SASS for ``arch`` (e.g. ``"sm_90"``), no GPU needed.

    Uses CuPy's NVRTC bindings with the run-time source and options plus
    ``-arch``; returns ``(cubin, compiler log)``.  Raises RuntimeError with
    NVRTC's log on failure.
    """
    from cupy.cuda import nvrtc

    program = nvrtc.createProgram(kernel_source(), "augment.cu", (), ())
    try:
        for name in name_expressions:
            nvrtc.addNameExpression(program, name)
        try:
            nvrtc.compileProgram(program, NVRTC_OPTIONS + (f"-arch={arch}",))
        except nvrtc.NVRTCError as exc:
            raise RuntimeError(f"NVRTC failed for {arch}:\n{nvrtc.getProgramLog(program)}") from exc
        return nvrtc.getCUBIN(program), nvrtc.getProgramLog(program)
    finally:
        nvrtc.destroyProgram(program)
