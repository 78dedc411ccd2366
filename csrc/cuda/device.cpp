// The device layer on the CUDA runtime (device.hpp). Kernels are the nvcc-built kernels/cuda/*.cu of this library
// (their host stubs, kernels.hpp), launched with cudaLaunchKernel on the session's stream.
#include "device.hpp"

#include <cuda_runtime_api.h>

#include "../error.hpp"

namespace pysr::cuda {

namespace {

[[noreturn]] void raise(cudaError_t e, const std::string &what) {
    cudaGetLastError();  // clear a sticky-free error so the next call starts clean
    pysr_status status = e == cudaErrorMemoryAllocation ? PYSR_STATUS_OUT_OF_MEMORY : PYSR_STATUS_DEVICE_ERROR;
    fail(status, "CUDA: " + what + ": " + cudaGetErrorName(e) + " (" + cudaGetErrorString(e) + ")");
}

void check(cudaError_t e, const char *what) {
    if (e != cudaSuccess) raise(e, what);
}

cudaStream_t stream_of(Stream &s) { return static_cast<cudaStream_t>(s.handle()); }

}  // namespace

int device_count() {
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) {
        cudaGetLastError();
        return 0;
    }
    return n;
}

void use_device(int device) {
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess) {
        cudaGetLastError();
        fail(PYSR_STATUS_DEVICE_ERROR, "CUDA device " + std::to_string(device) + " is not available: " +
                                           cudaGetErrorName(e) + " (" + cudaGetErrorString(e) + ")");
    }
    if (device < 0 || device >= n)
        fail(PYSR_STATUS_DEVICE_ERROR, "CUDA device " + std::to_string(device) + " requested, " + std::to_string(n) +
                                           " present");
    check(cudaSetDevice(device), ("selecting device " + std::to_string(device)).c_str());
}

DeviceInfo device_info(int device) {
    cudaDeviceProp p{};
    check(cudaGetDeviceProperties(&p, device), "reading the device's properties");
    return {p.name, p.major, p.minor};
}

Buffer::Buffer(size_t bytes) : bytes_(bytes) {
    if (bytes) check(cudaMalloc(&ptr_, bytes), ("allocating " + std::to_string(bytes) + " bytes").c_str());
}

Buffer::~Buffer() {
    if (ptr_) cudaFree(ptr_);  // NOTE: errors here are a failed earlier launch, already reported by sync()
}

Buffer &Buffer::operator=(Buffer &&o) noexcept {
    if (this != &o) {
        if (ptr_) cudaFree(ptr_);
        ptr_ = std::exchange(o.ptr_, nullptr);
        bytes_ = std::exchange(o.bytes_, 0);
    }
    return *this;
}

Stream::Stream() {
    cudaStream_t s = nullptr;
    check(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking), "creating a stream");
    handle_ = s;
}

Stream::~Stream() {
    if (handle_) cudaStreamDestroy(static_cast<cudaStream_t>(handle_));
}

void Stream::sync() { check(cudaStreamSynchronize(static_cast<cudaStream_t>(handle_)), "running the network"); }

void copy_to_device(void *dst, const void *src, size_t bytes, Stream &s) {
    check(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, stream_of(s)), "copying to the device");
}

void copy_to_host(void *dst, const void *src, size_t bytes, Stream &s) {
    check(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, stream_of(s)), "copying from the device");
}

void launch_raw(Stream &s, const void *kernel, Run, Dim grid, Dim block, size_t shared, void **args, void (*)(void *),
                void *) {
    check(cudaLaunchKernel(kernel, dim3(grid.x, grid.y, grid.z), dim3(block.x, block.y, block.z), args, shared,
                           stream_of(s)),
          "launching a kernel");
}

}  // namespace pysr::cuda
