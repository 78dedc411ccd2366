// Networks on their target (net.hpp): the CPU plan, or the CUDA executor in a build with PYSR_CUDA (PYSR_HAVE_CUDA).
#include "net.hpp"

#include "error.hpp"
#ifdef PYSR_HAVE_CUDA
#include "cuda/executor.hpp"
#endif

namespace pysr {

#ifndef PYSR_HAVE_CUDA
namespace cuda {
class DevicePlan {};  // never made in this build (make_target refuses devices)
}  // namespace cuda
#endif

Net::Net() = default;
Net::~Net() = default;

std::shared_ptr<cuda::WeightCache> new_weight_cache() {
#ifdef PYSR_HAVE_CUDA
    return std::make_shared<cuda::WeightCache>();
#else
    return nullptr;
#endif
}

int cuda_device_count() {
#ifdef PYSR_HAVE_CUDA
    return cuda::device_count();
#else
    return 0;
#endif
}

Target make_target(int device, int precision, const std::shared_ptr<cuda::WeightCache> &weights) {
    if (precision < PYSR_PRECISION_FP32 || precision > PYSR_PRECISION_BF16)
        fail(PYSR_STATUS_INVALID_ARGUMENT, "precision " + std::to_string(precision) + " is not a pysr_precision");
    if (device < -1) fail(PYSR_STATUS_INVALID_ARGUMENT, "device must be -1 (the CPU) or a CUDA device >= 0, got " +
                                                            std::to_string(device));
    Target t;
    t.device = device;
    t.precision = precision;
    if (device < 0) {
        if (precision != PYSR_PRECISION_FP32)
            fail(PYSR_STATUS_UNSUPPORTED, "the CPU runs PYSR_PRECISION_FP32 only (precision " + std::to_string(precision) +
                                              " needs a CUDA device)");
        return t;
    }
#ifdef PYSR_HAVE_CUDA
    t.cuda = std::make_shared<cuda::Context>(device, precision, weights);
#else
    (void)weights;
    fail(PYSR_STATUS_UNSUPPORTED, "CUDA device " + std::to_string(device) +
                                      " requested, but this libpysr was built without CUDA (configure with -DPYSR_CUDA=ON)");
#endif
    return t;
}

std::unique_ptr<Net> compile_net(const Graph &g, const std::vector<Shape> &inputs, const Target &t, int threads) {
    auto net = std::make_unique<Net>();
    if (t.device < 0) {
        net->cpu = compile_plan(g, inputs, threads);
        net->input_shapes = net->cpu->input_shapes;
        net->output_shapes = net->cpu->output_shapes;
    } else {
#ifdef PYSR_HAVE_CUDA
        net->device = std::make_unique<cuda::DevicePlan>(t.cuda, g, inputs);
        net->input_shapes = net->device->input_shapes;
        net->output_shapes = net->device->output_shapes;
#else
        fail(PYSR_STATUS_INTERNAL, "a device target in a build without CUDA");
#endif
    }
    net->output_shape = net->output_shapes.at(0);
    return net;
}

std::unique_ptr<Net> compile_net(const Graph &g, const Shape &input, const Target &t, int threads) {
    if (g.inputs.size() != 1) fail(PYSR_STATUS_UNSUPPORTED, "libpysr runs graphs with exactly one input");
    Graph one = g;
    one.outputs.resize(1);
    return compile_net(one, std::vector<Shape>{input}, t, threads);
}

void run_net(Net &net, const float *const *x, float *const *y, ThreadPool &pool) {
    if (net.cpu) return run_plan(*net.cpu, x, y, pool);
#ifdef PYSR_HAVE_CUDA
    net.device->run(x, y);
#endif
}

void run_net(Net &net, const float *x, float *y, ThreadPool &pool) { run_net(net, &x, &y, pool); }

}  // namespace pysr
