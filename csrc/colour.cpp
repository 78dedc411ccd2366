// pysr/models/colour.py wrap_rgb: the network wrapped to take and return RGB in [0, 1].
//   Y model:   rgb_to_ycbcr → split [1, 2] → network on Y; Cb, Cr by the chroma resize (×scale) →
//              concat → ycbcr_to_rgb → clamp [0, 1]
//   RGB model: network → clamp [0, 1]
// Node and value names of the network get the prefix "net/" like Python's, so messages match.
// frame_to_network / network_to_frame are its two halves (colour.py), for the frames of temporal models.
#include "error.hpp"
#include "model.hpp"
#include "ops/op.hpp"

namespace pysr {

namespace {

Node make(const OpDef &op, const std::string &name, std::vector<std::string> in, std::vector<std::string> out,
          const Attrs &a) {
    Node n;
    n.op = &op;
    n.op_name = op.name;
    n.name = name;
    n.inputs = std::move(in);
    n.outputs = std::move(out);
    n.attrs = a;
    return n;
}

void add_prefixed(Graph &g, const Graph &net, const std::string &net_in, const std::string &net_out) {
    auto rename = [&](const std::string &v) {
        if (v == net.inputs[0].first) return net_in;
        if (v == net.outputs[0]) return net_out;
        return "net/" + v;
    };
    for (const Node &n : net.nodes) {
        Node c = n;
        c.name = "net/" + n.name;
        for (auto &v : c.inputs) v = rename(v);
        for (auto &v : c.outputs) v = rename(v);
        g.nodes.push_back(std::move(c));
    }
}

}  // namespace

Graph wrap_rgb(const Graph &net, const Facts &facts) {
    if (net.inputs.size() != 1)
        fail(PYSR_STATUS_UNSUPPORTED, "the RGB entry point needs a model with one graph input");
    if (net.outputs[0] == net.inputs[0].first)  // no node would produce the renamed output
        fail(PYSR_STATUS_UNSUPPORTED, "the RGB entry point needs a network whose output is not its input");
    Graph g;
    g.params = net.params;
    g.inputs = {{"rgb", 3}};
    g.outputs = {"rgb_hr"};
    Attrs clamp;
    clamp.activation = Act::Clamp;
    clamp.lo = 0.0;
    clamp.hi = 1.0;
    if (!facts.colour_y) {
        add_prefixed(g, net, "rgb", "net_out");
        g.nodes.push_back(make(op_activation, "clamp", {"net_out"}, {"rgb_hr"}, clamp));
        return g;
    }
    if (facts.chroma != "resize_bicubic_torch")
        fail(PYSR_STATUS_UNSUPPORTED, "chroma resize '" + facts.chroma + "' is not implemented by this version of libpysr");
    Attrs conv;
    conv.bt709 = facts.bt709;
    conv.full_range = facts.full_range;
    Attrs split;
    split.sizes = {1, 2};
    Attrs up;
    up.scale = facts.scale;
    g.nodes.push_back(make(op_rgb_to_ycbcr, "to_ycbcr", {"rgb"}, {"ycbcr"}, conv));
    g.nodes.push_back(make(op_split, "split_y", {"ycbcr"}, {"y", "cbcr"}, split));
    add_prefixed(g, net, "y", "y_hr");
    g.nodes.push_back(make(op_resize_bicubic_torch, "chroma_up", {"cbcr"}, {"cbcr_hr"}, up));
    g.nodes.push_back(make(op_concat, "join", {"y_hr", "cbcr_hr"}, {"ycbcr_hr"}, Attrs()));
    g.nodes.push_back(make(op_ycbcr_to_rgb, "to_rgb", {"ycbcr_hr"}, {"rgb_raw"}, conv));
    g.nodes.push_back(make(op_activation, "clamp", {"rgb_raw"}, {"rgb_hr"}, clamp));
    return g;
}

Graph frame_to_network(const Facts &facts) {
    Graph g;
    g.params = std::make_shared<const std::map<std::string, Tensor>>();
    g.inputs = {{"rgb", 3}};
    if (!facts.colour_y) {
        g.outputs = {"rgb"};
        return g;
    }
    Attrs conv;
    conv.bt709 = facts.bt709;
    conv.full_range = facts.full_range;
    Attrs split;
    split.sizes = {1, 2};
    g.outputs = {"y", "cbcr"};
    g.nodes.push_back(make(op_rgb_to_ycbcr, "to_ycbcr", {"rgb"}, {"ycbcr"}, conv));
    g.nodes.push_back(make(op_split, "split_y", {"ycbcr"}, {"y", "cbcr"}, split));
    return g;
}

Graph network_to_frame(const Facts &facts, int64_t out_channels) {
    Graph g;
    g.params = std::make_shared<const std::map<std::string, Tensor>>();
    g.outputs = {"rgb_hr"};
    Attrs clamp;
    clamp.activation = Act::Clamp;
    clamp.lo = 0.0;
    clamp.hi = 1.0;
    if (!facts.colour_y) {
        g.inputs = {{"net_out", out_channels}};
        g.nodes.push_back(make(op_activation, "clamp", {"net_out"}, {"rgb_hr"}, clamp));
        return g;
    }
    bool known = false;
    const OpDef *chroma = find_op(facts.chroma, known);
    if (!chroma) fail(PYSR_STATUS_UNSUPPORTED, "chroma resize '" + facts.chroma + "' is not implemented by this version of libpysr");
    Attrs conv;
    conv.bt709 = facts.bt709;
    conv.full_range = facts.full_range;
    Attrs up;
    up.scale = facts.scale;
    g.inputs = {{"net_out", out_channels}, {"cbcr", 2}};
    g.nodes.push_back(make(*chroma, "chroma_up", {"cbcr"}, {"cbcr_hr"}, up));
    g.nodes.push_back(make(op_concat, "join", {"net_out", "cbcr_hr"}, {"ycbcr_hr"}, Attrs()));
    g.nodes.push_back(make(op_ycbcr_to_rgb, "to_rgb", {"ycbcr_hr"}, {"rgb_raw"}, conv));
    g.nodes.push_back(make(op_activation, "clamp", {"rgb_raw"}, {"rgb_hr"}, clamp));
    return g;
}

}  // namespace pysr
