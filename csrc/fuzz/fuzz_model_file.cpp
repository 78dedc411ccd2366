// libFuzzer harness of the .pysr reader and everything a loaded model reaches through the C API:
// pysr_model_load_memory on the input bytes; when the load succeeds, every fact, a session for a small input
// (8×8 mostly, see pick_size) on one thread, two frames through each entry point the model's channels allow
// (run_*, or three through send / receive / flush for a window model, whose ends reflect); then everything
// is freed (ASan's leak check sees what is not).
//
// A bug is: a sanitizer report, a leak, a hang (-timeout), or a broken contract, which this harness
// turns into abort() so that libFuzzer keeps the input: a status other than OK without a message (or
// with one that is not UTF-8), a failed call that leaves its handle set, PYSR_STATUS_INTERNAL or
// INVALID_ARGUMENT from calls made with valid arguments, facts out of their documented ranges.
//
// Mutations (LLVMFuzzerCustomMutator below): a quarter of them are libFuzzer's own on the whole file; the rest
// keep the container well formed so that the fuzzer reaches the checks behind it: they mutate the header JSON
// alone and rewrite its length, or mutate the text of 'pysr.graph' or 'pysr.model' (JSON inside a JSON string)
// and write it back escaped.
//
// Budget: a valid file may legitimately need gigabytes or minutes at 8×8 (a resize ×10000, a concat that
// doubles channels fifty times). Such a model is not a reader bug, so the harness skips the session when
// the network's values at the session's size exceed kMaxFloats floats or its work kMaxWork multiply-adds; it measures
// both on the internal graph (the harness links the library's objects, not libpysr.so).
//
//   build: cmake -S . -B build-fuzz -G Ninja -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_C_COMPILER=clang -DPYSR_FUZZ=ON
//   run:   build-fuzz/pysr_fuzz_model_file CORPUS_DIR -dict=csrc/fuzz/pysr.dict   (csrc/README.md)
#include <pysr.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "../json.hpp"
#include "../model.hpp"
#include "../ops/op.hpp"

