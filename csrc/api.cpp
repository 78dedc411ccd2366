// The C API (include/pysr.h): handles, argument checks, uint8 conversions, and the one place where
// C++ exceptions stop — every entry point runs its body inside guard(), which turns an Error, a
// std::bad_alloc or anything else into a status and the thread-local message. Sequences of frames
// (send / receive, recurrent and window models) are session.cpp's Stream.
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <new>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include "error.hpp"
#include "model.hpp"
#include "net.hpp"
#include "plan.hpp"
#include "session.hpp"
#include "threads.hpp"
#include "yuv.hpp"

struct pysr_model {
    pysr::Model model;
    pysr_model_facts facts;
    std::shared_ptr<pysr::cuda::WeightCache> weights = pysr::new_weight_cache();  // its weights on CUDA devices
};

struct pysr_session {
    const pysr_model *model = nullptr;
    int32_t width = 0, height = 0, batch = 1;
    std::unique_ptr<pysr::ThreadPool> pool;
    pysr::Target target;                 // the CPU, or a CUDA device (params.device)
    // single-frame models: run_* on these networks
    std::unique_ptr<pysr::Net> net;      // N = batch, the float entry point
    std::unique_ptr<pysr::Net> net1;     // N = 1 for the Y u8 entry point (net when batch == 1)
    std::unique_ptr<pysr::Net> rgb;      // the colour pipeline (RGB and YUV420 entry points), compiled on first use
    // send / receive (any model) and run_* of recurrent models: made at create for temporal models, on the
    // first send for single-frame ones
    std::unique_ptr<pysr::Stream> stream;
    std::vector<float> in_buf, out_buf;  // planar float frames of the u8 entry points
};

