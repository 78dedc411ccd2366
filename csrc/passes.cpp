// The passes of pysr/graph/passes.py, for the ops of this library: dead nodes dropped, conv → batch_norm folded
// into the conv's weights, then conv → activation, conv → pixel_shuffle, add(r, conv) → residual epilogue,
// conv → clamp; then dead nodes and the parameters no node uses are dropped. Same rules, same arithmetic (the
// fold in float64, rounded to float32 once) and same stage order (act, shuffle, residual, clamp) as Python, so
// the fused graph is the one the Python runtime runs; results differ from the unfused graph only by float32
// rounding.
// NOTE: Python also turns a batch_norm that follows no plain conv into a 1×1 depthwise conv; here it stays a
// batch_norm (ops/batch_norm.cpp computes the same x·scale + shift with the same float32 scale and shift).
#include <cmath>
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

// The readers of every value: how many times it is read, and by which node when once.
struct Readers {
    int count = 0;
    size_t node = 0;  // the reader, when count == 1
};

std::map<std::string, Readers> readers_of(const Graph &g) {
    std::map<std::string, Readers> readers;
    for (size_t j = 0; j < g.nodes.size(); ++j)
        for (auto &v : g.nodes[j].inputs) {
            Readers &r = readers[v];
            ++r.count;
            r.node = j;
        }
    return readers;
}

// A parameter name not in `params`: `want` (Python's name), else `want#k`. (Python overwrites a tensor of the
// same name; a hostile file could name one so, and another node may use it.)
std::string fresh_name(const std::map<std::string, Tensor> &params, const std::string &want) {
    std::string name = want;
    for (int k = 1; params.count(name); ++k) name = want + "#" + std::to_string(k);
    return name;
}

// fold_batchnorm_into_conv: a plain conv2d (no epilogue yet) whose one output is read only by a batch_norm,
// once, and is no graph output, takes the batch_norm's place with w' = w·s and b' = b·s + t per output channel,
// s = γ/√(var + eps) and t = β − mean·s, all in float64 and rounded to float32 once (pysr/graph/passes.py
// `bn_affine` and `absorb`, term for term; no FMA, -std=c++17 contracts nothing). The new tensors get new names
// (`<conv>.bn_folded.weight`, `.bias`), so a weight the conv shares with another node stays as it is. Returns
// whether anything was folded; `params` is then a new map (the model's own one is never changed).
bool fold_batchnorm_into_conv(Graph &g) {
    std::map<std::string, Readers> readers = readers_of(g);
    std::set<std::string> outputs(g.outputs.begin(), g.outputs.end());
    std::shared_ptr<std::map<std::string, Tensor>> params;  // made on the first fold
    std::vector<bool> dead(g.nodes.size(), false);
    for (size_t i = 0; i < g.nodes.size(); ++i) {
        const Node &conv = g.nodes[i];
        if (conv.op != &op_conv2d || conv.outputs.size() != 1 || conv_stage(conv.attrs) != kNone) continue;
        const std::string &out = conv.outputs[0];
        const Readers &r = readers[out];
        if (outputs.count(out) || r.count != 1) continue;
        const Node &bn = g.nodes[r.node];
        if (bn.op != &op_batch_norm || !bn.raw_attrs) continue;
        // Shapes were checked when the graph was validated; checked again so that a graph built otherwise is
        // left as it is rather than read out of bounds.
        const Tensor &w = g.tensor(conv, "weight");
        const Tensor *b = g.tensor_opt(conv, "bias");
        const Tensor *gamma = g.tensor_opt(bn, "weight"), *beta = g.tensor_opt(bn, "bias");
        const Tensor *mean = g.tensor_opt(bn, "mean"), *var = g.tensor_opt(bn, "var");
        if (w.shape.size() != 4 || w.shape[0] < 1 || size_t(numel(w.shape)) != w.data.size()) continue;
        const Shape per_channel = {w.shape[0]};
        bool ok = !b || b->shape == per_channel;
        for (const Tensor *t : {gamma, beta, mean, var}) ok = ok && t && t->shape == per_channel;
        if (!ok) continue;
        AttrReader attrs("batch_norm", *bn.raw_attrs);
        const double eps = attrs.number("eps", 1e-5);
        const size_t cout = size_t(w.shape[0]), per = w.data.size() / cout;
        Tensor wf{w.shape, std::vector<float>(w.data.size())}, bf{per_channel, std::vector<float>(cout)};
        for (size_t o = 0; o < cout; ++o) {
            const double scale = double(gamma->data[o]) / std::sqrt(double(var->data[o]) + eps);
            const double shift = double(beta->data[o]) - double(mean->data[o]) * scale;
            for (size_t k = 0; k < per; ++k) wf.data[o * per + k] = float(double(w.data[o * per + k]) * scale);
            bf.data[o] = float((b ? double(b->data[o]) : 0.0) * scale + shift);
        }
        if (!params) {  // from now on the graph reads this copy (a conv → bn → bn folds twice, like Python's)
            params = std::make_shared<std::map<std::string, Tensor>>(*g.params);
            g.params = params;
        }
        const std::string wname = fresh_name(*params, conv.name + ".bn_folded.weight");
        (*params)[wname] = std::move(wf);
        const std::string bname = fresh_name(*params, conv.name + ".bn_folded.bias");
        (*params)[bname] = std::move(bf);
        Node fused = conv;
        fused.params.clear();
        for (auto &p : conv.params)
            if (p.first != "weight" && p.first != "bias") fused.params.push_back(p);
        fused.params.emplace_back("weight", wname);
        fused.params.emplace_back("bias", bname);
        fused.outputs = bn.outputs;
        dead[i] = true;
        g.nodes[r.node] = std::move(fused);  // the batch_norm's place: the conv's inputs are all defined before
    }
    if (!params) return false;
    std::vector<Node> alive;
    for (size_t i = 0; i < g.nodes.size(); ++i)
        if (!dead[i]) alive.push_back(std::move(g.nodes[i]));
    g.nodes = std::move(alive);
    return true;
}

