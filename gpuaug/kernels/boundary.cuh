// SciPy's boundary rules for affine_transform at spline order 0 and 1, per axis.
//
// The device-side twin of gpuaug/backends/reference/boundary.py (docs/semantics.md §4);
// a test holds the two equal on a grid of out-of-range coordinates.  Two steps:
//   map_coordinate folds a source coordinate into [0, n-1] before the taps are chosen
//     (constant: -1 outside, which the caller turns into cval for the whole pixel);
//   map_tap maps the integer taps floor(u), floor(u)+1 that still fall outside.
// Every operation rounds exactly as NumPy does (numeric.cuh).
#pragma once
#include "numeric.cuh"

namespace gpuaug {

// FillMode (MODE_NEAREST, MODE_REFLECT, MODE_WRAP, MODE_CONSTANT) comes from interface.cuh.

template <int MODE>
GPUAUG_HD double map_coordinate(double u, i64 n) {
    const bool below = u < 0.0;
    const bool above = u > (double)(n - 1);
    if (MODE == MODE_NEAREST) return u;  // the taps clamp; the weights keep the raw coordinate
    if (MODE == MODE_CONSTANT) return (below || above) ? -1.0 : u;
    if (!(below || above)) return u;
    if (n <= 1) return 0.0;
    if (MODE == MODE_REFLECT) {
        const double period = 2.0 * (double)n;
        if (below) {
            double low = u < -period ? add_rn(u, mul_rn(period, trunc(div_rn(-u, period)))) : u;
            if (low < -(double)n) return add_rn(low, period);
            return sub_rn(low > -1e-15 ? 1e-15 : -low, 1.0);  // SciPy's nudge at the edge
        }
        double high = sub_rn(u, mul_rn(period, trunc(div_rn(u, period))));
        return high >= (double)n ? sub_rn(sub_rn(period, high), 1.0) : high;
    }
    // MODE_WRAP: SciPy's legacy wrap treats samples 0 and n-1 as one point, period n-1.
    const double period = (double)(n - 1);
    if (below) return add_rn(u, mul_rn(period, add_rn(trunc(div_rn(-u, period)), 1.0)));
    return sub_rn(u, mul_rn(period, trunc(div_rn(u, period))));
}

template <int MODE>
GPUAUG_HD i64 map_tap(i64 j, i64 n) {
    if (n <= 1) return 0;
    if (MODE == MODE_NEAREST) return j < 0 ? 0 : (j > n - 1 ? n - 1 : j);
    if (MODE == MODE_REFLECT) {
        if (j < 0) j = -j - 1;
        if (j >= n) j = 2 * n - j - 1;
    } else {  // wrap and constant mirror about the whole sample (only weight-0 taps get here)
        if (j < 0) j = -j;
        if (j > n - 1) j = 2 * n - 2 - j;
    }
    return j < 0 ? 0 : (j > n - 1 ? n - 1 : j);  // guards weight-0 taps on tiny axes
}

// floor(u) as an index.  Only nearest leaves coordinates unfolded, and its taps clamp to
// [0, n-1] anyway, so clamping to [-2, n+1] first changes no tap; it keeps the cast to
// an integer defined for huge coordinates and NaN (NaN -> -2), on any compiler.
GPUAUG_HD i64 to_index(double start, i64 n) {
    const double lo = -2.0, hi = (double)(n + 1);
    return (i64)(start > lo ? (start < hi ? start : hi) : lo);
}

// The taps and weights of one axis.  For order 0, tap1 and the weights are unused.
struct AxisTaps {
    i64 tap0, tap1;
    double w0, w1;
    bool outside;  // constant mode, coordinate outside the image: the pixel is cval
};

template <int ORDER, int MODE>
GPUAUG_HD AxisTaps axis_taps(double u, i64 n) {
    AxisTaps t;
    double cc = map_coordinate<MODE>(u, n);
    t.outside = false;
    if (MODE == MODE_CONSTANT && !(cc > -1.0)) {  // SciPy's test; NaN lands here too
        t.outside = true;
        cc = 0.0;
    }
    if (ORDER == 0) {
        t.tap0 = map_tap<MODE>(to_index(floor(add_rn(cc, 0.5)), n), n);  // floor(u + 0.5), not rint
        t.tap1 = t.tap0;
        t.w0 = 1.0;
        t.w1 = 0.0;
        return t;
    }
    const double start = floor(cc);
    t.w0 = sub_rn(1.0, sub_rn(cc, start));
    t.w1 = sub_rn(1.0, t.w0);
    t.tap0 = map_tap<MODE>(to_index(start, n), n);
    t.tap1 = map_tap<MODE>(to_index(start, n) + 1, n);
    return t;
}

}  // namespace gpuaug
