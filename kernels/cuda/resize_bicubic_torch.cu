// resize_bicubic_torch: PyTorch's bicubic resize (a = −0.75, half-pixel source not clamped at 0, border
// indices clamped, no antialias; pysr/ops/resize_bicubic_torch.py), 4 taps per axis.
// The taps come from the op's spec as tables; the kernel is the shared one of separable.cuh (see there for the
// work split, layout and memory traffic). Storage T in and out, float32 arithmetic.
//
// Status: compiles with nvcc (sm_90) and NVRTC; runs correctly in a host build on the CPU (tests/test_cuda_backend.py);
// not yet run on a GPU (docs/cuda.md lists the owed runs).

#include "separable.cuh"

#define PYSR_RESIZE_BICUBIC_TORCH(SUFFIX, T) PYSR_SEPARABLE_ENTRY(resize_bicubic_torch, SUFFIX, T)

PYSR_FOR_EACH_TYPE(PYSR_RESIZE_BICUBIC_TORCH)
