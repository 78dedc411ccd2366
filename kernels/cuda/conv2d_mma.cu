// conv2d on tensor cores: implicit GEMM with mma.sync (sm_80 and newer), for groups = 1 and any kernel, stride,
// padding and pad mode; the fused epilogue of conv2d_epilogue.cuh. Follows pysr/ops/conv2d.py; the products are
// rounded to the tensor-core input type, so it meets the fp16 / bf16 / tf32 tolerances of
// tests/test_cuda_backend.py, not the float32 one (conv2d.cu is the float32 path).
//
// The GEMM: out[m, co] = Σ_k A[m, k]·B[k, co] with m = (n, oy, ox) over the N·Ho·Wo raw output pixels,
// k = (ci, ky, kx) over K = Cin·kh·kw, A[m, k] = x[n, ci, oy·s − ph + ky, ox·s − pw + kx] gathered on the fly
// (border rule by pad_index, zero past K or M; no im2col buffer) and B[k, co] = w[co, ci, ky, kx], which the host
// prepacks once as wB (Coutp × Kp) in the storage type: the weight tensor itself reshaped to (Cout, K), zero-padded
// to Kp = 16·⌈K/16⌉ columns and Coutp = BN·⌈Cout/BN⌉ rows, so B tiles need no bounds checks.
//
// Tiles: a block of 128 threads (4 warps) computes BM = 128 pixels × BN output channels, BN ∈ {16, 32, 64} chosen
// by the host as the smallest that holds Cout (SR layers have 1-64 output channels: 16 for ESPCN ×4's last conv,
// 32/64 for the bodies), so few lanes compute padding; a grid column per BN channels beyond 64. Warp w owns pixel
// rows [32w, 32w + 32): 2 m16 tiles × BN/8 n8 tiles, BN float accumulators per thread. K advances in steps of
// BK = 16 (one m16n8k16 for half / bfloat16, two m16n8k8 for tf32).
// Why these: BM = 128 pixels along a row of the image keeps the A gather coalesced (thread tid loads pixel
// m0 + tid for all 16 k of a tile: consecutive lanes, consecutive columns); 128 × 64 × 16 tiles fit 4 blocks per SM
// in registers and ~15-28 KiB of static shared memory (two buffers).
// Pipeline: double-buffered shared memory with a register prefetch: each thread stores tile kt (held in registers)
// into buffer kt % 2, the block syncs, each thread issues the global loads of tile kt + 1 into registers and then
// the warps run the MMAs of tile kt while those loads are in flight; one __syncthreads per tile.
// Shared-memory layouts (padded against bank conflicts, checked by hand for the fragment reads below):
//   As[buf][k][m]  (BK × (BM + 8)), m contiguous: the gather stores one pixel per lane;
//   Bs[buf][n][k]  (BN × (BK + 8) for 16-bit, BN × (BK + 4) for float), k contiguous: 16-byte stores.
// Fragment layouts are the PTX ISA's for mma.m16n8k16 (.f16/.bf16) and mma.m16n8k8 (.tf32), with
// g = lane / 4 and t = lane % 4:
//   A regs: (row g, k 2t..2t+1), (row g+8, k 2t..), (row g, k 2t+8..), (row g+8, k 2t+8..)     [k16, 16-bit pairs]
//           (row g, k t), (row g+8, k t), (row g, k t+4), (row g+8, k t+4)                       [k8, tf32]
//   B regs: (k 2t..2t+1, col g), (k 2t+8.., col g)  [k16];   (k t, col g), (k t+4, col g)  [k8]
//   C regs: (row g, col 2t), (row g, col 2t+1), (row g+8, col 2t), (row g+8, col 2t+1)
// Memory traffic per block: the input window of 128 pixels × K taps (through L1/L2: neighbouring taps hit the same
// lines) and Coutp × K weights once per BN slice; each output written once by the epilogue (2 consecutive channels
// × 8 consecutive pixels per warp store). Not yet done (needs a GPU to measure): cp.async multi-stage loads,
// ldmatrix, an NHWC variant with 16-byte A loads, split-K for small images.
//
// Status: compiles with nvcc (sm_90) and NVRTC; passes every groups-1 conv case in a host build on the CPU whose
// warp MMAs are emulated with the fragment layouts above (tests/test_cuda_backend.py): the tiling, gather, pipeline
// and epilogue are checked, the layouts themselves and the PTX only on a GPU, which has not run it yet (docs/cuda.md).

#include "conv2d_epilogue.cuh"

#define PYSR_MMA_BM 128
#define PYSR_MMA_BK 16
#define PYSR_MMA_THREADS 128
#define PYSR_MMA_APAD 8

