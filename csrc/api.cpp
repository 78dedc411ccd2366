// The C API (include/pysr.h): handles, argument checks, uint8 conversions, and the one place where
// C++ exceptions stop — every entry point runs its body inside guard(), which turns an Error, a
// std::bad_alloc or anything else into a status and the thread-local message.
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <thread>
#include <vector>

#include "error.hpp"
#include "model.hpp"
#include "plan.hpp"
#include "threads.hpp"

struct pysr_model {
    pysr::Model model;
    pysr_model_facts facts;
};

struct pysr_session {
    const pysr_model *model = nullptr;
    int32_t width = 0, height = 0, batch = 1;
    std::unique_ptr<pysr::ThreadPool> pool;
    std::unique_ptr<pysr::Plan> net;     // N = batch, the float entry point
    std::unique_ptr<pysr::Plan> net1;    // N = 1 for the Y u8 entry point (net when batch == 1)
    std::unique_ptr<pysr::Plan> rgb;     // the colour pipeline, compiled on first use
    std::vector<float> in_buf, out_buf;  // planar float frames of the u8 entry points
};

namespace {

thread_local std::string g_last_error;

template <class F>
pysr_status guard(F &&body) {
    try {
        body();
        return PYSR_STATUS_OK;
    } catch (const pysr::Error &e) {
        g_last_error = e.what();
        return e.status;
    } catch (const std::bad_alloc &) {
        g_last_error = "out of memory";
        return PYSR_STATUS_OUT_OF_MEMORY;
    } catch (const std::exception &e) {
        g_last_error = std::string("internal error: ") + e.what();
        return PYSR_STATUS_INTERNAL;
    } catch (...) {
        g_last_error = "internal error: unknown exception";
        return PYSR_STATUS_INTERNAL;
    }
}

[[noreturn]] void bad_arg(const std::string &msg) { pysr::fail(PYSR_STATUS_INVALID_ARGUMENT, msg); }

void check_host() {
    const uint32_t one = 1;
    unsigned char b;
    std::memcpy(&b, &one, 1);
    if (b != 1) pysr::fail(PYSR_STATUS_UNSUPPORTED, "libpysr reads .pysr files on little-endian hosts only");
}

pysr_model *load(const uint8_t *data, size_t size, const std::string &where) {
    check_host();
    auto m = std::make_unique<pysr_model>();
    m->model = pysr::read_model(data, size, where);
    const pysr::Facts &f = m->model.facts;
    pysr_model_facts &o = m->facts;
    o.scale = f.scale;
    o.colour_mode = f.colour_y ? PYSR_COLOUR_Y : PYSR_COLOUR_RGB;
    o.temporal_kind = f.temporal_kind;
    o.window = f.window;
    o.receptive_field = f.receptive_field;
    o.input_channels = m->model.file_graph.inputs.empty() ? 0 : int32_t(m->model.file_graph.inputs[0].second);
    auto shapes = m->model.file_graph.infer_shapes({{1, o.input_channels, 64, 64}}, PYSR_STATUS_INVALID_MODEL);
    o.output_channels = int32_t(shapes.at(m->model.file_graph.outputs[0])[1]);
    o.input_lo = float(f.input_lo);
    o.input_hi = float(f.input_hi);
    return m.release();
}

// uint8 ↔ float as pysr/kernels/cpu/frames.py: in = v / 255 (a float32 division), out = the nearest
// integer (ties to even) of clamp(x·255, 0, 255), NaN → 0.
inline float u8_to_f(uint8_t v) { return float(v) / 255.0f; }
inline uint8_t f_to_u8(float x) {
    float s = x * 255.0f;
    if (!(s >= 0.0f)) s = 0.0f;
    else if (s > 255.0f) s = 255.0f;
    return uint8_t(std::nearbyint(s));
}

void check_session(const pysr_session *s) {
    if (!s) bad_arg("session is NULL");
}

void check_io(const void *src, ptrdiff_t src_stride, ptrdiff_t src_row, const void *dst, ptrdiff_t dst_stride,
              ptrdiff_t dst_row) {
    if (!src || !dst) bad_arg("src or dst is NULL");
    if (src_stride < src_row) bad_arg("src_stride " + std::to_string(src_stride) + " is less than a row (" + std::to_string(src_row) + " bytes)");
    if (dst_stride < dst_row) bad_arg("dst_stride " + std::to_string(dst_stride) + " is less than a row (" + std::to_string(dst_row) + " bytes)");
}

}  // namespace

