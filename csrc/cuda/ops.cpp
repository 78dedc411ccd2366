// Every op but conv2d on the device (conv.cpp has conv2d): one function per op, mirroring
// pysr/backends/_cuda_ops.py — what the kernel needs is prepared once (folded parameters, colour matrices) and the
// step launches kernels/cuda/<op>.cu with the argument list of that file and of ENTRY_POINTS. Attributes were
// checked by the op's parse (csrc/ops) when the model was read.
#include <cmath>
#include <tuple>
#include <type_traits>

#include "../ops/colour_affine.hpp"
#include "../ops/separable.hpp"
#include "executor.hpp"
#include "launch.hpp"

namespace pysr::cuda {

namespace {

using Keep = std::vector<std::shared_ptr<Buffer>>;

template <class T> const T *in_(const void *const *in, int k) { return static_cast<const T *>(in[k]); }
template <class T> T *out_(void *const *out, int k) { return static_cast<T *>(out[k]); }

// M (3×3) then o of out = M·in + o in float64, as csrc/ops/rgb_to_ycbcr.cpp and ycbcr_to_rgb.cpp build them.
std::vector<double> colour_coeffs(const Attrs &a, bool inverse) {
    double m[3][3], o[3], r[3][3];
    colour_matrix(a.bt709, a.full_range, m, o);
    if (inverse) {
        double det = m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1]) - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0]) +
                     m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0]);
        for (int i = 0; i < 3; ++i)
            for (int j = 0; j < 3; ++j) {
                int r0 = (j + 1) % 3, r1 = (j + 2) % 3, c0 = (i + 1) % 3, c1 = (i + 2) % 3;
                r[i][j] = (m[r0][c0] * m[r1][c1] - m[r0][c1] * m[r1][c0]) / det;
            }
        double oi[3];
        for (int i = 0; i < 3; ++i) oi[i] = -(r[i][0] * o[0] + r[i][1] * o[1] + r[i][2] * o[2]);
        std::copy(&r[0][0], &r[0][0] + 9, &m[0][0]);
        std::copy(oi, oi + 3, o);
    }
    std::vector<double> c(&m[0][0], &m[0][0] + 9);
    c.insert(c.end(), o, o + 3);
    return c;
}

