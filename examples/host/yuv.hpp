// 4:4:4 YUV <-> RGB exactly as pysr/video/colour.py computes it (float32, same operation order, ties to even), for
// the y4m C444 streams that libpysr's YUV entry points (4:2:0 only) do not take:
//   to RGB:  Y' = (Y − off)·(255/ys), Pb = (U − 128)·(255/cs), Pr = (V − 128)·(255/cs)
//            R = Y' + 2(1−Kr)·Pr, B = Y' + 2(1−Kb)·Pb, G = Y' − (2(1−Kr)Kr/Kg)·Pr − (2(1−Kb)Kb/Kg)·Pb
//   to YUV:  Y'' = Kr·R + Kg·G + Kb·B (0..255), Pb = (B − Y'')·cs/255/(2(1−Kb)), Pr likewise;
//            Y = rint(Y''·ys/255 + off), U = rint(Pb + 128), V = rint(Pr + 128)
// with (off, ys, cs) = (16, 219, 224) for limited range and (0, 255, 255) for full.
#pragma once

#include <cstdint>
#include <vector>

struct Colour {
    bool bt709 = false;
    bool full = false;
};

void yuv444_to_rgb(const uint8_t *y, const uint8_t *u, const uint8_t *v, int w, int h, Colour c, uint8_t *rgb);
void rgb_to_yuv444(const uint8_t *rgb, int w, int h, Colour c, std::vector<uint8_t> &y, std::vector<uint8_t> &u,
                   std::vector<uint8_t> &v);
