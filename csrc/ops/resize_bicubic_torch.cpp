// resize_bicubic_torch (pysr/ops/resize_bicubic_torch.py): PyTorch's bicubic interpolate (a = −0.75, no
// antialias, taps clamped to the border) by one factor on both axes; Ho = floor(H·scale).
// Per axis: src = (o + 0.5)/scale − 0.5 (align_corners False, not clamped at 0) or o·(n−1)/(m−1);
// i = floor(src), t = src − i, taps i−1 … i+2 clamped into [0, n−1] with weights
// far(t+1), near(t), near(1−t), far(2−t). Tables are built in float64, weights stored as float32; the work
// is separable.cpp (columns first when enlarging, the periodic pass for integer factors).
#include <algorithm>
#include <cmath>

#include "separable.hpp"

namespace pysr {

namespace {

constexpr double kA = -0.75;

void parse(const Json &j, Attrs &a) { parse_torch_resize("resize_bicubic_torch", j, a); }

std::vector<Shape> shape(const Node &n, const Graph &, const std::vector<Shape> &in) {
    return {torch_resize_shape("resize_bicubic_torch", n, in)};
}

Taps taps(int64_t n, int64_t m, double scale, bool align) {
    auto near = [](double x) { return ((kA + 2.0) * x - (kA + 3.0)) * x * x + 1.0; };
    auto far = [](double x) { return ((kA * x - 5.0 * kA) * x + 8.0 * kA) * x - 4.0 * kA; };
    std::vector<int64_t> idx;
    std::vector<double> w;
    for (int64_t o = 0; o < m; ++o) {
        double src = align ? (m > 1 ? double(o) * double(n - 1) / double(m - 1) : 0.0) : (double(o) + 0.5) / scale - 0.5;
        double fl = std::floor(src), f = src - fl;
        int64_t i = int64_t(fl);
        w.insert(w.end(), {far(f + 1.0), near(f), near(1.0 - f), far(2.0 - f)});
        for (int k = 0; k < 4; ++k) idx.push_back(std::min(std::max(i - 1 + k, int64_t(0)), n - 1));
    }
    return make_taps(n, m, 4, idx, w);
}

std::unique_ptr<OpState> prepare(const Node &node, const Graph &, const std::vector<Shape> &in,
                                 const std::vector<Shape> &out, int threads) {
    return separable_state(in[0], resize_bicubic_torch_tables(node.attrs, in[0], out[0]), threads);
}

}  // namespace

AxisTaps resize_bicubic_torch_tables(const Attrs &a, const Shape &in, const Shape &out) {
    return {taps(in[2], out[2], a.scale, a.align_corners), taps(in[3], out[3], a.scale, a.align_corners)};
}

const OpDef op_resize_bicubic_torch = {"resize_bicubic_torch", 1, {}, parse, shape, prepare};

}  // namespace pysr
