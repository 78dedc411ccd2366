// split: cut the channel axis into pieces (pysr/ops/split.py): out_k[n, c, h, w] = x[n, off_k + c, h, w].
// The host launches this kernel once per output with its channel offset (copy_channels in common.cuh), an exact
// copy. Work split: one thread per copied element, grid-stride over N·C_k·H·W. Storage T.
// Memory traffic: the input read once, each output written once.
//
// Status: compiles with nvcc (sm_90) and NVRTC; runs correctly in a host build on the CPU (tests/test_cuda_backend.py);
// not yet run on a GPU (docs/cuda.md lists the owed runs).

#include "common.cuh"

#define PYSR_SPLIT(SUFFIX, T)                                                                                   \
    extern "C" __global__ void split_##SUFFIX(const T *x, T *out, int batch, int channels, long long plane,     \
                                              int in_channels, int offset) {                                    \
        copy_channels<T>(x, out, batch, channels, plane, in_channels, offset, channels, 0);                     \
    }

PYSR_FOR_EACH_TYPE(PYSR_SPLIT)
