// Interface between ops/conv2d.cpp and the Winograd F(4×4, 3×3) path of ops/conv2d_winograd.cpp.
#pragma once

#include <memory>
#include <vector>

#include "conv2d_gemm.hpp"
#include "op.hpp"

namespace pysr {

// The numba backend's rule (kernels/cpu/conv2d.py `path_for`): 3×3, stride 1, groups 1, Cin ≥ 8, Cout ≥ 4.
// Below those channel counts the per-channel transforms cost more than the 4× fewer multiplies save,
// and F(4×4)'s float32 error is a larger share of a tolerance that shrinks with √(Cin·9).
bool winograd_fits(const ConvGeom &g);

// The state of one Winograd conv: weights transformed (G g Gᵀ in float64) and packed for `conv_isa()`,
// per-thread scratch for `threads` threads. `weight` is (cout, cin, 3, 3); `bias` (cout,) and `slope`
// (cout,) or empty, as ConvPacked holds them.
std::unique_ptr<OpState> winograd_prepare(const ConvGeom &g, const float *weight, std::vector<float> bias,
                                          std::vector<float> slope, int threads);

}  // namespace pysr
