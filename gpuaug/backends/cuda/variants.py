"""The compiled kernel variants: a hand-picked table, and the route from a batch to one.

Each kernel in ``gpuaug/kernels/augment.cu`` is a template; a *variant* fixes what its
taps read (a batch's dtype, or decoded images), the working and output dtypes, the
output layout, the interpolation order, the fill mode and the precision of the warp.
Order, fill mode and precision are compiled for every entry: a run-time switch on any of
them costs the usual kernel instructions per pixel, and the layouts likewise
(``bench/RESULTS.md``, issue 30).  The dtypes and layouts are not: :data:`TABLE` lists
the combinations users need, as DALI's warp keeps a list of supported type pairs, and
:func:`route` serves every other combination through one of them with exact
conversions around the kernel (docs/semantics.md §13):

- **before**: a channels-first batch is transposed to channels-last (the kernels read
  NHWC batches and decoded images only), and an input dtype the table does not list for
  the working dtype is cast to the working dtype: rounding a wider input first is what
  NumPy does too, widening a narrower one is exact;
- **after**: an output dtype or layout the entry does not write is made from the
  working dtype, which every entry writes channels-last, by the reference's own
  conversion (``reference/output_format.to_output``), which rounds once as the kernels'
  stores do.

This module names the instantiations (NVRTC "name expressions", written with the
enumerators of :mod:`gpuaug.backends.interface`) and enumerates the whole matrix for
the compile check.  It imports no CUDA library.
"""

from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass
from typing import Iterator, Optional

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
#: The general kernels, which take every step: all an entry without the lean ones has.
GENERAL_PASSES = ("minmax", "moments", "write")

#: What a kernel's taps read besides a batch's dtype: decoded uint8 RGB images through
#: their resize maps (the file iterators' resize fused into the warp), as RGB or as
#: Pillow's luma (a grayscale batch).
RESIZED, RESIZED_LUMA = "resized", "resized luma"


@dataclass(frozen=True)
class Entry:
    """One row of :data:`TABLE`: a source and working dtype, the outputs written for it.

    ``outputs``: (output dtype, channels-first) pairs; the working dtype channels-last is
    always one (the conversions after the kernel start from it).  ``lean``: the lean
    kernels (``write_plain``, ``write_samplewise``, ``moments_plain``) are compiled too,
    which the usual batch takes; without them every batch takes the general kernels,
    which give the same bits with more instructions.
    """

    source: str  # an input dtype (a batch, NHWC), RESIZED or RESIZED_LUMA
    work: str
    outputs: tuple[tuple[str, bool], ...]
    lean: bool

    @property
    def resized(self) -> bool:
        return self.source in (RESIZED, RESIZED_LUMA)

    @property
    def in_dtype(self) -> str:
        return "uint8" if self.resized else self.source


def _outputs(channels_last: tuple[str, ...], channels_first: tuple[str, ...] = ()
             ) -> tuple[tuple[str, bool], ...]:
    return tuple((d, False) for d in channels_last) + tuple((d, True) for d in channels_first)


_FLOAT_OUTPUTS = ("float32", "float16", "bfloat16")
#: The hand-picked table.  float32 work is Keras's default (``floatx``) and the file
#: iterators' (``img_to_array``): its images (uint8 batches, decoded files) go straight to
#: every output a training loop takes, float32 / float16 / bfloat16 in either layout and
#: uint8 channels-last; its float32 batches to float32.  float16 and float64 work are rare
#: (a ``dtype`` asked for): the batch in that dtype, written in it.  The lean kernels pay
#: for float32 and float64 work only: by the SASS model (sm_90), the general write takes
#: 2.0x and 2.6x their instructions there, 1.02x with float16 work, whose every step
#: rounds to float16 either way (bench/RESULTS.md, issue 30).  Grayscale decoded files
#: (one channel) are written as float32 channels-last, whose channels-first view is the
#: same bytes; their other outputs are converted after.
TABLE: tuple[Entry, ...] = (
    Entry("uint8", "float32", _outputs((*_FLOAT_OUTPUTS, "uint8"), _FLOAT_OUTPUTS), lean=True),
    Entry("float32", "float32", _outputs(("float32",), ("float32",)), lean=True),
    Entry("float16", "float16", _outputs(("float16",)), lean=False),
    Entry("float64", "float64", _outputs(("float64",)), lean=True),
    Entry(RESIZED, "float32", _outputs((*_FLOAT_OUTPUTS, "uint8"), _FLOAT_OUTPUTS), lean=True),
    Entry(RESIZED_LUMA, "float32", _outputs(("float32",)), lean=True),
)


