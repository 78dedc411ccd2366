// Frame boundary conversions on the device (not ops: the runtime calls them on the way into and out of a plan), the
// same arithmetic as kernels/cpu/frames.py so a frame upscaled on the GPU rounds exactly as one upscaled on the CPU:
//   rgb_u8_to_planar   H×W×3 uint8 (rows `stride` bytes apart) -> 3×H×W T,  v / 255 (a true float32 division)
//   planar_to_rgb_u8   3×H×W T -> H×W×3 uint8,  clip(rint(v·255), 0, 255), NaN -> 0 (unit_to_u8, common.cuh)
//   y_u8_to_plane / plane_to_y_u8   the same for one plane (Y extraction: an 8-bit luma plane straight to a Y model)
// Only 8-bit data crosses PCIe; the float planes exist on the device only.
//
// Work split: one thread per pixel, grid-stride, x fastest (the interleaved bytes of a warp are 96 consecutive
// bytes). Memory traffic: 3 bytes and 3 T per pixel, once each.
//
// Status: compiles with nvcc (sm_90) and NVRTC; runs correctly in a host build on the CPU (tests/test_cuda_backend.py);
// not yet run on a GPU (docs/cuda.md lists the owed runs).

#include "common.cuh"

#define PYSR_FRAMES(SUFFIX, T)                                                                                  \
    extern "C" __global__ void rgb_u8_to_planar_##SUFFIX(const unsigned char *frame, T *out, int h, int w,      \
                                                         long long stride) {                                    \
        long long plane = (long long)h * w;                                                                     \
        PYSR_FOR_EACH_INDEX(p, plane) {                                                                         \
            long long y = p / w, x = p - y * w;                                                                 \
            const unsigned char *px = frame + y * stride + 3 * x;                                               \
            out[p] = from_f32<T>(u8_to_unit(px[0]));                                                            \
            out[plane + p] = from_f32<T>(u8_to_unit(px[1]));                                                    \
            out[2 * plane + p] = from_f32<T>(u8_to_unit(px[2]));                                                \
        }                                                                                                       \
    }                                                                                                           \
    extern "C" __global__ void planar_to_rgb_u8_##SUFFIX(const T *x, unsigned char *frame, int h, int w,        \
                                                         long long stride) {                                    \
        long long plane = (long long)h * w;                                                                     \
        PYSR_FOR_EACH_INDEX(p, plane) {                                                                         \
            long long yy = p / w, xx = p - yy * w;                                                              \
            unsigned char *px = frame + yy * stride + 3 * xx;                                                   \
            px[0] = unit_to_u8(to_f32(x[p]));                                                                   \
            px[1] = unit_to_u8(to_f32(x[plane + p]));                                                           \
            px[2] = unit_to_u8(to_f32(x[2 * plane + p]));                                                       \
        }                                                                                                       \
    }                                                                                                           \
    extern "C" __global__ void y_u8_to_plane_##SUFFIX(const unsigned char *src, T *out, int h, int w,           \
                                                      long long stride) {                                       \
        PYSR_FOR_EACH_INDEX(p, (long long)h * w) {                                                              \
            long long y = p / w;                                                                                \
            out[p] = from_f32<T>(u8_to_unit(src[y * stride + (p - y * w)]));                                    \
        }                                                                                                       \
    }                                                                                                           \
    extern "C" __global__ void plane_to_y_u8_##SUFFIX(const T *x, unsigned char *dst, int h, int w,             \
                                                      long long stride) {                                       \
        PYSR_FOR_EACH_INDEX(p, (long long)h * w) {                                                              \
            long long y = p / w;                                                                                \
            dst[y * stride + (p - y * w)] = unit_to_u8(to_f32(x[p]));                                           \
        }                                                                                                       \
    }

PYSR_FOR_EACH_TYPE(PYSR_FRAMES)
