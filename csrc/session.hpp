// The per-stream state behind the send / receive calls of the C API: pysr/stream/session.py in C++ (its rules
// are docs/temporal.md's). A Stream takes the frames of one sequence in order and gives their outputs in order:
//   single     output t = the network on frame t.
//   recurrent  output t = the network on frame t and the carried values of step t − 1 (facts `state`; before the
//              first frame zeros or the frame itself); latency 0.
//   window(k)  output t = the network on frames t−k … t+k, reflected at the ends of the sequence; it is ready once
//              frame t+k was sent, or after flush() (latency k).
// Work is lazy: send() converts and keeps the frame, receive() runs the network for the next output. send()
// refuses (returns false) while an output waits, so at most 2k+1 frames are held. flush() ends the sequence (its
// last outputs become ready; once they are received, or at once when none is left, the stream is fresh);
// reset() drops everything. A Stream is planned for one frame size; resize() starts a new sequence at another.
// Frames of one sequence all come as one FrameKind (RGB and YUV frames, both RGB floats here, go through the
// model's colour halves; the others are the network's own planes).
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "model.hpp"
#include "net.hpp"
#include "plan.hpp"

namespace pysr {

class ThreadPool;

enum class FrameKind { None = 0, RgbU8, YU8, Yuv420U8, Float };
const char *frame_kind_name(FrameKind k);  // "rgb_u8", "y_u8", "yuv420_u8", "float" (the C entry points' suffixes)
// RGB u8 and YUV420 u8 frames reach the stream as RGB in [0, 1] and leave it as clamped RGB
inline bool is_rgb(FrameKind k) { return k == FrameKind::RgbU8 || k == FrameKind::Yuv420U8; }

class Stream {
  public:
    // Plans the network for width × height frames: SHAPE_ERROR when the size does not fit (EGVSR: < 8×8),
    // INVALID_MODEL when the graph does not fit its temporal kind. The network runs on `target` (net.hpp), the
    // colour halves of RGB frames on the CPU.
    Stream(const Model &model, int width, int height, ThreadPool &pool, const Target &target = Target());
    // Another frame size: a new sequence (the recurrent state is dropped, the kind kept). INVALID_ARGUMENT while
    // outputs are still to be received; on any failure nothing changes. The same size changes nothing.
    void resize(int width, int height);

    int64_t frame_channels() const { return frame_channels_; }  // C of one network input frame
    const Shape &output_shape() const { return net_->output_shapes[0]; }  // (1, C', sH, sW): one frame's output
    bool ready() const;                                          // an output can be received now
    bool held() const { return pushed_ > emitted_; }             // outputs still to be received

    // Whether send(kind, …) would take a frame now (false while an output waits); INVALID_ARGUMENT when the
    // sequence came as another kind.
    bool accepts(FrameKind kind) const;
    // One frame, 1×C×H×W contiguous: RGB in [0, 1] (C = 3) for the RGB kinds (is_rgb), else the network's planes.
    // false (nothing taken) while an output waits to be received.
    bool send(FrameKind kind, const float *frame);
    // The next output into `out`: RGB 1×3×sH×sW clamped to [0, 1] for the RGB kinds, else the network's frame output
    // (unclamped). false when none is ready.
    bool receive(FrameKind kind, float *out);
    void flush();
    void reset();

  private:
    struct Held {
        std::vector<float> net, side;  // the network input of one frame; a Y model's CbCr (RGB frames)
    };
    void compile(int width, int height);
    void plan_rgb();
    void new_sequence();
    const Held &frame(int64_t i) const { return frames_[size_t(i - base_)]; }
    void step_recurrent(const Held &cur);
    void step_window(int64_t t);

    const Model &model_;
    ThreadPool &pool_;
    Target target_;
    int kind_ = 1, k_ = 0;       // pysr_temporal_kind, k of window(k)
    int64_t frame_channels_ = 0;
    bool stacked_ = false;       // window: the 2k+1 frames as one input of (2k+1)·C channels
    std::vector<int> role_;      // recurrent: per graph input, -1 for the frame input, else its carry
    std::vector<std::string> outputs_;  // the graph outputs the stream reads (the frame output first)
    std::vector<std::pair<bool, int>> carry_from_;  // per carry: (from an output?, its index)
    int width_ = 0, height_ = 0;
    std::unique_ptr<Net> net_;
    std::unique_ptr<Plan> to_net_, to_frame_;
    std::vector<std::vector<float>> outs_, state_, next_;
    std::vector<float> stack_;
    std::vector<const float *> in_ptrs_;
    std::vector<float *> out_ptrs_;
    bool has_state_ = false;
    // the sequence: frames base_ … base_ + frames_.size() − 1 are held
    std::deque<Held> frames_;
    std::vector<Held> spare_;    // buffers of dropped frames, reused
    int64_t base_ = 0, pushed_ = 0, emitted_ = 0;
    bool ended_ = false;         // flushed: its length is pushed_
    FrameKind frame_kind_ = FrameKind::None;
};

}  // namespace pysr