def _entry(source: str, work: str) -> Optional[Entry]:
    return next((e for e in TABLE if (e.source, e.work) == (source, work)), None)


def _flag(value: bool) -> str:
    return "true" if value else "false"


@dataclass(frozen=True)
class KernelVariant:
    """One compiled instantiation set: an entry of :data:`TABLE`, an output, order, fill
    mode and precision.

    ``resized``: the kernels read decoded uint8 RGB images of their own sizes through
    Pillow's nearest index maps (``INPUT_RESIZED``, the file iterators' fused resize)
    instead of a batch.  ``luma``: with ``resized``, a grayscale batch, whose taps are
    Pillow's luma of the RGB pixels (``InT`` = ``gpuaug::RgbLuma``).  A batch is read
    channels-last; ``out_chw`` says how the output is written.
    """

    in_dtype: str
    out_dtype: str
    work_dtype: str
    order: int
    fill_mode: str
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
        check_choice("interpolation_order", self.order, (0, 1))
        if self.luma and not self.resized:
            raise ValueError("luma taps are read from decoded RGB images only (resized=True)")
        if self.resized and (self.in_dtype, self.work_dtype) != ("uint8", "float32"):
            raise ValueError("the resized input (decoded images through index maps) is uint8 "
                             f"read with float32 work; got {self.in_dtype}, {self.work_dtype} "
                             "work")
        entry = _entry(self.source, self.work_dtype)
        if entry is None or (self.out_dtype, self.out_chw) not in entry.outputs:
            raise ValueError(
                f"no compiled kernel reads {self.source} with {self.work_dtype} work and "
                f"writes {self.out_dtype} {'NCHW' if self.out_chw else 'NHWC'}: the table "
                "(gpuaug.backends.cuda.variants.TABLE) lists what is compiled, and route() "
                "reaches the rest through conversions")

    @property
    def source(self) -> str:
        """The table's source: the batch's dtype, ``"resized"`` or ``"resized luma"``."""
        if self.resized:
            return RESIZED_LUMA if self.luma else RESIZED
        return self.in_dtype

    @property
    def lean(self) -> bool:
        """Whether the lean kernels are compiled for this variant (:class:`Entry`)."""
        entry = _entry(self.source, self.work_dtype)
        assert entry is not None  # checked on construction
        return entry.lean

    @property
    def input_layout(self) -> str:
        """Where the taps read (``interface.INPUTS``): ``"hwc"`` or ``"resized"``."""
        return "resized" if self.resized else "hwc"

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
        """The kernel passes compiled for this variant: all, or the general ones."""
        return PASSES if self.lean else GENERAL_PASSES

    def name(self, kernel_pass: str) -> str:
        """The C++ name expression of this variant's kernel for ``kernel_pass``."""
        if kernel_pass not in self.passes():
            raise ValueError(f"kernel pass {kernel_pass!r} is not compiled for {self}; "
                             f"it has {self.passes()}")
        args = self.template_arguments()
        if kernel_pass in READERS:  # the readers write no output
            del args["OutT"], args["OUT_CHW"]
        return f"gpuaug::augment_{kernel_pass}<{', '.join(args.values())}>"

    def names(self) -> tuple[str, ...]:
        return tuple(self.name(p) for p in self.passes())


@functools.lru_cache(maxsize=None)
def kernel_variant(in_dtype: str, out_dtype: str, work_dtype: str, order: int, fill_mode: str,
                   out_chw: bool, precision: str = "exact", resized: bool = False,
                   luma: bool = False) -> KernelVariant:
    """:class:`KernelVariant`, validated once per distinct combination (it is asked per batch)."""
    return KernelVariant(in_dtype, out_dtype, work_dtype, order, fill_mode, out_chw, precision,
                         resized, luma)


def resized_allowed(work_dtype: str) -> bool:
    """Whether the kernels read decoded images for ``work_dtype``: float32 work (the file
    iterators': Keras's ``img_to_array``); other work resizes first."""
    return _entry(RESIZED, work_dtype) is not None


@dataclass(frozen=True)
class Route:
    """How a batch reaches a compiled variant (:func:`route`)."""

    variant: KernelVariant
    #: The dtype the batch is cast to before the kernels (None: read as it is).
    cast_input: Optional[str]
    #: A channels-first batch, transposed to channels-last before the kernels.
    transpose_input: bool
    #: The kernels' output is not what was asked: ``to_output`` converts it after.
    converts_output: bool


