"""Sampler: draws Keras's random augmentation parameters, draw for draw.

Keras's ``get_random_transform`` calls the legacy global NumPy RNG in a fixed
order (docs/semantics.md §2).  :class:`RandomTransformSampler` makes the same
calls, in the same order, on a ``numpy.random.RandomState`` that the caller
owns, so the values (and their Python types) equal Keras's for the same seed
while the global RNG is never touched.  The sampler is separate from the code
that applies parameters: draw once, inspect or edit, replay on any backend.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from .params import TransformParams


@dataclass(frozen=True)
class RandomTransformSampler:
    """The random ranges of an :class:`~gpuaug.ImageDataGenerator`.

    ``zoom_range`` is the normalised ``[lo, hi]`` pair; ``row_axis`` and
    ``col_axis`` index a single image (0-based, channel axis excluded).
    """

    rotation_range: Any = 0
    width_shift_range: Any = 0.0
    height_shift_range: Any = 0.0
    shear_range: Any = 0.0
    zoom_range: Sequence[Any] = (1.0, 1.0)
    channel_shift_range: Any = 0.0
    brightness_range: Any = None
    horizontal_flip: Any = False
    vertical_flip: Any = False
    row_axis: int = 0
    col_axis: int = 1

    @staticmethod
    def _shift(rng: np.random.RandomState, shift_range: Any, dim: int) -> Any:
        # Keras: ints and 1-D sequences pick a value and a random sign; floats
        # make ``choice`` raise before it consumes any randomness, and fall
        # back to a uniform draw.  Ranges below 1 are fractions of ``dim``.
        try:
            value = rng.choice(shift_range)
            value *= rng.choice([-1, 1])
        except ValueError:
            value = rng.uniform(-shift_range, shift_range)
        if np.max(shift_range) < 1:
            value *= dim
        return value

    def draw(self, rng: np.random.RandomState, img_shape: Sequence[int]) -> dict[str, Any]:
        """One image's parameter dict, equal to Keras's for the same RNG state."""
        theta = rng.uniform(-self.rotation_range, self.rotation_range) if self.rotation_range else 0
        tx = self._shift(rng, self.height_shift_range, img_shape[self.row_axis]) \
            if self.height_shift_range else 0
        ty = self._shift(rng, self.width_shift_range, img_shape[self.col_axis]) \
            if self.width_shift_range else 0
        shear = rng.uniform(-self.shear_range, self.shear_range) if self.shear_range else 0
        if self.zoom_range[0] == 1 and self.zoom_range[1] == 1:
            zx, zy = 1, 1
        else:
            zx, zy = rng.uniform(self.zoom_range[0], self.zoom_range[1], 2)
        # Both flip draws happen on every call, flips enabled or not.
        flip_horizontal = (rng.random_sample() < 0.5) * self.horizontal_flip
        flip_vertical = (rng.random_sample() < 0.5) * self.vertical_flip
        channel_shift_intensity = None
        if self.channel_shift_range != 0:
            channel_shift_intensity = rng.uniform(-self.channel_shift_range,
                                                  self.channel_shift_range)
        brightness = None
        if self.brightness_range is not None:
            brightness = rng.uniform(self.brightness_range[0], self.brightness_range[1])
        return {
            "theta": theta, "tx": tx, "ty": ty, "shear": shear, "zx": zx, "zy": zy,
            "flip_horizontal": flip_horizontal, "flip_vertical": flip_vertical,
            "channel_shift_intensity": channel_shift_intensity, "brightness": brightness,
        }

    def draw_batch(
        self, rng: np.random.RandomState, count: int, img_shape: Sequence[int]
    ) -> TransformParams:
        """Parameters for ``count`` images, drawn image after image as Keras does."""
        return TransformParams.from_dicts(self.draw(rng, img_shape) for _ in range(count))
