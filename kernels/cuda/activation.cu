// activation: y = f(x) elementwise, one kind per launch: relu, leaky_relu, prelu (per-channel slope), tanh, sigmoid,
// scaled_tanh, clamp — pysr/ops/activation.py, evaluated in float32 by `activate` (common.cuh; tanhf and expf are
// CUDA's accurate versions).
//
// Work split: a grid-stride loop over the N·C·H·W elements, one element per step; prelu finds its channel as
// (i / plane) % C. Layout NCHW, storage T in and out (in place allowed: each element is read then written by the
// same thread). Memory traffic: one read and one write per element (plus the slope, cached).
//
// Status: compiles with nvcc (sm_90) and NVRTC; runs correctly in a host build on the CPU (tests/test_cuda_backend.py);
// not yet run on a GPU (docs/cuda.md lists the owed runs).

#include "common.cuh"

template <class T>
__device__ __forceinline__ void activation(const T *x, T *y, long long total, long long plane, int channels, int kind,
                                           float alpha, const float *slope, float lo, float hi) {
    PYSR_FOR_EACH_INDEX(i, total) {
        float a = kind == PYSR_ACT_PRELU ? slope[(i / plane) % channels] : alpha;
        y[i] = from_f32<T>(activate(kind, to_f32(x[i]), a, lo, hi));
    }
}

// slope: (C,) float32 for prelu, any array otherwise.
#define PYSR_ACTIVATION(SUFFIX, T)                                                                              \
    extern "C" __global__ void activation_##SUFFIX(const T *x, T *y, long long total, long long plane,          \
                                                   int channels, int kind, float alpha, const float *slope,     \
                                                   float lo, float hi) {                                        \
        activation<T>(x, y, total, plane, channels, kind, alpha, slope, lo, hi);                                \
    }

PYSR_FOR_EACH_TYPE(PYSR_ACTIVATION)
