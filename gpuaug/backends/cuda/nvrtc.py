"""Compiling and loading the fused kernels: the one module that loads CUDA code.

Each variant is compiled by NVRTC (through CuPy's bindings) to SASS for the device's
architecture on first use, kept on disk for later processes (:mod:`.disk_cache`), loaded
as a CUDA module and cached per device.  gpuaug
drives NVRTC itself rather than through ``cupy.RawModule`` because CuPy always adds
``-ftz=true`` (flush float32 subnormals to zero), which NumPy, the reference, never
does.  :func:`compile_for_arch` is the very function used at run time, so the CI
check that compiles every variant for sm_80 and sm_90 without a GPU compiles exactly
what a GPU will run.
"""

from __future__ import annotations

import struct
import threading
from dataclasses import dataclass
from typing import Any, Iterable

from . import disk_cache
from .disk_cache import Compiled
from .source import NVRTC_OPTIONS, kernel_source
from .variants import KernelVariant

__all__ = ["Compiled", "compile_cached", "compile_for_arch", "get_kernel", "get_plain_kernel",
           "whole_elf"]

_lock = threading.Lock()
_modules: dict[tuple[int, Any], "LoadedModule"] = {}  # (device, variant or entry file)


@dataclass
class LoadedModule:
    module: Any  # cupy.cuda.function.Module
    lowered: dict[str, str]


def compile_for_arch(name_expressions: Iterable[str], arch: str,
                     entry: str = "augment.cu") -> Compiled:
    """Compile kernel instantiations to SASS for ``arch`` (e.g. ``"sm_90"``), no GPU needed.

    NVRTC with the source of ``gpuaug/kernels/<entry>`` and :data:`NVRTC_OPTIONS` plus
    ``-arch``.  Raises RuntimeError with NVRTC's log on failure.
    """
    from cupy.cuda import nvrtc

    names = list(name_expressions)
    program = nvrtc.createProgram(kernel_source(entry), entry, (), ())
    try:
        for name in names:
            nvrtc.addNameExpression(program, name)
        try:
            nvrtc.compileProgram(program, NVRTC_OPTIONS + (f"-arch={arch}",))
        except nvrtc.NVRTCError as exc:
            raise RuntimeError(f"gpuaug: NVRTC failed for {arch}:\n"
                               f"{nvrtc.getProgramLog(program)}") from exc
        lowered = {name: nvrtc.getLoweredName(program, name) for name in names}
        return Compiled(whole_elf(nvrtc.getCUBIN(program)), nvrtc.getProgramLog(program),
                        lowered)
    finally:
        nvrtc.destroyProgram(program)


def whole_elf(cubin: bytes) -> bytes:
    """``cubin`` padded with zeros to the extent its ELF header declares.

    CuPy's ``getCUBIN`` returns the image one byte short of its program-header table
    (docs: shared gpu-notes): loading it from memory works (a ``bytes`` object ends in a
    NUL), but a file of it is not a valid ELF to ``cuobjdump`` / ``nvdisasm``, and the
    disk cache writes files.
    """
    if len(cubin) < 64 or cubin[:4] != b"\x7fELF" or cubin[4] != 2:  # ELF64 only
        return cubin
    phoff, shoff = struct.unpack_from("<QQ", cubin, 0x20)
    phentsize, phnum, shentsize, shnum = struct.unpack_from("<HHHH", cubin, 0x36)
    extent = max(phoff + phentsize * phnum, shoff + shentsize * shnum)
    return cubin + bytes(max(0, extent - len(cubin)))


def compile_cached(name_expressions: Iterable[str], arch: str,
                   entry: str = "augment.cu") -> Compiled:
    """:func:`compile_for_arch`, kept on disk between processes (:mod:`.disk_cache`)."""
    from cupy.cuda import nvrtc

    names = list(name_expressions)
    return disk_cache.cached(names, arch, kernel_source(entry), NVRTC_OPTIONS,
                             tuple(nvrtc.getVersion()),
                             lambda: compile_for_arch(names, arch, entry))


def get_kernel(variant: KernelVariant, kernel_pass: str, device_id: int) -> Any:
    """The kernel of ``variant``'s ``kernel_pass`` on device ``device_id``, compiled once.

    Returns a ``cupy.cuda.function.Function``: call it as ``kernel(grid, block, args)``.
    """
    loaded = _load(device_id, variant, variant.names(), "augment.cu")
    return loaded.module.get_function(loaded.lowered[variant.name(kernel_pass)])


def get_plain_kernel(entry: str, name: str, device_id: int) -> Any:
    """Kernel ``name`` (a C++ name expression) of ``gpuaug/kernels/<entry>``, compiled once."""
    loaded = _load(device_id, entry, [name], entry)
    return loaded.module.get_function(loaded.lowered[name])


def _load(device_id: int, key: Any, names: list[str], entry: str) -> LoadedModule:
    import cupy
    from cupy.cuda.function import Module

    with _lock:
        loaded = _modules.get((device_id, key))
        if loaded is None:
            with cupy.cuda.Device(device_id) as device:  # compute_capability: "90" for sm_90
                compiled = compile_cached(names, f"sm_{device.compute_capability}", entry)
                module = Module()
                module.load(compiled.cubin)
            loaded = _modules[(device_id, key)] = LoadedModule(module, compiled.lowered)
    return loaded
