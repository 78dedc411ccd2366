// The .pysr reader: docs/model-file.md, with the checks of pysr/io/model_file.py in the same order, so
// that the first problem reported is the one Python reports (messages are worded alike, not identical).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <set>

#include "error.hpp"
#include "json.hpp"
#include "model.hpp"
#include "ops/op.hpp"

namespace pysr {

namespace {

constexpr uint64_t kMaxHeaderBytes = 16ull << 20;
constexpr int kFormatVersion = 1;
constexpr int64_t kNominalSize = 64;  // H = W of the shape check at load time

struct Reader {
    std::string where;
    [[noreturn]] void bad(const std::string &msg) const { fail_model(where + ": " + msg); }
};

bool is_int_value(const Json &v) { return v.is_integer(); }

// ---- tensors (model_file.py `_tensors`) ------------------------------------------------------------

std::map<std::string, Tensor> read_tensors(const Reader &r, const Json &header, const uint8_t *body, uint64_t body_size) {
    struct Span { uint64_t begin, end; std::string name; };
    std::vector<Span> spans;
    std::map<std::string, Tensor> params;
    for (auto &kv : header.object) {
        const std::string &name = kv.first;
        if (name == "__metadata__") continue;
        const Json &info = kv.second;
        std::string t = "tensor '" + name + "': ";
        if (!info.is_object() || info.object.size() != 3 || !info.find("dtype") || !info.find("shape") ||
            !info.find("data_offsets"))
            r.bad(t + "entry must have exactly dtype, shape, data_offsets");
        const Json &dtype = *info.find("dtype"), &shape = *info.find("shape"), &offs = *info.find("data_offsets");
        if (!dtype.is_string() || dtype.string != "F32")
            r.bad(t + "dtype " + dtype.dump() + " is not supported (format 1 stores F32)");
        bool shape_ok = shape.is_array();
        if (shape_ok)
            for (auto &d : shape.array) shape_ok = shape_ok && is_int_value(d) && d.integer >= 0;
        if (!shape_ok) r.bad(t + "shape " + shape.dump() + " is not a list of non-negative integers");
        if (!offs.is_array() || offs.array.size() != 2 || !is_int_value(offs.array[0]) || !is_int_value(offs.array[1]) ||
            offs.array[0].integer < 0 || offs.array[0].integer > offs.array[1].integer)
            r.bad(t + "data_offsets " + offs.dump() + " must be [begin, end] with 0 <= begin <= end");
        Shape s;
        unsigned __int128 nbytes = 4;
        for (auto &d : shape.array) {
            s.push_back(d.integer);
            nbytes *= uint64_t(d.integer);
            if (nbytes > (unsigned __int128)(1) << 64) nbytes = (unsigned __int128)(1) << 64;  // saturate
        }
        uint64_t begin = uint64_t(offs.array[0].integer), end = uint64_t(offs.array[1].integer);
        if (nbytes != end - begin) {
            std::string need = nbytes >> 64 ? std::string("more than 2^64") : std::to_string(uint64_t(nbytes));
            r.bad(t + "shape " + shape.dump() + " needs " + need + " bytes, data_offsets span " + std::to_string(end - begin));
        }
        if (end > body_size)
            r.bad(t + "data ends at byte " + std::to_string(end) + " but the data section has " + std::to_string(body_size) +
                  " bytes (file truncated?)");
        spans.push_back({begin, end, name});
        Tensor tensor;
        tensor.shape = s;
        size_t n = size_t((end - begin) / 4);
        tensor.data.resize(n);
        if (n) std::memcpy(tensor.data.data(), body + begin, n * 4);  // little-endian host (checked in api.cpp)
        for (size_t i = 0; i < n; ++i) {
            if (!std::isfinite(tensor.data[i])) {
                std::string idx = "(";
                size_t rem = i;
                std::vector<int64_t> ix(s.size());
                for (size_t d = s.size(); d-- > 0;) { ix[d] = int64_t(rem % uint64_t(s[d])); rem /= uint64_t(s[d]); }
                for (size_t d = 0; d < ix.size(); ++d) idx += (d ? ", " : "") + std::to_string(ix[d]);
                idx += ix.size() == 1 ? ",)" : ")";
                r.bad("tensor '" + name + "' holds a non-finite value (" + (std::isnan(tensor.data[i]) ? "nan" : tensor.data[i] > 0 ? "inf" : "-inf") +
                      ") at index " + idx);
            }
        }
        params[name] = std::move(tensor);
    }
    std::sort(spans.begin(), spans.end(), [](const Span &a, const Span &b) {
        return a.begin != b.begin ? a.begin < b.begin : a.end != b.end ? a.end < b.end : a.name < b.name;
    });
    uint64_t pos = 0;
    for (auto &sp : spans) {
        if (sp.begin != pos)
            r.bad("tensor '" + sp.name + "' starts at byte " + std::to_string(sp.begin) + ", expected " + std::to_string(pos) +
                  " (overlap or gap in the data)");
        pos = sp.end;
    }
    if (pos != body_size) r.bad("data section has " + std::to_string(body_size - pos) + " bytes after the last tensor");
    return params;
}

std::string colour_keys(const std::vector<std::string> &keys) {
    std::string out = "[";
    for (size_t i = 0; i < keys.size(); ++i) out += (i ? ", '" : "'") + keys[i] + "'";
    return out + "]";
}

// ---- facts (model_file.py `check_facts` and models/colour.py `check_colour`) ------------------------

enum class T { Str, Int, Obj, List };

bool has_type(const Json &v, T t) {
    switch (t) {
        case T::Str: return v.is_string();
        case T::Int: return v.is_integer() && v.integer >= INT32_MIN && v.integer <= INT32_MAX;
        case T::Obj: return v.is_object();
        case T::List: return v.is_array();
    }
    return false;
}
const char *type_name(T t) { return t == T::Str ? "str" : t == T::Int ? "int" : t == T::Obj ? "dict" : "list"; }

Facts read_facts(const Reader &r, const Json &f) {
    if (!f.is_object()) r.bad("model facts ('pysr.model') must be a JSON object");
    static const std::pair<const char *, T> required[] = {
        {"architecture", T::Str}, {"scale", T::Int}, {"colour", T::Obj}, {"input_range", T::List},
        {"receptive_field", T::Int}, {"temporal", T::Str}, {"licence", T::Str}, {"provenance", T::Obj}};
    static const std::pair<const char *, T> optional[] = {
        {"name", T::Str}, {"config", T::Obj}, {"description", T::Str}, {"state", T::Obj}};
    for (auto &k : required) {
        const Json *v = f.find(k.first);
        if (!v) r.bad(std::string("model facts: '") + k.first + "' is missing");
        if (k.second == T::Int && v->is_integer() && !has_type(*v, T::Int))
            r.bad(std::string("model facts: '") + k.first + "' must be an int32, in [-2^31, 2^31 - 1], got " + v->dump());
        if (!has_type(*v, k.second))
            r.bad(std::string("model facts: '") + k.first + "' must be " + type_name(k.second) + ", got " + v->dump());
    }
    for (auto &kv : f.object) {
        bool req = false;
        for (auto &k : required) req = req || kv.first == k.first;
        if (req) continue;
        const std::pair<const char *, T> *opt = nullptr;
        for (auto &k : optional)
            if (kv.first == k.first) opt = &k;
        if (!opt) r.bad("model facts: unknown key '" + kv.first + "'");
        if (!has_type(kv.second, opt->second))
            r.bad("model facts: '" + kv.first + "' must be " + type_name(opt->second));
    }
    Facts out;
    out.architecture = f.find("architecture")->string;
    out.name = f.find("name") ? f.find("name")->string : out.architecture;
    out.scale = int(f.find("scale")->integer);
    if (out.scale < 1) r.bad("model facts: scale must be >= 1, got " + std::to_string(out.scale));
    out.receptive_field = int(f.find("receptive_field")->integer);
    if (out.receptive_field < 0) r.bad("model facts: receptive_field must be >= 0");
    const Json &colour = *f.find("colour");
    const Json *mode = colour.find("mode");
    if (!mode || !mode->is_string() || (mode->string != "y" && mode->string != "rgb"))
        r.bad("model facts: colour.mode must be one of ('y', 'rgb'), got " + (mode ? mode->dump() : std::string("None")));
    const Json &rng = *f.find("input_range");
    if (rng.array.size() != 2 || !rng.array[0].is_number() || !rng.array[1].is_number() ||
        !(rng.array[0].number < rng.array[1].number))
        r.bad("model facts: input_range must be [lo, hi] with lo < hi, got " + rng.dump());
    out.input_lo = rng.array[0].number;
    out.input_hi = rng.array[1].number;
    out.temporal = f.find("temporal")->string;
    const std::string &t = out.temporal;
    if (t == "single") {
        out.temporal_kind = PYSR_TEMPORAL_SINGLE;
    } else if (t == "recurrent") {
        out.temporal_kind = PYSR_TEMPORAL_RECURRENT;
    } else {
        bool ok = t.size() > 8 && t.compare(0, 7, "window(") == 0 && t.back() == ')' && t.size() < 7 + 1 + 10;
        long k = 0;
        for (size_t i = 7; ok && i + 1 < t.size(); ++i) {
            ok = t[i] >= '0' && t[i] <= '9';
            k = k * 10 + (t[i] - '0');
        }
        if (!ok || k < 1)
            r.bad("model facts: temporal must be single, recurrent or window(k) with k >= 1 of at most 9 digits, got '" +
                  t + "'");
        out.temporal_kind = PYSR_TEMPORAL_WINDOW;
        out.window = int(k);
    }
    // models/colour.py check_colour (run by pysr.Model on every load): exact key sets, then values
    out.colour_y = mode->string == "y";
    {
        const std::vector<std::string> keys = out.colour_y
            ? std::vector<std::string>{"chroma", "matrix", "mode", "range"} : std::vector<std::string>{"mode"};
        bool exact = colour.object.size() == keys.size();
        for (const auto &kv : colour.object) exact = exact && std::find(keys.begin(), keys.end(), kv.first) != keys.end();
        if (!exact) r.bad("colour facts: a '" + mode->string + "' model has exactly the keys " + colour_keys(keys) +
                          ", got " + colour.dump());
    }
    if (out.colour_y) {
        const Json *m = colour.find("matrix"), *rg = colour.find("range"), *ch = colour.find("chroma");
        bool ok = m && m->is_string() && (m->string == "bt601" || m->string == "bt709") && rg && rg->is_string() &&
                  (rg->string == "limited" || rg->string == "full");
        if (!ok) r.bad("colour facts: Y model needs matrix bt601|bt709 and range limited|full, got " + colour.dump());
        if (!ch || !ch->is_string() ||
            (ch->string != "resize_bicubic_torch" && ch->string != "resize_bilinear" && ch->string != "resize_bicubic_matlab"))
            r.bad("colour facts: chroma must be one of ('resize_bicubic_torch', 'resize_bilinear', "
                  "'resize_bicubic_matlab'), got " + (ch ? ch->dump() : std::string("None")));
        out.bt709 = m->string == "bt709";
        out.full_range = rg->string == "full";
        out.chroma = ch->string;
    }
    return out;
}

// ---- state of a recurrent model (model_file.py `check_state`, after the graph is validated) -----------

bool exact_keys(const Json &o, std::vector<std::string> keys) {
    if (!o.is_object() || o.object.size() != keys.size()) return false;
    for (const auto &kv : o.object)
        if (std::find(keys.begin(), keys.end(), kv.first) == keys.end()) return false;
    return true;
}

void read_state(const Json &f, Facts &facts, const Graph &g) {
    const Json *state = f.find("state");
    if (facts.temporal_kind != PYSR_TEMPORAL_RECURRENT) {
        if (state) fail_model("model facts: 'state' is only for recurrent models, not '" + facts.temporal + "'");
        return;
    }
    if (!state || !exact_keys(*state, {"frame_input", "frame_output", "carry"}))
        fail_model("model facts: a recurrent model needs 'state' with exactly the keys carry, frame_input, "
                   "frame_output; got " + (state ? state->dump() : std::string("None")));
    std::set<std::string> inputs, outputs(g.outputs.begin(), g.outputs.end());
    for (auto &in : g.inputs) inputs.insert(in.first);
    auto is_input = [&](const Json &v) { return v.is_string() && inputs.count(v.string); };
    auto is_output = [&](const Json &v) { return v.is_string() && outputs.count(v.string); };
    const Json &fi = *state->find("frame_input"), &fo = *state->find("frame_output");
    if (!is_input(fi) || !is_output(fo))
        fail_model("model facts: state frame_input " + fi.dump() + " / frame_output " + fo.dump() +
                   " must be a graph input / output");
    State &st = facts.state;
    st.frame_input = fi.string;
    st.frame_output = fo.string;
    const Json &carry = *state->find("carry");
    if (!carry.is_array()) fail_model("model facts: state.carry must be a list");
    for (const Json &c : carry.array) {
        if (!exact_keys(c, {"input", "from", "scale", "initial"}))
            fail_model("model facts: a state.carry entry has exactly input, from, scale, initial; got " + c.dump());
        const Json &in = *c.find("input"), &from = *c.find("from"), &scale = *c.find("scale"), &init = *c.find("initial");
        if (!is_input(in) || in.string == st.frame_input)
            fail_model("model facts: state carries " + in.dump() + ", which is not a state input of the graph");
        if (!is_input(from) && !is_output(from))
            fail_model("model facts: state carry 'from' " + from.dump() + " is neither a graph input nor output");
        if (!scale.is_integer() || scale.integer < 1 || scale.integer > INT32_MAX || !init.is_string() ||
            (init.string != "zeros" && init.string != "frame"))
            fail_model("model facts: state carry " + in.dump() + ": scale must be an integer >= 1 and initial one of "
                       "('zeros', 'frame'), got " + scale.dump() + ", " + init.dump());
        st.carry.push_back({in.string, from.string, int(scale.integer), init.string == "frame"});
    }
    inputs.erase(st.frame_input);
    std::vector<std::string> want(inputs.begin(), inputs.end()), got;
    for (auto &c : st.carry) got.push_back(c.input);
    std::sort(got.begin(), got.end());
    if (got != want) {
        std::string w, c;
        for (auto &v : want) w += (w.empty() ? "'" : ", '") + v + "'";
        for (auto &v : st.carry) c += (c.empty() ? "'" : ", '") + v.input + "'";
        fail_model("model facts: state must carry each of the inputs [" + w + "] once, carries [" + c + "]");
    }
}

// ---- graph JSON (graph.py `Graph.from_json`, `Node.from_json`) --------------------------------------

[[noreturn]] void graph_bad(const Reader &r, const std::string &msg) { r.bad(msg); }

bool string_list(const Json &v) {
    if (!v.is_array()) return false;
    for (auto &s : v.array)
        if (!s.is_string()) return false;
    return true;
}

Graph read_graph(const Reader &r, const Json &d) {
    if (!d.is_object() || d.object.size() != 3 || !d.find("inputs") || !d.find("outputs") || !d.find("nodes"))
        graph_bad(r, "graph JSON must be an object with exactly 'inputs', 'outputs' and 'nodes'");
    Graph g;
    const Json &inputs = *d.find("inputs");
    if (!inputs.is_array()) graph_bad(r, "graph input must be {'name': str, 'channels': int}, got " + inputs.dump());
    std::map<std::string, size_t> index;  // of each name in g.inputs
    for (auto &item : inputs.array) {
        if (!item.is_object() || item.object.size() != 2 || !item.find("name") || !item.find("channels") ||
            !item.find("name")->is_string())
            graph_bad(r, "graph input must be {'name': str, 'channels': int}, got " + item.dump());
        const Json &ch = *item.find("channels");
        if (!ch.is_integer() || ch.integer <= 0 || ch.integer > (1 << 20))
            graph_bad(r, "graph input '" + item.find("name")->string +
                             "': channels must be a positive integer, at most 2^20 (a limit of the reader), got " +
                             ch.dump());
        auto seen = index.emplace(item.find("name")->string, g.inputs.size());
        if (seen.second) g.inputs.emplace_back(item.find("name")->string, ch.integer);
        else g.inputs[seen.first->second].second = ch.integer;  // Python: last wins
    }
    if (!string_list(*d.find("outputs"))) graph_bad(r, "graph 'outputs' must be a list of value names");
    for (auto &o : d.find("outputs")->array) g.outputs.push_back(o.string);
    const Json &nodes = *d.find("nodes");
    if (!nodes.is_array()) graph_bad(r, "graph 'nodes' must be a list");
    static const char *keys[] = {"op", "name", "inputs", "outputs", "params", "attrs"};
    for (auto &n : nodes.array) {
        if (!n.is_object()) graph_bad(r, "a node must be a JSON object, got " + n.dump());
        const Json *nm = n.find("name");
        std::string label = nm && nm->is_string() ? nm->string : "?";
        bool exact = n.object.size() == 6;
        for (const char *k : keys) exact = exact && n.find(k);
        if (!exact) {
            std::string missing, unknown;
            for (const char *k : keys)
                if (!n.find(k)) missing += (missing.empty() ? "'" : ", '") + std::string(k) + "'";
            for (auto &kv : n.object) {
                bool known = false;
                for (const char *k : keys) known = known || kv.first == k;
                if (!known) unknown += (unknown.empty() ? "'" : ", '") + kv.first + "'";
            }
            graph_bad(r, "node '" + label + "': missing keys [" + missing + "], unknown [" + unknown + "]");
        }
        for (const char *k : {"op", "name"})
            if (!n.find(k)->is_string()) graph_bad(r, "node '" + label + "': '" + k + "' must be a string");
        for (const char *k : {"inputs", "outputs"})
            if (!string_list(*n.find(k))) graph_bad(r, "node '" + label + "': '" + k + "' must be a list of value names");
        const Json &params = *n.find("params");
        bool params_ok = params.is_object();
        if (params_ok)
            for (auto &kv : params.object) params_ok = params_ok && kv.second.is_string();
        if (!params_ok) graph_bad(r, "node '" + label + "': 'params' must map slot names to parameter names");
        if (!n.find("attrs")->is_object()) graph_bad(r, "node '" + label + "': 'attrs' must be an object");
        Node node;
        node.op_name = n.find("op")->string;
        node.name = label;
        for (auto &v : n.find("inputs")->array) node.inputs.push_back(v.string);
        for (auto &v : n.find("outputs")->array) node.outputs.push_back(v.string);
        for (auto &kv : params.object) node.params.emplace_back(kv.first, kv.second.string);
        node.raw_attrs = std::make_shared<Json>(*n.find("attrs"));
        g.nodes.push_back(std::move(node));
    }
    return g;
}

}  // namespace

Model read_model(const uint8_t *data, size_t size, const std::string &where) {
    Reader r{where};
    if (size < 8)
        r.bad("file is " + std::to_string(size) + " bytes, too short for a .pysr header (8-byte length + JSON)");
    uint64_t n = 0;
    for (int i = 7; i >= 0; --i) n = (n << 8) | data[i];
    if (n > kMaxHeaderBytes || n > size - 8)
        r.bad("header length " + std::to_string(n) + " does not fit the file (" + std::to_string(size) +
              " bytes): truncated or not a .pysr file");
    const char *text = reinterpret_cast<const char *>(data + 8);
    Json header;
    std::string err;
    if (!valid_utf8(text, size_t(n))) r.bad("header is not valid UTF-8 JSON (invalid UTF-8)");
    if (!parse_json(text, size_t(n), header, err)) r.bad("header is not valid UTF-8 JSON (" + err + ")");
    if (!header.is_object()) r.bad("header JSON is not an object");
    const Json *meta = header.find("__metadata__");
    bool meta_ok = meta && meta->is_object();
    if (meta_ok)
        for (auto &kv : meta->object) meta_ok = meta_ok && kv.second.is_string();
    if (!meta_ok)
        r.bad("no string-valued __metadata__: this is a safetensors file but not a .pysr model\n"
              "HINT: convert checkpoints with `pysr import`");
    const Json *fmt = meta->find("pysr.format");
    if (!fmt) r.bad("metadata has no 'pysr.format': not a .pysr model\nHINT: convert checkpoints with `pysr import`");
    if (fmt->string != std::to_string(kFormatVersion))
        r.bad("format version '" + fmt->string + "' is not supported (this pysr reads version 1)\n"
              "HINT: upgrade pysr or re-export the model");
    auto params = std::make_shared<std::map<std::string, Tensor>>(
        read_tensors(r, header, data + 8 + n, uint64_t(size) - 8 - n));
    const Json *gtext = meta->find("pysr.graph"), *ftext = meta->find("pysr.model");
    Json gj, fj;
    std::string e1, e2;
    bool g_ok = gtext && parse_json(gtext->string.data(), gtext->string.size(), gj, e1);
    bool f_ok = g_ok && ftext && parse_json(ftext->string.data(), ftext->string.size(), fj, e2);
    if (!g_ok || !f_ok)
        r.bad("metadata 'pysr.graph' or 'pysr.model' is missing or not JSON (" +
              (!gtext ? std::string("no pysr.graph") : !g_ok ? "pysr.graph: " + e1
                                                     : !ftext ? std::string("no pysr.model") : "pysr.model: " + e2) + ")");
    Model m;
    m.facts = read_facts(r, fj);
    m.file_graph = read_graph(r, gj);
    m.file_graph.params = params;
    try {
        m.file_graph.validate();
        read_state(fj, m.facts, m.file_graph);
        std::set<std::string> used;
        for (auto &node : m.file_graph.nodes)
            for (auto &p : node.params) used.insert(p.second);
        size_t unused = 0;
        std::string first;
        for (auto &kv : *params)
            if (!used.count(kv.first) && unused++ == 0) first = kv.first;
        if (unused)
            fail_model("tensor '" + first + "' is not used by any node of the graph (" + std::to_string(unused) + " unused)");
        std::vector<Shape> nominal;
        std::map<std::string, int64_t> scale;  // a carried input at its state scale times the nominal size
        for (auto &c : m.facts.state.carry) scale[c.input] = c.scale;
        for (auto &in : m.file_graph.inputs) {
            auto it = scale.find(in.first);
            int64_t size = kNominalSize * (it == scale.end() ? 1 : it->second);
            nominal.push_back({1, in.second, size, size});
        }
        m.file_graph.infer_shapes(nominal, PYSR_STATUS_INVALID_MODEL);
    } catch (const Error &e) {
        fail(e.status, where + ": " + e.what());
    }
    m.net = optimize(m.file_graph);
    return m;
}

}  // namespace pysr
