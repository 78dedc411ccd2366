// Interface between ops/conv2d.cpp (attributes, shapes, weight packing, threading) and the
// ISA-specific tile kernels of ops/conv2d_gemm.cpp.
#pragma once

#include <cstdint>
#include <vector>

#include "../graph.hpp"

namespace pysr {

enum class Isa { Generic = 0, Avx2 = 1, Avx512 = 2 };

// The target attributes of the per-ISA copies of a kernel (conv2d_gemm, conv2d_winograd, conv2d_direct, separable,
// warp). gcc vectorises 256 bits wide even for AVX-512 unless told prefer-vector-width=512; clang rejects that key
// in target() and then drops the whole attribute (the "AVX-512" copy came out as SSE2), so under clang the width is
// min_vector_width(512), as clang's own intrinsic headers do it.
#if defined(__x86_64__) || defined(__i386__)
#if defined(__clang__)
#define PYSR_TARGET_AVX512 \
    __attribute__((target("avx512f,avx512vl,avx512bw,avx512dq,avx2,fma"), min_vector_width(512)))
#else
#define PYSR_TARGET_AVX512 \
    __attribute__((target("avx512f,avx512vl,avx512bw,avx512dq,avx2,fma,prefer-vector-width=512")))
#endif
#define PYSR_TARGET_AVX2 __attribute__((target("avx2,fma")))
#endif

constexpr int64_t kMaxTile = 512;  // most pixels per GEMM tile (panel width nt)

struct ConvGeom {
    int64_t n, cin, h, w, cout, ho, wo;
    int kh, kw, stride, ph, pw, groups, cpg, opg;
    PadMode pad;
    // epilogue: + bias → act → shuffle by r (1: none) → res + res_scale·y → clamp
    Act act;
    float alpha;
    int r;
    bool tf;
    bool residual;
    float res_scale;
    bool clamp;
    float lo, hi;
    int64_t out_c, out_h, out_w;  // final output
};

struct ConvPacked {
    Isa isa;
    int mr, nr;                // register block: mr output channels × nr pixels
    int64_t k;                 // cpg·kh·kw
    int64_t mblocks;           // ceil(opg / mr)
    int64_t nt;                // pixels per tile (panel width), a multiple of nr
    std::vector<float> w;      // [group][mblock][k][mr], zero padded past opg
    std::vector<float> bias;   // (cout,), zeros when the node has none
    std::vector<float> slope;  // (cout,) prelu slopes, else empty
};

// One tile: pixels [p0, p0 + np) (flattened oy·wo + ox, np <= nt) of image `img`, group `g`. `panel` is
// scratch of k·nt floats, 64-byte aligned. `res` is the residual input or nullptr.
using ConvTileFn = void (*)(const ConvGeom &, const ConvPacked &, const float *x, const float *res, float *out,
                            float *panel, int64_t img, int g, int64_t p0, int64_t np);

Isa conv_isa();                 // best supported by this CPU (PYSR_ISA=generic|avx2|avx512 lowers it)
void conv_block(Isa isa, int &mr, int &nr);
ConvTileFn conv_tile_fn(Isa isa);

}  // namespace pysr