namespace {

// The LR size: 8×8 mostly, 1, 5 and 13 pixels sides too, picked from the input's length (a replay is exact).
struct Size {
    int32_t w, h;
};
Size pick_size(size_t n) {
    static const int32_t sides[] = {8, 8, 1, 5, 13};
    return {sides[n % 5], sides[(n / 5) % 5]};
}

constexpr int64_t kMaxFloats = int64_t(1) << 24;  // 64 MiB of values (all of them, as if none were reused)
constexpr int64_t kMaxWork = int64_t(1) << 28;    // multiply-adds, about a second under ASan

[[noreturn]] void broken(const char *call, pysr_status st, const char *why) {
    std::fprintf(stderr, "fuzz_model_file: %s returned %d (%s): %s\n  last error: \"%s\"\n", call, int(st),
                 pysr_status_to_string(st), why, pysr_last_error());
    std::abort();
}

// Every failure carries a message a host can print (and a Python binding can decode).
void check_failure(const char *call, pysr_status st) {
    const char *msg = pysr_last_error();
    if (!msg || !*msg) broken(call, st, "failed without a message");
    if (!pysr::valid_utf8(msg, std::strlen(msg))) broken(call, st, "the message is not valid UTF-8");
    if (st == PYSR_STATUS_INTERNAL) broken(call, st, "an internal error is a bug in libpysr");
    if (st == PYSR_STATUS_INVALID_ARGUMENT || st == PYSR_STATUS_IO_ERROR) broken(call, st, "the arguments were valid");
}

// Whether the values of `g` for these inputs (one shape per graph input) fit kMaxFloats and its multiply-adds
// kMaxWork. True when the shapes do not hold: the session then fails by itself, before allocating anything.
bool within_budget(const pysr::Graph &g, const std::vector<pysr::Shape> &inputs) {
    std::map<std::string, pysr::Shape> shapes;
    try {
        shapes = g.infer_shapes(inputs, PYSR_STATUS_SHAPE_ERROR);
    } catch (const pysr::Error &) {
        return true;  // compile_plan refuses it before any allocation
    }
    auto add_sat = [](int64_t a, double b) { return double(a) + b > 9e18 ? int64_t(9e18) : a + int64_t(b); };
    int64_t floats = 0, work = 0;
    for (auto &kv : shapes) {
        double n = 1;
        for (int64_t d : kv.second) n *= double(d);
        floats = add_sat(floats, n);
    }
    for (const pysr::Node &node : g.nodes) {
        double per_output = 16;  // taps of the widest resampling op; most ops touch one or two inputs
        if (const pysr::Tensor *w = g.tensor_opt(node, "weight"))
            if (!w->shape.empty() && w->shape[0] > 0) per_output += double(w->data.size()) / double(w->shape[0]);
        for (auto &v : node.outputs) {
            double n = 1;
            for (int64_t d : shapes.at(v)) n *= double(d);
            work = add_sat(work, n * per_output);
        }
    }
    return floats <= kMaxFloats && work <= kMaxWork;
}

// After a failure in the middle of a sequence the session must still work: reset brings it back.
void reset(pysr_session_t *s) {
    pysr_status st = pysr_session_reset(s);
    if (st != PYSR_STATUS_OK) broken("pysr_session_reset", st, "failed on a live session");
}

// `frames` frames through send / receive, then flush: as many outputs as frames, or a clean failure.
template <class Send, class Receive>
void sequence(pysr_session_t *s, const char *what, Send send, Receive receive, int frames) {
    int got = 0;
    auto drain = [&] {
        pysr_status st;
        while ((st = receive()) == PYSR_STATUS_OK) ++got;
        if (st == PYSR_STATUS_AGAIN) return true;
        check_failure(what, st);
        return false;
    };
    for (int t = 0; t < frames; ++t) {
        pysr_status st = send();
        if (st == PYSR_STATUS_AGAIN) broken(what, st, "send refused a frame though every output was received");
        if (st != PYSR_STATUS_OK) {
            check_failure(what, st);
            return reset(s);
        }
        if (!drain()) return reset(s);
    }
    pysr_status st = pysr_session_flush(s);
    if (st != PYSR_STATUS_OK) broken("pysr_session_flush", st, "failed on a live session");
    if (!drain()) return reset(s);
    if (got != frames) broken(what, PYSR_STATUS_OK, "a flushed sequence gave another number of outputs than frames");
}

void run_session(const pysr_model_t *model, const pysr_model_facts &f, Size sz) {
    pysr_session_params params;
    pysr_session_default_params(&params);
    params.num_threads = 1;
    pysr_session_t *s = reinterpret_cast<pysr_session_t *>(&params);  // must come back NULL on failure
    pysr_status st = pysr_session_create(model, sz.w, sz.h, &params, &s);
    if (st != PYSR_STATUS_OK) {
        if (s) broken("pysr_session_create", st, "failed but left *out set");
        return check_failure("pysr_session_create", st);
    }
    int32_t ow = 0, oh = 0;
    st = pysr_session_output_size(s, &ow, &oh);
    if (st != PYSR_STATUS_OK) broken("pysr_session_output_size", st, "failed on a live session");
    if (ow <= 0 || oh <= 0) broken("pysr_session_output_size", st, "a session with an empty output");
    size_t in_px = size_t(sz.w) * size_t(sz.h), out_px = size_t(ow) * size_t(oh);
    std::vector<float> x(size_t(f.input_channels) * in_px), y(size_t(f.output_channels) * out_px);
    for (size_t i = 0; i < x.size(); ++i) x[i] = float(i % 97) / 96.0f;
    std::vector<uint8_t> src(in_px * 3), dst(out_px * 3);
    for (size_t i = 0; i < src.size(); ++i) src[i] = uint8_t(i * 37);
    ptrdiff_t src3 = ptrdiff_t(sz.w) * 3, dst3 = ptrdiff_t(ow) * 3;
    bool y_ok = f.input_channels == 1 && f.output_channels == 1;
    int need = f.colour_mode == PYSR_COLOUR_Y ? 1 : 3;
    bool rgb_ok = f.input_channels == need && f.output_channels == need;
    // YUV 4:2:0 views of the same buffers (3 bytes a pixel hold all three planes); output in another colour
    const ptrdiff_t in_cw = (sz.w + 1) / 2, out_cw = (ow + 1) / 2;
    const size_t in_c = size_t(in_cw) * size_t((sz.h + 1) / 2), out_c = size_t(out_cw) * size_t((oh + 1) / 2);
    const pysr_yuv420_src yuv_in = {src.data(), src.data() + in_px, src.data() + in_px + in_c, sz.w, in_cw, in_cw,
                                    PYSR_YUV_MATRIX_BT709, PYSR_YUV_RANGE_LIMITED};
    const pysr_yuv420_dst yuv_out = {dst.data(), dst.data() + out_px, dst.data() + out_px + out_c, ow, out_cw, out_cw,
                                     PYSR_YUV_MATRIX_BT601, PYSR_YUV_RANGE_FULL};
    auto call = [](const char *what, pysr_status st) {
        if (st != PYSR_STATUS_OK) check_failure(what, st);
    };
    if (f.temporal_kind != PYSR_TEMPORAL_WINDOW) {
        // two frames of each format: a recurrent model carries its state from the first to the second
        for (int t = 0; t < 2; ++t) call("pysr_session_run_float", pysr_session_run_float(s, x.data(), y.data()));
        reset(s);
        for (int t = 0; t < 2 && y_ok; ++t)
            call("pysr_session_run_y_u8", pysr_session_run_y_u8(s, src.data(), sz.w, dst.data(), ow));
        reset(s);
        for (int t = 0; t < 2 && rgb_ok; ++t)
            call("pysr_session_run_rgb_u8", pysr_session_run_rgb_u8(s, src.data(), src3, dst.data(), dst3));
        reset(s);
        for (int t = 0; t < 2 && rgb_ok; ++t)
            call("pysr_session_run_yuv420_u8", pysr_session_run_yuv420_u8(s, &yuv_in, &yuv_out));
    } else {  // window(k): send / receive only; 3 frames, so the sequence's ends reflect
        sequence(s, "pysr_session_send/receive_float", [&] { return pysr_session_send_float(s, x.data()); },
                 [&] { return pysr_session_receive_float(s, y.data()); }, 3);
        if (y_ok)
            sequence(s, "pysr_session_send/receive_y_u8", [&] { return pysr_session_send_y_u8(s, src.data(), sz.w); },
                     [&] { return pysr_session_receive_y_u8(s, dst.data(), ow); }, 3);
        if (rgb_ok)
            sequence(s, "pysr_session_send/receive_rgb_u8",
                     [&] { return pysr_session_send_rgb_u8(s, src.data(), src3); },
                     [&] { return pysr_session_receive_rgb_u8(s, dst.data(), dst3); }, 3);
        if (rgb_ok)
            sequence(s, "pysr_session_send/receive_yuv420_u8", [&] { return pysr_session_send_yuv420_u8(s, &yuv_in); },
                     [&] { return pysr_session_receive_yuv420_u8(s, &yuv_out); }, 3);
    }
    pysr_session_free(s);
}

// ---- the structure-aware mutator ----------------------------------------------------------------------

void put_json_string(std::string &o, const std::string &s, bool ascii) {
    o += '"';
    for (unsigned char c : s) {
        if (c == '"' || c == '\\') {
            o += '\\';
            o += char(c);
        } else if (c < 0x20 || (ascii && c >= 0x80)) {  // ascii: bytes of mutated text, maybe not UTF-8
            char b[8];
            std::snprintf(b, sizeof b, "\\u%04x", c);
            o += b;
        } else {
            o += char(c);
        }
    }
    o += '"';
}

void put_json(std::string &o, const pysr::Json &j) {
    switch (j.type) {
        case pysr::Json::Type::Null: o += "null"; break;
        case pysr::Json::Type::Bool: o += j.boolean ? "true" : "false"; break;
        case pysr::Json::Type::Number: {
            char b[32];
            if (j.is_int && !j.big) std::snprintf(b, sizeof b, "%lld", static_cast<long long>(j.integer));
            else std::snprintf(b, sizeof b, "%.17g", j.number);
            o += b;
            break;
        }
        case pysr::Json::Type::String: put_json_string(o, j.string, false); break;
        case pysr::Json::Type::Array:
            o += '[';
            for (size_t i = 0; i < j.array.size(); ++i) {
                if (i) o += ',';
                put_json(o, j.array[i]);
            }
            o += ']';
            break;
        case pysr::Json::Type::Object:
            o += '{';
            for (size_t i = 0; i < j.object.size(); ++i) {
                if (i) o += ',';
                put_json_string(o, j.object[i].first, false);
                o += ':';
                put_json(o, j.object[i].second);
            }
            o += '}';
            break;
    }
}

}  // namespace

