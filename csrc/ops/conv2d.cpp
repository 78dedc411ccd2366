// conv2d (pysr/ops/conv2d.py): PyTorch Conv2d cross-correlation with the fused epilogue
//   out = clamp( residual + residual_scale · shuffle( act( conv(pad(x), weight) + bias ) ) )
// Attributes, defaults and shape rule as the Python spec. Execution, by the numba backend's dispatch rule
// (kernels/cpu/conv2d.py): 3×3, stride 1, groups 1, Cin ≥ 8, Cout ≥ 4 → ops/conv2d_winograd.cpp
// (F(4×4, 3×3)); stride 1, groups 1, Cout ≤ 4 → ops/conv2d_direct.cpp (input read in place); everything
// else → ops/conv2d_gemm.cpp (im2col panel per tile × register-blocked micro-kernel; numba has a separate
// depthwise kernel, here depthwise layers take the GEMM path). All pick their ISA at prepare and share the
// fused epilogue (conv2d_kernel.hpp). Weights are packed here (GEMM) or there, once per session plan, for
// the chosen ISA's block size.
// Threads (GEMM): the session's pool takes jobs = (image, group, tile of nt pixels); every thread owns
// one panel buffer of k·nt floats.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <new>

#include "../threads.hpp"
#include "conv2d_direct.hpp"
#include "conv2d_gemm.hpp"
#include "conv2d_winograd.hpp"
#include "op.hpp"

