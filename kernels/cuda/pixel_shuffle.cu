// pixel_shuffle: depth to space by r (pysr/ops/pixel_shuffle.py), an exact copy:
//   order pytorch (CRD): out[n, c, h·r+i, w·r+j] = in[n, c·r² + i·r + j, h, w]
//   order tf (DCR):      out[n, c, h·r+i, w·r+j] = in[n, (i·r + j)·C + c, h, w]     (C = output channels)
// The host passes the order as the flag tf (0: pytorch, 1: tf).
//
// Work split: one thread per output element (a gather), grid-stride, output x fastest so the writes are coalesced
// and the reads come from r input planes in turn. Storage T. Memory traffic: one read, one write per element.
//
// Status: compiles with nvcc (sm_90) and NVRTC; runs correctly in a host build on the CPU (tests/test_cuda_backend.py);
// not yet run on a GPU (docs/cuda.md lists the owed runs).

#include "common.cuh"

template <class T>
__device__ __forceinline__ void pixel_shuffle(const T *x, T *out, int batch, int c_out, int h, int w, int r,
                                              int tf) {
    int ho = h * r, wo = w * r;
    long long total = (long long)batch * c_out * ho * wo;
    PYSR_FOR_EACH_INDEX(o, total) {
        int ox = (int)(o % wo);
        long long t = o / wo;
        int oy = (int)(t % ho);
        t /= ho;
        int c = (int)(t % c_out);
        int n = (int)(t / c_out);
        int i = oy % r, j = ox % r;
        int ci = tf ? (i * r + j) * c_out + c : c * r * r + i * r + j;
        out[o] = x[(((long long)n * c_out * r * r + ci) * h + oy / r) * w + ox / r];
    }
}

#define PYSR_PIXEL_SHUFFLE(SUFFIX, T)                                                                           \
    extern "C" __global__ void pixel_shuffle_##SUFFIX(const T *x, T *out, int batch, int c_out, int h, int w,   \
                                                      int r, int tf) {                                          \
        pixel_shuffle<T>(x, out, batch, c_out, h, w, r, tf);                                                \
    }

PYSR_FOR_EACH_TYPE(PYSR_PIXEL_SHUFFLE)
