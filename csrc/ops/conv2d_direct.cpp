// conv2d for stride-1, groups-1 layers with few output channels (Cout ≤ 4: an image head 32→1, a flow head
// 32→2, RGB out 4→3), reading the input in place: the native twin of kernels/cpu/conv2d_direct.py, same rule.
//
// Why: the GEMM path's im2col panel copies Cin·kh·kw values per output pixel, and with one channel block
// reading it that copy costs as much as the multiply-adds (F-EDSR's 32→1 head at 1280×720: 2.6× the numba
// direct kernel's time). Here the micro-kernel reads every tap's row segment where it lies:
//     acc[m][t] += w[m, ci, ky, kx] · x[n, ci, iy(oy + ky − ph), x0 + t + kx − pw]
// through a table of Cin·kh·kw row pointers built per task, MR = 1, 2 or 4 channels (3 pads to 4) × NR pixels
// of accumulators in registers (AVX-512: 4 × 64, 2 × 128, 1 × 256; AVX2 and portable: a quarter as many).
// One task = one output row × one block of NR pixels. Rows outside the image point at a zero row (zeros)
// or go through the pad-mode index map; a block whose taps leave the row (the left and right edges, a ragged
// last block) first copies its Cin·kh padded row segments (NR + kw − 1 values) into a per-thread strip.
// Then conv2d_kernel.hpp's fused epilogue writes each channel's row.
// Threads: the session's pool hands out tasks in (image, row, block) order, so neighbouring tasks share
// their input rows in L2. Traffic: input rows read kh·kw times from cache, output written once.
// ISA: one template compiled three times through target attributes (as conv2d_gemm.cpp).
#include "conv2d_direct.hpp"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>

#include "../threads.hpp"
#include "conv2d_kernel.hpp"

