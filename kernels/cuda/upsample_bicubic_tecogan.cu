// upsample_bicubic_tecogan: the EGVSR/TecoGAN flow upsampler by an integer factor (a = −0.75,
// corner-aligned phases, clamped border; pysr/ops/upsample_bicubic_tecogan.py), 4 taps per axis.
// The taps come from the op's spec as tables; the kernel is the shared one of separable.cuh (see there for the
// work split, layout and memory traffic). Storage T in and out, float32 arithmetic.
//
// Status: compiles with nvcc (sm_90) and NVRTC; runs correctly in a host build on the CPU (tests/test_cuda_backend.py);
// not yet run on a GPU (docs/cuda.md lists the owed runs).

#include "separable.cuh"

#define PYSR_UPSAMPLE_BICUBIC_TECOGAN(SUFFIX, T) PYSR_SEPARABLE_ENTRY(upsample_bicubic_tecogan, SUFFIX, T)

PYSR_FOR_EACH_TYPE(PYSR_UPSAMPLE_BICUBIC_TECOGAN)
