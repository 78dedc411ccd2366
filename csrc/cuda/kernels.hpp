// The entry points of kernels/cuda/*.cu that libpysr launches, as the C++ side sees them: with nvcc these are the
// host stubs nvcc emits for each `extern "C" __global__` function (cudaLaunchKernel takes their address), in the
// host emulation (PYSR_CUDA_HOST) the kernels themselves built for the CPU. Argument lists as in each file and in
// pysr/backends/_cuda_kernels.py ENTRY_POINTS. The host build (host_kernels.cpp, host_mma.cpp) includes this header
// after the kernel sources, so a declaration that differs from its kernel does not compile there.
// Not declared: frames.cu and yuv.cu (the C API converts frames on the host for now, docs/c-api.md).
#pragma once

struct half_t;  // 16-bit storage types of kernels/cuda/common.cuh (only pointed to here)
struct bf16_t;

#define PYSR_EPILOGUE_DECL                                                                                      \
    const float *bias, const float *slope, const void *res, int act, float alpha, int ps_r, int ps_tf,          \
        int has_res, float res_scale, int has_clamp, float lo, float hi, int out_c, int out_h, int out_w,       \
        int out_u8
#define PYSR_SEPARABLE_DECL(OP, S, T)                                                                           \
    void OP##_##S(const T *x, T *out, long long planes, int h, int w, int ho, int wo, const int *ih,          \
                  const float *wh, int ph, const int *iw, const float *ww, int pw);
#define PYSR_KERNELS_OF(S, T)                                                                                   \
    void activation_##S(const T *x, T *y, long long total, long long plane, int channels, int kind, float alpha, \
                        const float *slope, float lo, float hi);                                                \
    void add_##S(const T *a, const T *b, T *out, long long total, float scale);                                 \
    void mul_##S(const T *a, const T *b, T *out, long long total);                                              \
    void affine_##S(const T *x, T *out, long long total, float scale, float shift);                             \
    void batch_norm_##S(const T *x, T *out, long long total, long long plane, int channels, const float *scale,  \
                        const float *shift);                                                                    \
    void pixel_shuffle_##S(const T *x, T *out, int batch, int c_out, int h, int w, int r, int tf);              \
    void space_to_depth_##S(const T *x, T *out, int batch, int c_in, int h, int w, int r, int tf);              \
    void channel_shuffle_##S(const T *x, T *out, int batch, int channels, long long plane, int groups);         \
    void concat_##S(const T *x, T *out, int batch, int channels, long long plane, int out_channels, int offset); \
    void split_##S(const T *x, T *out, int batch, int channels, long long plane, int in_channels, int offset);  \
    void pad_##S(const T *x, T *out, long long planes, int h, int w, int top, int left, int ho, int wo, int mode, \
                 float value);                                                                                  \
    void pool2d_##S(const T *x, T *out, long long planes, int h, int w, int is_max);                            \
    PYSR_SEPARABLE_DECL(resize_bilinear, S, T)                                                                  \
    PYSR_SEPARABLE_DECL(resize_bicubic_torch, S, T)                                                             \
    PYSR_SEPARABLE_DECL(resize_bicubic_matlab, S, T)                                                            \
    PYSR_SEPARABLE_DECL(upsample_bicubic_tecogan, S, T)                                                         \
    void warp_##S(const T *img, const T *flow, T *out, int batch, int channels, int h, int w, float flow_scale,  \
                  float kx, float ky, float shift);                                                             \
    void rgb_to_ycbcr_##S(const T *x, T *out, int batch, long long plane, int out_channels, double m00,          \
                          double m01, double m02, double m10, double m11, double m12, double m20, double m21,   \
                          double m22, double o0, double o1, double o2);                                         \
    void ycbcr_to_rgb_##S(const T *x, T *out, int batch, long long plane, double m00, double m01, double m02,    \
                          double m10, double m11, double m12, double m20, double m21, double m22, double o0,    \
                          double o1, double o2);                                                                \
    void conv2d_direct_##S(const T *x, const float *w, void *out, int batch, int cin, int h, int wd, int cout,  \
                           int kh, int kw, int stride, int ph, int pw, int pad_mode, int groups, int ho, int wo, \
                           PYSR_EPILOGUE_DECL);                                                                 \
    void conv2d_depthwise_##S(const T *x, const float *w, void *out, int batch, int cin, int h, int wd,          \
                              int cout, int kh, int kw, int stride, int ph, int pw, int pad_mode, int ho, int wo, \
                              PYSR_EPILOGUE_DECL);
#define PYSR_MMA_OF(S, T, BN)                                                                                   \
    void conv2d_mma_##S##_n##BN(const T *x, const T *wb, void *out, int batch, int cin, int h, int wd, int cout, \
                                int kh, int kw, int stride, int ph, int pw, int pad_mode, int ho, int wo,       \
                                int k_total, int k_padded, PYSR_EPILOGUE_DECL);
#define PYSR_MMA_TILES_OF(S, T) PYSR_MMA_OF(S, T, 16) PYSR_MMA_OF(S, T, 32) PYSR_MMA_OF(S, T, 64)

extern "C" {
PYSR_KERNELS_OF(f32, float)
PYSR_KERNELS_OF(f16, half_t)
PYSR_KERNELS_OF(bf16, bf16_t)
PYSR_MMA_TILES_OF(tf32, float)
PYSR_MMA_TILES_OF(f16, half_t)
PYSR_MMA_TILES_OF(bf16, bf16_t)
void cast_f32_to_f16(const float *x, half_t *out, long long total);
void cast_f16_to_f32(const half_t *x, float *out, long long total);
void cast_f32_to_bf16(const float *x, bf16_t *out, long long total);
void cast_bf16_to_f32(const bf16_t *x, float *out, long long total);
}
