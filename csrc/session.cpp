// Streams (session.hpp): the temporal rules of pysr/stream/session.py over the plans of plan.cpp.
#include "session.hpp"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <map>

#include "error.hpp"
#include "threads.hpp"

namespace pysr {

namespace {

constexpr int kFlowMultiple = 8;  // EGVSR's FNet pools three times

// pysr/models/egvsr.py for_size: `fnet/flow_pad` pads the flow from (h//8·8, w//8·8) back to h×w.
Graph for_size(const Graph &net, const Facts &facts, int height, int width) {
    if (facts.architecture != "egvsr") return net;
    if (height < kFlowMultiple || width < kFlowMultiple)
        fail(PYSR_STATUS_SHAPE_ERROR, "EGVSR needs LR frames of at least 8×8 (FNet pools three times), got " +
                                          std::to_string(height) + "×" + std::to_string(width));
    Graph g = net;
    for (Node &n : g.nodes)
        if (n.name == "fnet/flow_pad") {
            n.attrs.sizes = {0, height % kFlowMultiple, 0, width % kFlowMultiple};
            return g;
        }
    fail(PYSR_STATUS_INVALID_MODEL, "not an EGVSR graph: it has no node 'fnet/flow_pad'");
}

// Frame i of a sequence of n, mirrored at both ends without repeating the end frame (np.pad "reflect").
int64_t reflect_index(int64_t i, int64_t n) {
    if (n == 1) return 0;
    int64_t period = 2 * (n - 1);
    i %= period;
    if (i < 0) i += period;
    return i < n ? i : period - i;
}

size_t count(const Shape &s) { return size_t(numel(s)); }

}  // namespace

const char *frame_kind_name(FrameKind k) {
    switch (k) {
        case FrameKind::RgbU8: return "rgb_u8";
        case FrameKind::YU8: return "y_u8";
        case FrameKind::Yuv420U8: return "yuv420_u8";
        case FrameKind::Float: return "float";
        case FrameKind::None: break;
    }
    return "none";
}

Stream::Stream(const Model &model, int width, int height, ThreadPool &pool, const Target &target)
    : model_(model), pool_(pool), target_(target) {
    const Graph &g = model.net;
    const Facts &f = model.facts;
    kind_ = f.temporal_kind;
    k_ = f.window;
    if (kind_ == PYSR_TEMPORAL_WINDOW) {
        int64_t n = 2 * int64_t(k_) + 1;
        if (int64_t(g.inputs.size()) == n) {
            frame_channels_ = g.inputs[0].second;
            for (auto &in : g.inputs)
                if (in.second != frame_channels_)
                    fail(PYSR_STATUS_INVALID_MODEL, "the " + std::to_string(n) + " frame inputs of a " + f.temporal +
                                                        " graph must have the same channels; '" + in.first + "' has " +
                                                        std::to_string(in.second) + ", '" + g.inputs[0].first + "' " +
                                                        std::to_string(frame_channels_));
        } else if (g.inputs.size() == 1 && g.inputs[0].second % n == 0) {
            frame_channels_ = g.inputs[0].second / n;
            stacked_ = true;
        } else {
            fail(PYSR_STATUS_INVALID_MODEL, "a " + f.temporal + " graph takes " + std::to_string(n) +
                                                " frame inputs or one input of " + std::to_string(n) +
                                                "·C channels; this one has " + std::to_string(g.inputs.size()) + " inputs");
        }
        outputs_ = {g.outputs[0]};
    } else if (kind_ == PYSR_TEMPORAL_RECURRENT) {
        const State &st = f.state;
        std::map<std::string, int> carry_of, input_of, output_of = {{st.frame_output, 0}};
        for (size_t c = 0; c < st.carry.size(); ++c) carry_of[st.carry[c].input] = int(c);
        outputs_ = {st.frame_output};
        for (size_t i = 0; i < g.inputs.size(); ++i) {
            auto c = carry_of.find(g.inputs[i].first);
            if (c == carry_of.end()) frame_channels_ = g.inputs[i].second;
            role_.push_back(c == carry_of.end() ? -1 : c->second);
            input_of[g.inputs[i].first] = int(i);
        }
        for (auto &c : st.carry) {
            auto in = input_of.find(c.from);
            if (in != input_of.end()) {
                carry_from_.push_back({false, in->second});
                continue;
            }
            auto out = output_of.emplace(c.from, int(outputs_.size()));
            if (out.second) outputs_.push_back(c.from);
            carry_from_.push_back({true, out.first->second});
        }
    } else {
        if (g.inputs.size() != 1)
            fail(PYSR_STATUS_UNSUPPORTED, "a single-frame model takes one graph input; this one has " +
                                              std::to_string(g.inputs.size()));
        frame_channels_ = g.inputs[0].second;
        outputs_ = {g.outputs[0]};
    }
    compile(width, height);
}

void Stream::compile(int width, int height) {
    const Facts &f = model_.facts;
    Graph g = for_size(model_.net, f, height, width);
    g.outputs = outputs_;
    std::vector<Shape> shapes;
    for (size_t i = 0; i < g.inputs.size(); ++i) {
        int64_t s = 1;
        if (kind_ == PYSR_TEMPORAL_RECURRENT && role_[i] >= 0) s = f.state.carry[size_t(role_[i])].scale;
        shapes.push_back({1, g.inputs[i].second, height * s, width * s});
    }
    auto net = compile_net(g, shapes, target_, pool_.size());
    std::vector<std::vector<float>> outs, state, next;
    for (auto &s : net->output_shapes) outs.emplace_back(count(s));
    if (kind_ == PYSR_TEMPORAL_RECURRENT) {
        // each carried input takes what `from` had, and `initial: frame` the frame: the shapes must agree
        const State &st = f.state;
        Shape frame_shape;
        for (size_t i = 0; i < role_.size(); ++i)
            if (role_[i] < 0) frame_shape = shapes[i];
        for (size_t i = 0; i < role_.size(); ++i) {
            if (role_[i] < 0) continue;
            size_t c = size_t(role_[i]);
            auto [from_out, idx] = carry_from_[c];
            const Shape &from = from_out ? net->output_shapes[size_t(idx)] : shapes[size_t(idx)];
            if (from != shapes[i] || (st.carry[c].initial_frame && frame_shape != shapes[i]))
                fail(PYSR_STATUS_SHAPE_ERROR, "state carry '" + st.carry[c].input + "' has shape " + shape_str(shapes[i]) +
                                                  " but '" + st.carry[c].from + "' has " + shape_str(from) +
                                                  (st.carry[c].initial_frame ? " and the frame " + shape_str(frame_shape) : ""));
        }
        state.resize(st.carry.size());
        for (size_t i = 0; i < role_.size(); ++i)
            if (role_[i] >= 0) state[size_t(role_[i])].resize(count(shapes[i]));
        next = state;
    }
    net_ = std::move(net);
    outs_ = std::move(outs);
    state_ = std::move(state);
    next_ = std::move(next);
    to_net_.reset();
    to_frame_.reset();
    width_ = width;
    height_ = height;
    stack_.clear();
    spare_.clear();
}

void Stream::plan_rgb() {
    if (to_frame_) return;
    const Facts &f = model_.facts;
    int64_t need = f.colour_y ? 1 : 3, out_c = output_shape()[1];
    if (frame_channels_ != need || out_c != need)
        fail(PYSR_STATUS_UNSUPPORTED, "RGB and YUV frames need a " + std::string(f.colour_y ? "Y" : "RGB") + " model with " +
                                          std::to_string(need) + " channels per frame in and out (this one has " +
                                          std::to_string(frame_channels_) + " and " + std::to_string(out_c) + ")");
    auto to_net = compile_plan(frame_to_network(f), std::vector<Shape>{{1, 3, height_, width_}}, pool_.size());
    std::vector<Shape> back = {output_shape()};
    if (f.colour_y) back.push_back({1, 2, height_, width_});
    auto to_frame = compile_plan(network_to_frame(f, out_c), back, pool_.size());
    to_net_ = std::move(to_net);
    to_frame_ = std::move(to_frame);
}

void Stream::resize(int width, int height) {
    if (width == width_ && height == height_) return;
    if (held())
        fail(PYSR_STATUS_INVALID_ARGUMENT, std::to_string(pushed_ - emitted_) + " output(s) of this sequence are not "
                                           "received yet: flush and receive them (or reset) before changing the size");
    compile(width, height);
    new_sequence();
}

bool Stream::ready() const {
    if (kind_ == PYSR_TEMPORAL_WINDOW && !ended_) return emitted_ + k_ < pushed_;
    return emitted_ < pushed_;
}

void Stream::new_sequence() {
    for (auto &h : frames_) spare_.push_back(std::move(h));
    frames_.clear();
    base_ = pushed_ = emitted_ = 0;
    ended_ = false;
    has_state_ = false;
}

void Stream::reset() {
    new_sequence();
    frame_kind_ = FrameKind::None;
}

void Stream::flush() {
    if (held()) ended_ = true;  // the rest leaves through receive(); the last one starts a fresh stream
    else reset();
}

bool Stream::accepts(FrameKind kind) const {
    if (frame_kind_ != FrameKind::None && kind != frame_kind_)
        fail(PYSR_STATUS_INVALID_ARGUMENT, std::string("this session takes ") + frame_kind_name(frame_kind_) +
                                               " frames until it is reset or a flushed sequence is received; got " +
                                               frame_kind_name(kind));
    return !ready();
}

bool Stream::send(FrameKind kind, const float *src) {
    if (!accepts(kind)) return false;
    const size_t plane = size_t(width_) * size_t(height_);
    Held h;
    if (!spare_.empty()) {
        h = std::move(spare_.back());
        spare_.pop_back();
    }
    if (is_rgb(kind)) {
        plan_rgb();
        h.net.resize(count(to_net_->output_shapes[0]));
        h.side.resize(model_.facts.colour_y ? 2 * plane : 0);
        float *y[2] = {h.net.data(), h.side.data()};
        run_plan(*to_net_, &src, y, pool_);
    } else {
        h.net.assign(src, src + size_t(frame_channels_) * plane);
        h.side.clear();
    }
    frames_.push_back(std::move(h));
    ++pushed_;
    frame_kind_ = kind;
    return true;
}

void Stream::step_recurrent(const Held &cur) {
    const State &st = model_.facts.state;
    if (!has_state_)
        for (size_t c = 0; c < state_.size(); ++c)
            if (!st.carry[c].initial_frame) std::fill(state_[c].begin(), state_[c].end(), 0.0f);
    in_ptrs_.clear();
    for (int r : role_) {
        bool frame = r < 0 || (!has_state_ && st.carry[size_t(r)].initial_frame);
        in_ptrs_.push_back(frame ? cur.net.data() : state_[size_t(r)].data());
    }
    out_ptrs_.clear();
    for (auto &o : outs_) out_ptrs_.push_back(o.data());
    run_net(*net_, in_ptrs_.data(), out_ptrs_.data(), pool_);
    for (size_t c = 0; c < next_.size(); ++c) {
        auto [from_out, idx] = carry_from_[c];
        const float *src = from_out ? outs_[size_t(idx)].data() : in_ptrs_[size_t(idx)];
        std::memcpy(next_[c].data(), src, next_[c].size() * sizeof(float));
    }
    std::swap(state_, next_);
    has_state_ = true;
}

void Stream::step_window(int64_t t) {
    // Until the end is known only the start reflects (output t is ready once frame t+k is here).
    int64_t n = ended_ ? pushed_ : 0;
    in_ptrs_.clear();
    const size_t frame_size = size_t(frame_channels_) * size_t(width_) * size_t(height_);
    if (stacked_) stack_.resize(frame_size * size_t(2 * k_ + 1));
    for (int64_t j = 0; j <= 2 * k_; ++j) {
        int64_t i = t - k_ + j;
        i = n ? reflect_index(i, n) : std::llabs(i);
        const float *x = frame(i).net.data();
        if (stacked_) std::memcpy(stack_.data() + size_t(j) * frame_size, x, frame_size * sizeof(float));
        else in_ptrs_.push_back(x);
    }
    if (stacked_) in_ptrs_.push_back(stack_.data());
    float *y = outs_[0].data();
    run_net(*net_, in_ptrs_.data(), &y, pool_);
}

bool Stream::receive(FrameKind kind, float *out) {
    if (!ready()) return false;
    if (kind != frame_kind_)
        fail(PYSR_STATUS_INVALID_ARGUMENT, std::string("the frames held were sent as ") + frame_kind_name(frame_kind_) +
                                               ": receive them with pysr_session_receive_" + frame_kind_name(frame_kind_));
    const int64_t t = emitted_;
    const Held &cur = frame(t);
    if (kind_ == PYSR_TEMPORAL_RECURRENT) {
        step_recurrent(cur);
    } else if (kind_ == PYSR_TEMPORAL_WINDOW) {
        step_window(t);
    } else {
        const float *x = cur.net.data();
        float *y = outs_[0].data();
        run_net(*net_, &x, &y, pool_);
    }
    if (is_rgb(kind)) {
        const float *x[2] = {outs_[0].data(), cur.side.data()};
        run_plan(*to_frame_, x, &out, pool_);
    } else {
        std::memcpy(out, outs_[0].data(), outs_[0].size() * sizeof(float));
    }
    ++emitted_;
    // no later output reads frames before t+1−k (window) or t+1
    int64_t keep = kind_ == PYSR_TEMPORAL_WINDOW ? emitted_ - k_ : emitted_;
    while (!frames_.empty() && base_ < keep) {
        spare_.push_back(std::move(frames_.front()));
        frames_.pop_front();
        ++base_;
    }
    if (ended_ && emitted_ == pushed_) reset();
    return true;
}

}  // namespace pysr