def route(in_dtype: str, work_dtype: str, out_dtype: str, in_chw: bool, out_chw: bool,
          order: int, fill_mode: str, precision: str = "exact", resized: bool = False,
          luma: bool = False) -> Route:
    """The compiled variant that serves a batch, and the exact conversions around it.

    Args:
        in_dtype: the batch's dtype (``"uint8"`` for decoded images).
        work_dtype, out_dtype: the working and the wanted output dtype.
        in_chw, out_chw: whether the batch is, and the output is wanted, channels-first.
        order, fill_mode, precision: compiled for every entry.
        resized, luma: decoded images through their resize maps (float32 work only), RGB
            or read as Pillow's luma.

    Returns:
        :class:`Route`: the variant from :data:`TABLE`; the batch cast to the working
        dtype first where the table has no entry for its dtype; transposed first when
        channels-first; the output converted after where the entry does not write it
        (then the kernels write it in the other layout if listed, else the working dtype).
    """
    source = (RESIZED_LUMA if luma else RESIZED) if resized else in_dtype
    entry = _entry(source, work_dtype)
    cast = None
    if entry is None:
        if resized:
            raise ValueError(f"the resized input is read with float32 work, not {work_dtype}")
        entry, cast = _entry(work_dtype, work_dtype), work_dtype
        if entry is None:
            raise ValueError(f"no compiled kernel has {work_dtype} work; supported: "
                             f"{', '.join(sorted({e.work for e in TABLE}))}")
    # The output itself, else in the other layout (a transpose after moves its own bytes),
    # else the working dtype, which every entry writes channels-last.
    for candidate in ((out_dtype, out_chw), (out_dtype, not out_chw), (work_dtype, out_chw),
                      (work_dtype, False)):
        if candidate in entry.outputs:
            kernel_out, kernel_chw = candidate
            break
    else:  # pragma: no cover - every entry writes its working dtype channels-last (tested)
        raise AssertionError(f"{entry} does not write {work_dtype} channels-last")
    variant = kernel_variant(entry.in_dtype if cast is None else cast, kernel_out, work_dtype,
                             order, fill_mode, kernel_chw, precision, resized, luma)
    return Route(variant, cast, in_chw and not resized,
                 (kernel_out, kernel_chw) != (out_dtype, out_chw))


def all_variants() -> Iterator[KernelVariant]:
    """Every variant of the table: each entry's outputs at every order, fill mode, precision."""
    for entry in TABLE:
        for (out_dtype, out_chw), order, mode, precision in itertools.product(
                entry.outputs, (0, 1), FILL_MODES, PRECISIONS):
            yield KernelVariant(entry.in_dtype, out_dtype, entry.work, order, mode, out_chw,
                                precision, entry.resized, entry.source == RESIZED_LUMA)


def all_name_expressions() -> list[str]:
    """Every distinct kernel instantiation (the reader passes are shared between outputs)."""
    seen: dict[str, None] = {}
    for variant in all_variants():
        for name in variant.names():
            seen.setdefault(name)
    return list(seen)


def kernel_axes(variant: KernelVariant, kernel_pass: str) -> dict[str, object]:
    """The values of one compiled kernel on each axis of the matrix (None: not an axis of
    this pass; the readers have no output), for the pairwise compile check."""
    reader = kernel_pass in READERS
    return {"source": variant.source, "work": variant.work_dtype,
            "output": None if reader else variant.out_dtype,
            "out_chw": None if reader else variant.out_chw, "order": variant.order,
            "fill_mode": variant.fill_mode, "precision": variant.precision, "pass": kernel_pass}


def pairwise_cover() -> list[str]:
    """A few kernels of the matrix that hold every pair of axis values the matrix holds.

    Greedy: the kernel adding the most pairs not yet held, until none is missing.  A
    template that fails for some combination of two axes' values fails in this set too,
    in seconds, where the whole matrix takes minutes.
    """
    kernels: dict[str, set[tuple]] = {}
    for variant in all_variants():
        for kernel_pass in variant.passes():
            axes = sorted(kernel_axes(variant, kernel_pass).items())
            kernels.setdefault(variant.name(kernel_pass),
                               set(itertools.combinations(axes, 2)))
    missing = set().union(*kernels.values())
    chosen: list[str] = []
    while missing:
        name = max(kernels, key=lambda n: (len(kernels[n] & missing), n))
        chosen.append(name)
        missing -= kernels.pop(name)
    return chosen
