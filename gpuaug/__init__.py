"""gpuaug: Keras's ImageDataGenerator as a batched augmentation engine.

Change one import, get the same batches: ``from gpuaug import ImageDataGenerator``.

The data flow, one package or module each: ``sources`` (files to decoded batches) ->
``sampler`` (Keras's random draws) -> ``compose`` (inverse matrices) -> ``backends``
(``reference``: NumPy; ``cuda``: the fused kernels of ``kernels/``) -> ``output``
(NumPy, CuPy, torch, JAX, TF).  ``generator`` and ``iterators`` are Keras's API on top.
``import gpuaug`` loads neither Pillow nor the iterators; they load on first use.
"""

from __future__ import annotations

from .compat import COMPAT_MODES
from .compose import compose_matrices
from .config import AugmentConfig
from .engine import augment_batch, transform_batch
from .errors import EmptyBatchError, ImageFileError
from .generator import ImageDataGenerator
from .params import TransformParams
from .sampler import RandomTransformSampler

__version__ = "0.1.0"

__all__ = [
    "COMPAT_MODES",
    "AugmentConfig",
    "ImageDataGenerator",
    "EmptyBatchError",
    "ImageFileError",
    "RandomTransformSampler",
    "TransformParams",
    "augment_batch",
    "compose_matrices",
    "transform_batch",
    "__version__",
]
