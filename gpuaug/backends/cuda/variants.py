"""The compile-time variants of the fused kernels and their C++ names.

Each kernel in ``gpuaug/kernels/augment.cu`` is a template; a *variant* fixes the
input, output and working dtypes, the interpolation order, the fill mode, the input
and output layouts and the precision of the warp.  This module names the
instantiations (the NVRTC "name expressions", written with the enumerators of
:mod:`gpuaug.backends.interface`) and enumerates every supported variant, for the
compile check.  It imports no CUDA library.
"""

from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass
from typing import Iterator

from ...validation import check_choice
from ..interface import (
    FILL_MODE,
    FILL_MODES,
    INPUT,
    PRECISION,
    PRECISIONS,
    WORK_DTYPE,
    WORK_DTYPES,
)

#: Input dtypes the kernels read, with their C++ element types.
INPUT_TYPES = {"uint8": "unsigned char", "float16": "gpuaug::f16", "float32": "float",
               "float64": "double"}
#: Output dtypes the kernels write.
OUTPUT_TYPES = {"uint8": "unsigned char", "float16": "gpuaug::f16", "bfloat16": "gpuaug::bf16",
                "float32": "float", "float64": "double"}
#: Working dtypes (the generator's ``dtype``): every intermediate is rounded to it.
WORK_TYPES = WORK_DTYPES

#: The kernels of augment.cu, by the suffix of their names; the readers (min / max, moments)
#: write no output, so their instantiations are shared between output dtypes and layouts.
PASSES = ("minmax", "moments", "moments_plain", "write", "write_plain", "write_samplewise")
READERS = ("minmax", "moments", "moments_plain")


def _flag(value: bool) -> str:
    return "true" if value else "false"


@dataclass(frozen=True)
class KernelVariant:
    """One instantiation set: the dtypes, order, fill mode, layouts and precision of a launch.

    ``resized``: the kernels read decoded uint8 RGB images of their own sizes through
    Pillow's nearest index maps (``INPUT_RESIZED``, the file iterators' fused resize)
    instead of a batch; ``in_chw`` is then False.  ``luma``: with ``resized``, a grayscale
    batch, whose taps are Pillow's luma of the RGB pixels (``InT`` = ``gpuaug::RgbLuma``).
    """

    in_dtype: str
    out_dtype: str
    work_dtype: str
    order: int
    fill_mode: str
    in_chw: bool
    out_chw: bool
    precision: str = "exact"
    resized: bool = False
    luma: bool = False

    def __post_init__(self) -> None:
        for value, table, what in (
            (self.in_dtype, INPUT_TYPES, "input dtype"),
            (self.out_dtype, OUTPUT_TYPES, "output dtype"),
            (self.work_dtype, WORK_TYPES, "working dtype"),
            (self.fill_mode, FILL_MODES, "fill_mode"),
            (self.precision, PRECISIONS, "precision"),
        ):
            if value not in table:
                raise ValueError(
                    f"The CUDA kernels do not support {what} {value!r}; "
                    f"supported: {', '.join(table)}"
                )
        if not reads_directly(self.in_dtype, self.work_dtype):
            raise ValueError("float64 input needs float64 work; cast the batch first")
        if not output_allowed(self.out_dtype, self.work_dtype):
            raise ValueError("float64 output needs float64 work (dtype='float64')")
        check_choice("interpolation_order", self.order, (0, 1))
        if self.resized and not resized_allowed(self.in_dtype, self.work_dtype, self.in_chw):
            raise ValueError("the resized input (decoded images through index maps) is uint8 "
                             f"HWC read with float32 work; got {self.in_dtype} "
                             f"{'CHW' if self.in_chw else 'HWC'}, {self.work_dtype} work")
        if self.luma and not self.resized:
            raise ValueError("luma taps are read from decoded RGB images only (resized=True)")

    @property
    def input_layout(self) -> str:
        """Where the taps read (``interface.INPUTS``): ``"hwc"``, ``"chw"`` or ``"resized"``."""
        return "resized" if self.resized else "chw" if self.in_chw else "hwc"

    def template_arguments(self) -> dict[str, str]:
        """Each template parameter of ``augment_write`` as C++ text (the passes take a subset)."""
        return {
            "InT": "gpuaug::RgbLuma" if self.luma else INPUT_TYPES[self.in_dtype],
            "OutT": OUTPUT_TYPES[self.out_dtype],
            "WORK": WORK_DTYPE.enumerator(self.work_dtype),
            "ORDER": str(self.order),
            "MODE": FILL_MODE.enumerator(self.fill_mode),
            "INPUT": INPUT.enumerator(self.input_layout),
            "OUT_CHW": _flag(self.out_chw),
            "PRECISION": PRECISION.enumerator(self.precision),
        }

    def passes(self) -> tuple[str, ...]:
        """The kernel passes this variant has (every variant has them all)."""
        return PASSES

    def name(self, kernel_pass: str) -> str:
        """The C++ name expression of this variant's kernel for ``kernel_pass``."""
        if kernel_pass not in self.passes():
            raise ValueError(f"kernel pass {kernel_pass!r} does not exist for {self}; "
                             f"expected one of {self.passes()}")
        args = self.template_arguments()
        if kernel_pass in READERS:  # the readers write no output
            del args["OutT"], args["OUT_CHW"]
        return f"gpuaug::augment_{kernel_pass}<{', '.join(args.values())}>"

    def names(self) -> tuple[str, ...]:
        return tuple(self.name(p) for p in self.passes())


