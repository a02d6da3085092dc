"""The CUDA C++ source of the fused kernels, as one self-contained string.

The sources live in ``gpuaug/kernels/`` (package data, read the same way from a
wheel and from a checkout).  Local ``#include "..."`` lines are inlined here, and
``interface.cuh``, which exists on no disk, is generated from
:mod:`gpuaug.backends.interface` at this point (as CuPy's ``_pba_2d`` prepends the
constants its kernels need), so Python and CUDA cannot disagree on an enum or a
record.  The string handed to NVRTC (and, written to a file, to the host emulation
of the test suite) is the whole program; a changed header can never be served from
a stale cache entry.
"""

from __future__ import annotations

import functools
import re
from importlib import resources
from pathlib import Path

from ..interface import cuda_header

_INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"[^\n]*$', re.MULTILINE)
_PRAGMA_ONCE = re.compile(r"^\s*#\s*pragma\s+once\s*$", re.MULTILINE)
GENERATED_HEADER = "interface.cuh"

#: NVRTC options used at run time and by the compile check.  NumPy never fuses a
#: multiply and an add (-fmad=false, a second guard on top of the explicit _rn
#: intrinsics), keeps float32 subnormals (-ftz=false) and divides and takes square
#: roots correctly rounded (-prec-div, -prec-sqrt).
NVRTC_OPTIONS = ("-std=c++17", "-fmad=false", "-ftz=false", "-prec-div=true", "-prec-sqrt=true",
                 "--device-as-default-execution-space")


def _read(name: str) -> str:
    if name == GENERATED_HEADER:
        return cuda_header()
    return resources.files("gpuaug.kernels").joinpath(name).read_text(encoding="utf-8")


def _inline(name: str, seen: set[str]) -> str:
    if name in seen:  # every header is #pragma once
        return ""
    seen.add(name)
    text = _PRAGMA_ONCE.sub("", _read(name))
    return _INCLUDE.sub(lambda m: _inline(m.group(1), seen), text)


@functools.lru_cache(maxsize=None)
def kernel_source(entry: str = "augment.cu") -> str:
    """The source of ``gpuaug/kernels/<entry>`` with its headers inlined, interface included."""
    return f"// gpuaug kernels: {entry} with its headers inlined\n" + _inline(entry, set())


def write_kernel_source(path: Path, entry: str = "augment.cu") -> Path:
    """Write :func:`kernel_source` to ``path`` (for a host compiler, ``nvcc`` or ``cuobjdump``)."""
    path = Path(path)
    path.write_text(kernel_source(entry), encoding="utf-8")
    return path
