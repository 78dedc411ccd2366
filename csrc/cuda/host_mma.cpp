// PYSR_CUDA_HOST: conv2d_mma.cu built for the CPU, its 128 threads coroutines meeting at barriers and its warp MMAs
// computed from the lanes' fragments (tests/cuda_host/shim.hpp with PYSR_HOST_COOP, tests/cuda_host/mma.hpp).
#define PYSR_HOST_COOP
#include "../../tests/cuda_host/shim.hpp"

#include "conv2d_mma.cu"

#include "../../tests/cuda_host/mma.hpp"
#include "kernels.hpp"

// device_host.cpp's way to run a Run::Coop launch: fn(arg) as every thread of every block.
extern "C" void pysr_host_coop_launch(unsigned gx, unsigned gy, unsigned nt, void (*fn)(void *), void *arg) {
    emu::body = [=] { fn(arg); };
    emu::launch(gx, gy, nt);
}
