// The op contract of the native runtime: one `OpDef` per op, defined in csrc/ops/<op>.cpp, listed in
// the explicit table of ops/registry.cpp. An op declares what pysr/ops/<op>.py declares (inputs,
// parameter slots, attributes with defaults, shape rule) plus `prepare`, which compiles a node for one
// set of input shapes into an `OpState` whose `run` executes it (states hold prepacked weights, tap
// tables and per-thread scratch; a state belongs to one session, so `run` may use its scratch freely).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "../error.hpp"
#include "../graph.hpp"
#include "../json.hpp"

namespace pysr {

class ThreadPool;

struct OpState {
    virtual ~OpState() = default;
    // in[k] / out[k]: contiguous NCHW buffers of the shapes given to prepare.
    virtual void run(const float *const *in, float *const *out, ThreadPool &pool) = 0;
};

struct Slot {
    const char *name;
    bool required;
};

struct OpDef {
    const char *name;
    int n_inputs;                // fixed count, or -1: variadic (>= 1), or -2: 1, +1 when attrs.residual
    std::vector<Slot> slots;     // parameter slots
    // Fills `a` from the node's attrs object (defaults for absent keys). Throws INVALID_MODEL "<op>: …".
    void (*parse)(const Json &attrs, Attrs &a);
    // Output shapes; throws SHAPE_ERROR "<op>: …" (the graph adds the node name).
    std::vector<Shape> (*shape)(const Node &node, const Graph &g, const std::vector<Shape> &in);
    std::unique_ptr<OpState> (*prepare)(const Node &node, const Graph &g, const std::vector<Shape> &in,
                                        const std::vector<Shape> &out, int threads);
};

// The closed op list of pysr/ops/__init__.py. `known` tells whether the name is an op at all; the
// result is nullptr for a known op this library does not implement yet.
const OpDef *find_op(const std::string &name, bool &known);

// ---- helpers for the op files ------------------------------------------------------------------

// Reads an attrs object: `take(key)` returns the value or nullptr (default); `finish()` refuses keys
// that were never asked for (an unknown attribute is an error, docs/model-file.md §3).
class AttrReader {
  public:
    AttrReader(const char *op, const Json &attrs);
    const Json *take(const char *key);
    void finish() const;
    int integer(const char *key, int def, int lo);              // an integer >= lo (not a bool)
    double number(const char *key, double def);                 // int or float, finite
    bool boolean(const char *key, bool def);
    std::string choice(const char *key, const char *def, const std::vector<const char *> &choices);
    const char *op;

  private:
    const Json &attrs_;
    std::vector<std::string> taken_;
};

[[noreturn]] void attr_fail(const char *op, const std::string &msg);
[[noreturn]] void shape_fail(const std::string &msg);
// Rank 4 with every dimension > 0, else SHAPE_ERROR naming `what`.
const Shape &expect_rank4(const char *op, const char *what, const Shape &s);
void expect_count(const char *op, const std::vector<Shape> &in, size_t n);
int64_t numel(const Shape &s);

extern const OpDef op_conv2d, op_batch_norm, op_activation, op_affine, op_add, op_mul, op_pixel_shuffle,
    op_space_to_depth, op_concat, op_split, op_channel_shuffle, op_pool2d, op_pad, op_resize_bilinear,
    op_resize_bicubic_torch, op_resize_bicubic_matlab, op_upsample_bicubic_tecogan, op_warp, op_rgb_to_ycbcr,
    op_ycbcr_to_rgb;

// The node's attrs object as the file wrote it. NOTE: `Attrs` (graph.hpp) has no field for batch_norm's
// eps, affine's shift, pool2d's mode or pad's value; those ops validate them in `parse` and read them
// again here in `prepare` with the same AttrReader calls. Throws INTERNAL for a node made in code
// without a file attrs object (colour.cpp makes none of these ops).
const Json &file_attrs(const Node &n);

// Shared by activation and the conv2d epilogue.
Act parse_activation(const char *op, const std::string &kind);
void check_clamp(const char *op, double lo, double hi);

}  // namespace pysr