// ---- the tensor-core instructions ---------------------------------------------------------------------------------
// A host build (the CPU emulation of tests/test_cuda_backend.py) has no PTX: it provides this function, which runs
// one warp-wide MMA from the 32 lanes' fragments laid out as above (kind 0 f16, 1 bf16, 2 tf32).
#ifndef __CUDA_ARCH__
void pysr_host_mma(float *c, const unsigned *a, const unsigned *b, int kind);
#endif

template <class T> struct MmaOp;

template <> struct MmaOp<half_t> {
    static constexpr int KSTEP = 16;
    static constexpr int BPAD = 8;
    static __device__ __forceinline__ void mma(float *c, const unsigned *a, const unsigned *b) {
#ifdef __CUDA_ARCH__
        asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, "
                     "{%8, %9}, {%0, %1, %2, %3};\n"
                     : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
                     : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
#else
        pysr_host_mma(c, a, b, 0);
#endif
    }
};

template <> struct MmaOp<bf16_t> {
    static constexpr int KSTEP = 16;
    static constexpr int BPAD = 8;
    static __device__ __forceinline__ void mma(float *c, const unsigned *a, const unsigned *b) {
#ifdef __CUDA_ARCH__
        asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, "
                     "{%8, %9}, {%0, %1, %2, %3};\n"
                     : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
                     : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
#else
        pysr_host_mma(c, a, b, 1);
#endif
    }
};

