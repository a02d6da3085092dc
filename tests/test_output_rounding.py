"""Every output conversion holds the project's own definition, whatever library versions are
installed (docs/semantics.md §13, "Output dtypes").

float16, bfloat16 and float32: the working value rounded once, to nearest, ties to the even
pattern; past the largest finite value by half an ulp or more, infinity. uint8: NaN 0, then
rounded half to even and saturated to 0..255. The NumPy reference (``to_output``, and its
``round_to_small_float``, through float32 rounded to odd) and the kernels' stores (host build,
exact and fast, from the bit patterns) are checked against expectations built from the
definition alone, at every rounding boundary of each format: for each pair of neighbouring
values, the midpoint (a tie), the nearest numbers past it either way, and the points that a
rounding through float32 moves onto the midpoint (the double-rounding trap that ml_dtypes < 0.7,
torch, JAX and TensorFlow fall into from float64). The hand-offs to torch, JAX and TensorFlow
keep the delivered bits.
"""

from __future__ import annotations

import ctypes

import numpy as np
import pytest
from packaging.version import Version

from gpuaug.backends.reference.output_format import numpy_dtype, round_to_small_float, to_output

from emulation import EmulatedLauncher

#: The output types the kernels' store test entry point knows, in its order.
STORED = ("float32", "float16", "bfloat16", "uint8")
#: The 16-bit formats' exponent and stored mantissa bits (IEEE binary16; bfloat16).
FORMATS = {"float16": (5, 10), "bfloat16": (8, 7)}


@pytest.fixture(scope="module")
def lib(build_dir):
    return EmulatedLauncher(build_dir).library()


def _bits(out_dtype: str) -> type:
    """The unsigned integer type of an output dtype's width, to compare bit patterns."""
    return {"float32": np.uint32, "uint8": np.uint8}.get(out_dtype, np.uint16)


