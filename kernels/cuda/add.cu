// add: out = a + scale·b elementwise for two inputs of one shape (pysr/ops/add.py: a residual connection, EDSR's
// res_scale), in float32 (one FMA: a + scale·b rounded once).
//
// Work split: a grid-stride loop over the elements. Layout: any, both inputs and the output of one shape, storage T.
// Memory traffic: two reads and one write per element.
//
// Status: compiles with nvcc (sm_90) and NVRTC; runs correctly in a host build on the CPU (tests/test_cuda_backend.py);
// not yet run on a GPU (docs/cuda.md lists the owed runs).

#include "common.cuh"

#define PYSR_ADD(SUFFIX, T)                                                                                     \
    extern "C" __global__ void add_##SUFFIX(const T *a, const T *b, T *out, long long total, float scale) {     \
        PYSR_FOR_EACH_INDEX(i, total) out[i] = from_f32<T>(fmaf(scale, to_f32(b[i]), to_f32(a[i])));           \
    }

PYSR_FOR_EACH_TYPE(PYSR_ADD)
