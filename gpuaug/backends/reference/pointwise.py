"""Per-pixel steps after the warp, batched: channel shift and brightness.

Both need statistics of the *whole warped image* (its min and max over all
channels, docs/semantics.md §3.3-§3.4), so they are reductions over each
sample followed by an element-wise update.  Arrays are channels-last
``(B, H, W, C)`` here; the backend converts layouts at its edges.  The reference
twin of ``gpuaug/kernels/pointwise.cuh``.
"""

from __future__ import annotations

import numpy as np


def _per_sample(values: np.ndarray) -> np.ndarray:
    """Reshape a (k,) column so it broadcasts over (k, H, W, C)."""
    return values.reshape(-1, 1, 1, 1)


def channel_shift(x: np.ndarray, intensity: np.ndarray) -> None:
    """Keras's ``apply_channel_shift`` on every sample whose intensity is not NaN.

    The same intensity goes to every channel and the result is clipped to the
    sample's own [min, max] over all channels, so this is a clipped global
    offset.  The intensity is rounded to ``x.dtype`` first, as NumPy does with
    the Python float Keras adds.  Updates ``x`` in place.
    """
    chosen = np.flatnonzero(~np.isnan(intensity))
    if chosen.size == 0:
        return
    sub = x[chosen]
    flat = sub.reshape(chosen.size, -1)
    low, high = _per_sample(flat.min(axis=1)), _per_sample(flat.max(axis=1))
    shifted = sub + _per_sample(intensity[chosen].astype(x.dtype))
    x[chosen] = np.clip(shifted, low, high)


def check_pil_channels(channels: int) -> None:
    # Keras round-trips through a PIL image: only L, RGB and RGBA exist.
    if channels not in (1, 3, 4):
        raise ValueError(
            f"Unsupported channel number: {channels}. Brightness in the 'keras' and "
            "'keras-preprocessing' compat modes goes through an 8-bit PIL image, "
            "which needs 1, 3 or 4 channels; use compat='fixed' for other counts."
        )


def _pil_brightness(u8: np.ndarray, factor: np.ndarray) -> np.ndarray:
    """``ImageEnhance.Brightness(img).enhance(b)`` on uint8 data, as float32.

    PIL blends with a black image: ``trunc(float32(b) * v)``, clamped to
    0..255.  An alpha channel (the 4th) is left untouched.
    """
    f = _per_sample(factor.astype(np.float32))
    out = np.clip(np.trunc(f * u8.astype(np.float32)), 0, 255).astype(np.float32)
    if u8.shape[-1] == 4:
        out[..., 3] = u8[..., 3]
    return out


def _stretch_to_uint8(v: np.ndarray) -> np.ndarray:
    """``array_to_img(scale=True)``: per-sample min-max stretch to 0..255, truncated."""
    flat = v.reshape(v.shape[0], -1)
    v = v - _per_sample(flat.min(axis=1))
    vmax = _per_sample(v.reshape(v.shape[0], -1).max(axis=1))
    v = np.divide(v, vmax, out=v, where=vmax != 0)
    v *= 255
    return v.astype(np.uint8)


def brightness(x: np.ndarray, factor: np.ndarray, compat: str) -> np.ndarray:
    """Apply the brightness factor of every sample where it is not NaN.

    - ``"keras"``: an 8-bit PIL round trip.  Data already in 0..255 is
      truncated to integers and scaled by ``trunc(b * v)``; data outside
      0..255 is min-max stretched, scaled, and mapped back to its range.
    - ``"keras-preprocessing"``: always min-max stretched to 0..255 and left
      on that scale.
    - ``"fixed"``: ``x * b``, keeping the data's scale and precision.

    Returns the updated batch (a new array only when the dtype must change).
    """
    chosen = np.flatnonzero(~np.isnan(factor))
    if chosen.size == 0:
        return x
    b = factor[chosen]
    sub = x[chosen]
    if compat == "fixed":
        x[chosen] = sub * _per_sample(b.astype(x.dtype))
        return x
    check_pil_channels(x.shape[-1])
    v = sub.astype(np.float32)
    if compat == "keras-preprocessing":
        x[chosen] = _pil_brightness(_stretch_to_uint8(v), b)
        return x
    flat = sub.reshape(chosen.size, -1)
    low, high = flat.min(axis=1), flat.max(axis=1)
    local = (low < 0) | (high > 255)
    result = np.empty_like(sub)
    plain = ~local
    if plain.any():
        result[plain] = _pil_brightness(v[plain].astype(np.uint8), b[plain])
    if local.any():
        scaled = _pil_brightness(_stretch_to_uint8(v[local]), b[local])
        lo, hi = _per_sample(low[local]), _per_sample(high[local])
        # Keras maps back with float32 / 255, then the span in the data's dtype.
        result[local] = (scaled / np.float32(255)).astype(x.dtype) * (hi - lo) + lo
    x[chosen] = result
    return x
