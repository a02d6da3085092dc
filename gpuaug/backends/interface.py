"""The interface between Python and the CUDA kernels, declared once.

Python owns it.  The enumerations (fill mode, compat mode, working dtype, precision), the flag
bits and the two records uploaded with every batch (``Epilogue``, then one
``SampleParams`` per sample) are declared here; :func:`cuda_header` emits them as the
C++ header ``interface.cuh``, which :mod:`gpuaug.backends.cuda.source` splices into the
kernel source that NVRTC compiles and the host emulation builds.  The header carries
``static_assert``s on every record's size and field offsets, computed from the same
NumPy dtypes that pack the upload, so a record that Python and C++ lay out differently
cannot compile: a mismatch is impossible rather than checked after the fact.

Adding a per-sample parameter: a field in :data:`SAMPLE_RECORD`, its value in
``cuda/launch_args.pack_samples``, its use in the kernels, and the same step in the
NumPy reference (``reference/``).  Adding a batch-wide epilogue scalar: a field in
:data:`EPILOGUE_RECORD`, its value in ``cuda/launch_args.make_epilogue``, its use.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np

from ..compat import COMPAT_MODES

#: ``fill_mode`` values gpuaug implements, with SciPy's legacy (non-``grid-``) rules.
FILL_MODES: tuple[str, ...] = ("nearest", "reflect", "wrap", "constant")
#: Working dtypes (the generator's ``dtype``): every intermediate is rounded to one of them.
WORK_DTYPES: tuple[str, ...] = ("float16", "float32", "float64")
#: The generator's ``precision``: the warp in SciPy's float64 arithmetic, or in float32.
PRECISIONS: tuple[str, ...] = ("exact", "fast")
#: Threads per block of every augment launch (``cuda/launch_args.launch_grid``), which the
#: kernels' ``__launch_bounds__`` promise the compiler (``BLOCK_THREADS`` in the header).
BLOCK_THREADS = 256

_CPP_TYPES = {"f64": (np.float64, "double"), "i64": (np.int64, "long long"),
              "u64": (np.uint64, "unsigned long long"), "i32": (np.int32, "int"),
              "u32": (np.uint32, "unsigned"), "f32": (np.float32, "float")}


def _identifier(name: str) -> str:
    return name.upper().replace("-", "_")


@dataclass(frozen=True)
class CppEnum:
    """Python names mapped to consecutive C++ enumerators ``PREFIX_NAME = i``."""

    cpp_name: str
    prefix: str
    names: tuple[str, ...]
    cpp_names: Optional[tuple[str, ...]] = None  # enumerator suffixes, if not the names

    def code(self, name: str) -> int:
        """The enumerator's value for a Python name (ValueError for an unknown one)."""
        return self.names.index(name)

    def enumerator(self, name: str) -> str:
        """The qualified C++ enumerator of a Python name, e.g. ``gpuaug::MODE_WRAP``."""
        suffixes = self.cpp_names or tuple(_identifier(n) for n in self.names)
        return f"gpuaug::{self.prefix}{suffixes[self.code(name)]}"

    def cpp(self) -> str:
        items = ", ".join(f"{self.enumerator(n).split('::')[1]} = {i}"
                          for i, n in enumerate(self.names))
        return f"enum {self.cpp_name} {{ {items} }};"


@dataclass(frozen=True)
class CppFlags:
    """Named bits, ``1 << i`` in declaration order."""

    cpp_name: str
    names: tuple[str, ...]

    def __getattr__(self, name: str) -> int:
        try:
            return 1 << self.names.index(name)
        except ValueError:
            raise AttributeError(name) from None

    def cpp(self) -> str:
        items = ", ".join(f"{n} = {1 << i}" for i, n in enumerate(self.names))
        return f"enum {self.cpp_name} {{ {items} }};"


@dataclass(frozen=True)
class Field:
    name: str
    kind: str  # a key of _CPP_TYPES
    doc: str
    count: int = 1


