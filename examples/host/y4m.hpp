// YUV4MPEG2 reading and writing (8 bit, progressive; C420jpeg / C420 / C420mpeg2 / C420paldv, C444), as
// pysr/video/y4m.py reads them: "YUV4MPEG2 W<w> H<h> F<n>:<d> [I..] [A..] [C..] [X..]\n", then per frame
// "FRAME[ params]\n" followed by the Y, U, V planes.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

struct Y4mHeader {
    int width = 0, height = 0;
    int sub = 2;                      // chroma subsampling per axis: 2 (4:2:0) or 1 (4:4:4)
    std::string colour_range;         // "full" / "limited" from XCOLORRANGE=, else ""
    std::vector<std::string> tokens;  // header tokens after the magic, in order
    int chroma_w() const { return (width + sub - 1) / sub; }
    int chroma_h() const { return (height + sub - 1) / sub; }
};

// Reads the header line; returns an error message or "".
std::string y4m_read_header(std::FILE *f, Y4mHeader &h);
// Reads one frame into y (w·h), u, v (chroma size); false at a clean end of stream; error set on damage.
bool y4m_read_frame(std::FILE *f, const Y4mHeader &h, std::vector<uint8_t> &y, std::vector<uint8_t> &u,
                    std::vector<uint8_t> &v, std::string &error);
// Writes the header of `in` with W and H replaced.
void y4m_write_header(std::FILE *f, const Y4mHeader &in, int width, int height);
void y4m_write_frame(std::FILE *f, const std::vector<uint8_t> &y, const std::vector<uint8_t> &u,
                     const std::vector<uint8_t> &v);
