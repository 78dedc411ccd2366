// pixel_shuffle (pysr/ops/pixel_shuffle.py): depth to space by r.
//   pytorch (CRD): out[n, c, h·r+i, w·r+j] = in[n, c·r² + i·r + j, h, w]
//   tf (DCR):      out[n, c, h·r+i, w·r+j] = in[n, (i·r + j)·C + c, h, w]
// Threads: one job per (n, c, h) input row group; each job reads r² input rows and writes r output rows.
#include "../threads.hpp"
#include "op.hpp"

namespace pysr {

// Shared with conv2d.cpp.
Shape shuffled_shape(const char *op, const Shape &s, int r) {
    if (s[1] % (int64_t(r) * r))
        shape_fail(std::string(op) + ": input channels " + std::to_string(s[1]) + " are not a multiple of scale² = " +
                   std::to_string(int64_t(r) * r) +
                   "\nHINT: the conv before a pixel shuffle must output out_channels·r² channels");
    return {s[0], s[1] / (int64_t(r) * r), s[2] * r, s[3] * r};
}

PsOrder parse_order(AttrReader &r, const char *key) {
    return r.choice(key, "pytorch", {"pytorch", "tf"}) == "tf" ? PsOrder::Tf : PsOrder::Pytorch;
}

namespace {

void parse(const Json &j, Attrs &a) {
    AttrReader r("pixel_shuffle", j);
    a.ps_scale = r.integer("scale", -1, 1);
    if (a.ps_scale < 0) attr_fail("pixel_shuffle", "attribute 'scale' is required");
    a.ps_order = parse_order(r, "order");
    r.finish();
}

std::vector<Shape> shape(const Node &n, const Graph &, const std::vector<Shape> &in) {
    return {shuffled_shape("pixel_shuffle", expect_rank4("pixel_shuffle", "input", in[0]), n.attrs.ps_scale)};
}

struct State : OpState {
    int r = 1;
    bool tf = false;
    int64_t n = 0, c = 0, h = 0, w = 0;  // output channels, input h, w
    void run(const float *const *in, float *const *out, ThreadPool &pool) override {
        pool.parallel_for(n * c * h, [&](int64_t job, int) {
            int64_t y = job % h, nc = job / h, ch = nc % c, b = nc / c;
            for (int i = 0; i < r; ++i) {
                float *dst = out[0] + ((nc * h + y) * r + i) * (w * r);
                for (int j = 0; j < r; ++j) {
                    int64_t k = tf ? (int64_t(i) * r + j) * c + ch : ch * r * r + i * r + j;
                    const float *src = in[0] + ((b * c * r * r + k) * h + y) * w;
                    for (int64_t x = 0; x < w; ++x) dst[x * r + j] = src[x];
                }
            }
        });
    }
};

std::unique_ptr<OpState> prepare(const Node &node, const Graph &, const std::vector<Shape> &in,
                                 const std::vector<Shape> &out, int) {
    auto s = std::make_unique<State>();
    s->r = node.attrs.ps_scale;
    s->tf = node.attrs.ps_order == PsOrder::Tf;
    s->n = in[0][0];
    s->c = out[0][1];
    s->h = in[0][2];
    s->w = in[0][3];
    return s;
}

}  // namespace

const OpDef op_pixel_shuffle = {"pixel_shuffle", 1, {}, parse, shape, prepare};

}  // namespace pysr
