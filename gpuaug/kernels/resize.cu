// Pillow's nearest-neighbour resize of a batch of decoded images of any sizes, one launch.
//
// DALI decodes a batch into images of their own sizes; Keras resizes each with Pillow's
// NEAREST rule, whose source row (column) of each output row (column) comes from an
// accumulated float64 position (gpuaug/sources/pillow_rules.pil_nearest_indices): the host
// computes those index maps once per (source size, target size) and uploads them with
// one ResizeSource record per image, and this kernel gathers every output pixel:
//   out[b, r, c, :] = image_b[row_map_b[r], col_map_b[c], :]
// or, for one output channel, Pillow's integer luma of that pixel
//   (R * 19595 + G * 38470 + B * 7471 + 0x8000) >> 16.
// An image already at the target size gets identity maps: the same launch copies it.
//
// Launch shape: blockIdx.y walks the images, blockIdx.x/threadIdx.x the output pixels
// of one, both as grid-stride loops.  Within an image all indices are 32-bit (the host
// checks that every image holds fewer than 2^31 bytes).
#include "numeric.cuh"

namespace gpuaug {

__global__ void resize_nearest(const ResizeSource* __restrict__ sources,
                               const int* __restrict__ maps, unsigned char* __restrict__ out,
                               i64 n, i64 h, i64 w, i64 out_channels) {
    const unsigned pixels = (unsigned)(h * w);
    for (i64 b = blockIdx.y; b < n; b += gridDim.y) {
        const ResizeSource s = sources[b];
        const unsigned char* image = reinterpret_cast<const unsigned char*>(s.pixels);
        const int* rows = maps + s.row_map;
        const int* cols = maps + s.col_map;
        unsigned char* o = out + b * (i64)pixels * out_channels;
        for (unsigned q = blockIdx.x * blockDim.x + threadIdx.x; q < pixels;
             q += gridDim.x * blockDim.x) {
            const unsigned r = q / (unsigned)w;
            const unsigned c = q - r * (unsigned)w;
            const unsigned char* px =
                image + ((unsigned)rows[r] * (unsigned)s.width + (unsigned)cols[c]) * 3u;
            if (out_channels == 1) {
                o[q] = (unsigned char)((px[0] * 19595u + px[1] * 38470u + px[2] * 7471u +
                                        0x8000u) >> 16);
            } else {
                o[3 * q] = px[0];
                o[3 * q + 1] = px[1];
                o[3 * q + 2] = px[2];
            }
        }
    }
}

}  // namespace gpuaug
