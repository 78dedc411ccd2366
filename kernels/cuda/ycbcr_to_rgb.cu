// ycbcr_to_rgb: Y'CbCr planes on the [0, 1] scale back to R'G'B', the exact inverse of rgb_to_ycbcr with the same
// matrix and range (pysr/ops/ycbcr_to_rgb.py). As kernels/cpu/ycbcr_to_rgb.py: the host inverts the forward
// matrix in float64 (M⁻¹ and −M⁻¹·o) and the per-pixel 3×3 kernel evaluates out = M⁻¹·in + shift in float64,
// rounded once. No clipping.
//
// Work split: one thread per pixel, grid-stride; 3 reads and 3 writes per pixel. Storage T.
//
// Status: compiles with nvcc (sm_90) and NVRTC; runs correctly in a host build on the CPU (tests/test_cuda_backend.py);
// not yet run on a GPU (docs/cuda.md lists the owed runs).

#include "common.cuh"

#define PYSR_YCBCR_TO_RGB(SUFFIX, T)                                                                            \
    extern "C" __global__ void ycbcr_to_rgb_##SUFFIX(const T *x, T *out, int batch, long long plane,            \
                                                     double m00, double m01, double m02, double m10,            \
                                                     double m11, double m12, double m20, double m21,            \
                                                     double m22, double o0, double o1, double o2) {             \
        PYSR_FOR_EACH_INDEX(i, (long long)batch * plane) {                                                      \
            long long n = i / plane;                                                                            \
            long long p = i - n * plane;                                                                        \
            const T *src = x + n * 3 * plane + p;                                                               \
            double a = to_f32(src[0]), b = to_f32(src[plane]), c = to_f32(src[2 * plane]);                      \
            T *dst = out + n * 3 * plane + p;                                                                   \
            dst[0] = from_f32<T>((float)(m00 * a + m01 * b + m02 * c + o0));                                    \
            dst[plane] = from_f32<T>((float)(m10 * a + m11 * b + m12 * c + o1));                                \
            dst[2 * plane] = from_f32<T>((float)(m20 * a + m21 * b + m22 * c + o2));                            \
        }                                                                                                       \
    }

PYSR_FOR_EACH_TYPE(PYSR_YCBCR_TO_RGB)
