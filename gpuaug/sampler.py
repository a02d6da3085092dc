"""Sampler: draws Keras's random augmentation parameters, draw for draw.

Keras's ``get_random_transform`` calls the legacy global NumPy RNG in a fixed
order (docs/semantics.md §2).  :class:`RandomTransformSampler` makes the same
calls, in the same order, on a ``numpy.random.RandomState`` that the caller
owns, so the values (and their Python types) equal Keras's for the same seed
while the global RNG is never touched.  The sampler is separate from the code
that applies parameters: draw once, inspect or edit, replay on any backend.

Three ways to draw, one plan: :meth:`~RandomTransformSampler.draw` is one image's
dict, as Keras returns it; :meth:`~RandomTransformSampler.draw_batch` is the same
values for a whole batch, vectorised (:mod:`gpuaug.rng`); and
:meth:`~RandomTransformSampler.draw_keyed` draws each sample from (key, sample index)
alone.  The last two share one plan (:meth:`~RandomTransformSampler.plan`: what is
drawn, in Keras's order, and how a random number becomes a value); ``draw`` keeps
Keras's own calls, and tests hold the batch draws equal to it and to Keras.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Sequence, Union

import numpy as np

from .params import PARAM_KEYS, TransformParams
from .rng import (
    WordStream,
    keyed_uniforms,
    legacy_uniform_is_vectorisable,
    mask_for,
    words_to_doubles,
)


@dataclass(frozen=True)
class Uniform:
    """``uniform(low, high)``: ``low + (high - low) * u``, then times ``scale`` if given."""

    low: float
    span: float
    scale: Optional[int] = None

    def value(self, u: np.ndarray) -> np.ndarray:
        v = self.low + self.span * u
        return v * self.scale if self.scale is not None else v


@dataclass(frozen=True)
class Choice:
    """Keras's integer / list shift: ``choice(R)`` times ``choice([-1, 1])``, then scaled.

    ``choice(R)`` picks an index below ``size``; the value is the index itself for an
    integer ``R`` (``values`` None) and ``values[index]`` for a sequence.
    """

    size: int
    values: Optional[np.ndarray] = None
    scale: Optional[int] = None

    def value(self, index: np.ndarray, sign_index: np.ndarray) -> np.ndarray:
        picked = index if self.values is None else self.values[index.astype(np.int64)]
        v = (picked * np.where(sign_index == 1, 1, -1)).astype(np.float64)
        return v * self.scale if self.scale is not None else v


@dataclass(frozen=True)
class Flip:
    """``random_sample() < 0.5``, times the generator's flag (drawn even when the flag is off)."""

    enabled: bool

    def value(self, u: np.ndarray) -> np.ndarray:
        return (u < 0.5) & self.enabled


Rule = Union[Uniform, Choice, Flip]


