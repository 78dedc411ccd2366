// The CUDA executor of libpysr: a graph planned once per input size and run on one device with the kernels of
// kernels/cuda (the same sources, entry points and argument lists as the Python backend `cuda`,
// pysr/backends/cuda.py). Memory: the model's weights (and packed conv weights) go to a device once per model
// (WeightCache, shared by the model's sessions); everything else a plan needs (folded parameters, zero biases, value
// buffers, a float32 staging buffer for the 16-bit precisions) is allocated when the plan is made; a run copies the
// inputs in, launches every step on the session's stream, copies the outputs out and waits.
// Every node runs on the device: a node without a device step is refused when the plan is made (UNSUPPORTED).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <tuple>
#include <vector>

#include "../graph.hpp"
#include "../ops/op.hpp"
#include "device.hpp"

namespace pysr::cuda {

enum class Storage { F32, F16, BF16 };

// Device copies of one model's parameter tensors, made once per (device, tensor, layout) and kept while the
// graph holding the tensor lives (a weak reference to its parameter map: a dead entry is made again).
class WeightCache {
  public:
    // The buffer of (device, key, layout): make() gives the float32 values (called once, under the cache's lock),
    // stored on the device as `as` (converted there by cast.cu). g is the graph holding the tensor `key`.
    std::shared_ptr<Buffer> get(int device, const Graph &g, const void *key, int layout,
                                const std::function<std::vector<float>()> &make, Storage as, Stream &s);

  private:
    struct Entry {
        std::weak_ptr<const void> owner;
        std::shared_ptr<Buffer> buffer;
    };
    std::mutex mutex_;
    std::map<std::tuple<int, const void *, int>, Entry> entries_;
};

// One session's device: the device, the precision, its stream, the model's weight cache.
struct Context {
    Context(int device, int precision, std::shared_ptr<WeightCache> weights);
    int device, precision;                 // pysr_precision
    Storage storage;
    bool tensor_cores;                     // groups-1 convs on conv2d_mma.cu (reduced precision on sm_80+)
    DeviceInfo info;
    std::shared_ptr<WeightCache> weights;
    Stream stream;
    size_t elem() const { return storage == Storage::F32 ? 4 : 2; }
    // float32 host data on the device as float32 (bias, tables, folded parameters): a new buffer of this plan
    std::shared_ptr<Buffer> upload(const std::vector<float> &v);
    std::shared_ptr<Buffer> upload(const void *data, size_t bytes);  // as is (int32 tap indices)
    // a parameter tensor of g as float32 (cached per model)
    std::shared_ptr<Buffer> tensor(const Graph &g, const Tensor &t);
};

// in[k] / out[k]: device buffers of the node's values in the context's storage type.
using StepFn = std::function<void(const void *const *in, void *const *out)>;
// The device step of a node (ops.cpp, conv.cpp), or an empty function when the device has no kernel for it.
// `keep` receives the device buffers the step reads (weights, tables), which live as long as the plan.
StepFn compile_node(Context &ctx, const Node &n, const Graph &g, const std::vector<Shape> &in,
                    const std::vector<Shape> &out, std::vector<std::shared_ptr<Buffer>> &keep);
StepFn compile_conv2d(Context &ctx, const Node &n, const Graph &g, const std::vector<Shape> &in,
                      const std::vector<Shape> &out, std::vector<std::shared_ptr<Buffer>> &keep);

// A graph compiled for one shape per input on one device; every graph output is copied to a buffer of the caller.
class DevicePlan {
  public:
    DevicePlan(std::shared_ptr<Context> ctx, const Graph &g, const std::vector<Shape> &inputs);
    ~DevicePlan();
    std::vector<Shape> input_shapes, output_shapes;
    // x[k]: input_shapes[k] float32 NCHW on the host; y[k]: output_shapes[k]. Waits for the device.
    void run(const float *const *x, float *const *y);

  private:
    struct Step {
        std::string name;
        StepFn fn;
        std::vector<int> in, out;
    };
    void *ptr(int v) const;
    void to_device(int v, const float *src);
    void to_host(int v, float *dst);
    std::shared_ptr<Context> ctx_;
    std::vector<Shape> shapes_;
    std::vector<int> slot_of_, inputs_, outputs_;
    std::vector<Buffer> slots_;
    Buffer staging_;                        // float32, for the casts of the 16-bit storage types
    std::vector<std::shared_ptr<Buffer>> keep_;
    std::vector<Step> steps_;
};

}  // namespace pysr::cuda
