"""Backend registry. A backend is a module `pysr/backends/<name>.py` exposing `BACKEND`, an object
with the small contract below; the runtime never names one. A new backend is one new file.

Contract (duck-typed):
    name: str
    available() -> tuple[bool, str]                   can it run on this machine (and why not)
    supports(op, attrs, in_shapes) -> bool            can it run this node
    why_not(op, attrs, in_shapes) -> str              optional: the reason supports() is False
    compile_node(op, attrs, params, in_shapes, out_shapes) -> fn(inputs, outputs)
    empty(shape) -> array                             device buffer (float32, C-contiguous)
    to_device(np.ndarray) -> array;  to_host(array) -> np.ndarray
"""

from __future__ import annotations

import importlib
import pkgutil

from pysr.errors import BackendError

_LOADED: dict[str, object] = {}


def names() -> list[str]:
    """Every backend file present in this installation (available or not)."""
    return sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_"))


def get(name: str):
    """The backend called `name`; BackendError if there is none or it cannot run here."""
    if name not in _LOADED:
        if name not in names():
            raise BackendError(f"unknown backend {name!r}; this installation has {names()}")
        backend = importlib.import_module(f"pysr.backends.{name}").BACKEND
        ok, why = backend.available()
        if not ok:
            raise BackendError(f"backend {name!r} cannot run here: {why}")
        _LOADED[name] = backend
    return _LOADED[name]


def available() -> dict[str, str]:
    """name -> "ok" or the reason it cannot run."""
    out = {}
    for name in names():
        try:
            ok, why = importlib.import_module(f"pysr.backends.{name}").BACKEND.available()
        except ImportError as err:
            ok, why = False, str(err)
        out[name] = "ok" if ok else why
    return out
