// The graph of a model: named values (NCHW float32), nodes in execution order, named parameters.
// Mirrors pysr/graph/graph.py. `Attrs` is one plain struct holding the attributes of every op this
// library implements (each op's parser fills only its own fields, defaults as pysr/ops/<op>.py states).
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace pysr {

using Shape = std::vector<int64_t>;  // parameters: any rank; values: rank 4 (N, C, H, W)
std::string shape_str(const Shape &s);

struct Tensor {
    Shape shape;
    std::vector<float> data;  // row-major
};

enum class Act { None, Relu, LeakyRelu, Prelu, Tanh, Sigmoid, ScaledTanh, Clamp };
enum class PadMode { Zeros, Reflect, Replicate };
enum class PsOrder { Pytorch, Tf };

struct Attrs {
    // conv2d
    int stride = 1, pad_h = 0, pad_w = 0, groups = 1, pixel_shuffle = 0;
    PadMode pad_mode = PadMode::Zeros;
    PsOrder ps_order = PsOrder::Pytorch;
    Act activation = Act::None;  // conv2d epilogue activation, or activation's `kind`
    double alpha = 0.01;
    bool residual = false;
    double residual_scale = 1.0;
    bool has_clamp = false;      // conv2d `clamp` not null
    double lo = 0.0, hi = 1.0;   // clamp bounds (conv2d clamp, activation lo/hi)
    // pixel_shuffle (`scale`, `order` -> ps_scale, ps_order)
    int ps_scale = 0;
    // add (`scale`) and resize (`scale`)
    double scale = 1.0;
    bool align_corners = false;
    // rgb_to_ycbcr / ycbcr_to_rgb
    bool bt709 = false, full_range = false, y_only = false;
    // split
    std::vector<int64_t> sizes;
};

struct OpDef;
struct Json;

struct Node {
    const OpDef *op = nullptr;           // resolved from op_name by Graph::validate
    std::string op_name;
    std::shared_ptr<const Json> raw_attrs;  // the file's attrs object, parsed into `attrs` by validate
    std::string name;
    std::vector<std::string> inputs, outputs;
    std::vector<std::pair<std::string, std::string>> params;  // slot -> tensor name, in file order
    Attrs attrs;
    const std::string *param(const std::string &slot) const;
};

struct Graph {
    std::vector<std::pair<std::string, int64_t>> inputs;  // name, channels
    std::vector<std::string> outputs;
    std::vector<Node> nodes;
    std::shared_ptr<const std::map<std::string, Tensor>> params;

    const Tensor &tensor(const Node &n, const std::string &slot) const;  // a bound slot
    const Tensor *tensor_opt(const Node &n, const std::string &slot) const;
    // Structure checks of graph.py `validate`, in its order (the first problem, naming the node); resolves
    // each node's op and parses its attrs on the way. Throws INVALID_MODEL, or UNSUPPORTED for a known op
    // without a native kernel.
    void validate();
    // Shapes of every value for the given input shapes (one per graph input). Throws SHAPE_ERROR with
    // `status` (INVALID_MODEL when checking a file, SHAPE_ERROR for a caller's size).
    std::map<std::string, Shape> infer_shapes(const std::vector<Shape> &input_shapes, int status) const;
};

}  // namespace pysr
