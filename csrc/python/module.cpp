// pysr._native: the kernels of libpysr (csrc/ops) for the Python `native` backend (pysr/backends/native.py),
// one node at a time, as the backend contract compiles them (pysr/backends/__init__.py).
//
// compile_node builds a one-node graph from the caller's op name, attrs (JSON text, read by csrc/json.cpp),
// parameters and shapes, runs the op's own `parse`, `shape` and `prepare` (csrc/ops/op.hpp), checks the
// caller's output shapes against the op's shape rule and returns a Kernel; calling it runs `OpState::run`
// on the caller's numpy buffers in place, with the GIL released. Errors thrown by the library (pysr::Error)
// become the typed errors of pysr.errors with the library's message; pybind11 turns anything else into a
// Python exception (MemoryError for std::bad_alloc), so no C++ exception leaves the module.
//
// Threads: one ThreadPool owned by the module (os.cpu_count() threads unless set_threads says otherwise).
// A kernel keeps the pool it was prepared for (its per-thread scratch is sized for that pool), so
// set_threads affects kernels compiled afterwards. A pool runs one job at a time and a state's scratch
// belongs to one run, so each run holds the pool's mutex: native kernels on several Python threads take
// turns (each run already uses every thread of the pool).
//
// plan_info opens libpysr's own reader, passes and planner to tests and bench/ (what a C API session compiles:
// the fused graph's nodes, the plan's steps and its slot bytes); it runs nothing.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>
#include <unistd.h>

#include <algorithm>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <vector>

#include "../error.hpp"
#include "../graph.hpp"
#include "../json.hpp"
#include "../model.hpp"
#include "../ops/conv2d_gemm.hpp"
#include "../ops/op.hpp"
#include "../plan.hpp"
#include "../threads.hpp"

namespace py = pybind11;

namespace pysr {
namespace {

struct Pool {
    explicit Pool(int threads) : pool(new ThreadPool(threads)), threads(threads), pid(getpid()) {}
    // NOTE: after fork() the workers exist only in the parent: a child leaks the pool (joining threads
    // it does not have would hang) and runs its kernels on the calling thread alone.
    ~Pool() {
        if (pid == getpid()) delete pool;
    }
    ThreadPool *pool;
    int threads;
    pid_t pid;
    std::mutex mu;
};

std::shared_ptr<Pool> g_pool;  // guarded by the GIL

std::shared_ptr<Pool> current_pool() {
    if (!g_pool) {
        py::object n = py::module_::import("os").attr("cpu_count")();
        g_pool = std::make_shared<Pool>(n.is_none() ? 1 : std::max(1, n.cast<int>()));
    }
    return g_pool;
}

[[noreturn]] void raise(const char *type, const std::string &msg) {
    PyErr_SetString(py::module_::import("pysr.errors").attr(type).ptr(), msg.c_str());
    throw py::error_already_set();
}

// The pysr.errors type for a library status.
const char *error_type(pysr_status s) {
    switch (s) {
        case PYSR_STATUS_SHAPE_ERROR: return "ShapeError";
        case PYSR_STATUS_UNSUPPORTED: return "UnsupportedError";
        case PYSR_STATUS_INVALID_MODEL: return "GraphError";
        case PYSR_STATUS_INVALID_ARGUMENT: return "ShapeError";
        default: return "PysrError";  // INTERNAL: the message says what
    }
}

std::string shapes_str(const std::vector<Shape> &v) {
    std::string o = "[";
    for (size_t i = 0; i < v.size(); ++i) o += (i ? ", " : "") + shape_str(v[i]);
    return o + "]";
}

// The op's native definition, or the reason there is none (unknown op, no kernel in this build, attributes
// the op refuses); `node.attrs` is parsed on success.
const OpDef *resolve(const std::string &op, const std::string &attrs_json, Node &node, std::string &why,
                     const char *&why_type) {
    bool known = false;
    const OpDef *def = find_op(op, known);
    why_type = known ? "UnsupportedError" : "GraphError";
    if (!known) return why = "unknown op '" + op + "'", nullptr;
    if (!def) return why = "op '" + op + "' has no native kernel in this build of libpysr", nullptr;
    Json attrs;
    std::string err;
    if (!parse_json(attrs_json.data(), attrs_json.size(), attrs, err))
        return why = op + ": attrs are not JSON (" + err + ")", nullptr;
    try {
        def->parse(attrs, node.attrs);
    } catch (const Error &e) {
        return why = e.what(), nullptr;
    }
    node.op = def;
    node.op_name = op;
    node.name = op;
    node.raw_attrs = std::make_shared<const Json>(std::move(attrs));
    return def;
}

// Contiguous float32 of exactly `shape`, else ShapeError naming the op, the buffer and the problem.
float *check_buffer(const std::string &op, const char *what, size_t k, const py::handle &h, const Shape &shape,
                    bool write) {
    std::string where = "native " + op + ": " + what + " " + std::to_string(k);
    if (!py::isinstance<py::array>(h)) raise("ShapeError", where + " must be a numpy.ndarray, got " +
                                                              std::string(py::str(py::type::of(h).attr("__name__"))));
    auto a = py::reinterpret_borrow<py::array>(h);
    if (!a.dtype().is(py::dtype::of<float>()))
        raise("ShapeError", where + " must be float32, got " + std::string(py::str(a.dtype())));
    Shape got(a.shape(), a.shape() + a.ndim());
    if (got != shape) raise("ShapeError", where + " must have shape " + shape_str(shape) + ", got " + shape_str(got));
    if (!(a.flags() & py::array::c_style)) raise("ShapeError", where + " must be C-contiguous");
    if (write && !a.writeable()) raise("ShapeError", where + " must be writeable");
    return static_cast<float *>(const_cast<void *>(a.data()));
}

struct Kernel {
    std::string op;
    Graph graph;  // the one node and its parameters, kept alive for the state
    std::vector<Shape> in, out;
    std::unique_ptr<OpState> state;
    std::shared_ptr<Pool> pool;

