// Separable resampling (see separable.hpp), float32 throughout, two 1-D passes with a float32 intermediate
// (the order only moves float32 rounding; pysr/ops/separable.py `tolerance` bounds either order).
// Schedule, by which intermediate is cheaper (as kernels/cpu/separable.py):
// - enlarging (Ho > H): columns first. A job owns a band of output rows of one plane: it resamples
//   horizontally only the input rows the band reads into scratch ((rows, Wo) floats), then writes each
//   output row as a Ph-row blend of scratch rows, a unit-stride loop that vectorises. The horizontal pass
//   runs on about H rows per plane, the blend on Ho·Wo outputs.
// - otherwise: rows first. A job owns a band of output rows; per output row it blends Ph input rows into a
//   W-long scratch row (vectorised), then resamples that row horizontally into the output row.
// The horizontal pass gathers through the (m, P) tables, except for an integer factor r ≤ 4 whose table is
// periodic (make_taps checks that the periodic form is the same linear map as the table, output by output):
// the row is copied once with its border (clamped or mirrored) into scratch, and a loop with r and the
// union of taps T as constants makes r outputs per input step from T shared loads, no table per tap.
// ISA: the job body is compiled for AVX-512, AVX2+FMA and portable code, picked at prepare by conv_isa().
// Tables (built once in prepare): (m, P) int32 indices and float32 weights per axis, and for columns first
// the input row span of every band. Scratch is per thread, sized in prepare: run never allocates.
// Threads: one job per (plane, band); at least 8 jobs per call so 2+ threads stay balanced.
#include "separable.hpp"

#include <algorithm>
#include <cmath>

#include "../threads.hpp"
#include "conv2d_gemm.hpp"

