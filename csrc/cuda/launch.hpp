// The kernels of one storage type (T: float, half_t, bf16_t) by op, and the launch helpers of ops.cpp and conv.cpp:
// the table that pysr/backends/cuda.py builds from kernel names (`<op>_<suffix>`), here as function pointers.
#pragma once

#include <cstdint>
#include <string>

#include "../error.hpp"
#include "device.hpp"
#include "kernels.hpp"

struct half_t {
    unsigned short bits;
};
struct bf16_t {
    unsigned short bits;
};

namespace pysr::cuda {

template <class T> struct K;
#define PYSR_ENTRY(OP, S) static constexpr auto OP = &OP##_##S;
#define PYSR_TABLE(S, T)  \
    template <> struct K<T> {  \
        PYSR_ENTRY(activation, S)  \
        PYSR_ENTRY(batch_norm, S)  \
        PYSR_ENTRY(add, S)  \
        PYSR_ENTRY(mul, S)  \
        PYSR_ENTRY(affine, S)  \
        PYSR_ENTRY(pixel_shuffle, S)  \
        PYSR_ENTRY(space_to_depth, S)  \
        PYSR_ENTRY(channel_shuffle, S)  \
        PYSR_ENTRY(concat, S)  \
        PYSR_ENTRY(split, S)  \
        PYSR_ENTRY(pad, S)  \
        PYSR_ENTRY(pool2d, S)  \
        PYSR_ENTRY(warp, S)  \
        PYSR_ENTRY(rgb_to_ycbcr, S)  \
        PYSR_ENTRY(ycbcr_to_rgb, S)  \
        PYSR_ENTRY(conv2d_direct, S)  \
        PYSR_ENTRY(conv2d_depthwise, S)  \
        PYSR_ENTRY(resize_bilinear, S)  \
        PYSR_ENTRY(resize_bicubic_torch, S)  \
        PYSR_ENTRY(resize_bicubic_matlab, S)  \
        PYSR_ENTRY(upsample_bicubic_tecogan, S)  \
    };
PYSR_TABLE(f32, float)
PYSR_TABLE(f16, half_t)
PYSR_TABLE(bf16, bf16_t)
#undef PYSR_TABLE
#undef PYSR_ENTRY

constexpr unsigned kBlock = 256;             // threads per block of the grid-stride kernels (cuda.py BLOCK)
constexpr int64_t kMaxBlocks = int64_t(1) << 20;  // grid-stride kernels loop beyond this many blocks

// A grid-stride kernel over `total` work items (cuda.py launch_flat).
template <class F, class... B>
void launch_flat(Stream &s, F kernel, int64_t total, B... args) {
    int64_t blocks = (total + kBlock - 1) / int64_t(kBlock);
    blocks = blocks < 1 ? 1 : blocks > kMaxBlocks ? kMaxBlocks : blocks;
    launch(s, kernel, Run::Flat, Dim{unsigned(blocks), 1, 1}, Dim{kBlock, 1, 1}, 0, args...);
}

// A size passed as a kernel's `int`: UNSUPPORTED when it does not fit (cuda.py refuses it at launch).
inline int i32(int64_t v, const char *what) {
    if (v < INT32_MIN || v > INT32_MAX)
        fail(PYSR_STATUS_UNSUPPORTED, std::string("the CUDA kernels take ") + what + " as a 32-bit int; " +
                                          std::to_string(v) + " does not fit");
    return int(v);
}

}  // namespace pysr::cuda
