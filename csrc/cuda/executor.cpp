// The CUDA executor (executor.hpp): contexts, the weight cache, device plans.
#include "executor.hpp"

#include <algorithm>
#include <limits>

#include "launch.hpp"

namespace pysr::cuda {

namespace {

// float32 on the device -> `as` (a new buffer; the float32 one itself for F32), on stream s.
Buffer convert(Buffer f32, size_t count, Storage as, Stream &s) {
    if (as == Storage::F32) return f32;
    Buffer out(count * 2);
    const float *x = static_cast<const float *>(f32.get());
    if (as == Storage::F16)
        launch_flat(s, &cast_f32_to_f16, int64_t(count), x, out.get(), int64_t(count));
    else
        launch_flat(s, &cast_f32_to_bf16, int64_t(count), x, out.get(), int64_t(count));
    s.sync();
    return out;
}

}  // namespace

std::shared_ptr<Buffer> WeightCache::get(int device, const Graph &g, const void *key, int layout,
                                         const std::function<std::vector<float>()> &make, Storage as, Stream &s) {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto it = entries_.begin(); it != entries_.end();)  // drop the copies of graphs that are gone
        it = it->second.owner.expired() ? entries_.erase(it) : std::next(it);
    auto k = std::make_tuple(device, key, layout);
    auto it = entries_.find(k);
    if (it != entries_.end()) return it->second.buffer;
    std::vector<float> v = make();
    Buffer f32(v.size() * sizeof(float));
    copy_to_device(f32.get(), v.data(), v.size() * sizeof(float), s);
    s.sync();  // v is freed on return
    auto buf = std::make_shared<Buffer>(convert(std::move(f32), v.size(), as, s));
    entries_[k] = Entry{std::weak_ptr<const void>(g.params), buf};
    return buf;
}

namespace {
int selected(int device) {
    use_device(device);  // before the stream (a member) is made on the current device
    return device;
}
}  // namespace

Context::Context(int device_, int precision_, std::shared_ptr<WeightCache> weights_)
    : device(selected(device_)), precision(precision_), weights(std::move(weights_)) {
    info = device_info(device);
    storage = precision == PYSR_PRECISION_FP16 ? Storage::F16 : precision == PYSR_PRECISION_BF16 ? Storage::BF16 : Storage::F32;
    // below compute capability 8.0 the reduced precisions take the direct conv (no mma.sync), as the Python backend
    tensor_cores = precision != PYSR_PRECISION_FP32 && info.major >= 8;
}

std::shared_ptr<Buffer> Context::upload(const std::vector<float> &v) { return upload(v.data(), v.size() * sizeof(float)); }

std::shared_ptr<Buffer> Context::upload(const void *data, size_t bytes) {
    auto b = std::make_shared<Buffer>(bytes);
    copy_to_device(b->get(), data, bytes, stream);
    stream.sync();
    return b;
}

std::shared_ptr<Buffer> Context::tensor(const Graph &g, const Tensor &t) {
    return weights->get(device, g, &t, 0, [&] { return t.data; }, Storage::F32, stream);
}

// ---- plans ---------------------------------------------------------------------------------------------------

