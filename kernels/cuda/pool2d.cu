// pool2d: 2×2 pooling, stride 2, floor mode (pysr/ops/pool2d.py; an odd last row / column is dropped):
//   max: max of the 4 values;  avg: ((a + b) + (c + d))·0.25 in float32, the order of kernels/cpu/pool2d.py.
//
// Work split: one thread per output element, grid-stride, x fastest (each reads two pairs of adjacent inputs).
// Storage T. Memory traffic: the input read once (less a dropped row / column), the output written once.
//
// Status: compiles with nvcc (sm_90) and NVRTC; runs correctly in a host build on the CPU (tests/test_cuda_backend.py);
// not yet run on a GPU (docs/cuda.md lists the owed runs).

#include "common.cuh"

template <class T>
__device__ __forceinline__ void pool2d(const T *x, T *out, long long planes, int h, int w, int is_max) {
    int ho = h / 2, wo = w / 2;
    PYSR_FOR_EACH_INDEX(o, planes * ho * wo) {
        int ox = (int)(o % wo);
        long long t = o / wo;
        int oy = (int)(t % ho);
        long long p = t / ho;
        const T *r0 = x + (p * h + 2 * oy) * w + 2 * ox;
        const T *r1 = r0 + w;
        float a = to_f32(r0[0]), b = to_f32(r0[1]), c = to_f32(r1[0]), d = to_f32(r1[1]);
        float v = is_max ? fmaxf(fmaxf(a, b), fmaxf(c, d)) : ((a + b) + (c + d)) * 0.25f;
        out[o] = from_f32<T>(v);
    }
}

#define PYSR_POOL2D(SUFFIX, T)                                                                                  \
    extern "C" __global__ void pool2d_##SUFFIX(const T *x, T *out, long long planes, int h, int w, int is_max) { \
        pool2d<T>(x, out, planes, h, w, is_max);                                                                \
    }

PYSR_FOR_EACH_TYPE(PYSR_POOL2D)
