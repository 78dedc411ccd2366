// resize_bilinear (pysr/ops/resize_bilinear.py): PyTorch's bilinear interpolate (no antialias) by one factor
// on both axes; Ho = floor(H·scale). Per axis, output o reads
//   src = max((o + 0.5)/scale − 0.5, 0)  (align_corners False)  or  o·(n − 1)/(m − 1)  (True; 0 when m == 1)
//   i0 = min(floor(src), n − 1), i1 = min(i0 + 1, n − 1), λ = src − i0: (1 − λ)·in[i0] + λ·in[i1].
// Tables in float64 (weights stored as float32); the work is separable.cpp (2 taps per axis).
#include <algorithm>
#include <cmath>

#include "separable.hpp"

namespace pysr {

namespace {

void parse(const Json &j, Attrs &a) { parse_torch_resize("resize_bilinear", j, a); }

std::vector<Shape> shape(const Node &n, const Graph &, const std::vector<Shape> &in) {
    return {torch_resize_shape("resize_bilinear", n, in)};
}

Taps taps(int64_t n, int64_t m, double scale, bool align) {
    std::vector<int64_t> idx;
    std::vector<double> w;
    for (int64_t o = 0; o < m; ++o) {
        double src = align ? (m > 1 ? double(o * (n - 1)) / double(m - 1) : 0.0)
                           : std::max((double(o) + 0.5) / scale - 0.5, 0.0);
        int64_t i0 = std::min(int64_t(std::floor(src)), n - 1);
        double lam = src - double(i0);
        idx.insert(idx.end(), {i0, std::min(i0 + 1, n - 1)});
        w.insert(w.end(), {1.0 - lam, lam});
    }
    return make_taps(n, m, 2, idx, w);
}

std::unique_ptr<OpState> prepare(const Node &node, const Graph &, const std::vector<Shape> &in,
                                 const std::vector<Shape> &out, int threads) {
    return separable_state(in[0], resize_bilinear_tables(node.attrs, in[0], out[0]), threads);
}

}  // namespace

AxisTaps resize_bilinear_tables(const Attrs &a, const Shape &in, const Shape &out) {
    return {taps(in[2], out[2], a.scale, a.align_corners), taps(in[3], out[3], a.scale, a.align_corners)};
}

const OpDef op_resize_bilinear = {"resize_bilinear", 1, {}, parse, shape, prepare};

}  // namespace pysr
