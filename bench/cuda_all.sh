#!/usr/bin/env bash
# Every GPU run the cuda backend still owes (docs/cuda.md), as ONE script for a machine with an NVIDIA GPU, CuPy,
# PyTorch and nvcc (python3 with numpy, numba, safetensors, pillow, pytest): the compile test, the kernel and model
# tests, then the two benchmarks (which append to bench/RESULTS.md's CUDA section). Logs and the updated RESULTS.md
# go to $OUT (default bench/cuda_out). About 10 minutes on an H200; each stage has its own time limit.
#
#     bash bench/cuda_all.sh                 # everything
#     STAGES="tests" bash bench/cuda_all.sh  # some of: compile tests conv models native
# (native: libpysr built by nvcc with -DPYSR_CUDA=ON, tests/test_native_cuda.py on the GPU through the C API; cmake too)
#
# pysr runs from this tree without being installed: pysr.kernels and pysr.weights are kernels/ and weights/
# (pyproject.toml's package mapping), so when `import pysr.kernels` fails the tree is staged in a temporary folder with
# those two links, and everything runs from there.
set -uo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
OUT="${OUT:-$ROOT/bench/cuda_out}"
STAGES="${STAGES:-compile tests conv models native}"
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
cd "$ROOT"

if ! python3 -c "import pysr.kernels.cpu, pysr.weights" 2>/dev/null; then
    STAGE="$(mktemp -d)"
    cp -r pysr tests bench pyproject.toml "$STAGE"/
    ln -s "$ROOT/kernels" "$STAGE/pysr/kernels"
    ln -s "$ROOT/weights" "$STAGE/pysr/weights"
    cd "$STAGE"
fi
echo "running in $(pwd), results to $OUT"
{ nvidia-smi; nvcc --version; python3 -c "import cupy, torch; print('cupy', cupy.__version__, 'torch', torch.__version__)"; } \
    2>&1 | tee "$OUT/machine.txt"

status=0
run() {   # run NAME SECONDS command...: one stage, its log in $OUT/NAME.log
    local name=$1 limit=$2
    shift 2
    echo "=== $name (limit ${limit}s): $*"
    timeout --signal=INT "$limit" "$@" 2>&1 | tee "$OUT/$name.log"
    local rc=${PIPESTATUS[0]}
    echo "=== $name exit $rc"
    [ "$rc" -eq 0 ] || status=1
}

for stage in $STAGES; do
    case $stage in
    compile) run compile 180 python3 -m pytest -q -p no:cacheprovider tests/test_cuda_compile.py ;;
    tests) run tests 400 python3 -m pytest -q -p no:cacheprovider -rfE --maxfail=100 \
        tests/test_cuda_backend.py "tests/test_ops.py::test_kernel_matches_reference" -k "cuda and not host" ;;
    conv) run conv 200 python3 bench/cuda_conv.py --repeat 15 --calls 10 --write ;;
    models) run models 300 python3 bench/cuda_models.py --precisions fp16 tf32 fp32 --frames 30 --repeat 10 --write ;;
    native) PYSR_TEST_CUDA_ARCH=90 run native 500 python3 -m pytest -q -s -p no:cacheprovider -rfE \
        tests/test_native_cuda.py ;;
    *) echo "unknown stage $stage"; status=1 ;;
    esac
done
cp bench/RESULTS.md "$OUT/RESULTS.md"
exit $status