namespace pysr {

namespace {

constexpr int64_t kBandEnlarge = 128;  // output rows per job when enlarging (numba: 64-270 all within 10%)
constexpr int64_t kBandShrink = 16;
constexpr int64_t kMinJobs = 8;
constexpr int kMaxPeriod = 4, kMaxPeriodTaps = 6;

template <bool Fma>
static inline __attribute__((always_inline)) float madd(float a, float b, float c) {
    if constexpr (Fma) return __builtin_fmaf(a, b, c);
    else return a * b + c;
}

// dst[i] = Σ_a w[a]·rows[a][i], unit stride. Up to 4 rows per sweep keep the loop vectorised and the
// number of passes over dst low.
template <bool Fma>
static inline __attribute__((always_inline)) void blend(const float *const *rows, const float *w, int p, int64_t n,
                                                        float *__restrict dst) {
    const float *__restrict r0 = rows[0];
    float w0 = w[0];
    if (p == 1) {
        for (int64_t i = 0; i < n; ++i) dst[i] = w0 * r0[i];
        return;
    }
    const float *__restrict r1 = rows[1];
    float w1 = w[1];
    if (p == 2) {
        for (int64_t i = 0; i < n; ++i) dst[i] = madd<Fma>(w1, r1[i], w0 * r0[i]);
        return;
    }
    const float *__restrict r2 = rows[2];
    float w2 = w[2];
    if (p == 3) {
        for (int64_t i = 0; i < n; ++i) dst[i] = madd<Fma>(w2, r2[i], madd<Fma>(w1, r1[i], w0 * r0[i]));
        return;
    }
    const float *__restrict r3 = rows[3];
    float w3 = w[3];
    for (int64_t i = 0; i < n; ++i) dst[i] = madd<Fma>(w3, r3[i], madd<Fma>(w2, r2[i], madd<Fma>(w1, r1[i], w0 * r0[i])));
    int a = 4;
    for (; a + 4 <= p; a += 4) {
        const float *__restrict q0 = rows[a], *__restrict q1 = rows[a + 1], *__restrict q2 = rows[a + 2],
                               *__restrict q3 = rows[a + 3];
        float v0 = w[a], v1 = w[a + 1], v2 = w[a + 2], v3 = w[a + 3];
        for (int64_t i = 0; i < n; ++i)
            dst[i] = madd<Fma>(v3, q3[i], madd<Fma>(v2, q2[i], madd<Fma>(v1, q1[i], madd<Fma>(v0, q0[i], dst[i]))));
    }
    for (; a < p; ++a) {
        const float *__restrict q0 = rows[a];
        float v0 = w[a];
        for (int64_t i = 0; i < n; ++i) dst[i] = madd<Fma>(v0, q0[i], dst[i]);
    }
}

// dst[o] = Σ_k w[o·P + k]·src[idx[o·P + k]]: the gather pass, P a constant for the common tap counts.
template <bool Fma, int P>
static inline __attribute__((always_inline)) void gather_fixed(const float *__restrict src, const Taps &t,
                                                               float *__restrict dst) {
    const int32_t *ix = t.idx.data();
    const float *w = t.w.data();
    for (int64_t o = 0; o < t.m; ++o, ix += P, w += P) {
        float acc = w[0] * src[ix[0]];
        for (int k = 1; k < P; ++k) acc = madd<Fma>(w[k], src[ix[k]], acc);
        dst[o] = acc;
    }
}

template <bool Fma>
static inline __attribute__((always_inline)) void gather(const float *__restrict src, const Taps &t, float *__restrict dst) {
    switch (t.p) {
        case 1: return gather_fixed<Fma, 1>(src, t, dst);
        case 2: return gather_fixed<Fma, 2>(src, t, dst);
        case 3: return gather_fixed<Fma, 3>(src, t, dst);
        case 4: return gather_fixed<Fma, 4>(src, t, dst);
        default: break;
    }
    const int32_t *ix = t.idx.data();
    const float *w = t.w.data();
    for (int64_t o = 0; o < t.m; ++o, ix += t.p, w += t.p) {
        float acc = w[0] * src[ix[0]];
        for (int k = 1; k < t.p; ++k) acc = madd<Fma>(w[k], src[ix[k]], acc);
        dst[o] = acc;
    }
}

// The periodic pass: pad = the row with its border, then dst[R·i + d] = Σ_t wp[d][t]·pad[i + t].
template <bool Fma, int R, int T>
static inline __attribute__((always_inline)) void phased_fixed(const float *__restrict src, const Taps &t,
                                                               float *__restrict pad, float *__restrict dst) {
    const int32_t *virt = t.virt.data();
    for (int64_t v = 0; v < t.n + T - 1; ++v) pad[v] = src[virt[v]];
    float wp[R][T];
    for (int d = 0; d < R; ++d)
        for (int k = 0; k < T; ++k) wp[d][k] = t.phase_w[size_t(d * T + k)];
    for (int64_t i = 0; i < t.n; ++i)
        for (int d = 0; d < R; ++d) {
            float acc = wp[d][0] * pad[i];
            for (int k = 1; k < T; ++k) acc = madd<Fma>(wp[d][k], pad[i + k], acc);
            dst[R * i + d] = acc;
        }
}

template <bool Fma, int R>
static inline __attribute__((always_inline)) void phased_r(const float *src, const Taps &t, float *pad, float *dst) {
    switch (t.period_taps) {
        case 2: return phased_fixed<Fma, R, 2>(src, t, pad, dst);
        case 3: return phased_fixed<Fma, R, 3>(src, t, pad, dst);
        case 4: return phased_fixed<Fma, R, 4>(src, t, pad, dst);
        case 5: return phased_fixed<Fma, R, 5>(src, t, pad, dst);
        default: return phased_fixed<Fma, R, 6>(src, t, pad, dst);
    }
}

// One horizontal row: src (n) → dst (m); pad is scratch of n + period_taps − 1 floats.
template <bool Fma>
static inline __attribute__((always_inline)) void hrow(const float *src, const Taps &t, float *pad, float *dst) {
    switch (t.period) {
        case 2: return phased_r<Fma, 2>(src, t, pad, dst);
        case 3: return phased_r<Fma, 3>(src, t, pad, dst);
        case 4: return phased_r<Fma, 4>(src, t, pad, dst);
        default: return gather<Fma>(src, t, dst);
    }
}

struct Geometry {
    Taps th, tw;
    int64_t planes = 0, h = 0, w = 0, ho = 0, wo = 0, band = 1, bands = 1;
    bool columns_first = false;
    std::vector<int64_t> span_lo, span_hi;  // columns first: input rows read by each band
};

// Per-thread scratch of one job.
struct Scratch {
    std::vector<float> rows;        // columns first: (span, Wo); rows first: one W-long row
    std::vector<float> pad;         // the padded row of the periodic pass
    std::vector<const float *> ptr; // the Ph rows of one blend
};

// Output rows of band b of plane p.
template <bool Fma>
static inline __attribute__((always_inline)) void job(const Geometry &g, const float *x, float *y, int64_t b,
                                                      Scratch &s) {
    int64_t y0 = b * g.band, y1 = std::min(g.ho, y0 + g.band);
    const Taps &th = g.th;
    float *buf = s.rows.data();
    const float **rows = s.ptr.data();
    if (g.columns_first) {
        int64_t lo = g.span_lo[size_t(b)];
        for (int64_t r = lo; r <= g.span_hi[size_t(b)]; ++r) hrow<Fma>(x + r * g.w, g.tw, s.pad.data(), buf + (r - lo) * g.wo);
        for (int64_t oy = y0; oy < y1; ++oy) {
            for (int a = 0; a < th.p; ++a) rows[a] = buf + (th.idx[size_t(oy * th.p + a)] - lo) * g.wo;
            blend<Fma>(rows, th.w.data() + oy * th.p, th.p, g.wo, y + oy * g.wo);
        }
    } else {
        for (int64_t oy = y0; oy < y1; ++oy) {
            for (int a = 0; a < th.p; ++a) rows[a] = x + int64_t(th.idx[size_t(oy * th.p + a)]) * g.w;
            blend<Fma>(rows, th.w.data() + oy * th.p, th.p, g.w, buf);
            hrow<Fma>(buf, g.tw, s.pad.data(), y + oy * g.wo);
        }
    }
}

using JobFn = void (*)(const Geometry &, const float *, float *, int64_t, Scratch &);
#if defined(__x86_64__) || defined(__i386__)
PYSR_TARGET_AVX512 void job_avx512(const Geometry &g, const float *x, float *y, int64_t b, Scratch &s) {
    job<true>(g, x, y, b, s);
}
PYSR_TARGET_AVX2 void job_avx2(const Geometry &g, const float *x, float *y, int64_t b, Scratch &s) {
    job<true>(g, x, y, b, s);
}
#endif
void job_generic(const Geometry &g, const float *x, float *y, int64_t b, Scratch &s) { job<false>(g, x, y, b, s); }

JobFn job_fn(Isa isa) {
#if defined(__x86_64__) || defined(__i386__)
    if (isa == Isa::Avx512) return job_avx512;
    if (isa == Isa::Avx2) return job_avx2;
#else
    (void)isa;
#endif
    return job_generic;
}

struct State : OpState {
    Geometry g;
    JobFn fn = job_generic;
    std::vector<Scratch> scratch;  // per thread
    void run(const float *const *in, float *const *out, ThreadPool &pool) override {
        pool.parallel_for(g.planes * g.bands, [&](int64_t j, int t) {
            int64_t p = j / g.bands;
            fn(g, in[0] + p * g.h * g.w, out[0] + p * g.ho * g.wo, j % g.bands, scratch[size_t(t)]);
        });
    }
};

// Whether output o has the same linear map in both forms (weights summed per input index; |difference| ≤
// 1e-9·scale: the periodic weights come from another output's float64 arithmetic).
bool same_map(std::vector<std::pair<int64_t, double>> a, std::vector<std::pair<int64_t, double>> b, double scale) {
    for (auto &e : b) e.second = -e.second;
    a.insert(a.end(), b.begin(), b.end());
    std::sort(a.begin(), a.end(), [](auto &x, auto &y) { return x.first < y.first; });
    for (size_t i = 0; i < a.size();) {
        double sum = 0.0;
        size_t j = i;
        for (; j < a.size() && a[j].first == a[i].first; ++j) sum += a[j].second;
        if (std::fabs(sum) > 1e-9 * scale) return false;
        i = j;
    }
    return true;
}

// The periodic form of a table (see Taps), when there is one with period ≤ kMaxPeriod and at most
// kMaxPeriodTaps taps per phase: its phases are read off the middle period, its border is tried as a
// clamp and as a mirror, and it is kept only when it reproduces every output's linear map.
void find_period(Taps &t, const std::vector<int64_t> &idx, const std::vector<double> &w) {
    int64_t n = t.n, p = t.p;
    if (t.m % n || t.m / n < 2 || t.m / n > kMaxPeriod || n < 3) return;
    int r = int(t.m / n);
    int64_t mid = n / 2;
    std::vector<int64_t> off(static_cast<size_t>(r));
    for (int d = 0; d < r; ++d) {
        int64_t o = r * mid + d;
        for (int k = 0; k < p; ++k)
            if (idx[size_t(o * p + k)] != idx[size_t(o * p)] + k) return;  // not consecutive: not this form
        off[size_t(d)] = idx[size_t(o * p)] - mid;
    }
    int64_t base = *std::min_element(off.begin(), off.end());
    int64_t taps = *std::max_element(off.begin(), off.end()) - base + p;
    if (taps > kMaxPeriodTaps) return;
    std::vector<double> wp(size_t(r * taps), 0.0);
    double scale = 1.0;
    for (int d = 0; d < r; ++d)
        for (int k = 0; k < p; ++k) {
            wp[size_t(d * taps + off[size_t(d)] - base + k)] = w[size_t((r * mid + d) * p + k)];
            scale = std::max(scale, std::fabs(w[size_t((r * mid + d) * p + k)]));
        }
    for (int border = 0; border < 2; ++border) {
        std::vector<int32_t> virt;
        for (int64_t v = base; v < n + base + taps - 1; ++v) {
            int64_t u = std::min(std::max(v, int64_t(0)), n - 1);  // clamp
            if (border == 1) {                                       // mirror: 0 … n−1, n−1 … 0
                u = ((v % (2 * n)) + 2 * n) % (2 * n);
                u = u < n ? u : 2 * n - 1 - u;
            }
            virt.push_back(int32_t(u));
        }
        bool ok = true;
        for (int64_t o = 0; o < t.m && ok; ++o) {
            std::vector<std::pair<int64_t, double>> a, b;
            for (int k = 0; k < p; ++k) a.emplace_back(idx[size_t(o * p + k)], w[size_t(o * p + k)]);
            for (int64_t k = 0; k < taps; ++k) b.emplace_back(virt[size_t(o / r + k)], wp[size_t((o % r) * taps + k)]);
            ok = same_map(a, b, scale);
        }
        if (!ok) continue;
        t.period = r;
        t.period_taps = int(taps);
        t.virt = std::move(virt);
        for (double v : wp) t.phase_w.push_back(float(v));
        return;
    }
}

}  // namespace

Taps make_taps(int64_t n, int64_t m, int p, const std::vector<int64_t> &idx, const std::vector<double> &w) {
    auto zero_column = [&](int k) {
        for (int64_t o = 0; o < m; ++o)
            if (w[size_t(o * p + k)] != 0.0) return false;
        return true;
    };
    int k0 = 0, k1 = p;  // kept columns [k0, k1)
    while (k1 - k0 > 1 && zero_column(k0)) ++k0;
    while (k1 - k0 > 1 && zero_column(k1 - 1)) --k1;
    Taps t;
    t.n = n;
    t.m = m;
    t.p = k1 - k0;
    std::vector<int64_t> kept_idx;
    std::vector<double> kept_w;
    for (int64_t o = 0; o < m; ++o)
        for (int k = k0; k < k1; ++k) {
            kept_idx.push_back(idx[size_t(o * p + k)]);
            kept_w.push_back(w[size_t(o * p + k)]);
            t.idx.push_back(int32_t(idx[size_t(o * p + k)]));
            t.w.push_back(float(w[size_t(o * p + k)]));
        }
    find_period(t, kept_idx, kept_w);
    return t;
}

std::unique_ptr<OpState> separable_state(const Shape &in, AxisTaps t, int threads) {
    Taps &th = t.h, &tw = t.w;
    auto s = std::make_unique<State>();
    Geometry &g = s->g;
    g.planes = in[0] * in[1];
    g.h = in[2];
    g.w = in[3];
    g.ho = th.m;
    g.wo = tw.m;
    g.columns_first = g.ho > g.h;
    int64_t per_band = g.columns_first ? kBandEnlarge : kBandShrink;
    int64_t bands = std::min(g.ho, std::max((g.ho + per_band - 1) / per_band, (kMinJobs + g.planes - 1) / g.planes));
    g.band = (g.ho + bands - 1) / bands;
    g.bands = (g.ho + g.band - 1) / g.band;
    size_t need = size_t(g.w);
    if (g.columns_first) {
        for (int64_t b = 0; b < g.bands; ++b) {
            int64_t lo = g.h, hi = -1;
            for (int64_t oy = b * g.band; oy < std::min(g.ho, (b + 1) * g.band); ++oy)
                for (int a = 0; a < th.p; ++a) {
                    lo = std::min<int64_t>(lo, th.idx[size_t(oy * th.p + a)]);
                    hi = std::max<int64_t>(hi, th.idx[size_t(oy * th.p + a)]);
                }
            g.span_lo.push_back(lo);
            g.span_hi.push_back(hi);
            need = std::max(need, size_t((hi - lo + 1) * g.wo));
        }
    }
    Scratch sc;
    sc.rows.resize(need);
    sc.pad.resize(tw.virt.size());
    sc.ptr.resize(size_t(th.p));
    s->scratch.assign(size_t(threads), sc);
    g.th = std::move(th);
    g.tw = std::move(tw);
    s->fn = job_fn(conv_isa());
    return s;
}

double parse_scale(const char *op, AttrReader &r) {
    const Json *s = r.take("scale");
    if (!s) attr_fail(op, "attribute 'scale' is required");
    if (!s->is_number() || !std::isfinite(s->number))
        attr_fail(op, "attribute scale=" + s->dump() + " must be a finite number");
    if (s->number <= 0) attr_fail(op, "attribute scale=" + s->dump() + " must be > 0");
    return s->number;
}

void parse_torch_resize(const char *op, const Json &j, Attrs &a) {
    AttrReader r(op, j);
    a.scale = parse_scale(op, r);
    a.align_corners = r.boolean("align_corners", false);
    r.finish();
}

Shape torch_resize_shape(const char *op, const Node &n, const std::vector<Shape> &in) {
    auto out_size = [](int64_t side, double scale) {
        double v = std::floor(double(side) * scale);
        return v > double(1ll << 40) ? (1ll << 40) : int64_t(v);
    };
    expect_count(op, in, 1);
    const Shape &s = expect_rank4(op, "input", in[0]);
    Shape out = {s[0], s[1], out_size(s[2], n.attrs.scale), out_size(s[3], n.attrs.scale)};
    if (out[2] < 1 || out[3] < 1)
        shape_fail(std::string(op) + ": scale " + std::to_string(n.attrs.scale) + " turns a " + std::to_string(s[2]) +
                   "×" + std::to_string(s[3]) + " input into an empty " + std::to_string(out[2]) + "×" +
                   std::to_string(out[3]) + " output");
    return out;
}

}  // namespace pysr
