// add (pysr/ops/add.py): out = a + scale·b, same shapes, no broadcasting. Threads: chunks of 64 Ki floats.
#include <algorithm>

#include "../threads.hpp"
#include "op.hpp"

namespace pysr {

// Shared with mul.cpp: two inputs of one shape.
Shape same_shapes(const char *op, const std::vector<Shape> &in) {
    expect_count(op, in, 2);
    const Shape &a = expect_rank4(op, "input a", in[0]);
    const Shape &b = expect_rank4(op, "input b", in[1]);
    if (a != b)
        shape_fail(std::string(op) + ": inputs must have the same shape, got a " + shape_str(a) + " and b " + shape_str(b) +
                   " (no broadcasting)");
    return a;
}

namespace {

constexpr int64_t kChunk = 1 << 16;

void parse(const Json &j, Attrs &a) {
    AttrReader r("add", j);
    a.scale = r.number("scale", 1.0);
    r.finish();
}

std::vector<Shape> shape(const Node &, const Graph &, const std::vector<Shape> &in) { return {same_shapes("add", in)}; }

struct State : OpState {
    float scale = 1.0f;
    int64_t n = 0;
    void run(const float *const *in, float *const *out, ThreadPool &pool) override {
        pool.parallel_for((n + kChunk - 1) / kChunk, [&](int64_t c, int) {
            const float *a = in[0], *b = in[1];
            float *y = out[0];
            for (int64_t i = c * kChunk, e = std::min(n, i + kChunk); i < e; ++i) y[i] = a[i] + scale * b[i];
        });
    }
};

std::unique_ptr<OpState> prepare(const Node &node, const Graph &, const std::vector<Shape> &in, const std::vector<Shape> &,
                                 int) {
    auto s = std::make_unique<State>();
    s->scale = float(node.attrs.scale);
    s->n = numel(in[0]);
    return s;
}

}  // namespace

const OpDef op_add = {"add", 2, {}, parse, shape, prepare};

}  // namespace pysr
