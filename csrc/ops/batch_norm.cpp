// batch_norm (pysr/ops/batch_norm.py): inference batch norm, out = (x − mean[c])/sqrt(var[c] + eps)·weight[c]
// + bias[c]. prepare folds the four (C,) parameters into one float64 scale and shift per channel (rounded
// to float32 once); run is then y = x·scale[c] + shift[c].
// NOTE: Python's passes turn every batch_norm into a conv (fold_batchnorm_into_conv), so its cpu backend
// has no kernel; csrc/passes.cpp folds only the one after a plain conv, so any other reaches the plan and runs here.
// Threads: one job per (n, c) plane; traffic 1 read + 1 write per element.
#include <cmath>

#include "../threads.hpp"
#include "op.hpp"

namespace pysr {

namespace {

const char *const kParams[] = {"weight", "bias", "mean", "var"};

double read_eps(const Json &j, AttrReader &r) {
    double eps = r.number("eps", 1e-5);
    if (eps < 0) attr_fail("batch_norm", "eps=" + j.find("eps")->dump() + " must be >= 0");
    return eps;
}

void parse(const Json &j, Attrs &) {
    AttrReader r("batch_norm", j);
    read_eps(j, r);
    r.finish();
}

std::vector<Shape> shape(const Node &n, const Graph &g, const std::vector<Shape> &in) {
    expect_count("batch_norm", in, 1);
    const Shape &s = expect_rank4("batch_norm", "input", in[0]);
    for (const char *p : kParams) {
        const Tensor *t = g.tensor_opt(n, p);
        if (!t) shape_fail(std::string("batch_norm: parameter '") + p + "' is missing");
        if (t->shape != Shape{s[1]})
            shape_fail(std::string("batch_norm: parameter '") + p + "' must have shape (" + std::to_string(s[1]) +
                       ",), got " + shape_str(t->shape));
    }
    return {s};
}

struct State : OpState {
    std::vector<float> scale, shift;  // per channel
    int64_t planes = 0, channels = 1, plane = 0;
    void run(const float *const *in, float *const *out, ThreadPool &pool) override {
        pool.parallel_for(planes, [&](int64_t p, int) {
            const float *x = in[0] + p * plane;
            float *y = out[0] + p * plane;
            float a = scale[size_t(p % channels)], b = shift[size_t(p % channels)];
            for (int64_t i = 0; i < plane; ++i) y[i] = x[i] * a + b;
        });
    }
};

std::unique_ptr<OpState> prepare(const Node &n, const Graph &g, const std::vector<Shape> &in, const std::vector<Shape> &,
                                 int) {
    AttrReader r("batch_norm", file_attrs(n));
    double eps = read_eps(file_attrs(n), r);
    auto s = std::make_unique<State>();
    const Tensor &w = g.tensor(n, "weight"), &b = g.tensor(n, "bias"), &m = g.tensor(n, "mean"), &v = g.tensor(n, "var");
    for (size_t c = 0; c < size_t(in[0][1]); ++c) {
        double k = double(w.data[c]) / std::sqrt(double(v.data[c]) + eps);
        s->scale.push_back(float(k));
        s->shift.push_back(float(double(b.data[c]) - double(m.data[c]) * k));
    }
    s->planes = in[0][0] * in[0][1];
    s->channels = in[0][1];
    s->plane = in[0][2] * in[0][3];
    return s;
}

}  // namespace

const OpDef op_batch_norm = {"batch_norm", 1, {{"weight", true}, {"bias", true}, {"mean", true}, {"var", true}},
                             parse, shape, prepare};

}  // namespace pysr