namespace {

thread_local std::string g_last_error;

// body() returns void (OK) or a status that is not a failure (PYSR_STATUS_AGAIN).
template <class F>
pysr_status guard(F &&body) {
    try {
        if constexpr (std::is_void_v<decltype(body())>) {
            body();
            return PYSR_STATUS_OK;
        } else {
            return body();
        }
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
    o.latency = f.window;
    o.receptive_field = f.receptive_field;
    // channels of one frame in and out: a recurrent model's frame input and output; a window model's frame
    // (one of its 2k+1 inputs, or (2k+1)-th of its one stacked input)
    const pysr::Graph &g = m->model.file_graph;
    if (g.inputs.empty() || g.outputs.empty()) pysr::fail(PYSR_STATUS_INVALID_MODEL, where + ": the graph has no input or output");
    std::map<std::string, int64_t> scale;  // the nominal size of the reader's check, a carried input's × its scale
    for (auto &c : f.state.carry) scale[c.input] = c.scale;
    std::vector<pysr::Shape> nominal;
    for (auto &in : g.inputs) {
        auto it = scale.find(in.first);
        int64_t size = 64 * (it == scale.end() ? 1 : it->second);
        nominal.push_back({1, in.second, size, size});
    }
    auto shapes = g.infer_shapes(nominal, PYSR_STATUS_INVALID_MODEL);
    std::string frame_in = g.inputs[0].first, frame_out = g.outputs[0];
    int64_t n = 2 * int64_t(f.window) + 1;
    int64_t in_channels = g.inputs[0].second;
    if (f.temporal_kind == PYSR_TEMPORAL_RECURRENT) {
        frame_in = f.state.frame_input;
        frame_out = f.state.frame_output;
        in_channels = shapes.at(frame_in)[1];
    } else if (f.temporal_kind == PYSR_TEMPORAL_WINDOW && g.inputs.size() == 1 && in_channels % n == 0) {
        in_channels /= n;
    }
    o.input_channels = int32_t(in_channels);
    o.output_channels = int32_t(shapes.at(frame_out)[1]);
    o.input_lo = float(f.input_lo);
    o.input_hi = float(f.input_hi);
    return m.release();
}

void check_session(const pysr_session *s) {
    if (!s) bad_arg("session is NULL");
}

bool temporal(const pysr_session &s) { return s.model->facts.temporal_kind != PYSR_TEMPORAL_SINGLE; }

pysr::Stream &stream_of(pysr_session &s) {
    if (!s.stream) s.stream = std::make_unique<pysr::Stream>(s.model->model, s.width, s.height, *s.pool, s.target);
    return *s.stream;
}

void check_y_model(const pysr_session &s) {
    if (s.model->facts.input_channels != 1 || s.model->facts.output_channels != 1)
        bad_arg("the Y entry point needs a model with 1 input and 1 output channel (this one has " +
                std::to_string(s.model->facts.input_channels) + " and " + std::to_string(s.model->facts.output_channels) + ")");
}

// run_* of a temporal model: a recurrent one is send + receive, a window one cannot give output t yet.
void check_run(pysr_session &s) {
    if (s.model->facts.temporal_kind == PYSR_TEMPORAL_WINDOW)
        bad_arg("a window(" + std::to_string(s.model->facts.window) + ") model gives output t only after frame t+" +
                std::to_string(s.model->facts.window) + ": use pysr_session_send_* / pysr_session_receive_* and "
                "pysr_session_flush");
    if (s.stream && s.stream->held())
        bad_arg("frames sent with pysr_session_send_* are still held: receive their outputs (or reset the session) "
                "before pysr_session_run_*");
}

pysr_status again(bool done) { return done ? PYSR_STATUS_OK : PYSR_STATUS_AGAIN; }

// u8 ↔ planar float frames of the u8 entry points
void rgb_in(pysr_session &s, const uint8_t *src, ptrdiff_t stride) {
    size_t plane = size_t(s.width) * size_t(s.height);
    s.in_buf.resize(plane * 3);
    for (int32_t y = 0; y < s.height; ++y) {
        const uint8_t *row = src + y * stride;
        for (int c = 0; c < 3; ++c) {
            float *d = s.in_buf.data() + size_t(c) * plane + size_t(y) * size_t(s.width);
            for (int32_t x = 0; x < s.width; ++x) d[x] = pysr::u8_to_unit(row[3 * x + c]);
        }
    }
}

void rgb_out(const float *o, int64_t ow, int64_t oh, uint8_t *dst, ptrdiff_t stride) {
    size_t oplane = size_t(ow * oh);
    for (int64_t y = 0; y < oh; ++y) {
        uint8_t *row = dst + y * stride;
        for (int c = 0; c < 3; ++c) {
            const float *p = o + size_t(c) * oplane + size_t(y * ow);
            for (int64_t x = 0; x < ow; ++x) row[3 * x + c] = pysr::unit_to_u8(p[x]);
        }
    }
}

void y_in(pysr_session &s, const uint8_t *src, ptrdiff_t stride) {
    s.in_buf.resize(size_t(s.width) * size_t(s.height));
    for (int32_t y = 0; y < s.height; ++y)
        for (int32_t x = 0; x < s.width; ++x)
            s.in_buf[size_t(y) * size_t(s.width) + size_t(x)] = pysr::u8_to_unit(src[y * stride + x]);
}

void y_out(const float *o, int64_t ow, int64_t oh, uint8_t *dst, ptrdiff_t stride) {
    for (int64_t y = 0; y < oh; ++y)
        for (int64_t x = 0; x < ow; ++x) dst[y * stride + x] = pysr::unit_to_u8(o[size_t(y * ow + x)]);
}

void check_src(const void *src, ptrdiff_t stride, ptrdiff_t row) {
    if (!src) bad_arg("src is NULL");
    if (stride < row) bad_arg("src_stride " + std::to_string(stride) + " is less than a row (" + std::to_string(row) + " bytes)");
}

void check_dst(const void *dst, ptrdiff_t stride, ptrdiff_t row) {
    if (!dst) bad_arg("dst is NULL");
    if (stride < row) bad_arg("dst_stride " + std::to_string(stride) + " is less than a row (" + std::to_string(row) + " bytes)");
}

// The four steps of the stream entry points, shared by send / receive and the recurrent run_*.
bool send_rgb(pysr_session &s, const uint8_t *src, ptrdiff_t stride) {
    check_src(src, stride, ptrdiff_t(s.width) * 3);
    pysr::Stream &st = stream_of(s);
    if (!st.accepts(pysr::FrameKind::RgbU8)) return false;  // before the conversion: nothing is taken
    rgb_in(s, src, stride);
    return st.send(pysr::FrameKind::RgbU8, s.in_buf.data());
}

bool send_y(pysr_session &s, const uint8_t *src, ptrdiff_t stride) {
    check_y_model(s);
    check_src(src, stride, ptrdiff_t(s.width));
    pysr::Stream &st = stream_of(s);
    if (!st.accepts(pysr::FrameKind::YU8)) return false;
    y_in(s, src, stride);
    return st.send(pysr::FrameKind::YU8, s.in_buf.data());
}

bool receive_rgb(pysr_session &s, uint8_t *dst, ptrdiff_t stride) {
    pysr::Stream &st = stream_of(s);
    const pysr::Shape &o = st.output_shape();
    check_dst(dst, stride, ptrdiff_t(o[3] * 3));
    s.out_buf.resize(size_t(o[3] * o[2] * 3));
    if (!st.receive(pysr::FrameKind::RgbU8, s.out_buf.data())) return false;
    rgb_out(s.out_buf.data(), o[3], o[2], dst, stride);
    return true;
}

bool receive_y(pysr_session &s, uint8_t *dst, ptrdiff_t stride) {
    check_y_model(s);
    pysr::Stream &st = stream_of(s);
    const pysr::Shape &o = st.output_shape();
    check_dst(dst, stride, ptrdiff_t(o[3]));
    s.out_buf.resize(size_t(o[3] * o[2]));
    if (!st.receive(pysr::FrameKind::YU8, s.out_buf.data())) return false;
    y_out(s.out_buf.data(), o[3], o[2], dst, stride);
    return true;
}

// The planes of a YUV420 frame `width` pixels wide (chroma ⌈width/2⌉) and its colour.
template <class Planes>
pysr::YuvColour check_yuv(const Planes *p, int64_t width, const char *what) {
    if (!p) bad_arg(std::string(what) + " is NULL");
    auto plane = [&](const void *data, ptrdiff_t stride, int64_t row, const char *name) {
        if (!data) bad_arg(std::string(what) + "->" + name + " is NULL");
        if (stride < row)
            bad_arg(std::string(what) + "->" + name + "_stride " + std::to_string(stride) + " is less than a row (" +
                    std::to_string(row) + " bytes)");
    };
    plane(p->y, p->y_stride, width, "y");
    plane(p->u, p->u_stride, (width + 1) / 2, "u");
    plane(p->v, p->v_stride, (width + 1) / 2, "v");
    return pysr::yuv_colour(p->matrix, p->range, what);
}

bool send_yuv(pysr_session &s, const pysr_yuv420_src *src) {
    const pysr::YuvColour c = check_yuv(src, s.width, "src");
    pysr::Stream &st = stream_of(s);
    if (!st.accepts(pysr::FrameKind::Yuv420U8)) return false;
    s.in_buf.resize(size_t(s.width) * size_t(s.height) * 3);
    pysr::yuv420_to_planar(*src, s.width, s.height, c, s.in_buf.data(), *s.pool);
    return st.send(pysr::FrameKind::Yuv420U8, s.in_buf.data());
}

bool receive_yuv(pysr_session &s, const pysr_yuv420_dst *dst) {
    pysr::Stream &st = stream_of(s);
    const pysr::Shape &o = st.output_shape();
    const pysr::YuvColour c = check_yuv(dst, o[3], "dst");
    s.out_buf.resize(size_t(o[3] * o[2] * 3));
    if (!st.receive(pysr::FrameKind::Yuv420U8, s.out_buf.data())) return false;
    pysr::planar_to_yuv420(s.out_buf.data(), o[3], o[2], c, *dst, *s.pool);
    return true;
}

// The colour pipeline of a single-frame model (RGB and YUV420 entry points), compiled on first use.
pysr::Net &rgb_plan(pysr_session &s) {
    if (!s.rgb) {
        const pysr::Model &m = s.model->model;
        int need = m.facts.colour_y ? 1 : 3;
        if (s.model->facts.input_channels != need || s.model->facts.output_channels != need)
            pysr::fail(PYSR_STATUS_UNSUPPORTED, "the RGB and YUV entry points need a " +
                                                    std::string(m.facts.colour_y ? "Y" : "RGB") + " model with " +
                                                    std::to_string(need) + " input and output channels");
        s.rgb = pysr::compile_net(pysr::optimize(pysr::wrap_rgb(m.net, m.facts)), {1, 3, s.height, s.width},
                                  s.target, s.pool->size());
    }
    return *s.rgb;
}

// run_* of a recurrent model: one frame in, its output out (check_run made sure nothing is waiting).
template <class Send, class Receive>
void run_recurrent(Send &&send, Receive &&receive) {
    if (!send() || !receive()) pysr::fail(PYSR_STATUS_INTERNAL, "a recurrent step gave no output");
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
        case PYSR_STATUS_AGAIN: return "no output ready";
        case PYSR_STATUS_DEVICE_ERROR: return "device error";
    }
    return "unknown status";
}

const char *pysr_last_error(void) { return g_last_error.c_str(); }

pysr_status pysr_cuda_device_count(int32_t *out) {
    if (out) *out = 0;
    return guard([&] {
        if (!out) bad_arg("out is NULL");
#ifndef PYSR_HAVE_CUDA
        pysr::fail(PYSR_STATUS_UNSUPPORTED, "this libpysr was built without CUDA (configure with -DPYSR_CUDA=ON)");
#endif
        *out = int32_t(pysr::cuda_device_count());
    });
}

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
    params->device = -1;
    params->precision = PYSR_PRECISION_FP32;
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
        s->pool = std::make_unique<pysr::ThreadPool>(threads);
        s->target = pysr::make_target(p.device, p.precision, model->weights);
        if (temporal(*s)) {
            if (p.batch != 1)
                bad_arg("batch must be 1 for a " + model->model.facts.temporal + " model (one stream per session), got " +
                        std::to_string(p.batch));
            s->stream = std::make_unique<pysr::Stream>(model->model, width, height, *s->pool, s->target);
        } else {
            s->net = pysr::compile_net(model->model.net, {p.batch, model->facts.input_channels, height, width}, s->target,
                                       threads);
        }
        *out = s.release();
    });
}

