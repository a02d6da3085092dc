"""gpuaug: Keras's ImageDataGenerator as a batched augmentation engine.

Change one import, get the same batches: ``from gpuaug import ImageDataGenerator``.
"""

from __future__ import annotations

from .compat import COMPAT_MODES
from .compose import compose_matrices
from .config import AugmentConfig
from .engine import augment_batch, transform_batch
from .generator import ImageDataGenerator
from .params import TransformParams
from .sampler import RandomTransformSampler

__version__ = "0.1.0"

__all__ = [
    "COMPAT_MODES",
    "AugmentConfig",
    "ImageDataGenerator",
    "RandomTransformSampler",
    "TransformParams",
    "augment_batch",
    "compose_matrices",
    "transform_batch",
    "__version__",
]