@functools.lru_cache(maxsize=None)
def kernel_variant(in_dtype: str, out_dtype: str, work_dtype: str, order: int, fill_mode: str,
                   in_chw: bool, out_chw: bool, precision: str = "exact",
                   resized: bool = False, luma: bool = False) -> KernelVariant:
    """:class:`KernelVariant`, validated once per distinct combination (it is asked per batch)."""
    return KernelVariant(in_dtype, out_dtype, work_dtype, order, fill_mode, in_chw, out_chw,
                         precision, resized, luma)


def reads_directly(in_dtype: str, work_dtype: str) -> bool:
    """Whether the kernels read ``in_dtype`` for ``work_dtype`` without a cast first.

    float64 input is read only by float64 work; for narrower work NumPy rounds the
    batch to the working dtype before the warp, and the CUDA backend does the same.
    """
    return in_dtype != "float64" or work_dtype == "float64"


def output_allowed(out_dtype: str, work_dtype: str) -> bool:
    """float64 output only from float64 work (a wider output would invent precision)."""
    return out_dtype != "float64" or work_dtype == "float64"


def resized_allowed(in_dtype: str, work_dtype: str, in_chw: bool) -> bool:
    """Whether the resized input serves these dtypes: decoded uint8 HWC, float32 work (the
    file iterators': Keras's ``img_to_array``), so no other variant is compiled for it."""
    return in_dtype == "uint8" and work_dtype == "float32" and not in_chw


def all_variants() -> Iterator[KernelVariant]:
    """Every variant the CUDA backend can launch."""
    for in_dtype, out_dtype, work, order, mode, source, out_chw, precision in (
        itertools.product(INPUT_TYPES, OUTPUT_TYPES, WORK_TYPES, (0, 1), FILL_MODES,
                          ("hwc", "chw", "resized rgb", "resized luma"), (False, True),
                          PRECISIONS)
    ):
        resized = source.startswith("resized")
        if resized and not resized_allowed(in_dtype, work, False):
            continue
        if reads_directly(in_dtype, work) and output_allowed(out_dtype, work):
            yield KernelVariant(in_dtype, out_dtype, work, order, mode, source == "chw",
                                out_chw, precision, resized, source == "resized luma")


def all_name_expressions() -> list[str]:
    """Every distinct kernel instantiation (the reader passes are shared between outputs)."""
    seen: dict[str, None] = {}
    for variant in all_variants():
        for name in variant.names():
            seen.setdefault(name)
    return list(seen)
