"""Read PyTorch checkpoints (.pth/.pt) into numpy arrays without importing torch, refusing anything but tensors.

Both layouts `torch.save` writes:
- zip (torch >= 1.6): `<folder>/data.pkl`, raw storages `<folder>/data/<key>`, optional `<folder>/byteorder`;
  persistent ids ('storage', storage_type, key, location, numel).
- legacy (torch < 1.6, or `_use_new_zipfile_serialization=False`): consecutive pickles (magic number, protocol
  version, sys_info, the object with persistent ids ('storage', storage_type, root_key, location, numel,
  view_metadata), the list of storage keys), then per key an int64 element count and the raw bytes, both
  little-endian whatever machine wrote them.

Security: every pickle runs under `_RestrictedUnpickler`. Its `find_class` admits only the globals in
`_Loader.allowed` (collections.OrderedDict, torch's tensor/parameter rebuild functions, storage classes, dtypes,
torch.Size), each mapped to a stand-in defined here; any other global raises CheckpointError before it is called.
The stand-ins only record metadata in frozen objects; persistent ids, offsets, sizes and strides are checked
against their storage, and declared sizes against MAX_TOTAL_BYTES, before a byte of tensor data is read.

Tensors keep their dtype (float16/32/64, int8/16/32/64, uint8/16/32/64, bool, complex64/128).
NOTE: numpy has no bfloat16, so bfloat16 tensors come back widened (exactly) to float32.
Storage locations ('cuda:0', ...) are ignored. Every array returned is a C-contiguous copy of its own, so tensors
that shared a storage in the file are independent here.
"""

from __future__ import annotations

import io
import os
import pickle
import reprlib
import zipfile
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from math import prod

import numpy as np
from numpy.lib.stride_tricks import as_strided

from pysr.errors import CheckpointError

MAX_TOTAL_BYTES = 4 << 30     # declared storages, and materialised tensors, each at most this much in all
MAX_TENSORS = 10**6           # tensors (and distinct storages) one checkpoint may declare
MAX_PICKLE_BYTES = 256 << 20  # data.pkl holds metadata only; the tensor bytes live outside it
MAX_NDIM = 64
LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
LEGACY_PROTOCOL = 1001
# Where training code keeps the weights inside a bigger checkpoint, in order of preference (EMA weights first:
# they are the ones inference code uses when both are present).
WRAPPER_KEYS = ("state_dict", "params_ema", "params", "model", "model_state_dict", "net", "network",
                "generator", "netG", "net_g", "g_ema", "ema")

_STORAGE_DTYPES = {
    "FloatStorage": "float32", "HalfStorage": "float16", "DoubleStorage": "float64", "BFloat16Storage": "bfloat16",
    "LongStorage": "int64", "IntStorage": "int32", "ShortStorage": "int16", "CharStorage": "int8",
    "ByteStorage": "uint8", "BoolStorage": "bool", "ComplexFloatStorage": "complex64",
    "ComplexDoubleStorage": "complex128",
}
_DTYPE_NAMES = ("float16", "float32", "float64", "bfloat16", "int8", "int16", "int32", "int64",
                "uint8", "uint16", "uint32", "uint64", "bool", "complex64", "complex128")
# torch dtypes numpy cannot hold: named in the error instead of a generic "global not allowed"
_UNSUPPORTED_DTYPES = ("float8_e4m3fn", "float8_e5m2", "float8_e4m3fnuz", "float8_e5m2fnuz", "float8_e8m0fnu",
                       "float4_e2m1fn_x2", "complex32", "qint8", "quint8", "qint32", "quint4x2", "quint2x4",
                       "bits1x8", "bits2x4", "bits4x2", "bits8", "bits16")


class _BuildRefused(Exception):
    """Raised inside the unpickler; _unpickle turns it into a CheckpointError naming the file."""


def _no_setstate(self, state):
    # NOTE: frozen slotted dataclasses get a __setstate__ that writes fields past `frozen`, and the pickle BUILD
    # opcode calls it on any object on the stack: the stand-ins below define this one instead.
    raise _BuildRefused(f"the pickle tries to set the state of a {type(self).__name__.lstrip('_')} (BUILD opcode)")