template <class T>
StepFn compile_typed(Context &ctx, const Node &node, const Graph &g, const std::vector<Shape> &in,
                     const std::vector<Shape> &out, Keep &keep) {
    Stream &st = ctx.stream;
    const Attrs &a = node.attrs;
    const std::string &op = node.op_name;
    const int64_t total = numel(in[0]);
    const int n = i32(in[0][0], "the batch"), c = i32(in[0][1], "channels"), h = i32(in[0][2], "the height"),
              w = i32(in[0][3], "the width");
    const int64_t plane = int64_t(h) * w;
    if (op == "activation") {
        std::shared_ptr<Buffer> slope = a.activation == Act::Prelu ? ctx.tensor(g, g.tensor(node, "slope"))
                                                                   : ctx.upload({0.0f});
        keep.push_back(slope);
        const int kind = int(a.activation);
        const float alpha = float(a.alpha), lo = float(a.lo), hi = float(a.hi);
        const float *sp = static_cast<const float *>(slope->get());
        return [=, &st](const void *const *x, void *const *y) {
            launch_flat(st, K<T>::activation, total, in_<T>(x, 0), out_<T>(y, 0), total, plane, c, kind, alpha, sp,
                        lo, hi);
        };
    }
    if (op == "add") {
        const float scale = float(a.scale);
        return [=, &st](const void *const *x, void *const *y) {
            launch_flat(st, K<T>::add, total, in_<T>(x, 0), in_<T>(x, 1), out_<T>(y, 0), total, scale);
        };
    }
    if (op == "mul")
        return [=, &st](const void *const *x, void *const *y) {
            launch_flat(st, K<T>::mul, total, in_<T>(x, 0), in_<T>(x, 1), out_<T>(y, 0), total);
        };
    if (op == "affine") {
        AttrReader r("affine", file_attrs(node));
        const float scale = float(a.scale), shift = float(r.number("shift", 0.0));
        return [=, &st](const void *const *x, void *const *y) {
            launch_flat(st, K<T>::affine, total, in_<T>(x, 0), out_<T>(y, 0), total, scale, shift);
        };
    }
    if (op == "batch_norm") {
        AttrReader r("batch_norm", file_attrs(node));
        const double eps = r.number("eps", 1e-5);
        const Tensor &wt = g.tensor(node, "weight"), &b = g.tensor(node, "bias"), &m = g.tensor(node, "mean"),
                     &v = g.tensor(node, "var");
        std::vector<float> scale, shift;  // folded in float64 as _cuda_ops.py and csrc/ops/batch_norm.cpp
        for (size_t k = 0; k < size_t(c); ++k) {
            double s = double(wt.data[k]) / std::sqrt(double(v.data[k]) + eps);
            scale.push_back(float(s));
            shift.push_back(float(double(b.data[k]) - double(m.data[k]) * s));
        }
        keep.push_back(ctx.upload(scale));
        keep.push_back(ctx.upload(shift));
        const float *sc = static_cast<const float *>(keep[keep.size() - 2]->get());
        const float *sh = static_cast<const float *>(keep.back()->get());
        return [=, &st](const void *const *x, void *const *y) {
            launch_flat(st, K<T>::batch_norm, total, in_<T>(x, 0), out_<T>(y, 0), total, plane, c, sc, sh);
        };
    }
    if (op == "pixel_shuffle" || op == "space_to_depth") {
        const int r = a.ps_scale, tf = a.ps_order == PsOrder::Tf;
        if (op == "pixel_shuffle") {
            const int c_out = i32(out[0][1], "channels");
            const int64_t items = numel(out[0]);
            return [=, &st](const void *const *x, void *const *y) {
                launch_flat(st, K<T>::pixel_shuffle, items, in_<T>(x, 0), out_<T>(y, 0), n, c_out, h, w, r, tf);
            };
        }
        return [=, &st](const void *const *x, void *const *y) {
            launch_flat(st, K<T>::space_to_depth, total, in_<T>(x, 0), out_<T>(y, 0), n, c, h, w, r, tf);
        };
    }
    if (op == "channel_shuffle") {
        const int groups = a.groups;
        return [=, &st](const void *const *x, void *const *y) {
            launch_flat(st, K<T>::channel_shuffle, total, in_<T>(x, 0), out_<T>(y, 0), n, c, plane, groups);
        };
    }
    if (op == "concat" || op == "split") {
        const bool cat = op == "concat";
        const std::vector<Shape> &parts = cat ? in : out;
        const int whole = i32(cat ? out[0][1] : c, "channels");
        std::vector<int> channels, offsets;
        int64_t off = 0;
        for (auto &s : parts) {
            channels.push_back(i32(s[1], "channels"));
            offsets.push_back(i32(off, "a channel offset"));
            off += s[1];
        }
        return [=, &st](const void *const *x, void *const *y) {
            for (size_t k = 0; k < channels.size(); ++k) {
                int64_t items = int64_t(n) * channels[k] * plane;
                if (cat)
                    launch_flat(st, K<T>::concat, items, in_<T>(x, int(k)), out_<T>(y, 0), n, channels[k], plane, whole,
                                offsets[k]);
                else
                    launch_flat(st, K<T>::split, items, in_<T>(x, 0), out_<T>(y, int(k)), n, channels[k], plane, whole,
                                offsets[k]);
            }
        };
    }
    if (op == "pad") {
        AttrReader r("pad", file_attrs(node));
        const float value = float(r.number("value", 0.0));
        const int top = i32(a.sizes[0], "a pad"), left = i32(a.sizes[2], "a pad"), mode = int(a.pad_mode);
        const int ho = i32(out[0][2], "the height"), wo = i32(out[0][3], "the width");
        const int64_t planes = int64_t(n) * c, items = numel(out[0]);
        return [=, &st](const void *const *x, void *const *y) {
            launch_flat(st, K<T>::pad, items, in_<T>(x, 0), out_<T>(y, 0), planes, h, w, top, left, ho, wo, mode,
                        value);
        };
    }
    if (op == "pool2d") {
        AttrReader r("pool2d", file_attrs(node));
        const int is_max = r.choice("mode", nullptr, {"max", "avg"}) == "max";
        const int64_t planes = int64_t(n) * c, items = numel(out[0]);
        return [=, &st](const void *const *x, void *const *y) {
            launch_flat(st, K<T>::pool2d, items, in_<T>(x, 0), out_<T>(y, 0), planes, h, w, is_max);
        };
    }
    if (op == "warp") {
        // as kernels/cpu/warp.py and _cuda_ops.py: source = (pos + disp)·k + shift
        const bool ac = a.align_corners;
        const float kx = float(ac || w == 1 ? 1.0 : w / (w - 1.0)), ky = float(ac || h == 1 ? 1.0 : h / (h - 1.0));
        const float shift = ac ? 0.0f : -0.5f, fs = float(a.scale);
        const int64_t items = int64_t(n) * plane;
        return [=, &st](const void *const *x, void *const *y) {
            launch_flat(st, K<T>::warp, items, in_<T>(x, 0), in_<T>(x, 1), out_<T>(y, 0), n, c, h, w, fs, kx, ky, shift);
        };
    }
    if (op == "rgb_to_ycbcr" || op == "ycbcr_to_rgb") {
        const bool fwd = op == "rgb_to_ycbcr";
        const std::vector<double> m = colour_coeffs(a, !fwd);
        const int k = i32(out[0][1], "channels");
        const int64_t items = int64_t(n) * plane;
        return [=, &st](const void *const *x, void *const *y) {
            if (fwd)
                launch_flat(st, K<T>::rgb_to_ycbcr, items, in_<T>(x, 0), out_<T>(y, 0), n, plane, k, m[0], m[1], m[2],
                            m[3], m[4], m[5], m[6], m[7], m[8], m[9], m[10], m[11]);
            else
                launch_flat(st, K<T>::ycbcr_to_rgb, items, in_<T>(x, 0), out_<T>(y, 0), n, plane, m[0], m[1], m[2],
                            m[3], m[4], m[5], m[6], m[7], m[8], m[9], m[10], m[11]);
        };
    }
    if (op == "conv2d") return compile_conv2d(ctx, node, g, in, out, keep);
    // the resizes: separable.cuh through the op's own tap tables (csrc/ops/<op>.cpp, the CPU's), uploaded once
    // per plan, as _cuda_ops.py `_separable` does with pysr/ops/<op>.py `tables`
    using Tables = AxisTaps (*)(const Attrs &, const Shape &, const Shape &);
    using Kernel = std::remove_const_t<decltype(K<T>::resize_bilinear)>;
    const std::tuple<const char *, Tables, Kernel> separable[] = {
        {"resize_bilinear", resize_bilinear_tables, K<T>::resize_bilinear},
        {"resize_bicubic_torch", resize_bicubic_torch_tables, K<T>::resize_bicubic_torch},
        {"resize_bicubic_matlab", resize_bicubic_matlab_tables, K<T>::resize_bicubic_matlab},
        {"upsample_bicubic_tecogan", upsample_bicubic_tecogan_tables, K<T>::upsample_bicubic_tecogan}};
    for (auto &[name, tables, kernel] : separable) {
        if (op != name) continue;
        const AxisTaps t = tables(a, in[0], out[0]);
        const int ho = i32(out[0][2], "the height"), wo = i32(out[0][3], "the width"), ph = t.h.p, pw = t.w.p;
        keep.push_back(ctx.upload(t.h.idx.data(), t.h.idx.size() * sizeof(int32_t)));
        keep.push_back(ctx.upload(t.h.w));
        keep.push_back(ctx.upload(t.w.idx.data(), t.w.idx.size() * sizeof(int32_t)));
        keep.push_back(ctx.upload(t.w.w));
        const int *ih = static_cast<const int *>(keep[keep.size() - 4]->get());
        const float *wh = static_cast<const float *>(keep[keep.size() - 3]->get());
        const int *iw = static_cast<const int *>(keep[keep.size() - 2]->get());
        const float *ww = static_cast<const float *>(keep.back()->get());
        const int64_t planes = int64_t(n) * c, items = numel(out[0]);
        const Kernel k = kernel;
        return [=, &st](const void *const *x, void *const *y) {
            launch_flat(st, k, items, in_<T>(x, 0), out_<T>(y, 0), planes, h, w, ho, wo, ih, wh, ph, iw, ww, pw);
        };
    }
    return {};
}

}  // namespace

StepFn compile_node(Context &ctx, const Node &n, const Graph &g, const std::vector<Shape> &in,
                    const std::vector<Shape> &out, Keep &keep) {
    switch (ctx.storage) {
        case Storage::F32: return compile_typed<float>(ctx, n, g, in, out, keep);
        case Storage::F16: return compile_typed<half_t>(ctx, n, g, in, out, keep);
        case Storage::BF16: return compile_typed<bf16_t>(ctx, n, g, in, out, keep);
    }
    return {};
}

}  // namespace pysr::cuda
