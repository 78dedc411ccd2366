// conv2d as im2col-panel GEMM, one tile of output pixels at a time (no full-frame im2col buffer).
//
// What: for a tile of np ≤ nt output pixels (flattened oy·wo + ox, may span rows) of one image and
// group, the panel P[k][p] (k = (c·kh + i)·kw + j over the group's input channels, row length nt) holds
// the padded input pixel each tap reads; then out[co][p] = Σ_k W[co][k]·P[k][p] by a register-blocked
// micro-kernel (mr output channels × nr pixels of accumulators, the whole K sum in registers; mr channels
// × the whole tile per pass), and the fused epilogue (conv2d_kernel.hpp, shared with the Winograd and direct
// paths) writes each channel's np pixels: + bias → activation → pixel shuffle to its place → residual +
// scale·y → clamp.
// Layout: weights prepacked [group][mblock][k][mr] (one broadcast per channel and k); panel rows are
// 64-byte aligned (nt a multiple of 32) so the micro-kernel's vector loads are aligned.
// Memory: the panel (k·nt floats, sized ≤ 256 KiB by conv2d.cpp) stays in L2 while every mblock streams
// over it; a weight block (k·mr floats) stays in L1. Input is read ~kh·kw times from cache, output
// written once.
// ISA: the code below is one template compiled three times through target attributes (PYSR_TARGET_*,
// conv2d_gemm.hpp) — AVX-512 (16-float vectors, 8 × 32 block), AVX2+FMA (8-float, 6 × 16), and a portable
// fallback (4-float, 6 × 8; SSE2 on x86-64, whatever the compiler has elsewhere). The micro-kernel uses GCC
// vector extensions (clang has them too) so the accumulators stay in registers; the epilogue and panel loops
// are plain loops the compiler auto-vectorises.
// Threads: none here; conv2d.cpp hands tiles to the session's pool.
#include "conv2d_gemm.hpp"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <string>

#include "conv2d_kernel.hpp"

