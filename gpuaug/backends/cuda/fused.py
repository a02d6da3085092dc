"""The fused-kernel backend, independent of who executes the kernels.

:class:`FusedBackend` turns ``apply`` / ``augment`` calls into launches of the
kernels in ``gpuaug/kernels/augment.cu``: it validates, picks the compile-time
variant, packs the one per-batch upload, decides which passes run and hands them to
a *launcher*.  The CUDA backend's launcher (:mod:`.launcher`) runs them through CuPy
on a GPU; the test suite's launcher runs the very same kernel source compiled for
the host, so all of this module is exercised on machines without a GPU.  Steps that
are not per-pixel (ZCA, a ``preprocessing_function``) run after the kernel as array
operations shared with the reference (``xp`` is CuPy there).
"""

from __future__ import annotations

import dataclasses
import math
import threading
from dataclasses import dataclass
from typing import Any, Callable, NamedTuple, Optional, Protocol

import numpy as np

from ...config import AugmentConfig
from ...decoded import DecodedImages
from ...params import TransformParams
from ..interface import STANDARDIZE_FLAGS
from ..reference.output_format import check_output_dtype, dtype_name, numpy_dtype, to_output
from ..reference.pointwise import check_pil_channels
from ..reference.standardize import featurewise_steps, standardize_batch, zca_whiten
from .launch_args import (
    PIXELS_PER_THREAD,
    Epilogue,
    launch_grid,
    make_epilogue,
    pack_upload,
    partials_size,
)
from .variants import WORK_TYPES, KernelVariant, route


class Launcher(Protocol):
    """What :class:`FusedBackend` needs from whoever runs the kernels."""

    xp: Any  # the array module of the device (cupy, or numpy for the host emulation)

    def upload(self, host: np.ndarray) -> Any:
        """Copy a host byte buffer to the device."""

    def allocate(self, shape: tuple[int, ...], dtype: np.dtype) -> Any:
        """An uninitialised device array (MemoryError when the device has no room)."""

    def context(self) -> Any:
        """A context manager making the launcher's device current (array ops run there)."""

    def launch(self, variant: KernelVariant, kernel_pass: str, grid: tuple[int, int, int],
               block: tuple[int, int, int], args: tuple) -> None:
        """Run one kernel of ``variant``, by pass name (``variants.PASSES``: ``"write"``, ...)."""


