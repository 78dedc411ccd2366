// space_to_depth: space to depth by r, the exact inverse of pixel_shuffle (pysr/ops/space_to_depth.py):
//   order pytorch: out[n, c·r² + i·r + j, h, w] = in[n, c, h·r+i, w·r+j]
//   order tf:      out[n, (i·r + j)·C + c, h, w] = in[n, c, h·r+i, w·r+j]        (C = input channels)
// with the order passed as the flag tf (0: pytorch, 1: tf).
//
// Work split: one thread per output element (a gather from the r·r phases), grid-stride, x fastest. Storage T.
// Memory traffic: one read, one write per element.
//
// Status: compiles with nvcc (sm_90) and NVRTC; runs correctly in a host build on the CPU (tests/test_cuda_backend.py);
// not yet run on a GPU (docs/cuda.md lists the owed runs).

#include "common.cuh"

template <class T>
__device__ __forceinline__ void space_to_depth(const T *x, T *out, int batch, int c_in, int h, int w, int r,
                                               int tf) {
    int ho = h / r, wo = w / r, co_total = c_in * r * r;
    long long total = (long long)batch * co_total * ho * wo;
    PYSR_FOR_EACH_INDEX(o, total) {
        int ox = (int)(o % wo);
        long long t = o / wo;
        int oy = (int)(t % ho);
        t /= ho;
        int co = (int)(t % co_total);
        int n = (int)(t / co_total);
        int q = tf ? co / c_in : co % (r * r);   // phase q = i·r + j and input channel c of output channel co
        int c = tf ? co % c_in : co / (r * r);
        out[o] = x[(((long long)n * c_in + c) * h + oy * r + q / r) * w + ox * r + q % r];
    }
}

#define PYSR_SPACE_TO_DEPTH(SUFFIX, T)                                                                          \
    extern "C" __global__ void space_to_depth_##SUFFIX(const T *x, T *out, int batch, int c_in, int h, int w,   \
                                                       int r, int tf) {                                         \
        space_to_depth<T>(x, out, batch, c_in, h, w, r, tf);                                                \
    }

PYSR_FOR_EACH_TYPE(PYSR_SPACE_TO_DEPTH)
