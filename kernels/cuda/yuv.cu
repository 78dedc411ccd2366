// 8-bit planar YUV <-> RGB on the device, so a video frame crosses PCIe as 8-bit planes (4:2:0 is 1.5 bytes per
// pixel each way) and becomes float only in device memory. Not an op: the frame path around a plan.
// Follows kernels/cpu/yuv.py bit for bit (float32, no FMA contraction: every product and sum is rounded as numpy
// rounds it, through __fmul_rn / __fadd_rn / __fsub_rn; rint is half to even; pysr/video/colour.py builds the
// seven float32 constants `k` and states the formulas):
//   yuv -> rgb   Y' = (Y − off)·gy, Pb = (U − 128)·gc, Pr = (V − 128)·gc   (chroma sample (i / fy, j / fx))
//                R = Y' + k_rr·Pr, G = (Y' − k_gr·Pr) − k_gb·Pb, B = Y' + k_bb·Pb, each clip(rint(·), 0, 255)
//   rgb -> yuv   Y' = (kr·R + kg·G) + kb·B, Y = rint(Y'·gy + off); Pb = (B − Y')·g_b, Pr = (R − Y')·g_r;
//                U = rint(mean(Pb) + 128): each block row summed left to right, the rows top to bottom, the sum
//                divided by fy·fx in float64 and rounded to float32; a block past the frame's edge repeats the
//                last row / column (edge padding)
// Entry points:
//   yuv_to_rgb_u8          -> H×W×3 uint8 (what kernels/cpu/yuv.py yuv_to_rgb returns)
//   yuv_to_planar_<T>      -> 3×H×W T = that uint8 RGB / 255 (= frames.cu rgb_u8_to_planar of it), the network input
//   rgb_u8_to_yuv          H×W×3 uint8 -> planes (what yuv.py rgb_to_yuv returns)
//   planar_to_yuv_<T>      3×H×W T -> planes, through the uint8 RGB of frames.cu planar_to_rgb_u8 (the network
//                          output straight to the encoder's planes)
// Planes are addressed with row strides (y_stride for Y, c_stride for U and V, in bytes), so a decoder's padded
// lines need no repacking.
//
// Work split: yuv -> rgb one thread per pixel (the chroma sample is re-read by its fy·fx pixels from L1);
// rgb -> yuv one thread per chroma sample, which converts its fy·fx pixels, writes their Y and its U, V.
// Memory traffic: every byte and every float read once and written once (4:2:0: 1.5 + 3·sizeof(T) per pixel).
//
// Status: compiles with nvcc (sm_90) and NVRTC; runs correctly in a host build on the CPU (tests/test_cuda_backend.py);
// not yet run on a GPU (docs/cuda.md lists the owed runs).

#include "common.cuh"

struct YuvToRgbK {   // (luma offset, luma gain, chroma gain, R<-Pr, G<-Pr, G<-Pb, B<-Pb)
    float off, gy, gc, k_rr, k_gr, k_gb, k_bb;
};

__device__ __forceinline__ void yuv_pixel(const unsigned char *y, const unsigned char *u, const unsigned char *v,
                                          long long y_stride, long long c_stride, int i, int j, int fy, int fx,
                                          const YuvToRgbK &k, unsigned char *rgb) {
    long long c = (long long)(i / fy) * c_stride + j / fx;
    float pb = __fmul_rn(__fsub_rn((float)u[c], 128.0f), k.gc);
    float pr = __fmul_rn(__fsub_rn((float)v[c], 128.0f), k.gc);
    float yf = __fmul_rn(__fsub_rn((float)y[(long long)i * y_stride + j], k.off), k.gy);
    rgb[0] = code_to_u8(__fadd_rn(yf, __fmul_rn(k.k_rr, pr)));
    rgb[1] = code_to_u8(__fsub_rn(__fsub_rn(yf, __fmul_rn(k.k_gr, pr)), __fmul_rn(k.k_gb, pb)));
    rgb[2] = code_to_u8(__fadd_rn(yf, __fmul_rn(k.k_bb, pb)));
}

#define PYSR_YUV_TO_RGB_PARAMS                                                                                  \
    const unsigned char *y, const unsigned char *u, const unsigned char *v, long long y_stride,                 \
        long long c_stride, int h, int w, int fy, int fx, float off, float gy, float gc, float k_rr, float k_gr, \
        float k_gb, float k_bb

extern "C" __global__ void yuv_to_rgb_u8(PYSR_YUV_TO_RGB_PARAMS, unsigned char *out) {
    YuvToRgbK k{off, gy, gc, k_rr, k_gr, k_gb, k_bb};
    PYSR_FOR_EACH_INDEX(p, (long long)h * w) {
        int i = (int)(p / w), j = (int)(p % w);
        yuv_pixel(y, u, v, y_stride, c_stride, i, j, fy, fx, k, out + 3 * p);
    }
}

