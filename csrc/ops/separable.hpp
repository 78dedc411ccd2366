// Shared by the separable resampling ops (resize_bilinear, resize_bicubic_torch, resize_bicubic_matlab,
// upsample_bicubic_tecogan) as pysr/ops/separable.py and kernels/cpu/separable.py are; not an op itself.
// Each op builds one tap table per axis from its spec; the 2-D op is
//   out[n, c, y, x] = Σ_a Σ_b wh[y, a]·ww[x, b]·in[n, c, ih[y, a], iw[x, b]].
#pragma once

#include <memory>

#include "op.hpp"

namespace pysr {

// One axis: output o (< m) reads input idx[o·p + k] (< n) with weight w[o·p + k], k < p.
// When the table is periodic (an integer factor r = m/n: output r·i + d reads virtual inputs i + base + t,
// t < period_taps, with weights depending on d only) it also has that form: phase_w[d·period_taps + t], and
// virt[v] the input index of virtual position base + v (the border, clamped or mirrored, as a copy).
struct Taps {
    int64_t n = 0, m = 0;
    int p = 0;
    std::vector<int32_t> idx;
    std::vector<float> w;
    int period = 0, period_taps = 0;  // 0: not periodic
    std::vector<float> phase_w;       // (period, period_taps)
    std::vector<int32_t> virt;        // n + period_taps − 1 entries
};

// From a float64 table of p taps per output (indices already clamped or mirrored into [0, n)), the weights
// rounded to float32 once. Leading and trailing tap columns whose weight is exactly 0 for every output are
// dropped (MATLAB's cubic keeps 2 such columns of its ceil(width) + 2): they add nothing but loads.
Taps make_taps(int64_t n, int64_t m, int p, const std::vector<int64_t> &idx, const std::vector<double> &w);

// The tables of both axes of one op: along H (Ho outputs), along W (Wo outputs).
struct AxisTaps {
    Taps h, w;
};

// Each op's tables for an NCHW input of shape `in` and output `out` (pysr/ops/<op>.py `tables`), built in
// csrc/ops/<op>.cpp: read by the op's CPU state and by the CUDA executor (csrc/cuda/ops.cpp, separable.cuh).
AxisTaps resize_bilinear_tables(const Attrs &a, const Shape &in, const Shape &out);
AxisTaps resize_bicubic_torch_tables(const Attrs &a, const Shape &in, const Shape &out);
AxisTaps resize_bicubic_matlab_tables(const Attrs &a, const Shape &in, const Shape &out);
AxisTaps upsample_bicubic_tecogan_tables(const Attrs &a, const Shape &in, const Shape &out);

// The state resampling an NCHW input of shape `in` along H by `t.h` and along W by `t.w`.
std::unique_ptr<OpState> separable_state(const Shape &in, AxisTaps t, int threads);

// Attribute `scale`: required, a finite number > 0 (separable.check_scale).
double parse_scale(const char *op, AttrReader &r);

// The torch-style resizes (resize_bilinear, resize_bicubic_torch): attributes `scale` and `align_corners`, and
// the output floor(n·scale) per spatial side, at least 1.
void parse_torch_resize(const char *op, const Json &j, Attrs &a);
Shape torch_resize_shape(const char *op, const Node &n, const std::vector<Shape> &in);

}  // namespace pysr
