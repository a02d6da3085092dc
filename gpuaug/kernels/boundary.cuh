// SciPy's boundary rules for affine_transform at spline order 0 and 1, per axis.
//
// The device-side twin of gpuaug/backends/reference/boundary.py (docs/semantics.md §4);
// a test holds the two equal on a grid of out-of-range coordinates.  Two steps:
//   map_coordinate folds a source coordinate into [0, n-1] before the taps are chosen
//     (constant: -1 outside, which the caller turns into cval for the whole pixel);
//   map_tap maps the integer taps floor(u), floor(u)+1 that still fall outside.
// Every operation rounds exactly as NumPy does (numeric.cuh); with float coordinates
// (precision="fast") every rule is the same, only the coordinates' rounding differs.
#pragma once
#include "numeric.cuh"

namespace gpuaug {

// FillMode (MODE_NEAREST, MODE_REFLECT, MODE_WRAP, MODE_CONSTANT) comes from interface.cuh.

// T is double (precision="exact", SciPy's arithmetic) or float (precision="fast": the
// same rules on float32 coordinates).
template <int MODE, typename T>
GPUAUG_HD T map_coordinate(T u, int n) {
    const bool below = u < T(0);
    const bool above = u > (T)(n - 1);
    if (MODE == MODE_NEAREST) return u;  // the taps clamp; the weights keep the raw coordinate
    if (MODE == MODE_CONSTANT) return (below || above) ? T(-1) : u;
    if (!(below || above)) return u;
    if (n <= 1) return T(0);
    if (MODE == MODE_REFLECT) {
        const T period = T(2) * (T)n;
        if (below) {
            T low = u < -period ? add_rn(u, mul_rn(period, trunc_of(div_rn(-u, period)))) : u;
            if (low < -(T)n) return add_rn(low, period);
            return sub_rn(low > T(-1e-15) ? T(1e-15) : -low, T(1));  // SciPy's nudge at the edge
        }
        T high = sub_rn(u, mul_rn(period, trunc_of(div_rn(u, period))));
        return high >= (T)n ? sub_rn(sub_rn(period, high), T(1)) : high;
    }
    // MODE_WRAP: SciPy's legacy wrap treats samples 0 and n-1 as one point, period n-1.
    const T period = (T)(n - 1);
    if (below) return add_rn(u, mul_rn(period, add_rn(trunc_of(div_rn(-u, period)), T(1))));
    return sub_rn(u, mul_rn(period, trunc_of(div_rn(u, period))));
}

// Taps and sizes in 32 bits: n < 2^31 (the host checks) and taps lie within [-2, n + 2].
template <int MODE>
GPUAUG_HD int map_tap(int j, int n) {
    if (MODE == MODE_NEAREST) {  // a clamp to [0, n - 1] (n >= 1): two min / max instructions
        j = j > 0 ? j : 0;
        return j < n - 1 ? j : n - 1;
    }
    if (n <= 1) return 0;
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
template <typename T>
GPUAUG_HD int to_index(T start, int n) {
    const T lo = T(-2), hi = (T)(n + 1);
    return (int)(start > lo ? (start < hi ? start : hi) : lo);
}

// The tap `step` (0 or 1) after `start` (an integer-valued coordinate): to_index, then
// map_tap.  precision="fast", nearest: the same clamp to [0, n - 1], as a max in float32,
// a saturating conversion and a min (a NaN start gives 0, as before); start + 1 is exact
// there, the sides being at most 2^24 (fused.FAST_MAX_SIDE).
template <int MODE, typename T>
GPUAUG_HD int tap_of(T start, int n, int step) {
    return map_tap<MODE>(to_index(start, n) + step, n);
}
template <>
GPUAUG_HD int tap_of<MODE_NEAREST, float>(float start, int n, int step) {
    const float j = step ? start + 1.0f : start;  // not start + 0.0f: -0 + 0 is an add
    const int low = saturating_int(fmaxf(j, 0.0f));  // >= 0; a NaN start gives 0
    return low < n - 1 ? low : n - 1;
}

// Both taps of order 1, tap_of(start, n, 0) and tap_of(start, n, 1).  precision="fast",
// nearest: one saturating conversion of i = max(start, -1) serves both (a NaN start, quiet
// as arithmetic makes it, gives -1): tap0 = clamp(i, 0, n - 1), tap1 = min(i, n - 2) + 1,
// which cannot overflow.  A max, a conversion and four integer instructions, where two
// calls of tap_of take seven.
template <int MODE, typename T>
GPUAUG_HD void taps_of(T start, int n, int* tap0, int* tap1) {
    *tap0 = tap_of<MODE>(start, n, 0);
    *tap1 = tap_of<MODE>(start, n, 1);
}
template <>
GPUAUG_HD void taps_of<MODE_NEAREST, float>(float start, int n, int* tap0, int* tap1) {
    const int i = saturating_int(fmaxf(start, -1.0f));  // >= -1
    const int low = i > 0 ? i : 0;
    *tap0 = low < n - 1 ? low : n - 1;
    *tap1 = (i < n - 2 ? i : n - 2) + 1;
}

// The taps and weights of one axis.  For order 0, tap1 and the weights are unused.
template <typename T>
struct AxisTaps {
    int tap0, tap1;
    T w0, w1;
    T frac;  // the coordinate past tap0: precision="fast" interpolates with it (warp.cuh)
    bool outside;  // constant mode, coordinate outside the image: the pixel is cval
};

template <int ORDER, int MODE, typename T>
GPUAUG_HD AxisTaps<T> axis_taps(T u, int n) {
    AxisTaps<T> t;
    T cc = map_coordinate<MODE>(u, n);
    t.outside = false;
    if (MODE == MODE_CONSTANT && !(cc > T(-1))) {  // SciPy's test; NaN lands here too
        t.outside = true;
        cc = T(0);
    }
    if (ORDER == 0) {
        t.tap0 = tap_of<MODE>(floor_of(add_rn(cc, T(0.5))), n, 0);  // floor(u + 0.5), not rint
        t.tap1 = t.tap0;
        t.w0 = T(1);
        t.w1 = T(0);
        t.frac = T(0);
        return t;
    }
    const T start = floor_of(cc);
    t.frac = sub_rn(cc, start);
    t.w0 = sub_rn(T(1), t.frac);
    t.w1 = sub_rn(T(1), t.w0);  // SciPy's, not the fraction: w0 + w1 is exactly 1
    taps_of<MODE>(start, n, &t.tap0, &t.tap1);
    return t;
}

}  // namespace gpuaug
