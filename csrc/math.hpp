// Branch-free float32 activations that gcc vectorises (no libm call per element), shared by the
// activation op and the conv2d epilogue. tanh_f is the clamped rational approximation the numba backend
// uses (kernels/cpu/_math.py: x clamped to ±9, x·p(x²)/q(x²), ≤ 5 ulp; tanh(x) = x below 4e-4);
// sigmoid_f(x) = 0.5 + 0.5·tanh_f(x/2), a few ulps of 1 in absolute terms.
#pragma once

#include <cmath>

#include "graph.hpp"

namespace pysr {

// x < y ? x : y and its mirror compile to vminps / vmaxps (std::fmin needs NaN care and stays scalar).
static inline __attribute__((always_inline)) float min_f(float x, float y) { return x < y ? x : y; }
static inline __attribute__((always_inline)) float max_f(float x, float y) { return x > y ? x : y; }

static inline __attribute__((always_inline)) float tanh_f(float x) {
    float c = min_f(max_f(x, -9.0f), 9.0f);
    float x2 = c * c;
    float p = -2.76076847742355e-16f;
    p = p * x2 + 2.00018790482477e-13f;
    p = p * x2 + -8.60467152213735e-11f;
    p = p * x2 + 5.12229709037114e-08f;
    p = p * x2 + 1.48572235717979e-05f;
    p = p * x2 + 6.37261928875436e-04f;
    p = p * x2 + 4.89352455891786e-03f;
    float q = 1.19825839466702e-06f;
    q = q * x2 + 1.18534705686654e-04f;
    q = q * x2 + 2.26843463243900e-03f;
    q = q * x2 + 4.89352518554385e-03f;
    float r = min_f(max_f(c * p / q, -1.0f), 1.0f);
    return std::fabs(x) < 0.0004f ? x : r;
}

static inline __attribute__((always_inline)) float sigmoid_f(float x) { return 0.5f + 0.5f * tanh_f(0.5f * x); }

// buf[i] = act(buf[i] + b) for i < n; `a` is alpha (leaky, scaled tanh) or the channel's prelu slope.
// Clamp is not an epilogue activation (the conv has its own clamp stage).
static inline __attribute__((always_inline)) void activate_row(float *__restrict buf, int n, Act kind, float b, float a) {
    switch (kind) {
        case Act::None:
            for (int i = 0; i < n; ++i) buf[i] = buf[i] + b;
            break;
        case Act::Relu:
            for (int i = 0; i < n; ++i) buf[i] = max_f(buf[i] + b, 0.0f);
            break;
        case Act::LeakyRelu:
        case Act::Prelu:
            for (int i = 0; i < n; ++i) {
                float v = buf[i] + b;
                buf[i] = v >= 0.0f ? v : a * v;
            }
            break;
        case Act::Tanh:
            for (int i = 0; i < n; ++i) buf[i] = tanh_f(buf[i] + b);
            break;
        case Act::Sigmoid:
            for (int i = 0; i < n; ++i) buf[i] = sigmoid_f(buf[i] + b);
            break;
        case Act::ScaledTanh:
            for (int i = 0; i < n; ++i) buf[i] = a * tanh_f(buf[i] + b);
            break;
        case Act::Clamp:
            break;
    }
}

}  // namespace pysr
