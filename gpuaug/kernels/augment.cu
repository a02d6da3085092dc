// gpuaug's fused augmentation kernels: warp + fill mode + flips + channel shift +
// brightness + rescale + standardization + output dtype and layout, per batch.
//
// A batch takes one launch of a write kernel.  Keras's steps that need whole-image
// statistics add small pre-passes over the same input, each recomputing the warp
// (reading the uint8 input again is cheaper than writing and re-reading a float copy):
//   augment_minmax       min / max of each warped image   (channel shift; PIL brightness)
//   augment_moments      sum / sum of squares before the  (samplewise center / std)
//                        samplewise steps
//   augment_moments_plain  the same, for batches without channel shift or brightness
//   augment_write        everything, written in the output dtype and layout
//   augment_write_plain  the usual batch: no channel shift or brightness, nothing after
//                        the warp but the rescale (chosen by the host per batch); with
//                        precision="fast" and float32 work the whole value chain is float32
//   augment_write_samplewise  the same, and Keras's samplewise centre and scale
// Compile-time choices (template arguments, one instantiation per variant, compiled
// on first use and cached per device by gpuaug/backends/cuda/nvrtc.py): input,
// output and working dtypes, interpolation order, fill mode, input and output layout,
// and the precision of the warp (exact: SciPy's float64 arithmetic; fast: float32).
// Each is a constant because a run-time switch costs the usual batch instructions or
// registers (bench/RESULTS.md, issue 30); the dtypes and layouts compiled are a
// hand-picked table (gpuaug/backends/cuda/variants.py TABLE), through which the host
// serves every other combination, and float16 work gets the general kernels only.
// A batch is read channels-last; the input layout INPUT_RESIZED reads decoded uint8 RGB images of any sizes through
// Pillow's nearest index maps instead of a batch (warp.cuh SourceImage): the file
// iterators' resize fused into the warp, with no resized batch in between.
// Everything else comes in the batch's one upload (see Upload below).
//
// Launch shape: blockIdx.y walks the samples, blockIdx.x/threadIdx.x the pixels of a
// sample, both as grid-stride loops, so any batch size and image size work.  Each
// thread produces every channel of its pixels.  Reductions combine a warp with
// shuffles; min/max then take one atomic per warp (exact in any order), while the
// moments go through a buffer of per-warp partial sums: the last block to finish a
// sample adds that sample's partials in a fixed order (once per sample, O(pixels) in
// all) and the write pass reads the two totals, so samplewise statistics are the same
// bits on every run.
#include "pointwise.cuh"
#include "standardize.cuh"
#include "warp.cuh"

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

// Whether sample p has a channel shift or a brightness (NaN: not drawn), decided once per
// sample rather than per value.
GPUAUG_HD bool has_pointwise_steps(const SampleParams& p) {
    return p.shift == p.shift || p.brightness == p.brightness;
}

// The fields a pass reads, copied out of the struct other blocks update atomically.
GPUAUG_HD SampleParams load_params(const SampleParams* samples, i64 b) {
    SampleParams p;
    for (int i = 0; i < 6; ++i) p.m[i] = samples[b].m[i];
    p.shift = samples[b].shift;
    p.brightness = samples[b].brightness;
    p.flags = samples[b].flags;
    p.first = samples[b].first;
    return p;
}

// The batch's one upload (gpuaug/backends/cuda/launch_args.py packs it): the Epilogue,
// then one SampleParams per sample, then the featurewise statistics as float64 at the
// byte offsets the Epilogue gives.  The records are declared in interface.cuh.
GPUAUG_HD const Epilogue& upload_epilogue(const unsigned char* upload) {
    return *reinterpret_cast<const Epilogue*>(upload);
}
GPUAUG_HD SampleParams* upload_samples(unsigned char* upload) {
    return reinterpret_cast<SampleParams*>(upload + sizeof(Epilogue));
}
GPUAUG_HD const SampleParams* upload_samples(const unsigned char* upload) {
    return reinterpret_cast<const SampleParams*>(upload + sizeof(Epilogue));
}
GPUAUG_HD FeatureStatistics upload_statistics(const unsigned char* upload, const Epilogue& e) {
    FeatureStatistics f;  // an offset of 0 means "absent": its flag is off and it is never read
    f.mean = reinterpret_cast<const double*>(upload + e.mean_offset);
    f.std_eps = reinterpret_cast<const double*>(upload + e.std_offset);
    return f;
}