@dataclass(frozen=True, slots=True)
class _Global:
    """An allowed function global: frozen and slotted, so a pickle's BUILD opcode cannot alter it."""
    __setstate__ = _no_setstate
    fn: Callable

    def __call__(self, *args):
        return self.fn(*args)


@dataclass(frozen=True, slots=True)
class _DType:
    """Stand-in for a torch dtype object (`torch.float32`) and for a storage class's element type."""
    __setstate__ = _no_setstate
    name: str

    @property
    def itemsize(self) -> int:
        return 2 if self.name == "bfloat16" else np.dtype(self.name).itemsize

    def file_dtype(self, byteorder: str) -> np.dtype:
        return np.dtype("uint16" if self.name == "bfloat16" else self.name).newbyteorder(byteorder)


@dataclass(frozen=True, slots=True)
class _StorageType:
    """Stand-in for `torch.FloatStorage` & co.; `torch.storage.UntypedStorage` counts bytes (dtype uint8)."""
    __setstate__ = _no_setstate
    name: str
    dtype: _DType
    untyped: bool = False


@dataclass(frozen=True, slots=True)
class _Storage:
    """A storage reference: `nbytes` bytes from byte `start` of root storage `key` (legacy views have start > 0)."""
    __setstate__ = _no_setstate
    key: str
    storage_type: _StorageType
    start: int
    nbytes: int


@dataclass(frozen=True, slots=True)
class _Tensor:
    """What a rebuild call describes; turned into an ndarray only once the storage bytes are at hand."""
    __setstate__ = _no_setstate
    storage: _Storage
    dtype: _DType
    offset: int
    size: tuple
    stride: tuple
    neg: bool = False
    conj: bool = False


def _is_int(x) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _text(x) -> str | None:
    """Python 2 era pickles may hold ascii bytes where torch now writes str."""
    if isinstance(x, str):
        return x
    if isinstance(x, bytes):
        try:
            return x.decode("ascii")
        except UnicodeDecodeError:
            return None
    return None


_REPR = reprlib.Repr()
_REPR.maxstring = _REPR.maxother = 80


def _short(x) -> str:
    """repr for error messages; bounded in depth and length, since `x` may be anything a pickle builds."""
    return _REPR.repr(x)


