// The affine warp of one output pixel: its source taps and the warped value per channel.
//
// The device-side twin of gpuaug/backends/reference/warp.py (docs/semantics.md §4):
// float64 coordinates in SciPy's evaluation order, flips folded into the output
// coordinates, taps and weights from boundary.cuh, the four taps accumulated in
// SciPy's order, every step rounded as NumPy rounds it.  precision="fast" (PRECISION_FAST)
// takes the same taps by the same rules from float32 coordinates and interpolates in
// float32 with FMAs: no FP64 instruction per pixel; its error against the exact result
// is bounded and tested (tests/test_fast_precision.py), not zero.
#pragma once
#include "boundary.cuh"

namespace gpuaug {

// Where the values of an image live: element strides of (row, column, channel), 32-bit
// within an image (h * w * c < 2^31); a sample starts at SampleParams.first, in 64 bits.
struct Layout {
    int s_row, s_col, s_chan;
};
template <bool CHW>
GPUAUG_HD Layout image_layout(i64 h, i64 w, i64 c) {
    Layout l;
    if (CHW) { l.s_chan = (int)(h * w); l.s_row = (int)w; l.s_col = 1; }
    else { l.s_chan = 1; l.s_row = (int)(w * c); l.s_col = (int)c; }
    return l;
}

// Where a sample's taps read.  INPUT_HWC: the sample's own image in the batch, channels-last
// (the host transposes a channels-first batch first: its strides as constants save an add
// per tap and channel, bench/RESULTS.md issue 30), at SampleParams.first, a tap at
// (row, col) at row * s_row + col * s_col.  INPUT_RESIZED: a
// decoded uint8 HWC image of its own size (DALI's output), whose resized image (Pillow's
// nearest) would hold at (row, col) its pixel (rows[row], cols[col]): the taps read that,
// bit for bit what resizing first and warping the result reads, without the resized image.
// Taps always lie in [0, n - 1] (boundary.cuh), so the maps are read within their bounds.
// A grayscale batch reads the same RGB images with InT = RgbLuma: each tap is Pillow's luma
// of its pixel, as the resized grayscale image would hold it.
template <typename InT>
struct SourceImage {
    const InT* img;
    Layout in;
    // INPUT_RESIZED: the source row (column) of resized row (column) j is maps[rows + j]
    // (maps[cols + j]); 32-bit offsets (the host keeps the maps under 2^31 entries), so a
    // tap's index is one 32-bit add and its address one wide multiply-add.
    const int* maps;
    unsigned rows, cols;
};

// Sample b's source: `src` + its first element, or (INPUT_RESIZED) its ResizeSource record
// and index maps, which the host packed into the upload at the Epilogue's byte offsets.
template <typename InT, int INPUT>
GPUAUG_HD SourceImage<InT> source_image(const InT* src, const unsigned char* upload,
                                        const Epilogue& e, const SampleParams& p, i64 b, i64 h,
                                        i64 w, i64 nc) {
    SourceImage<InT> s;
    if constexpr (INPUT == INPUT_RESIZED) {
        const ResizeSource r = reinterpret_cast<const ResizeSource*>(upload + e.sources_offset)[b];
        const int* maps = reinterpret_cast<const int*>(upload + e.maps_offset);
        static_assert(sizeof(InT) == 1 || sizeof(InT) == 3, "uint8 RGB: bytes or RgbLuma");
        constexpr int per_pixel = 3 / (int)sizeof(InT);  // uint8 RGB, HWC: 3 bytes or 1 RgbLuma
        s.img = reinterpret_cast<const InT*>(r.pixels);
        s.in.s_row = (int)r.width * per_pixel;
        s.in.s_col = per_pixel;
        s.in.s_chan = 1;
        s.maps = maps;
        s.rows = (unsigned)r.row_map;
        s.cols = (unsigned)r.col_map;
    } else {
        s.img = src + p.first;
        s.in = image_layout<false>(h, w, nc);
        s.maps = nullptr;
        s.rows = s.cols = 0;
    }
    return s;
}

// Element offsets of a tap's row and column in the source (taps are >= 0).
template <int INPUT, typename InT>
GPUAUG_HD int row_offset(const SourceImage<InT>& s, int row) {
    if constexpr (INPUT == INPUT_RESIZED) return s.maps[s.rows + (unsigned)row] * s.in.s_row;
    return row * s.in.s_row;
}
template <int INPUT, typename InT>
GPUAUG_HD int col_offset(const SourceImage<InT>& s, int col) {
    if constexpr (INPUT == INPUT_RESIZED) return s.maps[s.cols + (unsigned)col] * s.in.s_col;
    return col * s.in.s_col;
}

// The coordinate type of a precision: float64 (exact: SciPy's arithmetic) or float32.
template <int PRECISION> struct CoordOf { typedef double type; };
template <> struct CoordOf<PRECISION_FAST> { typedef float type; };
template <int PRECISION> using Coord = typename CoordOf<PRECISION>::type;

// precision="fast": a sample's matrix in float32 about the image's centre, made by the
// host (launch_args.fast_geometry: the centre's coordinate in float64, then rounded) and
// packed as float32 pairs into the record's first three matrix words.  A pixel's
// coordinate is then two float32 FMAs of exact offsets from the centre: its error is a
// few ulps of the coordinate itself, and no FP64 instruction is needed.
// The offsets are taken doubled, 2r - (h - 1), integers, one conversion each, against
// the linear part halved: the same products exactly (halving and doubling are exact),
// so the same coordinates, without the centre's half-integers in the pixel loop.  A flip
// mirrors the pixel's offset from the centre: the host negates the coefficients of that
// offset (exact: a sign), so neither the sample's setup nor the pixel loop has a select.
struct FastGeometry {
    float m0, m1, m3, m4;  // the linear part, rows (row, col), halved; flips folded in
    float row0, col0;      // the source coordinate of the centre pixel
    int h1, w1;            // h - 1, w - 1: twice the centre pixel
};
GPUAUG_HD float low_float(double pair) { return float_from_bits((int)(unsigned)double_bits(pair)); }
GPUAUG_HD float high_float(double pair) {
    return float_from_bits((int)(unsigned)(double_bits(pair) >> 32));
}
GPUAUG_HD FastGeometry fast_geometry(const SampleParams& p, i64 h, i64 w) {
    FastGeometry g;
    g.m0 = low_float(p.m[0]); g.m1 = high_float(p.m[0]);
    g.m3 = low_float(p.m[1]); g.m4 = high_float(p.m[1]);
    g.row0 = low_float(p.m[2]); g.col0 = high_float(p.m[2]);
    g.h1 = (int)h - 1;
    g.w1 = (int)w - 1;
    return g;
}

// Where output pixel (r, c) of one sample reads from: the four taps (one for order 0)
// as element offsets into the image and their weights, or "outside" (constant mode: the
// pixel is cval).  Offsets within one image are 32-bit (the host guarantees
// h * w * c < 2^31): the per-channel index arithmetic is then single integer operations.
template <typename InT, typename T>
struct PixelTaps {
    const InT* img;
    int o00, o01, o10, o11;
    int s_chan;
    T wr0, wr1, wc0, wc1;
    T fr, fc;  // the coordinates past taps 0 (AxisTaps::frac): precision="fast"'s weights
    bool outside;
    bool unwarped;  // Keras skips the warp for this sample: the value is tap o00's own
};

template <typename InT, int ORDER, int MODE, int INPUT, int PRECISION>
GPUAUG_HD PixelTaps<InT, Coord<PRECISION>> pixel_taps(const SourceImage<InT>& src,
                                                      const SampleParams& p,
                                                      const FastGeometry& g, i64 h, i64 w,
                                                      int r, int c) {
    typedef Coord<PRECISION> T;
    PixelTaps<InT, T> t;
    t.img = src.img;
    t.s_chan = src.in.s_chan;
    // Keras skips the warp for this sample: its coordinates are the (flipped) pixel's own,
    // exact integers, so tap o00 is the pixel; the value is taken from it, not the sum, in
    // which a non-finite neighbour times a zero weight would be NaN.  A select, not an early
    // path: samples of one batch differ, and the warped path is the one to keep fast.
    t.unwarped = (p.flags & UNWARPED) != 0;
    T u_row, u_col;
    if constexpr (PRECISION == PRECISION_FAST) {
        // Twice the pixel's offset from the centre, exact in float32: |2r - (h - 1)| < 2^24
        // (the host refuses longer sides: fused.FAST_MAX_SIDE).  Flips: in g's matrix.
        const float dr = (float)(2 * r - g.h1);
        const float dc = (float)(2 * c - g.w1);
        u_row = fma_rn(dc, g.m1, fma_rn(dr, g.m0, g.row0));
        u_col = fma_rn(dc, g.m4, fma_rn(dr, g.m3, g.col0));
    } else {
        const double rr = (p.flags & FLIP_V) ? (double)((int)h - 1 - r) : (double)r;
        const double cc = (p.flags & FLIP_H) ? (double)((int)w - 1 - c) : (double)c;
        u_row = add_rn(add_rn(p.m[2], mul_rn(rr, p.m[0])), mul_rn(cc, p.m[1]));
        u_col = add_rn(add_rn(p.m[5], mul_rn(rr, p.m[3])), mul_rn(cc, p.m[4]));
    }
    const AxisTaps<T> tr = axis_taps<ORDER, MODE>(u_row, (int)h);
    const AxisTaps<T> tc = axis_taps<ORDER, MODE>(u_col, (int)w);
    t.outside = tr.outside || tc.outside;
    const int row0 = row_offset<INPUT>(src, tr.tap0), row1 = row_offset<INPUT>(src, tr.tap1);
    const int col0 = col_offset<INPUT>(src, tc.tap0), col1 = col_offset<INPUT>(src, tc.tap1);
    t.o00 = row0 + col0;
    t.o01 = row0 + col1;
    t.o10 = row1 + col0;
    t.o11 = row1 + col1;
    t.wr0 = tr.w0; t.wr1 = tr.w1; t.wc0 = tc.w0; t.wc1 = tc.w1;
    t.fr = tr.frac; t.fc = tc.frac;
    return t;
}

// Channel offset o of the tap at element offset `at` (>= 0: taps lie inside the image).
// The tap's address is made first, from the offset taken as unsigned (a zero extension,
// not a sign extension, to 64 bits), and the channel offset then added to the address,
// where it folds into the load's immediate.
template <typename InT, typename T>
GPUAUG_HD InT tap(const PixelTaps<InT, T>& t, int at, int o) {
    return (t.img + (unsigned)at)[o];
}

// INPUT_RESIZED for a grayscale batch: an RGB uint8 pixel that the taps read as Pillow's
// luma, (R * 19595 + G * 38470 + B * 7471 + 0x8000) >> 16, the grayscale image's value.
struct RgbLuma {
    unsigned char rgb[3];
};
static_assert(sizeof(RgbLuma) == 3, "RgbLuma: one RGB pixel");
template <typename T>
GPUAUG_HD unsigned char tap(const PixelTaps<RgbLuma, T>& t, int at, int) {
    const unsigned char* px = t.img[(unsigned)at].rgb;
    return (unsigned char)((px[0] * 19595u + px[1] * 38470u + px[2] * 7471u + 0x8000u) >> 16);
}

// Input types with no infinities or NaN.
template <typename InT> struct AllFinite { static const bool value = false; };
template <> struct AllFinite<unsigned char> { static const bool value = true; };
template <> struct AllFinite<RgbLuma> { static const bool value = true; };

// The warped value of channel k, rounded to the working dtype.  Inputs wider than the
// working dtype are rounded to it first, as NumPy casts the batch before the warp.
template <typename InT, int WORK, int ORDER>
GPUAUG_HD double warp_channel(const PixelTaps<InT, double>& t, int k, double cval) {
    if (t.outside) return round_work<WORK>(cval);
    const int o = k * t.s_chan;
    const double v00 = input_value<WORK>(tap(t, t.o00, o));
    if (ORDER == 0) return v00;
    // SciPy's accumulation order: (v00*wr0)*wc0, then += (v01*wr0)*wc1, (v10*wr1)*wc0, (v11*wr1)*wc1.
    double acc = mul_rn(mul_rn(v00, t.wr0), t.wc0);
    acc = add_rn(acc, mul_rn(mul_rn(input_value<WORK>(tap(t, t.o01, o)), t.wr0), t.wc1));
    acc = add_rn(acc, mul_rn(mul_rn(input_value<WORK>(tap(t, t.o10, o)), t.wr1), t.wc0));
    acc = add_rn(acc, mul_rn(mul_rn(input_value<WORK>(tap(t, t.o11, o)), t.wr1), t.wc1));
    // An unwarped sample's taps have weights (1, 0) on both axes, so with finite inputs
    // the sum is v00 itself, already in the working dtype: only float inputs need the select.
    if (AllFinite<InT>::value) return round_work<WORK>(acc);
    return t.unwarped ? v00 : round_work<WORK>(acc);
}

// precision="fast": channel k interpolated in float32, each row's pair of taps, then the
// rows, each a linear interpolation by the coordinate's fraction past tap 0: a difference
// and an FMA (v0 + (v1 - v0) * f), so the weights 1 - f and f are never formed (four adds
// per pixel fewer).  A flat pair interpolates to itself exactly, and an unwarped sample
// (f = 0) gives tap 0 exactly.  Inputs that may hold infinities keep the weighted sum
// (an infinite pair's difference would be NaN); cval as given (the caller's float32).
template <typename InT, int ORDER>
GPUAUG_HD float warp_channel_fast(const PixelTaps<InT, float>& t, int k, float cval) {
    if (t.outside) return cval;
    const int o = k * t.s_chan;
    const float v00 = load_fast(tap(t, t.o00, o));
    if (ORDER == 0) return v00;
    const float v01 = load_fast(tap(t, t.o01, o));
    const float v10 = load_fast(tap(t, t.o10, o));
    const float v11 = load_fast(tap(t, t.o11, o));
    if (AllFinite<InT>::value) {
        const float top = fma_rn(sub_rn(v01, v00), t.fc, v00);
        const float bottom = fma_rn(sub_rn(v11, v10), t.fc, v10);
        return fma_rn(sub_rn(bottom, top), t.fr, top);
    }
    const float top = fma_rn(v01, t.wc1, mul_rn(v00, t.wc0));
    const float bottom = fma_rn(v11, t.wc1, mul_rn(v10, t.wc0));
    const float acc = fma_rn(bottom, t.wr1, mul_rn(top, t.wr0));
    return t.unwarped ? v00 : acc;
}

// The warped value in the working dtype, in either precision: what every pass reads, so
// the min / max and moments passes see the values the write pass writes.
template <typename InT, int WORK, int ORDER, int PRECISION>
GPUAUG_HD double warp_value(const PixelTaps<InT, Coord<PRECISION>>& t, int k, double cval) {
    if constexpr (PRECISION == PRECISION_FAST) {
        if (t.outside) return round_work<WORK>(cval);
        return round_work<WORK>((double)warp_channel_fast<InT, ORDER>(t, k, 0.0f));
    } else {
        return warp_channel<InT, WORK, ORDER>(t, k, cval);
    }
}

}  // namespace gpuaug
