// pysr_host: upscale a y4m video with a .pysr model through the installed libpysr C API.
//
//   pysr_host -m MODEL.pysr [-i IN.y4m|-] [-o OUT.y4m|-] [--matrix bt601|bt709] [--range limited|full]
//             [--threads N]
//
// 4:2:0 frames go through libpysr's YUV420 entry points, which do what `pysr upscale` does: planes to RGB
// (pysr/video/colour.py), the model (a Y model runs its own colour pipeline: Y through the network, chroma by the
// model's resize, exactly as pysr.run does), RGB back to planes. 4:4:4 frames, which those entry points do not
// take, are converted here with the same formulas (yuv.cpp) around the RGB entry points. Matrix and range default
// as pysr's video path assumes for untagged streams: BT.709 from 720 lines up, else BT.601; range from
// XCOLORRANGE, else limited.
//
// One loop serves every temporal kind: send a frame, write every output that is ready; at the end of the
// input flush and write the rest. A single-frame or recurrent model gives each output at once, a window(k)
// model k frames later (the last k come after the flush): as many frames out as in, in order.
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

    const bool i420 = hdr.sub == 2;
    std::vector<uint8_t> y, u, v, yo(size_t(ow) * size_t(oh)), uo, vo, rgb, rgb_hr;
    const int ocw = i420 ? (ow + 1) / 2 : ow, och = i420 ? (oh + 1) / 2 : oh;
    uo.resize(size_t(ocw) * size_t(och));
    vo.resize(uo.size());
    pysr_yuv420_src src = {};
    pysr_yuv420_dst dst = {yo.data(), uo.data(), vo.data(), ow, ocw, ocw, 0, 0};
    src.matrix = dst.matrix = colour.bt709 ? PYSR_YUV_MATRIX_BT709 : PYSR_YUV_MATRIX_BT601;
    src.range = dst.range = colour.full ? PYSR_YUV_RANGE_FULL : PYSR_YUV_RANGE_LIMITED;
    if (!i420) {
        rgb.resize(size_t(hdr.width) * size_t(hdr.height) * 3);
        rgb_hr.resize(size_t(ow) * size_t(oh) * 3);
    }
    int frames = 0, written = 0;
    // Writes every output that is ready; false on a failure.
    auto drain = [&]() {
        pysr_status st;
        while ((st = i420 ? pysr_session_receive_yuv420_u8(session, &dst)
                          : pysr_session_receive_rgb_u8(session, rgb_hr.data(), ptrdiff_t(ow) * 3)) == PYSR_STATUS_OK) {
            if (!i420) rgb_to_yuv444(rgb_hr.data(), ow, oh, colour, yo, uo, vo);
            y4m_write_frame(out, yo, uo, vo);
            ++written;
        }
        return st == PYSR_STATUS_AGAIN;
    };
    while (y4m_read_frame(in, hdr, y, u, v, err)) {
        pysr_status st;
        if (i420) {
            src.y = y.data();
            src.u = u.data();
            src.v = v.data();
            src.y_stride = hdr.width;
            src.u_stride = src.v_stride = hdr.chroma_w();
            st = pysr_session_send_yuv420_u8(session, &src);
        } else {
            yuv444_to_rgb(y.data(), u.data(), v.data(), hdr.width, hdr.height, colour, rgb.data());
            st = pysr_session_send_rgb_u8(session, rgb.data(), ptrdiff_t(hdr.width) * 3);
        }
        // after a drain no output waits, so the frame is always taken
        if (st != PYSR_STATUS_OK || !drain()) return die(pysr_last_error());
        ++frames;
    }
    if (!err.empty()) return die(in_path + ": frame " + std::to_string(frames) + ": " + err);
    if (pysr_session_flush(session) != PYSR_STATUS_OK || !drain()) return die(pysr_last_error());
    if (written != frames)
        return die("wrote " + std::to_string(written) + " frame(s) for " + std::to_string(frames) + " read");
    std::fflush(out);
    const char *kinds[] = {"", "single-frame", "window", "recurrent"};
    std::fprintf(stderr, "pysr_host: %d frame(s) %dx%d -> %dx%d with %s (%s, latency %d; libpysr %s)\n", frames,
                 hdr.width, hdr.height, ow, oh, pysr_model_name(model),
                 facts.temporal_kind >= 1 && facts.temporal_kind <= 3 ? kinds[facts.temporal_kind] : "?", facts.latency,
                 pysr_version());
    pysr_session_free(session);
    pysr_model_free(model);
    if (in != stdin) std::fclose(in);
    if (out != stdout) std::fclose(out);
    return 0;
}
