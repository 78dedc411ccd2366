"""The `cuda` backend: the kernels of kernels/cuda/<op>.cu (installed as pysr/kernels/cuda), compiled at run time by
NVRTC through CuPy (`cupy.RawModule`, options -std=c++17 and the folder as include path: the same sources nvcc builds
into libpysr), one module per source file, compiled on first use per device and cached by CuPy on disk.

    backends.get("cuda")                    device 0 (or $PYSR_CUDA_DEVICE), fp32 (or $PYSR_CUDA_PRECISION)
    cuda.backend(device=1, precision="fp16")  another device / precision; cuda.devices() lists the GPUs
    cuda.compile_plan(graph, shapes, device=, precision=)   a runtime Plan on that backend

Precisions (per backend instance, so per plan / per model):
    fp32  float32 tensors, every conv on the float32 kernels (conv2d.cu direct, conv2d_depthwise.cu): the
          differential harness's float32 tolerances hold.
    tf32  float32 tensors; groups-1 convs on tensor cores with TF32 inputs (conv2d_mma.cu; compute capability ≥ 8.0).
    fp16, bf16  half / bfloat16 tensors between ops (bf16 held in uint16 arrays), float32 arithmetic in every
          kernel; groups-1 convs on tensor cores (fp32 accumulation). Copies in and out convert from / to float32.
Memory: a Plan allocates its slot buffers once per input size (pysr/runtime/plan.py) and reuses them run after run;
weights, tap tables and packed conv weights go to the device once, when a node is compiled. Kernels run on CuPy's
current stream. pysr/backends/_cuda_run.py adds device-resident runs, CUDA graphs and the 8-bit frame path.

Without CuPy, a driver or a GPU the backend is unavailable and says why (backends.get raises BackendError).
NOTE: written and compile-checked without a GPU; docs/cuda.md lists what has not run yet.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass

import numpy as np

from pysr.backends import _cuda_ops
from pysr.backends._cuda_kernels import ENTRY_POINTS, SOURCES, STORAGE, source_digest
from pysr.errors import BackendError, UnsupportedError
from pysr.ops import OpType

PRECISIONS = tuple(STORAGE)
DTYPES = {"f32": np.float32, "f16": np.float16, "bf16": np.uint16}   # bf16: the bit patterns
BLOCK = 256             # threads per block of the grid-stride kernels
MAX_BLOCKS = 1 << 20    # grid-stride kernels loop beyond this many blocks

_cp = None
_cp_error = ""


def _cupy():
    """The cupy module, imported on first use (None and a reason when it cannot be imported)."""
    global _cp, _cp_error
    if _cp is None and not _cp_error:
        try:
            import cupy
            _cp = cupy
        except Exception as err:  # noqa: BLE001 - ImportError, or a CuPy that finds no CUDA libraries
            _cp_error = (f"CuPy is not importable ({type(err).__name__}: {err}); install the wheel matching the "
                         "driver's CUDA version, e.g. `pip install cupy-cuda12x`")
    return _cp


@dataclass(frozen=True)
class Device:
    index: int
    name: str
    compute_capability: tuple[int, int]
    memory_bytes: int
    multiprocessors: int


def devices() -> list[Device]:
    """The CUDA devices this process sees (empty without CuPy, a driver or a GPU)."""
    cp = _cupy()
    if cp is None:
        return []
    try:
        count = cp.cuda.runtime.getDeviceCount()
    except Exception:  # noqa: BLE001 - cudaErrorNoDevice, cudaErrorInsufficientDriver, …
        return []
    out = []
    for i in range(count):
        p = cp.cuda.runtime.getDeviceProperties(i)
        name = p["name"].decode() if isinstance(p["name"], bytes) else str(p["name"])
        out.append(Device(i, name, (p["major"], p["minor"]), p["totalGlobalMem"], p["multiProcessorCount"]))
    return out


def _no_gpu_reason() -> str:
    cp = _cupy()
    if cp is None:
        return _cp_error
    try:
        n = cp.cuda.runtime.getDeviceCount()
    except Exception as err:  # noqa: BLE001
        return f"no usable CUDA driver or device ({type(err).__name__}: {err})"
    return "" if n > 0 else "no CUDA device is visible (CUDA_VISIBLE_DEVICES?)"


class CudaBackend:
    name = "cuda"

    def __init__(self, device: int = 0, precision: str = "fp32"):
        # A bad setting (from $PYSR_CUDA_PRECISION, say) makes the backend unavailable, with the reason, rather than
        # failing the import of the registry.
        self.problem = "" if precision in PRECISIONS else f"precision {precision!r} is not one of {list(PRECISIONS)}"
        self.device = int(device)
        self.precision = precision
        self.suffix = STORAGE.get(precision, "f32")
        self.dtype = DTYPES[self.suffix]
        self._modules: dict[str, object] = {}      # file stem -> cupy.RawModule
        self._functions: dict[str, object] = {}    # entry point -> compiled function
        self._lock = threading.Lock()
        self._info: Device | None = None

    def __repr__(self) -> str:
        return f"CudaBackend(device={self.device}, precision={self.precision!r})"

    # ---- the backend contract ----------------------------------------------------------------------------------

    def available(self):
        if self.problem:
            return False, self.problem
        why = _no_gpu_reason()
        if why:
            return False, why
        found = devices()
        if self.device >= len(found):
            return False, f"device {self.device} requested, {len(found)} present"
        return True, ""

    def why_not(self, op, attrs, in_shapes) -> str:
        return _cuda_ops.why_not(self, OpType(op).value, attrs, [tuple(s) for s in in_shapes])

    def supports(self, op, attrs, in_shapes) -> bool:
        return not self.why_not(op, attrs, in_shapes)

    def compile_node(self, op, attrs, params, in_shapes, out_shapes):
        op = OpType(op).value
        why = self.why_not(op, attrs, in_shapes)
        if why:
            raise UnsupportedError(f"cuda backend cannot run {op}: {why}")
        with self.cp.cuda.Device(self.device):
            return _cuda_ops.COMPILERS[op](self, attrs, {k: np.asarray(v) for k, v in params.items()},
                                           [tuple(s) for s in in_shapes], [tuple(s) for s in out_shapes])

    def empty(self, shape):
        with self.cp.cuda.Device(self.device):
            return self.cp.empty(shape, dtype=self.dtype)

    def to_device(self, array):
        """A C-contiguous device array of the storage type: numpy arrays are copied over (half converted by numpy
        first, bfloat16 converted on the device), device arrays of the right type pass through."""
        cp = self.cp
        with cp.cuda.Device(self.device):
            if isinstance(array, cp.ndarray):
                if array.dtype == self.dtype:
                    return cp.ascontiguousarray(array)
                return self.from_f32(cp.ascontiguousarray(array, dtype=cp.float32))
            host = np.ascontiguousarray(array, dtype=np.float16 if self.suffix == "f16" else np.float32)
            dev = cp.asarray(host)
            return dev if self.suffix != "bf16" else self.from_f32(dev)

    def to_host(self, array):
        """A float32 numpy array (synchronises with the current stream)."""
        with self.cp.cuda.Device(self.device):
            return self.cp.asnumpy(self.to_f32(array))

    # ---- helpers for _cuda_ops and _cuda_run --------------------------------------------------------------------

    @property
    def cp(self):
        cp = _cupy()
        if cp is None:
            raise BackendError(f"backend 'cuda' cannot run here: {_cp_error}")
        return cp

    @property
    def info(self) -> Device:
        if self._info is None:
            self._info = devices()[self.device]
        return self._info

    def tensor_cores(self) -> bool:
        """Whether groups-1 convs take conv2d_mma.cu: a tensor-core precision on compute capability 8.0+."""
        return self.precision != "fp32" and self.info.compute_capability >= (8, 0)

    def from_f32(self, x):
        """float32 device array -> storage type (a new array, or x itself for float32 storage)."""
        if self.suffix == "f32":
            return x
        out = self.cp.empty(x.shape, dtype=self.dtype)
        self.launch_flat("cast", f"cast_f32_to_{self.suffix}", x.size, [x, out, x.size])
        return out

    def to_f32(self, x):
        if x.dtype == np.float32:
            return x
        out = self.cp.empty(x.shape, dtype=np.float32)
        self.launch_flat("cast", f"cast_{self.suffix}_to_f32", x.size, [x, out, x.size])
        return out

    def upload(self, array, dtype=np.float32):
        """A host array (weights, tables) on this device as `dtype`, once."""
        with self.cp.cuda.Device(self.device):
            return self.cp.asarray(np.ascontiguousarray(array, dtype=dtype))

    def kernel(self, stem: str, name: str):
        """The compiled entry point `name` of kernels/cuda/<stem>.cu on this device (the file is compiled on first
        use; CuPy keeps the binary in its disk cache)."""
        fn = self._functions.get(name)
        if fn is not None:
            return fn
        if name not in ENTRY_POINTS.get(stem, {}):
            raise BackendError(f"kernels/cuda/{stem}.cu has no entry point {name!r} (pysr/backends/_cuda_kernels.py)")
        cp = self.cp
        with self._lock, cp.cuda.Device(self.device):
            module = self._modules.get(stem)
            if module is None:
                code = f"// pysr kernels/cuda {source_digest()}\n" + (SOURCES / f"{stem}.cu").read_text()
                module = self._modules[stem] = cp.RawModule(code=code, options=("-std=c++17", f"-I{SOURCES}"),
                                                            backend="nvrtc")
            try:
                fn = self._functions[name] = module.get_function(name)
            except cp.cuda.compiler.CompileException as err:
                raise BackendError(f"NVRTC could not compile kernels/cuda/{stem}.cu: {err}") from None
        return fn

    def launch(self, stem: str, name: str, grid, block, args, shared_mem: int = 0) -> None:
        """Launch with every argument converted to the type the kernel declares (ENTRY_POINTS signature)."""
        sig = ENTRY_POINTS[stem][name]
        if len(args) != len(sig):
            raise BackendError(f"{name}: {len(args)} arguments for a signature of {len(sig)} ({sig})")
        converted = []
        for i, (value, letter) in enumerate(zip(args, sig)):
            if letter == "P" and not self.is_device_array(value):
                raise BackendError(f"{name}: argument {i} must be a device array, got {type(value).__name__}")
            converted.append(value if letter == "P" else _scalar(value, letter, name, i))
        fn = self.kernel(stem, name)
        with self.cp.cuda.Device(self.device):
            fn(tuple(grid), tuple(block), tuple(converted), shared_mem=shared_mem)

    def is_device_array(self, value) -> bool:
        return isinstance(value, self.cp.ndarray)

    def launch_flat(self, stem: str, name: str, total: int, args, block: int = BLOCK) -> None:
        """A grid-stride kernel over `total` work items."""
        blocks = max(1, min(-(-int(total) // block), MAX_BLOCKS))
        self.launch(stem, name, (blocks, 1, 1), (block, 1, 1), args)


_INT_RANGE = {"i": (-(2**31), 2**31 - 1), "l": (-(2**63), 2**63 - 1)}
_SCALARS = {"i": np.int32, "l": np.int64, "f": np.float32, "d": np.float64}


def _scalar(value, letter: str, name: str, index: int):
    if letter in _INT_RANGE:
        lo, hi = _INT_RANGE[letter]
        if not lo <= int(value) <= hi:
            raise BackendError(f"{name}: argument {index} = {value} does not fit the kernel's {letter} type")
        return _SCALARS[letter](int(value))
    return _SCALARS[letter](float(value))


_BACKENDS: dict[tuple[int, str], CudaBackend] = {}
_BACKENDS_LOCK = threading.Lock()


def backend(device: int = 0, precision: str = "fp32") -> CudaBackend:
    """The backend of one device and precision (one per pair, so compiled modules are shared); BackendError if it
    cannot run here."""
    key = (int(device), precision)
    if precision not in PRECISIONS:
        raise BackendError(f"cuda precision {precision!r} is not one of {list(PRECISIONS)}")
    with _BACKENDS_LOCK:
        be = _BACKENDS.get(key)
        if be is None:
            be = _BACKENDS[key] = CudaBackend(*key)
    ok, why = be.available()
    if not ok:
        raise BackendError(f"backend 'cuda' (device {device}, {precision}) cannot run here: {why}")
    return be


def compile_plan(graph, input_shapes, device: int = 0, precision: str = "fp32", optimize_graph: bool = True):
    """A runtime Plan of `graph` on cuda.backend(device, precision)."""
    return plan_on(backend(device, precision), graph, input_shapes, optimize_graph)


def plan_on(be, graph, input_shapes, optimize_graph: bool = True):
    """A runtime Plan of `graph` on the backend object `be`.
    NOTE: the registry finds backends by name only (backends.get("cuda") is the default instance), so this is
    compile_graph (pysr/runtime/plan.py) for a given backend object: the same passes, node compilation and
    buffer plan; split / concat run as copies (channel views are a cpu-only optimisation there too)."""
    from pysr.graph.memory import plan_buffers
    from pysr.graph.passes import optimize
    from pysr.runtime.plan import Plan, Step

    g = optimize(graph) if optimize_graph else graph.canonical()
    shapes = g.infer_shapes(dict(input_shapes))
    steps = []
    for node in g.nodes:
        in_shapes = [shapes[v] for v in node.inputs]
        fn = be.compile_node(node.op, node.attrs, g.node_params(node), in_shapes, [shapes[v] for v in node.outputs])
        steps.append(Step(node.name, node.op, fn, tuple(node.inputs), tuple(node.outputs)))
    slot_of, sizes = plan_buffers(g, shapes, {})
    return Plan(be, g, shapes, tuple(steps), slot_of, tuple(sizes), ())


def _default() -> CudaBackend:
    device = os.environ.get("PYSR_CUDA_DEVICE", "0")
    be = CudaBackend(int(device) if device.isdigit() else 0, os.environ.get("PYSR_CUDA_PRECISION", "fp32"))
    if not device.isdigit():
        be.problem = f"PYSR_CUDA_DEVICE={device!r} is not a device number"
    return be


BACKEND = _default()
