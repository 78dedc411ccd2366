// conv2d, depthwise: one input channel per group (groups = Cin, Cout = Cin·multiplier, any kernel, stride, padding,
// pad mode), pysr/ops/conv2d.py with the fused epilogue of conv2d_epilogue.cuh. Output channel co reads input
// channel co / multiplier (PyTorch's grouping), summed in float32 in the order ky, kx.
//
// Work split: a block of 32×8 threads computes a 32×8 tile of raw outputs of one (n, co) plane; the grid is 1-D
// over (plane, tile row, tile column) so no grid dimension limit is reached. The block first copies the input
// window the tile reads, ((8−1)·stride + kh) rows × ((32−1)·stride + kw) columns, into shared memory as float32,
// applying the border rule while loading (pad_index; zeros for pad_mode zeros), and the kh·kw weights beside it;
// then each thread sums its kh·kw taps from shared memory. The host sizes the dynamic shared memory:
// (rows·cols + kh·kw)·4 bytes (pysr/backends/_cuda_conv.py), and uses conv2d.cu's direct kernel when that
// exceeds 48 KiB.
// Layout NCHW, storage T in and out, weights float32 (Cout, 1, kh, kw).
// Memory traffic: each input element is read from global memory about once per tile it falls in (1 + halo share),
// each output written once: bandwidth-bound, as depthwise convolutions are.
//
// Status: compiles with nvcc (sm_90) and NVRTC; runs correctly in a host build on the CPU (tests/test_cuda_backend.py);
// not yet run on a GPU (docs/cuda.md lists the owed runs).

#include "conv2d_epilogue.cuh"

#define PYSR_DW_TW 32
#define PYSR_DW_TH 8

template <class T>
__device__ __forceinline__ void conv2d_depthwise(const T *__restrict__ x, const float *__restrict__ w, void *out,
                                                 const Epilogue &e, int batch, int cin, int h, int wd, int cout,
                                                 int kh, int kw, int stride, int ph, int pw, int pad_mode, int ho,
                                                 int wo) {
    extern __shared__ float smem[];
    int tiles_x = (wo + PYSR_DW_TW - 1) / PYSR_DW_TW;
    int tiles_y = (ho + PYSR_DW_TH - 1) / PYSR_DW_TH;
    long long block = blockIdx.x;
    int plane = (int)(block / ((long long)tiles_x * tiles_y));
    int tile = (int)(block - (long long)plane * tiles_x * tiles_y);
    int ty0 = (tile / tiles_x) * PYSR_DW_TH;
    int tx0 = (tile % tiles_x) * PYSR_DW_TW;
    int n = plane / cout;
    int co = plane % cout;
    int ci = co / (cout / cin);

    int rows = (PYSR_DW_TH - 1) * stride + kh;
    int cols = (PYSR_DW_TW - 1) * stride + kw;
    float *win = smem;                    // rows × cols input window
    float *wsm = smem + rows * cols;      // kh × kw weights
    const T *xp = x + ((long long)n * cin + ci) * h * wd;
    int tid = threadIdx.y * PYSR_DW_TW + threadIdx.x;
    int y_in0 = ty0 * stride - ph;
    int x_in0 = tx0 * stride - pw;
    for (int k = tid; k < rows * cols; k += PYSR_DW_TW * PYSR_DW_TH) {
        int r = k / cols;
        int c = k - r * cols;
        int iy = pad_index(y_in0 + r, h, pad_mode);
        int ix = pad_index(x_in0 + c, wd, pad_mode);
        win[k] = (iy >= 0 && ix >= 0) ? to_f32(xp[(long long)iy * wd + ix]) : 0.0f;
    }
    for (int k = tid; k < kh * kw; k += PYSR_DW_TW * PYSR_DW_TH) wsm[k] = w[(long long)co * kh * kw + k];
    __syncthreads();

    int oy = ty0 + threadIdx.y;
    int ox = tx0 + threadIdx.x;
    if (oy >= ho || ox >= wo) return;
    const float *src = win + threadIdx.y * stride * cols + threadIdx.x * stride;
    float acc = 0.0f;
    for (int ky = 0; ky < kh; ++ky)
        for (int kx = 0; kx < kw; ++kx) acc = fmaf(src[ky * cols + kx], wsm[ky * kw + kx], acc);
    epilogue_store<T>(e, out, n, co, oy, ox, acc);
}

// Launch: block (32, 8, 1), grid (batch·cout·⌈ho/8⌉·⌈wo/32⌉, 1, 1), dynamic shared memory as above.
#define PYSR_CONV2D_DEPTHWISE(SUFFIX, T)                                                                        \
    extern "C" __global__ void __launch_bounds__(PYSR_DW_TW *PYSR_DW_TH)                                        \
        conv2d_depthwise_##SUFFIX(const T *x, const float *w, void *out, int batch, int cin, int h, int wd,     \
                                  int cout, int kh, int kw, int stride, int ph, int pw, int pad_mode, int ho,   \
                                  int wo, PYSR_EPILOGUE_PARAMS) {                                              \
        conv2d_depthwise<T>(x, w, out, PYSR_EPILOGUE_MAKE, batch, cin, h, wd, cout, kh, kw, stride, ph, pw,     \
                            pad_mode, ho, wo);                                                                  \
    }

PYSR_FOR_EACH_TYPE(PYSR_CONV2D_DEPTHWISE)