extern "C" {

const char *pysr_version(void) {
#define PYSR_STR2(x) #x
#define PYSR_STR(x) PYSR_STR2(x)
    return PYSR_STR(PYSR_VERSION_MAJOR) "." PYSR_STR(PYSR_VERSION_MINOR) "." PYSR_STR(PYSR_VERSION_PATCH);
}

const char *pysr_status_to_string(pysr_status status) {
    switch (status) {
        case PYSR_STATUS_OK: return "ok";
        case PYSR_STATUS_INVALID_ARGUMENT: return "invalid argument";
        case PYSR_STATUS_IO_ERROR: return "I/O error";
        case PYSR_STATUS_INVALID_MODEL: return "invalid model file";
        case PYSR_STATUS_UNSUPPORTED: return "unsupported";
        case PYSR_STATUS_SHAPE_ERROR: return "shape error";
        case PYSR_STATUS_OUT_OF_MEMORY: return "out of memory";
        case PYSR_STATUS_INTERNAL: return "internal error";
    }
    return "unknown status";
}

const char *pysr_last_error(void) { return g_last_error.c_str(); }

pysr_status pysr_model_load_file(const char *path, pysr_model_t **out) {
    if (out) *out = nullptr;
    return guard([&] {
        if (!path || !out) bad_arg("path or out is NULL");
        std::FILE *f = std::fopen(path, "rb");
        if (!f) pysr::fail(PYSR_STATUS_IO_ERROR, std::string(path) + ": cannot read: " + std::strerror(errno));
        std::vector<uint8_t> data;
        uint8_t buf[1 << 16];
        size_t got;
        while ((got = std::fread(buf, 1, sizeof buf, f)) > 0) data.insert(data.end(), buf, buf + got);
        bool err = std::ferror(f) != 0;
        std::fclose(f);
        if (err) pysr::fail(PYSR_STATUS_IO_ERROR, std::string(path) + ": read error");
        *out = load(data.data(), data.size(), path);
    });
}

pysr_status pysr_model_load_memory(const void *data, size_t size, pysr_model_t **out) {
    if (out) *out = nullptr;
    return guard([&] {
        if (!out || (!data && size)) bad_arg("data or out is NULL");
        static const uint8_t empty = 0;
        *out = load(data ? static_cast<const uint8_t *>(data) : &empty, size, "<memory>");
    });
}

void pysr_model_free(pysr_model_t *model) { delete model; }

pysr_status pysr_model_get_facts(const pysr_model_t *model, pysr_model_facts *out) {
    return guard([&] {
        if (!model || !out) bad_arg("model or out is NULL");
        *out = model->facts;
    });
}

const char *pysr_model_name(const pysr_model_t *model) { return model ? model->model.facts.name.c_str() : ""; }

void pysr_session_default_params(pysr_session_params *params) {
    if (!params) return;
    params->num_threads = 0;
    params->batch = 1;
}

pysr_status pysr_session_create(const pysr_model_t *model, int32_t width, int32_t height,
                                const pysr_session_params *params, pysr_session_t **out) {
    if (out) *out = nullptr;
    return guard([&] {
        if (!model || !out) bad_arg("model or out is NULL");
        pysr_session_params p;
        pysr_session_default_params(&p);
        if (params) p = *params;
        if (width <= 0 || height <= 0)
            bad_arg("width and height must be positive, got " + std::to_string(width) + "×" + std::to_string(height));
        if (p.batch <= 0) bad_arg("batch must be >= 1, got " + std::to_string(p.batch));
        if (p.num_threads < 0 || p.num_threads > 1024) bad_arg("num_threads must be in [0, 1024], got " + std::to_string(p.num_threads));
        int threads = p.num_threads ? p.num_threads : int(std::max(1u, std::thread::hardware_concurrency()));
        auto s = std::make_unique<pysr_session>();
        s->model = model;
        s->width = width;
        s->height = height;
        s->batch = p.batch;
        s->net = pysr::compile_plan(model->model.net, {p.batch, model->facts.input_channels, height, width}, threads);
        s->pool = std::make_unique<pysr::ThreadPool>(threads);
        *out = s.release();
    });
}

void pysr_session_free(pysr_session_t *session) { delete session; }

pysr_status pysr_session_output_size(const pysr_session_t *session, int32_t *out_width, int32_t *out_height) {
    return guard([&] {
        check_session(session);
        if (!out_width || !out_height) bad_arg("out_width or out_height is NULL");
        *out_width = int32_t(session->net->output_shape[3]);
        *out_height = int32_t(session->net->output_shape[2]);
    });
}

pysr_status pysr_session_run_float(pysr_session_t *session, const float *src, float *dst) {
    return guard([&] {
        check_session(session);
        if (!src || !dst) bad_arg("src or dst is NULL");
        pysr::run_plan(*session->net, src, dst, *session->pool);
    });
}

pysr_status pysr_session_run_y_u8(pysr_session_t *session, const uint8_t *src, ptrdiff_t src_stride, uint8_t *dst,
                                  ptrdiff_t dst_stride) {
    return guard([&] {
        check_session(session);
        pysr_session &s = *session;
        if (s.model->facts.input_channels != 1 || s.model->facts.output_channels != 1)
            bad_arg("the Y entry point needs a model with 1 input and 1 output channel (this one has " +
                    std::to_string(s.model->facts.input_channels) + " and " + std::to_string(s.model->facts.output_channels) + ")");
        if (s.batch == 1 && !s.net1) {
            // the float plan serves as is
        } else if (!s.net1) {
            s.net1 = pysr::compile_plan(s.model->model.net, {1, 1, s.height, s.width}, s.pool->size());
        }
        pysr::Plan &plan = s.net1 ? *s.net1 : *s.net;
        int64_t ow = plan.output_shape[3], oh = plan.output_shape[2];
        check_io(src, src_stride, s.width, dst, dst_stride, ptrdiff_t(ow));
        s.in_buf.resize(size_t(s.width) * size_t(s.height));
        s.out_buf.resize(size_t(ow * oh));
        for (int32_t y = 0; y < s.height; ++y)
            for (int32_t x = 0; x < s.width; ++x) s.in_buf[size_t(y) * size_t(s.width) + size_t(x)] = u8_to_f(src[y * src_stride + x]);
        pysr::run_plan(plan, s.in_buf.data(), s.out_buf.data(), *s.pool);
        for (int64_t y = 0; y < oh; ++y)
            for (int64_t x = 0; x < ow; ++x) dst[y * dst_stride + x] = f_to_u8(s.out_buf[size_t(y * ow + x)]);
    });
}

pysr_status pysr_session_run_rgb_u8(pysr_session_t *session, const uint8_t *src, ptrdiff_t src_stride, uint8_t *dst,
                                    ptrdiff_t dst_stride) {
    return guard([&] {
        check_session(session);
        pysr_session &s = *session;
        if (!s.rgb) {
            const pysr::Model &m = s.model->model;
            int need = m.facts.colour_y ? 1 : 3;
            if (s.model->facts.input_channels != need || s.model->facts.output_channels != need)
                pysr::fail(PYSR_STATUS_UNSUPPORTED, "the RGB entry point needs a " + std::string(m.facts.colour_y ? "Y" : "RGB") +
                                                        " model with " + std::to_string(need) + " input and output channels");
            s.rgb = pysr::compile_plan(pysr::optimize(pysr::wrap_rgb(m.net, m.facts)), {1, 3, s.height, s.width},
                                       s.pool->size());
        }
        pysr::Plan &plan = *s.rgb;
        int64_t ow = plan.output_shape[3], oh = plan.output_shape[2];
        check_io(src, src_stride, ptrdiff_t(s.width) * 3, dst, dst_stride, ptrdiff_t(ow * 3));
        size_t plane = size_t(s.width) * size_t(s.height), oplane = size_t(ow * oh);
        s.in_buf.resize(plane * 3);
        s.out_buf.resize(oplane * 3);
        float *in = s.in_buf.data();
        for (int32_t y = 0; y < s.height; ++y) {
            const uint8_t *row = src + y * src_stride;
            for (int c = 0; c < 3; ++c) {
                float *d = in + size_t(c) * plane + size_t(y) * size_t(s.width);
                for (int32_t x = 0; x < s.width; ++x) d[x] = u8_to_f(row[3 * x + c]);
            }
        }
        pysr::run_plan(plan, in, s.out_buf.data(), *s.pool);
        const float *o = s.out_buf.data();
        for (int64_t y = 0; y < oh; ++y) {
            uint8_t *row = dst + y * dst_stride;
            for (int c = 0; c < 3; ++c) {
                const float *p = o + size_t(c) * oplane + size_t(y * ow);
                for (int64_t x = 0; x < ow; ++x) row[3 * x + c] = f_to_u8(p[x]);
            }
        }
    });
}

}  // extern "C"
