// mul: out = a·b elementwise for two inputs of one shape (pysr/ops/mul.py: attention maps, gating), in float32.
//
// Work split: a grid-stride loop over the elements. Storage T. Memory traffic: two reads and one write per element.
//
// Status: compiles with nvcc (sm_90) and NVRTC; runs correctly in a host build on the CPU (tests/test_cuda_backend.py);
// not yet run on a GPU (docs/cuda.md lists the owed runs).

#include "common.cuh"

#define PYSR_MUL(SUFFIX, T)                                                                                     \
    extern "C" __global__ void mul_##SUFFIX(const T *a, const T *b, T *out, long long total) {                  \
        PYSR_FOR_EACH_INDEX(i, total) out[i] = from_f32<T>(to_f32(a[i]) * to_f32(b[i]));                       \
    }

PYSR_FOR_EACH_TYPE(PYSR_MUL)
