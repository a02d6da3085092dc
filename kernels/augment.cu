// gpuaug's fused augmentation kernels: warp + fill mode + flips + channel shift +
// brightness + rescale + standardization + output dtype and layout, per batch.
//
// A batch takes one launch of augment_write.  Keras's steps that need whole-image
// statistics add small pre-passes over the same input, each recomputing the warp
// (reading the uint8 input again is cheaper than writing and re-reading a float copy):
//   augment_minmax   min / max of each warped image      (channel shift; PIL brightness)
//   augment_moments  sum / sum of squares before the     (samplewise center / std)
//                    samplewise steps
//   augment_write    everything, written in the output dtype and layout
// Compile-time choices (template arguments, one instantiation per variant, compiled
// on first use and cached per device by gpuaug/backends/cuda_kernels.py): input,
// output and working dtypes, interpolation order, fill mode, input and output layout.
// Everything else is a per-batch argument.
//
// Launch shape: blockIdx.y walks the samples, blockIdx.x/threadIdx.x the pixels of a
// sample, both as grid-stride loops, so any batch size and image size work.  Each
// thread produces every channel of its pixels.  Reductions combine a warp with
// shuffles; min/max then take one atomic per warp (exact in any order), while the
// moments go through a buffer of per-warp partial sums that the write pass adds in a
// fixed order, so samplewise statistics are the same bits on every run.
#include "augment.cuh"

namespace gpuaug {

GPUAUG_HD double warp_min(double v) {
#if GPUAUG_ON_DEVICE
    for (int o = 16; o > 0; o >>= 1) v = fmin(v, __shfl_down_sync(0xffffffffu, v, o));
#endif
    return v;
}
GPUAUG_HD double warp_max(double v) {
#if GPUAUG_ON_DEVICE
    for (int o = 16; o > 0; o >>= 1) v = fmax(v, __shfl_down_sync(0xffffffffu, v, o));
#endif
    return v;
}
GPUAUG_HD double warp_sum(double v) {
#if GPUAUG_ON_DEVICE
    for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffffu, v, o);
#endif
    return v;
}

// The fields a pass reads, copied out of the struct other blocks update atomically.
GPUAUG_HD SampleParams load_params(const SampleParams* samples, i64 b) {
    SampleParams p;
    for (int i = 0; i < 6; ++i) p.m[i] = samples[b].m[i];
    p.shift = samples[b].shift;
    p.brightness = samples[b].brightness;
    p.flags = samples[b].flags;
    return p;
}

GPUAUG_HD Epilogue make_epilogue(int compat, int flags, double cval, double rescale, double eps,
                                 const double* mean, i64 mean_sr, i64 mean_sc, i64 mean_sk,
                                 const double* std_eps, i64 std_sr, i64 std_sc, i64 std_sk) {
    Epilogue e;
    e.compat = compat; e.flags = flags; e.cval = cval; e.rescale = rescale; e.eps = eps;
    e.mean = mean; e.mean_s[0] = mean_sr; e.mean_s[1] = mean_sc; e.mean_s[2] = mean_sk;
    e.std_eps = std_eps; e.std_s[0] = std_sr; e.std_s[1] = std_sc; e.std_s[2] = std_sk;
    return e;
}

#define GPUAUG_EPILOGUE_PARAMS                                                                  \
    int compat, int std_flags, double cval, double rescale, double eps, const double* mean,    \
        i64 mean_sr, i64 mean_sc, i64 mean_sk, const double* std_eps, i64 std_sr, i64 std_sc, \
        i64 std_sk
#define GPUAUG_EPILOGUE_ARGS                                                                    \
    make_epilogue(compat, std_flags, cval, rescale, eps, mean, mean_sr, mean_sc, mean_sk,       \
                  std_eps, std_sr, std_sc, std_sk)

// Row and column of pixel q of a w-wide image.  32-bit division: several times cheaper
// than 64-bit on the GPU; the host guarantees h * w < 2^31.
GPUAUG_HD void split_pixel(i64 q, i64 w, i64* r, i64* c) {
    const unsigned int row = (unsigned int)q / (unsigned int)w;
    *r = (i64)row;
    *c = q - (i64)row * w;
}

#define GPUAUG_FOR_EACH_SAMPLE(b) for (i64 b = blockIdx.y; b < n; b += gridDim.y)
#define GPUAUG_FOR_EACH_PIXEL(q)                                                                \
    for (i64 q = (i64)blockIdx.x * blockDim.x + threadIdx.x; q < h * w;                       \
         q += (i64)gridDim.x * blockDim.x)

template <typename InT, int WORK, int ORDER, int MODE, bool IN_CHW>
__global__ void augment_minmax(const InT* __restrict__ src, SampleParams* samples, i64 n, i64 h, i64 w,
                               i64 nc, double cval) {
    GPUAUG_FOR_EACH_SAMPLE(b) {
        const SampleParams p = load_params(samples, b);
        const InT* img = src + b * h * w * nc;
        double lo = bits_double(0x7ff0000000000000ull), hi = -lo;
        GPUAUG_FOR_EACH_PIXEL(q) {
            i64 r, c;
            split_pixel(q, w, &r, &c);
            const PixelTaps<InT> t = pixel_taps<InT, ORDER, MODE, IN_CHW>(img, p, h, w, nc, r, c);
            for (i64 k = 0; k < nc; ++k) {
                const double v = warp_channel<InT, WORK, ORDER>(t, k, cval);
                lo = v < lo ? v : lo;
                hi = v > hi ? v : hi;
            }
        }
        lo = warp_min(lo);
        hi = warp_max(hi);
        if ((threadIdx.x & 31) == 0) {
            atomicMin(&samples[b].lo_key, order_key(lo));
            atomicMax(&samples[b].hi_key, order_key(hi));
        }
    }
}

