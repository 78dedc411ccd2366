// affine (pysr/ops/affine.py): out = x·scale + shift elementwise, scalar attributes. Evaluated in float64 and
// rounded once (as kernels/cpu/affine.py), so x·scale and shift never cancel badly. Shift is read back from
// the file attrs in prepare (op.hpp, file_attrs). Threads: chunks of 64 Ki floats; 1 read + 1 write each.
#include <algorithm>

#include "../threads.hpp"
#include "op.hpp"

namespace pysr {

namespace {

constexpr int64_t kChunk = 1 << 16;

void parse(const Json &j, Attrs &a) {
    AttrReader r("affine", j);
    a.scale = r.number("scale", 1.0);
    r.number("shift", 0.0);
    r.finish();
}

std::vector<Shape> shape(const Node &, const Graph &, const std::vector<Shape> &in) {
    expect_count("affine", in, 1);
    return {expect_rank4("affine", "input", in[0])};
}

struct State : OpState {
    double scale = 1.0, shift = 0.0;
    int64_t n = 0;
    void run(const float *const *in, float *const *out, ThreadPool &pool) override {
        pool.parallel_for((n + kChunk - 1) / kChunk, [&](int64_t c, int) {
            const float *x = in[0];
            float *y = out[0];
            for (int64_t i = c * kChunk, e = std::min(n, i + kChunk); i < e; ++i) y[i] = float(double(x[i]) * scale + shift);
        });
    }
};

std::unique_ptr<OpState> prepare(const Node &node, const Graph &, const std::vector<Shape> &in, const std::vector<Shape> &,
                                 int) {
    auto s = std::make_unique<State>();
    AttrReader r("affine", file_attrs(node));
    s->scale = node.attrs.scale;
    s->shift = r.number("shift", 0.0);
    s->n = numel(in[0]);
    return s;
}

}  // namespace

const OpDef op_affine = {"affine", 1, {}, parse, shape, prepare};

}  // namespace pysr
