// conv2d by Winograd F(4×4, 3×3) for 3×3, stride-1, groups-1 layers (any padding mode, any fused
// epilogue): the native twin of kernels/cpu/conv2d_winograd.py, same points, same dispatch rule.
//
// What: Y = Aᵀ [ (G g Gᵀ) ⊙ (Bᵀ d B) ] A per 6×6 input tile d → 4×4 outputs, interpolation points
// 0, −1, 1, ½, −2 (and ∞); with those points the float32 error stays within a small multiple of a
// direct convolution's (bench/NOTES.md "Accuracy"). U = G g Gᵀ is computed once in float64 at prepare.
// One job = a block of TT = 64 consecutive tiles in (image, tile row, tile column) order, usually one
// segment of a tile row, sometimes the end of one and the start of the next (no lanes wasted on ragged
// rows):
//   1. input transform per input channel: the 6 input rows of a segment, padded through the pad-mode
//      index map and split into 4 phases (column mod 4) while copying, so that Bᵀ along the rows reads
//      six contiguous vectors of tiles; then Bᵀ down the columns → V[ξ][ci][tile]. The rows of the
//      channel two ahead are prefetched meanwhile;
//   2. per chunk of ≤ 32 output channels: 36 GEMMs M[ξ] = U[ξ] · V[ξ] (chunk × Cin by Cin × 64) with
//      conv2d_kernel.hpp's register micro-kernel (AVX-512: 8 channels × 32 tiles; per ξ the V slice,
//      Cin·64 floats, is reused from L1 by every channel block);
//   3. then the chunk's output transform per channel: Aᵀ M A for the 64 tiles into four output rows of
//      256 pixels, and conv2d_kernel.hpp's fused epilogue (bias → activation → pixel shuffle to its place,
//      the r channels of a shuffled row stored interleaved → residual + scale·y → clamp).
// Layout: U packed [ξ][channel block][ci][MR]; V [ξ][Cin + 1][64], M [ξ][chunk + 1][64] per thread: the
// spare row keeps the ξ stride off multiples of 4 KiB (36 rows a transform touches in one L1 set made the
// numba twin's input transform 4× slower).
// Memory: input read ≈ 1.5× (tile rows overlap by 2 of 6 rows), output written once; V (36·65·64 floats
// for Cin = 64: 600 KiB) and M (≤ 300 KiB) stay in L2; U (36·Cout·Cin floats) is re-read from L2 per block.
// Arithmetic: 36·Cin·Cout multiply-adds per 16 outputs (4× fewer than direct) plus the transforms.
// ISA: one template compiled three times through target attributes (as conv2d_gemm.cpp), picked at
// prepare by conv_isa(). Threads: the session's pool hands out blocks (dynamic schedule); each thread
// owns one scratch area.
#include "conv2d_winograd.hpp"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>

#include "../threads.hpp"
#include "conv2d_kernel.hpp"