namespace pysr {

Shape shuffled_shape(const char *op, const Shape &s, int r);  // pixel_shuffle.cpp
PsOrder parse_order(AttrReader &r, const char *key);          // pixel_shuffle.cpp

namespace {

constexpr int64_t kPanelFloats = 64 * 1024;  // 256 KiB of panel per thread: fits L2 with the weights

void parse(const Json &j, Attrs &a) {
    const char *op = "conv2d";
    AttrReader r(op, j);
    a.stride = r.integer("stride", 1, 1);
    if (const Json *pad = r.take("padding")) {
        if (!pad->is_array() || pad->array.size() != 2)
            attr_fail(op, "padding must be (ph, pw), got " + pad->dump());
        for (auto &p : pad->array)
            if (!p.is_integer() || p.integer < 0 || p.integer > (1 << 20))
                attr_fail(op, "attribute padding=" + p.dump() + " must be an integer in [0, 2^20]");
        a.pad_h = int(pad->array[0].integer);
        a.pad_w = int(pad->array[1].integer);
    }
    std::string mode = r.choice("pad_mode", "zeros", {"zeros", "reflect", "replicate"});
    a.pad_mode = mode == "zeros" ? PadMode::Zeros : mode == "reflect" ? PadMode::Reflect : PadMode::Replicate;
    a.groups = r.integer("groups", 1, 1);
    a.activation = parse_activation(op, r.choice("activation", "none",
        {"none", "relu", "leaky_relu", "prelu", "tanh", "sigmoid", "scaled_tanh"}));
    a.alpha = r.number("alpha", 0.01);
    a.pixel_shuffle = r.integer("pixel_shuffle", 0, 0);
    a.ps_order = parse_order(r, "ps_order");
    a.residual = r.boolean("residual", false);
    a.residual_scale = r.number("residual_scale", 1.0);
    if (const Json *c = r.take("clamp")) {
        if (!c->is_null()) {
            if (!c->is_array() || c->array.size() != 2)
                attr_fail(op, "clamp must be [lo, hi] or null, got " + c->dump());
            for (auto &v : c->array)
                if (!v.is_number() || !std::isfinite(v.number))
                    attr_fail(op, "attribute " + v.dump() + " of clamp must be a finite number");
            a.has_clamp = true;
            a.lo = c->array[0].number;
            a.hi = c->array[1].number;
            check_clamp(op, a.lo, a.hi);
        }
    }
    r.finish();
}

std::vector<Shape> shape(const Node &n, const Graph &g, const std::vector<Shape> &in) {
    const char *op = "conv2d";
    const Attrs &a = n.attrs;
    const Shape &x = expect_rank4(op, "input", in[0]);
    const Tensor *wt = g.tensor_opt(n, "weight");
    if (!wt) shape_fail("conv2d: parameter 'weight' is missing");
    const Shape &w = wt->shape;
    if (w.size() != 4) shape_fail("conv2d: weight must be (Cout, Cin/groups, kh, kw), got " + shape_str(w));
    int64_t cout = w[0], cpg = w[1], kh = w[2], kw = w[3], cin = x[1], grp = a.groups;
    if (cin % grp || cout % grp)
        shape_fail("conv2d: channels in=" + std::to_string(cin) + " out=" + std::to_string(cout) +
                   " are not divisible by groups=" + std::to_string(grp));
    if (cpg != cin / grp)  // cin % grp == 0 here; cpg·grp could overflow (a zero-size weight has any dimensions)
        shape_fail("conv2d: weight expects " +
                   (cpg <= INT64_MAX / grp ? std::to_string(cpg * grp) : std::string("more than 2^63")) +
                   " input channels (Cin/groups=" +
                   std::to_string(cpg) + ", groups=" + std::to_string(grp) + "), input has " + std::to_string(cin));
    if (a.pad_mode == PadMode::Reflect && (a.pad_h >= x[2] || a.pad_w >= x[3]))
        shape_fail("conv2d: reflect padding (" + std::to_string(a.pad_h) + ", " + std::to_string(a.pad_w) +
                   ") needs an input larger than it, got " + std::to_string(x[2]) + "×" + std::to_string(x[3]));
    auto floordiv = [](int64_t p, int64_t q) { return p >= 0 ? p / q : -((-p + q - 1) / q); };
    int64_t ho = floordiv(x[2] + 2 * a.pad_h - kh, a.stride) + 1;
    int64_t wo = floordiv(x[3] + 2 * a.pad_w - kw, a.stride) + 1;
    if (ho <= 0 || wo <= 0)
        shape_fail("conv2d: kernel " + std::to_string(kh) + "×" + std::to_string(kw) + " with padding (" +
                   std::to_string(a.pad_h) + ", " + std::to_string(a.pad_w) + ") does not fit a " + std::to_string(x[2]) +
                   "×" + std::to_string(x[3]) + " input");
    Shape out = {x[0], cout, ho, wo};
    if (const Tensor *b = g.tensor_opt(n, "bias"))
        if (b->shape != Shape{cout})
            shape_fail("conv2d: bias must have shape (" + std::to_string(cout) + ",), got " + shape_str(b->shape));
    if (a.activation == Act::Prelu) {
        const Tensor *s = g.tensor_opt(n, "slope");
        if (!s || s->shape != Shape{cout}) shape_fail("conv2d: prelu needs parameter 'slope' of shape (" + std::to_string(cout) + ",)");
    }
    if (a.pixel_shuffle) out = shuffled_shape(op, out, a.pixel_shuffle);
    if (a.residual) {
        const Shape &r = expect_rank4(op, "residual", in[1]);
        if (r != out)
            shape_fail("conv2d: residual shape " + shape_str(r) + " differs from the output shape " + shape_str(out));
    }
    return {out};
}

struct State : OpState {
    ConvGeom g;
    ConvPacked pk;
    ConvTileFn fn = nullptr;
    int64_t tiles = 0;
    std::vector<float *> panels;  // per thread, 64-byte aligned
    ~State() override {
        for (float *p : panels) std::free(p);
    }
    void run(const float *const *in, float *const *out, ThreadPool &pool) override {
        const float *res = g.residual ? in[1] : nullptr;
        pool.parallel_for(g.n * g.groups * tiles, [&](int64_t job, int t) {
            int64_t tile = job % tiles, ig = job / tiles;
            int grp = int(ig % g.groups);
            int64_t img = ig / g.groups;
            int64_t p0 = tile * pk.nt, np = std::min(pk.nt, g.ho * g.wo - p0);
            fn(g, pk, in[0], res, out[0], panels[size_t(t)], img, grp, p0, np);
        });
    }
};

std::unique_ptr<OpState> prepare(const Node &node, const Graph &graph, const std::vector<Shape> &in,
                                 const std::vector<Shape> &out, int threads) {
    const Attrs &a = node.attrs;
    const Tensor &wt = graph.tensor(node, "weight");
    auto s = std::make_unique<State>();
    ConvGeom &g = s->g;
    g.n = in[0][0];
    g.cin = in[0][1];
    g.h = in[0][2];
    g.w = in[0][3];
    g.cout = wt.shape[0];
    g.cpg = int(wt.shape[1]);
    g.kh = int(wt.shape[2]);
    g.kw = int(wt.shape[3]);
    g.stride = a.stride;
    g.ph = a.pad_h;
    g.pw = a.pad_w;
    g.groups = a.groups;
    g.opg = int(g.cout / a.groups);
    g.pad = a.pad_mode;
    g.ho = (g.h + 2 * g.ph - g.kh) / g.stride + 1;
    g.wo = (g.w + 2 * g.pw - g.kw) / g.stride + 1;
    g.act = a.activation;
    g.alpha = float(a.alpha);
    g.r = a.pixel_shuffle > 0 ? a.pixel_shuffle : 1;
    g.tf = a.ps_order == PsOrder::Tf;
    g.residual = a.residual;
    g.res_scale = float(a.residual_scale);
    g.clamp = a.has_clamp;
    g.lo = float(a.lo);
    g.hi = float(a.hi);
    g.out_c = out[0][1];
    g.out_h = out[0][2];
    g.out_w = out[0][3];

    const Tensor *b = graph.tensor_opt(node, "bias");
    std::vector<float> bias = b ? b->data : std::vector<float>(size_t(g.cout), 0.0f);
    std::vector<float> slope;
    if (a.activation == Act::Prelu) slope = graph.tensor(node, "slope").data;
    if (winograd_fits(g)) return winograd_prepare(g, wt.data.data(), std::move(bias), std::move(slope), threads);
    if (direct_fits(g)) return direct_prepare(g, wt.data.data(), std::move(bias), std::move(slope), threads);

    ConvPacked &pk = s->pk;
    pk.isa = conv_isa();
    conv_block(pk.isa, pk.mr, pk.nr);
    pk.k = int64_t(g.cpg) * g.kh * g.kw;
    pk.mblocks = (g.opg + pk.mr - 1) / pk.mr;
    int64_t pixels = g.ho * g.wo;
    int64_t nt = std::max<int64_t>(32, kPanelFloats / std::max<int64_t>(pk.k, 1) / 32 * 32);
    nt = std::min<int64_t>({nt, kMaxTile, (pixels + 31) / 32 * 32});
    // keep both threads busy on small images: at least 4 tiles per thread when possible
    while (nt > 32 && g.n * g.groups * ((pixels + nt - 1) / nt) < 4 * threads) nt -= 32;
    pk.nt = nt;
    pk.w.assign(size_t(g.groups * pk.mblocks * pk.k * pk.mr), 0.0f);
    for (int grp = 0; grp < g.groups; ++grp)
        for (int64_t cg = 0; cg < g.opg; ++cg) {
            int64_t co = int64_t(grp) * g.opg + cg, mb = cg / pk.mr, m = cg % pk.mr;
            float *dst = pk.w.data() + ((int64_t(grp) * pk.mblocks + mb) * pk.k) * pk.mr + m;
            const float *src = wt.data.data() + co * pk.k;
            for (int64_t k = 0; k < pk.k; ++k) dst[k * pk.mr] = src[k];
        }
    pk.bias = std::move(bias);
    pk.slope = std::move(slope);
    s->fn = conv_tile_fn(pk.isa);
    s->tiles = (pixels + nt - 1) / nt;
    for (int t = 0; t < threads; ++t) {
        void *p = std::aligned_alloc(64, size_t(std::max<int64_t>(pk.k, 1) * nt) * sizeof(float));
        if (!p) throw std::bad_alloc();
        s->panels.push_back(static_cast<float *>(p));
    }
    return s;
}

}  // namespace

const OpDef op_conv2d = {"conv2d", -2, {{"weight", true}, {"bias", false}, {"slope", false}}, parse, shape, prepare};

}  // namespace pysr
