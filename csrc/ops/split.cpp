// split (pysr/ops/split.py): cut channels into len(sizes) outputs, out_k[n, c] = x[n, off_k + c].
// Threads: one job per (n, output); plain copies.
#include <cstring>

#include "../threads.hpp"
#include "op.hpp"

namespace pysr {

namespace {

void parse(const Json &j, Attrs &a) {
    AttrReader r("split", j);
    const Json *sizes = r.take("sizes");
    if (!sizes) attr_fail("split", "attribute 'sizes' is required");
    if (!sizes->is_array() || sizes->array.empty())
        attr_fail("split", "sizes must be a non-empty list of positive integers, got " + sizes->dump());
    for (auto &v : sizes->array) {
        if (!v.is_integer() || v.integer < 1 || v.integer > (1 << 24))
            attr_fail("split", "attribute sizes=" + v.dump() + " must be an integer in [1, 2^24]");
        a.sizes.push_back(v.integer);
    }
    r.finish();
}

std::vector<Shape> shape(const Node &n, const Graph &, const std::vector<Shape> &in) {
    expect_count("split", in, 1);
    const Shape &s = expect_rank4("split", "input", in[0]);
    int64_t sum = 0;
    std::string list;
    for (auto v : n.attrs.sizes) {
        sum += v;
        list += (list.empty() ? "" : ", ") + std::to_string(v);
    }
    if (sum != s[1])
        shape_fail("split: sizes [" + list + "] sum to " + std::to_string(sum) + ", the input has " + std::to_string(s[1]) +
                   " channels");
    std::vector<Shape> out;
    for (auto v : n.attrs.sizes) out.push_back({s[0], v, s[2], s[3]});
    return out;
}

struct State : OpState {
    std::vector<int64_t> sizes;  // elements per image of each output
    int64_t n = 0, total = 0;
    void run(const float *const *in, float *const *out, ThreadPool &pool) override {
        int64_t k_count = int64_t(sizes.size());
        pool.parallel_for(n * k_count, [&](int64_t job, int) {
            int64_t b = job / k_count, k = job % k_count, off = 0;
            for (int64_t i = 0; i < k; ++i) off += sizes[size_t(i)];
            std::memcpy(out[k] + b * sizes[size_t(k)], in[0] + b * total + off, size_t(sizes[size_t(k)]) * 4);
        });
    }
};

std::unique_ptr<OpState> prepare(const Node &, const Graph &, const std::vector<Shape> &in, const std::vector<Shape> &out,
                                 int) {
    auto s = std::make_unique<State>();
    for (auto &sh : out) s->sizes.push_back(sh[1] * sh[2] * sh[3]);
    s->n = in[0][0];
    s->total = in[0][1] * in[0][2] * in[0][3];
    return s;
}

}  // namespace

const OpDef op_split = {"split", 1, {}, parse, shape, prepare};

}  // namespace pysr