namespace pysr {

namespace {

struct Plan {
    ConvGeom g;
    int mr = 0, nr = 0;            // channels (1, 2, 4) and pixels per block
    int64_t k = 0;                 // taps: cin·kh·kw
    int64_t blocks = 0, tasks = 0;  // blocks per row; n·ho·blocks
    std::vector<float> w;          // [k][mr], zero padded past cout
    std::vector<float> bias, slope;
    int64_t strip() const { return nr + g.kw - 1; }
    // tap pointers (as floats' worth of bytes, generously), strips, zero row, accumulators
    int64_t scratch_floats() const { return 2 * k + 16 + g.cin * g.kh * strip() + strip() + 16 + mr * nr; }
};

using TaskFn = void (*)(const Plan &, const float *x, const float *res, float *out, float *scratch, int64_t task);

// out[m·ldo + q] = Σ_k w[k·MR + m] · taps[k][q]: micro (conv2d_kernel.hpp) with one row pointer per tap
// instead of a panel stride; unaligned loads.
template <int V, int MR, int NV>
PYSR_INLINE void micro_taps(const float *__restrict w, const float *const *__restrict taps, int64_t k_count,
                            float *__restrict out, int64_t ldo) {
    typedef float vf __attribute__((vector_size(V * 4)));
    vf acc[MR][NV];
#pragma GCC unroll 16
    for (int m = 0; m < MR; ++m)
#pragma GCC unroll 16
        for (int v = 0; v < NV; ++v) acc[m][v] = vf{};
    for (int64_t k = 0; k < k_count; ++k) {
        const float *pr = taps[k];
        vf p[NV];
#pragma GCC unroll 16
        for (int v = 0; v < NV; ++v) std::memcpy(&p[v], pr + v * V, sizeof(vf));
        const float *wk = w + k * MR;
#pragma GCC unroll 4
        for (int m = 0; m < MR; ++m) {
            float wm = wk[m];
#pragma GCC unroll 16
            for (int v = 0; v < NV; ++v) acc[m][v] += wm * p[v];
        }
    }
#pragma GCC unroll 4
    for (int m = 0; m < MR; ++m)
#pragma GCC unroll 16
        for (int v = 0; v < NV; ++v) std::memcpy(out + m * ldo + v * V, &acc[m][v], sizeof(vf));
}

template <int V, int MR, int NV>
PYSR_INLINE void task(const Plan &P, const float *x, const float *res, float *out, float *scratch, int64_t t) {
    constexpr int NR = V * NV;
    const ConvGeom &g = P.g;
    const int64_t sw = P.strip();
    const float **taps = reinterpret_cast<const float **>(scratch);
    float *strips = scratch + 2 * P.k + 16, *zero = strips + g.cin * g.kh * sw, *acc = zero + sw + 16;
    const int64_t blk = t % P.blocks, oy = (t / P.blocks) % g.ho, img = t / (P.blocks * g.ho);
    const int64_t x0 = blk * NR, np = std::min<int64_t>(NR, g.wo - x0);
    const int64_t c0 = x0 - g.pw;  // input column of lane 0's first tap
    const bool inside = c0 >= 0 && c0 + sw <= g.w;
    for (int64_t ci = 0; ci < g.cin; ++ci)
        for (int ky = 0; ky < g.kh; ++ky) {
            int64_t iy = src_index(oy + ky - g.ph, g.h, g.pad);
            const float *row = iy >= 0 ? x + ((img * g.cin + ci) * g.h + iy) * g.w : nullptr;
            const float *base;
            if (!row) {
                base = zero;
            } else if (inside) {
                base = row + c0;
            } else {
                float *s = strips + (ci * g.kh + ky) * sw;
                for (int64_t u = 0; u < sw; ++u) {
                    int64_t j = src_index(c0 + u, g.w, g.pad);
                    s[u] = j >= 0 ? row[j] : 0.0f;
                }
                base = s;
            }
            const float **tk = taps + (ci * g.kh + ky) * g.kw;
            for (int kx = 0; kx < g.kw; ++kx) tk[kx] = base + kx;
        }
    micro_taps<V, MR, NV>(P.w.data(), taps, P.k, acc, NR);
    for (int64_t co = 0; co < g.cout; ++co)
        store_row(g, P.bias.data(), P.slope.data(), acc + co * NR, int(np), co, img, oy * g.wo + x0, res, out);
}

// One entry per (ISA, MR); NV chosen so MR × NV accumulators fill the register file (16 zmm; 8 ymm / xmm).
#if defined(__x86_64__) || defined(__i386__)
PYSR_TARGET_AVX512 void task_avx512_1(const Plan &P, const float *x, const float *r, float *o, float *s, int64_t t) {
    task<16, 1, 16>(P, x, r, o, s, t);
}
PYSR_TARGET_AVX512 void task_avx512_2(const Plan &P, const float *x, const float *r, float *o, float *s, int64_t t) {
    task<16, 2, 8>(P, x, r, o, s, t);
}
PYSR_TARGET_AVX512 void task_avx512_4(const Plan &P, const float *x, const float *r, float *o, float *s, int64_t t) {
    task<16, 4, 4>(P, x, r, o, s, t);
}
PYSR_TARGET_AVX2 void task_avx2_1(const Plan &P, const float *x, const float *r, float *o, float *s, int64_t t) {
    task<8, 1, 8>(P, x, r, o, s, t);
}
PYSR_TARGET_AVX2 void task_avx2_2(const Plan &P, const float *x, const float *r, float *o, float *s, int64_t t) {
    task<8, 2, 4>(P, x, r, o, s, t);
}
PYSR_TARGET_AVX2 void task_avx2_4(const Plan &P, const float *x, const float *r, float *o, float *s, int64_t t) {
    task<8, 4, 2>(P, x, r, o, s, t);
}
#endif
void task_generic_1(const Plan &P, const float *x, const float *r, float *o, float *s, int64_t t) {
    task<4, 1, 8>(P, x, r, o, s, t);
}
void task_generic_2(const Plan &P, const float *x, const float *r, float *o, float *s, int64_t t) {
    task<4, 2, 4>(P, x, r, o, s, t);
}
void task_generic_4(const Plan &P, const float *x, const float *r, float *o, float *s, int64_t t) {
    task<4, 4, 2>(P, x, r, o, s, t);
}

// The kernel and its block (mr channels × nr pixels) for an ISA and a channel count.
TaskFn pick(Isa isa, int64_t cout, int &mr, int &nr) {
    mr = cout == 1 ? 1 : cout == 2 ? 2 : 4;
    int v = 4;
    TaskFn fn = mr == 1 ? task_generic_1 : mr == 2 ? task_generic_2 : task_generic_4;
#if defined(__x86_64__) || defined(__i386__)
    if (isa == Isa::Avx512) {
        v = 16;
        fn = mr == 1 ? task_avx512_1 : mr == 2 ? task_avx512_2 : task_avx512_4;
    } else if (isa == Isa::Avx2) {
        v = 8;
        fn = mr == 1 ? task_avx2_1 : mr == 2 ? task_avx2_2 : task_avx2_4;
    }
#else
    (void)isa;
#endif
    nr = v * (isa == Isa::Avx512 ? 16 : 8) / mr;
    return fn;
}

struct State : OpState {
    Plan plan;
    TaskFn fn = nullptr;
    std::vector<float *> scratch;  // per thread, 64-byte aligned
    ~State() override {
        for (float *p : scratch) std::free(p);
    }
    void run(const float *const *in, float *const *out, ThreadPool &pool) override {
        const float *res = plan.g.residual ? in[1] : nullptr;
        pool.parallel_for(plan.tasks, [&](int64_t t, int th) { fn(plan, in[0], res, out[0], scratch[size_t(th)], t); });
    }
};

}  // namespace

bool direct_fits(const ConvGeom &g) { return g.stride == 1 && g.groups == 1 && g.cout <= kDirectMaxCout; }

std::unique_ptr<OpState> direct_prepare(const ConvGeom &g, const float *weight, std::vector<float> bias,
                                        std::vector<float> slope, int threads) {
    auto s = std::make_unique<State>();
    Plan &P = s->plan;
    P.g = g;
    s->fn = pick(conv_isa(), g.cout, P.mr, P.nr);
    P.k = g.cin * g.kh * g.kw;
    P.blocks = (g.wo + P.nr - 1) / P.nr;
    P.tasks = g.n * g.ho * P.blocks;
    P.bias = std::move(bias);
    P.slope = std::move(slope);
    P.w.assign(size_t(P.k * P.mr), 0.0f);
    for (int64_t co = 0; co < g.cout; ++co)
        for (int64_t k = 0; k < P.k; ++k) P.w[size_t(k * P.mr + co)] = weight[co * P.k + k];
    size_t bytes = (size_t(P.scratch_floats()) * sizeof(float) + 63) / 64 * 64;
    for (int t = 0; t < threads; ++t) {
        void *p = std::aligned_alloc(64, bytes);
        if (!p) throw std::bad_alloc();
        std::memset(p, 0, bytes);  // the zero row stays zero: nothing writes it
        s->scratch.push_back(static_cast<float *>(p));
    }
    return s;
}

}  // namespace pysr