template <> struct MmaOp<float> {   // tf32 inputs, float32 storage
    static constexpr int KSTEP = 8;
    static constexpr int BPAD = 4;
    static __device__ __forceinline__ void mma(float *c, const unsigned *a, const unsigned *b) {
#ifdef __CUDA_ARCH__
        asm volatile("mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, "
                     "{%8, %9}, {%0, %1, %2, %3};\n"
                     : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
                     : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
#else
        pysr_host_mma(c, a, b, 2);
#endif
    }
};

__device__ __forceinline__ unsigned tf32_bits(float v) {
#ifdef __CUDA_ARCH__
    unsigned r;
    asm("cvt.rna.tf32.f32 %0, %1;" : "=r"(r) : "f"(v));   // round to nearest, ties away (the tf32 convention)
    return r;
#else   // host build: the same rounding to 10 mantissa bits (finite values; inf and NaN pass through)
    unsigned u = __float_as_uint(v);
    return (u & 0x7f800000u) == 0x7f800000u ? u : (u + 0x1000u) & 0xffffe000u;
#endif
}

// Two 16-bit values as one register: the first (lower k) in the low half, as a 32-bit load of them would be.
template <class T> __device__ __forceinline__ unsigned pack2(T lo, T hi) {
    return (unsigned)lo.bits | ((unsigned)hi.bits << 16);
}

// ---- fragment reads from shared memory (layouts in the header comment) ------------------------------------------

// as: As[k][m] with row stride AS; r0 = first row (pixel) of the m16 tile + g.
template <class T>
__device__ __forceinline__ void load_a_frag(unsigned *a, const T *as, int kk, int r0, int t) {
    constexpr int AS = PYSR_MMA_BM + PYSR_MMA_APAD;
    const T *k0 = as + (kk + 2 * t) * AS;
    a[0] = pack2(k0[r0], k0[AS + r0]);
    a[1] = pack2(k0[r0 + 8], k0[AS + r0 + 8]);
    a[2] = pack2(k0[8 * AS + r0], k0[9 * AS + r0]);
    a[3] = pack2(k0[8 * AS + r0 + 8], k0[9 * AS + r0 + 8]);
}

template <>
__device__ __forceinline__ void load_a_frag<float>(unsigned *a, const float *as, int kk, int r0, int t) {
    constexpr int AS = PYSR_MMA_BM + PYSR_MMA_APAD;
    const float *k0 = as + (kk + t) * AS;
    a[0] = tf32_bits(k0[r0]);
    a[1] = tf32_bits(k0[r0 + 8]);
    a[2] = tf32_bits(k0[4 * AS + r0]);
    a[3] = tf32_bits(k0[4 * AS + r0 + 8]);
}

// bs: Bs[n][k] with row stride BS; n = column (output channel) of the n8 tile + g.
template <class T, int BS>
__device__ __forceinline__ void load_b_frag(unsigned *b, const T *bs, int kk, int n, int t) {
    const T *row = bs + n * BS + kk + 2 * t;
    b[0] = *(const unsigned *)row;          // k 2t, 2t+1 (4-byte aligned: BS and kk + 2t are even)
    b[1] = *(const unsigned *)(row + 8);    // k 2t+8, 2t+9
}

template <class T, int BS> struct BFrag {
    static __device__ __forceinline__ void load(unsigned *b, const T *bs, int kk, int n, int t) {
        load_b_frag<T, BS>(b, bs, kk, n, t);
    }
};

template <int BS> struct BFrag<float, BS> {
    static __device__ __forceinline__ void load(unsigned *b, const float *bs, int kk, int n, int t) {
        const float *row = bs + n * BS + kk + t;
        b[0] = tf32_bits(row[0]);
        b[1] = tf32_bits(row[4]);
    }
};

// ---- the A gather: one pixel per thread, BK consecutive k ----------------------------------------------------------

struct KCursor {   // (ci, ky, kx) of the next k to load; advanced by one per k, in the weight's (ci, ky, kx) order
    int ci, ky, kx;
};

template <class T>
__device__ __forceinline__ void gather_a(T *areg, const T *__restrict__ xn, bool valid, int y0, int x0,
                                         KCursor &cur, int k0, int k_total, int h, int wd, long long plane, int kh,
                                         int kw, int pad_mode) {
#pragma unroll
    for (int j = 0; j < PYSR_MMA_BK; ++j) {
        T v{};
        if (valid && k0 + j < k_total) {
            int iy = pad_index(y0 + cur.ky, h, pad_mode);
            int ix = pad_index(x0 + cur.kx, wd, pad_mode);
            if (iy >= 0 && ix >= 0) v = xn[cur.ci * plane + (long long)iy * wd + ix];
        }
        areg[j] = v;
        if (++cur.kx == kw) {
            cur.kx = 0;
            if (++cur.ky == kh) {
                cur.ky = 0;
                ++cur.ci;
            }
        }
    }
}

// The epilogue as a call, not inlined: 2·2·BN/4 stores per thread would each inline the activation switch
// (tanhf, expf), which made this file take minutes to compile; a call per element costs little beside the MMAs.
template <class T>
__device__ __noinline__ void store_one(const Epilogue &e, void *out, int img, int co, int oy, int ox, float v) {
    epilogue_store<T>(e, out, img, co, oy, ox, v);
}

// ---- the kernel -------------------------------------------------------------------------------------------------

template <class T, int BN>
__device__ __forceinline__ void conv2d_mma(const T *__restrict__ x, const T *__restrict__ wb, void *out,
                                           const Epilogue &e, int batch, int cin, int h, int wd, int cout, int kh,
                                           int kw, int stride, int ph, int pw, int pad_mode, int ho, int wo,
                                           int k_total, int k_padded) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ < 800
    __trap();   // the host launches this kernel only on compute capability 8.0 and newer
#else
    constexpr int BM = PYSR_MMA_BM, BK = PYSR_MMA_BK, NT = PYSR_MMA_THREADS;
    constexpr int AS = BM + PYSR_MMA_APAD;
    constexpr int BS = BK + MmaOp<T>::BPAD;
    constexpr int NI = BN / 8;                                   // n8 tiles per warp
    constexpr int MI = 2;                                        // m16 tiles per warp (32 rows)
    constexpr int EPV = 16 / (int)sizeof(T);                     // elements per 16-byte vector
    constexpr int NVEC = BN * BK / EPV;                          // 16-byte vectors per B tile
    constexpr int VPR = BK / EPV;                                // vectors per B row
    constexpr int BREGS = (NVEC + NT - 1) / NT;

    __shared__ __align__(16) T As[2][BK * AS];
    __shared__ __align__(16) T Bs[2][BN * BS];

    const int tid = threadIdx.x;
    const int lane = tid & 31;
    const int warp = tid >> 5;
    const int g = lane >> 2;
    const int t = lane & 3;
    const int wm = warp * 32;

    const long long m_total = (long long)batch * ho * wo;
    const long long m0 = (long long)blockIdx.x * BM;
    const int n0 = blockIdx.y * BN;
    const long long plane = (long long)h * wd;

    // this thread's gather pixel
    const long long m_mine = m0 + tid;
    const bool valid = m_mine < m_total;
    int y0 = 0, x0 = 0;
    const T *xn = x;
    if (valid) {
        long long img = m_mine / ((long long)ho * wo);
        int rem = (int)(m_mine - img * ho * wo);
        int oy = rem / wo;
        int ox = rem - oy * wo;
        y0 = oy * stride - ph;
        x0 = ox * stride - pw;
        xn = x + img * cin * plane;
    }

    float acc[MI][NI][4];
#pragma unroll
    for (int mi = 0; mi < MI; ++mi)
#pragma unroll
        for (int ni = 0; ni < NI; ++ni)
#pragma unroll
            for (int r = 0; r < 4; ++r) acc[mi][ni][r] = 0.0f;

    T areg[BK];
    uint4 breg[BREGS];
    KCursor cur = {0, 0, 0};
    const int ktiles = k_padded / BK;

    auto load_b = [&](int k0) {
#pragma unroll
        for (int i = 0; i < BREGS; ++i) {
            int v = tid + i * NT;
            if (v < NVEC) {
                int row = v / VPR;
                int chunk = v - row * VPR;
                breg[i] = *(const uint4 *)(wb + (long long)(n0 + row) * k_padded + k0 + chunk * EPV);
            }
        }
    };
    auto store_tiles = [&](int buf) {
#pragma unroll
        for (int j = 0; j < BK; ++j) As[buf][j * AS + tid] = areg[j];
#pragma unroll
        for (int i = 0; i < BREGS; ++i) {
            int v = tid + i * NT;
            if (v < NVEC) {
                int row = v / VPR;
                int chunk = v - row * VPR;
                *(uint4 *)(&Bs[buf][row * BS + chunk * EPV]) = breg[i];
            }
        }
    };

    gather_a<T>(areg, xn, valid, y0, x0, cur, 0, k_total, h, wd, plane, kh, kw, pad_mode);
    load_b(0);
    for (int kt = 0; kt < ktiles; ++kt) {
        const int buf = kt & 1;
        // Buffer `buf` was last read by the MMAs of tile kt − 2, which every thread finished before the barrier of
        // iteration kt − 1: it is free to take tile kt.
        store_tiles(buf);
        __syncthreads();
        if (kt + 1 < ktiles) {   // issue the next tile's global loads; they land while this tile's MMAs run
            gather_a<T>(areg, xn, valid, y0, x0, cur, (kt + 1) * BK, k_total, h, wd, plane, kh, kw, pad_mode);
            load_b((kt + 1) * BK);
        }
        const T *as = As[buf];
        const T *bs = Bs[buf];
#pragma unroll
        for (int kk = 0; kk < BK; kk += MmaOp<T>::KSTEP) {
            unsigned a[MI][4];
            unsigned b[NI][2];
#pragma unroll
            for (int mi = 0; mi < MI; ++mi) load_a_frag<T>(a[mi], as, kk, wm + mi * 16 + g, t);
#pragma unroll
            for (int ni = 0; ni < NI; ++ni) BFrag<T, BS>::load(b[ni], bs, kk, ni * 8 + g, t);
#pragma unroll
            for (int mi = 0; mi < MI; ++mi)
#pragma unroll
                for (int ni = 0; ni < NI; ++ni) MmaOp<T>::mma(acc[mi][ni], a[mi], b[ni]);
        }
    }

    // epilogue: accumulator r of tile (mi, ni) is pixel row wm + mi·16 + g (+8 for r >= 2),
    // channel ni·8 + 2t (+1 for odd r)
#pragma unroll
    for (int mi = 0; mi < MI; ++mi) {
#pragma unroll
        for (int half = 0; half < 2; ++half) {
            long long m = m0 + wm + mi * 16 + g + half * 8;
            if (m >= m_total) continue;
            int img = (int)(m / ((long long)ho * wo));
            int rem = (int)(m - (long long)img * ho * wo);
            int oy = rem / wo;
            int ox = rem - oy * wo;
#pragma unroll
            for (int ni = 0; ni < NI; ++ni) {
#pragma unroll
                for (int odd = 0; odd < 2; ++odd) {
                    int co = n0 + ni * 8 + 2 * t + odd;
                    if (co < cout) store_one<T>(e, out, img, co, oy, ox, acc[mi][ni][half * 2 + odd]);
                }
            }
        }
    }
#endif
}