@dataclass(frozen=True)
class Plan:
    """One image's draws (``steps``: ``(parameter, rule)`` in Keras's order), ready for arrays.

    Where no step is a :class:`Choice`, every draw is one double, and a batch's values
    are ``(low + span * u) * scale`` over a ``(count, len(steps))`` array of doubles
    (``scale`` 1 where Keras does not multiply: exact), flips ``u < 0.5``.
    """

    steps: tuple[tuple[str, Rule], ...]
    low: np.ndarray
    span: np.ndarray
    scale: Optional[np.ndarray]  # None where every step's scale is 1
    flips: tuple[tuple[int, str, bool], ...]  # (column, parameter, enabled)
    only_doubles: bool  # no Choice step: every draw is one double
    wide_choice: bool  # a Choice over more than 2^32 values (64-bit words in NumPy)
    defaults: tuple[str, ...]  # the parameters no step draws (Keras's defaults)

    @classmethod
    def of(cls, steps: list[tuple[str, Rule]]) -> "Plan":
        low, span, scale, flips = [], [], [], []
        for j, (name, rule) in enumerate(steps):
            if isinstance(rule, Uniform):
                low.append(rule.low)
                span.append(rule.span)
                scale.append(1.0 if rule.scale is None else float(rule.scale))
            else:
                low.append(0.0)
                span.append(1.0)
                scale.append(1.0)
                if isinstance(rule, Flip):
                    flips.append((j, name, rule.enabled))
        choices = [rule for _, rule in steps if isinstance(rule, Choice)]
        drawn = {name for name, _ in steps}
        return cls(tuple(steps), np.array(low), np.array(span),
                   np.array(scale) if any(v != 1.0 for v in scale) else None, tuple(flips),
                   only_doubles=not choices,
                   wide_choice=any(rule.size - 1 > 0xFFFFFFFF for rule in choices),
                   defaults=tuple(name for name in _DEFAULTS if name not in drawn))

    def values(self, u: np.ndarray) -> TransformParams:
        """The parameters for doubles ``u`` of shape ``(count, len(steps))`` (no Choice step).

        ``u`` is overwritten: its columns become the parameters' columns (views, not
        copies: a batch's draws are a handful of array operations in all).
        """
        flips = {name: u[:, j] < 0.5 if enabled else np.zeros(len(u), dtype=bool)
                 for j, name, enabled in self.flips}
        # low + span * u, then times scale: as Keras, in the layout whose rows are long.
        v, span, low, scale = u, self.span, self.low, self.scale
        if not u.flags.c_contiguous and u.T.flags.c_contiguous:  # one column per step
            v, span, low = u.T, span[:, None], low[:, None]
            scale = None if scale is None else scale[:, None]
        np.multiply(v, span, out=v)
        v += low
        if scale is not None:
            v *= scale
        columns = {name: u[:, j] for j, (name, _) in enumerate(self.steps)}
        columns.update(flips)
        return self.params(columns, len(u))

    def params(self, columns: dict[str, np.ndarray], count: int) -> TransformParams:
        """A :class:`TransformParams` from the drawn columns, Keras's defaults elsewhere."""
        for name in self.defaults:
            columns[name] = _DEFAULTS[name](count)
        return TransformParams.from_columns(columns)


