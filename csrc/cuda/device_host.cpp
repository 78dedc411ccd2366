// The device layer emulated on the CPU (PYSR_CUDA_HOST; device.hpp): one device, "memory" from malloc, copies are
// memcpy, and a launch runs the kernels of kernels/cuda built for the host (host_kernels.cpp, host_mma.cpp) block by
// block and thread by thread as the launch's `Run` says. A test build: it runs the whole device path of the executor
// (plans, weight layouts, argument lists, casts) without a GPU. The emulated thread indices are globals of the
// kernel translation units, so launches from all sessions take turns on one mutex.
#include <cstdlib>
#include <cstring>
#include <mutex>

#include "../error.hpp"
#include "device.hpp"

extern "C" void pysr_emu_set(unsigned gx, unsigned gy, unsigned bx, unsigned by, unsigned ix, unsigned iy,
                             unsigned tx, unsigned ty);                                  // host_kernels.cpp
extern "C" void pysr_host_coop_launch(unsigned gx, unsigned gy, unsigned nt, void (*fn)(void *), void *arg);  // host_mma.cpp

namespace pysr::cuda {

namespace {
std::mutex g_launch;
}

int device_count() { return 1; }

void use_device(int device) {
    if (device != 0)
        fail(PYSR_STATUS_DEVICE_ERROR, "CUDA device " + std::to_string(device) + " requested, 1 present (the host "
                                                                                    "emulation of PYSR_CUDA_HOST)");
}

DeviceInfo device_info(int) { return {"host emulation (PYSR_CUDA_HOST)", 9, 0}; }

Buffer::Buffer(size_t bytes) : bytes_(bytes) {
    if (bytes && !(ptr_ = std::malloc(bytes)))
        fail(PYSR_STATUS_OUT_OF_MEMORY, "CUDA: allocating " + std::to_string(bytes) + " bytes: out of memory");
}

Buffer::~Buffer() { std::free(ptr_); }

Buffer &Buffer::operator=(Buffer &&o) noexcept {
    if (this != &o) {
        std::free(ptr_);
        ptr_ = std::exchange(o.ptr_, nullptr);
        bytes_ = std::exchange(o.bytes_, 0);
    }
    return *this;
}

Stream::Stream() {}
Stream::~Stream() {}
void Stream::sync() {}

void copy_to_device(void *dst, const void *src, size_t bytes, Stream &) { std::memcpy(dst, src, bytes); }
void copy_to_host(void *dst, const void *src, size_t bytes, Stream &) { std::memcpy(dst, src, bytes); }

void launch_raw(Stream &, const void *, Run run, Dim grid, Dim block, size_t shared, void **, void (*call)(void *),
                void *arg) {
    if (grid.z != 1 || block.z != 1) fail(PYSR_STATUS_INTERNAL, "host emulation: a launch with z > 1");
    if (shared > sizeof(float) << 16) fail(PYSR_STATUS_INTERNAL, "host emulation: more shared memory than smem holds");
    std::lock_guard<std::mutex> lock(g_launch);
    if (run == Run::Coop) {
        if (block.y != 1 || block.x > 128 || block.x % 32) fail(PYSR_STATUS_INTERNAL, "host emulation: coop block");
        pysr_host_coop_launch(grid.x, grid.y, block.x, call, arg);
        return;
    }
    const int passes = run == Run::Barrier ? 2 : 1;  // the second pass after every thread's cooperative load
    for (unsigned by = 0; by < grid.y; ++by)
        for (unsigned bx = 0; bx < grid.x; ++bx)
            for (int pass = 0; pass < passes; ++pass)
                for (unsigned ty = 0; ty < block.y; ++ty)
                    for (unsigned tx = 0; tx < block.x; ++tx) {
                        pysr_emu_set(grid.x, grid.y, block.x, block.y, bx, by, tx, ty);
                        call(arg);
                    }
}

}  // namespace pysr::cuda
