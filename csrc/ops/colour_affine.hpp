// Shared by rgb_to_ycbcr.cpp and ycbcr_to_rgb.cpp: the colour matrix and the per-pixel affine kernel.
#pragma once

#include <algorithm>

#include "../threads.hpp"
#include "op.hpp"

namespace pysr {

// M (rows Y', Pb, Pr times the range gains) and o of RGB -> YCbCr, float64 (kernels/cpu/rgb_to_ycbcr.py).
void colour_matrix(bool bt709, bool full, double m[3][3], double o[3]);
void parse_colour(const char *op, AttrReader &r, Attrs &a);
Shape three_channels(const char *op, const std::vector<Shape> &in);

// The per-pixel affine kernel shared with ycbcr_to_rgb: `rows` output planes (3, or 1 for y_only).
struct AffineState : OpState {
    double m[3][3], o[3];
    int rows = 3;
    int64_t n = 0, plane = 0;
    static constexpr int64_t kChunk = 1 << 14;
    void run(const float *const *in, float *const *out, ThreadPool &pool) override {
        int64_t chunks = (plane + kChunk - 1) / kChunk;
        pool.parallel_for(n * chunks, [&](int64_t job, int) {
            int64_t b = job / chunks, start = (job % chunks) * kChunk, stop = std::min(plane, start + kChunk);
            const float *x0 = in[0] + b * 3 * plane, *x1 = x0 + plane, *x2 = x1 + plane;
            for (int k = 0; k < rows; ++k) {
                float *y = out[0] + (b * rows + k) * plane;
                double a0 = m[k][0], a1 = m[k][1], a2 = m[k][2], ok = o[k];
                for (int64_t i = start; i < stop; ++i)
                    y[i] = float(a0 * double(x0[i]) + a1 * double(x1[i]) + a2 * double(x2[i]) + ok);
            }
        });
    }
};

}  // namespace pysr
