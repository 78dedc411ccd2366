// batch_norm: inference batch normalisation, out = (x − mean[c]) / sqrt(var[c] + eps)·weight[c] + bias[c]
// (pysr/ops/batch_norm.py). The graph pass fold_batchnorm_into_conv folds it away before any plan runs, so the
// backend reaches this kernel only for a graph compiled without the passes. The host folds the four parameters
// into one per-channel scale and shift in float64 (scale = weight / sqrt(var + eps), shift = bias − mean·scale)
// and this kernel evaluates x·scale[c] + shift[c] in float32 (within the op's tolerance).
//
// Work split: a grid-stride loop over the N·C·H·W elements; the channel is (i / plane) % C. Storage T.
// Memory traffic: one read and one write per element.
//
// Status: compiles with nvcc (sm_90) and NVRTC; runs correctly in a host build on the CPU (tests/test_cuda_backend.py);
// not yet run on a GPU (docs/cuda.md lists the owed runs).

#include "common.cuh"

#define PYSR_BATCH_NORM(SUFFIX, T)                                                                              \
    extern "C" __global__ void batch_norm_##SUFFIX(const T *x, T *out, long long total, long long plane,        \
                                                   int channels, const float *scale, const float *shift) {      \
        PYSR_FOR_EACH_INDEX(i, total) {                                                                         \
            int c = (int)((i / plane) % channels);                                                              \
            out[i] = from_f32<T>(fmaf(to_f32(x[i]), scale[c], shift[c]));                                       \
        }                                                                                                       \
    }

PYSR_FOR_EACH_TYPE(PYSR_BATCH_NORM)
