// A plan: one graph compiled for one shape per input. Shapes inferred, every node prepared (OpState: packed
// weights, tables, per-thread scratch), intermediate values assigned to reusable slots by the rules of
// pysr/graph/memory.py (largest first; with batch 1, split outputs and concat inputs as channel ranges of another
// value's buffer, their copies skipped), slot buffers allocated once. A plan belongs to one session.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "graph.hpp"
#include "ops/op.hpp"

namespace pysr {

class ThreadPool;

struct Plan {
    struct Step {
        std::string name, op;  // the node's name and op
        std::unique_ptr<OpState> state;
        std::vector<int> in, out;  // value ids
    };
    std::vector<Shape> shapes;      // per value id
    // per value id: a slot index >= 0, or -1 - k for the caller's buffer k: graph input k (k < inputs.size()),
    // else graph output k - inputs.size()
    std::vector<int> slot_of;
    std::vector<int64_t> offset;    // per value id: elements from the start of that buffer (channel views)
    std::vector<std::vector<float>> slots;
    // One per node in order, but none for a split whose outputs are views or a concat whose inputs are all in
    // place (a concat with some inputs in place copies only the others).
    std::vector<Step> steps;
    std::vector<int> inputs, outputs;               // value ids, in graph order
    std::vector<Shape> input_shapes, output_shapes;
    Shape input_shape, output_shape;                // the first of each
};

// Compiles the graph for one shape (N, C, H, W) per graph input; every graph output is written to a buffer of
// the caller. Throws SHAPE_ERROR when the sizes do not fit the graph, OUT_OF_MEMORY when the buffers cannot be
// had.
std::unique_ptr<Plan> compile_plan(const Graph &g, const std::vector<Shape> &inputs, int threads);
// The same for a graph with one input; outputs[0] is the result (other outputs stay internal).
std::unique_ptr<Plan> compile_plan(const Graph &g, const Shape &input, int threads);
// Runs it: x[k] has input_shapes[k], y[k] receives output_shapes[k] (all contiguous NCHW, y distinct from x).
void run_plan(Plan &plan, const float *const *x, float *const *y, ThreadPool &pool);
void run_plan(Plan &plan, const float *x, float *y, ThreadPool &pool);

}  // namespace pysr
