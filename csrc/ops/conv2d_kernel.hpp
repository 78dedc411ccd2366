// The pieces the conv2d paths (ops/conv2d_gemm.cpp, conv2d_winograd.cpp, conv2d_direct.cpp) share: the
// pad-mode index map, the register-blocked micro-kernel and the fused epilogue. Everything here is
// always_inline, so each ISA-targeted caller (target attributes, see conv2d_gemm.cpp) compiles its own
// AVX-512 / AVX2 / portable copy; include it only from those files.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "../math.hpp"
#include "conv2d_gemm.hpp"

#define PYSR_INLINE static inline __attribute__((always_inline))

namespace pysr {

// Source index of padded coordinate i (unpadded origin) along an axis of length n; −1 reads a zero.
PYSR_INLINE int64_t src_index(int64_t i, int64_t n, PadMode mode) {
    if (i >= 0 && i < n) return i;
    if (mode == PadMode::Zeros) return -1;
    if (mode == PadMode::Reflect) {
        int64_t j = i < 0 ? -i : 2 * (n - 1) - i;
        // beyond the padded border (Winograd's ragged last tile, a direct block's spare lanes read there;
        // no written output depends on it)
        return j >= 0 && j < n ? j : -1;
    }
    return i < 0 ? 0 : n - 1;
}

// out[m·ldo + q] = Σ_k w[k·MR + m] · panel[k·ldp + q] for m < MR, q < V·NV: the whole K sum in
// MR × NV vector registers, one broadcast of w per (k, m). `panel` rows must be 64-byte aligned for
// V = 16 (and V·4-byte aligned in general).
template <int V, int MR, int NV>
PYSR_INLINE void micro(const float *__restrict w, const float *__restrict panel, int64_t ldp, int64_t k_count,
                       float *__restrict out, int64_t ldo) {
    typedef float vf __attribute__((vector_size(V * 4)));
    vf acc[MR][NV];
#pragma GCC unroll 16
    for (int m = 0; m < MR; ++m)
#pragma GCC unroll 4
        for (int v = 0; v < NV; ++v) acc[m][v] = vf{};
    for (int64_t k = 0; k < k_count; ++k) {
        const vf *pr = reinterpret_cast<const vf *>(panel + k * ldp);
        vf p[NV];
#pragma GCC unroll 4
        for (int v = 0; v < NV; ++v) p[v] = pr[v];
        const float *wk = w + k * MR;
#pragma GCC unroll 16
        for (int m = 0; m < MR; ++m) {
            float wm = wk[m];
#pragma GCC unroll 4
            for (int v = 0; v < NV; ++v) acc[m][v] += wm * p[v];
        }
    }
#pragma GCC unroll 16
    for (int m = 0; m < MR; ++m)
#pragma GCC unroll 4
        for (int v = 0; v < NV; ++v) std::memcpy(out + m * ldo + v * V, &acc[m][v], sizeof(vf));
}

// Pixel shuffle: raw channel co is (c, i, j) of the r×r block (output channel c, row i, column j).
PYSR_INLINE void shuffle_place(const ConvGeom &g, int64_t co, int64_t &c, int64_t &i, int64_t &j) {
    const int r = g.r;
    if (g.tf) {
        int64_t kk = co / g.out_c;
        c = co % g.out_c;
        i = kk / r;
        j = kk % r;
    } else {
        c = co / (r * r);
        i = (co % (r * r)) / r;
        j = co % r;
    }
}

// The raw channel of (c, i, j): the inverse of shuffle_place.
PYSR_INLINE int64_t shuffle_channel(const ConvGeom &g, int64_t c, int64_t i, int64_t j) {
    return g.tf ? (i * g.r + j) * g.out_c + c : (c * g.r + i) * g.r + j;
}

// The epilogue of one finished row of `count` conv outputs of channel co (flattened pixels p … p+count−1,
// oy·wo + ox; may span rows when r = 1): + bias → activation → pixel shuffle to its place → residual +
// scale·y → clamp. `row` is overwritten. `slope` (prelu) may be nullptr for other activations.
PYSR_INLINE void store_row(const ConvGeom &g, const float *bias, const float *slope, float *__restrict row, int count,
                           int64_t co, int64_t img, int64_t p, const float *__restrict res, float *__restrict out) {
    float a = g.act == Act::Prelu ? slope[co] : g.alpha;
    activate_row(row, count, g.act, bias[co], a);
    const float rs = g.res_scale, lo = g.lo, hi = g.hi;
    if (g.r == 1) {
        int64_t base = (img * g.cout + co) * g.ho * g.wo + p;
        float *__restrict dst = out + base;
        if (g.residual) {
            const float *__restrict rr = res + base;
            for (int t = 0; t < count; ++t) row[t] = rr[t] + rs * row[t];
        }
        if (g.clamp)
            for (int t = 0; t < count; ++t) row[t] = min_f(max_f(row[t], lo), hi);
        for (int t = 0; t < count; ++t) dst[t] = row[t];
        return;
    }
    const int r = g.r;
    int64_t c, i, j;
    shuffle_place(g, co, c, i, j);
    const int64_t plane = (img * g.out_c + c) * g.out_h * g.out_w;
    int t = 0;
    while (t < count) {
        int64_t oy = (p + t) / g.wo, ox = (p + t) % g.wo;
        int seg = int(std::min<int64_t>(count - t, g.wo - ox));
        int64_t base = plane + (oy * r + i) * g.out_w + ox * r + j;
        float *__restrict dst = out + base;
        const float *__restrict rr = g.residual ? res + base : nullptr;
        for (int u = 0; u < seg; ++u) {
            float v = row[t + u];
            if (g.residual) v = rr[int64_t(u) * r] + rs * v;
            if (g.clamp) v = min_f(max_f(v, lo), hi);
            dst[int64_t(u) * r] = v;
        }
        t += seg;
    }
}

template <int R>
PYSR_INLINE void interleave(const float *const *rows, int count, float *__restrict line) {
    const float *__restrict r0 = rows[0];
    const float *__restrict r1 = rows[1];
    if constexpr (R == 2) {
        for (int u = 0; u < count; ++u) {
            line[2 * u] = r0[u];
            line[2 * u + 1] = r1[u];
        }
    } else {
        const float *__restrict r2 = rows[2];
        const float *__restrict r3 = rows[3];
        for (int u = 0; u < count; ++u) {
            line[4 * u] = r0[u];
            line[4 * u + 1] = r1[u];
            line[4 * u + 2] = r2[u];
            line[4 * u + 3] = r3[u];
        }
    }
}

// The epilogue of the r channels whose outputs land side by side after the pixel shuffle (one output
// channel c and row phase i; rows[j] holds channel shuffle_channel(c, i, j)'s `count` conv outputs at
// pixels p … p+count−1 of ONE conv output row): + bias → activation per channel, interleaved into `line`
// (count·r floats of scratch), then residual + scale·y → clamp and one contiguous store. The same values
// as r calls of store_row, which writes every r-th float (scalar stores: a sixth of conv3's time).
PYSR_INLINE void store_shuffled(const ConvGeom &g, const float *bias, const float *slope, float *const *rows,
                                int count, int64_t c, int64_t i, int64_t img, int64_t p, const float *__restrict res,
                                float *__restrict out, float *__restrict line) {
    const int r = g.r;
    for (int j = 0; j < r; ++j) {
        int64_t co = shuffle_channel(g, c, i, j);
        activate_row(rows[j], count, g.act, bias[co], g.act == Act::Prelu ? slope[co] : g.alpha);
    }
    if (r == 2) interleave<2>(rows, count, line);
    else if (r == 4) interleave<4>(rows, count, line);
    else
        for (int j = 0; j < r; ++j)
            for (int u = 0; u < count; ++u) line[u * r + j] = rows[j][u];
    const int64_t oy = p / g.wo, ox = p % g.wo, n = int64_t(count) * r;
    const int64_t base = ((img * g.out_c + c) * g.out_h + oy * r + i) * g.out_w + ox * r;
    const float rs = g.res_scale, lo = g.lo, hi = g.hi;
    if (g.residual) {
        const float *__restrict rr = res + base;
        for (int64_t t = 0; t < n; ++t) line[t] = rr[t] + rs * line[t];
    }
    if (g.clamp)
        for (int64_t t = 0; t < n; ++t) line[t] = min_f(max_f(line[t], lo), hi);
    float *__restrict dst = out + base;
    for (int64_t t = 0; t < n; ++t) dst[t] = line[t];
}

}  // namespace pysr
