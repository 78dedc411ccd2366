// conv2d on the device, mirroring pysr/backends/_cuda_conv.py: one of three kernels, its weights prepared once.
//   mma        groups = 1 on tensor cores (tf32 / fp16 / bf16 on compute capability 8.0+): conv2d_mma.cu, weights
//              packed as (Coutp × Kp) of the storage type (tf32: float32), BN = 16 / 32 / 64 output channels per
//              block (the smallest that holds Cout).
//   depthwise  one input channel per group (groups = Cin > 1) when its input window fits 48 KiB of shared memory:
//              conv2d_depthwise.cu.
//   direct     everything else, and every conv at fp32: conv2d.cu (float32 arithmetic, float32 weights).
// Each writes through the fused epilogue of conv2d_epilogue.cuh (bias, activation, pixel shuffle, residual, clamp).
#include "executor.hpp"
#include "launch.hpp"

namespace pysr::cuda {

namespace {

constexpr int kMmaBM = 128, kMmaBK = 16, kMmaThreads = 128;
constexpr unsigned kDwTileX = 32, kDwTileY = 8;
constexpr int64_t kSharedLimit = 48 * 1024;

int64_t depthwise_shared_bytes(int64_t kh, int64_t kw, int64_t stride) {
    return 4 * (((kDwTileY - 1) * stride + kh) * ((kDwTileX - 1) * stride + kw) + kh * kw);
}

int mma_tile(int64_t cout) { return cout <= 16 ? 16 : cout <= 32 ? 32 : 64; }

// conv2d_mma.cu's entry point for storage T at `precision` and tile BN (_cuda_kernels.py MMA_SUFFIX).
template <class T> auto mma_kernel(int bn);
template <> auto mma_kernel<float>(int bn) {
    return bn == 16 ? &conv2d_mma_tf32_n16 : bn == 32 ? &conv2d_mma_tf32_n32 : &conv2d_mma_tf32_n64;
}
template <> auto mma_kernel<half_t>(int bn) {
    return bn == 16 ? &conv2d_mma_f16_n16 : bn == 32 ? &conv2d_mma_f16_n32 : &conv2d_mma_f16_n64;
}
template <> auto mma_kernel<bf16_t>(int bn) {
    return bn == 16 ? &conv2d_mma_bf16_n16 : bn == 32 ? &conv2d_mma_bf16_n32 : &conv2d_mma_bf16_n64;
}

// PYSR_EPILOGUE_PARAMS after bias, slope and res (_cuda_conv.py epilogue_args).
struct Epi {
    int act;
    float alpha;
    int ps_r, ps_tf, has_res;
    float res_scale;
    int has_clamp;
    float lo, hi;
    int out_c, out_h, out_w, out_u8;
};

template <class T>
StepFn compile(Context &ctx, const Node &node, const Graph &g, const std::vector<Shape> &in,
               const std::vector<Shape> &out, std::vector<std::shared_ptr<Buffer>> &keep) {
    const Attrs &a = node.attrs;
    const Tensor &weight = g.tensor(node, "weight");
    const int64_t cout = weight.shape[0], cpg = weight.shape[1], kh = weight.shape[2], kw = weight.shape[3];
    const int n = i32(in[0][0], "the batch"), cin = i32(in[0][1], "channels"), h = i32(in[0][2], "the height"),
              w = i32(in[0][3], "the width");
    const int s = a.stride, ph = a.pad_h, pw = a.pad_w, mode = int(a.pad_mode), groups = a.groups;
    const int ho = i32((h + 2 * int64_t(ph) - kh) / s + 1, "the height"), wo = i32((w + 2 * int64_t(pw) - kw) / s + 1, "the width");
    const Tensor *bias_t = g.tensor_opt(node, "bias"), *slope_t = g.tensor_opt(node, "slope");
    auto bias = bias_t ? ctx.tensor(g, *bias_t) : ctx.upload(std::vector<float>(size_t(cout), 0.0f));
    auto slope = slope_t ? ctx.tensor(g, *slope_t) : ctx.upload(std::vector<float>(size_t(cout), 0.0f));
    keep.push_back(bias);
    keep.push_back(slope);
    const float *bp = static_cast<const float *>(bias->get()), *sp = static_cast<const float *>(slope->get());
    const int r = a.pixel_shuffle;
    const Epi e{int(a.activation), float(a.alpha), r > 1 ? r : 1, int(r > 1 && a.ps_order == PsOrder::Tf),
                int(a.residual), float(a.residual_scale), int(a.has_clamp), float(a.has_clamp ? a.lo : 0.0),
                float(a.has_clamp ? a.hi : 0.0), i32(out[0][1], "channels"), i32(out[0][2], "the height"),
                i32(out[0][3], "the width"), 0};
    const bool has_res = a.residual;
    const int ci = i32(cout, "channels"), khi = i32(kh, "a kernel size"), kwi = i32(kw, "a kernel size");
    Stream &st = ctx.stream;

    if (groups == 1 && ctx.tensor_cores) {
        const int bn = mma_tile(cout);
        const int64_t k = cpg * kh * kw, kp = (k + kMmaBK - 1) / kMmaBK * kMmaBK, coutp = (cout + bn - 1) / bn * bn;
        auto packed = ctx.weights->get(ctx.device, g, &weight, 100 * int(ctx.storage) + bn, [&] {
            std::vector<float> p(size_t(coutp * kp), 0.0f);
            for (int64_t o = 0; o < cout; ++o)
                std::copy(weight.data.begin() + o * k, weight.data.begin() + (o + 1) * k, p.begin() + o * kp);
            return p;
        }, ctx.storage, st);
        keep.push_back(packed);
        const T *wb = static_cast<const T *>(packed->get());
        const auto kernel = mma_kernel<T>(bn);
        const Dim grid{unsigned((int64_t(n) * ho * wo + kMmaBM - 1) / kMmaBM), unsigned(coutp / bn), 1};
        const int kt = i32(k, "the taps of a conv"), kpi = i32(kp, "the taps of a conv");
        return [=, &st](const void *const *x, void *const *y) {
            const void *res = has_res ? x[1] : y[0];
            launch(st, kernel, Run::Coop, grid, Dim{unsigned(kMmaThreads), 1, 1}, 0, x[0], wb, y[0], n, cin, h, w, ci,
                   khi, kwi, s, ph, pw, mode, ho, wo, kt, kpi, bp, sp, res, e.act, e.alpha, e.ps_r, e.ps_tf, e.has_res,
                   e.res_scale, e.has_clamp, e.lo, e.hi, e.out_c, e.out_h, e.out_w, e.out_u8);
        };
    }
    auto wdev = ctx.tensor(g, weight);  // float32 (Cout, Cin/groups, kh, kw): direct and depthwise alike
    keep.push_back(wdev);
    const float *wp = static_cast<const float *>(wdev->get());
    const int64_t shared = depthwise_shared_bytes(kh, kw, s);
    if (cpg == 1 && groups > 1 && shared <= kSharedLimit) {
        const int64_t tiles = (ho + kDwTileY - 1) / kDwTileY * ((wo + kDwTileX - 1) / kDwTileX);
        const Dim grid{unsigned(i32(n * cout * tiles, "the blocks of a conv")), 1, 1};
        return [=, &st](const void *const *x, void *const *y) {
            const void *res = has_res ? x[1] : y[0];
            launch(st, K<T>::conv2d_depthwise, Run::Barrier, grid, Dim{kDwTileX, kDwTileY, 1}, size_t(shared), x[0],
                   wp, y[0], n, cin, h, w, ci, khi, kwi, s, ph, pw, mode, ho, wo, bp, sp, res, e.act, e.alpha, e.ps_r,
                   e.ps_tf, e.has_res, e.res_scale, e.has_clamp, e.lo, e.hi, e.out_c, e.out_h, e.out_w, e.out_u8);
        };
    }
    const int64_t total = int64_t(n) * cout * ho * wo;
    return [=, &st](const void *const *x, void *const *y) {
        const void *res = has_res ? x[1] : y[0];
        launch_flat(st, K<T>::conv2d_direct, total, x[0], wp, y[0], n, cin, h, w, ci, khi, kwi, s, ph, pw, mode, groups,
                    ho, wo, bp, sp, res, e.act, e.alpha, e.ps_r, e.ps_tf, e.has_res, e.res_scale, e.has_clamp, e.lo,
                    e.hi, e.out_c, e.out_h, e.out_w, e.out_u8);
    };
}

}  // namespace

StepFn compile_conv2d(Context &ctx, const Node &n, const Graph &g, const std::vector<Shape> &in,
                      const std::vector<Shape> &out, std::vector<std::shared_ptr<Buffer>> &keep) {
    switch (ctx.storage) {
        case Storage::F32: return compile<float>(ctx, n, g, in, out, keep);
        case Storage::F16: return compile<half_t>(ctx, n, g, in, out, keep);
        case Storage::BF16: return compile<bf16_t>(ctx, n, g, in, out, keep);
    }
    return {};
}

}  // namespace pysr::cuda
