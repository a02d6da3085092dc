// One output pixel of Keras's augmentation: the warp, then the fused epilogue.
//
// Everything a kernel computes per pixel lives here, as functions of the pixel's
// coordinates, so the three passes of augment.cu (min/max, moments, write) share it
// and a host build can run it too.  The order of operations and the rounding to the
// working dtype after each one follow the NumPy reference (gpuaug/backends/numpy_*.py,
// gpuaug/standardize.py) step for step.
#pragma once
#include "boundary.cuh"

namespace gpuaug {

// Per-sample parameters, uploaded once per batch: 11 eight-byte fields, 88 bytes.
// Mirrored field for field by gpuaug/backends/kernel_args.py (SAMPLE_DTYPE).
struct SampleParams {
    double m[6];        // inverse matrix rows (row, col): in = (m[2] + r*m[0]) + c*m[1], ...
    double shift;       // channel-shift intensity rounded to the working dtype; NaN: none
    double brightness;  // brightness factor (float64); NaN: none
    u64 flags;          // bit 0: horizontal flip, bit 1: vertical flip
    u64 lo_key, hi_key; // min / max of the warped image (order_key), written by the min/max pass
};

enum { FLIP_H = 1, FLIP_V = 2 };
enum Compat { COMPAT_KERAS = 0, COMPAT_KERAS_PREPROCESSING = 1, COMPAT_FIXED = 2 };
enum StandardizeFlags {
    STD_RESCALE = 1, STD_SAMPLE_CENTER = 2, STD_SAMPLE_SCALE = 4,
    STD_FEATURE_CENTER = 8, STD_FEATURE_SCALE = 16,
};

// Where the values of an image live: element strides of (row, column, channel).
struct Layout {
    i64 s_row, s_col, s_chan, s_sample;
};
template <bool CHW>
GPUAUG_HD Layout image_layout(i64 h, i64 w, i64 c) {
    Layout l;
    l.s_sample = h * w * c;
    if (CHW) { l.s_chan = h * w; l.s_row = w; l.s_col = 1; }
    else { l.s_chan = 1; l.s_row = w * c; l.s_col = c; }
    return l;
}

// The epilogue's batch-wide arguments (rescale, featurewise statistics, ...).
struct Epilogue {
    int compat;
    int flags;             // StandardizeFlags
    double cval;
    double rescale;        // already in the precision NumPy would multiply in
    double eps;            // 1e-6 rounded to the working dtype
    const double* mean;    // featurewise mean, broadcast through strides (row, col, chan)
    i64 mean_s[3];
    const double* std_eps; // featurewise std + 1e-6, as NumPy rounds it, likewise
    i64 std_s[3];
};

// Where output pixel (r, c) of one sample reads from: the four taps (one for order 0)
// and their weights, or "outside" (constant mode: the pixel is cval).  Flips are
// folded into the output coordinates.
template <typename InT>
struct PixelTaps {
    const InT* p00;
    const InT* p01;
    const InT* p10;
    const InT* p11;
    double wr0, wr1, wc0, wc1;
    i64 s_chan;
    bool outside;
};

template <typename InT, int ORDER, int MODE, bool IN_CHW>
GPUAUG_HD PixelTaps<InT> pixel_taps(const InT* img, const SampleParams& p, i64 h, i64 w, i64 nc, i64 r,
                                    i64 c) {
    const Layout in = image_layout<IN_CHW>(h, w, nc);
    const double rr = (p.flags & FLIP_V) ? (double)(h - 1 - r) : (double)r;
    const double cc = (p.flags & FLIP_H) ? (double)(w - 1 - c) : (double)c;
    const double u_row = add_rn(add_rn(p.m[2], mul_rn(rr, p.m[0])), mul_rn(cc, p.m[1]));
    const double u_col = add_rn(add_rn(p.m[5], mul_rn(rr, p.m[3])), mul_rn(cc, p.m[4]));
    const AxisTaps tr = axis_taps<ORDER, MODE>(u_row, h);
    const AxisTaps tc = axis_taps<ORDER, MODE>(u_col, w);
    PixelTaps<InT> t;
    t.outside = tr.outside || tc.outside;
    t.s_chan = in.s_chan;
    t.p00 = img + tr.tap0 * in.s_row + tc.tap0 * in.s_col;
    t.p01 = img + tr.tap0 * in.s_row + tc.tap1 * in.s_col;
    t.p10 = img + tr.tap1 * in.s_row + tc.tap0 * in.s_col;
    t.p11 = img + tr.tap1 * in.s_row + tc.tap1 * in.s_col;
    t.wr0 = tr.w0; t.wr1 = tr.w1; t.wc0 = tc.w0; t.wc1 = tc.w1;
    return t;
}

// The warped value of channel k, rounded to the working dtype.  Inputs wider than the
// working dtype are rounded to it first, as NumPy casts the batch before the warp.
template <typename InT, int WORK, int ORDER>
GPUAUG_HD double warp_channel(const PixelTaps<InT>& t, i64 k, double cval) {
    if (t.outside) return round_work<WORK>(cval);
    const i64 o = k * t.s_chan;
    if (ORDER == 0) return round_work<WORK>(load_value(t.p00[o]));
    // SciPy's accumulation order: (v00*wr0)*wc0, then += (v01*wr0)*wc1, (v10*wr1)*wc0, (v11*wr1)*wc1.
    double acc = mul_rn(mul_rn(round_work<WORK>(load_value(t.p00[o])), t.wr0), t.wc0);
    acc = add_rn(acc, mul_rn(mul_rn(round_work<WORK>(load_value(t.p01[o])), t.wr0), t.wc1));
    acc = add_rn(acc, mul_rn(mul_rn(round_work<WORK>(load_value(t.p10[o])), t.wr1), t.wc0));
    acc = add_rn(acc, mul_rn(mul_rn(round_work<WORK>(load_value(t.p11[o])), t.wr1), t.wc1));
    return round_work<WORK>(acc);
}

GPUAUG_HD double clip(double v, double lo, double hi) {  // np.clip: minimum(maximum(v, lo), hi)
    v = v > lo ? v : lo;
    return v < hi ? v : hi;
}

// PIL's ImageEnhance.Brightness on one 8-bit value: trunc(float32(b) * v), clamped to 0..255.
GPUAUG_HD float pil_brightness(float b, int v) {
    float out = truncf(fmul_rn(b, (float)v));
    return out < 0.0f ? 0.0f : (out > 255.0f ? 255.0f : out);
}

// array_to_img(scale=True): stretch the image's [lo, hi] to 0..255 and truncate.
GPUAUG_HD int stretch_to_uint8(float v, float lo, float span) {
    float s = fsub_rn(v, lo);
    if (span != 0.0f) s = fdiv_rn(s, span);
    return (int)fmul_rn(s, 255.0f);
}

// Channel shift and brightness (Keras's apply_transform after the warp), on one value
// of channel k.  lo/hi: the warped image's min and max over all channels.
template <int WORK>
GPUAUG_HD double shift_and_brighten(double v, const SampleParams& p, double lo, double hi, i64 k, i64 nc,
                                    int compat) {
    const bool has_shift = p.shift == p.shift;  // NaN means "not drawn"
    if (has_shift) {
        v = clip(round_work<WORK>(add_rn(v, p.shift)), lo, hi);
        // The shift is a clipped offset, monotonic in v: the new extremes follow from the old.
        const double lo2 = clip(round_work<WORK>(add_rn(lo, p.shift)), lo, hi);
        const double hi2 = clip(round_work<WORK>(add_rn(hi, p.shift)), lo, hi);
        lo = lo2;
        hi = hi2;
    }
    const double b = p.brightness;
    if (!(b == b)) return v;
    if (compat == COMPAT_FIXED) return round_work<WORK>(mul_rn(v, round_work<WORK>(b)));
    const float bf = to_float(b);
    const bool alpha = nc == 4 && k == 3;  // PIL leaves the alpha channel alone
    if (compat == COMPAT_KERAS && lo >= 0.0 && hi <= 255.0) {
        const int u = (int)to_float(v);  // float32 -> uint8 truncates
        return round_work<WORK>(alpha ? (double)u : (double)pil_brightness(bf, u));
    }
    // Min-max stretch to 0..255 in float32 (keras-preprocessing always; Keras for data outside 0..255).
    const float lo32 = to_float(lo);
    const int u = stretch_to_uint8(to_float(v), lo32, fsub_rn(to_float(hi), lo32));
    const float scaled = alpha ? (float)u : pil_brightness(bf, u);
    if (compat == COMPAT_KERAS_PREPROCESSING) return round_work<WORK>((double)scaled);
    // Keras maps back: (scaled / float32(255)).astype(dtype) * (hi - lo) + lo
    const double q = round_work<WORK>((double)fdiv_rn(scaled, 255.0f));
    const double span = round_work<WORK>(sub_rn(hi, lo));
    return round_work<WORK>(add_rn(round_work<WORK>(mul_rn(q, span)), lo));
}

// Keras's standardize up to (and excluding) the samplewise steps: the rescale.
template <int WORK>
GPUAUG_HD double rescale_value(double v, const Epilogue& e) {
    return (e.flags & STD_RESCALE) ? round_work<WORK>(mul_rn(v, e.rescale)) : v;
}

// The samplewise mean and (std + eps) of a sample from its moments, in the working dtype.
template <int WORK>
GPUAUG_HD void sample_statistics(double sum, double sumsq, i64 count, double eps, double* mean,
                                 double* std_eps) {
    const double m = div_rn(sum, (double)count);
    double var = sub_rn(div_rn(sumsq, (double)count), mul_rn(m, m));
    var = var > 0.0 ? var : 0.0;
    *mean = round_work<WORK>(m);
    *std_eps = round_work<WORK>(add_rn(round_work<WORK>(sqrt(var)), eps));
}

// The rest of standardize: samplewise, then featurewise centre and scale.
template <int WORK>
GPUAUG_HD double standardize_value(double v, const Epilogue& e, double s_mean, double s_std_eps, i64 r,
                                   i64 c, i64 k) {
    if (e.flags & STD_SAMPLE_CENTER) v = round_work<WORK>(sub_rn(v, s_mean));
    if (e.flags & STD_SAMPLE_SCALE) v = round_work<WORK>(div_rn(v, s_std_eps));
    if (e.flags & STD_FEATURE_CENTER)
        v = round_work<WORK>(sub_rn(v, e.mean[r * e.mean_s[0] + c * e.mean_s[1] + k * e.mean_s[2]]));
    if (e.flags & STD_FEATURE_SCALE)
        v = round_work<WORK>(div_rn(v, e.std_eps[r * e.std_s[0] + c * e.std_s[1] + k * e.std_s[2]]));
    return v;
}

}  // namespace gpuaug
