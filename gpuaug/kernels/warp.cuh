// The affine warp of one output pixel: its source taps and the warped value per channel.
//
// The device-side twin of gpuaug/backends/reference/warp.py (docs/semantics.md §4):
// float64 coordinates in SciPy's evaluation order, flips folded into the output
// coordinates, taps and weights from boundary.cuh, the four taps accumulated in
// SciPy's order, every step rounded as NumPy rounds it.
#pragma once
#include "boundary.cuh"

namespace gpuaug {

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

// Where output pixel (r, c) of one sample reads from: the four taps (one for order 0)
// as element offsets into the image and their weights, or "outside" (constant mode: the
// pixel is cval).  Offsets within one image are 32-bit (the host guarantees
// h * w * c < 2^31): the per-channel index arithmetic is then single integer operations.
template <typename InT>
struct PixelTaps {
    const InT* img;
    int o00, o01, o10, o11;
    int s_chan;
    double wr0, wr1, wc0, wc1;
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
    t.img = img;
    t.s_chan = (int)in.s_chan;
    const int row0 = (int)tr.tap0 * (int)in.s_row, row1 = (int)tr.tap1 * (int)in.s_row;
    const int col0 = (int)tc.tap0 * (int)in.s_col, col1 = (int)tc.tap1 * (int)in.s_col;
    t.o00 = row0 + col0;
    t.o01 = row0 + col1;
    t.o10 = row1 + col0;
    t.o11 = row1 + col1;
    t.wr0 = tr.w0; t.wr1 = tr.w1; t.wc0 = tc.w0; t.wc1 = tc.w1;
    return t;
}

// The warped value of channel k, rounded to the working dtype.  Inputs wider than the
// working dtype are rounded to it first, as NumPy casts the batch before the warp.
template <typename InT, int WORK, int ORDER>
GPUAUG_HD double warp_channel(const PixelTaps<InT>& t, int k, double cval) {
    if (t.outside) return round_work<WORK>(cval);
    const int o = k * t.s_chan;
    if (ORDER == 0) return input_value<WORK>(t.img[t.o00 + o]);
    // SciPy's accumulation order: (v00*wr0)*wc0, then += (v01*wr0)*wc1, (v10*wr1)*wc0, (v11*wr1)*wc1.
    double acc = mul_rn(mul_rn(input_value<WORK>(t.img[t.o00 + o]), t.wr0), t.wc0);
    acc = add_rn(acc, mul_rn(mul_rn(input_value<WORK>(t.img[t.o01 + o]), t.wr0), t.wc1));
    acc = add_rn(acc, mul_rn(mul_rn(input_value<WORK>(t.img[t.o10 + o]), t.wr1), t.wc0));
    acc = add_rn(acc, mul_rn(mul_rn(input_value<WORK>(t.img[t.o11 + o]), t.wr1), t.wc1));
    return round_work<WORK>(acc);
}

}  // namespace gpuaug
