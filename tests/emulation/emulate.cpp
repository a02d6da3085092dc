// Host build of one kernel variant of gpuaug's kernels, for the CPU test suite.
// The kernel source is the very string NVRTC compiles (gpuaug.backends.cuda.source,
// generated interface included), written by tests/emulation/__init__.py to
// kernel_source.cu in the build directory; the variant comes in as macros.  Each
// exported function runs one kernel over a whole grid, with the kernel's own arguments.
#include "host_shim.h"
#include "kernel_source.cu"

using namespace gpuaug;
typedef GPUAUG_IN_T InT;
typedef GPUAUG_OUT_T OutT;

extern "C" {

void emulate_minmax(unsigned gx, unsigned gy, const InT* src, unsigned char* upload, i64 n, i64 h,
                    i64 w, i64 nc) {
    run_grid(gx, gy, [&] {
        augment_minmax<InT, GPUAUG_WORK, GPUAUG_ORDER, GPUAUG_MODE, GPUAUG_INPUT, GPUAUG_PRECISION>(
            src, upload, n, h, w, nc);
    });
}

void emulate_moments(unsigned gx, unsigned gy, const InT* src, unsigned char* upload,
                     double* partials, i64 n, i64 h, i64 w, i64 nc) {
    run_grid(gx, gy, [&] {
        augment_moments<InT, GPUAUG_WORK, GPUAUG_ORDER, GPUAUG_MODE, GPUAUG_INPUT, GPUAUG_PRECISION>(
            src, upload, partials, n, h, w, nc);
    });
}

void emulate_moments_plain(unsigned gx, unsigned gy, const InT* src, unsigned char* upload,
                           double* partials, i64 n, i64 h, i64 w, i64 nc) {
    run_grid(gx, gy, [&] {
        augment_moments_plain<InT, GPUAUG_WORK, GPUAUG_ORDER, GPUAUG_MODE, GPUAUG_INPUT,
                              GPUAUG_PRECISION>(src, upload, partials, n, h, w, nc);
    });
}

void emulate_write(unsigned gx, unsigned gy, const InT* src, OutT* dst, const unsigned char* upload,
                   const double* partials, i64 n, i64 h, i64 w, i64 nc) {
    run_grid(gx, gy, [&] {
        augment_write<InT, OutT, GPUAUG_WORK, GPUAUG_ORDER, GPUAUG_MODE, GPUAUG_INPUT,
                      GPUAUG_OUT_CHW, GPUAUG_PRECISION>(src, dst, upload, partials, n, h, w, nc);
    });
}

void emulate_write_plain(unsigned gx, unsigned gy, const InT* src, OutT* dst,
                         const unsigned char* upload, const double* partials, i64 n, i64 h,
                         i64 w, i64 nc) {
    run_grid(gx, gy, [&] {
        augment_write_plain<InT, OutT, GPUAUG_WORK, GPUAUG_ORDER, GPUAUG_MODE, GPUAUG_INPUT,
                            GPUAUG_OUT_CHW, GPUAUG_PRECISION>(src, dst, upload, partials, n, h, w,
                                                              nc);
    });
}

void emulate_write_samplewise(unsigned gx, unsigned gy, const InT* src, OutT* dst,
                              const unsigned char* upload, const double* partials, i64 n,
                              i64 h, i64 w, i64 nc) {
    run_grid(gx, gy, [&] {
        augment_write_samplewise<InT, OutT, GPUAUG_WORK, GPUAUG_ORDER, GPUAUG_MODE, GPUAUG_INPUT,
                                 GPUAUG_OUT_CHW, GPUAUG_PRECISION>(src, dst, upload, partials, n,
                                                                   h, w, nc);
    });
}

// The element conversions on their own, for exhaustive checks against NumPy.
void emulate_round_small_float(const double* x, unsigned short* out, i64 n, int exp_bits) {
    for (i64 i = 0; i < n; ++i)
        out[i] = exp_bits == 5 ? round_to_small_float<5, 10>(x[i]) : round_to_small_float<8, 7>(x[i]);
}
// The kernels' output stores, exact (a double) and fast (a float); out_type indexes
// tests/test_output_rounding.py's STORED: float32, float16, bfloat16, uint8.
extern "C++" {
template <class OutV, class V>
static void store_all(const V* x, void* out, i64 n) {
    for (i64 i = 0; i < n; ++i) store_value(static_cast<OutV*>(out) + i, x[i]);
}
template <class V>
static void store_as(const V* x, void* out, i64 n, int out_type) {
    switch (out_type) {
        case 0: store_all<float>(x, out, n); break;
        case 1: store_all<f16>(x, out, n); break;
        case 2: store_all<bf16>(x, out, n); break;
        default: store_all<unsigned char>(x, out, n); break;
    }
}
}  // extern "C++"
void emulate_store_exact(const double* x, void* out, i64 n, int out_type) { store_as(x, out, n, out_type); }
void emulate_store_fast(const float* x, void* out, i64 n, int out_type) { store_as(x, out, n, out_type); }
void emulate_small_float_to_double(const unsigned short* x, double* out, i64 n, int exp_bits) {
    for (i64 i = 0; i < n; ++i)
        out[i] = exp_bits == 5 ? small_float_to_double<5, 10>(x[i]) : small_float_to_double<8, 7>(x[i]);
}
void emulate_small_float_to_float(const unsigned short* x, float* out, i64 n) {
    for (i64 i = 0; i < n; ++i) out[i] = small_float_to_float(x[i]);
}
void emulate_map_coordinate(const double* u, double* out, i64 count, i64 n, int mode) {
    for (i64 i = 0; i < count; ++i) {
        switch (mode) {
            case MODE_NEAREST: out[i] = map_coordinate<MODE_NEAREST>(u[i], (int)n); break;
            case MODE_REFLECT: out[i] = map_coordinate<MODE_REFLECT>(u[i], (int)n); break;
            case MODE_WRAP: out[i] = map_coordinate<MODE_WRAP>(u[i], (int)n); break;
            default: out[i] = map_coordinate<MODE_CONSTANT>(u[i], (int)n); break;
        }
    }
}
// precision="fast"'s nearest taps (a float32 clamp, a saturating conversion) and the rule
// they restate (to_index, then map_tap), for the same integer-valued float32 starts.
void emulate_nearest_taps_fast(const float* start, int* fast, int* rule, i64 count, int n,
                               int step) {
    for (i64 i = 0; i < count; ++i) {
        fast[i] = tap_of<MODE_NEAREST, float>(start[i], n, step);
        rule[i] = map_tap<MODE_NEAREST>(to_index(start[i], n) + step, n);
    }
}
// precision="fast"'s nearest taps of order 1 (both from one saturating conversion), tap
// `step` of the pair, against the same rule.
void emulate_nearest_tap_pair_fast(const float* start, int* fast, int* rule, i64 count, int n,
                                   int step) {
    for (i64 i = 0; i < count; ++i) {
        int tap0 = -99, tap1 = -99;
        taps_of<MODE_NEAREST, float>(start[i], n, &tap0, &tap1);
        fast[i] = step ? tap1 : tap0;
        rule[i] = map_tap<MODE_NEAREST>(to_index(start[i], n) + step, n);
    }
}
// The pixel walk's division by the width: n / d by d's magic number from the host.
void emulate_divide_by_magic(const unsigned* n, unsigned* out, i64 count, unsigned magic,
                             unsigned shift) {
    for (i64 i = 0; i < count; ++i) out[i] = divide_by_magic(n[i], magic, shift);
}
void emulate_map_tap(const i64* j, i64* out, i64 count, i64 n, int mode) {
    for (i64 i = 0; i < count; ++i) {
        switch (mode) {
            case MODE_NEAREST: out[i] = map_tap<MODE_NEAREST>((int)j[i], (int)n); break;
            case MODE_REFLECT: out[i] = map_tap<MODE_REFLECT>((int)j[i], (int)n); break;
            case MODE_WRAP: out[i] = map_tap<MODE_WRAP>((int)j[i], (int)n); break;
            default: out[i] = map_tap<MODE_CONSTANT>((int)j[i], (int)n); break;
        }
    }
}

}  // extern "C"
