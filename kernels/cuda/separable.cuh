// Separable resampling through per-axis tap tables, shared by resize_bilinear.cu, resize_bicubic_torch.cu,
// resize_bicubic_matlab.cu and upsample_bicubic_tecogan.cu (pysr/ops/separable.py):
//   out[n, c, y, x] = Σ_a wh[y, a]·( Σ_b ww[x, b]·in[n, c, ih[y, a], iw[x, b]] )
// The tables are the op's own (pysr/ops/<op>.py `tables`: indices already clamped or mirrored into range), built
// on the host in float64 and passed as int32 indices and float32 weights, row-major (Ho × Ph) and (Wo × Pw) — the
// same tables the CPU kernel reads, so every convention (PyTorch half-pixel, MATLAB antialiasing and symmetric
// border, TecoGAN phases) lives in one place. Sums in float32; the columns of each tap row first, then the rows
// (the spec's tolerance, separable.tolerance, covers either order).
//
// Work split: one thread per output element, grid-stride, x fastest: the warp reads Pw·Ph taps of nearby input
// rows (L1-resident), the tables are small and shared by every plane. No scratch, no intermediate buffer.
// Memory traffic: each output written once; each input element read from L2 about (Ph·Pw)·(Ho·Wo)/(H·W) times,
// mostly from L1: a two-pass version (rows, then columns, through an intermediate) is the optimisation to measure.
#pragma once

#include "common.cuh"

template <class T>
__device__ __forceinline__ void separable(const T *__restrict__ x, T *__restrict__ out, long long planes, int h,
                                          int w, int ho, int wo, const int *__restrict__ ih,
                                          const float *__restrict__ wh, int ph, const int *__restrict__ iw,
                                          const float *__restrict__ ww, int pw) {
    PYSR_FOR_EACH_INDEX(o, planes * ho * wo) {
        int ox = (int)(o % wo);
        long long t = o / wo;
        int oy = (int)(t % ho);
        long long p = t / ho;
        const T *plane = x + p * h * w;
        const int *cols = iw + (long long)ox * pw;
        const float *cw = ww + (long long)ox * pw;
        float acc = 0.0f;
        for (int a = 0; a < ph; ++a) {
            const T *row = plane + (long long)ih[(long long)oy * ph + a] * w;
            float s = 0.0f;
            for (int b = 0; b < pw; ++b) s = fmaf(cw[b], to_f32(row[cols[b]]), s);
            acc = fmaf(wh[(long long)oy * ph + a], s, acc);
        }
        out[o] = from_f32<T>(acc);
    }
}

// One entry point per op and storage type, all with the same arguments.
#define PYSR_SEPARABLE_ENTRY(OP, SUFFIX, T)                                                                     \
    extern "C" __global__ void OP##_##SUFFIX(const T *x, T *out, long long planes, int h, int w, int ho, int wo, \
                                             const int *ih, const float *wh, int ph, const int *iw,             \
                                             const float *ww, int pw) {                                         \
        separable<T>(x, out, planes, h, w, ho, wo, ih, wh, ph, iw, ww, pw);                                     \
    }
