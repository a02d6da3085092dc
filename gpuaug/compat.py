"""Compatibility modes: which Keras generation's behaviour gpuaug reproduces.

``"keras"`` (default)
    Keras >= 2.9 and Keras 3's legacy ``ImageDataGenerator``, quirks included:
    ``height_shift_range`` shifts columns and ``width_shift_range`` rows, the
    warp pivots on the *transposed* centre ``(W/2 - 0.5, H/2 - 0.5)``, and
    brightness goes through an 8-bit PIL round trip.
``"keras-preprocessing"``
    keras-preprocessing 1.1.2 (standalone Keras <= 2.8, TF <= 2.8): no axis
    swap, pivot ``(H/2 + 0.5, W/2 + 0.5)``, clockwise rotation, brightness that
    min-max stretches every image to 0..255 and leaves it there, KP's ZCA.
``"fixed"``
    What the Keras documentation promises: ``height_shift_range`` moves rows,
    ``width_shift_range`` columns, the pivot is the true centre
    ``((H-1)/2, (W-1)/2)``, and brightness is a plain multiplication that
    keeps the data's scale and precision.

The random draws (docs/semantics.md §2) are identical in all three modes, so
the same seed gives the same parameter dictionaries everywhere.
"""

from __future__ import annotations

from typing import Literal

from .validation import check_choice

Compat = Literal["keras", "keras-preprocessing", "fixed"]
COMPAT_MODES: tuple[str, ...] = ("keras", "keras-preprocessing", "fixed")


def check_compat(compat: object) -> str:
    """Return ``compat`` if it names a mode, else raise a ValueError naming it."""
    return check_choice("compat", compat, COMPAT_MODES)
