// mul (pysr/ops/mul.py): out = a·b elementwise, same shapes. Threads: chunks of 64 Ki floats.
#include <algorithm>

#include "../threads.hpp"
#include "op.hpp"

namespace pysr {

Shape same_shapes(const char *op, const std::vector<Shape> &in);  // add.cpp

namespace {

constexpr int64_t kChunk = 1 << 16;

void parse(const Json &j, Attrs &) {
    AttrReader r("mul", j);
    r.finish();
}

std::vector<Shape> shape(const Node &, const Graph &, const std::vector<Shape> &in) { return {same_shapes("mul", in)}; }

struct State : OpState {
    int64_t n = 0;
    void run(const float *const *in, float *const *out, ThreadPool &pool) override {
        pool.parallel_for((n + kChunk - 1) / kChunk, [&](int64_t c, int) {
            const float *a = in[0], *b = in[1];
            float *y = out[0];
            for (int64_t i = c * kChunk, e = std::min(n, i + kChunk); i < e; ++i) y[i] = a[i] * b[i];
        });
    }
};

std::unique_ptr<OpState> prepare(const Node &, const Graph &, const std::vector<Shape> &in, const std::vector<Shape> &, int) {
    auto s = std::make_unique<State>();
    s->n = numel(in[0]);
    return s;
}

}  // namespace

const OpDef op_mul = {"mul", 2, {}, parse, shape, prepare};

}  // namespace pysr