    void call(const py::sequence &inputs, const py::sequence &outputs) {
        if (inputs.size() != in.size() || outputs.size() != out.size())
            raise("ShapeError", "native " + op + ": called with " + std::to_string(inputs.size()) + " input(s) and " +
                                    std::to_string(outputs.size()) + " output(s), compiled for " +
                                    std::to_string(in.size()) + " and " + std::to_string(out.size()));
        std::vector<py::object> held;  // the arrays stay alive while the GIL is released, whatever the lists do
        std::vector<const float *> x;
        std::vector<float *> y;
        for (size_t k = 0; k < in.size(); ++k) {
            held.push_back(inputs[k]);
            x.push_back(check_buffer(op, "input", k, held.back(), in[k], false));
        }
        for (size_t k = 0; k < out.size(); ++k) {
            held.push_back(outputs[k]);
            y.push_back(check_buffer(op, "output", k, held.back(), out[k], true));
        }
        py::gil_scoped_release nogil;
        std::lock_guard<std::mutex> lock(pool->mu);
        if (pool->pid == getpid()) {
            state->run(x.data(), y.data(), *pool->pool);
        } else {
            ThreadPool alone(1);
            state->run(x.data(), y.data(), alone);
        }
    }
};

std::unique_ptr<Kernel> compile_node(const std::string &op, const std::string &attrs_json, const py::dict &params,
                                     const std::vector<Shape> &in_shapes, const std::vector<Shape> &out_shapes) {
    auto k = std::make_unique<Kernel>();
    k->op = op;
    Node node;
    std::string why;
    const char *why_type = "";
    const OpDef *def = resolve(op, attrs_json, node, why, why_type);
    if (!def) raise(why_type, why);
    // parameters: slot -> tensor of the same name
    auto tensors = std::make_shared<std::map<std::string, Tensor>>();
    for (auto item : params) {
        std::string slot = py::str(item.first);
        bool known = false;
        std::string list;
        for (auto &s : def->slots) {
            known = known || slot == s.name;
            list += (list.empty() ? "" : ", ") + std::string(s.name);
        }
        if (!known) raise("GraphError", op + ": unknown parameter slot '" + slot + "'; the op takes [" + list + "]");
        auto a = py::array_t<float, py::array::c_style | py::array::forcecast>::ensure(item.second);
        if (!a) raise("ShapeError", op + ": parameter '" + slot + "' is not a float32 array");
        Tensor t;
        t.shape.assign(a.shape(), a.shape() + a.ndim());
        t.data.assign(a.data(), a.data() + a.size());
        (*tensors)[slot] = std::move(t);
        node.params.emplace_back(slot, slot);
    }
    for (auto &s : def->slots)
        if (s.required && !tensors->count(s.name))
            raise("GraphError", op + ": required parameter slot '" + std::string(s.name) + "' is not bound");
    for (size_t i = 0; i < in_shapes.size(); ++i) node.inputs.push_back("in" + std::to_string(i));
    for (size_t i = 0; i < out_shapes.size(); ++i) node.outputs.push_back("out" + std::to_string(i));
    k->graph.params = tensors;
    k->graph.outputs = node.outputs;
    k->in = in_shapes;
    k->out = out_shapes;
    // the input count rule of Graph::infer_shapes, then the op's shape rule (library errors are translated)
    int n = def->n_inputs;
    if (n == -1 && in_shapes.empty()) shape_fail(op + ": expects at least 1 input, got 0");
    if (n != -1) expect_count(def->name, in_shapes, n >= 0 ? size_t(n) : node.attrs.residual ? 2 : 1);
    for (auto &s : in_shapes) expect_rank4(def->name, "input", s);
    std::vector<Shape> rule = def->shape(node, k->graph, in_shapes);
    if (rule != out_shapes)
        raise("ShapeError", "native " + op + ": the op's shape rule gives outputs " + shapes_str(rule) +
                                " for inputs " + shapes_str(in_shapes) + ", the caller planned " +
                                shapes_str(out_shapes));
    k->graph.nodes.push_back(node);
    k->pool = current_pool();
    k->state = def->prepare(k->graph.nodes[0], k->graph, in_shapes, out_shapes, k->pool->threads);
    return k;
}

// "" when the op has a native kernel that accepts these attributes, else why not.
std::string check(const std::string &op, const std::string &attrs_json) {
    Node node;
    std::string why;
    const char *why_type = "";
    resolve(op, attrs_json, node, why, why_type);
    return why;
}

// A .pysr file (bytes) read and fused as pysr_model_load_memory does, and planned for one shape per graph input
// (all graph outputs kept): {"nodes": [(name, op)] of the fused graph, "steps": [(name, op)] the plan runs,
// "slot_bytes": [bytes per slot], "arena_bytes": their sum (the plan's intermediate values; the caller's
// inputs and outputs are not in it)}.
py::dict plan_info(const py::bytes &data, const std::vector<Shape> &shapes) {
    std::string bytes = data;
    Model m = read_model(reinterpret_cast<const uint8_t *>(bytes.data()), bytes.size(), "<memory>");
    py::list nodes, steps, slot_bytes;
    for (auto &n : m.net.nodes) nodes.append(py::make_tuple(n.name, n.op_name));
    std::unique_ptr<Plan> plan;
    {
        py::gil_scoped_release nogil;
        plan = compile_plan(m.net, shapes, 1);
    }
    for (auto &s : plan->steps) steps.append(py::make_tuple(s.name, s.op));
    int64_t arena = 0;
    for (auto &s : plan->slots) {
        slot_bytes.append(int64_t(s.size() * sizeof(float)));
        arena += int64_t(s.size() * sizeof(float));
    }
    py::dict d;
    d["nodes"] = nodes;
    d["steps"] = steps;
    d["slot_bytes"] = slot_bytes;
    d["arena_bytes"] = arena;
    return d;
}

const char *isa_name() {
    switch (conv_isa()) {
        case Isa::Avx512: return "avx512";
        case Isa::Avx2: return "avx2";
        default: return "generic";
    }
}

}  // namespace
}  // namespace pysr