void pysr_session_free(pysr_session_t *session) { delete session; }

pysr_status pysr_session_output_size(const pysr_session_t *session, int32_t *out_width, int32_t *out_height) {
    return guard([&] {
        check_session(session);
        if (!out_width || !out_height) bad_arg("out_width or out_height is NULL");
        const pysr::Shape &o = session->net ? session->net->output_shape : session->stream->output_shape();
        *out_width = int32_t(o[3]);
        *out_height = int32_t(o[2]);
    });
}

pysr_status pysr_session_resize(pysr_session_t *session, int32_t width, int32_t height) {
    return guard([&] {
        check_session(session);
        pysr_session &s = *session;
        if (width <= 0 || height <= 0)
            bad_arg("width and height must be positive, got " + std::to_string(width) + "×" + std::to_string(height));
        if (width == s.width && height == s.height) return;
        if (s.stream && s.stream->held())
            bad_arg(std::string("outputs of this sequence are not received yet: flush and receive them (or reset) ") +
                    "before changing the size");
        std::unique_ptr<pysr::Net> net;  // everything is planned before anything changes
        if (s.net)
            net = pysr::compile_net(s.model->model.net, {s.batch, s.model->facts.input_channels, height, width},
                                    s.target, s.pool->size());
        if (s.stream) s.stream->resize(width, height);
        if (net) s.net = std::move(net);
        s.net1.reset();
        s.rgb.reset();
        s.width = width;
        s.height = height;
    });
}

