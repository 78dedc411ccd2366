// warp: backward warp of img (N, C, H, W) by flow (N, 2, H, W) — grid_sample bilinear, border padding
// (pysr/ops/warp.py), evaluated exactly as kernels/cpu/warp.py does in float32:
//   ix = clamp((x + fs·u)·kx + shift, 0, W − 1), iy likewise with (y, v, ky, H), NaN -> 0
//   kx = 1 and shift = 0 when align_corners (or W == 1), else kx = W/(W − 1) and shift = −0.5  (host computes)
//   i0 = min(floor(ix), W − 2) (0 for W == 1), α = ix − i0; j0, β likewise; the right / lower neighbour is
//   i0 + 1 / j0 + 1 except on a single column / row. Keeping the top-left neighbour inside W − 2 makes a sample on
//   the last column column W − 2 with α = 1: the border value, with no separate clamp per neighbour.
//   out = top + β·(bot − top), top = p00 + α·(p01 − p00), bot = p10 + α·(p11 − p10).
//
// Work split: one thread per output pixel (n, y, x), grid-stride, x fastest; the thread computes the coordinates
// once and blends all C channels (the flow is read once per pixel). Storage T for img, flow and out.
// Memory traffic: flow read once, out written once, 4 input values per pixel and channel from two adjacent rows
// near the pixel for small flows (cache-friendly), anywhere for large ones.
//
// Status: compiles with nvcc (sm_90) and NVRTC; runs correctly in a host build on the CPU (tests/test_cuda_backend.py);
// not yet run on a GPU (docs/cuda.md lists the owed runs).

#include "common.cuh"

__device__ __forceinline__ float clamp_coord(float v, float hi) {
    v = v > 0.0f ? v : 0.0f;   // NaN -> 0
    return v < hi ? v : hi;
}

template <class T>
__device__ __forceinline__ void warp(const T *__restrict__ img, const T *__restrict__ flow, T *__restrict__ out,
                                     int batch, int channels, int h, int w, float flow_scale, float kx, float ky,
                                     float shift) {
    long long plane = (long long)h * w;
    float xmax = (float)(w - 1), ymax = (float)(h - 1);
    int i_top = w > 1 ? w - 2 : 0, j_top = h > 1 ? h - 2 : 0;
    int dx = w > 1 ? 1 : 0;
    long long dy = h > 1 ? w : 0;
    PYSR_FOR_EACH_INDEX(i, batch * plane) {
        long long n = i / plane;
        long long p = i - n * plane;
        int y = (int)(p / w);
        int x = (int)(p - (long long)y * w);
        float u = to_f32(flow[(n * 2) * plane + p]);
        float v = to_f32(flow[(n * 2 + 1) * plane + p]);
        float ix = clamp_coord(((float)x + flow_scale * u) * kx + shift, xmax);
        float iy = clamp_coord(((float)y + flow_scale * v) * ky + shift, ymax);
        int i0 = min((int)ix, i_top);   // ix >= 0: truncation is floor
        int j0 = min((int)iy, j_top);
        float a = ix - (float)i0;
        float b = iy - (float)j0;
        long long off = (long long)j0 * w + i0;
        for (int c = 0; c < channels; ++c) {
            const T *src = img + (n * channels + c) * plane + off;
            float p00 = to_f32(src[0]);
            float p10 = to_f32(src[dy]);
            float top = p00 + a * (to_f32(src[dx]) - p00);
            float bot = p10 + a * (to_f32(src[dy + dx]) - p10);
            out[(n * channels + c) * plane + p] = from_f32<T>(top + b * (bot - top));
        }
    }
}

#define PYSR_WARP(SUFFIX, T)                                                                                    \
    extern "C" __global__ void warp_##SUFFIX(const T *img, const T *flow, T *out, int batch, int channels,      \
                                             int h, int w, float flow_scale, float kx, float ky, float shift) {  \
        warp<T>(img, flow, out, batch, channels, h, w, flow_scale, kx, ky, shift);                              \
    }

PYSR_FOR_EACH_TYPE(PYSR_WARP)
