"""Running one batch through the engine on the generator's device."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from ..backends.output import to_output
from ..config import AugmentConfig
from ..engine import augment_batch
from ..params import TransformParams


def run_engine(generator: Any, batch: np.ndarray, params: TransformParams,
               config: AugmentConfig) -> Any:
    """``augment_batch`` where the generator computes: the host batch is uploaded once on CUDA."""
    if generator.device != "cpu":
        import cupy

        with cupy.cuda.Device(int(generator.device.split(":")[1])):
            return augment_batch(cupy.asarray(batch), params, config)
    return augment_batch(batch, params, config)


def run_in_float32(generator: Any, batch: Any, params: TransformParams, dtype: str) -> Any:
    """Keras's file iterators work in float32 (``img_to_array``) and cast to ``dtype`` at the end.

    Without a generator (Keras allows ``image_data_generator=None``) the decoded images
    are only converted to ``dtype``.
    """
    if generator is None:
        return batch.astype(dtype)
    config = generator.config(dtype)
    if config.dtype == "float32":
        return run_engine(generator, batch, params, config)
    work = dataclasses.replace(config, dtype="float32", output_dtype=None, output_data_format=None)
    x = run_engine(generator, batch, params, work)
    xp = np if isinstance(x, np.ndarray) else __import__("cupy")
    return to_output(x, config.channels_last, config.out_channels_last, config.out_dtype, xp)
