// 4:2:0 YUV ⇄ planar RGB floats for the YUV420 entry points: pysr/kernels/cpu/yuv.py (with frames.py on the float
// side) in C++, bit for bit. Formulas (pysr/video/colour.py), float32, every product and sum rounded as written
// (this file is compiled with -ffp-contract=off: no fused multiply-add), rint half to even, then clip:
//   in   Y' = (Y − off)·gy, Pb = (U − 128)·gc, Pr = (V − 128)·gc      chroma sample (i/2, j/2) covers pixel (i, j)
//        R = Y' + k_rr·Pr, G = (Y' − k_gr·Pr) − k_gb·Pb, B = Y' + k_bb·Pb → u8 → u8 / 255
//   out  R, G, B = u8 of x·255; Y' = (kr·R + kg·G) + kb·B, Y = rint(Y'·gy + off);
//        Pb = (B − Y')·g_b, Pr = (R − Y')·g_r;
//        U = rint(((a + b) + (c + d))·0.25 + 128) over the 2×2 block (rows summed left to right, then top to
//        bottom; a block past the right or bottom edge repeats the last column / row), V likewise
// with (off, ys, cs) = (16, 219, 224) for limited range and (0, 255, 255) for full; the constants are computed in
// double from Kr, Kb by the expressions of colour.py and rounded to float once.
// Threads: one task per chroma row (its two luma rows), with a few rows of scratch (bytes, floats) per thread.
// Traffic: each plane and each float read or written once.
#include "yuv.hpp"

#include <string>
#include <vector>

#include "error.hpp"
#include "threads.hpp"

