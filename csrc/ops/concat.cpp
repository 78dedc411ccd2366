// concat (pysr/ops/concat.py): join inputs along channels (axis must be 1):
// out[n, off_k + c, h, w] = x_k[n, c, h, w]. Threads: one job per (n, input); plain copies.
#include <cstring>

#include "../threads.hpp"
#include "op.hpp"

namespace pysr {

namespace {

void parse(const Json &j, Attrs &) {
    AttrReader r("concat", j);
    const Json *axis = r.take("axis");
    if (axis && !(axis->is_integer() && axis->integer == 1))
        attr_fail("concat", "only axis=1 (channels) is supported, got axis=" + axis->dump());
    r.finish();
}

std::vector<Shape> shape(const Node &, const Graph &, const std::vector<Shape> &in) {
    static const char *dims = "NCHW";
    const Shape &first = expect_rank4("concat", "input 0", in[0]);
    int64_t c = 0;
    for (size_t k = 0; k < in.size(); ++k) {
        std::string what = "input " + std::to_string(k);
        const Shape &s = expect_rank4("concat", what.c_str(), in[k]);
        for (int d : {0, 2, 3})
            if (s[d] != first[d])
                shape_fail("concat: input " + std::to_string(k) + " has " + dims[d] + "=" + std::to_string(s[d]) +
                           " but input 0 has " + dims[d] + "=" + std::to_string(first[d]) + " (shapes " + shape_str(s) +
                           " and " + shape_str(first) + "); only channels may differ");
        c += s[1];
    }
    return {{first[0], c, first[2], first[3]}};
}

struct State : OpState {
    std::vector<int64_t> sizes;  // elements per image of each input
    int64_t n = 0, total = 0;
    void run(const float *const *in, float *const *out, ThreadPool &pool) override {
        int64_t k_count = int64_t(sizes.size());
        pool.parallel_for(n * k_count, [&](int64_t job, int) {
            int64_t b = job / k_count, k = job % k_count, off = 0;
            for (int64_t i = 0; i < k; ++i) off += sizes[size_t(i)];
            std::memcpy(out[0] + b * total + off, in[k] + b * sizes[size_t(k)], size_t(sizes[size_t(k)]) * 4);
        });
    }
};

std::unique_ptr<OpState> prepare(const Node &, const Graph &, const std::vector<Shape> &in, const std::vector<Shape> &out,
                                 int) {
    auto s = std::make_unique<State>();
    for (auto &sh : in) s->sizes.push_back(sh[1] * sh[2] * sh[3]);
    s->n = out[0][0];
    s->total = out[0][1] * out[0][2] * out[0][3];
    return s;
}

}  // namespace

const OpDef op_concat = {"concat", -1, {}, parse, shape, prepare};

}  // namespace pysr
