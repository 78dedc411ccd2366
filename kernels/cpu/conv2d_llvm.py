"""Two code-generation helpers the conv2d kernels need from LLVM, as numba intrinsics.

`wide_vectors()` marks the function being lowered with "prefer-vector-width"="512". LLVM's Ice Lake / Skylake
tuning prefers 256-bit vectors, so without it every vectorised loop runs on ymm registers: half the FMA
width of the machine (measured: the 4×64 GEMM micro-kernel goes from ≈ 55 to ≈ 100 GFLOP/s on one core).
Call it at the top of every njit function (and every prange body, which numba outlines into its own
function) whose loops should use zmm. It only changes how this one function is vectorised.

`stack_f32_<n>()` returns a float32 array of n elements in the calling function's stack frame (one
`alloca` in its entry block). LLVM knows such a buffer cannot alias any argument array, so loops that
store only into it need no runtime alias checks (numba cannot mark arrays noalias, and loops storing into
heap scratch next to loads from other arrays are often left scalar: "too many memory checks needed");
and once a loop over it is fully unrolled, SROA keeps it in registers — that is how the GEMM micro-kernel's
4×64 accumulator block lives in 16 zmm registers for the whole reduction. Keep n small (≤ a few KiB).
"""

from __future__ import annotations

from llvmlite import ir
from numba import carray, njit, types
from numba.core import cgutils
from numba.extending import intrinsic


@intrinsic
def wide_vectors(typingctx):
    sig = types.none()

    def codegen(context, builder, signature, args):
        # llvmlite only accepts a fixed list of attribute names, so the string attribute is added to the
        # underlying set directly; LLVM parses `"key"="value"` function attributes natively.
        set.add(builder.function.attributes, '"prefer-vector-width"="512"')
        return context.get_dummy_value()

    return sig, codegen


def _make_stack(n: int):
    @intrinsic
    def _ptr(typingctx):
        sig = types.CPointer(types.float32)()

        def codegen(context, builder, signature, args):
            slot = cgutils.alloca_once(builder, ir.ArrayType(ir.FloatType(), n))
            slot.align = 64
            return builder.bitcast(slot, ir.FloatType().as_pointer())

        return sig, codegen

    @njit(inline="always")
    def stack():
        return carray(_ptr(), (n,))

    return stack


stack_f32_256 = _make_stack(256)      # one 4×64 accumulator block
stack_f32_320 = _make_stack(320)      # one padded input row segment as 4 phases of ≤ 80 (4·64 + 2 values)
stack_f32_1024 = _make_stack(1024)    # 4 output rows of ≤ 256 (a Winograd tile block, a gemm block)
stack_f32_2304 = _make_stack(2304)    # 36 × 64 Winograd intermediate (one channel of a tile block)