class _Loader:
    """The allowlist and the checks for one pickle; collects the storages it declares."""

    def __init__(self, where: str, legacy: bool):
        self.where = where
        self.legacy = legacy
        self.roots: dict[str, tuple[_StorageType, int]] = {}  # key -> (type, numel) as the pickle declares them
        self.storage_bytes = 0
        self.output_bytes = 0
        self.n_tensors = 0
        self.allowed = {
            ("collections", "OrderedDict"): OrderedDict,
            ("torch._utils", "_rebuild_tensor"): _Global(self.rebuild_tensor),
            ("torch._utils", "_rebuild_tensor_v2"): _Global(self.rebuild_tensor_v2),
            ("torch._utils", "_rebuild_tensor_v3"): _Global(self.rebuild_tensor_v3),
            ("torch._utils", "_rebuild_parameter"): _Global(self.rebuild_parameter),
            ("torch._utils", "_rebuild_parameter_with_state"): _Global(self.rebuild_parameter_with_state),
            ("torch", "Size"): _Global(self.torch_size),
            ("torch.storage", "UntypedStorage"): _StorageType("UntypedStorage", _DType("uint8"), untyped=True),
        }
        for cls, dtype in _STORAGE_DTYPES.items():
            self.allowed[("torch", cls)] = _StorageType(cls, _DType(dtype))
        for dtype in _DTYPE_NAMES:
            self.allowed[("torch", dtype)] = _DType(dtype)

    def fail(self, message: str, hint: str | None = None):
        raise CheckpointError(f"{self.where}: {message}", hint)

    # --- what the unpickler asks for -------------------------------------------------------------------------
    def find_class(self, module: str, name: str):
        target = self.allowed.get((module, name))
        if target is not None:
            return target
        hint = "a checkpoint may hold only tensors, OrderedDicts and plain values (numbers, strings, lists, dicts)"
        if module == "torch" and name in _UNSUPPORTED_DTYPES:
            self.fail(f"a tensor has dtype torch.{name}, which numpy cannot hold",
                      "convert it to float32 before saving")
        if module.startswith(("torch.nn", "__main__", "__torch__")) or module == "torch.jit":
            hint = "the file pickles a model object (or is TorchScript); save `model.state_dict()` instead"
        elif module.startswith("numpy"):
            hint = "numpy objects are refused; store plain Python numbers/lists in the checkpoint"
        self.fail(f"the pickle asks for the global {module}.{name}, which is not allowed (only "
                  "collections.OrderedDict, torch._utils tensor/parameter rebuilders, torch storage classes, "
                  "torch dtypes and torch.Size are)", hint)

    def persistent_load(self, pid):
        fields = "('storage', storage_type, key, location, numel" + (", view_metadata)" if self.legacy else ")")
        if isinstance(pid, tuple) and pid and _text(pid[0]) == "module":
            self.fail("the pickle holds a whole nn.Module (persistent id 'module')",
                      "save `model.state_dict()` instead")
        if not (isinstance(pid, tuple) and len(pid) == (6 if self.legacy else 5) and _text(pid[0]) == "storage"):
            self.fail(f"persistent id {_short(pid)} is not a storage reference; expected {fields}")
        stype, key, location, numel = pid[1], _text(pid[2]), _text(pid[3]), pid[4]
        if not isinstance(stype, _StorageType):
            self.fail(f"persistent id {_short(pid)}: storage type is {_short(stype)}, expected a torch storage class")
        if key is None or location is None:
            self.fail(f"persistent id {_short(pid)}: key and location must be strings")
        if not _is_int(numel) or numel < 0:
            self.fail(f"persistent id {_short(pid)}: numel {_short(numel)} is not a non-negative int")
        if key not in self.roots:
            if len(self.roots) >= MAX_TENSORS:
                self.fail(f"more than {MAX_TENSORS} storages")
            self.storage_bytes += numel * stype.dtype.itemsize
            if self.storage_bytes > MAX_TOTAL_BYTES:
                self.fail(f"storages declare {self.storage_bytes} bytes in all, over the limit of {MAX_TOTAL_BYTES}")
            self.roots[key] = (stype, numel)
        elif self.roots[key] != (stype, numel):
            old_type, old_numel = self.roots[key]
            self.fail(f"storage {key!r} is declared as {old_type.name}[{old_numel}] and again as {stype.name}[{numel}]")
        itemsize = stype.dtype.itemsize
        view = pid[5] if self.legacy else None
        if view is None:
            return _Storage(key, stype, 0, numel * itemsize)
        # legacy storage view: (view_key, offset, size) in elements of the root storage
        if not (isinstance(view, tuple) and len(view) == 3 and _is_int(view[1]) and _is_int(view[2])
                and min(view[1], view[2]) >= 0 and view[1] + view[2] <= numel):
            self.fail(f"storage {key!r}: view metadata {_short(view)} is not (view_key, offset, size) "
                      f"inside its {numel} elements")
        return _Storage(key, stype, view[1] * itemsize, view[2] * itemsize)

    # --- stand-ins for the allowed torch functions -----------------------------------------------------------
    def torch_size(self, dims=()):
        return self._dims(dims, "torch.Size")

    def rebuild_tensor(self, storage, storage_offset, size, stride):
        return self._tensor(storage, storage_offset, size, stride, None, None)

    def rebuild_tensor_v2(self, storage, storage_offset, size, stride, requires_grad, backward_hooks, metadata=None):
        self._check_grad_args(requires_grad, backward_hooks)
        return self._tensor(storage, storage_offset, size, stride, None, metadata)

    def rebuild_tensor_v3(self, storage, storage_offset, size, stride, requires_grad, backward_hooks, dtype,
                          metadata=None):
        self._check_grad_args(requires_grad, backward_hooks)
        if not isinstance(dtype, _DType):
            self.fail(f"_rebuild_tensor_v3 got dtype {_short(dtype)}, expected a torch dtype")
        return self._tensor(storage, storage_offset, size, stride, dtype, metadata)

    def rebuild_parameter(self, data, requires_grad, backward_hooks):
        self._check_grad_args(requires_grad, backward_hooks)
        if not isinstance(data, _Tensor):
            self.fail(f"a Parameter wraps {_short(data)}, expected a tensor")
        return data

    def rebuild_parameter_with_state(self, data, requires_grad, backward_hooks, state):
        # `state` holds Python attributes set on the Parameter: plain data (it unpickled under the same rules),
        # and nothing a state dict needs.
        return self.rebuild_parameter(data, requires_grad, backward_hooks)

    def _check_grad_args(self, requires_grad, backward_hooks):
        if not isinstance(requires_grad, bool):
            self.fail(f"requires_grad is {_short(requires_grad)}, expected a bool")
        if type(backward_hooks) is not OrderedDict or backward_hooks:
            self.fail(f"backward_hooks is {_short(backward_hooks)}, expected an empty OrderedDict")

    def _dims(self, dims, what: str) -> tuple:
        if not isinstance(dims, (tuple, list)) or len(dims) > MAX_NDIM or not all(_is_int(d) and d >= 0 for d in dims):
            self.fail(f"{what} is {_short(dims)}, expected a tuple of at most {MAX_NDIM} non-negative ints")
        return tuple(dims)

    def _tensor(self, storage, offset, size, stride, dtype, metadata) -> _Tensor:
        if not isinstance(storage, _Storage):
            self.fail(f"a tensor's storage is {_short(storage)}, expected a storage reference (persistent id)")
        if dtype is None:
            if storage.storage_type.untyped:
                self.fail(f"storage {storage.key!r} is untyped but the tensor rebuild gives no dtype")
            dtype = storage.storage_type.dtype
        size, stride = self._dims(size, "tensor size"), self._dims(stride, "tensor stride")
        if len(size) != len(stride):
            self.fail(f"tensor size {size} and stride {stride} differ in rank")
        if not _is_int(offset) or offset < 0:
            self.fail(f"tensor storage offset {_short(offset)} is not a non-negative int")
        flags = {} if metadata is None else metadata
        if not isinstance(flags, dict) or not set(flags) <= {"neg", "conj"} or \
                not all(isinstance(v, bool) for v in flags.values()):
            self.fail(f"tensor metadata {_short(metadata)} is not a dict of 'neg'/'conj' flags")
        n_elems = storage.nbytes // dtype.itemsize
        count = prod(size)
        last = offset + sum((n - 1) * s for n, s in zip(size, stride, strict=True)) if count else offset - 1
        if last >= n_elems:
            self.fail(f"tensor of size {size}, stride {stride}, offset {offset} reads element {last} of storage "
                      f"{storage.key!r}, which has {n_elems} elements of {dtype.name}")
        self.n_tensors += 1
        if self.n_tensors > MAX_TENSORS:
            self.fail(f"more than {MAX_TENSORS} tensors")
        self.output_bytes += count * (4 if dtype.name == "bfloat16" else dtype.itemsize)
        if self.output_bytes > MAX_TOTAL_BYTES:
            self.fail(f"tensors would take {self.output_bytes} bytes in all, over the limit of {MAX_TOTAL_BYTES}")
        return _Tensor(storage, dtype, offset, size, stride, flags.get("neg", False), flags.get("conj", False))


