"""The `native` backend: libpysr's C++ kernels (csrc/ops/<op>.cpp) through the module pysr._native
(csrc/python/module.cpp), which `pip install .` builds from the same sources as the C library.

Each node is compiled by the library's own op definition (attribute parser, shape rule, prepare: packed
weights, per-thread scratch) and runs on numpy buffers in place with the GIL released. Ops without a
native kernel, and attributes the C++ op refuses, are unsupported (supports() is False, `why_not` says why).
Without the module (a build without a compiler) the backend is unavailable and says why.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np

from pysr.backends._host import HostMemory
from pysr.errors import UnsupportedError
from pysr.ops import OpType

try:
    from pysr import _native
except ImportError as err:
    _native = None
    _MISSING = (f"the module pysr._native is not importable ({err}); it is built by `pip install .` "
                "(scikit-build-core, needs CMake and a C++17 compiler)")


def stale_sources() -> list[str]:
    """Sources newer than the built module when pysr runs from a source tree (an editable install, which
    does not rebuild on import): an edit to csrc/ is not in the module until `pip install -e .` runs again."""
    root = Path(__file__).resolve().parents[2]
    if _native is None or not (root / "csrc").is_dir():
        return []
    built = Path(_native.__file__).stat().st_mtime
    stale = []
    for p in [root / "CMakeLists.txt", *(root / "csrc").rglob("*.[ch]pp"), *(root / "include").glob("*.h")]:
        try:
            if p.stat().st_mtime > built:
                stale.append(str(p.relative_to(root)))
        except OSError:  # removed meanwhile
            pass
    return stale


if stale := stale_sources():
    warnings.warn(f"pysr._native is older than {', '.join(stale[:3])}{' …' if len(stale) > 3 else ''}: the native "
                  "backend runs the old build; re-run `pip install --no-build-isolation -e .` (incremental) or "
                  "`pip install -e .`", stacklevel=1)


def _json_default(value):
    if isinstance(value, (np.generic, np.ndarray)):
        return value.tolist()
    raise TypeError(f"attribute value {value!r} is not JSON")


def attrs_json(attrs: dict) -> str:
    """The node's attributes as the JSON object a .pysr file would hold (tuples as lists)."""
    return json.dumps(attrs, default=_json_default)


def kernels() -> list[str]:
    """The ops with a native kernel in this build (empty without the module)."""
    return [op.value for op in OpType if _native is not None and _native.has_kernel(op.value)]


class NativeBackend(HostMemory):
    name = "native"

    def available(self):
        return (True, "") if _native is not None else (False, _MISSING)

    def why_not(self, op, attrs, in_shapes) -> str:
        """Why this backend cannot run the node; "" when it can."""
        try:
            text = attrs_json(attrs)
        except (TypeError, ValueError) as err:
            return f"{OpType(op).value}: {err}"
        return _native.check(OpType(op).value, text)

    def supports(self, op, attrs, in_shapes) -> bool:
        return not self.why_not(op, attrs, in_shapes)

    def compile_node(self, op, attrs, params, in_shapes, out_shapes):
        why = self.why_not(op, attrs, in_shapes)
        if why:
            raise UnsupportedError(f"native backend cannot run {OpType(op).value}: {why}")
        params = {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in params.items()}
        return _native.compile_node(OpType(op).value, attrs_json(attrs), params,
                                    [tuple(s) for s in in_shapes], [tuple(s) for s in out_shapes])

    def threads(self) -> int:
        return _native.threads()

    def set_threads(self, n: int) -> None:
        """Threads for the nodes compiled from now on (default os.cpu_count())."""
        _native.set_threads(n)


BACKEND = NativeBackend()
