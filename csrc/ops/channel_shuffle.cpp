// channel_shuffle (pysr/ops/channel_shuffle.py): out[n, k·g + gi] = in[n, gi·(C/g) + k] for gi < g, k < C/g
// (SOF-VSR's and TCSR's ResB use g = 2): a permutation of whole planes.
// Threads: one job per (n, output channel, chunk of 64 Ki floats); plain copies, 1 read + 1 write each.
#include <algorithm>
#include <cstring>

#include "../threads.hpp"
#include "op.hpp"

namespace pysr {

namespace {

constexpr int64_t kChunk = 1 << 16;

void parse(const Json &j, Attrs &a) {
    AttrReader r("channel_shuffle", j);
    a.groups = r.integer("groups", -1, 1);
    if (a.groups < 0) attr_fail("channel_shuffle", "attribute 'groups' is required");
    r.finish();
}

std::vector<Shape> shape(const Node &n, const Graph &, const std::vector<Shape> &in) {
    expect_count("channel_shuffle", in, 1);
    const Shape &s = expect_rank4("channel_shuffle", "input", in[0]);
    if (s[1] % n.attrs.groups)
        shape_fail("channel_shuffle: input channels " + std::to_string(s[1]) + " are not divisible by groups=" +
                   std::to_string(n.attrs.groups));
    return {s};
}

struct State : OpState {
    int64_t g = 1, n = 0, c = 0, plane = 0;
    void run(const float *const *in, float *const *out, ThreadPool &pool) override {
        int64_t chunks = (plane + kChunk - 1) / kChunk;
        pool.parallel_for(n * c * chunks, [&](int64_t job, int) {
            int64_t part = job % chunks, nc = job / chunks, dst_c = nc % c, b = nc / c;
            int64_t src_c = (dst_c % g) * (c / g) + dst_c / g;
            int64_t off = part * kChunk, len = std::min(kChunk, plane - off);
            std::memcpy(out[0] + (b * c + dst_c) * plane + off, in[0] + (b * c + src_c) * plane + off, size_t(len) * 4);
        });
    }
};

std::unique_ptr<OpState> prepare(const Node &node, const Graph &, const std::vector<Shape> &in, const std::vector<Shape> &,
                                 int) {
    auto s = std::make_unique<State>();
    s->g = node.attrs.groups;
    s->n = in[0][0];
    s->c = in[0][1];
    s->plane = in[0][2] * in[0][3];
    return s;
}

}  // namespace

const OpDef op_channel_shuffle = {"channel_shuffle", 1, {}, parse, shape, prepare};

}  // namespace pysr
