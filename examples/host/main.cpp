// pysr_host: upscale a y4m video with a .pysr model through the installed libpysr C API.
//
//   pysr_host -m MODEL.pysr [-i IN.y4m|-] [-o OUT.y4m|-] [--matrix bt601|bt709] [--range limited|full]
//             [--threads N]
//
// Each frame is converted to RGB (pysr/video/colour.py's formulas), upscaled with the RGB entry point
// (Y models run their own colour pipeline inside: Y through the network, chroma by the model's bicubic,
// exactly as pysr.run does) and converted back with the stream's chroma subsampling. Matrix and range
// default as pysr's video path assumes for untagged streams: BT.709 from 720 lines up, else BT.601;
// range from XCOLORRANGE, else limited.
#include <pysr.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "y4m.hpp"
#include "yuv.hpp"

namespace {

int die(const std::string &msg) {
    std::fprintf(stderr, "pysr_host: %s\n", msg.c_str());
    return 1;
}

}  // namespace

int main(int argc, char **argv) {
    std::string model_path, in_path = "-", out_path = "-", matrix, range;
    int threads = 0;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
        if (a == "-m") model_path = next();
        else if (a == "-i") in_path = next();
        else if (a == "-o") out_path = next();
        else if (a == "--matrix") matrix = next();
        else if (a == "--range") range = next();
        else if (a == "--threads") threads = std::atoi(next().c_str());
        else return die("unknown argument " + a + "\nusage: pysr_host -m MODEL.pysr [-i IN.y4m] [-o OUT.y4m] "
                        "[--matrix bt601|bt709] [--range limited|full] [--threads N]");
    }
    if (model_path.empty()) return die("no model given (-m MODEL.pysr)");
    pysr_model_t *model = nullptr;
    if (pysr_model_load_file(model_path.c_str(), &model) != PYSR_STATUS_OK) return die(pysr_last_error());
    pysr_model_facts facts;
    pysr_model_get_facts(model, &facts);

    std::FILE *in = in_path == "-" ? stdin : std::fopen(in_path.c_str(), "rb");
    if (!in) return die("cannot open " + in_path);
    std::FILE *out = out_path == "-" ? stdout : std::fopen(out_path.c_str(), "wb");
    if (!out) return die("cannot create " + out_path);
    Y4mHeader hdr;
    std::string err = y4m_read_header(in, hdr);
    if (!err.empty()) return die(in_path + ": " + err);

    Colour colour;
    colour.bt709 = matrix.empty() ? hdr.height >= 720 : matrix == "bt709";
    colour.full = range.empty() ? hdr.colour_range == "full" : range == "full";

    pysr_session_params params;
    pysr_session_default_params(&params);
    params.num_threads = threads;
    pysr_session_t *session = nullptr;
    if (pysr_session_create(model, hdr.width, hdr.height, &params, &session) != PYSR_STATUS_OK)
        return die(pysr_last_error());
    int ow = 0, oh = 0;
    pysr_session_output_size(session, &ow, &oh);
    y4m_write_header(out, hdr, ow, oh);

    std::vector<uint8_t> y, u, v, rgb(size_t(hdr.width) * size_t(hdr.height) * 3), rgb_hr(size_t(ow) * size_t(oh) * 3);
    int frames = 0;
    while (y4m_read_frame(in, hdr, y, u, v, err)) {
        yuv_to_rgb(y.data(), u.data(), v.data(), hdr.width, hdr.height, hdr.sub, colour, rgb.data());
        if (pysr_session_run_rgb_u8(session, rgb.data(), ptrdiff_t(hdr.width) * 3, rgb_hr.data(), ptrdiff_t(ow) * 3) !=
            PYSR_STATUS_OK)
            return die(pysr_last_error());
        rgb_to_yuv(rgb_hr.data(), ow, oh, hdr.sub, colour, y, u, v);
        y4m_write_frame(out, y, u, v);
        ++frames;
    }
    if (!err.empty()) return die(in_path + ": frame " + std::to_string(frames) + ": " + err);
    std::fflush(out);
    std::fprintf(stderr, "pysr_host: %d frame(s) %dx%d -> %dx%d with %s (libpysr %s)\n", frames, hdr.width, hdr.height, ow,
                 oh, pysr_model_name(model), pysr_version());
    pysr_session_free(session);
    pysr_model_free(model);
    if (in != stdin) std::fclose(in);
    if (out != stdout) std::fclose(out);
    return 0;
}