PYBIND11_MODULE(_native, m) {
    using namespace pysr;
    m.doc() = "libpysr's op kernels for the `native` backend (pysr/backends/native.py)";
    py::register_exception_translator([](std::exception_ptr p) {
        try {
            if (p) std::rethrow_exception(p);
        } catch (const Error &e) {
            if (e.status == PYSR_STATUS_OUT_OF_MEMORY) py::set_error(PyExc_MemoryError, e.what());
            else py::set_error(py::module_::import("pysr.errors").attr(error_type(e.status)), e.what());
        }
    });
    py::class_<Kernel>(m, "Kernel")
        .def("__call__", &Kernel::call, py::arg("inputs"), py::arg("outputs"),
             "Run the node on float32 C-contiguous arrays of the compiled shapes; writes `outputs` in place.")
        .def_property_readonly("op", [](const Kernel &k) { return k.op; })
        .def_property_readonly("threads", [](const Kernel &k) { return k.pool->threads; });
    m.def("compile_node", &compile_node, py::arg("op"), py::arg("attrs_json"), py::arg("params"),
          py::arg("in_shapes"), py::arg("out_shapes"),
          "Build, check and prepare one node; returns a Kernel. Raises the typed errors of pysr.errors.");
    m.def("check", &check, py::arg("op"), py::arg("attrs_json"),
          "'' when the op has a native kernel accepting these attrs, else the reason.");
    m.def("has_kernel", [](const std::string &op) {
        bool known = false;
        return find_op(op, known) != nullptr;
    });
    m.def("is_known", [](const std::string &op) {
        bool known = false;
        find_op(op, known);
        return known;
    }, "Whether the op is in the library's op table (with a kernel or not).");
    m.def("set_threads", [](int n) {
        if (n < 1) throw py::value_error("set_threads: the thread count must be >= 1, got " + std::to_string(n));
        g_pool = std::make_shared<Pool>(n);
    }, py::arg("n"), "Size of the pool used by kernels compiled from now on.");
    m.def("threads", [] { return current_pool()->threads; });
    m.def("plan_info", &plan_info, py::arg("data"), py::arg("shapes"),
          "libpysr's fused graph and plan for a .pysr file's bytes and one NCHW shape per graph input: nodes, "
          "steps, slot_bytes, arena_bytes (introspection for tests and bench/; runs nothing).");
    m.def("isa", &isa_name, "The convolution code this CPU runs: avx512, avx2 or generic (PYSR_ISA may lower it).");
    m.attr("version") = pysr_version();
    m.attr("api_version") = PYSR_API_VERSION;
}
