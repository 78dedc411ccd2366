// space_to_depth (pysr/ops/space_to_depth.py): the inverse of pixel_shuffle, by r, H and W multiples of r.
//   pytorch: out[n, c·r² + i·r + j, h, w] = in[n, c, h·r+i, w·r+j]
//   tf:      out[n, (i·r + j)·C + c, h, w] = in[n, c, h·r+i, w·r+j]
// Threads: one job per (n, c, h) output row group; each job reads r input rows (unit stride) and writes r²
// output rows (stride-r reads). Every element is read once and written once.
#include "../threads.hpp"
#include "op.hpp"

namespace pysr {

PsOrder parse_order(AttrReader &r, const char *key);  // pixel_shuffle.cpp

namespace {

void parse(const Json &j, Attrs &a) {
    AttrReader r("space_to_depth", j);
    a.ps_scale = r.integer("scale", -1, 1);
    if (a.ps_scale < 0) attr_fail("space_to_depth", "attribute 'scale' is required");
    a.ps_order = parse_order(r, "order");
    r.finish();
}

std::vector<Shape> shape(const Node &n, const Graph &, const std::vector<Shape> &in) {
    expect_count("space_to_depth", in, 1);
    const Shape &s = expect_rank4("space_to_depth", "input", in[0]);
    int64_t r = n.attrs.ps_scale;
    if (s[2] % r || s[3] % r)
        shape_fail("space_to_depth: input height×width " + std::to_string(s[2]) + "×" + std::to_string(s[3]) +
                   " must both be multiples of scale " + std::to_string(r) +
                   "\nHINT: pad or crop the input to a multiple of the scale first");
    return {{s[0], s[1] * r * r, s[2] / r, s[3] / r}};
}

struct State : OpState {
    int64_t r = 1, cs = 1, ks = 1;     // output channel of (c, i, j) = c·cs + (i·r + j)·ks
    int64_t n = 0, c = 0, h = 0, w = 0;  // input channels, output h, w
    void run(const float *const *in, float *const *out, ThreadPool &pool) override {
        pool.parallel_for(n * c * h, [&](int64_t job, int) {
            int64_t y = job % h, nc = job / h, ch = nc % c, b = nc / c;
            for (int64_t i = 0; i < r; ++i) {
                const float *src = in[0] + ((nc * h + y) * r + i) * (w * r);
                for (int64_t j = 0; j < r; ++j) {
                    float *dst = out[0] + ((b * c * r * r + ch * cs + (i * r + j) * ks) * h + y) * w;
                    for (int64_t x = 0; x < w; ++x) dst[x] = src[x * r + j];
                }
            }
        });
    }
};

std::unique_ptr<OpState> prepare(const Node &node, const Graph &, const std::vector<Shape> &in,
                                 const std::vector<Shape> &out, int) {
    auto s = std::make_unique<State>();
    s->r = node.attrs.ps_scale;
    bool tf = node.attrs.ps_order == PsOrder::Tf;
    s->cs = tf ? 1 : s->r * s->r;
    s->ks = tf ? in[0][1] : 1;
    s->n = in[0][0];
    s->c = in[0][1];
    s->h = out[0][2];
    s->w = out[0][3];
    return s;
}

}  // namespace

const OpDef op_space_to_depth = {"space_to_depth", 1, {}, parse, shape, prepare};

}  // namespace pysr
