// warp (pysr/ops/warp.py): backward warp of img (N, C, H, W) by flow (N, 2, H, W) (channel 0 = x, 1 = y),
// bilinear with border padding (grid_sample). The sample column is ix = x + u (align_corners) or
// (x + u)·W/(W − 1) − 0.5 (the spec's ((gx + 1)·W − 1)/2), u = flow_scale·flow[n, 0, y, x], clamped to
// [0, W − 1]; W == 1 samples column 0. Rows likewise. flow_scale is kept in Attrs::scale.
// Per output row a job first turns the flow into one flat source offset and the two fractions of every
// pixel (float32 coordinates, a unit-stride loop that vectorises; the spec's tolerance allows eps·max(H, W)
// pixels of rounding), then blends the 4 neighbours at offset, +1, +W, +W+1 for up to 4 channels per sweep,
// so the coordinate work is shared by all C channels (as kernels/cpu/warp.py).
// The clamp keeps the top-left neighbour at column ≤ W − 2 (row ≤ H − 2): a sample on the last column is
// taken as column W − 2 with α = 1, exactly the border value, so all four neighbours share one offset and
// none needs its own clamp (a NaN coordinate clamps to 0 rather than reading out of bounds).
// ISA: the band body is compiled for AVX-512, AVX2+FMA (fused blends, wider coordinate loop) and portable
// code, picked at prepare by conv_isa() (PYSR_ISA lowers it).
// Threads: one job per (image, band of 8 output rows); per-thread scratch of 3 W-long rows. Traffic: the
// flow once, the output once, and per output 4 input values near its own position for small flows.
#include <algorithm>

#include "../threads.hpp"
#include "conv2d_gemm.hpp"
#include "op.hpp"