class FusedBackend:
    """``apply`` and ``augment`` through the fused kernels (see module docstring)."""

    def __init__(self, launcher: Launcher, name: str) -> None:
        self.launcher = launcher
        self.xp = launcher.xp
        self.name = name
        self._plans: dict[tuple, Plan] = {}
        self._plans_lock = threading.Lock()  # threads reading one iterator share the cache

    #: ``apply`` / ``augment`` take ``records``: the samples' records packed ahead
    #: (:func:`.launch_args.pack_sample_words` for ``config.dtype`` and ``config.precision``),
    #: copied in as they are.
    packs_records = True

    def apply(self, batch: Any, matrices: np.ndarray, params: TransformParams,
              config: AugmentConfig, records: Optional[np.ndarray] = None) -> Any:
        """Keras's ``apply_transform``: a new batch in ``config.dtype``, in the same layout."""
        with self.launcher.context():
            return self._run(batch, matrices, params, config, records, standardize=False)

    def augment(self, batch: Any, matrices: np.ndarray, params: TransformParams,
                config: AugmentConfig, records: Optional[np.ndarray] = None) -> Any:
        """``apply`` + ``standardize`` + output dtype and layout, fused where possible."""
        with self.launcher.context():
            return self._run(batch, matrices, params, config, records, standardize=True)

    #: :meth:`augment_resized` reads decoded images through their resize maps.
    reads_resized = True

    def augment_resized(self, images: DecodedImages, matrices: np.ndarray,
                        params: TransformParams, config: AugmentConfig,
                        records: Optional[np.ndarray] = None) -> Any:
        """:meth:`augment` of ``images.resized(config.channels_last)``, without resizing.

        Args:
            images: decoded uint8 RGB images of any sizes on this backend's device (host
                memory for the emulation), alive until the kernels have read them; with
                ``images.channels`` 1 the taps read Pillow's luma of their pixels.
            matrices, params, records: as :meth:`augment` takes them, for images of
                ``images.target``'s size.
            config: float32 work (the file iterators'; ``variants.resized_allowed``).

        Returns:
            The augmented batch: the bits :meth:`augment` gives for the resized batch.
            The kernels take each tap from the decoded image through Pillow's nearest
            index maps (``INPUT_RESIZED``), packed into the batch's one upload.

        Convention:
            ``matrices`` map output pixels to the resized image's (row, column), as for
            :meth:`augment`; the index maps then take a resized row or column to the
            decoded image's.
        """
        with self.launcher.context():
            return self._run(images, matrices, params, config, records, standardize=True,
                             resized=True)

    # ------------------------------------------------------------------ internals
    def _run(self, batch: Any, matrices: np.ndarray, params: TransformParams,
             config: AugmentConfig, records: Optional[np.ndarray], *,
             standardize: bool, resized: bool = False) -> Any:
        xp = self.xp
        x, plan, out, minmax, plain = self._prepare(batch, params, config, standardize, resized)
        if plan.launches:
            self._launch(x, out, plan, matrices, params, records, minmax, plain)
        out = plan.convert_output(out, xp)
        if plan.finish_here or not standardize:
            return out  # fused to the end, or apply(): Keras's transform in the working dtype
        if plan.zca:
            out = zca_whiten(out, config.zca_whitening_matrix, xp)
        else:  # the preprocessing_function path: standardize as arrays
            out = standardize_batch(out, config, None, xp=xp)
        return to_output(out.astype(plan.work, copy=False), config.channels_last,
                         config.out_channels_last, plan.out_dtype, xp)

    def _plan(self, shape: tuple, dtype: Any, config: AugmentConfig, standardize: bool,
              resized: bool = False) -> "Plan":
        """What a batch of this shape and dtype takes under ``config``: made once, reused.

        Kept for the config object it was made for (iterators hand the same one over
        while the generator is unchanged), unless making it warned: Keras warns at every
        batch that misses ``fit`` statistics, so such plans are made again each time.
        """
        key = (id(config), tuple(shape), dtype, standardize, resized)
        plan = self._plans.get(key)
        if plan is not None and plan.config is config:
            return plan
        plan = _make_plan(tuple(shape), dtype, config, standardize, self.name, resized)
        if plan.cacheable:
            with self._plans_lock:
                if len(self._plans) >= 16:
                    self._plans.pop(next(iter(self._plans)), None)
                self._plans[key] = plan
        return plan

    def _allocate(self, shape: tuple[int, ...], dtype: np.dtype, what: str,
                  plan: "Plan") -> Any:
        try:
            return self.launcher.allocate(shape, dtype)
        except MemoryError as exc:
            n, h, w, c = plan.dims
            nbytes = int(np.prod(shape)) * np.dtype(dtype).itemsize
            raise MemoryError(
                f"gpuaug: could not allocate {what} for a batch of {n} images of {h}x{w}x{c} "
                f"on {self.name}: {nbytes:,} bytes ({nbytes / 2**20:,.1f} MiB, "
                f"{np.dtype(dtype).name} {tuple(shape)}); use a smaller batch_size. ({exc})"
            ) from exc

    def _prepare(self, batch: Any, params: TransformParams, config: AugmentConfig,
                 standardize: bool, resized: bool = False) -> tuple[Any, "Plan", Any, bool, bool]:
        """The batch as the kernels read it, its plan, the output array, and
        ``(minmax, plain)`` for :func:`kernel_passes`, from the batch's drawn steps.

        ``resized``: ``batch`` is :class:`DecodedImages`, read as they are."""
        if resized:
            x = batch
            plan = self._plan(batch.shape(config.channels_last), np.dtype(np.uint8), config,
                              standardize, resized=True)
        else:
            x = self.xp.asarray(batch)
            plan = self._plan(x.shape, x.dtype, config, standardize)
            x = plan.convert_input(x)
        shifted = _any_sample_has(params.channel_shift_intensity)
        brightened = _any_sample_has(params.brightness)
        pil_brightness = brightened and config.compat != "fixed"
        if pil_brightness:
            check_pil_channels(plan.dims[3])
        out = self._allocate(plan.out_shape, plan.out_numpy_dtype, "the output", plan)
        # Whole-image min / max: for the channel-shift clip and the PIL brightness.
        minmax = shifted or pil_brightness
        return x, plan, out, minmax, plan.plain_write and not (shifted or brightened)

    def _launch(self, x: Any, out: Any, plan: "Plan", matrices: np.ndarray,
                params: TransformParams, records: Optional[np.ndarray], minmax: bool,
                plain: bool) -> None:
        # The batch's only host-to-device copy: epilogue, sample records, statistics, and
        # for decoded images their ResizeSource records and index maps.
        sources = x.plan() if plan.variant.resized else None
        upload = self.launcher.upload(_pack(plan, matrices, params, records, sources))
        if sources is not None:
            x = upload  # the kernels find the images through the upload; `src` is unread
        self._kernels(x, out, plan, upload, self._partials(plan), minmax, plain)

    def _partials(self, plan: "Plan") -> Any:
        """The samplewise moments' buffer, or None where the batch has no samplewise steps."""
        if not plan.epilogue.sample_stats:
            return None
        return self._allocate((plan.partials,), np.dtype(np.float64),
                              "the samplewise statistics' partial sums", plan)

    def _kernels(self, x: Any, out: Any, plan: "Plan", upload: Any, partials: Any,
                 minmax: bool, plain: bool) -> None:
        """The batch's kernels (:func:`kernel_passes`) on its upload."""
        for kernel_pass in kernel_passes(plan, minmax, plain):
            if kernel_pass == "minmax":
                args = (x, upload)
            elif kernel_pass.startswith("moments"):
                args = (x, upload, partials)
            else:  # the write; its partials are never read without the samplewise steps
                args = (x, out, upload, upload if partials is None else partials)
            self.launcher.launch(plan.variant, kernel_pass, plan.grid, plan.block,
                                 (*args, *plan.shape_args))

    def kernels_alone(self, batch: Any, matrices: np.ndarray, params: TransformParams,
                      config: AugmentConfig, *,
                      pixels_per_thread: Optional[int] = None) -> "KernelsAlone":
        """For benchmarks: :meth:`augment`'s kernels on one batch, everything else done once.

        Args:
            batch, matrices, params, config: as :meth:`augment` takes them; the batch must be
                one the kernels finish (no ZCA, no ``preprocessing_function``).
            pixels_per_thread: the launch's pixels per thread, where not the default
                (``launch_args.PIXELS_PER_THREAD``): the same output, but for samplewise
                statistics, whose partial sums follow the grid.

        Returns:
            :class:`KernelsAlone`: ``run()`` launches the batch's kernels and returns the
            output array, which holds :meth:`augment`'s result; the plan, the packed and
            uploaded records, the buffers and the input's conversion (a batch the table
            does not read as it is: ``variants.route``) are made here, once; the output's
            conversion, if any, is part of ``run``.  Pre-passes count blocks
            and take min / max in the upload, so before them ``run`` restores it by a
            device-to-device copy of its pristine twin (a few tens of KB).  ``passes``
            names the kernels, in launch order (:func:`kernel_passes`), of ``variant``.
        """
        with self.launcher.context():
            x, plan, out, minmax, plain = self._prepare(batch, params, config, True)
            if not plan.finish_here or not plan.launches:
                raise ValueError("kernels_alone: this batch is not finished by the kernels "
                                 "(ZCA, a preprocessing_function, or no pixels)")
            if pixels_per_thread is not None:
                plan = dataclasses.replace(plan, **_launch_shape(plan.dims, pixels_per_thread))
            packed = _pack(plan, matrices, params, None)
            upload, pristine = self.launcher.upload(packed), self.launcher.upload(packed)
            partials = self._partials(plan)
        passes = kernel_passes(plan, minmax, plain)

        def run() -> Any:
            with self.launcher.context():
                if len(passes) > 1:
                    self.xp.copyto(upload, pristine)
                self._kernels(x, out, plan, upload, partials, minmax, plain)
            return plan.convert_output(out, self.xp)

        return KernelsAlone(run, passes, plan.variant)