// A thread's pixels of an h x w image: q = q0, q0 + stride, ... (the grid-stride loop) while
// q < h * w, each as (row, column) = (q / w, q % w), the division by the host's magic
// number for w (numeric.cuh divide_by_magic): a wide multiply and a shift, then a
// multiply-add for the column, per pixel.  Within an image everything is 32-bit: the host
// guarantees h * w * c < 2^31, and q + stride < 2^32 (launch_args.launch_grid: the stride,
// a multiple of the block size, a divisor of 2^31, is at most h * w rounded up to it).
struct PixelWalk {
    unsigned q, stride, count;  // the pixel index r * w + c, the grid's stride, h * w
    unsigned minus_w, magic, shift;  // -w (mod 2^32): the column is one multiply-add
    unsigned r, c;
    GPUAUG_HD void locate() {
        r = divide_by_magic(q, magic, shift);  // read only while q < count (< 2^31)
        c = q + r * minus_w;
    }
    GPUAUG_HD void next() {
        q += stride;
        locate();
    }
};
GPUAUG_HD PixelWalk pixel_walk(i64 h, i64 w, const Epilogue& e) {
    PixelWalk p;
    p.q = blockIdx.x * blockDim.x + threadIdx.x;
    p.stride = gridDim.x * blockDim.x;
    p.count = (unsigned)(h * w);
    p.minus_w = 0u - (unsigned)w;
    p.magic = e.width_magic;
    p.shift = e.width_shift;
    p.locate();
    return p;
}

// Where pixel (r, c) of an output image starts.  NHWC: the two offsets as unsigned (they are
// >= 0), zero-extended to 64 bits, where signed ones cost a sign extension each; NCHW: the
// signed sum, which the compiler folds better there (both measured in the SASS report).
template <bool OUT_CHW, typename OutT>
GPUAUG_HD OutT* pixel_out(OutT* o, const Layout& out, int r, int c) {
    if (OUT_CHW) return o + r * out.s_row + c * out.s_col;
    return o + (unsigned)(r * out.s_row) + (unsigned)(c * out.s_col);
}

#define GPUAUG_FOR_EACH_SAMPLE(b) for (i64 b = blockIdx.y; b < n; b += gridDim.y)
#define GPUAUG_FOR_EACH_PIXEL(px) \
    for (PixelWalk px = pixel_walk(h, w, upload_epilogue(upload)); px.q < px.count; px.next())

