// A plan: one graph compiled for one input shape. Shapes inferred, every node prepared (OpState: packed
// weights, tables, per-thread scratch), intermediate values assigned to reusable slots by the greedy rule
// of pysr/graph/memory.py, slot buffers allocated once. A plan belongs to one session.
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
        std::string name;
        std::unique_ptr<OpState> state;
        std::vector<int> in, out;  // value ids
    };
    std::vector<Shape> shapes;      // per value id
    std::vector<int> slot_of;       // per value id; -1: the graph input (caller's), -2: the output (caller's)
    std::vector<std::vector<float>> slots;
    std::vector<Step> steps;
    int input = -1, output = -1;
    Shape input_shape, output_shape;
};

// Compiles the graph (one input, outputs[0] is the result) for `input` (N, C, H, W). Throws SHAPE_ERROR
// when the size does not fit the graph, OUT_OF_MEMORY when the buffers cannot be had.
std::unique_ptr<Plan> compile_plan(const Graph &g, const Shape &input, int threads);
// Runs it: x has input_shape, y receives output_shape (both contiguous NCHW).
void run_plan(Plan &plan, const float *x, float *y, ThreadPool &pool);

}  // namespace pysr
