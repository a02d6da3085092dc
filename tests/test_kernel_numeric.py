"""The kernels' element functions on the host build: conversions and boundary rules.

``gpuaug/kernels/numeric.cuh`` converts float16 / bfloat16 by hand (no CUDA headers) and
``gpuaug/kernels/boundary.cuh`` restates ``backends/reference/boundary.py``; both are checked here
exhaustively or on dense grids against NumPy, ml_dtypes and the NumPy boundary.
"""

from __future__ import annotations

import ctypes

import numpy as np
import pytest

from gpuaug.backends.cuda.launch_args import key_value, order_key, width_divisor
from gpuaug.backends.reference.boundary import FILL_MODES, map_coordinate, map_tap

from emulation import EmulatedLauncher

ml_dtypes = pytest.importorskip("ml_dtypes", reason="ml_dtypes (bfloat16) not installed")


@pytest.fixture(scope="module")
def lib(build_dir):
    return EmulatedLauncher(build_dir).library()


def _ptr(a: np.ndarray) -> ctypes.c_void_p:
    return ctypes.c_void_p(a.ctypes.data)


def _round(lib, x: np.ndarray, exp_bits: int) -> np.ndarray:
    x = np.ascontiguousarray(x, dtype=np.float64)
    out = np.empty(x.shape, dtype=np.uint16)
    lib.emulate_round_small_float(_ptr(x), _ptr(out), ctypes.c_longlong(x.size),
                                  ctypes.c_int(exp_bits))
    return out


def _decode(lib, bits: np.ndarray, exp_bits: int) -> np.ndarray:
    out = np.empty(bits.shape, dtype=np.float64)
    lib.emulate_small_float_to_double(_ptr(bits), _ptr(out), ctypes.c_longlong(bits.size),
                                      ctypes.c_int(exp_bits))
    return out


def test_every_float16_and_bfloat16_bit_pattern_decodes_like_numpy(lib):
    bits = np.arange(1 << 16, dtype=np.uint16)
    for exp_bits, dtype in ((5, np.float16), (8, ml_dtypes.bfloat16)):
        with np.errstate(invalid="ignore"):  # bfloat16 NaN patterns
            ref = bits.view(dtype).astype(np.float64)
        out = _decode(lib, bits, exp_bits)
        np.testing.assert_array_equal(np.isnan(out), np.isnan(ref))
        np.testing.assert_array_equal(out[~np.isnan(ref)], ref[~np.isnan(ref)])


def test_every_float16_bit_pattern_decodes_to_float32_like_numpy(lib):
    """precision="fast" reads float16 input straight into float32, with no FP64 step."""
    bits = np.arange(1 << 16, dtype=np.uint16)
    out = np.empty(bits.shape, dtype=np.float32)
    lib.emulate_small_float_to_float(_ptr(bits), _ptr(out), ctypes.c_longlong(bits.size))
    ref = bits.view(np.float16).astype(np.float32)
    np.testing.assert_array_equal(np.isnan(out), np.isnan(ref))
    finite = ~np.isnan(ref)
    np.testing.assert_array_equal(out[finite].view(np.uint32), ref[finite].view(np.uint32))


def _hard_doubles(rng) -> np.ndarray:
    """Random doubles over every binade, plus every half-way point and its neighbours."""
    f16 = np.arange(1 << 16, dtype=np.uint16).view(np.float16).astype(np.float64)
    f16 = f16[np.isfinite(f16)]
    f16.sort()
    mids = (f16[:-1] + f16[1:]) / 2
    special = np.array([0.0, -0.0, np.inf, -np.inf, 65504.0, 65519.99, 65520.0, 1e-8, 2.0**-25,
                        2.0**-24, 3 * 2.0**-26, 1e300, -1e-300])
    wide = rng.uniform(-1, 1, 200_000) * np.exp2(rng.integers(-30, 20, 200_000))
    return np.concatenate([mids, np.nextafter(mids, np.inf), np.nextafter(mids, -np.inf),
                           special, wide])


def test_float64_to_float16_rounds_like_numpy(lib):
    x = _hard_doubles(np.random.default_rng(0))
    with np.errstate(over="ignore"):  # values beyond 65520 become inf, as they should
        ref = x.astype(np.float16).view(np.uint16)
    np.testing.assert_array_equal(_round(lib, x, 5), ref)
    nan = _round(lib, np.array([np.nan]), 5).view(np.float16)
    assert np.isnan(nan).all()


def test_float32_values_round_to_bfloat16_like_ml_dtypes(lib):
    rng = np.random.default_rng(1)
    bits = rng.integers(0, 1 << 32, 300_000, dtype=np.uint64).astype(np.uint32)
    x = bits.view(np.float32)
    x = x[np.isfinite(x)]
    ref = x.astype(ml_dtypes.bfloat16).view(np.uint16)
    np.testing.assert_array_equal(_round(lib, x.astype(np.float64), 8), ref)


