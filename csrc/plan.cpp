// Plan compilation and execution (plan.hpp).
#include "plan.hpp"

#include <algorithm>
#include <cstring>
#include <iterator>
#include <limits>
#include <map>

#include "error.hpp"
#include "ops/op.hpp"
#include "threads.hpp"

namespace pysr {

namespace {
constexpr int64_t kMaxValueElements = int64_t(1) << 32;  // 16 GiB of floats: refuse larger values

constexpr int kUnplaced = std::numeric_limits<int>::min();  // a value before it gets its slot

// A concat some of whose inputs are written in place (channel views, batch 1): the copies of the others, input k
// to `at` elements past the output's start, one job each (ops/concat.cpp's copies, fewer of them).
struct ConcatCopies : OpState {
    struct Copy {
        int input;
        int64_t at, count;
    };
    std::vector<Copy> copies;
    void run(const float *const *in, float *const *out, ThreadPool &pool) override {
        pool.parallel_for(int64_t(copies.size()), [&](int64_t j, int) {
            const Copy &c = copies[size_t(j)];
            std::memcpy(out[0] + c.at, in[c.input], size_t(c.count) * sizeof(float));
        });
    }
};
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
    std::vector<std::vector<int>> node_in(g.nodes.size()), node_out(g.nodes.size());
    for (size_t i = 0; i < g.nodes.size(); ++i) {
        for (auto &v : g.nodes[i].inputs) node_in[i].push_back(value(v));
        for (auto &v : g.nodes[i].outputs) node_out[i].push_back(value(v));
    }
    const size_t n_values = plan->shapes.size();
    std::vector<bool> external(n_values, false);
    for (int v : plan->inputs) external[size_t(v)] = true;
    for (int v : plan->outputs) external[size_t(v)] = true;
    // Channel views (pysr/graph/memory.py channel_views, same rules in the same node order): with batch 1 a range
    // of channels is one contiguous run, so every output of a split that has no graph output is a range of its
    // input, and every concat input that a node writes, that is no graph output, no view already and taken once by
    // this concat, is written by its producer straight into its range of the concat's output. Each element of a
    // buffer is then still written by one step only (a skipped split writes nothing; a concat copies only what is
    // not in place), so the values sharing a buffer never clobber each other.
    std::vector<int> base(n_values, -1);       // the value a view lies in, or -1
    std::vector<int64_t> first_channel(n_values, 0);
    std::vector<bool> produced(n_values, false);
    for (auto &outs : node_out)
        for (int v : outs) produced[size_t(v)] = true;
    for (size_t i = 0; i < g.nodes.size(); ++i) {
        const OpDef *op = g.nodes[i].op;
        if ((op != &op_split && op != &op_concat) || plan->shapes[size_t(node_out[i][0])][0] != 1) continue;
        int64_t c = 0;
        if (op == &op_split) {
            bool any_output = false;
            for (int v : node_out[i]) any_output = any_output || external[size_t(v)];
            if (any_output) continue;
            for (int v : node_out[i]) {
                base[size_t(v)] = node_in[i][0];
                first_channel[size_t(v)] = c;
                c += plan->shapes[size_t(v)][1];
            }
        } else {
            std::map<int, int> taken;  // how many times this concat takes each value
            for (int v : node_in[i]) ++taken[v];
            for (int v : node_in[i]) {
                if (produced[size_t(v)] && !external[size_t(v)] && base[size_t(v)] < 0 && taken[v] == 1) {
                    base[size_t(v)] = node_out[i][0];
                    first_channel[size_t(v)] = c;
                }
                c += plan->shapes[size_t(v)][1];
            }
        }
    }
    // root: the value whose buffer a value lies in, and where (elements from its start). The chain of bases ends:
    // a split output's base was produced before it and a concat input's after it, and a concat output (the base
    // of its inputs) is never a split output, so a chain goes back over splits and then forward over concats.
    std::vector<int> root(n_values);
    plan->offset.assign(n_values, 0);
    for (size_t v = 0; v < n_values; ++v) {
        int r = int(v);
        int64_t off = 0;
        for (size_t hops = 0; base[size_t(r)] >= 0; ++hops) {
            if (hops > n_values) fail(PYSR_STATUS_INTERNAL, "compile_plan: channel views form a cycle");
            const Shape &s = plan->shapes[size_t(r)];
            off += first_channel[size_t(r)] * s[2] * s[3];
            r = base[size_t(r)];
        }
        root[v] = r;
        plan->offset[v] = off;
    }
    // Lifetimes of the roots: from the first node that writes any value in it to the last that reads or writes
    // one, both included.
    std::vector<int> first(n_values, -1), last(n_values, -1), order;
    for (size_t i = 0; i < g.nodes.size(); ++i) {
        for (int v : node_out[i]) {
            int r = root[size_t(v)];
            if (first[size_t(r)] < 0) {
                first[size_t(r)] = int(i);
                if (!external[size_t(r)]) order.push_back(r);
            }
        }
        for (const auto *vs : {&node_in[i], &node_out[i]})
            for (int v : *vs) last[size_t(root[size_t(v)])] = int(i);
    }
    // Largest first (TFLite's "greedy by size", pysr/graph/memory.py plan_buffers): each root goes into the
    // smallest slot none of whose roots is alive at the same time (so a slot never grows), else a new slot of its
    // size. Slots are made largest first, so their sizes never increase with their index.
    // NOTE: O(roots × slots × log) in the worst case (a graph keeping many values alive at once), as the
    // execution-order planner before it was O(values × free slots).
    std::stable_sort(order.begin(), order.end(), [&](int a, int b) {
        int64_t na = numel(plan->shapes[size_t(a)]), nb = numel(plan->shapes[size_t(b)]);
        return na != nb ? na > nb : first[size_t(a)] < first[size_t(b)];
    });
    std::vector<int64_t> sizes;
    std::vector<std::map<int, int>> members;  // per slot: first -> last of its roots (disjoint intervals)
    for (int v : order) {
        const int f = first[size_t(v)], l = last[size_t(v)];
        int slot = -1;
        for (int s = int(sizes.size()) - 1; s >= 0; --s) {
            if (slot >= 0 && sizes[size_t(s)] != sizes[size_t(slot)]) break;  // a larger slot: the smallest is found
            const auto &m = members[size_t(s)];
            auto it = m.upper_bound(l);  // the member starting last at or before l is the only one that may overlap
            if (it != m.begin() && std::prev(it)->second >= f) continue;
            slot = s;
        }
        if (slot < 0) {
            slot = int(sizes.size());
            sizes.push_back(numel(plan->shapes[size_t(v)]));
            members.emplace_back();
        }
        members[size_t(slot)][f] = l;
        plan->slot_of[size_t(v)] = slot;
    }
    for (size_t v = 0; v < n_values; ++v)
        if (root[v] != int(v)) plan->slot_of[v] = plan->slot_of[size_t(root[v])];
    plan->slots.resize(sizes.size());
    for (size_t s = 0; s < sizes.size(); ++s) plan->slots[s].resize(size_t(sizes[s]));
    for (size_t i = 0; i < g.nodes.size(); ++i) {
        const Node &n = g.nodes[i];
        std::vector<Shape> in, out;
        for (int v : node_in[i]) in.push_back(plan->shapes[size_t(v)]);
        for (int v : node_out[i]) out.push_back(plan->shapes[size_t(v)]);
        Plan::Step step;
        step.name = n.name;
        step.op = n.op->name;
        if (n.op == &op_split && base[size_t(node_out[i][0])] >= 0) continue;  // its outputs are views: nothing to do
        int64_t in_place = 0;
        if (n.op == &op_concat)
            for (int v : node_in[i]) in_place += base[size_t(v)] == node_out[i][0];
        if (in_place && in_place == int64_t(node_in[i].size())) continue;  // every input written in place
        if (in_place) {
            auto copies = std::make_unique<ConcatCopies>();
            int64_t at = 0;
            for (size_t k = 0; k < in.size(); ++k) {
                int64_t count = numel(in[k]);
                if (base[size_t(node_in[i][k])] != node_out[i][0]) copies->copies.push_back({int(k), at, count});
                at += count;
            }
            step.state = std::move(copies);
        } else {
            step.state = n.op->prepare(n, g, in, out, threads);
        }
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
        int64_t off = plan.offset[size_t(v)];
        if (s >= 0) return plan.slots[size_t(s)].data() + off;
        int k = -1 - s;
        // inputs are read only: no op writes its input, and a view of an input is a split output (never written)
        return (k < n_in ? const_cast<float *>(x[k]) : y[k - n_in]) + off;
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
