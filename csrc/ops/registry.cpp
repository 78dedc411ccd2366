// The explicit op table: every name of pysr/ops/__init__.py `OpType`, with its native OpDef or nullptr
// where this stage of libpysr has no kernel (such a model loads as PYSR_STATUS_UNSUPPORTED).
#include <cmath>

#include "op.hpp"

namespace pysr {

namespace {
struct Entry {
    const char *name;
    const OpDef *def;
};
const Entry kOps[] = {
    {"conv2d", &op_conv2d},
    {"batch_norm", &op_batch_norm},
    {"activation", &op_activation},
    {"affine", &op_affine},
    {"add", &op_add},
    {"mul", &op_mul},
    {"pixel_shuffle", &op_pixel_shuffle},
    {"space_to_depth", &op_space_to_depth},
    {"concat", &op_concat},
    {"split", &op_split},
    {"channel_shuffle", &op_channel_shuffle},
    {"pool2d", &op_pool2d},
    {"pad", &op_pad},
    {"resize_bilinear", &op_resize_bilinear},
    {"resize_bicubic_torch", &op_resize_bicubic_torch},
    {"resize_bicubic_matlab", &op_resize_bicubic_matlab},
    {"upsample_bicubic_tecogan", &op_upsample_bicubic_tecogan},
    {"warp", &op_warp},
    {"rgb_to_ycbcr", &op_rgb_to_ycbcr},
    {"ycbcr_to_rgb", &op_ycbcr_to_rgb},
};
}  // namespace

const OpDef *find_op(const std::string &name, bool &known) {
    for (const Entry &e : kOps)
        if (name == e.name) { known = true; return e.def; }
    known = false;
    return nullptr;
}

// ---- attribute and shape helpers ----------------------------------------------------------------

void attr_fail(const char *op, const std::string &msg) { fail_model(std::string(op) + ": " + msg); }
void shape_fail(const std::string &msg) { fail(PYSR_STATUS_SHAPE_ERROR, msg); }

AttrReader::AttrReader(const char *op_name, const Json &attrs) : op(op_name), attrs_(attrs) {
    if (!attrs.is_object()) attr_fail(op, "'attrs' must be an object");
}

const Json *AttrReader::take(const char *key) {
    taken_.push_back(key);
    return attrs_.find(key);
}

void AttrReader::finish() const {
    for (auto &kv : attrs_.object) {
        bool ok = false;
        for (auto &k : taken_) ok = ok || k == kv.first;
        if (!ok) {
            std::string known;
            for (auto &k : taken_) known += (known.empty() ? "" : ", ") + k;
            attr_fail(op, "unknown attribute '" + kv.first + "'; known: " + known);
        }
    }
}

int AttrReader::integer(const char *key, int def, int lo) {
    const Json *v = take(key);
    if (!v) return def;
    if (!v->is_integer() || v->integer < lo || v->integer > 0x7fffffff)
        attr_fail(op, std::string("attribute ") + key + "=" + v->dump() + " must be an integer in [" +
                          std::to_string(lo) + ", 2^31 - 1]");
    return int(v->integer);
}

double AttrReader::number(const char *key, double def) {
    const Json *v = take(key);
    if (!v) return def;
    if (!v->is_number() || !std::isfinite(v->number))
        attr_fail(op, std::string("attribute ") + key + "=" + v->dump() + " must be a finite number");
    return v->number;
}

bool AttrReader::boolean(const char *key, bool def) {
    const Json *v = take(key);
    if (!v) return def;
    if (!v->is_bool()) attr_fail(op, std::string("attribute ") + key + "=" + v->dump() + " must be true or false");
    return v->boolean;
}

std::string AttrReader::choice(const char *key, const char *def, const std::vector<const char *> &choices) {
    const Json *v = take(key);
    std::string s = def ? def : "";
    if (!v) {
        if (!def) attr_fail(op, std::string("attribute '") + key + "' is required");
        return s;
    }
    if (v->is_string())
        for (const char *c : choices)
            if (v->string == c) return v->string;
    std::string list;
    for (const char *c : choices) list += (list.empty() ? "" : ", ") + std::string(c);
    attr_fail(op, std::string("attribute ") + key + "=" + v->dump() + " must be one of [" + list + "]");
}

const Shape &expect_rank4(const char *op, const char *what, const Shape &s) {
    if (s.size() != 4) shape_fail(std::string(op) + ": " + what + " must be NCHW (rank 4), got shape " + shape_str(s));
    for (auto d : s)
        if (d <= 0) shape_fail(std::string(op) + ": " + what + " has an empty dimension: shape " + shape_str(s));
    return s;
}

void expect_count(const char *op, const std::vector<Shape> &in, size_t n) {
    if (in.size() != n)
        shape_fail(std::string(op) + ": expects " + std::to_string(n) + " input(s), got " + std::to_string(in.size()));
}

const Json &file_attrs(const Node &n) {
    if (!n.raw_attrs) fail(PYSR_STATUS_INTERNAL, "node '" + n.name + "' (" + n.op_name + ") has no attrs object to read");
    return *n.raw_attrs;
}

int64_t numel(const Shape &s) {
    // Parameters are any rank: a zero-size one may have huge other dimensions, so the product saturates.
    int64_t n = 1;
    for (auto d : s)
        if (d == 0) return 0;
    for (auto d : s)
        if (__builtin_mul_overflow(n, d, &n)) return INT64_MAX;
    return n;
}

Act parse_activation(const char *op, const std::string &kind) {
    static const std::pair<const char *, Act> kinds[] = {
        {"none", Act::None}, {"relu", Act::Relu}, {"leaky_relu", Act::LeakyRelu}, {"prelu", Act::Prelu},
        {"tanh", Act::Tanh}, {"sigmoid", Act::Sigmoid}, {"scaled_tanh", Act::ScaledTanh}, {"clamp", Act::Clamp}};
    for (auto &k : kinds)
        if (kind == k.first) return k.second;
    attr_fail(op, "unknown activation '" + kind + "'");
}

void check_clamp(const char *op, double lo, double hi) {
    if (lo > hi) attr_fail(op, "clamp lo=" + std::to_string(lo) + " > hi=" + std::to_string(hi));
}

}  // namespace pysr