@dataclass(frozen=True)
class CppStruct:
    """A record laid out identically by NumPy (``align=True``) and by C++."""

    cpp_name: str
    doc: str
    fields: tuple[Field, ...]

    @functools.cached_property
    def dtype(self) -> np.dtype:
        return np.dtype([(f.name, _CPP_TYPES[f.kind][0], (f.count,)) if f.count > 1
                         else (f.name, _CPP_TYPES[f.kind][0]) for f in self.fields], align=True)

    def zeros(self, count: Optional[int] = None) -> np.ndarray:
        return np.zeros(() if count is None else count, dtype=self.dtype)

    def cpp(self) -> str:
        dtype = self.dtype
        lines = [f"// {self.doc}", f"struct {self.cpp_name} {{"]
        for f in self.fields:
            array = f"[{f.count}]" if f.count > 1 else ""
            lines.append(f"    {_CPP_TYPES[f.kind][1]} {f.name}{array};  // {f.doc}")
        lines.append("};")
        lines.append(f'static_assert(sizeof({self.cpp_name}) == {dtype.itemsize}, '
                     f'"{self.cpp_name}: C++ and NumPy sizes differ");')
        # Offsets by the host compiler (the emulation build, in CI): NVRTC 13.0 has no
        # __builtin_offsetof, and a standard-layout record is laid out alike on both sides.
        lines.append("#if !defined(__CUDACC_RTC__)")
        for f in self.fields:
            lines.append(f"static_assert(__builtin_offsetof({self.cpp_name}, {f.name}) == "
                         f'{dtype.fields[f.name][1]}, "{self.cpp_name}.{f.name}: offsets differ");')
        lines.append("#endif")
        return "\n".join(lines)


FILL_MODE = CppEnum("FillMode", "MODE_", FILL_MODES)
COMPAT = CppEnum("Compat", "COMPAT_", COMPAT_MODES)
WORK_DTYPE = CppEnum("WorkDtype", "WORK_", WORK_DTYPES, cpp_names=("F16", "F32", "F64"))
PRECISION = CppEnum("Precision", "PRECISION_", PRECISIONS)
#: Where a kernel's taps read: the batch's own images (channels-last: the host transposes
#: a channels-first batch first, ``cuda/variants.route``), or decoded uint8 HWC images of
#: their own sizes through Pillow's nearest index maps (``ResizeSource``): what the
#: resized batch would hold there, without making it.
INPUTS: tuple[str, ...] = ("hwc", "resized")
INPUT = CppEnum("InputLayout", "INPUT_", INPUTS)

#: Bits of ``SampleParams.flags``.
#: UNWARPED: Keras skips the warp (every geometric parameter at its default), so the
#: sample is only flipped and a non-finite value stays where it is.
SAMPLE_FLAGS = CppFlags("SampleFlags", ("FLIP_H", "FLIP_V", "UNWARPED"))
#: Bits of ``Epilogue.flags``: which of Keras's ``standardize`` steps run, in Keras's order.
STANDARDIZE_FLAGS = CppFlags("StandardizeFlags", (
    "STD_RESCALE", "STD_SAMPLE_CENTER", "STD_SAMPLE_SCALE", "STD_FEATURE_CENTER",
    "STD_FEATURE_SCALE"))

