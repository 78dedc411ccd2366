// The fused conv2d epilogue, shared by every conv kernel (conv2d.cu, conv2d_depthwise.cu, conv2d_mma.cu).
//
// Follows pysr/ops/conv2d.py, in the spec's order, on one finished accumulator (the raw convolution sum of output
// channel co at raw position (oy, ox) of image n, no bias yet):
//   + bias[co] -> activation (alpha, or slope[co] for prelu) -> pixel shuffle (the value goes straight to its
//   shuffled place) -> residual + residual_scale·y -> clamp [lo, hi] -> store as T, or as uint8
//   clip(rint(v·255), 0, 255) when out_u8 (a network whose last conv writes the 8-bit frame directly).
// The pixel shuffle (pysr/ops/pixel_shuffle.py) with q = i·r + j the phase and C the final channel count: raw channel
// co = c·r² + q in the pytorch order, co = q·C + c in the tf order (ps_tf = 1); the value lands at
// out[n, c, oy·r + i, ox·r + j]. r = 1 means no shuffle. (The order is a flag: decoded from a pair of channel
// strides it is ambiguous when C = 1, where the tf strides are (1, 1).)
// The residual is read at the final (shuffled) index by the thread that writes it, so a residual buffer that is
// the output buffer itself is also correct.
//
// Kernels take the epilogue as the flat arguments PYSR_EPILOGUE_PARAMS (the host passes them in this order:
// pysr/backends/_cuda_conv.py `epilogue_args`) and build an Epilogue with PYSR_EPILOGUE_MAKE.
#pragma once

#include "common.cuh"

struct Epilogue {
    const float *bias;   // (C_out,) zeros when the conv has none
    const float *slope;  // (C_out,) prelu slopes (any array otherwise)
    const void *res;     // final-shape residual of the storage type T (any pointer when has_res = 0)
    int act;
    float alpha;
    int r, tf;
    int has_res;
    float res_scale;
    int has_clamp;
    float lo, hi;
    int oc, oh, ow;      // final output shape (after the shuffle)
    int out_u8;
};

#define PYSR_EPILOGUE_PARAMS                                                                                     \
    const float *bias, const float *slope, const void *res, int act, float alpha, int ps_r, int ps_tf, \
        int has_res, float res_scale, int has_clamp, float lo, float hi, int out_c, int out_h, int out_w, int out_u8

#define PYSR_EPILOGUE_MAKE                                                                                        \
    Epilogue { bias, slope, res, act, alpha, ps_r, ps_tf, has_res, res_scale, has_clamp, lo, hi, out_c,    \
               out_h, out_w, out_u8 }

template <class T>
__device__ __forceinline__ void epilogue_store(const Epilogue &e, void *out, int n, int co, int oy, int ox,
                                               float acc) {
    float v = acc + e.bias[co];
    v = activate(e.act, v, e.act == PYSR_ACT_PRELU ? e.slope[co] : e.alpha, 0.0f, 0.0f);
    int c = co;
    if (e.r > 1) {
        int q;
        if (e.tf) {
            q = c / e.oc;
            c = c % e.oc;
        } else {
            q = c % (e.r * e.r);
            c = c / (e.r * e.r);
        }
        oy = oy * e.r + q / e.r;
        ox = ox * e.r + q % e.r;
    }
    long long o = (((long long)n * e.oc + c) * e.oh + oy) * e.ow + ox;
    if (e.has_res) v = to_f32(((const T *)e.res)[o]) + e.res_scale * v;
    if (e.has_clamp) v = fminf(fmaxf(v, e.lo), e.hi);
    if (e.out_u8)
        ((unsigned char *)out)[o] = unit_to_u8(v);
    else
        ((T *)out)[o] = from_f32<T>(v);
}
