"""The NumPy reference backend: the oracle for every CUDA kernel, and the CPU fallback.

``apply`` is Keras's ``apply_transform`` for a batch (warp, channel shift, flips,
brightness); ``augment`` adds ``standardize`` and the output dtype and layout.  Each
step lives in its own module beside this one, the twin of a header in
``gpuaug/kernels/``: ``boundary`` / ``warp`` (``boundary.cuh``, ``warp.cuh``),
``pointwise`` (``pointwise.cuh``), ``standardize`` (``standardize.cuh``),
``output_format`` (the stores of ``numeric.cuh``).
"""

from __future__ import annotations

import numpy as np

from ...config import AugmentConfig
from ...params import TransformParams
from .output_format import check_output_dtype, to_output
from .pointwise import brightness, channel_shift
from .standardize import standardize_batch
from .warp import warp_nhwc

SUPPORTED_INPUT_DTYPES = (np.uint8, np.float16, np.float32, np.float64)


def keras_planar_layout(params: TransformParams, config: AugmentConfig) -> np.ndarray:
    """Which samples Keras's per-image pipeline leaves in channel planes (C, H, W).

    SciPy warps channel by channel and the channel shift stacks channels, both
    producing planes; the PIL brightness round trip produces an interleaved
    (H, W, C) buffer; untouched channels-last images stay interleaved.  Only
    the last bit of samplewise statistics depends on it.
    """
    resampled = (
        (params.theta != 0) | (params.tx != 0) | (params.ty != 0) | (params.shear != 0)
        | (params.zx != 1) | (params.zy != 1)
        | ~np.isnan(params.channel_shift_intensity)
    )
    if not config.channels_last:
        resampled = np.ones(len(params), dtype=bool)  # planes are the native layout
    return resampled & np.isnan(params.brightness)


class NumpyBackend:
    """Applies per-sample parameters to a whole batch on the CPU."""

    name = "cpu"
    packs_records = False  # no kernel records: see FusedBackend.packs_records

    def apply(
        self,
        batch: np.ndarray,
        matrices: np.ndarray,
        params: TransformParams,
        config: AugmentConfig,
    ) -> np.ndarray:
        """Warp, flip, channel-shift and brighten ``batch`` (Keras's ``apply_transform``).

        ``batch`` is ``(B, H, W, C)`` or ``(B, C, H, W)`` per ``config.data_format``;
        ``matrices`` the composer's ``(B, 2, 3)`` inverse matrices.  The result is
        a new array in ``config.dtype`` and the same layout.
        """
        x = np.asarray(batch)
        if not config.channels_last:
            x = x.transpose(0, 2, 3, 1)
        if np.can_cast(x.dtype, config.dtype, casting="safe"):
            # Exact conversion (uint8 -> float32, say): the warp reads the input
            # directly, saving a pass over the batch.
            source = x
        else:
            source = x.astype(config.dtype)  # Keras rounds to its dtype first
        x = warp_nhwc(
            source, matrices, params.flip_horizontal, params.flip_vertical,
            order=config.interpolation_order, fill_mode=config.fill_mode, cval=config.cval,
            dtype=config.dtype, unwarped=params.skips_the_warp(),
        )
        channel_shift(x, params.channel_shift_intensity)
        x = brightness(x, params.brightness, config.compat)
        if not config.channels_last:
            x = np.ascontiguousarray(x.transpose(0, 3, 1, 2))
        return x

    def augment(
        self,
        batch: np.ndarray,
        matrices: np.ndarray,
        params: TransformParams,
        config: AugmentConfig,
    ) -> np.ndarray:
        """``apply``, then Keras's ``standardize``, then the output dtype and layout."""
        check_output_dtype(config.out_dtype, config.dtype)
        x = self.apply(batch, matrices, params, config)
        if len(x) == 0:  # e.g. every file of a batch skipped: nothing to standardize
            return to_output(x, config.channels_last, config.out_channels_last, config.out_dtype)
        x = standardize_batch(x, config, keras_planar_layout(params, config))
        return to_output(x.astype(config.dtype, copy=False), config.channels_last,
                         config.out_channels_last, config.out_dtype)
