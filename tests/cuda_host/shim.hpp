// The CUDA built-ins that kernels/cuda/*.cu use, for a host C++ compiler: include this, then the .cu files, and
// the kernels become plain functions of the CPU (tests/test_cuda_backend.py builds them so; libpysr's
// PYSR_CUDA_HOST build, csrc/cuda/host_kernels.cpp, too). Two ways to run a block:
//   default          blocks and threads one at a time, set by pysr_emu_set; __syncthreads does nothing. A kernel
//                    with one barrier after an idempotent cooperative load (conv2d_depthwise) runs every thread of
//                    a block twice: the second pass after every thread's load. `extern __shared__` is `smem`.
//   PYSR_HOST_COOP   the threads of a block are coroutines (ucontext) of one OS thread, switched at every barrier,
//                    and __shared__ arrays are static (one per block, as blocks run one after another): what
//                    conv2d_mma.cu needs (its warps meet at barriers and pool fragments for each MMA; see mma.hpp).
// Built-ins are static (internal linkage), so both kinds of translation unit link into one library.
#pragma once

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <algorithm>
struct pysr_dim3 { unsigned x, y, z; };
static pysr_dim3 threadIdx, blockIdx, blockDim, gridDim;
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __noinline__
#define __restrict__ __restrict
#define __launch_bounds__(...)
static inline float __fmul_rn(float a, float b) { return a * b; }
static inline float __fadd_rn(float a, float b) { return a + b; }
static inline float __fsub_rn(float a, float b) { return a - b; }
static inline float __fdiv_rn(float a, float b) { return a / b; }
static inline unsigned __float_as_uint(float f) { unsigned u; std::memcpy(&u, &f, 4); return u; }
static inline float __uint_as_float(unsigned u) { float f; std::memcpy(&f, &u, 4); return f; }
using std::min;
using std::max;

#ifndef PYSR_HOST_COOP
#define __shared__
float smem[1 << 16];
static inline void __syncthreads() {}
extern "C" void pysr_emu_set(unsigned gx, unsigned gy, unsigned bx, unsigned by, unsigned ix, unsigned iy,
                             unsigned tx, unsigned ty) {
    gridDim = {gx, gy, 1}; blockDim = {bx, by, 1}; blockIdx = {ix, iy, 0}; threadIdx = {tx, ty, 0};
}
#else
#include <functional>
#include <vector>
#include <ucontext.h>
#define __shared__ static
#define __align__(n) __attribute__((aligned(n)))
struct alignas(16) uint4 { unsigned x, y, z, w; };
namespace emu {
constexpr int MAXT = 128, STACK = 1 << 16;
static ucontext_t sched, ctx[MAXT];
static std::vector<char> stacks[MAXT];
static bool done[MAXT];
static int cur;
struct Bar { int n, count; unsigned gen; };
static Bar block_bar, warp_bar[MAXT / 32];
static std::function<void()> body;
static void wait(Bar &b) {
    unsigned g = b.gen;
    if (++b.count == b.n) { b.count = 0; ++b.gen; return; }
    while (b.gen == g) swapcontext(&ctx[cur], &sched);
}
static void entry(int i) { body(); done[i] = true; }
// Runs emu::body as every thread of a gx × gy grid of blocks of nt threads (nt <= MAXT, a multiple of 32).
static void launch(unsigned gx, unsigned gy, unsigned nt) {
    gridDim = {gx, gy, 1}; blockDim = {nt, 1, 1};
    for (unsigned by = 0; by < gy; ++by)
        for (unsigned bx = 0; bx < gx; ++bx) {
            blockIdx = {bx, by, 0};
            block_bar = {(int)nt, 0, 0};
            for (auto &w : warp_bar) w = {32, 0, 0};
            for (unsigned i = 0; i < nt; ++i) {
                stacks[i].resize(STACK);
                getcontext(&ctx[i]);
                ctx[i].uc_stack.ss_sp = stacks[i].data();
                ctx[i].uc_stack.ss_size = STACK;
                ctx[i].uc_link = &sched;
                makecontext(&ctx[i], (void (*)())entry, 1, (int)i);
                done[i] = false;
            }
            for (bool all = false; !all;) {
                all = true;
                for (unsigned i = 0; i < nt; ++i)
                    if (!done[i]) {
                        cur = (int)i;
                        threadIdx = {i, 0, 0};
                        swapcontext(&sched, &ctx[i]);
                        all = all && done[i];
                    }
            }
        }
}
}  // namespace emu
static inline void __syncthreads() { emu::wait(emu::block_bar); }
#endif
