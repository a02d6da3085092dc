// Host build of one kernel variant of kernels/augment.cu, for the CPU test suite.
// The variant comes in as macros (see tests/emulation/__init__.py); each exported
// function runs one kernel over a whole grid, with the kernel's own argument list.
#include "host_shim.h"
#include "augment.cu"

using namespace gpuaug;
typedef GPUAUG_IN_T InT;
typedef GPUAUG_OUT_T OutT;

#define EPILOGUE_PARAMS                                                                  \
    int compat, int std_flags, double cval, double rescale, double eps, const double* mean, \
        i64 mean_sr, i64 mean_sc, i64 mean_sk, const double* std_eps, i64 std_sr,           \
        i64 std_sc, i64 std_sk
#define EPILOGUE_ARGS                                                                    \
    compat, std_flags, cval, rescale, eps, mean, mean_sr, mean_sc, mean_sk, std_eps, std_sr, \
        std_sc, std_sk

extern "C" {

void emulate_minmax(unsigned gx, unsigned gy, const InT* src, SampleParams* samples, i64 n, i64 h,
                    i64 w, i64 nc, double cval) {
    run_grid(gx, gy, [&] {
        augment_minmax<InT, GPUAUG_WORK, GPUAUG_ORDER, GPUAUG_MODE, GPUAUG_IN_CHW>(
            src, samples, n, h, w, nc, cval);
    });
}

void emulate_moments(unsigned gx, unsigned gy, const InT* src, const SampleParams* samples,
                     double* partials, i64 n, i64 h, i64 w, i64 nc, EPILOGUE_PARAMS) {
    run_grid(gx, gy, [&] {
        augment_moments<InT, GPUAUG_WORK, GPUAUG_ORDER, GPUAUG_MODE, GPUAUG_IN_CHW>(
            src, samples, partials, n, h, w, nc, EPILOGUE_ARGS);
    });
}

void emulate_write(unsigned gx, unsigned gy, const InT* src, OutT* dst, const SampleParams* samples,
                   const double* partials, i64 n, i64 h, i64 w, i64 nc, EPILOGUE_PARAMS) {
    run_grid(gx, gy, [&] {
        augment_write<InT, OutT, GPUAUG_WORK, GPUAUG_ORDER, GPUAUG_MODE, GPUAUG_IN_CHW,
                      GPUAUG_OUT_CHW>(src, dst, samples, partials, n, h, w, nc, EPILOGUE_ARGS);
    });
}

// The element conversions on their own, for exhaustive checks against NumPy.
void emulate_round_small_float(const double* x, unsigned short* out, i64 n, int exp_bits) {
    for (i64 i = 0; i < n; ++i)
        out[i] = exp_bits == 5 ? round_to_small_float<5, 10>(x[i]) : round_to_small_float<8, 7>(x[i]);
}
void emulate_store_bf16(const double* x, unsigned short* out, i64 n) {
    for (i64 i = 0; i < n; ++i) store_value(reinterpret_cast<bf16*>(out + i), x[i]);
}
void emulate_small_float_to_double(const unsigned short* x, double* out, i64 n, int exp_bits) {
    for (i64 i = 0; i < n; ++i)
        out[i] = exp_bits == 5 ? small_float_to_double<5, 10>(x[i]) : small_float_to_double<8, 7>(x[i]);
}
void emulate_map_coordinate(const double* u, double* out, i64 count, i64 n, int mode) {
    for (i64 i = 0; i < count; ++i) {
        switch (mode) {
            case MODE_NEAREST: out[i] = map_coordinate<MODE_NEAREST>(u[i], n); break;
            case MODE_REFLECT: out[i] = map_coordinate<MODE_REFLECT>(u[i], n); break;
            case MODE_WRAP: out[i] = map_coordinate<MODE_WRAP>(u[i], n); break;
            default: out[i] = map_coordinate<MODE_CONSTANT>(u[i], n); break;
        }
    }
}
void emulate_map_tap(const i64* j, i64* out, i64 count, i64 n, int mode) {
    for (i64 i = 0; i < count; ++i) {
        switch (mode) {
            case MODE_NEAREST: out[i] = map_tap<MODE_NEAREST>(j[i], n); break;
            case MODE_REFLECT: out[i] = map_tap<MODE_REFLECT>(j[i], n); break;
            case MODE_WRAP: out[i] = map_tap<MODE_WRAP>(j[i], n); break;
            default: out[i] = map_tap<MODE_CONSTANT>(j[i], n); break;
        }
    }
}

}  // extern "C"
