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

void yuv_to_rgb(const uint8_t *y, const uint8_t *u, const uint8_t *v, int w, int h, int sub, Colour c, uint8_t *rgb) {
    double kr, kb;
    float off, ys, cs;
    constants(c, kr, kb, off, ys, cs);
    const double kg = 1.0 - kr - kb;
    const float ky = float(255.0 / ys), kc = float(255.0 / cs);
    const float a_r = float(2 * (1 - kr)), a_b = float(2 * (1 - kb));
    const float g_r = float(2 * (1 - kr) * kr / kg), g_b = float(2 * (1 - kb) * kb / kg);
    const int cw = (w + sub - 1) / sub;
    for (int i = 0; i < h; ++i)
        for (int j = 0; j < w; ++j) {
            size_t ci = size_t(i / sub) * size_t(cw) + size_t(j / sub);
            float yf = (float(y[size_t(i) * size_t(w) + size_t(j)]) - off) * ky;
            float pb = (float(u[ci]) - 128.0f) * kc;
            float pr = (float(v[ci]) - 128.0f) * kc;
            float r = yf + a_r * pr;
            float b = yf + a_b * pb;
            float g = yf - g_r * pr - g_b * pb;
            uint8_t *o = rgb + (size_t(i) * size_t(w) + size_t(j)) * 3;
            o[0] = to_u8(r);
            o[1] = to_u8(g);
            o[2] = to_u8(b);
        }
}

void rgb_to_yuv(const uint8_t *rgb, int w, int h, int sub, Colour c, std::vector<uint8_t> &y, std::vector<uint8_t> &u,
                std::vector<uint8_t> &v) {
    double kr, kb;
    float off, ys, cs;
    constants(c, kr, kb, off, ys, cs);
    const double kg = 1.0 - kr - kb;
    const float fr = float(kr), fg = float(kg), fb = float(kb);
    const float sb = float(cs / 255.0 / (2 * (1 - kb))), sr = float(cs / 255.0 / (2 * (1 - kr)));
    const float sy = float(ys / 255.0);
    std::vector<float> pb(size_t(w) * size_t(h)), pr(pb.size());
    y.resize(pb.size());
    for (size_t k = 0; k < pb.size(); ++k) {
        float r = rgb[3 * k], g = rgb[3 * k + 1], b = rgb[3 * k + 2];
        float yl = fr * r + fg * g + fb * b;
        pb[k] = (b - yl) * sb;
        pr[k] = (r - yl) * sr;
        y[k] = to_u8(yl * sy + off);
    }
    const int cw = (w + sub - 1) / sub, ch = (h + sub - 1) / sub;
    u.resize(size_t(cw) * size_t(ch));
    v.resize(u.size());
    auto at = [&](const std::vector<float> &p, int i, int j) {  // edge padding
        i = i < h ? i : h - 1;
        j = j < w ? j : w - 1;
        return p[size_t(i) * size_t(w) + size_t(j)];
    };
    for (int i = 0; i < ch; ++i)
        for (int j = 0; j < cw; ++j) {
            float mb, mr;
            if (sub == 1) {
                mb = pb[size_t(i) * size_t(w) + size_t(j)];
                mr = pr[size_t(i) * size_t(w) + size_t(j)];
            } else {  // numpy's mean over (2, 2): pairwise (a + b) + (c + d), then / 4
                int y0 = 2 * i, x0 = 2 * j;
                mb = ((at(pb, y0, x0) + at(pb, y0, x0 + 1)) + (at(pb, y0 + 1, x0) + at(pb, y0 + 1, x0 + 1))) / 4.0f;
                mr = ((at(pr, y0, x0) + at(pr, y0, x0 + 1)) + (at(pr, y0 + 1, x0) + at(pr, y0 + 1, x0 + 1))) / 4.0f;
            }
            u[size_t(i) * size_t(cw) + size_t(j)] = to_u8(mb + 128.0f);
            v[size_t(i) * size_t(cw) + size_t(j)] = to_u8(mr + 128.0f);
        }
}
