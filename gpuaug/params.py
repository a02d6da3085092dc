"""Per-sample augmentation parameters for a whole batch, as arrays.

Keras describes one image's augmentation as a dict (docs/semantics.md §2).
A batch engine wants the same numbers as columns: :class:`TransformParams`
holds one float64/bool array per key, with ``NaN`` standing for Keras's
``None`` ("not drawn") in ``channel_shift_intensity`` and ``brightness``.
Parameters are plain data: they can be inspected, saved, edited and replayed
through :func:`gpuaug.augment_batch` on either backend.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Iterable, Mapping

import numpy as np

PARAM_KEYS: tuple[str, ...] = (
    "theta", "tx", "ty", "shear", "zx", "zy",
    "flip_horizontal", "flip_vertical",
    "channel_shift_intensity", "brightness",
)
_DEFAULTS: dict[str, Any] = {
    "theta": 0.0, "tx": 0.0, "ty": 0.0, "shear": 0.0, "zx": 1.0, "zy": 1.0,
    "flip_horizontal": False, "flip_vertical": False,
    "channel_shift_intensity": None, "brightness": None,
}
_FLAGS = ("flip_horizontal", "flip_vertical")
_OPTIONAL = ("channel_shift_intensity", "brightness")


@dataclass(frozen=True)
class TransformParams:
    """Columns of per-sample parameters; every field has shape ``(batch,)``.

    ``theta`` and ``shear`` are degrees; ``tx``/``ty`` pixels (``tx`` comes from
    ``height_shift_range``, ``ty`` from ``width_shift_range``); ``zx``/``zy``
    zoom factors (< 1 magnifies); flips are booleans; ``channel_shift_intensity``
    and ``brightness`` are ``NaN`` where the sample has none.
    """

    theta: np.ndarray
    tx: np.ndarray
    ty: np.ndarray
    shear: np.ndarray
    zx: np.ndarray
    zy: np.ndarray
    flip_horizontal: np.ndarray
    flip_vertical: np.ndarray
    channel_shift_intensity: np.ndarray
    brightness: np.ndarray

    def __post_init__(self) -> None:
        sizes = set()
        for f in fields(self):
            dtype = np.bool_ if f.name in _FLAGS else np.float64
            value = np.asarray(getattr(self, f.name), dtype=dtype).reshape(-1)
            object.__setattr__(self, f.name, value)
            sizes.add(value.shape[0])
        if len(sizes) != 1:
            raise ValueError(f"TransformParams fields differ in length: {sorted(sizes)}")

    @classmethod
    def from_columns(cls, columns: Mapping[str, np.ndarray]) -> "TransformParams":
        """Columns that already have the right dtypes and one length (the samplers' output).

        Skips the conversions of the constructor: a batch's draws arrive as float64 and
        bool arrays, and converting them again would cost more than drawing them.
        """
        params = object.__new__(cls)
        # The fields, in order (dataclasses.fields() is slow), written where the frozen
        # dataclass's own __init__ puts them: one dict update instead of ten __setattr__s.
        params.__dict__.update({name: columns[name] for name in PARAM_KEYS})
        return params

    def __len__(self) -> int:
        return int(self.theta.shape[0])

    def skips_the_warp(self) -> np.ndarray:
        """Per sample, whether Keras leaves the image unwarped (``apply_affine_transform``
        builds no matrix when every geometric parameter has its default): only flips and
        the pointwise steps apply, and non-finite values stay where they are."""
        return ((self.theta == 0) & (self.tx == 0) & (self.ty == 0) & (self.shear == 0)
                & (self.zx == 1) & (self.zy == 1))

    def view(self, start: int, stop: int) -> "TransformParams":
        """Samples ``start:stop`` as views of these columns (no copy, no conversion)."""
        rows = slice(start, stop)
        params = object.__new__(TransformParams)  # as from_columns, without a second dict
        columns = self.__dict__
        params.__dict__.update({name: columns[name][rows] for name in PARAM_KEYS})
        return params

    @classmethod
    def from_dicts(cls, dicts: Iterable[Mapping[str, Any]]) -> "TransformParams":
        """Pack Keras-style dicts (missing keys take Keras's defaults)."""
        dicts = list(dicts)
        columns: dict[str, list[Any]] = {k: [] for k in PARAM_KEYS}
        for d in dicts:
            unknown = set(d) - set(PARAM_KEYS)
            if unknown:
                raise ValueError(
                    f"Unknown transform parameter(s) {sorted(unknown)}; "
                    f"expected keys among {list(PARAM_KEYS)}"
                )
            for k in PARAM_KEYS:
                v = d.get(k, _DEFAULTS[k])
                if k in _OPTIONAL and v is None:
                    v = np.nan
                columns[k].append(bool(v) if k in _FLAGS else v)
        return cls(**{k: np.asarray(v) for k, v in columns.items()})

    @classmethod
    def identity(cls, n: int) -> "TransformParams":
        """``n`` samples that leave the image unchanged."""
        return cls.from_dicts([{}] * n)

    def to_dicts(self) -> list[dict[str, Any]]:
        """One Keras-style dict per sample (floats, bools and ``None``)."""
        out = []
        for i in range(len(self)):
            d: dict[str, Any] = {}
            for k in PARAM_KEYS:
                v = getattr(self, k)[i]
                if k in _FLAGS:
                    d[k] = int(v)
                elif k in _OPTIONAL:
                    d[k] = None if np.isnan(v) else float(v)
                else:
                    d[k] = float(v)
            out.append(d)
        return out

    def __getitem__(self, index: Any) -> "TransformParams":
        """Select samples (slice, index array or mask), e.g. ``params[:4]``."""
        return TransformParams(**{
            f.name: np.atleast_1d(getattr(self, f.name)[index]) for f in fields(self)
        })
