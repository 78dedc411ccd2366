// Graph checks and shape inference (pysr/graph/graph.py `validate` and `infer_shapes`).
#include "graph.hpp"

#include <cstdint>
#include <set>

#include "error.hpp"
#include "ops/op.hpp"

namespace pysr {

std::string shape_str(const Shape &s) {
    std::string o = "(";
    for (size_t i = 0; i < s.size(); ++i) o += (i ? ", " : "") + std::to_string(s[i]);
    return o + (s.size() == 1 ? ",)" : ")");
}

const std::string *Node::param(const std::string &slot) const {
    for (auto &p : params)
        if (p.first == slot) return &p.second;
    return nullptr;
}

const Tensor *Graph::tensor_opt(const Node &n, const std::string &slot) const {
    const std::string *name = n.param(slot);
    if (!name) return nullptr;
    auto it = params->find(*name);
    return it == params->end() ? nullptr : &it->second;
}

const Tensor &Graph::tensor(const Node &n, const std::string &slot) const {
    const Tensor *t = tensor_opt(n, slot);
    if (!t) fail(PYSR_STATUS_INTERNAL, "node '" + n.name + "': slot '" + slot + "' is not bound");
    return *t;
}

void Graph::validate() {
    std::set<std::string> defined, names;
    for (auto &in : inputs) defined.insert(in.first);
    if (outputs.empty()) fail_model("graph has no outputs");
    for (Node &node : nodes) {
        if (!node.op) {
            bool known = false;
            node.op = find_op(node.op_name, known);
            std::string where = "node '" + node.name + "' (" + node.op_name + ")";
            if (!names.count(node.name) && !known) fail_model(where + ": unknown op '" + node.op_name + "'");
            if (!names.count(node.name) && !node.op)
                fail(PYSR_STATUS_UNSUPPORTED, where + ": op '" + node.op_name +
                                                  "' is not implemented by this version of libpysr");
            if (node.op && node.raw_attrs) {
                try {
                    node.op->parse(*node.raw_attrs, node.attrs);
                } catch (const Error &e) {
                    if (!names.count(node.name)) fail_model(where + ": " + e.what());
                }
            }
        }
        std::string where = "node '" + node.name + "' (" + (node.op ? node.op->name : node.op_name.c_str()) + ")";
        if (!names.insert(node.name).second) fail_model(where + ": duplicate node name");
        for (auto &v : node.inputs)
            if (!defined.count(v)) fail_model(where + ": input value '" + v + "' is not produced by any earlier node or input");
        for (auto &p : node.params) {
            bool known = false;
            for (auto &s : node.op->slots) known = known || p.first == s.name;
            if (!known) {
                std::string list;
                for (auto &s : node.op->slots) list += (list.empty() ? "" : ", ") + std::string(s.name);
                fail_model(where + ": unknown parameter slot '" + p.first + "'; the op takes [" + list + "]");
            }
            if (!params->count(p.second))
                fail_model(where + ": parameter '" + p.second + "' (slot '" + p.first + "') is missing");
        }
        for (auto &s : node.op->slots)
            if (s.required && !node.param(s.name))
                fail_model(where + ": required parameter slot '" + s.name + "' is not bound");
        for (auto &v : node.outputs)
            if (!defined.insert(v).second) fail_model(where + ": value '" + v + "' is produced twice");
    }
    for (auto &v : outputs)
        if (!defined.count(v)) fail_model("graph output '" + v + "' is never produced");
}

namespace {

// Every value is (N, C, H, W) with each dimension in [1, 2^31 - 1] (the C API's int32 sizes) and at most 2^32
// elements (16 GiB of float32). Checked for every value, this keeps the ops' shape arithmetic (a dimension times
// an int32 attribute) and numel() inside int64, and refuses a hostile graph before anything is allocated.
constexpr int64_t kMaxValueElements = int64_t(1) << 32;

bool value_fits(const Shape &s) {
    bool ok = s.size() == 4;
    __int128 n = 1;
    for (auto d : s) {
        ok = ok && d >= 1 && d <= INT32_MAX;
        if (ok) n *= d;
    }
    return ok && n <= kMaxValueElements;
}

[[noreturn]] void value_too_big(const std::string &what, const Shape &s, int status) {
    fail(pysr_status(status), what + " would have shape " + shape_str(s) + ": a value has 4 dimensions, each in "
                              "[1, 2^31 - 1], and at most 2^32 elements");
}

}  // namespace

std::map<std::string, Shape> Graph::infer_shapes(const std::vector<Shape> &input_shapes, int status) const {
    std::map<std::string, Shape> shapes;
    for (size_t i = 0; i < inputs.size(); ++i) {
        const Shape &s = input_shapes.at(i);
        bool ok = s.size() == 4 && s[1] == inputs[i].second;
        for (auto d : s) ok = ok && d > 0;
        if (!ok)
            fail(pysr_status(status), "graph input '" + inputs[i].first + "' must be (N, " +
                                          std::to_string(inputs[i].second) + ", H, W) with N, H, W > 0, got " + shape_str(s));
        if (!value_fits(s)) value_too_big("graph input '" + inputs[i].first + "'", s, status);
        shapes[inputs[i].first] = s;
    }
    for (const Node &node : nodes) {
        std::vector<Shape> in;
        for (auto &v : node.inputs) in.push_back(shapes.at(v));
        std::vector<Shape> out;
        try {
            int n = node.op->n_inputs;
            if (n >= 0) expect_count(node.op->name, in, size_t(n));
            else if (n == -1 && in.empty()) shape_fail(std::string(node.op->name) + ": expects at least 1 input, got 0");
            else if (n == -2) expect_count(node.op->name, in, node.attrs.residual ? 2 : 1);
            out = node.op->shape(node, *this, in);
        } catch (const Error &e) {
            fail(pysr_status(status), "node '" + node.name + "' (" + node.op->name + "): " + e.what());
        }
        if (out.size() != node.outputs.size())
            fail_model("node '" + node.name + "' (" + node.op->name + ") declares " + std::to_string(node.outputs.size()) +
                       " outputs, the op gives " + std::to_string(out.size()));
        for (size_t k = 0; k < out.size(); ++k) {
            if (!value_fits(out[k]))
                value_too_big("node '" + node.name + "' (" + node.op->name + "): output '" + node.outputs[k] + "'", out[k],
                              status);
            shapes[node.outputs[k]] = out[k];
        }
    }
    return shapes;
}

}  // namespace pysr