@pytest.mark.parametrize("n", [1, 2, 3, 7, 16])
@pytest.mark.parametrize("mode", FILL_MODES)
def test_boundary_rules_equal_the_numpy_statement(lib, mode, n):
    rng = np.random.default_rng(n)
    u = np.concatenate([
        np.linspace(-5 * n - 3, 6 * n + 3, 4001),
        rng.uniform(-100 * n, 100 * n, 4000),
        np.arange(-3 * n, 4 * n, 0.5),
        [-1e-16, 1e-16, -1e-15, -(1e-15 + 1e-17), n - 1 + 1e-13, -(2 * n) - 1e-9],
    ])
    out = np.empty_like(u)
    code = FILL_MODES.index(mode)
    lib.emulate_map_coordinate(_ptr(u), _ptr(out), ctypes.c_longlong(u.size),
                               ctypes.c_longlong(n), ctypes.c_int(code))
    np.testing.assert_array_equal(out, map_coordinate(u, n, mode))
    j = np.arange(-4 * n - 2, 5 * n + 3, dtype=np.int64)
    taps = np.empty_like(j)
    lib.emulate_map_tap(_ptr(j), _ptr(taps), ctypes.c_longlong(j.size), ctypes.c_longlong(n),
                        ctypes.c_int(code))
    np.testing.assert_array_equal(taps, map_tap(j, n, mode))


@pytest.mark.parametrize("n", [1, 2, 3, 7, 16, 2**24])
@pytest.mark.parametrize("taps", ["emulate_nearest_taps_fast", "emulate_nearest_tap_pair_fast"])
def test_fast_nearest_taps_are_the_rule_of_to_index_then_map_tap(lib, n, taps):
    """precision="fast" clamps nearest taps in float32 before a saturating conversion, one
    tap at a time (order 0) or both from one conversion (order 1): the same taps as the
    exact mode's rule for every start, NaN, infinities, -0 and 2^31 included."""
    start = np.concatenate([
        np.arange(-3 * min(n, 64) - 2, 4 * min(n, 64) + 3),
        [n - 2, n - 1, n, n + 1, -0.0, np.nan, np.inf, -np.inf, 1e30, -1e30, 2.0**31,
         -(2.0**31), 2.0**24 - 1, 2.0**24, -(2.0**24)],
    ]).astype(np.float32)
    for step in (0, 1):
        fast = np.full(start.shape, -99, dtype=np.int32)
        rule = np.full(start.shape, -99, dtype=np.int32)
        getattr(lib, taps)(_ptr(start), _ptr(fast), _ptr(rule), ctypes.c_longlong(start.size),
                           ctypes.c_int(n), ctypes.c_int(step))
        np.testing.assert_array_equal(fast, rule)
        assert ((0 <= fast) & (fast <= n - 1)).all()


@pytest.mark.parametrize("d", [1, 2, 3, 7, 224, 225, 640, 1000, 4095, 65_537, 2**24 + 1,
                               2**30 + 1, 2**31 - 1, 2**31])
def test_dividing_by_the_hosts_magic_number_for_the_width_is_integer_division(lib, d):
    """The pixel walk divides by the width with launch_args.width_divisor: the quotient of
    every numerator a pixel index can be (below 2^31), at and around each multiple of d and
    at the ends."""
    rng = np.random.default_rng(d)
    top = 2**31
    multiples = np.unique(np.concatenate([
        np.arange(0, min(top // d + 1, 5000)), rng.integers(0, top // d + 1, 5000)])) * d
    n = np.concatenate([multiples - 1, multiples, multiples + 1, multiples + d - 1,
                        rng.integers(0, top, 20_000), [0, 1, 2**30, top - 2, top - 1]])
    n = n[(n >= 0) & (n < top)].astype(np.uint32)
    out = np.full(n.shape, 0xDEADBEEF, dtype=np.uint32)
    magic, shift = width_divisor(d)
    assert 0 < magic < 2**32
    lib.emulate_divide_by_magic(_ptr(n), _ptr(out), ctypes.c_longlong(n.size),
                                ctypes.c_uint(magic), ctypes.c_uint(shift))
    np.testing.assert_array_equal(out, n // np.uint32(d))


def test_the_width_divisor_refuses_widths_it_cannot_serve():
    for width in (0, 2**31 + 1):
        with pytest.raises(ValueError, match="width"):
            width_divisor(width)


def test_order_keys_sort_like_their_doubles():
    rng = np.random.default_rng(2)
    x = np.concatenate([rng.normal(0, 1e3, 10_000), [-np.inf, np.inf, 0.0, -0.0, 5e-324, -5e-324]])
    keys = order_key(x)
    np.testing.assert_array_equal(key_value(keys), x)
    order = np.argsort(keys, kind="stable")
    assert np.all(np.diff(x[order]) >= 0)
