"""Random generator configurations covering docs/semantics.md §2's cases."""

from __future__ import annotations

import numpy as np

SHIFT_FORMS = [0.0, 0.2, 0.15, 2, 3, [-1, 0, 1], [0.1, 0.2], (0.1,), 2.0, 5.5, np.float64(0.1)]
ZOOM_FORMS = [0.0, 0.2, 0.35, [0.8, 1.2], (0.5, 0.5), [1, 1], [np.float64(0.7), 1.1], 1]
BRIGHTNESS_FORMS = [None, (0.5, 1.5), [0.2, 0.9], (1, 1)]


def random_config(rng: np.random.Generator, data_format: str | None = None) -> dict:
    """A generator configuration drawn from the forms Keras treats differently."""
    pick = lambda seq: seq[int(rng.integers(len(seq)))]  # noqa: E731
    return dict(
        rotation_range=pick([0, 15, 40.0, -30, 90]),
        width_shift_range=pick(SHIFT_FORMS),
        height_shift_range=pick(SHIFT_FORMS),
        shear_range=pick([0.0, 10.0, 0.2, 45]),
        zoom_range=pick(ZOOM_FORMS),
        channel_shift_range=pick([0.0, 0.0, 20.0, 150.0]),
        brightness_range=pick(BRIGHTNESS_FORMS),
        horizontal_flip=bool(rng.integers(2)),
        vertical_flip=bool(rng.integers(2)),
        fill_mode=pick(["nearest", "reflect", "wrap", "constant"]),
        cval=float(rng.uniform(-20, 300)),
        interpolation_order=int(rng.integers(2)),
        data_format=data_format or pick(["channels_last", "channels_first"]),
    )


def image_shape(rng: np.random.Generator, data_format: str, channels: int | None = None):
    h, w = (int(v) for v in rng.integers(2, 26, 2))
    c = channels or int(rng.choice([1, 3, 4]))
    return (h, w, c) if data_format == "channels_last" else (c, h, w)
