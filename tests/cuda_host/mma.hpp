// The warp MMA of conv2d_mma.cu for a host build (include after shim.hpp with PYSR_HOST_COOP, and after
// conv2d_mma.cu): the 32 lanes of a warp meet at a warp barrier, and each lane's result is computed from all the
// lanes' A and B fragments with the PTX ISA's layouts for mma.sync m16n8k16 (f16, bf16) and m16n8k8 (tf32), which
// the kernel's header states. So a host run checks the kernel's tiling, gather, pipeline and epilogue; the layouts
// themselves only a GPU can confirm.
#pragma once

struct WarpX { unsigned a[32][4], b[32][2]; };
static WarpX warps[4];
static float frag(unsigned bits16, int kind) {
    if (kind == 0) { half_t h; h.bits = (unsigned short)bits16; return to_f32(h); }
    bf16_t b; b.bits = (unsigned short)bits16; return to_f32(b);
}
void pysr_host_mma(float *c, const unsigned *a, const unsigned *b, int kind) {
    int lane = threadIdx.x % 32, w = threadIdx.x / 32;
    for (int r = 0; r < 4; ++r) warps[w].a[lane][r] = a[r];
    for (int r = 0; r < 2; ++r) warps[w].b[lane][r] = b[r];
    emu::wait(emu::warp_bar[w]);
    float A[16][16] = {}, B[16][8] = {};
    int K = kind == 2 ? 8 : 16;
    for (int l = 0; l < 32; ++l) {
        int g = l / 4, t = l % 4;
        for (int r = 0; r < 4; ++r) {
            unsigned v = warps[w].a[l][r];
            if (kind == 2) A[g + 8 * (r & 1)][t + 4 * (r >> 1)] = __uint_as_float(v);
            else { int row = g + 8 * (r & 1), col = 2 * t + 8 * (r >> 1);
                   A[row][col] = frag(v & 0xffffu, kind); A[row][col + 1] = frag(v >> 16, kind); }
        }
        for (int r = 0; r < 2; ++r) {
            unsigned v = warps[w].b[l][r];
            if (kind == 2) B[t + 4 * r][g] = __uint_as_float(v);
            else { B[2 * t + 8 * r][g] = frag(v & 0xffffu, kind); B[2 * t + 8 * r + 1][g] = frag(v >> 16, kind); }
        }
    }
    int g = lane / 4, t = lane % 4;
    float d[4];
    for (int r = 0; r < 4; ++r) {
        int row = g + 8 * (r >> 1), col = 2 * t + (r & 1);
        float acc = c[r];
        for (int k = 0; k < K; ++k) acc += A[row][k] * B[k][col];
        d[r] = acc;
    }
    emu::wait(emu::warp_bar[w]);
    for (int r = 0; r < 4; ++r) c[r] = d[r];
}