extern "C" size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max_size);

extern "C" size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed) {
    std::minstd_rand rng(seed);
    int how = int(rng() % 4);
    uint64_t n = 0;
    for (int i = 7; i >= 0 && size >= 8; --i) n = (n << 8) | data[i];
    if (how == 0 || size < 8 || n == 0 || n > size - 8) return LLVMFuzzerMutate(data, size, max_size);
    std::string header(reinterpret_cast<const char *>(data) + 8, size_t(n));
    std::vector<uint8_t> body(data + 8 + n, data + size);
    if (how == 1) {  // the header bytes alone
        header.resize(std::max<size_t>(header.size() * 2, 64));
        header.resize(LLVMFuzzerMutate(reinterpret_cast<uint8_t *>(&header[0]), size_t(n), header.size()));
    } else {  // the graph (how 2) or the facts (how 3) as text
        pysr::Json h;
        std::string err;
        if (!pysr::parse_json(header.data(), header.size(), h, err) || !h.is_object())
            return LLVMFuzzerMutate(data, size, max_size);
        pysr::Json *meta = nullptr;
        for (auto &kv : h.object)
            if (kv.first == "__metadata__" && kv.second.is_object()) meta = &kv.second;
        pysr::Json *text = nullptr;
        const char *key = how == 2 ? "pysr.graph" : "pysr.model";
        for (auto &kv : meta ? meta->object : h.object)
            if (meta && kv.first == key && kv.second.is_string()) text = &kv.second;
        if (!text || text->string.empty()) return LLVMFuzzerMutate(data, size, max_size);
        std::string t = text->string;
        size_t len = t.size();
        t.resize(std::max<size_t>(len * 2, 64));
        t.resize(LLVMFuzzerMutate(reinterpret_cast<uint8_t *>(&t[0]), len, t.size()));
        header.clear();
        header += '{';
        for (size_t i = 0; i < h.object.size(); ++i) {
            if (i) header += ',';
            put_json_string(header, h.object[i].first, false);
            header += ':';
            if (&h.object[i].second != meta) {
                put_json(header, h.object[i].second);
                continue;
            }
            header += '{';
            for (size_t k = 0; k < meta->object.size(); ++k) {
                if (k) header += ',';
                put_json_string(header, meta->object[k].first, false);
                header += ':';
                if (&meta->object[k].second == text) put_json_string(header, t, true);
                else put_json(header, meta->object[k].second);
            }
            header += '}';
        }
        header += '}';
    }
    if (8 + header.size() + body.size() > max_size) return LLVMFuzzerMutate(data, size, max_size);
    uint64_t len = header.size();
    for (int i = 0; i < 8; ++i) data[i] = uint8_t(len >> (8 * i));
    std::memcpy(data + 8, header.data(), header.size());
    if (!body.empty()) std::memcpy(data + 8 + header.size(), body.data(), body.size());
    return 8 + header.size() + body.size();
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    pysr_model_t *model = reinterpret_cast<pysr_model_t *>(&size);  // must come back NULL on failure
    pysr_status st = pysr_model_load_memory(data, size, &model);
    if (st != PYSR_STATUS_OK) {
        if (model) broken("pysr_model_load_memory", st, "failed but left *out set");
        check_failure("pysr_model_load_memory", st);
        if (std::strncmp(pysr_last_error(), "<memory>: ", 10) != 0 && st != PYSR_STATUS_OUT_OF_MEMORY)
            broken("pysr_model_load_memory", st, "the message does not name the source (\"<memory>: \")");
        return 0;
    }
    pysr_model_facts f;
    st = pysr_model_get_facts(model, &f);
    if (st != PYSR_STATUS_OK) broken("pysr_model_get_facts", st, "failed on a loaded model");
    const char *name = pysr_model_name(model);
    if (!name || !pysr::valid_utf8(name, std::strlen(name))) broken("pysr_model_name", st, "NULL or not UTF-8");
    bool facts_ok = f.scale >= 1 && (f.colour_mode == PYSR_COLOUR_Y || f.colour_mode == PYSR_COLOUR_RGB) &&
                    f.temporal_kind >= PYSR_TEMPORAL_SINGLE && f.temporal_kind <= PYSR_TEMPORAL_RECURRENT &&
                    (f.window >= 1) == (f.temporal_kind == PYSR_TEMPORAL_WINDOW) && f.receptive_field >= 0 &&
                    f.input_channels >= 1 && f.output_channels >= 1 &&
                    f.input_lo <= f.input_hi;  // not <: as floats, [1e-320, 2e-320] is [0, 0]
    if (!facts_ok) broken("pysr_model_get_facts", st, "facts out of their documented ranges");

    // The budget, measured on the internal graph of the same bytes (see the top of this file).
    Size sz = pick_size(size);
    bool small = false;
    try {
        pysr::Model m = pysr::read_model(data, size, "<budget>");
        std::map<std::string, int64_t> scale;  // a recurrent model's carried inputs are larger
        for (auto &c : m.facts.state.carry) scale[c.input] = c.scale;
        std::vector<pysr::Shape> inputs;
        for (auto &in : m.net.inputs) {
            int64_t k = scale.count(in.first) ? scale[in.first] : 1;
            inputs.push_back({1, in.second, sz.h * k, sz.w * k});
        }
        small = within_budget(m.net, inputs);
        pysr::Graph rgb;
        try {
            rgb = pysr::optimize(pysr::wrap_rgb(m.net, m.facts));
        } catch (const pysr::Error &) {
            rgb = {};  // the RGB entry point refuses this model by itself
        }
        if (small && !rgb.inputs.empty()) small = within_budget(rgb, {{1, 3, sz.h, sz.w}});
    } catch (const pysr::Error &e) {
        broken("pysr::read_model", e.status, "refused a file the C API loaded");
    }
    if (small) run_session(model, f, sz);
    pysr_model_free(model);
    return 0;
}
