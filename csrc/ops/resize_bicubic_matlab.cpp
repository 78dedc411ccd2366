// resize_bicubic_matlab (pysr/ops/resize_bicubic_matlab.py): MATLAB imresize(x, scale, 'bicubic') on float
// data, antialiased when shrinking; Ho = ceil(H·scale). Cubic of a = −0.5, widened to h(x) = s·cubic(s·x)
// over 4/s when s < 1. Per axis, output i = 1..m (1-based) is centred at u = i/s + 0.5·(1 − 1/s) and reads
// the P = ceil(width) + 2 inputs j = floor(u − width/2) + p with weights h(u − j)/Σ h, an index outside 1..n
// mirrored symmetrically (1…n, n…1, period 2n). Tables in float64 (MATLAB `contributions`), weights stored
// as float32, the always-zero end columns dropped (6 → 4 taps when enlarging); the work is separable.cpp.
#include <cmath>

#include "separable.hpp"

namespace pysr {

namespace {

int64_t out_size(int64_t n, double scale) {
    double v = std::ceil(double(n) * scale);
    return v > double(1ll << 40) ? (1ll << 40) : int64_t(v);
}

void parse(const Json &j, Attrs &a) {
    AttrReader r("resize_bicubic_matlab", j);
    a.scale = parse_scale("resize_bicubic_matlab", r);
    r.finish();
}

std::vector<Shape> shape(const Node &n, const Graph &, const std::vector<Shape> &in) {
    expect_count("resize_bicubic_matlab", in, 1);
    const Shape &s = expect_rank4("resize_bicubic_matlab", "input", in[0]);
    return {{s[0], s[1], out_size(s[2], n.attrs.scale), out_size(s[3], n.attrs.scale)}};
}

// MATLAB's `cubic` (imresize.m), a = −0.5.
double cubic(double x) {
    double ax = std::fabs(x), ax2 = ax * ax, ax3 = ax2 * ax;
    if (ax <= 1) return 1.5 * ax3 - 2.5 * ax2 + 1;
    if (ax <= 2) return -0.5 * ax3 + 2.5 * ax2 - 4 * ax + 2;
    return 0.0;
}

Taps taps(int64_t n, int64_t m, double scale) {
    bool shrink = scale < 1;
    double width = shrink ? 4.0 / scale : 4.0;
    int p = int(std::ceil(width)) + 2;
    std::vector<int64_t> idx;
    std::vector<double> w;
    for (int64_t i = 1; i <= m; ++i) {
        double u = double(i) / scale + 0.5 * (1 - 1 / scale);
        double left = std::floor(u - width / 2);
        double sum = 0.0;
        size_t row = w.size();
        for (int k = 0; k < p; ++k) {
            double j = left + k;  // 1-based
            double v = shrink ? scale * cubic(scale * (u - j)) : cubic(u - j);
            w.push_back(v);
            sum += v;
            int64_t t = (int64_t(j) - 1) % (2 * n);
            if (t < 0) t += 2 * n;
            idx.push_back(t < n ? t : 2 * n - 1 - t);
        }
        for (size_t k = row; k < w.size(); ++k) w[k] /= sum;
    }
    return make_taps(n, m, p, idx, w);
}

std::unique_ptr<OpState> prepare(const Node &node, const Graph &, const std::vector<Shape> &in,
                                 const std::vector<Shape> &out, int threads) {
    return separable_state(in[0], resize_bicubic_matlab_tables(node.attrs, in[0], out[0]), threads);
}

}  // namespace

AxisTaps resize_bicubic_matlab_tables(const Attrs &a, const Shape &in, const Shape &out) {
    return {taps(in[2], out[2], a.scale), taps(in[3], out[3], a.scale)};
}

const OpDef op_resize_bicubic_matlab = {"resize_bicubic_matlab", 1, {}, parse, shape, prepare};

}  // namespace pysr
