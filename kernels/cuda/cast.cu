// Storage-type conversions for the cuda backend's copies in and out (not an op): float32 <-> half (IEEE round to
// nearest even, PTX cvt) and float32 <-> bfloat16 (round to nearest even by hand, NaN kept quiet), common.cuh.
// Host arrays cross PCIe as float32 (or as half, converted by numpy beforehand); these run on the device.
//
// Work split: a grid-stride loop, one element per step. Memory traffic: one read and one write per element.
//
// Status: compiles with nvcc (sm_90) and NVRTC; runs correctly in a host build on the CPU (tests/test_cuda_backend.py);
// not yet run on a GPU (docs/cuda.md lists the owed runs).

#include "common.cuh"

#define PYSR_CAST(SUFFIX, T)                                                                                    \
    extern "C" __global__ void cast_f32_to_##SUFFIX(const float *x, T *out, long long total) {                  \
        PYSR_FOR_EACH_INDEX(i, total) out[i] = from_f32<T>(x[i]);                                               \
    }                                                                                                           \
    extern "C" __global__ void cast_##SUFFIX##_to_f32(const T *x, float *out, long long total) {                \
        PYSR_FOR_EACH_INDEX(i, total) out[i] = to_f32(x[i]);                                                    \
    }

PYSR_CAST(f16, half_t)
PYSR_CAST(bf16, bf16_t)