class KernelsAlone(NamedTuple):
    """:meth:`FusedBackend.kernels_alone`'s result."""

    run: Callable[[], Any]
    passes: tuple[str, ...]
    variant: KernelVariant


def kernel_passes(plan: "Plan", minmax: bool, plain: bool) -> tuple[str, ...]:
    """The kernels a batch takes (``variants.PASSES``), in launch order: the pre-passes it
    needs, then one write.

    ``minmax``: some sample has a channel shift, or a PIL brightness (whole-image min / max).
    ``plain``: no sample has a channel shift or brightness and nothing follows the warp but
    the rescale and the samplewise steps, so the lean kernels serve the batch
    (``augment_*_plain``, ``augment_write_samplewise``); else the general ones.
    """
    samplewise = plan.epilogue.sample_stats
    passes = ["minmax"] if minmax else []
    if samplewise:
        passes.append("moments_plain" if plain else "moments")
    passes.append("write" if not plain else "write_samplewise" if samplewise else "write_plain")
    return tuple(passes)


def _pack(plan: "Plan", matrices: np.ndarray, params: TransformParams,
          records: Optional[np.ndarray],
          sources: Optional[tuple[np.ndarray, np.ndarray]] = None) -> np.ndarray:
    """The batch's upload: epilogue, sample records, statistics, decoded images' sources
    (launch_args.pack_upload)."""
    fast_image = plan.dims[1:3] if plan.variant.precision == "fast" else None
    return pack_upload(matrices, params, plan.work, plan.epilogue, records,
                       fast_image=fast_image, sources=sources)


