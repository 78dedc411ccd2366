// conv2d, the direct kernel: the reference path of the cuda backend, for every attribute combination the op allows.
//
// Computes pysr/ops/conv2d.py exactly as written there: cross-correlation of the padded input (padding (ph, pw),
// pad_mode zeros | reflect | replicate, any kernel, stride, groups) accumulated in float32 in the order ci, ky, kx,
// then the fused epilogue of conv2d_epilogue.cuh (bias, activation, pixel shuffle to its place, residual, clamp,
// optional uint8 store). The padding is never materialised: a tap outside the input is mapped by pad_index
// (common.cuh) or skipped (zeros).
//
// Work split: one thread per raw output element (n, co, oy, ox), a grid-stride loop over all of them with ox fastest,
// so a warp reads consecutive input columns (coalesced for stride 1) and one weight at a time for the whole warp
// (broadcast) whenever Wo >= 32. Layout NCHW, any storage type T (float / half / bfloat16) in and out; weights
// float32 (Cout, Cin/groups, kh, kw).
// Memory traffic: every input element is read kh·kw·Cout/groups times through L1/L2 (no shared-memory reuse):
// this kernel is the obviously-correct one, not the fast one. The fast paths are conv2d_mma.cu (tensor cores,
// groups = 1) and conv2d_depthwise.cu.
//
// Status: compiles with nvcc (sm_90) and NVRTC; runs correctly in a host build on the CPU (tests/test_cuda_backend.py);
// not yet run on a GPU (docs/cuda.md lists the owed runs).

#include "conv2d_epilogue.cuh"

template <class T>
__device__ __forceinline__ void conv2d_direct(const T *__restrict__ x, const float *__restrict__ w, void *out,
                                              const Epilogue &e, int batch, int cin, int h, int wd, int cout,
                                              int kh, int kw, int stride, int ph, int pw, int pad_mode, int groups,
                                              int ho, int wo) {
    int cpg = cin / groups;       // input channels per group
    int opg = cout / groups;      // output channels per group
    long long total = (long long)batch * cout * ho * wo;
    long long plane = (long long)h * wd;
    PYSR_FOR_EACH_INDEX(i, total) {
        int ox = (int)(i % wo);
        long long t = i / wo;
        int oy = (int)(t % ho);
        t /= ho;
        int co = (int)(t % cout);
        int n = (int)(t / cout);
        const T *xg = x + ((long long)n * cin + (long long)(co / opg) * cpg) * plane;
        const float *wc = w + (long long)co * cpg * kh * kw;
        int y0 = oy * stride - ph;
        int x0 = ox * stride - pw;
        float acc = 0.0f;
        for (int ci = 0; ci < cpg; ++ci) {
            const T *xp = xg + ci * plane;
            const float *wp = wc + ci * kh * kw;
            for (int ky = 0; ky < kh; ++ky) {
                int iy = pad_index(y0 + ky, h, pad_mode);
                if (iy < 0) continue;
                const T *row = xp + (long long)iy * wd;
                for (int kx = 0; kx < kw; ++kx) {
                    int ix = pad_index(x0 + kx, wd, pad_mode);
                    if (ix < 0) continue;
                    acc = fmaf(to_f32(row[ix]), wp[ky * kw + kx], acc);
                }
            }
        }
        epilogue_store<T>(e, out, n, co, oy, ox, acc);
    }
}

#define PYSR_CONV2D_DIRECT(SUFFIX, T)                                                                             \
    extern "C" __global__ void conv2d_direct_##SUFFIX(const T *x, const float *w, void *out, int batch, int cin,  \
                                                      int h, int wd, int cout, int kh, int kw, int stride,        \
                                                      int ph, int pw, int pad_mode, int groups, int ho, int wo,   \
                                                      PYSR_EPILOGUE_PARAMS) {                                    \
        conv2d_direct<T>(x, w, out, PYSR_EPILOGUE_MAKE, batch, cin, h, wd, cout, kh, kw, stride, ph, pw,          \
                         pad_mode, groups, ho, wo);                                                               \
    }

PYSR_FOR_EACH_TYPE(PYSR_CONV2D_DIRECT)