namespace pysr {

namespace {

struct ToRgb {  // (luma offset, luma gain, chroma gain, R←Pr, G←Pr, G←Pb, B←Pb)
    float off, gy, gc, k_rr, k_gr, k_gb, k_bb;
};

struct ToYuv {  // (kr, kg, kb, Pb gain, Pr gain, luma gain, luma offset)
    float kr, kg, kb, g_b, g_r, gy, off;
};

void constants(YuvColour c, double &kr, double &kb, double &off, double &ys, double &cs) {
    kr = c.bt709 ? 0.2126 : 0.299;
    kb = c.bt709 ? 0.0722 : 0.114;
    off = c.full ? 0.0 : 16.0;
    ys = c.full ? 255.0 : 219.0;
    cs = c.full ? 255.0 : 224.0;
}

ToRgb to_rgb(YuvColour c) {
    double kr, kb, off, ys, cs;
    constants(c, kr, kb, off, ys, cs);
    return {float(off), float(255.0 / ys), float(255.0 / cs), float(2 * (1 - kr)),
            float(2 * (1 - kr) * kr / (1 - kr - kb)), float(2 * (1 - kb) * kb / (1 - kr - kb)), float(2 * (1 - kb))};
}

ToYuv to_yuv(YuvColour c) {
    double kr, kb, off, ys, cs;
    constants(c, kr, kb, off, ys, cs);
    return {float(kr), float(1 - kr - kb), float(kb), float(cs / 255.0 / (2 * (1 - kb))),
            float(cs / 255.0 / (2 * (1 - kr))), float(ys / 255.0), float(off)};
}

// uint8 of clip(rint(x), 0, 255), rint half to even, NaN → 0. Adding 2^23 leaves no fraction bits, so the float
// addition itself rounds: exact for 0 <= x < 2^23; outside, the result is off but on the same side of 0 and 255,
// and the clip that follows gives the right byte. Rounding first and clipping after lets the loops vectorise. Like
// every float32 formula here it needs float arithmetic done in float (FLT_EVAL_METHOD 0: SSE, NEON; not x87).
inline uint8_t to_u8(float x) {
    float r = (x + 8388608.0f) - 8388608.0f;
    r = r > 0.0f ? r : 0.0f;
    r = r < 255.0f ? r : 255.0f;
    return uint8_t(r);
}

// Row kernels. NOTE: each conversion to bytes fills a byte row and the arithmetic on those bytes runs in another
// loop (with the clip and the arithmetic in one loop GCC keeps a branch and vectorises neither, as frames.py notes);
// they take plain values, not references, because a byte store may alias anything and would make every bound and
// constant read through a reference be re-read in the loop.

// One luma row and its replicated chroma terms → R, G, B bytes.
void yuv_row_to_rgb(const uint8_t *y, const float *pb, const float *pr, size_t w, ToRgb k, uint8_t *r8, uint8_t *g8,
                    uint8_t *b8) {
    for (size_t j = 0; j < w; ++j) {
        const float yf = (float(y[j]) - k.off) * k.gy;
        r8[j] = to_u8(yf + k.k_rr * pr[j]);
        g8[j] = to_u8((yf - k.k_gr * pr[j]) - k.k_gb * pb[j]);
        b8[j] = to_u8(yf + k.k_bb * pb[j]);
    }
}

void bytes_to_units(const uint8_t *b, size_t n, float *out) {
    for (size_t j = 0; j < n; ++j) out[j] = u8_to_unit(b[j]);
}

// the bytes of frames.py planar_to_rgb_u8 (× 255 then rounded: no multiply-add in this file)
void units_to_bytes(const float *x, size_t n, uint8_t *out) {
    for (size_t j = 0; j < n; ++j) out[j] = to_u8(x[j] * 255.0f);
}

// R, G, B bytes of one row → its Y bytes and the Pb, Pr of each pixel.
void rgb_row_to_yuv(const uint8_t *r8, const uint8_t *g8, const uint8_t *b8, size_t w, ToYuv k, uint8_t *y, float *pb,
                    float *pr) {
    for (size_t j = 0; j < w; ++j) {
        const float R = r8[j], G = g8[j], B = b8[j];
        const float l = (k.kr * R + k.kg * G) + k.kb * B;
        y[j] = to_u8(l * k.gy + k.off);
        pb[j] = (B - l) * k.g_b;
        pr[j] = (R - l) * k.g_r;
    }
}

// The mean of each 2×2 block of rows a, b (2·cw values each) + 128: (a0 + a1) + (b0 + b1), then ÷4 (exact: what
// yuv.py's float64 division by the block size rounds to).
void block_means(const float *a, const float *b, size_t cw, uint8_t *out) {
    for (size_t j = 0; j < cw; ++j)
        out[j] = to_u8(((a[2 * j] + a[2 * j + 1]) + (b[2 * j] + b[2 * j + 1])) * 0.25f + 128.0f);
}

}  // namespace

YuvColour yuv_colour(int32_t matrix, int32_t range, const char *what) {
    YuvColour c;
    if (matrix == PYSR_YUV_MATRIX_BT709) c.bt709 = true;
    else if (matrix != PYSR_YUV_MATRIX_BT601 && matrix != PYSR_YUV_MATRIX_BT470BG)
        fail(PYSR_STATUS_INVALID_ARGUMENT, std::string(what) + "->matrix is " + std::to_string(matrix) +
                                               ": expected PYSR_YUV_MATRIX_BT601 (6), _BT470BG (5) or _BT709 (1)");
    if (range == PYSR_YUV_RANGE_FULL) c.full = true;
    else if (range != PYSR_YUV_RANGE_LIMITED)
        fail(PYSR_STATUS_INVALID_ARGUMENT, std::string(what) + "->range is " + std::to_string(range) +
                                               ": expected PYSR_YUV_RANGE_LIMITED (1) or PYSR_YUV_RANGE_FULL (2)");
    return c;
}

void yuv420_to_planar(const pysr_yuv420_src &src, int64_t width, int64_t height, YuvColour c, float *out,
                      ThreadPool &pool) {
    const ToRgb k = to_rgb(c);
    const size_t plane = size_t(width) * size_t(height), w = size_t(width), cw = (w + 1) / 2;
    std::vector<std::vector<float>> chroma(size_t(pool.size()));
    std::vector<std::vector<uint8_t>> bytes(size_t(pool.size()));
    pool.parallel_for((height + 1) / 2, [&](int64_t ci, int t) {
        std::vector<float> &p = chroma[size_t(t)];
        std::vector<uint8_t> &rgb = bytes[size_t(t)];
        p.resize(4 * cw);
        rgb.resize(3 * w);
        // the chroma terms per chroma sample (as yuv.py computes them), replicated to full width (2·cw)
        float *pb = p.data(), *pr = pb + 2 * cw;
        const uint8_t *u = src.u + ci * src.u_stride, *v = src.v + ci * src.v_stride;
        for (size_t j = 0; j < cw; ++j) {
            pb[2 * j] = pb[2 * j + 1] = (float(u[j]) - 128.0f) * k.gc;
            pr[2 * j] = pr[2 * j + 1] = (float(v[j]) - 128.0f) * k.gc;
        }
        for (int64_t i = 2 * ci; i < 2 * ci + 2 && i < height; ++i) {
            yuv_row_to_rgb(src.y + i * src.y_stride, pb, pr, w, k, rgb.data(), rgb.data() + w, rgb.data() + 2 * w);
            for (size_t ch = 0; ch < 3; ++ch) bytes_to_units(rgb.data() + ch * w, w, out + ch * plane + size_t(i) * w);
        }
    });
}

void planar_to_yuv420(const float *x, int64_t width, int64_t height, YuvColour c, const pysr_yuv420_dst &dst,
                      ThreadPool &pool) {
    const ToYuv k = to_yuv(c);
    const size_t plane = size_t(width) * size_t(height), w = size_t(width), cw = (w + 1) / 2;
    std::vector<std::vector<float>> chroma(size_t(pool.size()));
    std::vector<std::vector<uint8_t>> bytes(size_t(pool.size()));
    pool.parallel_for((height + 1) / 2, [&](int64_t ci, int t) {
        std::vector<float> &p = chroma[size_t(t)];
        std::vector<uint8_t> &rgb = bytes[size_t(t)];
        p.resize(8 * cw);
        rgb.resize(3 * w);
        // Pb, Pr of the block's two rows, padded to whole blocks: a missing column or row repeats the last one
        float *pb[2] = {p.data(), p.data() + 4 * cw}, *pr[2] = {pb[0] + 2 * cw, pb[1] + 2 * cw};
        for (int r = 0; r < 2; ++r) {
            const int64_t i = 2 * ci + r;
            if (i >= height) {
                pb[1] = pb[0];
                pr[1] = pr[0];
                break;
            }
            for (size_t ch = 0; ch < 3; ++ch) units_to_bytes(x + ch * plane + size_t(i) * w, w, rgb.data() + ch * w);
            rgb_row_to_yuv(rgb.data(), rgb.data() + w, rgb.data() + 2 * w, w, k, dst.y + i * dst.y_stride, pb[r],
                           pr[r]);
            if (w % 2) {
                pb[r][w] = pb[r][w - 1];
                pr[r][w] = pr[r][w - 1];
            }
        }
        block_means(pb[0], pb[1], cw, dst.u + ci * dst.u_stride);
        block_means(pr[0], pr[1], cw, dst.v + ci * dst.v_stride);
    });
}

}  // namespace pysr
