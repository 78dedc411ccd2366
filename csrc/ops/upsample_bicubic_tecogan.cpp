// upsample_bicubic_tecogan (pysr/ops/upsample_bicubic_tecogan.py): EGVSR/TecoGAN's flow upsampler by an
// integer s, output (H·s, W·s). Cubic convolution of a = −0.75, corner-aligned: along an axis output s·i + d
// is k0·in[i−1] + k1·in[i] + k2·in[i+1] + k3·in[i+2] (indices clamped to [0, n−1]) with the phase weights
// of t = d/s. No ×s inside (the graph multiplies the flow by s after). The integer scale is kept in
// Attrs::scale. Tables in float64 (weights stored as float32); the work is separable.cpp (4 taps per axis).
#include <algorithm>

#include "separable.hpp"

namespace pysr {

namespace {

constexpr double kA = -0.75;

void parse(const Json &j, Attrs &a) {
    AttrReader r("upsample_bicubic_tecogan", j);
    a.scale = r.integer("scale", 4, 1);
    r.finish();
}

std::vector<Shape> shape(const Node &n, const Graph &, const std::vector<Shape> &in) {
    expect_count("upsample_bicubic_tecogan", in, 1);
    const Shape &s = expect_rank4("upsample_bicubic_tecogan", "input", in[0]);
    int64_t k = int64_t(n.attrs.scale);
    return {{s[0], s[1], s[2] * k, s[3] * k}};
}

Taps taps(int64_t n, int64_t s) {
    std::vector<int64_t> idx;
    std::vector<double> w;
    for (int64_t i = 0; i < n; ++i)
        for (int64_t d = 0; d < s; ++d) {
            double t = double(d) / double(s), t2 = t * t, t3 = t2 * t;
            w.insert(w.end(), {kA * t - 2 * kA * t2 + kA * t3, 1 - (kA + 3) * t2 + (kA + 2) * t3,
                               -kA * t + (2 * kA + 3) * t2 - (kA + 2) * t3, kA * t2 - kA * t3});
            for (int64_t k = -1; k <= 2; ++k) idx.push_back(std::min(std::max(i + k, int64_t(0)), n - 1));
        }
    return make_taps(n, n * s, 4, idx, w);
}

std::unique_ptr<OpState> prepare(const Node &node, const Graph &, const std::vector<Shape> &in,
                                 const std::vector<Shape> &out, int threads) {
    return separable_state(in[0], upsample_bicubic_tecogan_tables(node.attrs, in[0], out[0]), threads);
}

}  // namespace

AxisTaps upsample_bicubic_tecogan_tables(const Attrs &a, const Shape &in, const Shape &) {
    int64_t s = int64_t(a.scale);
    return {taps(in[2], s), taps(in[3], s)};
}

const OpDef op_upsample_bicubic_tecogan = {"upsample_bicubic_tecogan", 1, {}, parse, shape, prepare};

}  // namespace pysr
