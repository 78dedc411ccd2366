// The fusion passes of pysr/graph/passes.py, for the ops of this library: conv → activation, conv →
// pixel_shuffle, add(r, conv) → residual epilogue, conv → clamp; then dead nodes are dropped. Same rules
// and same stage order (act, shuffle, residual, clamp) as Python, so the fused graph is the one the
// Python runtime runs; results differ from the unfused graph only by float32 rounding.
#include <map>
#include <set>

#include "model.hpp"
#include "ops/op.hpp"

namespace pysr {

namespace {

enum Stage { kNone = 0, kAct = 1, kShuffle = 2, kResidual = 3, kClamp = 4 };

int conv_stage(const Attrs &a) {
    if (a.has_clamp) return kClamp;
    if (a.residual) return kResidual;
    if (a.pixel_shuffle) return kShuffle;
    if (a.activation != Act::None) return kAct;
    return kNone;
}

bool uniform(Act k) { return k != Act::Prelu; }

// Tries to absorb `consumer` into `conv` (whose single output `out` feeds only it); true when done.
bool absorb(Node &conv, const Node &c, const std::string &out) {
    Attrs &a = conv.attrs;
    int stage = conv_stage(a);
    std::string op = c.op->name;
    if (op == "activation" && c.attrs.activation != Act::Clamp) {
        bool post_shuffle_ok = stage == kShuffle && a.activation == Act::None && uniform(c.attrs.activation);
        if (stage != kNone && !post_shuffle_ok) return false;
        a.activation = c.attrs.activation;
        a.alpha = c.attrs.alpha;
        if (a.activation == Act::Prelu) conv.params.emplace_back("slope", *c.param("slope"));
        return true;
    }
    if (op == "pixel_shuffle") {
        if (stage > kAct) return false;
        a.pixel_shuffle = c.attrs.ps_scale;
        a.ps_order = c.attrs.ps_order;
        return true;
    }
    if (op == "add") {
        if (stage > kShuffle) return false;
        const std::string &x = c.inputs[0], &y = c.inputs[1];
        if (y == out) {
            conv.inputs.push_back(x);
            a.residual_scale = c.attrs.scale;
        } else if (x == out && c.attrs.scale == 1.0) {
            conv.inputs.push_back(y);
            a.residual_scale = 1.0;
        } else {
            return false;
        }
        a.residual = true;
        return true;
    }
    if (op == "activation" && c.attrs.activation == Act::Clamp) {
        if (stage == kClamp) return false;
        a.has_clamp = true;
        a.lo = c.attrs.lo;
        a.hi = c.attrs.hi;
        return true;
    }
    return false;
}

// One forward scan does what Python's "fuse the first fusable conv, start again" loop does, in O(N log N) for N
// nodes (a hostile file holds 10^5 of them): a conv that cannot absorb its consumer never can later, because a
// fusion changes no value's reader count and only turns a consumer into a conv2d, which absorbs nothing.
struct Readers {
    int count = 0;
    size_t node = 0;  // the reader, when count == 1
};

void fuse_all(Graph &g) {
    std::map<std::string, Readers> readers;
    for (size_t j = 0; j < g.nodes.size(); ++j)
        for (auto &v : g.nodes[j].inputs) {
            Readers &r = readers[v];
            ++r.count;
            r.node = j;
        }
    std::set<std::string> outputs(g.outputs.begin(), g.outputs.end());
    std::vector<bool> dead(g.nodes.size(), false);
    for (size_t i = 0; i < g.nodes.size(); ++i) {
        Node &conv = g.nodes[i];
        if (dead[i] || conv.op != &op_conv2d || conv.outputs.size() != 1) continue;
        const std::string out = conv.outputs[0];
        const Readers &r = readers[out];
        if (outputs.count(out) || r.count != 1) continue;  // one reader, reading it once
        size_t j = r.node;
        Node fused = conv;
        if (!absorb(fused, g.nodes[j], out)) continue;
        fused.outputs = g.nodes[j].outputs;
        for (auto &v : conv.inputs) {  // the conv's inputs are now read by the fused node at j
            Readers &rv = readers[v];
            if (rv.count == 1 && rv.node == i) rv.node = j;
        }
        g.nodes[j] = std::move(fused);
        dead[i] = true;
    }
    std::vector<Node> alive;
    for (size_t i = 0; i < g.nodes.size(); ++i)
        if (!dead[i]) alive.push_back(std::move(g.nodes[i]));
    g.nodes = std::move(alive);
}

}  // namespace

Graph optimize(const Graph &in) {
    Graph g = in;
    fuse_all(g);
    // eliminate_dead_nodes
    std::set<std::string> live(g.outputs.begin(), g.outputs.end());
    std::vector<Node> keep;
    for (size_t k = g.nodes.size(); k-- > 0;) {
        bool any = false;
        for (auto &v : g.nodes[k].outputs) any = any || live.count(v);
        if (any) {
            for (auto &v : g.nodes[k].inputs) live.insert(v);
            keep.push_back(g.nodes[k]);
        }
    }
    g.nodes.assign(keep.rbegin(), keep.rend());
    return g;
}

}  // namespace pysr
