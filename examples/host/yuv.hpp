// YUV <-> RGB exactly as pysr/video/colour.py computes it (float32, same operation order, ties to even),
// so that this host and the Python video path produce the same bytes:
//   to RGB:  Y' = (Y − off)·(255/ys), Pb = (U − 128)·(255/cs), Pr = (V − 128)·(255/cs)   (chroma replicated)
//            R = Y' + 2(1−Kr)·Pr, B = Y' + 2(1−Kb)·Pb, G = Y' − (2(1−Kr)Kr/Kg)·Pr − (2(1−Kb)Kb/Kg)·Pb
//   to YUV:  Y'' = Kr·R + Kg·G + Kb·B (0..255), Pb = (B − Y'')·cs/255/(2(1−Kb)), Pr likewise;
//            Y = rint(Y''·ys/255 + off); chroma = mean of each sub×sub block (edge-padded) + 128, rounded
// with (off, ys, cs) = (16, 219, 224) for limited range and (0, 255, 255) for full.
#pragma once

#include <cstdint>
#include <vector>

struct Colour {
    bool bt709 = false;
    bool full = false;
};

void yuv_to_rgb(const uint8_t *y, const uint8_t *u, const uint8_t *v, int w, int h, int sub, Colour c, uint8_t *rgb);
void rgb_to_yuv(const uint8_t *rgb, int w, int h, int sub, Colour c, std::vector<uint8_t> &y, std::vector<uint8_t> &u,
                std::vector<uint8_t> &v);