namespace pysr {

namespace {

constexpr int64_t kBand = 8;

void parse(const Json &j, Attrs &a) {
    AttrReader r("warp", j);
    a.align_corners = r.boolean("align_corners", true);
    a.scale = r.number("flow_scale", 1.0);
    r.finish();
}

std::vector<Shape> shape(const Node &, const Graph &, const std::vector<Shape> &in) {
    expect_count("warp", in, 2);
    const Shape &img = expect_rank4("warp", "img", in[0]);
    const Shape &flow = expect_rank4("warp", "flow", in[1]);
    Shape want = {img[0], 2, img[2], img[3]};
    if (flow != want)
        shape_fail("warp: flow must have shape " + shape_str(want) + " for img " + shape_str(img) + ", got " + shape_str(flow));
    return {img};
}

inline float clamp0(float v, float hi) {
    v = v > 0.0f ? v : 0.0f;  // NaN → 0
    return v < hi ? v : hi;
}

// The sampling geometry of one node: source position = (pos + flow_scale·flow)·k + shift, clamped to
// [0, max]; the top-left neighbour index is capped at top.
struct Geom {
    float fs, kx, ky, shift, xmax, ymax;
    int32_t i_top, j_top, w;
};

// One job: output rows [y0, y1) of one image; img/flow/out point at that image's first plane.
struct Band {
    const float *img, *flow;
    float *out;
    int64_t c, h, w, y0, y1, dx, dy;
    int32_t *off;    // scratch, W
    float *al, *be;  // scratch, W each
};

// a·b + c, fused where the ISA has FMA (one rounding instead of two; the generic build has none inline).
template <bool Fma>
static inline __attribute__((always_inline)) float madd(float a, float b, float c) {
    if constexpr (Fma) return __builtin_fmaf(a, b, c);
    else return a * b + c;
}

// Flat offset of the top-left neighbour and the fractions α, β of every pixel of output row y.
template <bool Fma>
static inline __attribute__((always_inline)) void coords_row(const Geom g, float yf, const float *__restrict fu,
                                                             const float *__restrict fv, int32_t w, int32_t *__restrict off,
                                                             float *__restrict al, float *__restrict be) {
    for (int32_t x = 0; x < w; ++x) {  // int32: packed int → float conversions exist, int64 ones do not (SSE2)
        float ix = clamp0(madd<Fma>(madd<Fma>(g.fs, fu[x], float(x)), g.kx, g.shift), g.xmax);
        float iy = clamp0(madd<Fma>(madd<Fma>(g.fs, fv[x], yf), g.ky, g.shift), g.ymax);
        int32_t i0 = std::min(int32_t(ix), g.i_top), j0 = std::min(int32_t(iy), g.j_top);
        off[x] = j0 * g.w + i0;
        al[x] = ix - float(i0);
        be[x] = iy - float(j0);
    }
}

// K channels of one output row: p[k] are the K input planes, d[k] the K output rows. Scalar on purpose:
// the four loads per channel are gathers (vgatherdps measured slower in kernels/cpu/warp.py).
template <bool Fma, int K>
static inline __attribute__((always_inline)) void blend_row(const float *const *p, float *const *d,
                                                            const int32_t *__restrict off, const float *__restrict al,
                                                            const float *__restrict be, int64_t w, int64_t dx, int64_t dy) {
    for (int64_t x = 0; x < w; ++x) {
        int64_t o = off[x];
        float a = al[x], b = be[x];
        for (int k = 0; k < K; ++k) {
            const float *q = p[k] + o;
            float top = madd<Fma>(a, q[dx] - q[0], q[0]);
            float bot = madd<Fma>(a, q[dy + dx] - q[dy], q[dy]);
            d[k][x] = madd<Fma>(b, bot - top, top);
        }
    }
}

template <bool Fma>
static inline __attribute__((always_inline)) void band(const Geom &g, const Band &j) {
    int64_t plane = j.h * j.w;
    for (int64_t y = j.y0; y < j.y1; ++y) {
        const float *fu = j.flow + y * j.w;
        coords_row<Fma>(g, float(y), fu, fu + plane, int32_t(j.w), j.off, j.al, j.be);
        const float *p[4];
        float *d[4];
        for (int64_t ch = 0; ch < j.c;) {
            int k = int(std::min<int64_t>(4, j.c - ch));
            for (int i = 0; i < k; ++i) {
                p[i] = j.img + (ch + i) * plane;
                d[i] = j.out + (ch + i) * plane + y * j.w;
            }
            if (k == 4) blend_row<Fma, 4>(p, d, j.off, j.al, j.be, j.w, j.dx, j.dy);
            else if (k == 3) blend_row<Fma, 3>(p, d, j.off, j.al, j.be, j.w, j.dx, j.dy);
            else if (k == 2) blend_row<Fma, 2>(p, d, j.off, j.al, j.be, j.w, j.dx, j.dy);
            else blend_row<Fma, 1>(p, d, j.off, j.al, j.be, j.w, j.dx, j.dy);
            ch += k;
        }
    }
}

// One body, compiled per ISA through target attributes (as conv2d_gemm.cpp); picked in prepare by conv_isa().
using BandFn = void (*)(const Geom &, const Band &);
#if defined(__x86_64__) || defined(__i386__)
PYSR_TARGET_AVX512 void band_avx512(const Geom &g, const Band &j) { band<true>(g, j); }
PYSR_TARGET_AVX2 void band_avx2(const Geom &g, const Band &j) { band<true>(g, j); }
#endif
void band_generic(const Geom &g, const Band &j) { band<false>(g, j); }

BandFn band_fn(Isa isa) {
#if defined(__x86_64__) || defined(__i386__)
    if (isa == Isa::Avx512) return band_avx512;
    if (isa == Isa::Avx2) return band_avx2;
#else
    (void)isa;
#endif
    return band_generic;
}

struct State : OpState {
    int64_t n = 0, c = 0, h = 0, w = 0;
    Geom g{};
    int64_t dx = 0, dy = 0;
    BandFn fn = band_generic;
    std::vector<std::vector<int32_t>> off;   // per thread, W
    std::vector<std::vector<float>> frac;    // per thread, 2·W: α then β
    void run(const float *const *in, float *const *out, ThreadPool &pool) override {
        int64_t bands = (h + kBand - 1) / kBand, plane = h * w;
        pool.parallel_for(n * bands, [&](int64_t job, int t) {
            int64_t b = job / bands, y0 = (job % bands) * kBand;
            float *al = frac[size_t(t)].data();
            Band j{in[0] + b * c * plane, in[1] + b * 2 * plane, out[0] + b * c * plane, c, h, w, y0,
                   std::min(h, y0 + kBand), dx, dy, off[size_t(t)].data(), al, al + w};
            fn(g, j);
        });
    }
};

std::unique_ptr<OpState> prepare(const Node &node, const Graph &, const std::vector<Shape> &in, const std::vector<Shape> &,
                                 int threads) {
    auto s = std::make_unique<State>();
    s->n = in[0][0];
    s->c = in[0][1];
    s->h = in[0][2];
    s->w = in[0][3];
    if (s->h * s->w >= (int64_t(1) << 31))
        fail(PYSR_STATUS_UNSUPPORTED, "warp: planes of 2^31 pixels or more (int32 offsets), got " + shape_str(in[0]));
    bool align = node.attrs.align_corners;
    Geom &g = s->g;
    g.fs = float(node.attrs.scale);
    // k = W/(W − 1) and shift = −0.5 when not corner-aligned (the spec's ((gx + 1)·W − 1)/2).
    g.kx = align || s->w == 1 ? 1.0f : float(double(s->w) / double(s->w - 1));
    g.ky = align || s->h == 1 ? 1.0f : float(double(s->h) / double(s->h - 1));
    g.shift = align ? 0.0f : -0.5f;
    g.xmax = float(s->w - 1);
    g.ymax = float(s->h - 1);
    g.i_top = int32_t(std::max<int64_t>(s->w - 2, 0));
    g.j_top = int32_t(std::max<int64_t>(s->h - 2, 0));
    g.w = int32_t(s->w);
    s->dx = s->w > 1 ? 1 : 0;
    s->dy = s->h > 1 ? s->w : 0;
    s->fn = band_fn(conv_isa());
    s->off.assign(size_t(threads), std::vector<int32_t>(size_t(s->w)));
    s->frac.assign(size_t(threads), std::vector<float>(size_t(2 * s->w)));
    return s;
}

}  // namespace

const OpDef op_warp = {"warp", 2, {}, parse, shape, prepare};

}  // namespace pysr
