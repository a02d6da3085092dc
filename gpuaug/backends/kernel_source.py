"""The CUDA C++ source of the fused kernels, as one self-contained string.

The sources live in ``kernels/`` (installed as the ``gpuaug.kernels`` package
data).  Local ``#include "..."`` lines are inlined here, so the string handed to
NVRTC is the whole program: CuPy's compile cache keys on that string, and a
changed header can never be served from a stale cache entry.
"""

from __future__ import annotations

import functools
import re
from importlib import resources
from pathlib import Path

_INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"\s*$', re.MULTILINE)
_PRAGMA_ONCE = re.compile(r"^\s*#\s*pragma\s+once\s*$", re.MULTILINE)

#: NVRTC options used at run time and by the compile check.  NumPy never fuses a
#: multiply and an add (-fmad=false, a second guard on top of the explicit _rn
#: intrinsics), keeps float32 subnormals (-ftz=false) and divides and takes square
#: roots correctly rounded (-prec-div, -prec-sqrt).
NVRTC_OPTIONS = ("-std=c++17", "-fmad=false", "-ftz=false", "-prec-div=true", "-prec-sqrt=true",
                 "--device-as-default-execution-space")


def _kernels_dir():
    """Installed: the ``gpuaug.kernels`` package data; in a source tree: ``<repo>/kernels``."""
    try:
        return resources.files("gpuaug.kernels")
    except ModuleNotFoundError:  # gpuaug imported from a checkout that is not installed
        return Path(__file__).resolve().parents[2] / "kernels"


def _read(name: str) -> str:
    return _kernels_dir().joinpath(name).read_text(encoding="utf-8")


def _inline(name: str, seen: set[str]) -> str:
    if name in seen:  # every header is #pragma once
        return ""
    seen.add(name)
    text = _PRAGMA_ONCE.sub("", _read(name))
    return _INCLUDE.sub(lambda m: _inline(m.group(1), seen), text)


@functools.lru_cache(maxsize=None)
def kernel_source(entry: str = "augment.cu") -> str:
    """The source of ``kernels/<entry>`` with its local headers inlined."""
    return f"// gpuaug kernels: {entry} with its headers inlined\n" + _inline(entry, set())
