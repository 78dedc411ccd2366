// affine: out = x·scale + shift elementwise with scalar attributes (pysr/ops/affine.py: input normalisation around a
// network), in float32 (one FMA).
//
// Work split: a grid-stride loop over the elements. Storage T. Memory traffic: one read and one write per element.
//
// Status: compiles with nvcc (sm_90) and NVRTC; runs correctly in a host build on the CPU (tests/test_cuda_backend.py);
// not yet run on a GPU (docs/cuda.md lists the owed runs).

#include "common.cuh"

#define PYSR_AFFINE(SUFFIX, T)                                                                                  \
    extern "C" __global__ void affine_##SUFFIX(const T *x, T *out, long long total, float scale, float shift) { \
        PYSR_FOR_EACH_INDEX(i, total) out[i] = from_f32<T>(fmaf(to_f32(x[i]), scale, shift));                  \
    }

PYSR_FOR_EACH_TYPE(PYSR_AFFINE)
