// pool2d (pysr/ops/pool2d.py): 2×2 max or average pooling, stride 2, floor mode (an odd last row or column
// is dropped). Average sums the 4 values in float32, (a + b) + (c + d), and scales by 1/4 (exact), as
// kernels/cpu/pool2d.py. The mode is read back from the file attrs in prepare (op.hpp, file_attrs).
// Threads: one job per (n, c, band of output rows); each output row reads its two input rows once.
#include <algorithm>

#include "../threads.hpp"
#include "op.hpp"

namespace pysr {

namespace {

constexpr int64_t kBand = 16;

bool read_max(AttrReader &r) { return r.choice("mode", nullptr, {"max", "avg"}) == "max"; }

void parse(const Json &j, Attrs &) {
    AttrReader r("pool2d", j);
    read_max(r);
    for (const char *key : {"kernel", "stride"}) {
        int v = r.integer(key, 2, 1);
        if (v != 2) attr_fail("pool2d", std::string("only ") + key + "=2 is supported, got " + key + "=" + std::to_string(v));
    }
    r.finish();
}

std::vector<Shape> shape(const Node &, const Graph &, const std::vector<Shape> &in) {
    expect_count("pool2d", in, 1);
    const Shape &s = expect_rank4("pool2d", "input", in[0]);
    if (s[2] < 2 || s[3] < 2)
        shape_fail("pool2d: a 2×2 window needs an input of at least 2×2, got " + std::to_string(s[2]) + "×" +
                   std::to_string(s[3]));
    return {{s[0], s[1], s[2] / 2, s[3] / 2}};
}

struct State : OpState {
    bool is_max = true;
    int64_t planes = 0, h = 0, w = 0, ho = 0, wo = 0;
    void run(const float *const *in, float *const *out, ThreadPool &pool) override {
        int64_t bands = (ho + kBand - 1) / kBand;
        pool.parallel_for(planes * bands, [&](int64_t job, int) {
            int64_t p = job / bands, y0 = (job % bands) * kBand, y1 = std::min(ho, y0 + kBand);
            for (int64_t y = y0; y < y1; ++y) {
                const float *r0 = in[0] + (p * h + 2 * y) * w, *r1 = r0 + w;
                float *dst = out[0] + (p * ho + y) * wo;
                if (is_max) {
                    for (int64_t j = 0; j < wo; ++j)
                        dst[j] = std::max(std::max(r0[2 * j], r0[2 * j + 1]), std::max(r1[2 * j], r1[2 * j + 1]));
                } else {
                    for (int64_t j = 0; j < wo; ++j)
                        dst[j] = ((r0[2 * j] + r0[2 * j + 1]) + (r1[2 * j] + r1[2 * j + 1])) * 0.25f;
                }
            }
        });
    }
};

std::unique_ptr<OpState> prepare(const Node &node, const Graph &, const std::vector<Shape> &in,
                                 const std::vector<Shape> &out, int) {
    auto s = std::make_unique<State>();
    AttrReader r("pool2d", file_attrs(node));
    s->is_max = read_max(r);
    s->planes = in[0][0] * in[0][1];
    s->h = in[0][2];
    s->w = in[0][3];
    s->ho = out[0][2];
    s->wo = out[0][3];
    return s;
}

}  // namespace

const OpDef op_pool2d = {"pool2d", 1, {}, parse, shape, prepare};

}  // namespace pysr
