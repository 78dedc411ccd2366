// resize_bicubic_matlab: MATLAB imresize bicubic on float data (a = −0.5, the kernel widened by 1/scale
// when shrinking, symmetric border; pysr/ops/resize_bicubic_matlab.py), ceil(4/scale) + 2 taps per axis
// when shrinking, 6 otherwise.
// The taps come from the op's spec as tables; the kernel is the shared one of separable.cuh (see there for the
// work split, layout and memory traffic). Storage T in and out, float32 arithmetic.
//
// Status: compiles with nvcc (sm_90) and NVRTC; runs correctly in a host build on the CPU (tests/test_cuda_backend.py);
// not yet run on a GPU (docs/cuda.md lists the owed runs).

#include "separable.cuh"

#define PYSR_RESIZE_BICUBIC_MATLAB(SUFFIX, T) PYSR_SEPARABLE_ENTRY(resize_bicubic_matlab, SUFFIX, T)

PYSR_FOR_EACH_TYPE(PYSR_RESIZE_BICUBIC_MATLAB)
