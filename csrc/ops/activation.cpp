// activation (pysr/ops/activation.py): y = f(x) elementwise, one kind per node; prelu has a per-channel
// slope (C,), clamp is min(max(x, lo), hi). Threads: one job per (n, c) plane; traffic 1 read + 1 write.
#include "../math.hpp"
#include "../threads.hpp"
#include "op.hpp"

namespace pysr {

namespace {

void parse(const Json &j, Attrs &a) {
    AttrReader r("activation", j);
    a.activation = parse_activation("activation", r.choice("kind", nullptr,
        {"relu", "leaky_relu", "prelu", "tanh", "sigmoid", "scaled_tanh", "clamp"}));
    a.alpha = r.number("alpha", 0.01);
    a.lo = r.number("lo", 0.0);
    a.hi = r.number("hi", 1.0);
    r.finish();
    check_clamp("activation", a.lo, a.hi);
}

std::vector<Shape> shape(const Node &n, const Graph &g, const std::vector<Shape> &in) {
    const Shape &s = expect_rank4("activation", "input", in[0]);
    if (n.attrs.activation == Act::Prelu) {
        const Tensor *slope = g.tensor_opt(n, "slope");
        if (!slope) shape_fail("activation: kind 'prelu' needs the parameter 'slope'");
        if (slope->shape != Shape{s[1]})
            shape_fail("activation: prelu slope must have shape (" + std::to_string(s[1]) + ",), got " + shape_str(slope->shape));
    }
    return {s};
}

struct State : OpState {
    Attrs a;
    std::vector<float> slope;
    int64_t planes = 0, channels = 1, plane = 0;
    void run(const float *const *in, float *const *out, ThreadPool &pool) override {
        pool.parallel_for(planes, [&](int64_t p, int) {
            const float *x = in[0] + p * plane;
            float *y = out[0] + p * plane;
            if (a.activation == Act::Clamp) {
                float lo = float(a.lo), hi = float(a.hi);
                for (int64_t i = 0; i < plane; ++i) y[i] = min_f(max_f(x[i], lo), hi);
                return;
            }
            float alpha = a.activation == Act::Prelu ? slope[size_t(p % channels)] : float(a.alpha);
            for (int64_t i0 = 0; i0 < plane; i0 += 4096) {
                int n = int(std::min<int64_t>(4096, plane - i0));
                if (y != x) std::copy(x + i0, x + i0 + n, y + i0);
                activate_row(y + i0, n, a.activation, 0.0f, alpha);
            }
        });
    }
};

std::unique_ptr<OpState> prepare(const Node &n, const Graph &g, const std::vector<Shape> &in, const std::vector<Shape> &,
                                 int) {
    auto s = std::make_unique<State>();
    s->a = n.attrs;
    if (const Tensor *t = g.tensor_opt(n, "slope")) s->slope = t->data;
    s->planes = in[0][0] * in[0][1];
    s->channels = in[0][1];
    s->plane = in[0][2] * in[0][3];
    return s;
}

}  // namespace

const OpDef op_activation = {"activation", 1, {{"slope", false}}, parse, shape, prepare};

}  // namespace pysr