namespace pysr {

namespace {

PYSR_INLINE int64_t map_index(int64_t i, int64_t n, PadMode mode) {
    // reflect: no edge repeat (−1 → 1, n → n−2); the shape rule guarantees pad < n
    if (mode == PadMode::Reflect) return i < 0 ? -i : (i >= n ? 2 * (n - 1) - i : i);
    return i < 0 ? 0 : (i >= n ? n - 1 : i);  // replicate
}

// Panel rows for pixels [p0, p0+np) of one group: P[k][q], q < nt (zeros past np).
PYSR_INLINE void build_panel(const ConvGeom &g, int64_t nt, const float *__restrict x, int64_t img, int grp,
                             int64_t p0, int64_t np, float *__restrict panel) {
    const int s = g.stride;
    for (int c = 0; c < g.cpg; ++c) {
        const float *xc = x + ((img * g.cin + int64_t(grp) * g.cpg + c) * g.h) * g.w;
        for (int i = 0; i < g.kh; ++i) {
            for (int j = 0; j < g.kw; ++j) {
                float *__restrict dst = panel + ((int64_t(c) * g.kh + i) * g.kw + j) * nt;
                int64_t p = p0, q = 0;
                while (q < np) {
                    int64_t oy = p / g.wo, ox = p % g.wo;
                    int64_t seg = std::min(np - q, g.wo - ox);
                    int64_t iy = oy * s + i - g.ph;
                    float *d = dst + q;
                    if (iy < 0 || iy >= g.h) {
                        if (g.pad == PadMode::Zeros) {
                            for (int64_t t = 0; t < seg; ++t) d[t] = 0.0f;
                            q += seg;
                            p += seg;
                            continue;
                        }
                        iy = map_index(iy, g.h, g.pad);
                    }
                    const float *row = xc + iy * g.w;
                    int64_t ix0 = ox * s + j - g.pw;  // input column of the segment's first pixel
                    // interior: t in [t_lo, t_hi) reads columns inside [0, w)
                    int64_t t_lo = ix0 >= 0 ? 0 : (-ix0 + s - 1) / s;
                    int64_t t_hi = ix0 >= g.w ? 0 : (g.w - 1 - ix0) / s + 1;
                    t_lo = std::min(t_lo, seg);
                    t_hi = std::max(std::min(t_hi, seg), t_lo);
                    for (int64_t t = 0; t < t_lo; ++t)
                        d[t] = g.pad == PadMode::Zeros ? 0.0f : row[map_index(ix0 + t * s, g.w, g.pad)];
                    if (s == 1) {
                        const float *src = row + ix0;
                        for (int64_t t = t_lo; t < t_hi; ++t) d[t] = src[t];
                    } else {
                        for (int64_t t = t_lo; t < t_hi; ++t) d[t] = row[ix0 + t * s];
                    }
                    for (int64_t t = t_hi; t < seg; ++t)
                        d[t] = g.pad == PadMode::Zeros ? 0.0f : row[map_index(ix0 + t * s, g.w, g.pad)];
                    q += seg;
                    p += seg;
                }
                for (int64_t t = np; t < nt; ++t) dst[t] = 0.0f;
            }
        }
    }
}

template <int V, int MR, int NV>
PYSR_INLINE void tile(const ConvGeom &g, const ConvPacked &pk, const float *x, const float *res, float *out,
                      float *panel, int64_t img, int grp, int64_t p0, int64_t np) {
    constexpr int NR = V * NV;
    build_panel(g, pk.nt, x, img, grp, p0, np, panel);
    // mr channels × the whole tile, so the epilogue runs once per channel on rows of up to nt pixels
    // (per NR-pixel block it cost more than the micro-kernel on conv1-like layers)
    alignas(64) float acc[MR * kMaxTile];
    const float *wg = pk.w.data() + size_t(grp) * size_t(pk.mblocks) * size_t(pk.k) * MR;
    for (int64_t mb = 0; mb < pk.mblocks; ++mb) {
        for (int64_t n0 = 0; n0 < np; n0 += NR)
            micro<V, MR, NV>(wg + mb * pk.k * MR, panel + n0, pk.nt, pk.k, acc + n0, kMaxTile);
        for (int m = 0; m < MR; ++m) {
            int64_t cg = mb * MR + m;
            if (cg >= g.opg) break;
            store_row(g, pk.bias.data(), pk.slope.data(), acc + m * kMaxTile, int(np), int64_t(grp) * g.opg + cg,
                      img, p0, res, out);
        }
    }
}

#if defined(__x86_64__) || defined(__i386__)
PYSR_TARGET_AVX512 void tile_avx512(const ConvGeom &g, const ConvPacked &pk, const float *x, const float *res,
                                     float *out, float *panel, int64_t img, int grp, int64_t p0, int64_t np) {
    tile<16, 8, 2>(g, pk, x, res, out, panel, img, grp, p0, np);
}

PYSR_TARGET_AVX2 void tile_avx2(const ConvGeom &g, const ConvPacked &pk, const float *x, const float *res,
                                 float *out, float *panel, int64_t img, int grp, int64_t p0, int64_t np) {
    tile<8, 6, 2>(g, pk, x, res, out, panel, img, grp, p0, np);
}
#endif

void tile_generic(const ConvGeom &g, const ConvPacked &pk, const float *x, const float *res, float *out, float *panel,
                  int64_t img, int grp, int64_t p0, int64_t np) {
    tile<4, 6, 2>(g, pk, x, res, out, panel, img, grp, p0, np);
}

}  // namespace

Isa conv_isa() {
    Isa best = Isa::Generic;
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) best = Isa::Avx2;
    if (best == Isa::Avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
        __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq"))
        best = Isa::Avx512;
#endif
    if (const char *env = std::getenv("PYSR_ISA")) {
        std::string e = env;
        Isa want = e == "generic" ? Isa::Generic : e == "avx2" ? Isa::Avx2 : Isa::Avx512;
        if (int(want) < int(best)) best = want;
    }
    return best;
}

void conv_block(Isa isa, int &mr, int &nr) {
    switch (isa) {
        case Isa::Avx512: mr = 8; nr = 32; break;
        case Isa::Avx2: mr = 6; nr = 16; break;
        default: mr = 6; nr = 8; break;
    }
}

ConvTileFn conv_tile_fn(Isa isa) {
#if defined(__x86_64__) || defined(__i386__)
    if (isa == Isa::Avx512) return tile_avx512;
    if (isa == Isa::Avx2) return tile_avx2;
#else
    (void)isa;
#endif
    return tile_generic;
}

}  // namespace pysr
