"""Pillow's rules that gpuaug applies itself to images another decoder made (DALI's).

Nearest-neighbour positions and the RGB -> L luma, exactly as Pillow computes them, so
that an image DALI decoded is resized and converted to Pillow's (Keras's) pixels.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np


@functools.lru_cache(maxsize=256)
def pil_nearest_indices(n_in: int, n_out: int) -> np.ndarray:
    """Source index of each output position under Pillow's NEAREST rule (docs/semantics.md §7).

    Positions start at ``scale / 2`` and are accumulated in float64, ``pos += scale``;
    the closed form ``floor((i + 0.5) * scale)`` differs on about 0.7 % of pixels.
    """
    scale = n_in / n_out
    out = np.empty(n_out, dtype=np.int64)
    pos = scale * 0.5
    for i in range(n_out):
        out[i] = min(int(pos), n_in - 1)
        pos += scale
    return out


def pil_luma(rgb: Any, xp: Any = np) -> Any:
    """Pillow's RGB -> L: ``(R*19595 + G*38470 + B*7471 + 0x8000) >> 16``, as (H, W, 1) uint8."""
    v = rgb.astype(xp.uint32)
    luma = (v[..., 0] * 19595 + v[..., 1] * 38470 + v[..., 2] * 7471 + 0x8000) >> 16
    return luma.astype(xp.uint8)[..., None]