// One partial (sum, sum of squares) per warp of every block, for every sample.
GPUAUG_HD i64 partial_slot(i64 b) {
    const i64 warps = (blockDim.x + 31) / 32;
    return ((b * gridDim.x + blockIdx.x) * warps + threadIdx.x / 32) * 2;
}

template <typename InT, int WORK, int ORDER, int MODE, bool IN_CHW>
__global__ void augment_moments(const InT* __restrict__ src, const SampleParams* __restrict__ samples,
                                double* __restrict__ partials, i64 n, i64 h, i64 w, i64 nc,
                                GPUAUG_EPILOGUE_PARAMS) {
    const Epilogue e = GPUAUG_EPILOGUE_ARGS;
    GPUAUG_FOR_EACH_SAMPLE(b) {
        const SampleParams p = load_params(samples, b);
        const double lo = key_value(samples[b].lo_key), hi = key_value(samples[b].hi_key);
        const InT* img = src + b * h * w * nc;
        double sum = 0.0, sumsq = 0.0;
        GPUAUG_FOR_EACH_PIXEL(q) {
            i64 r, c;
            split_pixel(q, w, &r, &c);
            const PixelTaps<InT> t = pixel_taps<InT, ORDER, MODE, IN_CHW>(img, p, h, w, nc, r, c);
            for (i64 k = 0; k < nc; ++k) {
                double v = warp_channel<InT, WORK, ORDER>(t, k, e.cval);
                v = shift_and_brighten<WORK>(v, p, lo, hi, k, nc, e.compat);
                v = rescale_value<WORK>(v, e);
                sum = add_rn(sum, v);
                sumsq = add_rn(sumsq, mul_rn(v, v));
            }
        }
        sum = warp_sum(sum);
        sumsq = warp_sum(sumsq);
        if ((threadIdx.x & 31) == 0) {
            partials[partial_slot(b)] = sum;
            partials[partial_slot(b) + 1] = sumsq;
        }
    }
}

// The moments of sample b: its partials added in a fixed order by one thread, shared
// with the block.  Every thread of the block must call it (it synchronises the block).
GPUAUG_HD void sample_moments(const double* partials, i64 b, double* sum, double* sumsq) {
    __shared__ double shared[2];
    if (threadIdx.x == 0) {
        const i64 count = (i64)gridDim.x * ((blockDim.x + 31) / 32);
        const double* part = partials + b * count * 2;
        double s = 0.0, s2 = 0.0;
        for (i64 i = 0; i < count; ++i) {
            s = add_rn(s, part[2 * i]);
            s2 = add_rn(s2, part[2 * i + 1]);
        }
        shared[0] = s;
        shared[1] = s2;
    }
    __syncthreads();
    *sum = shared[0];
    *sumsq = shared[1];
    __syncthreads();  // before the next sample overwrites `shared`
}

template <typename InT, typename OutT, int WORK, int ORDER, int MODE, bool IN_CHW, bool OUT_CHW>
__global__ void augment_write(const InT* __restrict__ src, OutT* __restrict__ dst,
                              const SampleParams* __restrict__ samples,
                              const double* __restrict__ partials, i64 n, i64 h, i64 w, i64 nc,
                              GPUAUG_EPILOGUE_PARAMS) {
    const Epilogue e = GPUAUG_EPILOGUE_ARGS;
    const Layout out = image_layout<OUT_CHW>(h, w, nc);
    GPUAUG_FOR_EACH_SAMPLE(b) {
        const SampleParams p = load_params(samples, b);
        const double lo = key_value(samples[b].lo_key), hi = key_value(samples[b].hi_key);
        double s_mean = 0.0, s_std_eps = 1.0;
        if (e.flags & (STD_SAMPLE_CENTER | STD_SAMPLE_SCALE)) {  // uniform across the block
            double sum, sumsq;
            sample_moments(partials, b, &sum, &sumsq);
            sample_statistics<WORK>(sum, sumsq, h * w * nc, e.eps, &s_mean, &s_std_eps);
        }
        const InT* img = src + b * h * w * nc;
        OutT* o = dst + b * out.s_sample;
        GPUAUG_FOR_EACH_PIXEL(q) {
            i64 r, c;
            split_pixel(q, w, &r, &c);
            const PixelTaps<InT> t = pixel_taps<InT, ORDER, MODE, IN_CHW>(img, p, h, w, nc, r, c);
            OutT* px = o + r * out.s_row + c * out.s_col;
            for (i64 k = 0; k < nc; ++k) {
                double v = warp_channel<InT, WORK, ORDER>(t, k, e.cval);
                v = shift_and_brighten<WORK>(v, p, lo, hi, k, nc, e.compat);
                v = rescale_value<WORK>(v, e);
                v = standardize_value<WORK>(v, e, s_mean, s_std_eps, r, c, k);
                store_value(px + k * out.s_chan, v);
            }
        }
    }
}

}  // namespace gpuaug