// Launch: block (128, 1, 1), grid (⌈N·Ho·Wo / 128⌉, Coutp / BN, 1), no dynamic shared memory. T = half_t (_f16),
// bf16_t (_bf16), float with tf32 MMAs (_tf32); wb is (Coutp × Kp) of T.
#define PYSR_CONV2D_MMA(SUFFIX, T, BN)                                                                            \
    extern "C" __global__ void __launch_bounds__(PYSR_MMA_THREADS) conv2d_mma_##SUFFIX##_n##BN(                  \
        const T *x, const T *wb, void *out, int batch, int cin, int h, int wd, int cout, int kh, int kw,          \
        int stride, int ph, int pw, int pad_mode, int ho, int wo, int k_total, int k_padded,                      \
        PYSR_EPILOGUE_PARAMS) {                                                                                   \
        conv2d_mma<T, BN>(x, wb, out, PYSR_EPILOGUE_MAKE, batch, cin, h, wd, cout, kh, kw, stride, ph, pw,         \
                          pad_mode, ho, wo, k_total, k_padded);                                                   \
    }

#define PYSR_CONV2D_MMA_TILES(SUFFIX, T) PYSR_CONV2D_MMA(SUFFIX, T, 16) PYSR_CONV2D_MMA(SUFFIX, T, 32)          \
    PYSR_CONV2D_MMA(SUFFIX, T, 64)

PYSR_CONV2D_MMA_TILES(f16, half_t)
PYSR_CONV2D_MMA_TILES(bf16, bf16_t)
PYSR_CONV2D_MMA_TILES(tf32, float)
