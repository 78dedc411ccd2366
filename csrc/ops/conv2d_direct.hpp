// Interface between ops/conv2d.cpp and the direct path of ops/conv2d_direct.cpp.
#pragma once

#include <memory>
#include <vector>

#include "conv2d_gemm.hpp"
#include "op.hpp"

namespace pysr {

// The numba backend's rule (kernels/cpu/conv2d.py `path_for`, after Winograd and depthwise): stride 1,
// groups 1, Cout ≤ 4.
constexpr int64_t kDirectMaxCout = 4;
bool direct_fits(const ConvGeom &g);

// The state of one direct conv: weights packed [tap][mr] for `conv_isa()`, per-thread scratch (tap table,
// padded edge strips, accumulators) for `threads` threads. `weight` is (cout, cin, kh, kw).
std::unique_ptr<OpState> direct_prepare(const ConvGeom &g, const float *weight, std::vector<float> bias,
                                        std::vector<float> slope, int threads);

}  // namespace pysr
