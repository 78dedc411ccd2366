// 8-bit frames ⇄ the planar float frames of the plans: the byte conversions of pysr/kernels/cpu/frames.py and the
// 4:2:0 YUV conversions of pysr/kernels/cpu/yuv.py (pysr/video/colour.py states the formulas), bit for bit.
#pragma once

#include <cmath>
#include <cstdint>

#include "pysr.h"

namespace pysr {

class ThreadPool;

// uint8 ↔ float as frames.py: in = v / 255 (a float32 division), out = the nearest integer (ties to even) of
// clamp(x·255, 0, 255), NaN → 0.
inline float u8_to_unit(uint8_t v) { return float(v) / 255.0f; }
inline uint8_t unit_to_u8(float x) {
    float s = x * 255.0f;
    if (!(s >= 0.0f)) s = 0.0f;
    else if (s > 255.0f) s = 255.0f;
    return uint8_t(std::nearbyint(s));
}

// The colour of a pysr_yuv420_src / _dst; INVALID_ARGUMENT (naming `what`) for a value outside the enums.
struct YuvColour {
    bool bt709 = false, full = false;
};
YuvColour yuv_colour(int32_t matrix, int32_t range, const char *what);

// 4:2:0 planes (width × height luma) → 3×H×W floats: the RGB u8 frame of colour.py yuv_to_rgb, / 255.
void yuv420_to_planar(const pysr_yuv420_src &src, int64_t width, int64_t height, YuvColour c, float *out,
                      ThreadPool &pool);
// 3×H×W floats → 4:2:0 planes: each value to u8 as unit_to_u8, then colour.py rgb_to_yuv with 2×2 blocks.
void planar_to_yuv420(const float *x, int64_t width, int64_t height, YuvColour c, const pysr_yuv420_dst &dst,
                      ThreadPool &pool);

}  // namespace pysr