#define PYSR_YUV_TO_PLANAR(SUFFIX, T)                                                                           \
    extern "C" __global__ void yuv_to_planar_##SUFFIX(PYSR_YUV_TO_RGB_PARAMS, T *out) {                         \
        YuvToRgbK k{off, gy, gc, k_rr, k_gr, k_gb, k_bb};                                                       \
        long long plane = (long long)h * w;                                                                     \
        PYSR_FOR_EACH_INDEX(p, plane) {                                                                         \
            unsigned char rgb[3];                                                                               \
            yuv_pixel(y, u, v, y_stride, c_stride, (int)(p / w), (int)(p % w), fy, fx, k, rgb);                 \
            out[p] = from_f32<T>(u8_to_unit(rgb[0]));                                                           \
            out[plane + p] = from_f32<T>(u8_to_unit(rgb[1]));                                                   \
            out[2 * plane + p] = from_f32<T>(u8_to_unit(rgb[2]));                                               \
        }                                                                                                       \
    }

PYSR_FOR_EACH_TYPE(PYSR_YUV_TO_PLANAR)

// ---- rgb -> yuv ---------------------------------------------------------------------------------------------------

struct RgbToYuvK {   // (kr, kg, kb, Pb gain, Pr gain, luma gain, luma offset)
    float kr, kg, kb, g_b, g_r, gy, off;
};

struct InterleavedU8 {   // H×W×3 uint8, rows `stride` bytes apart
    const unsigned char *p;
    long long stride;
    __device__ __forceinline__ void rgb(int i, int j, float *c) const {
        const unsigned char *px = p + (long long)i * stride + 3 * j;
        c[0] = (float)px[0];
        c[1] = (float)px[1];
        c[2] = (float)px[2];
    }
};

template <class T> struct PlanarUnit {   // 3×H×W in [0, 1], rounded to uint8 first as frames.cu does
    const T *x;
    long long plane;
    int w;
    __device__ __forceinline__ void rgb(int i, int j, float *c) const {
        long long q = (long long)i * w + j;
        c[0] = (float)unit_to_u8(to_f32(x[q]));
        c[1] = (float)unit_to_u8(to_f32(x[plane + q]));
        c[2] = (float)unit_to_u8(to_f32(x[2 * plane + q]));
    }
};

template <class Src>
__device__ __forceinline__ void rgb_to_yuv(const Src &src, unsigned char *y, unsigned char *u, unsigned char *v,
                                           long long y_stride, long long c_stride, int h, int w, int hc, int wc,
                                           int fy, int fx, const RgbToYuvK &k) {
    double count = (double)(fy * fx);
    PYSR_FOR_EACH_INDEX(q, (long long)hc * wc) {
        int ci = (int)(q / wc), cj = (int)(q % wc);
        float sb = 0.0f, sr = 0.0f;
        for (int r = 0; r < fy; ++r) {
            int i = ci * fy + r;
            int ii = i < h ? i : h - 1;                                    // edge padding: repeat the last row
            float rb = 0.0f, rr = 0.0f;
            for (int c = 0; c < fx; ++c) {
                int j = cj * fx + c;
                int jj = j < w ? j : w - 1;                                // and the last column
                float px[3];
                src.rgb(ii, jj, px);
                float l = __fadd_rn(__fadd_rn(__fmul_rn(k.kr, px[0]), __fmul_rn(k.kg, px[1])), __fmul_rn(k.kb, px[2]));
                if (i < h && j < w) y[(long long)i * y_stride + j] = code_to_u8(__fadd_rn(__fmul_rn(l, k.gy), k.off));
                float pb = __fmul_rn(__fsub_rn(px[2], l), k.g_b);
                float pr = __fmul_rn(__fsub_rn(px[0], l), k.g_r);
                rb = c == 0 ? pb : __fadd_rn(rb, pb);
                rr = c == 0 ? pr : __fadd_rn(rr, pr);
            }
            sb = r == 0 ? rb : __fadd_rn(sb, rb);
            sr = r == 0 ? rr : __fadd_rn(sr, rr);
        }
        long long o = (long long)ci * c_stride + cj;
        u[o] = code_to_u8(__fadd_rn((float)((double)sb / count), 128.0f));
        v[o] = code_to_u8(__fadd_rn((float)((double)sr / count), 128.0f));
    }
}

#define PYSR_RGB_TO_YUV_PARAMS                                                                                  \
    unsigned char *y, unsigned char *u, unsigned char *v, long long y_stride, long long c_stride, int h, int w, \
        int hc, int wc, int fy, int fx, float kr, float kg, float kb, float g_b, float g_r, float gy, float off

extern "C" __global__ void rgb_u8_to_yuv(const unsigned char *rgb, long long rgb_stride, PYSR_RGB_TO_YUV_PARAMS) {
    rgb_to_yuv(InterleavedU8{rgb, rgb_stride}, y, u, v, y_stride, c_stride, h, w, hc, wc, fy, fx,
               RgbToYuvK{kr, kg, kb, g_b, g_r, gy, off});
}

#define PYSR_PLANAR_TO_YUV(SUFFIX, T)                                                                           \
    extern "C" __global__ void planar_to_yuv_##SUFFIX(const T *x, PYSR_RGB_TO_YUV_PARAMS) {                     \
        rgb_to_yuv(PlanarUnit<T>{x, (long long)h * w, w}, y, u, v, y_stride, c_stride, h, w, hc, wc, fy, fx,    \
                   RgbToYuvK{kr, kg, kb, g_b, g_r, gy, off});                                                   \
    }

PYSR_FOR_EACH_TYPE(PYSR_PLANAR_TO_YUV)
