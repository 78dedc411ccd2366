// rgb_to_ycbcr: R'G'B' planes in [0, 1] to Y'CbCr on the same scale, BT.601 / BT.709, limited / full range
// (pysr/ops/rgb_to_ycbcr.py): out[k] = Σ_j M[k, j]·in[j] + o[k] per pixel, k < K (K = 1 for y_only, else 3).
// M and o are built on the host in float64 exactly as kernels/cpu/rgb_to_ycbcr.py `colour_matrix` builds them, and
// the sum is evaluated in float64 and rounded once, as the CPU kernel does (9 DFMAs per pixel: memory-bound even at
// 1/64 double rate).
//
// Work split: one thread per pixel (n, p), grid-stride; reads the 3 input planes, writes K planes.
// Storage T. Memory traffic: 3 reads and K writes per pixel, all coalesced.
//
// Status: compiles with nvcc (sm_90) and NVRTC; runs correctly in a host build on the CPU (tests/test_cuda_backend.py);
// not yet run on a GPU (docs/cuda.md lists the owed runs).

#include "common.cuh"

#define PYSR_RGB_TO_YCBCR(SUFFIX, T)                                                                            \
    extern "C" __global__ void rgb_to_ycbcr_##SUFFIX(const T *x, T *out, int batch, long long plane,            \
                                                     int out_channels, double m00, double m01, double m02,      \
                                                     double m10, double m11, double m12, double m20,            \
                                                     double m21, double m22, double o0, double o1, double o2) { \
        PYSR_FOR_EACH_INDEX(i, (long long)batch * plane) {                                                      \
            long long n = i / plane;                                                                            \
            long long p = i - n * plane;                                                                        \
            const T *src = x + n * 3 * plane + p;                                                               \
            double a = to_f32(src[0]), b = to_f32(src[plane]), c = to_f32(src[2 * plane]);                      \
            T *dst = out + n * out_channels * plane + p;                                                        \
            dst[0] = from_f32<T>((float)(m00 * a + m01 * b + m02 * c + o0));                                    \
            if (out_channels == 3) {                                                                            \
                dst[plane] = from_f32<T>((float)(m10 * a + m11 * b + m12 * c + o1));                            \
                dst[2 * plane] = from_f32<T>((float)(m20 * a + m21 * b + m22 * c + o2));                        \
            }                                                                                                   \
        }                                                                                                       \
    }

PYSR_FOR_EACH_TYPE(PYSR_RGB_TO_YCBCR)