#: One per sample, after the epilogue in the upload.
SAMPLE_RECORD = CppStruct("SampleParams", "Per-sample parameters, one record per sample.", (
    Field("m", "f64", "inverse matrix rows (row, col): in = (m[2] + r*m[0]) + c*m[1], ...; "
          "precision fast: float32 pairs (m0, m1), (m3, m4), (row0, col0) in m[0..2], the "
          "linear part halved and flips folded in (launch_args.fast_geometry)", 6),
    Field("shift", "f64", "channel-shift intensity rounded to the working dtype; NaN: none"),
    Field("brightness", "f64", "brightness factor (float64); NaN: none"),
    Field("flags", "u64", "SampleFlags"),
    Field("lo_key", "u64", "min of the warped image (order_key), written by the min/max pass"),
    Field("hi_key", "u64", "max of the warped image (order_key), likewise"),
    Field("moment_blocks", "u64", "blocks of the moments pass done with the sample (counted "
          "atomically): the last one adds the sample's partial sums"),
    Field("first", "i64", "index of the sample's first element in the input and the output "
          "batch, b * h * w * c (launch_args.pack_upload): read, where the product would "
          "be recomputed for every pixel"),
))

#: One per batch, at the start of the upload: the steps after the warp and their constants.
EPILOGUE_RECORD = CppStruct("Epilogue", "The batch-wide part of a launch, first in the upload.", (
    Field("compat", "i32", "Compat"),
    Field("flags", "i32", "StandardizeFlags"),
    Field("cval", "f64", "fill value of constant mode"),
    Field("rescale", "f64", "already in the precision NumPy would multiply in"),
    Field("eps", "f64", "1e-6 rounded to the working dtype"),
    Field("mean_offset", "i64", "byte offset of the featurewise mean (float64) in the upload"),
    Field("mean_strides", "i64", "its element strides over (row, col, channel)", 3),
    Field("std_offset", "i64", "byte offset of featurewise std + 1e-6 (float64) in the upload"),
    Field("std_strides", "i64", "its element strides over (row, col, channel)", 3),
    Field("sample_elements", "i64", "h * w * c: the distance between samples"),
    Field("width_magic", "u32", "ceil(2^width_shift / w): the pixel walk divides a pixel "
          "index by the width with it (numeric.cuh divide_by_magic)"),
    Field("width_shift", "u32", "31 + ceil(log2 w)"),
    Field("rescale32", "f32", "rescale as float32, read by the plain kernels with float32 work "
          "(launched only where rescale is a float32 number): no float64 conversion per thread"),
    Field("sources_offset", "i64", "INPUT_RESIZED: byte offset in the upload of the samples' "
          "ResizeSource records (0 otherwise)"),
    Field("maps_offset", "i64", "INPUT_RESIZED: byte offset in the upload of the int32 index "
          "maps the records point into"),
))

#: One per decoded image of a batch that resize.cu resizes (Pillow's nearest) in one launch,
#: or that the augment kernels read directly (INPUT_RESIZED, in the upload).
RESIZE_SOURCE_RECORD = CppStruct("ResizeSource", "A decoded image and its index maps.", (
    Field("pixels", "u64", "device address of its (height, width, 3) uint8 pixels"),
    Field("width", "i64", "its width: the row stride is width * 3"),
    Field("row_map", "i64", "offset in the maps of its row map (source row of each output row)"),
    Field("col_map", "i64", "offset in the maps of its column map"),
))

ENUMS: Sequence[CppEnum] = (FILL_MODE, COMPAT, WORK_DTYPE, PRECISION, INPUT)
FLAGS: Sequence[CppFlags] = (SAMPLE_FLAGS, STANDARDIZE_FLAGS)
RECORDS: Sequence[CppStruct] = (EPILOGUE_RECORD, SAMPLE_RECORD, RESIZE_SOURCE_RECORD)


def cuda_header() -> str:
    """The C++ text of ``interface.cuh``: the block size, every enum, flag set and record above."""
    parts = ["// Generated from gpuaug/backends/interface.py: edit that file, not this text.",
             "namespace gpuaug {",
             f"inline constexpr int BLOCK_THREADS = {BLOCK_THREADS};  // threads per augment block"]
    parts += [item.cpp() for item in (*ENUMS, *FLAGS)]
    parts += [record.cpp() for record in RECORDS]
    parts.append("}  // namespace gpuaug")
    return "\n".join(parts) + "\n"
