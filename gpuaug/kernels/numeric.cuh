// Exact arithmetic for the augmentation kernels, usable on the device and on the host.
//
// The kernels must reproduce NumPy's results bit for bit wherever NumPy is the
// reference, so every operation here rounds exactly once, to nearest even:
//   - sums and products in float64 go through add_rn / mul_rn, which on the device
//     are the __dadd_rn / __dmul_rn intrinsics: the compiler may not contract them
//     into fused multiply-adds, which NumPy never performs;
//   - a value "rounded to the working dtype" is a double holding a float16,
//     float32 or float64 number.  NumPy computes float32 ops as if in infinite
//     precision then rounds once; doing the op in float64 and rounding the result
//     to float32 (or float16) gives the same bits, because float64 carries more
//     than twice the precision plus two bits (double rounding is innocuous).
//
// float16 and bfloat16 are converted by hand, from the bit patterns, so the kernels
// need no CUDA header and compile unchanged with a host C++ compiler (the CPU
// emulation the test suite uses where there is no GPU).
#pragma once
#include "interface.cuh"  // generated from gpuaug/backends/interface.py (WorkDtype, records)

#if defined(__CUDACC__) || defined(__CUDACC_RTC__)
#define GPUAUG_HD __device__ __forceinline__
#define GPUAUG_ON_DEVICE 1
#else
#include <cmath>
#include <cstring>
#define GPUAUG_HD inline
#define GPUAUG_ON_DEVICE 0
#endif