pysr_status pysr_session_run_float(pysr_session_t *session, const float *src, float *dst) {
    return guard([&] {
        check_session(session);
        if (!src || !dst) bad_arg("src or dst is NULL");
        if (temporal(*session)) {
            check_run(*session);
            pysr::Stream &st = *session->stream;
            run_recurrent([&] { return st.send(pysr::FrameKind::Float, src); },
                          [&] { return st.receive(pysr::FrameKind::Float, dst); });
            return;
        }
        pysr::run_net(*session->net, src, dst, *session->pool);
    });
}

pysr_status pysr_session_run_y_u8(pysr_session_t *session, const uint8_t *src, ptrdiff_t src_stride, uint8_t *dst,
                                  ptrdiff_t dst_stride) {
    return guard([&] {
        check_session(session);
        pysr_session &s = *session;
        check_y_model(s);
        if (temporal(s)) {
            check_run(s);
            check_dst(dst, dst_stride, ptrdiff_t(s.stream->output_shape()[3]));
            run_recurrent([&] { return send_y(s, src, src_stride); }, [&] { return receive_y(s, dst, dst_stride); });
            return;
        }
        if (s.batch == 1 && !s.net1) {
            // the float plan serves as is
        } else if (!s.net1) {
            s.net1 = pysr::compile_net(s.model->model.net, {1, 1, s.height, s.width}, s.target, s.pool->size());
        }
        pysr::Net &plan = s.net1 ? *s.net1 : *s.net;
        int64_t ow = plan.output_shape[3], oh = plan.output_shape[2];
        check_src(src, src_stride, s.width);
        check_dst(dst, dst_stride, ptrdiff_t(ow));
        y_in(s, src, src_stride);
        s.out_buf.resize(size_t(ow * oh));
        pysr::run_net(plan, s.in_buf.data(), s.out_buf.data(), *s.pool);
        y_out(s.out_buf.data(), ow, oh, dst, dst_stride);
    });
}

