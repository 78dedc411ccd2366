// resize_bicubic_torch (pysr/ops/resize_bicubic_torch.py): PyTorch's bicubic interpolate (a = −0.75, no
// antialias, taps clamped to the border) by one factor on both axes; Ho = floor(H·scale).
// Per axis: src = (o + 0.5)/scale − 0.5 (align_corners False, not clamped at 0) or o·(n−1)/(m−1);
// i = floor(src), t = src − i, taps i−1 … i+2 clamped into [0, n−1] with weights
// far(t+1), near(t), near(1−t), far(2−t). Tables are built in float64, weights stored as float32.
// Schedule: per (n, c) plane, columns first (each input row → a Wo-wide scratch row; H rows), then each
// output row is a 4-row blend of scratch rows (unit stride, vectorised). Scratch: H×Wo floats per thread.
// Threads: one job per (plane, band of 64 output rows); a band resamples only the input rows it reads.
#include <algorithm>
#include <cmath>

#include "../threads.hpp"
#include "op.hpp"

namespace pysr {

namespace {

constexpr double kA = -0.75;
constexpr int64_t kBand = 64;

int64_t out_size(int64_t n, double scale) {
    double v = std::floor(double(n) * scale);
    return v > double(1ll << 40) ? (1ll << 40) : int64_t(v);
}

void parse(const Json &j, Attrs &a) {
    AttrReader r("resize_bicubic_torch", j);
    const Json *s = r.take("scale");
    if (!s) attr_fail("resize_bicubic_torch", "attribute 'scale' is required");
    if (!s->is_number() || !std::isfinite(s->number))
        attr_fail("resize_bicubic_torch", "attribute scale=" + s->dump() + " must be a finite number");
    if (s->number <= 0) attr_fail("resize_bicubic_torch", "attribute scale=" + s->dump() + " must be > 0");
    a.scale = s->number;
    a.align_corners = r.boolean("align_corners", false);
    r.finish();
}

std::vector<Shape> shape(const Node &n, const Graph &, const std::vector<Shape> &in) {
    expect_count("resize_bicubic_torch", in, 1);
    const Shape &s = expect_rank4("resize_bicubic_torch", "input", in[0]);
    Shape out = {s[0], s[1], out_size(s[2], n.attrs.scale), out_size(s[3], n.attrs.scale)};
    if (out[2] < 1 || out[3] < 1)
        shape_fail("resize_bicubic_torch: scale " + std::to_string(n.attrs.scale) + " turns a " + std::to_string(s[2]) + "×" +
                   std::to_string(s[3]) + " input into an empty " + std::to_string(out[2]) + "×" + std::to_string(out[3]) +
                   " output");
    return {out};
}

struct Taps {
    std::vector<int32_t> idx;  // (m, 4)
    std::vector<float> w;      // (m, 4)
};

Taps taps(int64_t n, int64_t m, double scale, bool align) {
    auto near = [](double x) { return ((kA + 2.0) * x - (kA + 3.0)) * x * x + 1.0; };
    auto far = [](double x) { return ((kA * x - 5.0 * kA) * x + 8.0 * kA) * x - 4.0 * kA; };
    Taps t;
    t.idx.resize(size_t(m) * 4);
    t.w.resize(size_t(m) * 4);
    for (int64_t o = 0; o < m; ++o) {
        double src = align ? (m > 1 ? double(o) * double(n - 1) / double(m - 1) : 0.0) : (double(o) + 0.5) / scale - 0.5;
        double fl = std::floor(src), f = src - fl;
        int64_t i = int64_t(fl);
        double c[4] = {far(f + 1.0), near(f), near(1.0 - f), far(2.0 - f)};
        for (int k = 0; k < 4; ++k) {
            t.idx[size_t(o * 4 + k)] = int32_t(std::min(std::max(i - 1 + k, int64_t(0)), n - 1));
            t.w[size_t(o * 4 + k)] = float(c[k]);
        }
    }
    return t;
}

struct State : OpState {
    Taps th, tw;
    int64_t planes = 0, h = 0, w = 0, ho = 0, wo = 0;
    std::vector<std::vector<float>> scratch;  // per thread
    void run(const float *const *in, float *const *out, ThreadPool &pool) override {
        int64_t bands = (ho + kBand - 1) / kBand;
        pool.parallel_for(planes * bands, [&](int64_t job, int t) {
            int64_t p = job / bands, y0 = (job % bands) * kBand, y1 = std::min(ho, y0 + kBand);
            const float *x = in[0] + p * h * w;
            float *y = out[0] + p * ho * wo;
            int64_t lo = h, hi = -1;  // input rows this band reads
            for (int64_t oy = y0; oy < y1; ++oy)
                for (int k = 0; k < 4; ++k) {
                    lo = std::min<int64_t>(lo, th.idx[size_t(oy * 4 + k)]);
                    hi = std::max<int64_t>(hi, th.idx[size_t(oy * 4 + k)]);
                }
            std::vector<float> &buf = scratch[size_t(t)];
            if (buf.size() < size_t((hi - lo + 1) * wo)) buf.resize(size_t((hi - lo + 1) * wo));
            const int32_t *iw = tw.idx.data();
            const float *ww = tw.w.data();
            for (int64_t r = lo; r <= hi; ++r) {
                const float *src = x + r * w;
                float *dst = buf.data() + (r - lo) * wo;
                for (int64_t o = 0; o < wo; ++o) {
                    const int32_t *i4 = iw + o * 4;
                    const float *w4 = ww + o * 4;
                    dst[o] = w4[0] * src[i4[0]] + w4[1] * src[i4[1]] + w4[2] * src[i4[2]] + w4[3] * src[i4[3]];
                }
            }
            for (int64_t oy = y0; oy < y1; ++oy) {
                const int32_t *i4 = th.idx.data() + oy * 4;
                const float *w4 = th.w.data() + oy * 4;
                const float *r0 = buf.data() + (i4[0] - lo) * wo, *r1 = buf.data() + (i4[1] - lo) * wo;
                const float *r2 = buf.data() + (i4[2] - lo) * wo, *r3 = buf.data() + (i4[3] - lo) * wo;
                float w0 = w4[0], w1 = w4[1], w2 = w4[2], w3 = w4[3];
                float *dst = y + oy * wo;
                for (int64_t o = 0; o < wo; ++o) dst[o] = w0 * r0[o] + w1 * r1[o] + w2 * r2[o] + w3 * r3[o];
            }
        });
    }
};

std::unique_ptr<OpState> prepare(const Node &node, const Graph &, const std::vector<Shape> &in,
                                 const std::vector<Shape> &out, int threads) {
    auto s = std::make_unique<State>();
    s->planes = in[0][0] * in[0][1];
    s->h = in[0][2];
    s->w = in[0][3];
    s->ho = out[0][2];
    s->wo = out[0][3];
    s->th = taps(s->h, s->ho, node.attrs.scale, node.attrs.align_corners);
    s->tw = taps(s->w, s->wo, node.attrs.scale, node.attrs.align_corners);
    s->scratch.resize(size_t(threads));
    return s;
}

}  // namespace

const OpDef op_resize_bicubic_torch = {"resize_bicubic_torch", 1, {}, parse, shape, prepare};

}  // namespace pysr
