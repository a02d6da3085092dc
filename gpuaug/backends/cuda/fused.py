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

from typing import Any, Protocol

import numpy as np

from ...config import AugmentConfig
from ...params import TransformParams
from ..reference.output_format import check_output_dtype, numpy_dtype, to_output
from ..reference.pointwise import check_pil_channels
from ..reference.standardize import featurewise_steps, standardize_batch, zca_whiten
from .launch_args import Epilogue, launch_grid, make_epilogue, pack_upload, partials_size
from .variants import WORK_TYPES, KernelVariant, dtype_name, kernel_variant, reads_directly


class Launcher(Protocol):
    """What :class:`FusedBackend` needs from whoever runs the kernels."""

    xp: Any  # the array module of the device (cupy, or numpy for the host emulation)

    def upload(self, host: np.ndarray) -> Any:
        """Copy a host byte buffer to the device."""

    def allocate(self, shape: tuple[int, ...], dtype: np.dtype) -> Any:
        """An uninitialised device array."""

    def context(self) -> Any:
        """A context manager making the launcher's device current (array ops run there)."""

    def launch(self, variant: KernelVariant, kernel_pass: str, grid: tuple[int, int, int],
               block: tuple[int, int, int], args: tuple) -> None:
        """Run one kernel of ``variant`` (``"minmax"``, ``"moments"`` or ``"write"``)."""


class FusedBackend:
    """``apply`` and ``augment`` through the fused kernels (see module docstring)."""

    def __init__(self, launcher: Launcher, name: str) -> None:
        self.launcher = launcher
        self.xp = launcher.xp
        self.name = name

    def apply(self, batch: Any, matrices: np.ndarray, params: TransformParams,
              config: AugmentConfig) -> Any:
        """Keras's ``apply_transform``: a new batch in ``config.dtype``, in the same layout."""
        with self.launcher.context():
            return self._run(batch, matrices, params, config, standardize=False)

    def augment(self, batch: Any, matrices: np.ndarray, params: TransformParams,
                config: AugmentConfig) -> Any:
        """``apply`` + ``standardize`` + output dtype and layout, fused where possible."""
        with self.launcher.context():
            return self._run(batch, matrices, params, config, standardize=True)

    # ------------------------------------------------------------------ internals
    def _run(self, batch: Any, matrices: np.ndarray, params: TransformParams,
             config: AugmentConfig, *, standardize: bool) -> Any:
        xp = self.xp
        work = config.dtype
        if work not in WORK_TYPES:
            raise TypeError(f"dtype {work!r} is not supported by the {self.name} backend; "
                            f"supported: {', '.join(WORK_TYPES)}")
        x = xp.ascontiguousarray(batch)
        if not reads_directly(dtype_name(x.dtype), work):
            x = x.astype(work)  # NumPy rounds the batch to the working dtype first, too
        n = x.shape[0]
        h, w, c = x.shape[1:] if config.channels_last else (x.shape[2], x.shape[3], x.shape[1])
        image_shape = x.shape[1:]
        if h * w >= 2**31:
            raise ValueError(f"images of {h}x{w} pixels are too large for the CUDA kernels "
                             "(at most 2^31 - 1 pixels per image)")
        if config.compat != "fixed" and not np.isnan(params.brightness).all():
            check_pil_channels(c)

        # What the kernel does, and what is left for array operations afterwards:
        # a preprocessing_function must see the transformed images (Keras calls it
        # first in standardize); ZCA is a (D x D) matrix product, not a per-pixel step.
        fused = standardize and config.preprocessing_function is None
        center = scale = zca = False
        if fused:
            center, scale, zca = featurewise_steps(config, stacklevel=6)
        out_dtype = check_output_dtype(config.out_dtype, work)
        finish_here = fused and not zca
        kernel_dtype = out_dtype if finish_here else work
        kernel_chw = (not config.out_channels_last) if finish_here else (not config.channels_last)

        variant = kernel_variant(dtype_name(x.dtype), kernel_dtype, work,
                                 config.interpolation_order, config.fill_mode,
                                 not config.channels_last, kernel_chw)
        epilogue = make_epilogue(config, image_shape, standardize=fused,
                                 featurewise=(center, scale))
        out_shape = (n, c, h, w) if kernel_chw else (n, h, w, c)
        out = self.launcher.allocate(out_shape, numpy_dtype(kernel_dtype))
        if n and h * w * c:
            self._launch(x, out, variant, matrices, params, config, epilogue, (n, h, w, c))

        if finish_here or not standardize:
            return out  # fused to the end, or apply(): Keras's transform in the working dtype
        if zca:
            out = zca_whiten(out, config.zca_whitening_matrix, xp)
        else:  # the preprocessing_function path: standardize as arrays
            out = standardize_batch(out, config, None, xp=xp)
        return to_output(out.astype(work, copy=False), config.channels_last,
                         config.out_channels_last, out_dtype, xp)

    def _launch(self, x: Any, out: Any, variant: KernelVariant, matrices: np.ndarray,
                params: TransformParams, config: AugmentConfig, epilogue: Epilogue,
                dims: tuple[int, int, int, int]) -> None:
        n, h, w, c = dims
        # The batch's only host-to-device copy: epilogue, sample records, statistics.
        upload = self.launcher.upload(pack_upload(matrices, params, config.dtype, epilogue))
        grid, block = launch_grid(n, h * w)
        shape = tuple(np.int64(v) for v in dims)
        shifted = not np.isnan(params.channel_shift_intensity).all()
        brightened = not np.isnan(params.brightness).all()
        if shifted or (brightened and config.compat != "fixed"):
            self.launcher.launch(variant, "minmax", grid, block, (x, upload, *shape))
        partials = upload  # never read unless the samplewise steps run
        if epilogue.sample_stats:
            partials = self.launcher.allocate((partials_size(n, grid, block),),
                                              np.dtype(np.float64))
            self.launcher.launch(variant, "moments", grid, block, (x, upload, partials, *shape))
        self.launcher.launch(variant, "write", grid, block, (x, out, upload, partials, *shape))