def _store(lib, x: np.ndarray, out_dtype: str, fast: bool) -> np.ndarray:
    """The kernels' store of each value of ``x`` (float64 exact, float32 fast), as raw bits."""
    x = np.ascontiguousarray(x, dtype=np.float32 if fast else np.float64)
    bits = _bits(out_dtype)
    out = np.full(x.shape, np.iinfo(bits).max // 3, dtype=bits)  # poisoned: 0x55.. patterns
    store = lib.emulate_store_fast if fast else lib.emulate_store_exact
    store(ctypes.c_void_p(x.ctypes.data), ctypes.c_void_p(out.ctypes.data),
          ctypes.c_longlong(x.size), ctypes.c_int(STORED.index(out_dtype)))
    return out


def _reference(x: np.ndarray, out_dtype: str) -> np.ndarray:
    """``to_output`` on ``x`` as a (1, n, 1, 1) batch, as raw bits."""
    out = to_output(x.reshape(1, -1, 1, 1), True, True, out_dtype).reshape(-1)
    assert out.dtype == numpy_dtype(out_dtype)
    return out.view(_bits(out_dtype))


def _float_values(exp_bits: int, mant_bits: int) -> np.ndarray:
    """The value of every non-negative finite pattern of a format, then 2^(emax + 1), in
    pattern order (which is value order), decoded from the definition of the format."""
    bias = (1 << (exp_bits - 1)) - 1
    patterns = np.arange(((1 << exp_bits) - 1) << mant_bits, dtype=np.int64)
    exp = patterns >> mant_bits
    frac = patterns & ((1 << mant_bits) - 1)
    values = np.ldexp((frac + np.where(exp > 0, 1 << mant_bits, 0)).astype(np.float64),
                      np.maximum(exp, 1) - bias - mant_bits)
    return np.append(values, np.ldexp(1.0, bias + 1))  # where the rounding to infinity starts


def _boundary_cases(exp_bits: int, mant_bits: int, carrier=np.float64):
    """(x, expected patterns): every finite value, and around every midpoint of neighbours.

    ``carrier`` is the dtype the inputs must be exact in (float32 for the fast stores): the
    cases it cannot hold are left out. The last neighbour pair (largest finite, 2^(emax + 1))
    gives the overflow: its midpoint and above round to infinity, whose pattern follows the
    largest finite one's and is even.
    """
    values = _float_values(exp_bits, mant_bits)
    patterns = np.arange(values.size, dtype=np.int64)
    low, high = values[:-1], values[1:]
    p_low, p_high = patterns[:-1], patterns[1:]
    mid = (low + high) / 2  # exact: the formats have far fewer bits than float64
    even = np.where(p_low % 2 == 0, p_low, p_high)
    # Under half a float32 ulp from the midpoint: a float32 step rounds these onto it.
    trap = (high - low) * 2.0**-20
    up = np.nextafter(mid.astype(carrier), np.inf).astype(np.float64)
    down = np.nextafter(mid.astype(carrier), -np.inf).astype(np.float64)
    x = np.concatenate([low, mid, up, down, mid + trap, mid - trap,
                        [2 * values[-1], 1e300, np.inf, 0.0, 5e-324]])
    inf = p_high[-1]
    expected = np.concatenate([p_low, even, p_high, p_low, p_high, p_low, [inf, inf, inf, 0, 0]])
    with np.errstate(over="ignore"):  # 2^(emax + 2) and 1e300 past float32: left out there
        exact = x.astype(carrier).astype(np.float64) == x
    x, expected = x[exact], expected[exact]
    sign = 1 << (exp_bits + mant_bits)
    return (np.concatenate([x, -x]),
            np.concatenate([expected, expected | sign]).astype(np.uint16))


def _uint8_cases():
    """(x, expected): ties k + 1/2 either side of 0..255, their neighbours, and the ends."""
    k = np.arange(-3, 258, dtype=np.float64)
    tie = k + 0.5
    even = np.where(k % 2 == 0, k, k + 1)
    x = np.concatenate([k, tie, np.nextafter(tie, np.inf), np.nextafter(tie, -np.inf),
                        [np.nan, np.inf, -np.inf, 1e300, -1e300, -0.0, 2.0**31, 255.4999]])
    expected = np.concatenate([k, even, k + 1, k, [0, 255, 0, 255, 0, 0, 255, 255]])
    return x, np.clip(expected, 0, 255).astype(np.uint8)


@pytest.mark.parametrize("out_dtype", ["float16", "bfloat16"])
def test_the_reference_rounds_16_bit_floats_once_at_every_boundary(out_dtype):
    x, expected = _boundary_cases(*FORMATS[out_dtype])
    np.testing.assert_array_equal(round_to_small_float(x, out_dtype).view(np.uint16), expected)
    np.testing.assert_array_equal(_reference(x, out_dtype), expected)
    # float32 and float16 batches (a float32 or float16 working dtype) take the same rule
    for work in (np.float32, np.float16):
        with np.errstate(over="ignore"):
            held = x.astype(work).astype(np.float64) == x
        np.testing.assert_array_equal(_reference(x[held].astype(work), out_dtype), expected[held])


@pytest.mark.parametrize("out_dtype", ["float16", "bfloat16"])
def test_the_kernels_round_16_bit_floats_once_at_every_boundary(lib, out_dtype):
    x, expected = _boundary_cases(*FORMATS[out_dtype])
    np.testing.assert_array_equal(_store(lib, x, out_dtype, fast=False), expected)
    x32, expected32 = _boundary_cases(*FORMATS[out_dtype], carrier=np.float32)
    np.testing.assert_array_equal(_store(lib, x32, out_dtype, fast=True), expected32)


@pytest.mark.parametrize("out_dtype", ["float16", "bfloat16"])
def test_the_boundary_cases_catch_a_rounding_through_float32(out_dtype):
    """The cases can fail: rounding through float32 first (two roundings) misses the traps."""
    x, expected = _boundary_cases(*FORMATS[out_dtype])
    with np.errstate(over="ignore"):
        twice = round_to_small_float(x.astype(np.float32), out_dtype).view(np.uint16)
    assert (twice != expected).sum() >= 1000


@pytest.mark.parametrize("out_dtype", ["float16", "bfloat16"])
def test_nan_stays_nan_with_its_sign(lib, out_dtype):
    exp_bits, mant_bits = FORMATS[out_dtype]
    # the default NaN, signalling ones and payloads, from float64 and from float32
    nan = np.array([0x7FF8000000000000, 0xFFF8000000000000, 0x7FF0000000000001,
                    0xFFFC000000000123, 0x7FFFFFFFFFFFFFFF], dtype=np.uint64).view(np.float64)
    nan32 = np.array([0x7FC00000, 0xFFC00000, 0x7FA00000, 0xFFE00001, 0x7F800001],
                     dtype=np.uint32).view(np.float32)
    signs = np.signbit(nan).astype(np.uint16) << (exp_bits + mant_bits)
    quiet = np.uint16((((1 << exp_bits) - 1) << mant_bits) | (1 << (mant_bits - 1)))
    for bits in (round_to_small_float(nan, out_dtype).view(np.uint16),
                 round_to_small_float(nan32, out_dtype).view(np.uint16),
                 _reference(nan, out_dtype), _reference(nan32, out_dtype),
                 _store(lib, nan, out_dtype, fast=False),
                 _store(lib, nan32, out_dtype, fast=True)):
        np.testing.assert_array_equal(bits, signs | quiet)


def test_float32_outputs_round_once_at_float32_boundaries(lib):
    """float64 work delivered as float32: IEEE's rounding, around random float32 neighbours
    in every binade, subnormals and the overflow to infinity included."""
    rng = np.random.default_rng(4)
    low = rng.integers(0, 0x7F7FFFFF, 100_000, dtype=np.uint32)
    low = np.concatenate([low, [0, 1, 0x007FFFFF, 0x00800000, 0x7F7FFFFF]]).astype(np.uint32)
    high = low + np.uint32(1)
    lo, hi = low.view(np.float32).astype(np.float64), high.view(np.float32).astype(np.float64)
    hi[high == 0x7F800000] = 2.0**128  # past the largest finite: where infinity starts
    mid = (lo + hi) / 2
    even = np.where(low % 2 == 0, low, high)
    x = np.concatenate([lo, mid, np.nextafter(mid, np.inf), np.nextafter(mid, -np.inf)])
    expected = np.concatenate([low, even, high, low])
    x, expected = np.concatenate([x, -x]), np.concatenate([expected, expected | 0x80000000])
    np.testing.assert_array_equal(_store(lib, x, "float32", fast=False), expected)
    with np.errstate(over="ignore"):  # the overflow to infinity is the rule here
        np.testing.assert_array_equal(_reference(x, "float32"), expected)


def test_uint8_outputs_round_half_to_even_and_saturate(lib):
    x, expected = _uint8_cases()
    np.testing.assert_array_equal(_reference(x, "uint8"), expected)
    np.testing.assert_array_equal(_store(lib, x, "uint8", fast=False), expected)
    with np.errstate(invalid="ignore", over="ignore"):  # NaN and 1e300 become float32 too
        held = x.astype(np.float32).astype(np.float64) == x
    held |= np.isnan(x)  # float32 batches: the reference's and the fast kernels'
    np.testing.assert_array_equal(_store(lib, x[held], "uint8", fast=True), expected[held])
    np.testing.assert_array_equal(_reference(x[held].astype(np.float32), "uint8"), expected[held])


def test_ml_dtypes_agrees_from_version_0_7():
    """ml_dtypes 0.7 rounds float64 -> bfloat16 once, as the definition does (earlier versions
    round through float32; gpuaug no longer asks it)."""
    ml_dtypes = pytest.importorskip("ml_dtypes")
    if Version(ml_dtypes.__version__) < Version("0.7"):
        pytest.skip(f"ml_dtypes {ml_dtypes.__version__} rounds float64 -> bfloat16 through "
                    "float32 (0.7 and later round once)")
    x, expected = _boundary_cases(*FORMATS["bfloat16"])
    with np.errstate(over="ignore"):
        np.testing.assert_array_equal(x.astype(ml_dtypes.bfloat16).view(np.uint16), expected)


def _frameworks_bits(y, output: str, dtype: np.dtype) -> np.ndarray:
    """A framework's array back as NumPy bytes, without any conversion of its values."""
    if output == "torch":
        import torch

        if dtype.name == "bfloat16":  # torch's .numpy() knows no bfloat16
            return y.view(torch.int16).numpy().view(np.uint8)
        return y.numpy().view(np.uint8)
    back = np.asarray(y)
    assert back.dtype == dtype, (output, back.dtype, dtype)
    return back.view(np.uint8)


@pytest.mark.parametrize("output", ["torch", "jax", "tf"])
def test_every_hand_off_keeps_the_batchs_dtype_and_bits(output):
    """The batch reaches torch, JAX and TensorFlow as it was delivered: no framework cast."""
    pytest.importorskip({"tf": "tensorflow"}.get(output, output))
    from gpuaug.output import convert_batch

    rng = np.random.default_rng(5)
    names = ["float32", "float16", "bfloat16", "uint8"] + (["float64"] if output != "jax" else [])
    for name in names:
        dtype = numpy_dtype(name)
        x = rng.integers(0, 256, (2, 5, 4, 3 * dtype.itemsize), dtype=np.uint8).view(dtype)
        if name != "uint8":  # NaN payloads are the frameworks' business: finite values only
            x[~np.isfinite(x.astype(np.float64))] = 0
        y = convert_batch(x, output)
        assert tuple(y.shape) == x.shape
        np.testing.assert_array_equal(_frameworks_bits(y, output, dtype), x.view(np.uint8), name)


def test_a_float64_batch_for_jax_is_refused_outside_its_64_bit_mode():
    """JAX without 64-bit mode would narrow it to float32: refused, naming the way out."""
    jax = pytest.importorskip("jax")
    import gpuaug

    x = np.random.default_rng(6).uniform(0, 255, (2, 6, 5, 3))
    gen = gpuaug.ImageDataGenerator(rotation_range=20, dtype="float64", device="cpu")
    was = jax.config.jax_enable_x64
    try:
        jax.config.update("jax_enable_x64", False)
        with pytest.raises(ValueError, match="jax_enable_x64.*output_dtype='float32'"):
            next(gen.flow(x, batch_size=2, seed=1, output="jax"))
        jax.config.update("jax_enable_x64", True)
        batch = next(gen.flow(x, batch_size=2, seed=1, output="jax"))
        expected = next(gen.flow(x, batch_size=2, seed=1))
        assert batch.dtype == np.float64
        np.testing.assert_array_equal(np.asarray(batch), expected)
    finally:
        jax.config.update("jax_enable_x64", was)