class _RestrictedUnpickler(pickle.Unpickler):
    """`loader=None` (magic number, sys_info, key list): no global and no persistent id at all."""

    def __init__(self, file, where: str, loader: _Loader | None):
        super().__init__(file, encoding="utf-8")
        self._where = where
        self._loader = loader

    def find_class(self, module, name):
        if self._loader is None:
            raise CheckpointError(f"{self._where}: the pickle asks for the global {module}.{name} where only plain "
                                  "values are expected")
        return self._loader.find_class(module, name)

    def persistent_load(self, pid):
        if self._loader is None:
            raise CheckpointError(f"{self._where}: unexpected persistent id {_short(pid)}")
        return self._loader.persistent_load(pid)


def _unpickle(file, where: str, what: str, loader: _Loader | None = None):
    try:
        return _RestrictedUnpickler(file, where, loader).load()
    except CheckpointError:
        raise
    except _BuildRefused as err:
        raise CheckpointError(f"{where}: {what}: {err}") from None
    except EOFError as err:
        raise CheckpointError(f"{where}: {what} ends early: the file is truncated") from err
    except Exception as err:  # pickle, type, memory errors from a malformed stream: all mean "not a checkpoint"
        raise CheckpointError(f"{where}: {what} is not a valid pickle ({type(err).__name__}: {err})") from err