pysr_status pysr_session_run_rgb_u8(pysr_session_t *session, const uint8_t *src, ptrdiff_t src_stride, uint8_t *dst,
                                    ptrdiff_t dst_stride) {
    return guard([&] {
        check_session(session);
        pysr_session &s = *session;
        if (temporal(s)) {
            check_run(s);
            check_dst(dst, dst_stride, ptrdiff_t(s.stream->output_shape()[3] * 3));
            run_recurrent([&] { return send_rgb(s, src, src_stride); }, [&] { return receive_rgb(s, dst, dst_stride); });
            return;
        }
        pysr::Net &plan = rgb_plan(s);
        int64_t ow = plan.output_shape[3], oh = plan.output_shape[2];
        check_src(src, src_stride, ptrdiff_t(s.width) * 3);
        check_dst(dst, dst_stride, ptrdiff_t(ow * 3));
        rgb_in(s, src, src_stride);
        s.out_buf.resize(size_t(ow * oh) * 3);
        pysr::run_net(plan, s.in_buf.data(), s.out_buf.data(), *s.pool);
        rgb_out(s.out_buf.data(), ow, oh, dst, dst_stride);
    });
}

pysr_status pysr_session_run_yuv420_u8(pysr_session_t *session, const pysr_yuv420_src *src,
                                       const pysr_yuv420_dst *dst) {
    return guard([&] {
        check_session(session);
        pysr_session &s = *session;
        if (temporal(s)) {
            check_run(s);
            const pysr::Shape &o = s.stream->output_shape();
            check_yuv(dst, o[3], "dst");
            run_recurrent([&] { return send_yuv(s, src); }, [&] { return receive_yuv(s, dst); });
            return;
        }
        const pysr::YuvColour in = check_yuv(src, s.width, "src");
        pysr::Net &plan = rgb_plan(s);
        const int64_t ow = plan.output_shape[3], oh = plan.output_shape[2];
        const pysr::YuvColour out = check_yuv(dst, ow, "dst");
        s.in_buf.resize(size_t(s.width) * size_t(s.height) * 3);
        pysr::yuv420_to_planar(*src, s.width, s.height, in, s.in_buf.data(), *s.pool);
        s.out_buf.resize(size_t(ow * oh) * 3);
        pysr::run_net(plan, s.in_buf.data(), s.out_buf.data(), *s.pool);
        pysr::planar_to_yuv420(s.out_buf.data(), ow, oh, out, *dst, *s.pool);
    });
}

pysr_status pysr_session_send_rgb_u8(pysr_session_t *session, const uint8_t *src, ptrdiff_t src_stride) {
    return guard([&] {
        check_session(session);
        return again(send_rgb(*session, src, src_stride));
    });
}

pysr_status pysr_session_send_y_u8(pysr_session_t *session, const uint8_t *src, ptrdiff_t src_stride) {
    return guard([&] {
        check_session(session);
        return again(send_y(*session, src, src_stride));
    });
}

pysr_status pysr_session_send_yuv420_u8(pysr_session_t *session, const pysr_yuv420_src *src) {
    return guard([&] {
        check_session(session);
        return again(send_yuv(*session, src));
    });
}

pysr_status pysr_session_send_float(pysr_session_t *session, const float *src) {
    return guard([&] {
        check_session(session);
        if (!src) bad_arg("src is NULL");
        return again(stream_of(*session).send(pysr::FrameKind::Float, src));
    });
}

pysr_status pysr_session_receive_rgb_u8(pysr_session_t *session, uint8_t *dst, ptrdiff_t dst_stride) {
    return guard([&] {
        check_session(session);
        return again(receive_rgb(*session, dst, dst_stride));
    });
}

pysr_status pysr_session_receive_y_u8(pysr_session_t *session, uint8_t *dst, ptrdiff_t dst_stride) {
    return guard([&] {
        check_session(session);
        return again(receive_y(*session, dst, dst_stride));
    });
}

pysr_status pysr_session_receive_yuv420_u8(pysr_session_t *session, const pysr_yuv420_dst *dst) {
    return guard([&] {
        check_session(session);
        return again(receive_yuv(*session, dst));
    });
}

pysr_status pysr_session_receive_float(pysr_session_t *session, float *dst) {
    return guard([&] {
        check_session(session);
        if (!dst) bad_arg("dst is NULL");
        return again(stream_of(*session).receive(pysr::FrameKind::Float, dst));
    });
}

pysr_status pysr_session_flush(pysr_session_t *session) {
    return guard([&] {
        check_session(session);
        if (session->stream) session->stream->flush();
    });
}

pysr_status pysr_session_reset(pysr_session_t *session) {
    return guard([&] {
        check_session(session);
        if (session->stream) session->stream->reset();
    });
}

}  // extern "C"
