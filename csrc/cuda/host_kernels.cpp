// PYSR_CUDA_HOST: every kernel of kernels/cuda that libpysr launches, built for the CPU by the host compiler through
// the shim of tests/cuda_host (one source for the GPU and this emulation: the .cu files as they are). conv2d_mma.cu
// needs coroutine threads and lives in host_mma.cpp. kernels.hpp comes last: a declaration that differs from its
// kernel is a compile error here.
#include "../../tests/cuda_host/shim.hpp"

#include "activation.cu"
#include "add.cu"
#include "affine.cu"
#include "batch_norm.cu"
#include "cast.cu"
#include "channel_shuffle.cu"
#include "concat.cu"
#include "conv2d.cu"
#include "conv2d_depthwise.cu"
#include "mul.cu"
#include "pad.cu"
#include "pixel_shuffle.cu"
#include "pool2d.cu"
#include "resize_bicubic_matlab.cu"
#include "resize_bicubic_torch.cu"
#include "resize_bilinear.cu"
#include "rgb_to_ycbcr.cu"
#include "space_to_depth.cu"
#include "split.cu"
#include "upsample_bicubic_tecogan.cu"
#include "warp.cu"
#include "ycbcr_to_rgb.cu"

#include "kernels.hpp"