def _is_tensor(x) -> bool:
    return isinstance(x, (_Tensor, np.ndarray))


def _describe(obj) -> str:
    if isinstance(obj, dict):
        items = ", ".join(f"{_short(k)}: {type(v).__name__}" for k, v in list(obj.items())[:12])
        return f"a {type(obj).__name__} of {len(obj)} entries {{{items}{', …' if len(obj) > 12 else ''}}}"
    return f"a {type(obj).__name__}"


def _search(obj, path: str, depth: int, where: str):
    """(path, dict) of the state dict inside `obj`, or None."""
    if not isinstance(obj, dict):
        return None
    if obj and all(_is_tensor(v) for v in obj.values()):
        bad = [k for k in obj if not isinstance(k, str)]
        if bad:
            raise CheckpointError(f"{where}: state dict{path} has non-string keys {_short(bad)}")
        return path, obj
    if depth >= 3:
        return None
    for key in WRAPPER_KEYS:
        found = _search(obj.get(key), f"{path}[{key!r}]", depth + 1, where)
        if found:
            return found
    found = [f for k, v in obj.items() if k not in WRAPPER_KEYS
             for f in [_search(v, f"{path}[{k!r}]", depth + 1, where)] if f]
    if len(found) > 1:
        raise CheckpointError(f"{where}: several state dicts: {', '.join(p for p, _ in found)}",
                              "choose one with `key=`")
    return found[0] if found else None


def find_state_dict(obj, where: str = "checkpoint", key: str | None = None) -> dict:
    """The dict of tensors inside an unpickled checkpoint: `obj` itself, or the one under `obj[key]`, under one of
    WRAPPER_KEYS (in that order), or under the only other key holding one. Non-tensor entries beside it are
    ignored. Tensors are loader stand-ins or ndarrays."""
    if key is not None:
        if not isinstance(obj, dict) or key not in obj:
            raise CheckpointError(f"{where}: no entry {key!r}; the checkpoint is {_describe(obj)}")
        obj, prefix = obj[key], f"[{key!r}]"
    else:
        prefix = ""
    found = _search(obj, prefix, 0, where)
    if found is None:
        raise CheckpointError(
            f"{where}: no state dict found; the checkpoint{prefix} is {_describe(obj)}; expected a dict whose values "
            f"are all tensors, or a dict holding one under one of {', '.join(map(repr, WRAPPER_KEYS))}")
    return found[1]