// One forward scan does what Python's "fuse the first fusable conv, start again" loop does, in O(N log N) for N
// nodes (a hostile file holds 10^5 of them): a conv that cannot absorb its consumer never can later, because a
// fusion changes no value's reader count and only turns a consumer into a conv2d, which absorbs nothing.
void fuse_all(Graph &g) {
    std::map<std::string, Readers> readers = readers_of(g);
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

// eliminate_dead_nodes: drop nodes none of whose outputs reach a graph output.
void eliminate_dead_nodes(Graph &g) {
    std::set<std::string> live(g.outputs.begin(), g.outputs.end());
    std::vector<Node> keep;
    for (size_t k = g.nodes.size(); k-- > 0;) {
        bool any = false;
        for (auto &v : g.nodes[k].outputs) any = any || live.count(v);
        if (any) {
            for (auto &v : g.nodes[k].inputs) live.insert(v);
            keep.push_back(std::move(g.nodes[k]));
        }
    }
    g.nodes.assign(std::make_move_iterator(keep.rbegin()), std::make_move_iterator(keep.rend()));
}

}  // namespace

// Dead nodes go first too: Python's passes repeat until nothing changes, so a conv whose second reader is dead
// fuses there on the second round.
Graph optimize(const Graph &in) {
    Graph g = in;
    eliminate_dead_nodes(g);
    bool folded = fold_batchnorm_into_conv(g);
    fuse_all(g);
    eliminate_dead_nodes(g);
    if (folded) {  // eliminate_dead_params, on the copy the fold made (the model's own map is shared, untouched)
        std::set<std::string> used;
        for (auto &n : g.nodes)
            for (auto &p : n.params) used.insert(p.second);
        auto params = std::make_shared<std::map<std::string, Tensor>>();
        for (auto &kv : *g.params)
            if (used.count(kv.first)) params->insert(kv);
        g.params = params;
    }
    return g;
}

}  // namespace pysr
