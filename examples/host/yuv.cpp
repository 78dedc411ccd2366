#include "yuv.hpp"

#include <cmath>

namespace {

uint8_t to_u8(float x) {  // clip(rint(x), 0, 255)
    float r = std::nearbyint(x);
    return uint8_t(r < 0.0f ? 0.0f : r > 255.0f ? 255.0f : r);
}

void constants(Colour c, double &kr, double &kb, float &off, float &ys, float &cs) {
    kr = c.bt709 ? 0.2126 : 0.299;
    kb = c.bt709 ? 0.0722 : 0.114;
    off = c.full ? 0.0f : 16.0f;
    ys = c.full ? 255.0f : 219.0f;
    cs = c.full ? 255.0f : 224.0f;
}

}  // namespace

void yuv444_to_rgb(const uint8_t *y, const uint8_t *u, const uint8_t *v, int w, int h, Colour c, uint8_t *rgb) {
    double kr, kb;
    float off, ys, cs;
    constants(c, kr, kb, off, ys, cs);
    const double kg = 1.0 - kr - kb;
    const float ky = float(255.0 / ys), kc = float(255.0 / cs);
    const float a_r = float(2 * (1 - kr)), a_b = float(2 * (1 - kb));
    const float g_r = float(2 * (1 - kr) * kr / kg), g_b = float(2 * (1 - kb) * kb / kg);
    for (size_t k = 0; k < size_t(w) * size_t(h); ++k) {
        float yf = (float(y[k]) - off) * ky;
        float pb = (float(u[k]) - 128.0f) * kc;
        float pr = (float(v[k]) - 128.0f) * kc;
        rgb[3 * k] = to_u8(yf + a_r * pr);
        rgb[3 * k + 1] = to_u8(yf - g_r * pr - g_b * pb);
        rgb[3 * k + 2] = to_u8(yf + a_b * pb);
    }
}

void rgb_to_yuv444(const uint8_t *rgb, int w, int h, Colour c, std::vector<uint8_t> &y, std::vector<uint8_t> &u,
                   std::vector<uint8_t> &v) {
    double kr, kb;
    float off, ys, cs;
    constants(c, kr, kb, off, ys, cs);
    const double kg = 1.0 - kr - kb;
    const float fr = float(kr), fg = float(kg), fb = float(kb);
    const float sb = float(cs / 255.0 / (2 * (1 - kb))), sr = float(cs / 255.0 / (2 * (1 - kr)));
    const float sy = float(ys / 255.0);
    const size_t n = size_t(w) * size_t(h);
    y.resize(n);
    u.resize(n);
    v.resize(n);
    for (size_t k = 0; k < n; ++k) {
        float r = rgb[3 * k], g = rgb[3 * k + 1], b = rgb[3 * k + 2];
        float yl = fr * r + fg * g + fb * b;
        y[k] = to_u8(yl * sy + off);
        u[k] = to_u8((b - yl) * sb + 128.0f);
        v[k] = to_u8((r - yl) * sr + 128.0f);
    }
}