def _materialise(t: _Tensor, raw, byteorder: str, where: str) -> np.ndarray:
    fdt = t.dtype.file_dtype(byteorder)
    out_dtype = np.float32 if t.dtype.name == "bfloat16" else np.dtype(t.dtype.name)
    if prod(t.size) == 0:
        return np.zeros(t.size, out_dtype)
    base = np.frombuffer(raw, dtype=fdt, count=t.storage.nbytes // fdt.itemsize, offset=t.storage.start)
    # checked in _Loader._tensor already; checked again against the bytes at hand since as_strided trusts us
    if t.offset + sum((n - 1) * s for n, s in zip(t.size, t.stride, strict=True)) >= base.size or \
            min(t.stride, default=0) < 0 or t.offset < 0:
        raise CheckpointError(f"{where}: tensor view {t.size}/{t.stride}+{t.offset} leaves storage {t.storage.key!r}")
    view = as_strided(base[t.offset:], shape=t.size, strides=tuple(s * fdt.itemsize for s in t.stride),
                      writeable=False)
    arr = np.array(view, dtype=fdt.newbyteorder("="), order="C")  # bounds were checked in _Loader._tensor
    if t.dtype.name == "bfloat16":
        arr = (arr.astype(np.uint32) << 16).view(np.float32)
    elif t.dtype.name == "bool":
        arr = arr != 0  # any non-zero byte is True, as in torch
    if t.neg:
        arr = np.negative(arr)
    if t.conj:
        arr = np.conj(arr)
    return arr


def _materialise_all(state: dict[str, _Tensor], raws: dict, byteorder: str, where: str) -> dict[str, np.ndarray]:
    return {name: _materialise(t, raws[t.storage.key], byteorder, where) for name, t in state.items()}


def _load_zip(f, where: str, key: str | None) -> dict[str, np.ndarray]:
    try:
        zf = zipfile.ZipFile(f)
        infos = {info.filename: info for info in zf.infolist()}
    except Exception as err:
        raise CheckpointError(f"{where}: corrupt or truncated zip archive ({type(err).__name__}: {err})") from err
    pickles = [n for n in infos if n.endswith("/data.pkl") and n.count("/") == 1]
    if len(pickles) != 1:
        hint = "this looks like TorchScript; save `model.state_dict()` with torch.save" \
            if any(n.endswith("/constants.pkl") for n in infos) else None
        raise CheckpointError(f"{where}: zip archive has {len(pickles)} '<folder>/data.pkl' entries, expected 1 "
                              f"(entries: {_short(sorted(infos)[:8])})", hint)
    folder = pickles[0][: -len("data.pkl")]

    def read(name: str) -> bytes:
        try:
            return zf.read(name)
        except Exception as err:
            raise CheckpointError(f"{where}: cannot read zip entry {name} ({type(err).__name__}: {err})") from err

    byteorder = "little"
    if folder + "byteorder" in infos:
        byteorder = read(folder + "byteorder").decode("ascii", "replace").strip()
        if byteorder not in ("little", "big"):
            raise CheckpointError(f"{where}: {folder}byteorder says {byteorder!r}, expected 'little' or 'big'")
    if infos[pickles[0]].file_size > MAX_PICKLE_BYTES:
        raise CheckpointError(f"{where}: {pickles[0]} is {infos[pickles[0]].file_size} bytes, over the limit "
                              f"of {MAX_PICKLE_BYTES}")
    loader = _Loader(where, legacy=False)
    obj = _unpickle(io.BytesIO(read(pickles[0])), where, pickles[0], loader)
    for skey, (stype, numel) in loader.roots.items():
        name = f"{folder}data/{skey}"
        nbytes = numel * stype.dtype.itemsize
        if name not in infos:
            raise CheckpointError(f"{where}: the pickle refers to storage {skey!r} but the archive has no entry {name}")
        if infos[name].file_size != nbytes:
            raise CheckpointError(f"{where}: entry {name} holds {infos[name].file_size} bytes, expected {numel} "
                                  f"elements of {stype.name} = {nbytes} bytes")
    state = find_state_dict(obj, where, key)
    raws = {}
    for skey in {t.storage.key for t in state.values()}:
        raws[skey] = read(f"{folder}data/{skey}")
        if len(raws[skey]) != infos[f"{folder}data/{skey}"].file_size:
            raise CheckpointError(f"{where}: entry {folder}data/{skey} is truncated")
    return _materialise_all(state, raws, "<" if byteorder == "little" else ">", where)


def _load_legacy(f, size: int, where: str, key: str | None) -> dict[str, np.ndarray]:
    magic = _unpickle(f, where, "the magic number (first pickle)")
    if not _is_int(magic) or magic != LEGACY_MAGIC:
        raise CheckpointError(f"{where}: the first pickle is {_short(magic)}, expected torch's magic number "
                              f"{LEGACY_MAGIC:#x}: a plain pickle, not a torch.save file")
    version = _unpickle(f, where, "the protocol version")
    if not _is_int(version) or version != LEGACY_PROTOCOL:
        raise CheckpointError(f"{where}: legacy protocol version is {_short(version)}, expected {LEGACY_PROTOCOL}")
    sys_info = _unpickle(f, where, "sys_info")
    if not isinstance(sys_info, dict):
        raise CheckpointError(f"{where}: sys_info is {_short(sys_info)}, expected a dict")
    loader = _Loader(where, legacy=True)
    obj = _unpickle(f, where, "the checkpoint object", loader)
    listed = _unpickle(f, where, "the storage key list")
    keys = [_text(k) for k in listed] if isinstance(listed, list) else [None]
    if None in keys or len(set(keys)) != len(keys) or set(keys) != set(loader.roots):
        raise CheckpointError(f"{where}: the storage key list {_short(listed)} does not match the "
                              f"{len(loader.roots)} storages the pickle refers to ({_short(sorted(loader.roots))})")
    state = find_state_dict(obj, where, key)
    needed = {t.storage.key for t in state.values()}
    raws = {}
    for skey in keys:
        stype, numel = loader.roots[skey]
        head = f.read(8)
        if len(head) < 8:
            raise CheckpointError(f"{where}: truncated before the element count of storage {skey!r}")
        count = int.from_bytes(head, "little", signed=True)
        if count != numel:
            raise CheckpointError(f"{where}: storage {skey!r} has {count} elements in the file, the pickle "
                                  f"declares {numel}")
        nbytes = numel * stype.dtype.itemsize
        if f.tell() + nbytes > size:
            raise CheckpointError(f"{where}: truncated inside storage {skey!r} ({nbytes} bytes declared at offset "
                                  f"{f.tell()}, file is {size} bytes)")
        if skey in needed:
            raws[skey] = f.read(nbytes)
        else:
            f.seek(nbytes, io.SEEK_CUR)
    if f.tell() != size:
        raise CheckpointError(f"{where}: {size - f.tell()} bytes of trailing garbage after the last storage")
    return _materialise_all(state, raws, "<", where)


def load_checkpoint(path_or_bytes, key: str | None = None) -> dict[str, np.ndarray]:
    """The state dict of a PyTorch checkpoint (path or bytes) as {name: ndarray}; see the module docstring.
    `key` picks the entry holding the state dict when the automatic choice (find_state_dict) cannot."""
    if isinstance(path_or_bytes, (bytes, bytearray, memoryview)):
        where, opener = "<checkpoint bytes>", lambda: io.BytesIO(bytes(path_or_bytes))
    elif isinstance(path_or_bytes, (str, os.PathLike)):
        where, opener = os.fspath(path_or_bytes), lambda: open(path_or_bytes, "rb")  # noqa: SIM115
    else:
        raise TypeError(f"load_checkpoint takes a path or bytes, got {type(path_or_bytes).__name__}")
    try:
        f = opener()
    except OSError as err:
        raise CheckpointError(f"{where}: cannot read: {err}") from err
    with f:
        try:
            size = f.seek(0, io.SEEK_END)
            f.seek(0)
            head = f.read(8)
            f.seek(0)
        except OSError as err:
            raise CheckpointError(f"{where}: cannot read: {err}") from err
        if size == 0:
            raise CheckpointError(f"{where}: the file is empty; expected a PyTorch checkpoint")
        if head.startswith(b"PK\x03\x04"):
            return _load_zip(f, where, key)
        if head.startswith(b"\x80"):
            return _load_legacy(f, size, where, key)
        f.seek(257)
        if f.read(5) == b"ustar":
            raise CheckpointError(f"{where}: a tar-format checkpoint (torch < 0.1.10) is not supported",
                                  "re-save it with a recent torch")
        raise CheckpointError(f"{where}: not a PyTorch checkpoint: starts with {head!r}, expected a zip archive "
                              "(b'PK\\x03\\x04') or a legacy pickle stream (b'\\x80')")