def _shift_rule(shift_range: Any, dim: int) -> Rule:
    """Keras's shift rule (docs/semantics.md §2) for one range, as a :data:`Rule`."""
    scale = dim if np.max(shift_range) < 1 else None
    values = np.asarray(shift_range)
    if values.ndim == 0 and isinstance(values.item(), (int, np.integer)) and values.item() > 0:
        return Choice(int(values.item()), None, scale)
    if values.ndim == 1 and len(values):
        return Choice(len(values), values, scale)
    # choice() refuses floats (and non-positive ints) before drawing: uniform instead.
    rule = _uniform(-float(shift_range), float(shift_range))
    return Uniform(rule.low, rule.span, scale)


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
    _plans: dict = field(default_factory=dict, init=False, repr=False, compare=False)

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

    def plan(self, img_shape: Sequence[int]) -> Plan:
        """The draws of one image of ``img_shape`` in Keras's order (§2), made once per shape."""
        key = (img_shape[self.row_axis], img_shape[self.col_axis])
        plan = self._plans.get(key)
        if plan is None:
            plan = self._plans[key] = Plan.of(self._steps(img_shape))
        return plan

    def _steps(self, img_shape: Sequence[int]) -> list[tuple[str, Rule]]:
        steps: list[tuple[str, Rule]] = []
        if self.rotation_range:
            steps.append(("theta", _uniform(-self.rotation_range, self.rotation_range)))
        if self.height_shift_range:
            steps.append(("tx", _shift_rule(self.height_shift_range, img_shape[self.row_axis])))
        if self.width_shift_range:
            steps.append(("ty", _shift_rule(self.width_shift_range, img_shape[self.col_axis])))
        if self.shear_range:
            steps.append(("shear", _uniform(-self.shear_range, self.shear_range)))
        if not (self.zoom_range[0] == 1 and self.zoom_range[1] == 1):
            zoom = _uniform(self.zoom_range[0], self.zoom_range[1])
            steps += [("zx", zoom), ("zy", zoom)]
        steps.append(("flip_horizontal", Flip(bool(self.horizontal_flip))))
        steps.append(("flip_vertical", Flip(bool(self.vertical_flip))))
        if self.channel_shift_range != 0:
            steps.append(("channel_shift_intensity",
                          _uniform(-self.channel_shift_range, self.channel_shift_range)))
        if self.brightness_range is not None:
            steps.append(("brightness",
                          _uniform(self.brightness_range[0], self.brightness_range[1])))
        return steps

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
        """Parameters for ``count`` images: the values Keras draws image after image.

        Bit for bit the values of ``count`` calls of :meth:`draw`, with ``rng`` left
        where they would leave it, but drawn for the whole batch at once.
        """
        plan = self.plan(img_shape)
        if count == 0:
            return plan.params({name: _DEFAULTS[name](0) for name, _ in plan.steps}, 0)
        if not legacy_uniform_is_vectorisable():
            return TransformParams.from_dicts(self.draw(rng, img_shape) for _ in range(count))
        if plan.only_doubles:  # one double per draw, whatever the bit generator
            u = rng.random_sample(count * len(plan.steps)).reshape(count, len(plan.steps))
            return plan.values(u)
        # The word replay knows MT19937's 32-bit words (Keras's legacy stream) and NumPy's
        # 32-bit masked sampler; choices beyond 2^32 values or other bit generators are
        # drawn image by image.
        if plan.wide_choice or not isinstance(getattr(rng, "_bit_generator", None),
                                              np.random.MT19937):
            return TransformParams.from_dicts(self.draw(rng, img_shape) for _ in range(count))
        return plan.params(_draw_from_words(rng, list(plan.steps), count), count)

    def draw_reseeded(self, rng: np.random.RandomState, seeds: Sequence[Any], count: int,
                      img_shape: Sequence[int]) -> TransformParams:
        """:meth:`draw_batch` of ``count`` after ``rng.seed(s)``, for each of ``seeds``, end to end.

        What a Keras iterator with a seed draws for consecutive batches (it reseeds its
        stream before each); ``rng`` is left reseeded with the last seed, past its draws.
        """
        plan = self.plan(img_shape)
        steps = len(plan.steps)
        if plan.only_doubles and count and steps and legacy_uniform_is_vectorisable():
            u = np.empty((len(seeds) * count, steps))
            for i, seed in enumerate(seeds):  # the doubles of each batch, then one plan.values
                rng.seed(seed)
                u[i * count:(i + 1) * count] = rng.random_sample(count * steps).reshape(count,
                                                                                        steps)
            return plan.values(u)
        drawn = []
        for seed in seeds:
            rng.seed(seed)
            drawn.append(self.draw_batch(rng, count, img_shape))
        return TransformParams.from_columns({
            name: np.concatenate([getattr(p, name) for p in drawn]) for name in PARAM_KEYS})

    def draw_keyed(self, key: int, indices: np.ndarray, img_shape: Sequence[int]
                   ) -> TransformParams:
        """Parameters of the samples ``indices`` under ``key`` (:func:`gpuaug.rng.epoch_key`).

        Each sample's values depend on ``key``, its index and the ranges alone: the
        distributions are Keras's (uniform ranges, the integer / list shift rule with
        its random sign, fair flips), the stream is :func:`gpuaug.rng.keyed_uniforms`.
        """
        plan = self.plan(img_shape)
        indices = np.asarray(indices, dtype=np.int64).reshape(-1)
        if plan.only_doubles:
            return plan.values(keyed_uniforms(key, indices, len(plan.steps)))
        widths = [2 if isinstance(rule, Choice) else 1 for _, rule in plan.steps]
        u = keyed_uniforms(key, indices, sum(widths))
        columns: dict[str, np.ndarray] = {}
        j = 0
        for (name, rule), width in zip(plan.steps, widths, strict=True):
            if isinstance(rule, Choice):
                index = np.minimum(np.floor(u[:, j] * rule.size), rule.size - 1)
                columns[name] = rule.value(index, (u[:, j + 1] < 0.5).astype(np.int64))
            else:
                columns[name] = rule.value(u[:, j])
            j += width
        return plan.params(columns, len(indices))


