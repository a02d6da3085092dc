// Channel shift and brightness on one warped value: Keras's apply_transform after the warp.
//
// The device-side twin of gpuaug/backends/reference/pointwise.py (docs/semantics.md
// §3.3-§3.4).  Both steps need the warped image's min and max over all channels,
// which the min/max pass of augment.cu computes first.
#pragma once
#include "numeric.cuh"

namespace gpuaug {

GPUAUG_HD double clip(double v, double lo, double hi) {  // np.clip: minimum(maximum(v, lo), hi)
    v = v > lo ? v : lo;
    return v < hi ? v : hi;
}

// PIL's ImageEnhance.Brightness on one 8-bit value: trunc(float32(b) * v), clamped to 0..255.
GPUAUG_HD float pil_brightness(float b, int v) {
    float out = truncf(mul_rn(b, (float)v));
    return out < 0.0f ? 0.0f : (out > 255.0f ? 255.0f : out);
}

// array_to_img(scale=True): stretch the image's [lo, hi] to 0..255 and truncate.
GPUAUG_HD int stretch_to_uint8(float v, float lo, float span) {
    float s = sub_rn(v, lo);
    if (span != 0.0f) s = div_rn(s, span);
    return (int)mul_rn(s, 255.0f);
}

// Channel shift and brightness on one value of channel k.  lo/hi: the warped image's
// min and max over all channels.
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
    const int u = stretch_to_uint8(to_float(v), lo32, sub_rn(to_float(hi), lo32));
    const float scaled = alpha ? (float)u : pil_brightness(bf, u);
    if (compat == COMPAT_KERAS_PREPROCESSING) return round_work<WORK>((double)scaled);
    // Keras maps back: (scaled / float32(255)).astype(dtype) * (hi - lo) + lo
    const double q = round_work<WORK>((double)div_rn(scaled, 255.0f));
    const double span = round_work<WORK>(sub_rn(hi, lo));
    return round_work<WORK>(add_rn(round_work<WORK>(mul_rn(q, span)), lo));
}

}  // namespace gpuaug
