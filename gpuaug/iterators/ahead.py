"""Draws made ahead of the batches that use them, in both of the generator's modes.

A batch's host work is a few dozen NumPy calls whatever its size (:mod:`gpuaug.drawn`),
so the iterators draw many batches' parameters at once and derive their matrices and
packed records once.  Drawing early must change nothing a user can see:

- **keyed** (:class:`KeyedAhead`): a sample's parameters are a function of (key, sample
  index), so a stretch of the epoch's order is drawn at once; it serves the batches
  that read it in order, for the same order, key and settings.
- **Keras's** (:class:`KerasAhead`), with a seed: each batch's draws come from the
  stream just reseeded with ``seed + batches seen`` (Keras's rule), so the next batches'
  draws are replayed on a scratch generator, each from its seed.  A batch is served
  only when the iterator's stream was just reseeded with the very seed its draws were
  made from and nothing has drawn since; an epoch's permutation, drawn between the
  reseed and the draws, sends the batch down the ordinary path.  The stream is then
  *owed* the batch's draws (:class:`StreamAfter`): the next reseed overwrites it, and
  anything that reads the stream first (the next epoch's permutation, ``state_dict()``,
  the user) gets it replayed, so the stream is always the one Keras would have.
  Without a seed the stream runs on from batch to batch and every batch is drawn from
  it when it comes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional, Sequence

import numpy as np

from ..drawn import DrawnBatch, DrawnSpan


@dataclass(frozen=True)
class KeyedAhead:
    """Keyed draws of ``order[start:start + len(span)]``, made under ``key`` by ``sampler``."""

    order: np.ndarray
    key: int
    sampler: Any
    start: int
    span: DrawnSpan

    def batch(self, order: np.ndarray, key: int, sampler: Any, start: int,
              count: int) -> Optional[DrawnBatch]:
        """The draws of ``order[start:start + count]`` if this span holds them, else None."""
        offset = start - self.start
        if (order is self.order and key == self.key and sampler is self.sampler
                and 0 <= offset and offset + count <= len(self.span)):
            return self.span.batch(offset, offset + count)
        return None

    def ends_at(self, order: np.ndarray, start: int) -> bool:
        return order is self.order and start == self.start + len(self.span)


@dataclass(frozen=True)
class StreamAfter:
    """The stream where Keras leaves it after reseeding with ``seed`` and drawing one batch."""

    seed: Any
    count: int
    sampler: Any
    image_shape: tuple

    def replay(self, random_state: np.random.RandomState) -> None:
        """Put ``random_state`` there: reseed and draw the batch again (the values unused)."""
        random_state.seed(self.seed)
        self.sampler.draw_batch(random_state, self.count, self.image_shape)

    def state(self) -> tuple:
        scratch = np.random.RandomState()
        self.replay(scratch)
        return scratch.get_state()


def stream_state(value: Any) -> Any:
    """A stream state as ``get_state()`` gives it, from a state or a :class:`StreamAfter`."""
    return value.state() if isinstance(value, StreamAfter) else value


class KerasAhead:
    """Keras's draws of the next batches, each made from the stream reseeded with its seed."""

    def __init__(self, sampler: Any, count: int, image_shape: tuple, seeds: list[Any],
                 span: DrawnSpan) -> None:
        self.sampler = sampler
        self.count = count
        self.image_shape = image_shape
        self.seeds = seeds
        self.span = span
        self.next = 0  # the batch expected next

    @classmethod
    def draw(cls, sampler: Any, count: int, image_shape: Sequence[int],
             seeds: list[Any]) -> "KerasAhead":
        """A batch of ``count`` for each of ``seeds``, from a stream reseeded with it."""
        params = sampler.draw_reseeded(np.random.RandomState(), seeds, count, image_shape)
        return cls(sampler, count, tuple(image_shape), list(seeds), DrawnSpan(params))

    def serve(self, sampler: Any, seed: Any, count: int
              ) -> Optional[tuple[DrawnBatch, StreamAfter]]:
        """The next batch's draws if they were made from ``seed``, and what the stream is owed."""
        if (sampler is not self.sampler or count != self.count
                or self.next >= len(self.seeds) or self.seeds[self.next] != seed):
            return None
        start = self.next * count
        self.next += 1
        return (self.span.batch(start, start + count),
                StreamAfter(seed, count, sampler, self.image_shape))