namespace pysr {

namespace {

constexpr int TT = 64;       // tiles per block (a multiple of every ISA's micro-kernel width)
constexpr int PS = TT + 16;  // stride of the four phase rows (tn + 1 ≤ 65 entries each)
// Channels per GEMM + output-transform pass: M (36 × chunk × 64 floats, 295 KiB for 32) stays in L2 with V
// however wide the layer (Cout = 128 made M 1.2 MiB per thread).
constexpr int64_t kChunkChannels = 32;
constexpr int kMaxShuffle = 16;  // pixel shuffle factors above this take the per-channel store_row

struct Seg {
    int64_t n, ty, tx, t0, tn;  // image, tile row, first tile column, first lane, tiles
};

struct Plan {
    ConvGeom g;
    int mr = 0;
    int64_t cblocks = 0;         // ⌈cout / mr⌉
    int64_t chunk = 0;           // channel blocks per GEMM + output pass (M holds chunk·mr channels)
    int64_t vrows = 0, mrows = 0;  // rows per ξ of V (cin + 1) and M (chunk·mr + 1)
    int64_t nty = 0, ntx = 0, tiles = 0, blocks = 0;
    std::vector<float> u;        // [36][cblock][cin][mr]
    std::vector<float> bias, slope;
    // V, M, Bᵀ rows, phase rows, Aᵀ columns, r channels' output rows, one interleaved output row
    int64_t scratch_floats() const {
        int64_t r = g.r <= kMaxShuffle ? g.r : 1;
        return 36 * (vrows + mrows) * TT + 36 * TT + 4 * PS + 24 * TT + 16 * TT * r + 4 * TT * r;
    }
};

using BlockFn = void (*)(const Plan &, const float *x, const float *res, float *out, float *scratch, int64_t blk);

// Bᵀ d for one column (or row) of six values, with shared sub-expressions.
PYSR_INLINE void bt6(float d0, float d1, float d2, float d3, float d4, float d5, float &v0, float &v1, float &v2,
                     float &v3, float &v4, float &v5) {
    float p = d4 - d2, e = d3 - d1;
    v0 = d0 + d4 - 1.5f * d1 - 2.0f * d2 + 1.5f * d3;
    v1 = p + d1 - 1.5f * d2 + 0.5f * d3;
    v2 = p - d1 + 1.5f * d2 + 2.5f * d3;
    v3 = p + 2.0f * e;
    v4 = p - 0.5f * e;
    v5 = d1 + d5 - 1.5f * d2 - 2.0f * d3 + 1.5f * d4;
}

// Aᵀ m for six values → four.
PYSR_INLINE void at4(float m0, float m1, float m2, float m3, float m4, float m5, float &y0, float &y1, float &y2,
                     float &y3) {
    float s = m1 + m2, d = m2 - m1;
    y0 = m0 + s + m3 + m4;
    y1 = d + 0.5f * m3 - 2.0f * m4;
    y2 = s + 0.25f * m3 + 4.0f * m4;
    y3 = d + 0.125f * m3 - 8.0f * m4 + m5;
}

// The transforms over n lanes, one pointer per stream: with every stream its own restrict pointer gcc
// vectorises the loops (strided offsets from one pointer made it give up on the column passes).
PYSR_INLINE void bt6_lanes(const float *__restrict d0, const float *__restrict d1, const float *__restrict d2,
                           const float *__restrict d3, const float *__restrict d4, const float *__restrict d5,
                           float *__restrict v0, float *__restrict v1, float *__restrict v2, float *__restrict v3,
                           float *__restrict v4, float *__restrict v5, int64_t n) {
    for (int64_t t = 0; t < n; ++t)
        bt6(d0[t], d1[t], d2[t], d3[t], d4[t], d5[t], v0[t], v1[t], v2[t], v3[t], v4[t], v5[t]);
}

PYSR_INLINE void at4_lanes(const float *__restrict m0, const float *__restrict m1, const float *__restrict m2,
                           const float *__restrict m3, const float *__restrict m4, const float *__restrict m5,
                           float *__restrict y0, float *__restrict y1, float *__restrict y2, float *__restrict y3) {
    for (int t = 0; t < TT; ++t) at4(m0[t], m1[t], m2[t], m3[t], m4[t], m5[t], y0[t], y1[t], y2[t], y3[t]);
}

// V[ξ][·][t] for the tn tiles of one segment and one input channel: `xc` is the channel's plane, `v` points
// at lane t0 of row ci of ξ = 0 (ξ stride vx floats).
PYSR_INLINE void input_tiles(const ConvGeom &g, const float *__restrict xc, int64_t ty, int64_t tx0, int64_t tn,
                             float *__restrict prow, float *__restrict hb, float *__restrict v, int64_t vx) {
    const int64_t base = 4 * tx0 - g.pw;  // padded column of lane 0's first input column
    // lanes whose four columns base + 4t … base + 4t + 3 all lie inside the row
    int64_t t_lo = base >= 0 ? 0 : (-base + 3) / 4;
    int64_t t_hi = g.w - 4 - base >= 0 ? (g.w - 4 - base) / 4 + 1 : 0;
    t_lo = std::min(t_lo, tn + 1);
    t_hi = std::max(std::min(t_hi, tn + 1), t_lo);
    for (int i = 0; i < 6; ++i) {
        int64_t iy = src_index(4 * ty + i - g.ph, g.h, g.pad);
        if (iy < 0) {
            for (int p = 0; p < 4; ++p)
                for (int64_t t = 0; t <= tn; ++t) prow[p * PS + t] = 0.0f;
        } else {
            const float *__restrict row = xc + iy * g.w;
            for (int64_t t = 0; t < t_lo; ++t)
                for (int p = 0; p < 4; ++p) {
                    int64_t j = src_index(base + 4 * t + p, g.w, g.pad);
                    prow[p * PS + t] = j >= 0 ? row[j] : 0.0f;
                }
            // the phase split: prow[p][t] = row[base + 4t + p], so the row transform reads whole vectors
            const float *__restrict src = row + base;
            for (int64_t t = t_lo; t < t_hi; ++t) {
                prow[t] = src[4 * t];
                prow[PS + t] = src[4 * t + 1];
                prow[2 * PS + t] = src[4 * t + 2];
                prow[3 * PS + t] = src[4 * t + 3];
            }
            for (int64_t t = t_hi; t <= tn; ++t)
                for (int p = 0; p < 4; ++p) {
                    int64_t j = src_index(base + 4 * t + p, g.w, g.pad);
                    prow[p * PS + t] = j >= 0 ? row[j] : 0.0f;
                }
        }
        float *h = hb + i * 6 * TT;
        bt6_lanes(prow, prow + PS, prow + 2 * PS, prow + 3 * PS, prow + 1, prow + PS + 1, h, h + TT, h + 2 * TT,
                  h + 3 * TT, h + 4 * TT, h + 5 * TT, tn);
    }
    // Bᵀ down the columns, straight into V
    for (int b = 0; b < 6; ++b) {
        const float *h = hb + b * TT;
        float *o = v + b * vx;
        bt6_lanes(h, h + 6 * TT, h + 12 * TT, h + 18 * TT, h + 24 * TT, h + 30 * TT, o, o + 6 * vx, o + 12 * vx,
                  o + 18 * vx, o + 24 * vx, o + 30 * vx, tn);
    }
}

// Asks for the input a later channel's input_tiles will read (6 rows of ≈ 4·tn floats). NOTE: without it
// the first touch of each row segment (1 KiB, too short for the hardware prefetcher to ramp up on 64
// channel planes) waits on DRAM: a quarter of conv2's time went to the loads of the phase split.
constexpr int64_t kAhead = 2;  // channels ahead
PYSR_INLINE void prefetch_rows(const ConvGeom &g, const float *xc, int64_t ty, int64_t tx0, int64_t tn) {
    int64_t c0 = std::max<int64_t>(4 * tx0 - g.pw, 0), c1 = std::min<int64_t>(4 * (tx0 + tn) + 2 - g.pw, g.w);
    for (int i = 0; i < 6; ++i) {
        int64_t iy = 4 * ty + i - g.ph;
        if (iy < 0 || iy >= g.h || c0 >= c1) continue;  // padding rows: a mapped row is read anyway
        const float *row = xc + iy * g.w;
        for (int64_t c = c0; c < c1; c += 16) __builtin_prefetch(row + c, 0, 3);
        __builtin_prefetch(row + c1 - 1, 0, 3);
    }
}

// Aᵀ M A of output channel co for all TT lanes: rows[i][4t + j] = output (4·ty + i, 4·tx + j) of lane t.
PYSR_INLINE void output_tiles(const float *m, int64_t mx, float *z, float *__restrict rows) {
    for (int b = 0; b < 6; ++b) {
        const float *mb = m + b * mx;
        float *zb = z + b * TT;
        at4_lanes(mb, mb + 6 * mx, mb + 12 * mx, mb + 18 * mx, mb + 24 * mx, mb + 30 * mx, zb, zb + 6 * TT,
                  zb + 12 * TT, zb + 18 * TT);
    }
    for (int i = 0; i < 4; ++i) {
        const float *__restrict zi = z + i * 6 * TT;
        float *__restrict r = rows + i * 4 * TT;
        for (int t = 0; t < TT; ++t)
            at4(zi[t], zi[TT + t], zi[2 * TT + t], zi[3 * TT + t], zi[4 * TT + t], zi[5 * TT + t], r[4 * t],
                r[4 * t + 1], r[4 * t + 2], r[4 * t + 3]);
    }
}

template <int V, int MR, int NV>
PYSR_INLINE void block(const Plan &P, const float *x, const float *res, float *out, float *scratch, int64_t blk) {
    constexpr int NR = V * NV;
    const ConvGeom &g = P.g;
    const int64_t cin = g.cin, vx = P.vrows * TT, mx = P.mrows * TT;
    float *vb = scratch, *mb = vb + 36 * vx, *hb = mb + 36 * mx, *prow = hb + 36 * TT, *z = prow + 4 * PS;
    float *rows = z + 24 * TT;
    Seg segs[TT];
    int nseg = 0;
    const int64_t first = blk * TT, last = std::min(first + TT, P.tiles);
    for (int64_t q = first; q < last;) {
        int64_t n = q / (P.nty * P.ntx), r = q % (P.nty * P.ntx);
        int64_t ty = r / P.ntx, tx = r % P.ntx, tn = std::min(P.ntx - tx, last - q);
        segs[nseg++] = {n, ty, tx, q - first, tn};
        q += tn;
    }
    for (int s = 0; s < nseg; ++s) {
        const Seg &sg = segs[s];
        const float *xn = x + sg.n * cin * g.h * g.w;
        for (int64_t ci = 0; ci < cin; ++ci) {
            if (ci + kAhead < cin) prefetch_rows(g, xn + (ci + kAhead) * g.h * g.w, sg.ty, sg.tx, sg.tn);
            input_tiles(g, xn + ci * g.h * g.w, sg.ty, sg.tx, sg.tn, prow, hb, vb + ci * TT + sg.t0, vx);
        }
    }
    // lanes past the last tile keep whatever the previous block left (finite: scratch starts zeroed)
    const int64_t used = (last - first + NR - 1) / NR * NR;
    const float *u = P.u.data();
    const bool shuffled = g.r > 1 && g.r <= kMaxShuffle;
    float *line = shuffled ? rows + 16 * TT * g.r : nullptr;  // one interleaved output row
    float *rj[kMaxShuffle];
    // channel blocks [cb0, cb1): GEMM for all 36 ξ into M, then the output transform of those channels
    for (int64_t cb0 = 0; cb0 < P.cblocks; cb0 += P.chunk) {
        const int64_t cb1 = std::min(cb0 + P.chunk, P.cblocks), co0 = cb0 * MR, co1 = std::min(cb1 * MR, g.cout);
        for (int xi = 0; xi < 36; ++xi)
            for (int64_t n0 = 0; n0 < used; n0 += NR)
                for (int64_t cb = cb0; cb < cb1; ++cb)
                    micro<V, MR, NV>(u + (xi * P.cblocks + cb) * cin * MR, vb + xi * vx + n0, TT, cin,
                                     mb + xi * mx + (cb - cb0) * MR * TT + n0, TT);
        if (!shuffled) {
            for (int64_t co = co0; co < co1; ++co) {
                output_tiles(mb + (co - co0) * TT, mx, z, rows);
                for (int s = 0; s < nseg; ++s) {
                    const Seg &sg = segs[s];
                    int count = int(std::min(4 * sg.tn, g.wo - 4 * sg.tx));
                    int64_t nrow = std::min<int64_t>(4, g.ho - 4 * sg.ty);
                    for (int64_t i = 0; i < nrow; ++i)
                        store_row(g, P.bias.data(), P.slope.data(), rows + i * 4 * TT + 4 * sg.t0, count, co, sg.n,
                                  (4 * sg.ty + i) * g.wo + 4 * sg.tx, res, out);
                }
            }
            continue;
        }
        // pixel shuffle: the r channels of group q = c·r + i share output rows; they are transformed together
        // and stored interleaved. A chunk holds whole groups (winograd_prepare: one chunk, or pytorch order
        // with chunks of a multiple of r channels, where group q is channels q·r … q·r + r − 1).
        for (int64_t q = co0 / g.r; q < co1 / g.r; ++q) {
            const int64_t c = q / g.r, i = q % g.r;
            for (int j = 0; j < g.r; ++j)
                output_tiles(mb + (shuffle_channel(g, c, i, j) - co0) * TT, mx, z, rows + 16 * TT * j);
            for (int s = 0; s < nseg; ++s) {
                const Seg &sg = segs[s];
                int count = int(std::min(4 * sg.tn, g.wo - 4 * sg.tx));
                int64_t nrow = std::min<int64_t>(4, g.ho - 4 * sg.ty);
                for (int64_t y = 0; y < nrow; ++y) {
                    for (int j = 0; j < g.r; ++j) rj[j] = rows + 16 * TT * j + y * 4 * TT + 4 * sg.t0;
                    store_shuffled(g, P.bias.data(), P.slope.data(), rj, count, c, i, sg.n,
                                   (4 * sg.ty + y) * g.wo + 4 * sg.tx, res, out, line);
                }
            }
        }
    }
}

#if defined(__x86_64__) || defined(__i386__)
PYSR_TARGET_AVX512 void block_avx512(const Plan &P, const float *x, const float *res, float *out, float *scratch,
                                      int64_t blk) {
    block<16, 8, 2>(P, x, res, out, scratch, blk);
}

PYSR_TARGET_AVX2 void block_avx2(const Plan &P, const float *x, const float *res, float *out, float *scratch,
                                  int64_t blk) {
    block<8, 6, 2>(P, x, res, out, scratch, blk);
}
#endif

void block_generic(const Plan &P, const float *x, const float *res, float *out, float *scratch, int64_t blk) {
    block<4, 6, 2>(P, x, res, out, scratch, blk);
}

struct State : OpState {
    Plan plan;
    BlockFn fn = nullptr;
    std::vector<float *> scratch;  // per thread, 64-byte aligned
    ~State() override {
        for (float *p : scratch) std::free(p);
    }
    void run(const float *const *in, float *const *out, ThreadPool &pool) override {
        const float *res = plan.g.residual ? in[1] : nullptr;
        pool.parallel_for(plan.blocks,
                          [&](int64_t blk, int t) { fn(plan, in[0], res, out[0], scratch[size_t(t)], blk); });
    }
};

// The 1-D matrix G of the points 0, −1, 1, ½, −2, ∞ (kernels/cpu/conv2d_winograd.py derives it).
constexpr double kG[6][3] = {{1, 0, 0},
                             {-1.0 / 3, 1.0 / 3, -1.0 / 3},
                             {1.0 / 3, 1.0 / 3, 1.0 / 3},
                             {-16.0 / 15, -8.0 / 15, -4.0 / 15},
                             {1.0 / 15, -2.0 / 15, 4.0 / 15},
                             {0, 0, 1}};

}  // namespace

bool winograd_fits(const ConvGeom &g) {
    return g.kh == 3 && g.kw == 3 && g.stride == 1 && g.groups == 1 && g.cpg >= 8 && g.cout >= 4;
}

std::unique_ptr<OpState> winograd_prepare(const ConvGeom &g, const float *weight, std::vector<float> bias,
                                          std::vector<float> slope, int threads) {
    auto s = std::make_unique<State>();
    Plan &P = s->plan;
    P.g = g;
    Isa isa = conv_isa();
    int nr = 0;
    conv_block(isa, P.mr, nr);
    P.cblocks = (g.cout + P.mr - 1) / P.mr;
    P.chunk = std::max<int64_t>(1, kChunkChannels / P.mr);
    bool whole_groups = g.r == 1 || g.r > kMaxShuffle || (!g.tf && P.chunk * P.mr % g.r == 0);
    if (!whole_groups || P.chunk > P.cblocks) P.chunk = P.cblocks;
    P.vrows = g.cin + 1;
    P.mrows = P.chunk * P.mr + 1;
    P.nty = (g.ho + 3) / 4;
    P.ntx = (g.wo + 3) / 4;
    P.tiles = g.n * P.nty * P.ntx;
    P.blocks = (P.tiles + TT - 1) / TT;
    P.bias = std::move(bias);
    P.slope = std::move(slope);
    P.u.assign(size_t(36 * P.cblocks * g.cin * P.mr), 0.0f);
    for (int64_t co = 0; co < g.cout; ++co)
        for (int64_t ci = 0; ci < g.cin; ++ci) {
            const float *w = weight + (co * g.cin + ci) * 9;
            double gw[6][3];  // G·w
            for (int a = 0; a < 6; ++a)
                for (int l = 0; l < 3; ++l)
                    gw[a][l] = kG[a][0] * w[l] + kG[a][1] * w[3 + l] + kG[a][2] * w[6 + l];
            int64_t cb = co / P.mr, m = co % P.mr;
            for (int a = 0; a < 6; ++a)
                for (int b = 0; b < 6; ++b) {
                    double uab = gw[a][0] * kG[b][0] + gw[a][1] * kG[b][1] + gw[a][2] * kG[b][2];
                    P.u[size_t((((a * 6 + b) * P.cblocks + cb) * g.cin + ci) * P.mr + m)] = float(uab);
                }
        }
#if defined(__x86_64__) || defined(__i386__)
    s->fn = isa == Isa::Avx512 ? block_avx512 : isa == Isa::Avx2 ? block_avx2 : block_generic;
#else
    s->fn = block_generic;
#endif
    size_t bytes = (size_t(P.scratch_floats()) * sizeof(float) + 63) / 64 * 64;
    for (int t = 0; t < threads; ++t) {
        void *p = std::aligned_alloc(64, bytes);
        if (!p) throw std::bad_alloc();
        std::memset(p, 0, bytes);
        s->scratch.push_back(static_cast<float *>(p));
    }
    return s;
}

}  // namespace pysr