def _any_sample_has(optional: np.ndarray) -> bool:
    """Whether any sample has the optional step (a value that is not NaN)."""
    return optional.size > 0 and not math.isnan(np.fmax.reduce(optional))  # fmax skips NaNs


@dataclass(frozen=True)
class Plan:
    """Everything about a launch that depends on the batch's shape and dtype and the config."""

    config: AugmentConfig
    work: str
    dims: tuple[int, int, int, int]  # n, h, w, c
    variant: KernelVariant
    #: The conversions around the kernels (``variants.route``): the batch cast to this
    #: dtype first (None: read as it is), a channels-first batch transposed first, and the
    #: kernels' output converted to ``after`` = (channels-last, dtype) (None: none).
    cast_input: Optional[str]
    transpose_input: bool
    after: Optional[tuple[bool, str]]
    epilogue: Epilogue
    finish_here: bool
    zca: bool
    out_dtype: str
    out_numpy_dtype: np.dtype
    out_shape: tuple[int, ...]
    grid: tuple[int, int, int]
    block: tuple[int, int, int]
    shape_args: tuple[np.int64, ...]
    partials: int
    cacheable: bool
    #: Nothing after the warp but a rescale the plain kernels multiply by as NumPy does
    #: (with float32 work, a float32 number) and the samplewise steps: the lean kernels
    #: (augment_write_plain, augment_moments_plain, augment_write_samplewise) serve
    #: batches without channel shift or brightness, where the variant has them
    #: (``variants.Entry.lean``).
    plain_write: bool = False

    @property
    def launches(self) -> bool:
        n, h, w, c = self.dims
        return bool(n and h * w * c)

    def convert_input(self, x: Any) -> Any:
        """The batch as the kernels read it: channels-last, in their input dtype, contiguous
        (one copy where it is not already)."""
        if self.transpose_input:
            x = x.transpose(0, 2, 3, 1)
        if self.cast_input is not None:  # NumPy rounds the batch to the working dtype first too
            return x.astype(self.cast_input, order="C")
        return x if x.flags.c_contiguous else x.copy(order="C")

    def convert_output(self, out: Any, xp: Any) -> Any:
        """The kernels' output as asked, where the compiled variant writes something else."""
        if self.after is None:
            return out
        return to_output(out, not self.variant.out_chw, *self.after, xp)


def _launch_shape(dims: tuple[int, int, int, int],
                  pixels_per_thread: int = PIXELS_PER_THREAD) -> dict[str, Any]:
    """A plan's ``grid``, ``block`` and ``partials`` (the moments' buffer follows the grid)."""
    n, h, w, _ = dims
    grid, block = launch_grid(n, h * w, pixels_per_thread)
    return dict(grid=grid, block=block, partials=partials_size(n, grid, block))


