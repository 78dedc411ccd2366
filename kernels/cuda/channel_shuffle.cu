// channel_shuffle: interleave g channel groups (pysr/ops/channel_shuffle.py, ShuffleNet / SOF-VSR):
//   out[n, k·g + gi, h, w] = in[n, gi·(C/g) + k, h, w]
// an exact copy. Work split: one thread per output element (a gather of whole planes), grid-stride. Storage T.
// Memory traffic: one read, one write per element.
//
// Status: compiles with nvcc (sm_90) and NVRTC; runs correctly in a host build on the CPU (tests/test_cuda_backend.py);
// not yet run on a GPU (docs/cuda.md lists the owed runs).

#include "common.cuh"

#define PYSR_CHANNEL_SHUFFLE(SUFFIX, T)                                                                         \
    extern "C" __global__ void channel_shuffle_##SUFFIX(const T *x, T *out, int batch, int channels,            \
                                                        long long plane, int groups) {                          \
        int per = channels / groups;                                                                            \
        PYSR_FOR_EACH_INDEX(o, (long long)batch * channels * plane) {                                           \
            long long p = o % plane;                                                                            \
            long long t = o / plane;                                                                            \
            int c = (int)(t % channels);                                                                        \
            long long n = t / channels;                                                                         \
            int src = (c % groups) * per + c / groups;                                                          \
            out[o] = x[(n * channels + src) * plane + p];                                                       \
        }                                                                                                       \
    }

PYSR_FOR_EACH_TYPE(PYSR_CHANNEL_SHUFFLE)
