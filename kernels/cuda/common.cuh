// Shared device helpers of every kernel in kernels/cuda/: storage types, conversions, the border rules, the
// activation kinds, uint8 rounding and the grid-stride loop.
//
// One source for two compilers: NVRTC (CuPy RawModule, `-std=c++17 -I kernels/cuda`) and nvcc (libpysr). So:
// no #include of any header outside this folder (NVRTC has no host headers), no <cstdint> types (plain
// `unsigned short`, `long long`), no cuda_fp16.h: half and bfloat16 values are stored as 16-bit patterns in the
// structs below and converted with PTX `cvt` (half) or bit shifts (bfloat16), which both compilers accept.
// Entry points are `extern "C" __global__` (unmangled names: CuPy's get_function and cuModuleGetFunction find
// them by name) taking pointers and int / float / double scalars only. The PTX is guarded by __CUDA_ARCH__ with a
// software twin, so tests/test_cuda_backend.py can also build these sources for the host and run them on the CPU.
//
// Storage types and their kernel-name suffix: float `_f32`, half_t `_f16`, bf16_t `_bf16`. Arithmetic is float32
// everywhere (fp32 accumulation); the 16-bit types are only how tensors are stored between ops.
#pragma once

struct half_t {
    unsigned short bits;
};
struct bf16_t {
    unsigned short bits;
};

__device__ __forceinline__ float to_f32(float v) { return v; }

__device__ __forceinline__ float to_f32(half_t v) {
#ifdef __CUDA_ARCH__
    float f;
    asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(v.bits));
    return f;
#else   // a host build of these sources (the CPU emulation in tests/test_cuda_backend.py): the same value in software
    unsigned int sign = (v.bits & 0x8000u) << 16, exp = (v.bits >> 10) & 0x1fu, mant = v.bits & 0x3ffu;
    if (exp == 0) {                                              // zero or subnormal: mant·2^-24
        float f = (float)mant * 5.9604644775390625e-8f;
        return sign ? -f : f;
    }
    unsigned int bits = exp == 31 ? sign | 0x7f800000u | (mant << 13) : sign | ((exp + 112u) << 23) | (mant << 13);
    return __uint_as_float(bits);
#endif
}

__device__ __forceinline__ float to_f32(bf16_t v) { return __uint_as_float(((unsigned int)v.bits) << 16); }

template <class T> __device__ __forceinline__ T from_f32(float v);

template <> __device__ __forceinline__ float from_f32<float>(float v) { return v; }

template <> __device__ __forceinline__ half_t from_f32<half_t>(float v) {
    half_t h;
#ifdef __CUDA_ARCH__
    asm("cvt.rn.f16.f32 %0, %1;" : "=h"(h.bits) : "f"(v));   // round to nearest even, overflow to ±inf
#else   // host build: round to nearest even in software, as cvt.rn does
    unsigned int x = __float_as_uint(v), sign = (x >> 16) & 0x8000u, a = x & 0x7fffffffu;
    if (a > 0x7f800000u) {
        h.bits = (unsigned short)(sign | 0x7e00u);                     // NaN
    } else if (a >= 0x477ff000u) {
        h.bits = (unsigned short)(sign | 0x7c00u);                     // >= 65520 rounds to infinity
    } else if (a < 0x38800000u) {                                      // below 2^-14: subnormal or zero
        h.bits = (unsigned short)(sign | (unsigned int)rintf(__uint_as_float(a) * 16777216.0f));
    } else {
        unsigned int r = (((a >> 23) - 112u) << 10) | ((a >> 13) & 0x3ffu), rest = a & 0x1fffu;
        if (rest > 0x1000u || (rest == 0x1000u && (r & 1u))) ++r;
        h.bits = (unsigned short)(sign | r);
    }
#endif
    return h;
}

template <> __device__ __forceinline__ bf16_t from_f32<bf16_t>(float v) {
    // Round to nearest even by hand (cvt.rn.bf16.f32 needs sm_80; this is exact on every architecture).
    unsigned int u = __float_as_uint(v);
    bf16_t b;
    if ((u & 0x7fffffffu) > 0x7f800000u) {
        b.bits = 0x7fc0;                                        // NaN stays a quiet NaN
    } else {
        u += 0x7fffu + ((u >> 16) & 1u);
        b.bits = (unsigned short)(u >> 16);
    }
    return b;
}

// ---- the grid-stride loop over a flat index space (64-bit: 4K frames × 64 channels × batch pass 2^31) ------------

