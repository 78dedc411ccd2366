// Plan compilation and execution (plan.hpp).
#include "plan.hpp"

#include <algorithm>
#include <cstring>
#include <limits>
#include <map>

#include "error.hpp"
#include "threads.hpp"

namespace pysr {

namespace {
constexpr int64_t kMaxValueElements = int64_t(1) << 32;  // 16 GiB of floats: refuse larger values

constexpr int kUnplaced = std::numeric_limits<int>::min();  // a value before it gets its slot
}  // namespace

std::unique_ptr<Plan> compile_plan(const Graph &g, const std::vector<Shape> &inputs, int threads) {
    if (inputs.size() != g.inputs.size())
        fail(PYSR_STATUS_INTERNAL, "compile_plan: " + std::to_string(inputs.size()) + " input shapes for a graph of " +
                                       std::to_string(g.inputs.size()) + " inputs");
    auto shapes = g.infer_shapes(inputs, PYSR_STATUS_SHAPE_ERROR);
    auto plan = std::make_unique<Plan>();
    std::map<std::string, int> id;
    auto value = [&](const std::string &v) {
        auto it = id.find(v);
        if (it != id.end()) return it->second;
        int k = int(plan->shapes.size());
        id[v] = k;
        const Shape &s = shapes.at(v);
        if (numel(s) > kMaxValueElements || numel(s) < 0)
            fail(PYSR_STATUS_SHAPE_ERROR, "value '" + v + "' would have shape " + shape_str(s) + ": too large");
        plan->shapes.push_back(s);
        plan->slot_of.push_back(kUnplaced);
        return k;
    };
    // The caller's buffers: graph input k is -1 - k, graph output j is -1 - (inputs + j). An output that is also
    // an input or an earlier output keeps that place and is copied after the run.
    const int n_in = int(g.inputs.size());
    for (int k = 0; k < n_in; ++k) {
        int v = value(g.inputs[size_t(k)].first);
        plan->inputs.push_back(v);
        plan->input_shapes.push_back(plan->shapes[size_t(v)]);
        plan->slot_of[size_t(v)] = -1 - k;
    }
    for (size_t j = 0; j < g.outputs.size(); ++j) {
        int v = value(g.outputs[j]);
        plan->outputs.push_back(v);
        plan->output_shapes.push_back(plan->shapes[size_t(v)]);
        if (plan->slot_of[size_t(v)] == kUnplaced) plan->slot_of[size_t(v)] = -1 - (n_in + int(j));
    }
    plan->input_shape = plan->input_shapes.at(0);
    plan->output_shape = plan->output_shapes.at(0);
    // Greedy slots in execution order; a value's slot is freed after its last reader. (pysr/graph/memory.py now
    // places values largest first and makes split/concat channel views; this planner has neither yet.)
    std::vector<int> last_use;
    std::vector<std::vector<int>> node_in(g.nodes.size()), node_out(g.nodes.size());
    for (size_t i = 0; i < g.nodes.size(); ++i) {
        for (auto &v : g.nodes[i].inputs) node_in[i].push_back(value(v));
        for (auto &v : g.nodes[i].outputs) node_out[i].push_back(value(v));
    }
    last_use.assign(plan->shapes.size(), -1);
    for (size_t i = 0; i < g.nodes.size(); ++i)
        for (int v : node_in[i]) last_use[size_t(v)] = int(i);
    std::vector<int64_t> sizes;
    std::vector<int> free_slots;
    for (size_t i = 0; i < g.nodes.size(); ++i) {
        for (int v : node_out[i]) {
            if (plan->slot_of[size_t(v)] != kUnplaced) continue;  // the caller's buffer
            int64_t need = numel(plan->shapes[size_t(v)]);
            int slot = -1;
            for (int s : free_slots)
                if (sizes[size_t(s)] >= need && (slot < 0 || sizes[size_t(s)] < sizes[size_t(slot)])) slot = s;
            if (slot < 0 && !free_slots.empty()) {
                slot = free_slots[0];
                for (int s : free_slots)
                    if (sizes[size_t(s)] > sizes[size_t(slot)]) slot = s;
                sizes[size_t(slot)] = need;
            }
            if (slot < 0) {
                slot = int(sizes.size());
                sizes.push_back(need);
            }
            free_slots.erase(std::remove(free_slots.begin(), free_slots.end(), slot), free_slots.end());
            plan->slot_of[size_t(v)] = slot;
            if (last_use[size_t(v)] < int(i)) last_use[size_t(v)] = int(i);  // never read: free after the node
        }
        std::vector<int> touched = node_in[i];
        touched.insert(touched.end(), node_out[i].begin(), node_out[i].end());
        std::sort(touched.begin(), touched.end());
        touched.erase(std::unique(touched.begin(), touched.end()), touched.end());
        for (int v : touched)
            if (plan->slot_of[size_t(v)] >= 0 && last_use[size_t(v)] == int(i)) free_slots.push_back(plan->slot_of[size_t(v)]);
    }
    plan->slots.resize(sizes.size());
    for (size_t s = 0; s < sizes.size(); ++s) plan->slots[s].resize(size_t(sizes[s]));
    for (size_t i = 0; i < g.nodes.size(); ++i) {
        const Node &n = g.nodes[i];
        std::vector<Shape> in, out;
        for (int v : node_in[i]) in.push_back(plan->shapes[size_t(v)]);
        for (int v : node_out[i]) out.push_back(plan->shapes[size_t(v)]);
        Plan::Step step;
        step.name = n.name;
        step.state = n.op->prepare(n, g, in, out, threads);
        step.in = node_in[i];
        step.out = node_out[i];
        plan->steps.push_back(std::move(step));
    }
    return plan;
}

std::unique_ptr<Plan> compile_plan(const Graph &g, const Shape &input, int threads) {
    if (g.inputs.size() != 1) fail(PYSR_STATUS_UNSUPPORTED, "libpysr runs graphs with exactly one input");
    Graph one = g;
    one.outputs.resize(1);
    return compile_plan(one, std::vector<Shape>{input}, threads);
}

void run_plan(Plan &plan, const float *const *x, float *const *y, ThreadPool &pool) {
    const int n_in = int(plan.inputs.size());
    auto ptr = [&](int v) -> float * {
        int s = plan.slot_of[size_t(v)];
        if (s >= 0) return plan.slots[size_t(s)].data();
        int k = -1 - s;
        return k < n_in ? const_cast<float *>(x[k]) : y[k - n_in];  // inputs are read only: no op writes its input
    };
    std::vector<const float *> in;
    std::vector<float *> out;
    for (auto &step : plan.steps) {
        in.clear();
        out.clear();
        for (int v : step.in) in.push_back(ptr(v));
        for (int v : step.out) out.push_back(ptr(v));
        step.state->run(in.data(), out.data(), pool);
    }
    for (size_t j = 0; j < plan.outputs.size(); ++j) {
        int v = plan.outputs[j];
        if (plan.slot_of[size_t(v)] != -1 - (n_in + int(j)))
            std::memcpy(y[j], ptr(v), size_t(numel(plan.output_shapes[j])) * sizeof(float));
    }
}

void run_plan(Plan &plan, const float *x, float *y, ThreadPool &pool) { run_plan(plan, &x, &y, pool); }

}  // namespace pysr