DevicePlan::DevicePlan(std::shared_ptr<Context> ctx, const Graph &g, const std::vector<Shape> &inputs)
    : ctx_(std::move(ctx)) {
    use_device(ctx_->device);
    if (inputs.size() != g.inputs.size())
        fail(PYSR_STATUS_INTERNAL, "DevicePlan: " + std::to_string(inputs.size()) + " input shapes for a graph of " +
                                       std::to_string(g.inputs.size()) + " inputs");
    auto shapes = g.infer_shapes(inputs, PYSR_STATUS_SHAPE_ERROR);
    std::map<std::string, int> id;
    auto value = [&](const std::string &v) {
        auto it = id.find(v);
        if (it != id.end()) return it->second;
        int k = int(shapes_.size());
        id[v] = k;
        shapes_.push_back(shapes.at(v));
        return k;
    };
    for (auto &in : g.inputs) {
        inputs_.push_back(value(in.first));
        input_shapes.push_back(shapes_.back());
    }
    for (auto &o : g.outputs) {
        outputs_.push_back(value(o));
        output_shapes.push_back(shapes_[size_t(outputs_.back())]);
    }
    // Value lifetimes (first definition, last reader; graph inputs from the start, outputs to the end), then the
    // greedy best-fit slots of plan.cpp: every value, the graph's inputs and outputs too, lives in a device slot.
    const int end = int(g.nodes.size());
    std::vector<std::vector<int>> node_in(g.nodes.size()), node_out(g.nodes.size());
    for (size_t i = 0; i < g.nodes.size(); ++i) {
        for (auto &v : g.nodes[i].inputs) node_in[i].push_back(value(v));
        for (auto &v : g.nodes[i].outputs) node_out[i].push_back(value(v));
    }
    std::vector<int> last(shapes_.size(), -1);
    for (size_t i = 0; i < g.nodes.size(); ++i)
        for (int v : node_in[i]) last[size_t(v)] = std::max(last[size_t(v)], int(i));
    for (int v : outputs_) last[size_t(v)] = end;
    slot_of_.assign(shapes_.size(), -1);
    std::vector<size_t> sizes;
    std::vector<int> free_slots;
    auto place = [&](int v, int at) {
        if (slot_of_[size_t(v)] >= 0) return;
        size_t need = size_t(numel(shapes_[size_t(v)])) * ctx_->elem();
        int slot = -1;
        for (int s : free_slots)
            if (sizes[size_t(s)] >= need && (slot < 0 || sizes[size_t(s)] < sizes[size_t(slot)])) slot = s;
        if (slot < 0 && !free_slots.empty()) {
            slot = *std::max_element(free_slots.begin(), free_slots.end(),
                                     [&](int a, int b) { return sizes[size_t(a)] < sizes[size_t(b)]; });
            sizes[size_t(slot)] = need;
        }
        if (slot < 0) {
            slot = int(sizes.size());
            sizes.push_back(need);
        }
        free_slots.erase(std::remove(free_slots.begin(), free_slots.end(), slot), free_slots.end());
        slot_of_[size_t(v)] = slot;
        if (last[size_t(v)] < at) last[size_t(v)] = at;  // never read: free after its node
    };
    for (int v : inputs_) place(v, -1);
    for (size_t i = 0; i < g.nodes.size(); ++i) {
        for (int v : node_out[i]) place(v, int(i));
        std::vector<int> touched = node_in[i];
        touched.insert(touched.end(), node_out[i].begin(), node_out[i].end());
        std::sort(touched.begin(), touched.end());
        touched.erase(std::unique(touched.begin(), touched.end()), touched.end());
        for (int v : touched)
            if (last[size_t(v)] == int(i)) free_slots.push_back(slot_of_[size_t(v)]);
    }
    for (size_t s : sizes) slots_.emplace_back(std::max<size_t>(s, 1));
    size_t staging = 0;
    for (auto &s : shapes_) staging = std::max(staging, size_t(numel(s)));
    if (ctx_->storage != Storage::F32) staging_ = Buffer(staging * sizeof(float));
    for (size_t i = 0; i < g.nodes.size(); ++i) {
        const Node &n = g.nodes[i];
        std::vector<Shape> in, out;
        for (int v : node_in[i]) in.push_back(shapes_[size_t(v)]);
        for (int v : node_out[i]) out.push_back(shapes_[size_t(v)]);
        Step step;
        step.name = n.name;
        step.fn = compile_node(*ctx_, n, g, in, out, keep_);
        if (!step.fn)  // every op of csrc/ops has a device step (ops.cpp): a tripwire for a new one
            fail(PYSR_STATUS_UNSUPPORTED, "the CUDA executor has no kernel for op '" + n.op_name + "' (node '" +
                                              n.name + "')");
        step.in = node_in[i];
        step.out = node_out[i];
        steps_.push_back(std::move(step));
    }
}

DevicePlan::~DevicePlan() = default;

void *DevicePlan::ptr(int v) const { return slots_[size_t(slot_of_[size_t(v)])].get(); }

void DevicePlan::to_device(int v, const float *src) {
    const size_t count = size_t(numel(shapes_[size_t(v)]));
    Stream &s = ctx_->stream;
    if (ctx_->storage == Storage::F32) {
        copy_to_device(ptr(v), src, count * sizeof(float), s);
        return;
    }
    copy_to_device(staging_.get(), src, count * sizeof(float), s);
    const float *x = static_cast<const float *>(staging_.get());
    if (ctx_->storage == Storage::F16)
        launch_flat(s, &cast_f32_to_f16, int64_t(count), x, ptr(v), int64_t(count));
    else
        launch_flat(s, &cast_f32_to_bf16, int64_t(count), x, ptr(v), int64_t(count));
    s.sync();  // the staging buffer is reused by the next copy
}

void DevicePlan::to_host(int v, float *dst) {
    const size_t count = size_t(numel(shapes_[size_t(v)]));
    Stream &s = ctx_->stream;
    const void *src = ptr(v);
    if (ctx_->storage != Storage::F32) {
        float *y = static_cast<float *>(staging_.get());
        if (ctx_->storage == Storage::F16)
            launch_flat(s, &cast_f16_to_f32, int64_t(count), src, y, int64_t(count));
        else
            launch_flat(s, &cast_bf16_to_f32, int64_t(count), src, y, int64_t(count));
        src = y;
    }
    copy_to_host(dst, src, count * sizeof(float), s);
    s.sync();
}

void DevicePlan::run(const float *const *x, float *const *y) {
    use_device(ctx_->device);
    for (size_t k = 0; k < inputs_.size(); ++k) to_device(inputs_[k], x[k]);
    std::vector<const void *> in;
    std::vector<void *> out;
    for (auto &step : steps_) {
        in.clear();
        out.clear();
        for (int v : step.in) in.push_back(ptr(v));
        for (int v : step.out) out.push_back(ptr(v));
        step.fn(in.data(), out.data());
    }
    for (size_t k = 0; k < outputs_.size(); ++k) to_host(outputs_[k], y[k]);
    ctx_->stream.sync();
}

}  // namespace pysr::cuda