#define PYSR_FOR_EACH_INDEX(i, total)                                                                   \
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < (total);                   \
         i += (long long)gridDim.x * blockDim.x)

// Instantiate an entry-point macro M(suffix, T) for the three storage types.
#define PYSR_FOR_EACH_TYPE(M) M(f32, float) M(f16, half_t) M(bf16, bf16_t)

// ---- border rules (pysr/ops/pad.py, pysr/ops/conv2d.py) ---------------------------------------------------------

#define PYSR_PAD_ZEROS 0
#define PYSR_PAD_REFLECT 1
#define PYSR_PAD_REPLICATE 2

// The index read for position t of an axis of size n, or -1 for a zero (mode zeros, t outside [0, n)).
// reflect mirrors without repeating the edge (np.pad "reflect": -1 -> 1, n -> n - 2), folded with period
// 2(n - 1) so any t lands inside; replicate clamps (np.pad "edge").
__device__ __forceinline__ int pad_index(int t, int n, int mode) {
    if (t >= 0 && t < n) return t;
    if (mode == PYSR_PAD_ZEROS) return -1;
    if (mode == PYSR_PAD_REPLICATE || n == 1) return t < 0 ? 0 : n - 1;
    int period = 2 * (n - 1);
    t %= period;
    if (t < 0) t += period;
    return t < n ? t : period - t;
}

// ---- activations (pysr/ops/activation.py; the codes of kernels/cpu/conv2d_epilogue.py, plus clamp) -------------

#define PYSR_ACT_NONE 0
#define PYSR_ACT_RELU 1
#define PYSR_ACT_LEAKY 2
#define PYSR_ACT_PRELU 3
#define PYSR_ACT_TANH 4
#define PYSR_ACT_SIGMOID 5
#define PYSR_ACT_SCALED_TANH 6
#define PYSR_ACT_CLAMP 7

// `a` is alpha (leaky slope, tanh scale) or the channel's prelu slope; lo, hi only for clamp.
// tanhf / expf are the accurate CUDA math functions (2 ulp; no --use_fast_math anywhere).
__device__ __forceinline__ float activate(int kind, float v, float a, float lo, float hi) {
    switch (kind) {
    case PYSR_ACT_RELU: return v > 0.0f ? v : 0.0f;
    case PYSR_ACT_LEAKY:
    case PYSR_ACT_PRELU: return v >= 0.0f ? v : a * v;
    case PYSR_ACT_TANH: return tanhf(v);
    case PYSR_ACT_SIGMOID: return 1.0f / (1.0f + expf(-v));
    case PYSR_ACT_SCALED_TANH: return a * tanhf(v);
    case PYSR_ACT_CLAMP: return fminf(fmaxf(v, lo), hi);
    default: return v;
    }
}

// ---- uint8 conversions (kernels/cpu/frames.py, kernels/cpu/yuv.py) ----------------------------------------------

// clip(rint(v·255), 0, 255) of a float32 v, NaN -> 0: frames.py `_to_u8` (the product rounded once, no FMA).
__device__ __forceinline__ unsigned char unit_to_u8(float v) {
    float s = __fmul_rn(v, 255.0f);
    if (!(s >= 0.0f)) s = 0.0f;
    else if (s > 255.0f) s = 255.0f;
    return (unsigned char)rintf(s);
}

// uint8 of clip(rint(x), 0, 255) for a finite float32 x already on the 0…255 scale: yuv.py `_u8`.
__device__ __forceinline__ unsigned char code_to_u8(float x) {
    float r = rintf(x);
    r = r < 0.0f ? 0.0f : (r > 255.0f ? 255.0f : r);
    return (unsigned char)r;
}

// v/255 as a true float32 division: frames.py (frame.astype(np.float32) / 255).
__device__ __forceinline__ float u8_to_unit(unsigned char v) { return __fdiv_rn((float)v, 255.0f); }

// ---- a channel-range copy (concat, split) -----------------------------------------------------------------------

// dst[n, dst_off + c, p] = src[n, src_off + c, p] for c < channels, p < plane (NCHW, plane = H·W).
template <class T>
__device__ __forceinline__ void copy_channels(const T *src, T *dst, int batch, int channels, long long plane,
                                              int src_c, int src_off, int dst_c, int dst_off) {
    long long per_image = (long long)channels * plane;
    PYSR_FOR_EACH_INDEX(i, batch * per_image) {
        long long n = i / per_image;
        long long r = i - n * per_image;                       // c·plane + p
        dst[(n * dst_c + dst_off) * plane + r] = src[(n * src_c + src_off) * plane + r];
    }
}
