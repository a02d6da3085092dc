"""Run gpuaug's CUDA kernels on the CPU: the fused backend with a host launcher.

:class:`EmulatedLauncher` compiles the kernel source NVRTC compiles (assembled by
:func:`gpuaug.backends.cuda.source.kernel_source`, the generated interface included)
for the host with the C++ compiler (one shared library per kernel variant, cached
for the test session) and runs each launch block by block with one thread per block
(``host_shim.h``).  Plugged into :class:`gpuaug.backends.cuda.FusedBackend`, it
exercises the CUDA backend's whole host side (variant choice, packing, pass
selection, argument order) and the kernels' arithmetic against the NumPy reference
on machines without a GPU.
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from gpuaug.backends.cuda import FusedBackend
from gpuaug.backends.cuda.source import kernel_source
from gpuaug.backends.cuda.variants import KernelVariant

HERE = Path(__file__).resolve().parent
COMPILER = shutil.which("g++") or shutil.which("c++") or shutil.which("clang++")


def _sources_digest() -> str:
    h = hashlib.sha256(kernel_source().encode())
    h.update(kernel_source("resize.cu").encode())
    for path in sorted([*HERE.glob("*.cpp"), *HERE.glob("*.h")]):
        h.update(path.name.encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


def _aside(folder: Path) -> Path:
    """A new file name in ``folder`` to build into, then rename (os.replace) into place."""
    handle, name = tempfile.mkstemp(suffix=".tmp.so", dir=folder)
    os.close(handle)
    return Path(name)


def poison(shape: tuple[int, ...], dtype: Any) -> np.ndarray:
    """An array whose every byte is 0xFF: NaN for floats, 255 for uint8."""
    out = np.empty(shape, dtype=dtype)
    out.view(np.uint8)[...] = 0xFF
    return out


class EmulatedLauncher:
    """The :class:`~gpuaug.backends.cuda.fused.Launcher` of the host build."""

    xp = np

    def __init__(self, build_dir: Path) -> None:
        if COMPILER is None:
            raise RuntimeError("no C++ compiler (g++, c++ or clang++) on PATH")
        self.build_dir = Path(build_dir)
        self.build_dir.mkdir(parents=True, exist_ok=True)
        self._digest = _sources_digest()
        # The assembled source, in a folder of its own per digest (builds of several
        # checkouts can share the directory).
        self._source_dir = self.build_dir / f"source-{self._digest}"
        self._source_dir.mkdir(exist_ok=True)
        source = self._source_dir / "kernel_source.cu"
        if not source.exists():  # written once, atomically: test runs may share the folder
            partial = source.with_suffix(f".{os.getpid()}.tmp")
            partial.write_text(kernel_source())
            os.replace(partial, source)
        self._libs: dict[KernelVariant | None, ctypes.CDLL] = {}
        self.launches: list[str] = []  # pass names in launch order, for assertions

    def library(self, variant: KernelVariant | None = None) -> ctypes.CDLL:
        """The host build of ``variant`` (None: any build, for the element helpers)."""
        if variant is None:
            variant = KernelVariant("uint8", "float32", "float32", 1, "nearest", False)
        lib = self._libs.get(variant)
        if lib is None:
            template = variant.template_arguments()
            defines = {f"GPUAUG_{key}": template[arg] for key, arg in (
                ("IN_T", "InT"), ("OUT_T", "OutT"), ("WORK", "WORK"), ("ORDER", "ORDER"),
                ("MODE", "MODE"), ("INPUT", "INPUT"), ("OUT_CHW", "OUT_CHW"),
                ("PRECISION", "PRECISION"))}
            tag = hashlib.sha256(repr(sorted(defines.items())).encode()).hexdigest()[:16]
            path = self.build_dir / f"augment-{self._digest}-{tag}.so"
            if not path.exists():  # built aside, then renamed: test workers share the folder
                partial = _aside(self.build_dir)
                cmd = [COMPILER, "-std=c++17", "-O1", "-ffp-contract=off", "-fno-fast-math",
                       "-shared", "-fPIC", f"-I{self._source_dir}", f"-I{HERE}",
                       *(f"-D{k}={v}" for k, v in defines.items()),
                       str(HERE / "emulate.cpp"), "-o", str(partial)]
                subprocess.run(cmd, check=True, capture_output=True, text=True)
                os.replace(partial, path)
            lib = ctypes.CDLL(str(path))
            self._libs[variant] = lib
        return lib

    # --------------------------------------------------------- Launcher protocol
    def context(self):
        return contextlib.nullcontext()

    def upload(self, host: np.ndarray) -> np.ndarray:
        return host.copy()

    def allocate(self, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
        return poison(shape, dtype)  # unwritten pixels cannot pass for results

    def launch(self, variant: KernelVariant, kernel_pass: str, grid: tuple[int, int, int],
               block: tuple[int, int, int], args: tuple) -> None:
        variant.name(kernel_pass)  # a pass the GPU build does not compile fails here too
        fn = getattr(self.library(variant), f"emulate_{kernel_pass}")
        fn.restype = None
        fn(ctypes.c_uint(grid[0]), ctypes.c_uint(grid[1]), *map(_c_arg, args))
        self.launches.append(kernel_pass)


def _c_arg(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        assert value.flags.c_contiguous, "kernels take contiguous arrays"
        return ctypes.c_void_p(value.ctypes.data)
    if isinstance(value, np.int64):
        return ctypes.c_longlong(int(value))
    if isinstance(value, np.int32):
        return ctypes.c_int(int(value))
    if isinstance(value, np.float64):
        return ctypes.c_double(float(value))
    raise TypeError(f"kernel argument of unexpected type {type(value).__name__}: {value!r}")


def emulated_backend(build_dir: Path) -> FusedBackend:
    return FusedBackend(EmulatedLauncher(build_dir), name="cuda-emulated")


def resize_launch(build_dir: Path):
    """:mod:`gpuaug.sources.batch_resize`'s ``launch`` for the host build of resize.cu.

    The ResizeSource records hold host addresses here (NumPy arrays' data).
    """
    if COMPILER is None:
        raise RuntimeError("no C++ compiler (g++, c++ or clang++) on PATH")
    build_dir = Path(build_dir)
    digest = _sources_digest()
    source_dir = build_dir / f"resize-source-{digest}"
    source_dir.mkdir(parents=True, exist_ok=True)
    source = source_dir / "resize_source.cu"
    if not source.exists():
        partial = source.with_suffix(f".{os.getpid()}.tmp")
        partial.write_text(kernel_source("resize.cu"))
        os.replace(partial, source)
    path = build_dir / f"resize-{digest}.so"
    if not path.exists():
        partial = _aside(build_dir)
        subprocess.run([COMPILER, "-std=c++17", "-O1", "-shared", "-fPIC", f"-I{source_dir}",
                        f"-I{HERE}", str(HERE / "emulate_resize.cpp"), "-o", str(partial)],
                       check=True, capture_output=True, text=True)
        os.replace(partial, path)
    fn = ctypes.CDLL(str(path)).emulate_resize_nearest
    fn.restype = None

    def launch(grid, block, args):
        fn(ctypes.c_uint(grid[0]), ctypes.c_uint(grid[1]), *map(_c_arg, args))

    return launch