def _make_plan(shape: tuple, dtype: Any, config: AugmentConfig, standardize: bool,
               backend_name: str, resized: bool = False) -> Plan:
    work = config.dtype
    if work not in WORK_TYPES:
        raise TypeError(f"dtype {work!r} is not supported by the {backend_name} backend; "
                        f"supported: {', '.join(WORK_TYPES)}")
    in_dtype = dtype_name(np.dtype(dtype))
    n = shape[0]
    h, w, c = shape[1:] if config.channels_last else (shape[2], shape[3], shape[1])
    if h * w * c >= 2**31:  # the kernels index within an image in 32 bits
        raise ValueError(f"images of {h}x{w}x{c} are too large for the CUDA kernels "
                         "(at most 2^31 - 1 values per image)")
    if config.precision == "fast" and max(h, w) > FAST_MAX_SIDE:
        # warp.cuh: a pixel's doubled offset from the centre must be exact in float32.
        raise ValueError(f"precision='fast' takes images of at most {FAST_MAX_SIDE:,} rows and "
                         f"columns; these are {h}x{w}: use precision='exact'")
    # What the kernel does, and what is left for array operations afterwards:
    # a preprocessing_function must see the transformed images (Keras calls it
    # first in standardize); ZCA is a (D x D) matrix product, not a per-pixel step.
    fused = standardize and config.preprocessing_function is None
    center = scale = zca = False
    missing = False
    if fused:
        missing = any(flag and value is None for flag, value in (
            (config.featurewise_center, config.mean),
            (config.featurewise_std_normalization, config.std),
            (config.zca_whitening, config.zca_whitening_matrix)))
        center, scale, zca = featurewise_steps(config, stacklevel=8)
    out_dtype = check_output_dtype(config.out_dtype, work)
    finish_here = fused and not zca
    # What the kernels are to deliver: the output, or the working dtype in the batch's layout
    # for the steps after them.
    wanted_dtype = out_dtype if finish_here else work
    wanted_last = config.out_channels_last if finish_here else config.channels_last
    way = route(in_dtype, work, wanted_dtype, not (config.channels_last or resized),
                not wanted_last, config.interpolation_order, config.fill_mode, config.precision,
                resized, luma=resized and c == 1)
    variant = way.variant
    epilogue = make_epilogue(config, tuple(shape[1:]), standardize=fused,
                             featurewise=(center, scale))
    return Plan(
        config=config, work=work, dims=(n, h, w, c), variant=variant,
        cast_input=way.cast_input, transpose_input=way.transpose_input,
        after=(wanted_last, wanted_dtype) if way.converts_output else None,
        epilogue=epilogue, finish_here=finish_here, zca=zca, out_dtype=out_dtype,
        out_numpy_dtype=numpy_dtype(variant.out_dtype),
        out_shape=(n, c, h, w) if variant.out_chw else (n, h, w, c),
        shape_args=tuple(np.int64(v) for v in (n, h, w, c)),
        **_launch_shape((n, h, w, c)),
        # Statistics are copied into the epilogue: a plan holding them is not kept, so an
        # array edited in place between batches is read again.
        cacheable=not missing and epilogue.mean is None and epilogue.std_eps is None,
        plain_write=(variant.lean and not epilogue.flags & ~_PLAIN_STEPS
                     and _rescale_is_plain(float(epilogue.record["rescale"]), work)))


#: precision="fast": the largest height or width (FastGeometry in warp.cuh).
FAST_MAX_SIDE = 2**24

#: The steps after the warp that the lean kernels take.
_PLAIN_STEPS = (STANDARDIZE_FLAGS.STD_RESCALE | STANDARDIZE_FLAGS.STD_SAMPLE_CENTER
                | STANDARDIZE_FLAGS.STD_SAMPLE_SCALE)


def _rescale_is_plain(rescale: float, work: str) -> bool:
    """Whether the plain kernels' rescale gives NumPy's product (see augment.cu)."""
    return work != "float32" or float(np.float32(rescale)) == rescale
