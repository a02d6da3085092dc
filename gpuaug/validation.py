"""Argument checks beyond Keras's own: wrong types, NaN and infinity, caught by name.

Keras validates a few arguments at construction and lets the rest fail later, deep
inside NumPy or SciPy, at the first batch (``rotation_range="40"``,
``zoom_range=[nan, 1]``, ``batch_size=0``).  gpuaug keeps Keras's checks and messages
where Keras has them and adds these, so that every bad value is a ``TypeError`` or
``ValueError`` naming the argument, at the call that received it.
"""

from __future__ import annotations

import math
import numbers
from typing import Any, Sequence

import numpy as np


def _is_choice(value: Any, choice: Any) -> bool:
    # Compared with ==, never hashed (an unhashable value is a wrong value, not a crash);
    # a bool is only ever equal to a bool, although True == 1 in Python.
    if isinstance(value, bool) or isinstance(choice, bool):
        return value is choice
    try:
        return bool(value == choice)
    except Exception:  # an array compared with a string, say
        return False


def describe_choices(choices: Sequence[Any]) -> str:
    """``'a', 'b' or 'c'``: the choices as a reader would list them."""
    shown = [repr(c) for c in choices]
    return shown[0] if len(shown) == 1 else f"{', '.join(shown[:-1])} or {shown[-1]}"


def check_choice(name: str, value: Any, choices: Sequence[Any], *, why: str = "") -> Any:
    """``value`` if it is one of ``choices``, else ``ValueError`` naming ``name`` and the choices.

    The one check of gpuaug's own enumerated arguments (``compat``, ``fill_mode``,
    ``output``, ``decoder``, ...), so every such error reads the same:
    "`fill_mode` must be one of 'nearest', 'reflect', 'wrap' or 'constant'. Received: 'x'",
    then ``why`` if given.  Arguments Keras itself checks keep Keras's own messages instead.
    """
    if not any(_is_choice(value, choice) for choice in choices):
        raise ValueError(choice_message(name, value, choices, why=why))
    return value


def choice_message(name: str, value: Any, choices: Sequence[Any], *, why: str = "") -> str:
    """The message of :func:`check_choice`, for checks that cannot be a plain membership test."""
    return (f"`{name}` must be one of {describe_choices(choices)}. Received: {value!r}"
            + (f" ({why})" if why else ""))


def _is_real(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


#: Random ranges are drawn with ``uniform(-r, r)``, whose width overflows near 1.8e308.
RANGE_LIMIT = 1e300


def check_real(name: str, value: Any, *, allow_none: bool = False,
               limit: float | None = None) -> None:
    """A finite real number (bools and strings are not numbers here), ``|value| <= limit``."""
    if value is None and allow_none:
        return
    if not _is_real(value):
        raise TypeError(f"`{name}` must be a number. Received: {value!r} "
                        f"({type(value).__name__})")
    if not math.isfinite(float(value)):
        raise ValueError(f"`{name}` must be finite. Received: {value!r}")
    if limit is not None and abs(float(value)) > limit:
        raise ValueError(f"`{name}` must be at most {limit:g} in magnitude. Received: {value!r}")


def check_reals(name: str, values: Any, *, length: int | None = None,
                limit: float | None = RANGE_LIMIT) -> None:
    """A non-empty list or tuple of finite real numbers (of ``length`` if given)."""
    if not isinstance(values, (list, tuple)) and not (
            hasattr(values, "ndim") and getattr(values, "ndim", None) == 1):
        raise TypeError(f"`{name}` must be a number or a list of numbers. Received: {values!r}")
    items = list(values)
    if not items or (length is not None and len(items) != length):
        want = f"{length} numbers" if length is not None else "at least one number"
        raise ValueError(f"`{name}` must hold {want}. Received: {values!r}")
    for item in items:
        check_real(name, item, limit=limit)


def check_shift_range(name: str, value: Any) -> None:
    """Keras's shift forms: a number, or a 1-D sequence of numbers."""
    if _is_real(value):
        check_real(name, value, limit=RANGE_LIMIT)
    else:
        check_reals(name, value)


def check_bool(name: str, value: Any) -> bool:
    """``value`` as a bool; anything but True or False (NumPy's included) is refused by name."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"`{name}` must be True or False. Received: {value!r}")
    return bool(value)


def check_positive_int(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"`{name}` must be a positive integer. Received: {value!r}")
    if value < 1:
        raise ValueError(f"`{name}` must be a positive integer. Received: {value!r}")


def check_target_size(value: Any) -> None:
    if (not isinstance(value, (list, tuple)) or len(value) != 2
            or not all(isinstance(v, numbers.Integral) and not isinstance(v, bool) and v > 0
                       for v in value)):
        raise ValueError("`target_size` must be (height, width), two positive integers. "
                         f"Received: {value!r}")


def check_seed(value: Any) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"`seed` must be an integer or None. Received: {value!r}")
    if not 0 <= value < 2**32:
        raise ValueError(f"`seed` must be between 0 and 2**32 - 1. Received: {value!r}")


def check_save_format(value: Any) -> None:
    """An image format Pillow can write, by extension ("png", "jpeg", ...)."""
    from PIL import Image

    if not isinstance(value, str) or f".{value.lower()}" not in Image.registered_extensions():
        raise ValueError(f"`save_format` must be an image file extension Pillow writes, such as "
                         f"'png' or 'jpeg'. Received: {value!r}")
