"""resize_bicubic_matlab cases: the benchmark shrink factors 1/2, 1/3, 1/4 (antialiased, wide mirrored
kernels), enlarging, fractional factors with ceil'd output sizes, and inputs smaller than the kernel (1×1,
13×3) where the symmetric mirror wraps several times. No PyTorch counterpart: the spec is checked against
MATLAB-made LR images in tests/test_matlab_resize.py."""

from op_cases import Case

SHAPES_SCALES = [
    ((2, 3, 12, 12), 1 / 2),
    ((1, 5, 13, 3), 1 / 3),
    ((1, 3, 16, 20), 1 / 4),
    ((2, 3, 7, 7), 2),
    ((1, 5, 13, 3), 3),
    ((1, 1, 1, 1), 3),
    ((1, 1, 1, 1), 1 / 4),
    ((1, 2, 9, 11), 1.5),
    ((1, 3, 10, 17), 0.7),
    ((1, 1, 5, 6), 1),
]

CASES = [
    Case(attrs={"scale": s}, inputs=[shape], id=f"{'x'.join(map(str, shape))}-s{s:.3g}")
    for shape, s in SHAPES_SCALES
]
