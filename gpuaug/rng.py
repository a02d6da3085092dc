"""Random numbers for whole batches: Keras's legacy stream, vectorised, and keyed draws.

Two ways to draw a batch's parameters (``ImageDataGenerator(rng=...)``):

``"keras"``
    The values Keras draws from its legacy ``RandomState`` (MT19937), bit for bit and
    in Keras's order, but for the whole batch with a few array calls.  A batch whose
    draws are all ``uniform`` / ``random_sample`` takes them with one
    ``random_sample(n)``, which consumes the stream exactly as ``n`` single calls do.
    A batch with ``choice`` draws (integer or list shift ranges) reads the stream's raw
    32-bit words and replays NumPy's masked rejection sampler on them (:class:`WordStream`),
    then advances the generator by exactly the words used.
``"keyed"``
    Every value is a function of (key, sample index, slot) alone, where the key comes
    from (seed, epoch): a counter-based generator (SplitMix64's output function over a
    Weyl sequence, as ``java.util.SplittableRandom`` and NumPy's seeding use it).  The
    batch size, the order of ``it[i]`` calls, shards, worker processes, prefetch and
    resume points cannot change a sample's parameters.  SplitMix64 rather than Philox:
    written with NumPy ufuncs, a Philox4x32-10 costs about 120 us per 256 samples here,
    four times this generator, for no difference an augmentation could show.

Keras's path produces uniform doubles in [0, 1) with 53 random bits, the keyed path
with 52 (multiples of 2^-52).
"""

from __future__ import annotations

import functools

import numpy as np

_TWO53 = 9007199254740992.0
RNG_MODES = ("keras", "keyed")


# ------------------------------------------------------------------- Keras's stream
def words_to_doubles(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """MT19937's ``next_double`` from its two 32-bit words: ``(a >> 5, b >> 6)`` -> [0, 1)."""
    a = (first >> np.uint32(5)).astype(np.float64)
    b = (second >> np.uint32(6)).astype(np.float64)
    return (a * 67108864.0 + b) / _TWO53


def mask_for(bound: int) -> int:
    """NumPy's rejection mask for ``randint`` with largest value ``bound``: 2^k - 1 >= bound."""
    mask = bound
    for shift in (1, 2, 4, 8, 16, 32):
        mask |= mask >> shift
    return mask


class WordStream:
    """Raw words of a legacy ``RandomState`` with NumPy's masked sampler replayed on them.

    ``next_accepted(bound)[p]`` is the first position ``q >= p`` whose word passes
    ``(word & mask) <= bound``, or :attr:`end` when the buffer holds none; positions
    at or beyond :attr:`end` stay there.
    """

    def __init__(self, words: np.ndarray) -> None:
        self.words = words
        self.size = len(words)
        self.end = self.size + 1  # "ran out": absorbing
        self._accepted: dict[int, np.ndarray] = {}

    def next_accepted(self, bound: int) -> np.ndarray:
        table = self._accepted.get(bound)
        if table is None:
            ok = (self.words & np.uint32(mask_for(bound))) <= bound
            first = np.where(ok, np.arange(self.size), self.end)
            table = np.empty(self.size + 2, dtype=np.int64)
            table[:self.size] = np.minimum.accumulate(first[::-1])[::-1]
            table[self.size:] = self.end
            self._accepted[bound] = table
        return table


def legacy_uniform_is_vectorisable() -> bool:
    """Whether ``low + (high - low) * random_sample()`` in NumPy equals ``RandomState.uniform``.

    NumPy computes ``uniform`` in C as ``low + range * next_double``; a build that
    contracts that into a fused multiply-add rounds differently from two NumPy ufuncs.
    Checked once per process on a few thousand values; where it fails, the sampler
    draws image by image, as Keras does.
    """
    return _uniform_check()


@functools.lru_cache(maxsize=1)
def _uniform_check() -> bool:
    lows = np.array([-40.0, -0.2, 0.8, -30.0, 0.5, -1e-3, 3.0])
    highs = np.array([40.0, 0.2, 1.2, 30.0, 1.5, 1e-3, -3.0])
    reference = np.random.RandomState(20261129)
    expected = np.array([[reference.uniform(lo, hi) for lo, hi in zip(lows, highs, strict=True)]
                         for _ in range(400)])
    u = np.random.RandomState(20261129).random_sample(expected.size).reshape(expected.shape)
    return bool(np.array_equal(lows + (highs - lows) * u, expected))


# ------------------------------------------------------------------------- keyed draws
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)


_SHIFTS = tuple(np.uint64(k) for k in (30, 27, 31, 12))
_ONE_BITS = np.uint64(0x3FF0000000000000)  # the exponent of 1.0


def _mix64(z: np.ndarray) -> np.ndarray:
    """SplitMix64's output function, in place: a bijection of 64-bit words that scatters every bit.

    In place, with one temporary, because a batch's draws are a dozen of these
    operations on a few thousand words: allocations would cost as much as the arithmetic.
    """
    s30, s27, s31, _ = _SHIFTS
    t = z >> s30
    z ^= t
    z *= _MIX1
    np.right_shift(z, s27, out=t)
    z ^= t
    z *= _MIX2
    np.right_shift(z, s31, out=t)
    z ^= t
    return z


@functools.lru_cache(maxsize=64)
def epoch_key(seed: int, epoch: int, stream: int = 0) -> int:
    """The key of one epoch's draws: (seed, epoch, stream) hashed by NumPy's ``SeedSequence``.

    ``stream`` 0 is the augmentation parameters; others are for other uses of the same
    epoch (``save_to_dir`` names) so that they never share values.
    """
    return int(np.random.SeedSequence([int(seed), int(epoch), int(stream), 0x6B657964]
                                      ).generate_state(1, np.uint64)[0])


def keyed_uniforms(key: int, indices: np.ndarray, slots: int) -> np.ndarray:
    """``(len(indices), slots)`` uniform doubles in [0, 1); row ``i`` is sample ``indices[i]``.

    The array is Fortran-ordered (each slot's column contiguous).

    Position ``index * slots + j`` of the SplitMix64 stream seeded with ``key``: the same
    sample index always gets the same values under one key.
    """
    # The Weyl sequence key + (counter + 1) * golden, the counter being index * slots + j.
    # Computed slot by slot (rows of a (slots, n) array): long contiguous rows are what
    # NumPy's loops run fastest; the result is that array's transpose, a view.
    with np.errstate(over="ignore"):  # wrap-around arithmetic modulo 2^64 is the point
        z = np.asarray(indices, dtype=np.uint64) * np.uint64(slots * int(_GOLDEN) % 2**64)
        z += np.uint64((int(key) + int(_GOLDEN)) % 2**64)
        z = _mix64((np.arange(slots, dtype=np.uint64) * _GOLDEN)[:, None] + z)
    # The top 52 bits as the mantissa of a double in [1, 2), minus 1: uniform on a 2^-52 grid.
    np.right_shift(z, _SHIFTS[3], out=z)
    z |= _ONE_BITS
    u = z.view(np.float64)
    u -= 1.0
    return u.T


def new_seed() -> int:
    """A fresh 32-bit seed from the operating system (recorded, so that a run can resume)."""
    return int(np.random.SeedSequence().generate_state(1)[0])
