#include "y4m.hpp"

#include <cstdlib>

namespace {

bool read_line(std::FILE *f, std::string &line, size_t limit) {
    line.clear();
    int c;
    while ((c = std::fgetc(f)) != EOF) {
        if (c == '\n') return true;
        line += char(c);
        if (line.size() > limit) return false;
    }
    return false;  // end of stream before a newline
}

}  // namespace

std::string y4m_read_header(std::FILE *f, Y4mHeader &h) {
    std::string line;
    if (!read_line(f, line, 4096)) return "not a YUV4MPEG2 stream (no header line)";
    if (line.compare(0, 10, "YUV4MPEG2 ") != 0) return "not a YUV4MPEG2 stream";
    size_t pos = 10;
    bool rate = false;
    while (pos < line.size()) {
        size_t end = line.find(' ', pos);
        if (end == std::string::npos) end = line.size();
        std::string t = line.substr(pos, end - pos);
        pos = end + 1;
        if (t.empty()) continue;
        h.tokens.push_back(t);
        std::string val = t.substr(1);
        switch (t[0]) {
            case 'W': h.width = std::atoi(val.c_str()); break;
            case 'H': h.height = std::atoi(val.c_str()); break;
            case 'F': rate = val.find(':') != std::string::npos; break;
            case 'I':
                if (val != "p") return "interlaced video (I" + val + ") is not supported; only progressive (Ip)";
                break;
            case 'C':
                if (val == "420jpeg" || val == "420" || val == "420mpeg2" || val == "420paldv") h.sub = 2;
                else if (val == "444") h.sub = 1;
                else return "colour space C" + val + " is not supported (C420jpeg, C420, C444)";
                break;
            case 'X':
                if (val.compare(0, 11, "COLORRANGE=") == 0) {
                    std::string r = val.substr(11);
                    h.colour_range = r == "FULL" ? "full" : r == "LIMITED" ? "limited" : "";
                }
                break;
            default: break;
        }
    }
    if (h.width <= 0 || h.height <= 0 || !rate) return "header lacks a valid width, height or frame rate";
    return "";
}

bool y4m_read_frame(std::FILE *f, const Y4mHeader &h, std::vector<uint8_t> &y, std::vector<uint8_t> &u,
                    std::vector<uint8_t> &v, std::string &error) {
    std::string line;
    int c = std::fgetc(f);
    if (c == EOF) return false;
    std::ungetc(c, f);
    if (!read_line(f, line, 4096) || line.compare(0, 5, "FRAME") != 0) {
        error = "expected a FRAME marker";
        return false;
    }
    y.resize(size_t(h.width) * size_t(h.height));
    u.resize(size_t(h.chroma_w()) * size_t(h.chroma_h()));
    v.resize(u.size());
    if (std::fread(y.data(), 1, y.size(), f) != y.size() || std::fread(u.data(), 1, u.size(), f) != u.size() ||
        std::fread(v.data(), 1, v.size(), f) != v.size()) {
        error = "truncated frame";
        return false;
    }
    return true;
}

void y4m_write_header(std::FILE *f, const Y4mHeader &in, int width, int height) {
    std::fputs("YUV4MPEG2", f);
    for (auto &t : in.tokens) {
        if (t[0] == 'W') std::fprintf(f, " W%d", width);
        else if (t[0] == 'H') std::fprintf(f, " H%d", height);
        else std::fprintf(f, " %s", t.c_str());
    }
    std::fputc('\n', f);
}

void y4m_write_frame(std::FILE *f, const std::vector<uint8_t> &y, const std::vector<uint8_t> &u,
                     const std::vector<uint8_t> &v) {
    std::fputs("FRAME\n", f);
    std::fwrite(y.data(), 1, y.size(), f);
    std::fwrite(u.data(), 1, u.size(), f);
    std::fwrite(v.data(), 1, v.size(), f);
}
