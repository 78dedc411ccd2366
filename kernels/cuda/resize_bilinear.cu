// resize_bilinear: bilinear resize, PyTorch F.interpolate(mode="bilinear") semantics with align_corners
// True or False, no antialias (pysr/ops/resize_bilinear.py), 2 taps per axis.
// The taps come from the op's spec as tables; the kernel is the shared one of separable.cuh (see there for the
// work split, layout and memory traffic). Storage T in and out, float32 arithmetic.
//
// Status: compiles with nvcc (sm_90) and NVRTC; runs correctly in a host build on the CPU (tests/test_cuda_backend.py);
// not yet run on a GPU (docs/cuda.md lists the owed runs).

#include "separable.cuh"

#define PYSR_RESIZE_BILINEAR(SUFFIX, T) PYSR_SEPARABLE_ENTRY(resize_bilinear, SUFFIX, T)

PYSR_FOR_EACH_TYPE(PYSR_RESIZE_BILINEAR)
