// Host build of gpuaug/kernels/resize.cu (the very source NVRTC compiles, headers and the
// generated interface inlined by tests/emulation/__init__.py into resize_source.cu), for
// the CPU test suite: one exported function runs the kernel over a whole grid.
#include "host_shim.h"
#include "resize_source.cu"

using namespace gpuaug;

extern "C" void emulate_resize_nearest(unsigned gx, unsigned gy, const ResizeSource* sources,
                                       const int* maps, unsigned char* out, i64 n, i64 h, i64 w,
                                       i64 out_channels) {
    run_grid(gx, gy, [&] { resize_nearest(sources, maps, out, n, h, w, out_channels); });
}