def _uniform(low: Any, high: Any) -> Uniform:
    # As RandomState.uniform converts them: to float64, then the span in float64, which
    # must be finite (NumPy raises this very error at the draw).
    low, high = float(low), float(high)
    if not np.isfinite(high - low):
        raise OverflowError("Range exceeds valid bounds")
    return Uniform(low, high - low)


_DEFAULTS: dict[str, Callable[[int], np.ndarray]] = {
    "theta": lambda n: np.zeros(n), "tx": lambda n: np.zeros(n), "ty": lambda n: np.zeros(n),
    "shear": lambda n: np.zeros(n), "zx": lambda n: np.ones(n), "zy": lambda n: np.ones(n),
    "flip_horizontal": lambda n: np.zeros(n, dtype=bool),
    "flip_vertical": lambda n: np.zeros(n, dtype=bool),
    "channel_shift_intensity": lambda n: np.full(n, np.nan),
    "brightness": lambda n: np.full(n, np.nan),
}


def _draw_from_words(rng: np.random.RandomState, steps: list[tuple[str, Rule]],
                     count: int) -> dict[str, np.ndarray]:
    """Keras's draws for ``count`` images when some are ``choice`` (masked integers).

    The words a double or a masked integer consumes vary with rejections, so each
    image's start in the stream depends on the images before it.  The stream is read
    into a buffer from a saved state; the start of every image follows from the
    per-image transition by binary lifting (log2(count) gathers); the generator is then
    restored and advanced by exactly the words the batch used.
    """
    ops: list[tuple[int, int]] = []  # (step, bound): bound -1 for a double
    for j, (_, rule) in enumerate(steps):
        if isinstance(rule, Choice):
            ops += [(j, rule.size - 1), (j, 1)]  # the value, then its sign
        else:
            ops.append((j, -1))
    fixed = sum(2 if bound < 0 else 1 for _, bound in ops)
    state = rng.get_state()
    size = count * fixed * 2 + 64
    while True:
        stream = WordStream(rng.randint(0, 2**32, size=size, dtype=np.uint32))
        step = np.arange(stream.size + 2)  # positions, stream.end included
        for _, bound in ops:  # where an image starting at p ends, for every p
            step = _advance(stream, step, bound)
        starts, end = _starts(step, count)
        if end <= stream.size:
            break
        rng.set_state(state)
        size *= 2
    rng.set_state(state)
    rng.randint(0, 2**32, size=end, dtype=np.uint32)  # consume exactly what Keras would

    drawn: dict[int, list[np.ndarray]] = {}
    position = starts
    words = stream.words
    for j, bound in ops:
        if bound < 0:
            drawn.setdefault(j, []).append(words_to_doubles(words[position], words[position + 1]))
            position = position + 2
        elif bound == 0:  # choice of one value: NumPy draws nothing
            drawn.setdefault(j, []).append(np.zeros(count, dtype=np.int64))
        else:
            at = stream.next_accepted(bound)[position]
            drawn.setdefault(j, []).append(
                (words[at] & np.uint32(mask_for(bound))).astype(np.int64))
            position = at + 1
    columns = {}
    for j, (name, rule) in enumerate(steps):
        columns[name] = rule.value(*drawn[j])
    return columns


def _advance(stream: WordStream, position: np.ndarray, bound: int) -> np.ndarray:
    """Positions after one draw from each of ``position`` (``stream.end``: ran out)."""
    if bound < 0:
        return np.minimum(position + 2, stream.end)
    if bound == 0:
        return position
    at = stream.next_accepted(bound)[position]
    return np.minimum(at + 1, stream.end)


def _starts(step: np.ndarray, count: int) -> tuple[np.ndarray, int]:
    """Start of each of ``count`` images from 0 under the transition ``step``, and the end."""
    starts = np.zeros(count, dtype=np.int64)
    power = step  # step applied 2^k times
    k = 0
    index = np.arange(count)
    while (1 << k) <= count:
        bit = ((index >> k) & 1).astype(bool)
        starts = np.where(bit, power[starts], starts)
        power = power[power]
        k += 1
    end = int(step[starts[-1]])
    return starts, end