template <typename InT, int WORK, int ORDER, int MODE, int INPUT, int PRECISION>
__global__ void augment_minmax(const InT* __restrict__ src, unsigned char* upload, i64 n, i64 h,
                               i64 w, i64 nc) {
    const double cval = upload_epilogue(upload).cval;
    SampleParams* samples = upload_samples(upload);
    GPUAUG_FOR_EACH_SAMPLE(b) {
        const SampleParams p = load_params(samples, b);
        const FastGeometry g = fast_geometry(p, h, w);  // read by precision="fast" only
        const SourceImage<InT> img =
            source_image<InT, INPUT>(src, upload, upload_epilogue(upload), p, b, h, w, nc);
        double lo = bits_double(0x7ff0000000000000ull), hi = -lo;
        GPUAUG_FOR_EACH_PIXEL(walk) {
            const int r = (int)walk.r, c = (int)walk.c;
            const PixelTaps<InT, Coord<PRECISION>> t =
                pixel_taps<InT, ORDER, MODE, INPUT, PRECISION>(img, p, g, h, w, r, c);
            for (int k = 0; k < (int)nc; ++k) {
                const double v = warp_value<InT, WORK, ORDER, PRECISION>(t, k, cval);
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

// Sample b's (sum, sum of squares) totals, after every partial of every sample.
GPUAUG_HD i64 totals_slot(i64 n, i64 b) {
    return n * (i64)gridDim.x * ((blockDim.x + 31) / 32) * 2 + 2 * b;
}

// Called by every thread of a block after its partials of sample b are written: the
// block that finishes the sample last adds all its partials, by one thread in a fixed
// order, into the sample's totals.
GPUAUG_HD void finish_moments(SampleParams* samples, double* partials, i64 n, i64 b) {
    __shared__ bool last;
    __syncthreads();  // every warp of this block has written its partial
    if (threadIdx.x == 0) {
        __threadfence();  // ... visible to whichever block adds them
        last = atomicAdd(&samples[b].moment_blocks, 1ull) == gridDim.x - 1;
    }
    __syncthreads();
    if (last && threadIdx.x == 0) {
        const i64 count = (i64)gridDim.x * ((blockDim.x + 31) / 32);
        const double* part = partials + b * count * 2;
        double s = 0.0, s2 = 0.0;
        for (i64 i = 0; i < count; ++i) {
            s = add_rn(s, load_global(part + 2 * i));
            s2 = add_rn(s2, load_global(part + 2 * i + 1));
        }
        partials[totals_slot(n, b)] = s;
        partials[totals_slot(n, b) + 1] = s2;
    }
    __syncthreads();  // before the next sample overwrites `last`
}

// The usual batch: no sample has a channel shift or a brightness, and nothing follows the
// warp but the rescale (augment_write_plain) or the rescale and Keras's samplewise centre
// and scale (augment_write_samplewise, after augment_moments_plain); the host checks, and
// launches augment_write otherwise.  Their own kernels, so that the general kernel's
// optional steps weigh neither on their instructions nor on their registers: the warp,
// the steps, the store, in straight-line code for RGB.
//
// The steps: with float32 work the value stays in float32, since NumPy's float32 batch
// times a rescale that is a float32 number is the float32 product (one FMUL, where the
// general path's float64 product and roundings take five FP64-rate instructions), and
// its float32 difference and quotient with the sample's float32 mean and std + eps are
// what float64 arithmetic rounded to float32 gives (double rounding is innocuous for +,
// * and /, numeric.cuh).  The host launches these kernels only with such a rescale
// (gpuaug/backends/cuda/fused.py); NumPy multiplies by a float64 scalar in float64, which
// augment_write does.  With precision="fast" and float32 work no FP64 instruction is left
// per pixel: the warp is float32 (warp.cuh), and its float32 result passes through double
// exactly.
template <int WORK> struct PlainType { typedef double type; };
template <> struct PlainType<WORK_F32> { typedef float type; };

template <int WORK>
struct PlainSteps {
    typedef typename PlainType<WORK>::type T;
    bool rescale;
    T factor;
    // write_samplewise: subtract the mean, then divide by std + eps, always (no branch);
    // a step the batch does not take has its identity, 0 or 1, which changes no value
    // (x - 0 is x, -0 included; x / 1 is x).
    T mean, std_eps;
};

template <int WORK, bool SAMPLEWISE>
GPUAUG_HD PlainSteps<WORK> plain_steps(const Epilogue& e, const double* totals, i64 count) {
    typedef typename PlainType<WORK>::type T;
    PlainSteps<WORK> s;
    s.rescale = (e.flags & STD_RESCALE) != 0;
    s.factor = (T)1;
    if (s.rescale) {
        if constexpr (WORK == WORK_F32) s.factor = e.rescale32;  // the same number, no F2F
        else s.factor = e.rescale;
    }
    double mean = 0.0, std_eps = 1.0;
    if (SAMPLEWISE) sample_statistics<WORK>(totals[0], totals[1], count, e.eps, &mean, &std_eps);
    s.mean = (e.flags & STD_SAMPLE_CENTER) ? (T)mean : (T)0;  // exact: working-dtype numbers
    s.std_eps = (e.flags & STD_SAMPLE_SCALE) ? (T)std_eps : (T)1;
    return s;
}

// The rescale in the plain kernels' arithmetic: what NumPy's rescale gives, in the
// working dtype (the host launches them only where it does).
template <int WORK>
GPUAUG_HD typename PlainType<WORK>::type plain_rescale(double v, const PlainSteps<WORK>& s) {
    if constexpr (WORK == WORK_F32) {
        const float x = to_float(v);  // exact: v is a float32 number
        return mul_rn(x, s.factor);
    } else {
        return round_work<WORK>(mul_rn(v, s.factor));
    }
}

// The value the write pass standardizes: warped, shifted and brightened (when the sample
// has those steps), rescaled; added to the moments in the order the pixels and channels
// come, so augment_moments_plain's sums are augment_moments' bits.
template <typename InT, int WORK, int ORDER, int PRECISION, bool POINTWISE>
GPUAUG_HD void add_moments(const PixelTaps<InT, Coord<PRECISION>>& t, int k, const Epilogue& e,
                           const PlainSteps<WORK>& plain, const SampleParams& p, double lo,
                           double hi, bool pointwise, i64 nc, double* sum, double* sumsq) {
    double v = warp_value<InT, WORK, ORDER, PRECISION>(t, k, e.cval);
    if constexpr (POINTWISE) {
        if (pointwise) v = shift_and_brighten<WORK>(v, p, lo, hi, k, nc, e.compat);
        v = rescale_value<WORK>(v, e);
    } else {
        v = (double)plain_rescale<WORK>(v, plain);  // the same number, in fewer instructions
    }
    *sum = add_rn(*sum, v);
    *sumsq = add_rn(*sumsq, mul_rn(v, v));
}

template <typename InT, int WORK, int ORDER, int MODE, int INPUT, int PRECISION, bool POINTWISE>
GPUAUG_HD void moments_batch(const InT* __restrict__ src, unsigned char* upload,
                             double* __restrict__ partials, i64 n, i64 h, i64 w, i64 nc) {
    const Epilogue e = upload_epilogue(upload);
    SampleParams* samples = upload_samples(upload);
    const PlainSteps<WORK> plain = plain_steps<WORK, false>(e, nullptr, 0);  // !POINTWISE only
    GPUAUG_FOR_EACH_SAMPLE(b) {
        const SampleParams p = load_params(samples, b);
        const FastGeometry g = fast_geometry(p, h, w);  // read by precision="fast" only
        double lo = 0.0, hi = 0.0;
        bool pointwise = false;
        if (POINTWISE) {
            lo = key_value(samples[b].lo_key);
            hi = key_value(samples[b].hi_key);
            pointwise = has_pointwise_steps(p);
        }
        const SourceImage<InT> img = source_image<InT, INPUT>(src, upload, e, p, b, h, w, nc);
        double sum = 0.0, sumsq = 0.0;
        GPUAUG_FOR_EACH_PIXEL(walk) {
            const int r = (int)walk.r, c = (int)walk.c;
            const PixelTaps<InT, Coord<PRECISION>> t =
                pixel_taps<InT, ORDER, MODE, INPUT, PRECISION>(img, p, g, h, w, r, c);
            if (!POINTWISE && nc == 3) {  // RGB: straight-line code, as in write_plain
                for (int k = 0; k < 3; ++k)
                    add_moments<InT, WORK, ORDER, PRECISION, false>(t, k, e, plain, p, lo, hi,
                                                                    false, nc, &sum, &sumsq);
                continue;
            }
#pragma unroll 1
            for (int k = 0; k < (int)nc; ++k)
                add_moments<InT, WORK, ORDER, PRECISION, POINTWISE>(t, k, e, plain, p, lo, hi,
                                                                    pointwise, nc, &sum, &sumsq);
        }
        sum = warp_sum(sum);
        sumsq = warp_sum(sumsq);
        if ((threadIdx.x & 31) == 0) {
            partials[partial_slot(b)] = sum;
            partials[partial_slot(b) + 1] = sumsq;
        }
        finish_moments(samples, partials, n, b);
    }
}

// Every batch with samplewise steps: the values may have a channel shift or brightness.
template <typename InT, int WORK, int ORDER, int MODE, int INPUT, int PRECISION>
__global__ void augment_moments(const InT* __restrict__ src, unsigned char* upload,
                                double* __restrict__ partials, i64 n, i64 h, i64 w, i64 nc) {
    moments_batch<InT, WORK, ORDER, MODE, INPUT, PRECISION, true>(src, upload, partials, n, h,
                                                                   w, nc);
}

// The batches augment_write_samplewise serves: no sample has a channel shift or brightness.
template <typename InT, int WORK, int ORDER, int MODE, int INPUT, int PRECISION>
__global__ void augment_moments_plain(const InT* __restrict__ src, unsigned char* upload,
                                      double* __restrict__ partials, i64 n, i64 h, i64 w,
                                      i64 nc) {
    moments_batch<InT, WORK, ORDER, MODE, INPUT, PRECISION, false>(src, upload, partials, n, h,
                                                                    w, nc);
}

// Three blocks per SM: the compiler then fits the kernel in 80 registers, where it took 90,
// with no spill (the SASS report; four blocks, 64 registers, spill): 37.5 % occupancy
// instead of 25 %, and fewer instructions per element on every architecture modelled.
template <typename InT, typename OutT, int WORK, int ORDER, int MODE, int INPUT, bool OUT_CHW,
          int PRECISION>
__global__ void __launch_bounds__(BLOCK_THREADS, 3)
augment_write(const InT* __restrict__ src, OutT* __restrict__ dst,
              const unsigned char* __restrict__ upload, const double* __restrict__ partials,
              i64 n, i64 h, i64 w, i64 nc) {
    const Epilogue e = upload_epilogue(upload);
    const SampleParams* samples = upload_samples(upload);
    const FeatureStatistics f = upload_statistics(upload, e);
    const Layout out = image_layout<OUT_CHW>(h, w, nc);
    GPUAUG_FOR_EACH_SAMPLE(b) {
        const SampleParams p = load_params(samples, b);
        const FastGeometry g = fast_geometry(p, h, w);  // read by precision="fast" only
        const double lo = key_value(samples[b].lo_key), hi = key_value(samples[b].hi_key);
        const bool pointwise = has_pointwise_steps(p);
        double s_mean = 0.0, s_std_eps = 1.0;
        if (e.flags & (STD_SAMPLE_CENTER | STD_SAMPLE_SCALE)) {  // the moments pass's totals
            const double* totals = partials + totals_slot(n, b);
            sample_statistics<WORK>(totals[0], totals[1], h * w * nc, e.eps, &s_mean, &s_std_eps);
        }
        const SourceImage<InT> img = source_image<InT, INPUT>(src, upload, e, p, b, h, w, nc);
        OutT* o = dst + p.first;
        GPUAUG_FOR_EACH_PIXEL(walk) {
            const int r = (int)walk.r, c = (int)walk.c;
            const PixelTaps<InT, Coord<PRECISION>> t =
                pixel_taps<InT, ORDER, MODE, INPUT, PRECISION>(img, p, g, h, w, r, c);
            OutT* px = pixel_out<OUT_CHW>(o, out, r, c);
            for (int k = 0; k < (int)nc; ++k) {
                double v = warp_value<InT, WORK, ORDER, PRECISION>(t, k, e.cval);
                if (pointwise) v = shift_and_brighten<WORK>(v, p, lo, hi, k, nc, e.compat);
                v = rescale_value<WORK>(v, e);
                v = standardize_value<WORK>(v, e, f, s_mean, s_std_eps, r, c, k);
                store_value(px + k * out.s_chan, v);
            }
        }
    }
}

// The plain kernels' write of one channel of a pixel, and their loop over a batch.
template <typename InT, int WORK, int ORDER, int PRECISION, bool SAMPLEWISE, typename OutT>
GPUAUG_HD void write_plain(OutT* dst, const PixelTaps<InT, Coord<PRECISION>>& t, int k,
                           double cval, const PlainSteps<WORK>& s) {
    typename PlainType<WORK>::type x =
        plain_rescale<WORK>(warp_value<InT, WORK, ORDER, PRECISION>(t, k, cval), s);
    if constexpr (SAMPLEWISE) {
        if constexpr (WORK == WORK_F32) x = div_rn(sub_rn(x, s.mean), s.std_eps);
        else x = round_work<WORK>(div_rn(round_work<WORK>(sub_rn(x, s.mean)), s.std_eps));
    }
    store_value(dst, x);
}

template <typename InT, typename OutT, int WORK, int ORDER, int MODE, int INPUT, bool OUT_CHW,
          int PRECISION, bool SAMPLEWISE>
GPUAUG_HD void write_plain_batch(const InT* __restrict__ src, OutT* __restrict__ dst,
                                 const unsigned char* __restrict__ upload,
                                 const double* __restrict__ partials, i64 n, i64 h, i64 w,
                                 i64 nc) {
    const Epilogue e = upload_epilogue(upload);
    const SampleParams* samples = upload_samples(upload);
    const Layout out = image_layout<OUT_CHW>(h, w, nc);
    const int channels = (int)nc;
    GPUAUG_FOR_EACH_SAMPLE(b) {
        const PlainSteps<WORK> s =
            plain_steps<WORK, SAMPLEWISE>(e, partials + totals_slot(n, b), h * w * nc);
        const SampleParams p = load_params(samples, b);
        const FastGeometry g = fast_geometry(p, h, w);  // read by precision="fast" only
        const SourceImage<InT> img = source_image<InT, INPUT>(src, upload, e, p, b, h, w, nc);
        OutT* o = dst + p.first;
        GPUAUG_FOR_EACH_PIXEL(walk) {
            const int r = (int)walk.r, c = (int)walk.c;
            const PixelTaps<InT, Coord<PRECISION>> t =
                pixel_taps<InT, ORDER, MODE, INPUT, PRECISION>(img, p, g, h, w, r, c);
            OutT* px = pixel_out<OUT_CHW>(o, out, r, c);
            if (channels == 3) {  // RGB: straight-line code; NHWC loads and stores at fixed offsets
                for (int k = 0; k < 3; ++k)
                    write_plain<InT, WORK, ORDER, PRECISION, SAMPLEWISE>(px + k * out.s_chan, t,
                                                                         k, e.cval, s);
                continue;
            }
#pragma unroll 1
            for (int k = 0; k < channels; ++k)
                write_plain<InT, WORK, ORDER, PRECISION, SAMPLEWISE>(px + k * out.s_chan, t, k,
                                                                     e.cval, s);
        }
    }
}

template <typename InT, typename OutT, int WORK, int ORDER, int MODE, int INPUT, bool OUT_CHW,
          int PRECISION>
__global__ void augment_write_plain(const InT* __restrict__ src, OutT* __restrict__ dst,
                                    const unsigned char* __restrict__ upload,
                                    const double* __restrict__ partials, i64 n, i64 h, i64 w,
                                    i64 nc) {
    write_plain_batch<InT, OutT, WORK, ORDER, MODE, INPUT, OUT_CHW, PRECISION, false>(
        src, dst, upload, partials, n, h, w, nc);
}

template <typename InT, typename OutT, int WORK, int ORDER, int MODE, int INPUT, bool OUT_CHW,
          int PRECISION>
__global__ void augment_write_samplewise(const InT* __restrict__ src, OutT* __restrict__ dst,
                                         const unsigned char* __restrict__ upload,
                                         const double* __restrict__ partials, i64 n, i64 h,
                                         i64 w, i64 nc) {
    write_plain_batch<InT, OutT, WORK, ORDER, MODE, INPUT, OUT_CHW, PRECISION, true>(
        src, dst, upload, partials, n, h, w, nc);
}

}  // namespace gpuaug
