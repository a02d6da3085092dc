// Just enough of CUDA's execution model to run gpuaug's kernels on the host.
//
// The kernels in gpuaug/kernels/augment.cu are plain C++ apart from the launch
// coordinates, warp shuffles (compiled only for the device) and atomics.  Here a
// "launch" runs every block of the grid in turn with ONE thread per block: the
// kernels' grid-stride loops then cover every pixel, every thread is lane 0 of its
// warp, and the atomics are ordinary read-modify-writes.  What this cannot check is
// the parallel part (real warps and blocks racing); the gpu-marked tests do that.
#pragma once
#include <cmath>

struct EmulatedDim3 {
    unsigned x, y, z;
};
static EmulatedDim3 threadIdx = {0, 0, 0}, blockIdx = {0, 0, 0}, blockDim = {1, 1, 1},
                    gridDim = {1, 1, 1};

#define __global__
#define __launch_bounds__(...)  // a hint to the GPU compiler only
#define __restrict__ __restrict
#define __shared__ static  // one thread per block: a block's shared memory is one variable

static inline void __syncthreads() {}

static inline unsigned long long atomicMin(unsigned long long* p, unsigned long long v) {
    unsigned long long old = *p;
    if (v < old) *p = v;
    return old;
}
static inline unsigned long long atomicMax(unsigned long long* p, unsigned long long v) {
    unsigned long long old = *p;
    if (v > old) *p = v;
    return old;
}
static inline unsigned long long atomicAdd(unsigned long long* p, unsigned long long v) {
    unsigned long long old = *p;
    *p = old + v;
    return old;
}
static inline void __threadfence() {}  // blocks run one after another
static inline double atomicAdd(double* p, double v) {
    double old = *p;
    *p = old + v;
    return old;
}

template <typename Body>
static void run_grid(unsigned gx, unsigned gy, Body body) {
    gridDim = {gx, gy, 1};
    blockDim = {1, 1, 1};
    threadIdx = {0, 0, 0};
    for (unsigned y = 0; y < gy; ++y) {
        for (unsigned x = 0; x < gx; ++x) {
            blockIdx = {x, y, 0};
            body();
        }
    }
}