namespace gpuaug {

typedef long long i64;
typedef unsigned long long u64;
typedef unsigned short u16;

// ---------------------------------------------------------------- rounding ops
GPUAUG_HD double add_rn(double a, double b) {
#if GPUAUG_ON_DEVICE
    return __dadd_rn(a, b);
#else
    return a + b;  // the host build is compiled with -ffp-contract=off
#endif
}
GPUAUG_HD double sub_rn(double a, double b) { return add_rn(a, -b); }
GPUAUG_HD double mul_rn(double a, double b) {
#if GPUAUG_ON_DEVICE
    return __dmul_rn(a, b);
#else
    return a * b;
#endif
}
GPUAUG_HD double div_rn(double a, double b) {
#if GPUAUG_ON_DEVICE
    return __ddiv_rn(a, b);
#else
    return a / b;
#endif
}
// float32 twins: PIL's float32 steps (pointwise.cuh) and precision="fast" (warp.cuh),
// under the same names, so the boundary rules are one template over the coordinate type.
// Intrinsics on the device, so the compiler contracts nothing the host build would not
// (it is compiled with -ffp-contract=off).
GPUAUG_HD float add_rn(float a, float b) {
#if GPUAUG_ON_DEVICE
    return __fadd_rn(a, b);
#else
    return a + b;
#endif
}
GPUAUG_HD float sub_rn(float a, float b) { return add_rn(a, -b); }
GPUAUG_HD float mul_rn(float a, float b) {
#if GPUAUG_ON_DEVICE
    return __fmul_rn(a, b);
#else
    return a * b;
#endif
}
GPUAUG_HD float div_rn(float a, float b) {
#if GPUAUG_ON_DEVICE
    return __fdiv_rn(a, b);
#else
    return a / b;
#endif
}
// a * b + c rounded once, on the device and on the host alike.
GPUAUG_HD float fma_rn(float a, float b, float c) {
#if GPUAUG_ON_DEVICE
    return __fmaf_rn(a, b, c);
#else
    return std::fma(a, b, c);
#endif
}
GPUAUG_HD double floor_of(double v) { return floor(v); }
GPUAUG_HD float floor_of(float v) { return floorf(v); }
GPUAUG_HD double trunc_of(double v) { return trunc(v); }
GPUAUG_HD float trunc_of(float v) { return truncf(v); }

GPUAUG_HD u64 double_bits(double d) {
#if GPUAUG_ON_DEVICE
    return (u64)__double_as_longlong(d);
#else
    u64 b;
    std::memcpy(&b, &d, sizeof b);
    return b;
#endif
}
// floor(n / d) for 0 <= n < 2^31 and 1 <= d <= 2^31, from the host's magic number
// m = ceil(2^(31 + l) / d), l = ceil(log2 d), and shift s = 31 + l (launch_args.width_divisor):
// floor(n * m / 2^s), one 32 x 32 -> 64-bit multiply and a shift.  Exact (Granlund and
// Montgomery 1994, theorem 4.2, for 31-bit numerators): m * d = 2^s + e with 0 <= e < d <= 2^l,
// so n * m / 2^s = n / d + n * e / (d * 2^s), and n * e / 2^s < 2^31 * 2^l / 2^(31 + l) = 1
// keeps the sum below the next multiple of 1 / d; and m < 2^32.
// On the device the wide multiply is written out: from (u64)n * m the compiler rebuilds the
// product's zero high operand inside the pixel loop and adds it (two instructions per pixel).
GPUAUG_HD unsigned divide_by_magic(unsigned n, unsigned m, unsigned s) {
#if GPUAUG_ON_DEVICE
    u64 p;
    asm("mul.wide.u32 %0, %1, %2;" : "=l"(p) : "r"(n), "r"(m));
    return (unsigned)(p >> s);
#else
    return (unsigned)(((u64)n * m) >> s);
#endif
}

GPUAUG_HD double bits_double(u64 b) {
#if GPUAUG_ON_DEVICE
    return __longlong_as_double((i64)b);
#else
    double d;
    std::memcpy(&d, &b, sizeof d);
    return d;
#endif
}
// float32 -> int32 toward zero, saturating: the device's conversion (NaN gives 0), which
// the host build spells out (a C++ cast of an out-of-range value is undefined).
GPUAUG_HD int saturating_int(float x) {
#if GPUAUG_ON_DEVICE
    return __float2int_rz(x);
#else
    if (!(x == x)) return 0;
    if (x >= 2147483648.0f) return 2147483647;
    if (x <= -2147483648.0f) return -2147483647 - 1;
    return (int)x;
#endif
}
GPUAUG_HD float to_float(double d) { return (float)d; }  // round to nearest even
GPUAUG_HD float float_from_bits(int b) {
#if GPUAUG_ON_DEVICE
    return __int_as_float(b);
#else
    float f;
    std::memcpy(&f, &b, sizeof f);
    return f;
#endif
}

// ------------------------------------------------------- float16 and bfloat16
// Storage types: the 16 raw bits.  Distinct structs so templates can tell them apart.
struct f16 { u16 bits; };
struct bf16 { u16 bits; };

// Round a double to a binary floating-point format with EXP exponent bits and MANT
// stored mantissa bits, to nearest even, straight from float64 (one rounding).
template <int EXP, int MANT>
GPUAUG_HD u16 round_to_small_float(double d) {
    const int bias = (1 << (EXP - 1)) - 1;
    const u16 inf_bits = (u16)(((1 << EXP) - 1) << MANT);
    const u64 bits = double_bits(d);
    const u16 sign = (u16)((bits >> 63) << (EXP + MANT));
    const int exp = (int)((bits >> 52) & 0x7ff);
    const u64 frac = bits & ((1ull << 52) - 1);
    if (exp == 0x7ff) {  // inf or NaN (NaN becomes a quiet NaN)
        return frac ? (u16)(sign | inf_bits | (1u << (MANT - 1))) : (u16)(sign | inf_bits);
    }
    if (exp == 0) return sign;  // zero or a float64 subnormal: far below the target's range
    const int e = exp - 1023;
    if (e > bias) return (u16)(sign | inf_bits);
    const u64 m = frac | (1ull << 52);  // 53-bit significand
    int shift;
    u64 base;
    if (e >= 1 - bias) {  // normal in the target format
        shift = 52 - MANT;
        base = ((u64)(e + bias) << MANT) | ((m >> shift) & ((1ull << MANT) - 1));
    } else {  // subnormal in the target format: units of 2^(1 - bias - MANT)
        shift = 52 - MANT + (1 - bias - e);
        if (shift > 54) return sign;  // below half the smallest subnormal
        base = m >> shift;
    }
    const u64 rem = m & ((1ull << shift) - 1);
    const u64 half = 1ull << (shift - 1);
    if (rem > half || (rem == half && (base & 1))) base += 1;  // a carry may reach inf: correct
    return (u16)(sign | (u16)base);
}

template <int EXP, int MANT>
GPUAUG_HD double small_float_to_double(u16 h) {
    const int bias = (1 << (EXP - 1)) - 1;
    const int exp = (h >> MANT) & ((1 << EXP) - 1);
    const int frac = h & ((1 << MANT) - 1);
    const double sign = (h >> (EXP + MANT)) ? -1.0 : 1.0;
    if (exp == (1 << EXP) - 1) {
        return frac ? bits_double(0x7ff8000000000000ull) : sign * bits_double(0x7ff0000000000000ull);
    }
    // ldexp by hand: the value is frac * 2^(1 - bias - MANT) or (2^MANT + frac) * 2^(exp - bias - MANT)
    const int e2 = exp ? exp - bias - MANT : 1 - bias - MANT;
    const double m = exp ? (double)((1 << MANT) + frac) : (double)frac;
    return sign * m * bits_double((u64)(1023 + e2) << 52);
}

// float16 bits to float32 (exact: every float16 is a float32), without FP64 instructions.
GPUAUG_HD float small_float_to_float(u16 h) {
    const int exp = (h >> 10) & 0x1f;
    const int frac = h & 0x3ff;
    const float sign = (h >> 15) ? -1.0f : 1.0f;
    if (exp == 0x1f) return frac ? float_from_bits(0x7fc00000) : sign * float_from_bits(0x7f800000);
    const int e2 = exp ? exp - 25 : -24;  // value = m * 2^e2, m < 2^11
    const float m = exp ? (float)(1024 + frac) : (float)frac;
    return sign * m * float_from_bits((127 + e2) << 23);
}

GPUAUG_HD double round_half(double d) { return small_float_to_double<5, 10>(round_to_small_float<5, 10>(d)); }

// ------------------------------------------------------------ working dtypes
// The generator's dtype (WorkDtype): every intermediate value is rounded to it, as NumPy
// stores it.
template <int WORK>
GPUAUG_HD double round_work(double d) {
    if (WORK == WORK_F64) return d;
    if (WORK == WORK_F32) return (double)to_float(d);
    return round_half(d);
}

// --------------------------------------------------------------- loads, stores
// Stores are the twin of gpuaug/backends/reference/output_format.py.
GPUAUG_HD double load_value(unsigned char v) { return (double)v; }
GPUAUG_HD double load_value(f16 v) { return small_float_to_double<5, 10>(v.bits); }
GPUAUG_HD double load_value(float v) { return (double)v; }
GPUAUG_HD double load_value(double v) { return v; }
// A load of a value another block wrote (after its __threadfence): past the L1 cache.
GPUAUG_HD double load_global(const double* p) {
#if GPUAUG_ON_DEVICE
    return __ldcg(p);
#else
    return *p;
#endif
}

// An input value in the working dtype, as NumPy's cast of the batch gives it.  Where
// every value of the input type is exact in the working dtype (uint8 and float16 always,
// float32 unless the work is float16) the rounding changes nothing and is skipped: it
// would cost two FP64-rate conversions per tap.
template <int WORK> GPUAUG_HD double input_value(unsigned char v) { return (double)v; }
template <int WORK> GPUAUG_HD double input_value(f16 v) { return load_value(v); }
template <int WORK> GPUAUG_HD double input_value(float v) {
    return WORK == WORK_F16 ? round_work<WORK>((double)v) : (double)v;
}
template <int WORK> GPUAUG_HD double input_value(double v) { return round_work<WORK>(v); }

// precision="fast": an input value as float32 (exact for uint8, float16 and float32 input).
GPUAUG_HD float load_fast(unsigned char v) { return (float)v; }
GPUAUG_HD float load_fast(f16 v) { return small_float_to_float(v.bits); }
GPUAUG_HD float load_fast(float v) { return v; }
GPUAUG_HD float load_fast(double v) { return (float)v; }

GPUAUG_HD void store_value(float* p, double v) { *p = to_float(v); }
GPUAUG_HD void store_value(double* p, double v) { *p = v; }
GPUAUG_HD void store_value(f16* p, double v) { p->bits = round_to_small_float<5, 10>(v); }
// One rounding from float64, as for float16 (docs/semantics.md §13, "Output dtypes"), not two
// through float32 (as ml_dtypes < 0.7, torch, JAX and TensorFlow cast float64 to bfloat16).
GPUAUG_HD void store_value(bf16* p, double v) { p->bits = round_to_small_float<8, 7>(v); }
GPUAUG_HD void store_value(unsigned char* p, double v) {
    // Round half to even and saturate; NaN becomes 0 (as NumPy's reference path does).
    double r = rint(v);
    *p = (unsigned char)(r >= 255.0 ? 255.0 : (r > 0.0 ? r : 0.0));
}
// precision="fast" stores of a float32 value: the same rules, without FP64 instructions
// where the output is float32 or uint8.
GPUAUG_HD void store_value(float* p, float v) { *p = v; }
GPUAUG_HD void store_value(double* p, float v) { *p = (double)v; }
GPUAUG_HD void store_value(f16* p, float v) { store_value(p, (double)v); }
GPUAUG_HD void store_value(bf16* p, float v) { store_value(p, (double)v); }
GPUAUG_HD void store_value(unsigned char* p, float v) {
    const float r = rintf(v);
    *p = (unsigned char)(r >= 255.0f ? 255.0f : (r > 0.0f ? r : 0.0f));
}

// ------------------------------------------------------- reduction helpers
// An unsigned key with the order of the doubles it encodes, for atomicMin/atomicMax.
GPUAUG_HD u64 order_key(double d) {
    const u64 b = double_bits(d);
    return (b >> 63) ? ~b : (b | 0x8000000000000000ull);
}
GPUAUG_HD double key_value(u64 k) {
    return bits_double((k >> 63) ? (k & 0x7fffffffffffffffull) : ~k);
}

}  // namespace gpuaug
