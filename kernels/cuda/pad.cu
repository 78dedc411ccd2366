// pad: pad H and W by (top, bottom, left, right) (pysr/ops/pad.py):
//   out[n, c, y, x] = in[n, c, src(y − top, H), src(x − left, W)]
// zeros: `value` outside the input; reflect: mirror without the edge (np.pad "reflect"); replicate: clamp
// (pad_index in common.cuh). An exact copy (value rounded once to T).
//
// Work split: one thread per output element, grid-stride, x fastest. Storage T.
// Memory traffic: one write per output element, one read per interior one (border reads hit the same lines).
//
// Status: compiles with nvcc (sm_90) and NVRTC; runs correctly in a host build on the CPU (tests/test_cuda_backend.py);
// not yet run on a GPU (docs/cuda.md lists the owed runs).

#include "common.cuh"

template <class T>
__device__ __forceinline__ void pad(const T *x, T *out, long long planes, int h, int w, int top, int left, int ho,
                                    int wo, int mode, float value) {
    T fill = from_f32<T>(value);
    PYSR_FOR_EACH_INDEX(o, planes * ho * wo) {
        int ox = (int)(o % wo);
        long long t = o / wo;
        int oy = (int)(t % ho);
        long long p = t / ho;
        int iy = pad_index(oy - top, h, mode);
        int ix = pad_index(ox - left, w, mode);
        out[o] = (iy >= 0 && ix >= 0) ? x[(p * h + iy) * w + ix] : fill;
    }
}

#define PYSR_PAD(SUFFIX, T)                                                                                     \
    extern "C" __global__ void pad_##SUFFIX(const T *x, T *out, long long planes, int h, int w, int top,        \
                                            int left, int ho, int wo, int mode, float value) {                  \
        pad<T>(x, out, planes, h, w, top, left, ho, wo, mode, value);                                           \
    }

PYSR_FOR_EACH_TYPE(PYSR_PAD)
