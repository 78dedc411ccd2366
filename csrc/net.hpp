// A network compiled for where its session runs it: the CPU (plan.hpp) or, in a build with PYSR_CUDA, a CUDA device
// (cuda/executor.hpp). What api.cpp and session.cpp hold and run; the colour halves and frame conversions stay on
// the CPU whatever the target.
#pragma once

#include <memory>
#include <vector>

#include "graph.hpp"
#include "plan.hpp"

namespace pysr {

namespace cuda {
class WeightCache;
struct Context;
class DevicePlan;
}  // namespace cuda

struct Target {
    int device = -1;                      // -1: the CPU; else a CUDA device
    int precision = 0;                    // pysr_precision
    std::shared_ptr<cuda::Context> cuda;  // device >= 0: the device, the session's stream, the model's weights there
};

// The device copies of one model's weights, shared by its sessions (nullptr in a build without PYSR_CUDA).
std::shared_ptr<cuda::WeightCache> new_weight_cache();
// The target of a session: UNSUPPORTED for a device in a build without PYSR_CUDA or a precision other than FP32
// on the CPU, INVALID_ARGUMENT for a value outside the enums, DEVICE_ERROR when the device is not there.
Target make_target(int device, int precision, const std::shared_ptr<cuda::WeightCache> &weights);
// CUDA devices this build can use (0 without PYSR_CUDA).
int cuda_device_count();

struct Net {
    Net();
    ~Net();
    std::vector<Shape> input_shapes, output_shapes;
    Shape output_shape;  // the first
    std::unique_ptr<Plan> cpu;
    std::unique_ptr<cuda::DevicePlan> device;
};

// compile_plan (plan.hpp) on the target: one shape per graph input, every graph output written to a caller buffer.
std::unique_ptr<Net> compile_net(const Graph &g, const std::vector<Shape> &inputs, const Target &t, int threads);
// The same for a graph with one input; outputs[0] is the result (other outputs stay internal).
std::unique_ptr<Net> compile_net(const Graph &g, const Shape &input, const Target &t, int threads);
void run_net(Net &net, const float *const *x, float *const *y, ThreadPool &pool);
void run_net(Net &net, const float *x, float *y, ThreadPool &pool);

}  // namespace pysr
