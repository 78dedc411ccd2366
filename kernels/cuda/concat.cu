// concat: join inputs along the channel axis (pysr/ops/concat.py): out[n, off_k + c, h, w] = x_k[n, c, h, w].
// The host launches this kernel once per input with its channel offset (copy_channels in common.cuh), an exact
// copy. Work split: one thread per copied element, grid-stride over N·C_k·H·W. Storage T.
// Memory traffic: each input read once, the output written once.
//
// Status: compiles with nvcc (sm_90) and NVRTC; runs correctly in a host build on the CPU (tests/test_cuda_backend.py);
// not yet run on a GPU (docs/cuda.md lists the owed runs).

#include "common.cuh"

#define PYSR_CONCAT(SUFFIX, T)                                                                                  \
    extern "C" __global__ void concat_##SUFFIX(const T *x, T *out, int batch, int channels, long long plane,    \
                                               int out_channels, int offset) {                                  \
        copy_channels<T>(x, out, batch, channels, plane, channels, 0, out_channels, offset);                    \
    }

PYSR_FOR_EACH_TYPE(PYSR_CONCAT)
