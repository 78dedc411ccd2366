// The device layer of libpysr's CUDA executor: device list, memory, one stream per session, copies, kernel
// launches, and CUDA errors as pysr::Error (error.hpp): PYSR_STATUS_OUT_OF_MEMORY for an allocation,
// PYSR_STATUS_DEVICE_ERROR for everything else, the CUDA runtime's own message in the text.
// Two implementations of one contract: device.cpp (the CUDA runtime, nvcc-built kernels) and device_host.cpp
// (PYSR_CUDA_HOST: malloc / memcpy, and the kernels of kernels/cuda built for the CPU run block by block, thread by
// thread; how a block runs is the launch's `Run`). Every call acts on the calling thread's current device: the
// executor calls use_device first.
#pragma once

#include <cstddef>
#include <string>
#include <tuple>
#include <utility>

namespace pysr::cuda {

struct DeviceInfo {
    std::string name;
    int major = 0, minor = 0;  // compute capability
};

// CUDA devices visible to this process: 0 without a driver or device (never throws).
int device_count();
// Selects the device for this thread's calls; DEVICE_ERROR naming the reason (no driver, device N of M).
void use_device(int device);
DeviceInfo device_info(int device);

// Device memory of the current device, freed on destruction.
class Buffer {
  public:
    Buffer() = default;
    explicit Buffer(size_t bytes);
    ~Buffer();
    Buffer(Buffer &&o) noexcept : ptr_(std::exchange(o.ptr_, nullptr)), bytes_(std::exchange(o.bytes_, 0)) {}
    Buffer &operator=(Buffer &&o) noexcept;
    Buffer(const Buffer &) = delete;
    Buffer &operator=(const Buffer &) = delete;
    void *get() const { return ptr_; }
    size_t bytes() const { return bytes_; }

  private:
    void *ptr_ = nullptr;
    size_t bytes_ = 0;
};

// One stream of the current device: launches and copies in order; sync() waits for them and reports a failed one.
class Stream {
  public:
    Stream();
    ~Stream();
    Stream(const Stream &) = delete;
    Stream &operator=(const Stream &) = delete;
    void sync();
    void *handle() const { return handle_; }

  private:
    void *handle_ = nullptr;
};

void copy_to_device(void *dst, const void *src, size_t bytes, Stream &s);
void copy_to_host(void *dst, const void *src, size_t bytes, Stream &s);  // complete when s.sync() returns

struct Dim {
    unsigned x = 1, y = 1, z = 1;
};
// How the host emulation runs a block (a GPU ignores it): every thread once (kernels without a barrier), every
// thread twice around one idempotent barrier (conv2d_depthwise.cu), or the threads as coroutines meeting at
// barriers and warp MMAs (conv2d_mma.cu).
enum class Run { Flat, Barrier, Coop };

// `args` points to each argument's value in order; `call(arg)` calls the kernel with them (the host emulation's
// way in, since it cannot take an argument array).
void launch_raw(Stream &s, const void *kernel, Run run, Dim grid, Dim block, size_t shared, void **args,
                void (*call)(void *), void *arg);

// A typed launch: every argument converted to the type the kernel declares (kernels.hpp), as the Python backend's
// launch does from ENTRY_POINTS; a size that does not fit an `int` is refused before this (executor checks).
template <class... A, class... B>
void launch(Stream &s, void (*kernel)(A...), Run run, Dim grid, Dim block, size_t shared, B... b) {
    static_assert(sizeof...(A) == sizeof...(B), "argument count differs from the kernel's");
    struct Call {
        void (*fn)(A...);
        std::tuple<A...> args;
        static void call(void *p) {
            auto *c = static_cast<Call *>(p);
            std::apply(c->fn, c->args);
        }
    } call{kernel, std::tuple<A...>(static_cast<A>(b)...)};
    std::apply([&](auto &...a) {
        void *ptrs[] = {static_cast<void *>(&a)..., nullptr};
        launch_raw(s, reinterpret_cast<const void *>(kernel), run, grid, block, shared, ptrs, &Call::call, &call);
    }, call.args);
}

}  // namespace pysr::cuda
