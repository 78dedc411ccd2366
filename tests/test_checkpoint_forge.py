"""torch.save files written by hand, without torch: a pickle-opcode emitter for dicts of tensors, the zip and legacy
containers, and tests that load_checkpoint reads such files exactly as numpy views the same bytes.
tests/test_checkpoint.py builds its broken and hostile files with these helpers."""

from __future__ import annotations

import io
import pickle
import struct
import zipfile
from dataclasses import dataclass

import numpy as np
import pytest
from numpy.lib.stride_tricks import as_strided

from pysr.io.checkpoint import LEGACY_MAGIC, LEGACY_PROTOCOL, load_checkpoint

SYS_INFO = {"protocol_version": LEGACY_PROTOCOL, "little_endian": True,
            "type_sizes": {"short": 2, "int": 4, "long": 8}}
STORAGE_OF = {"float32": "FloatStorage", "float16": "HalfStorage", "float64": "DoubleStorage",
              "int64": "LongStorage", "int32": "IntStorage", "int16": "ShortStorage", "int8": "CharStorage",
              "uint8": "ByteStorage", "bool": "BoolStorage", "complex64": "ComplexFloatStorage"}


def op_global(module: str, name: str) -> bytes:
    return b"c" + f"{module}\n{name}\n".encode()


def op_value(x) -> bytes:
    """Opcodes pushing a plain value. Each fragment only refers to memo slots it filled itself, so fragments
    can be concatenated freely."""
    return pickle.dumps(x, protocol=2)[2:-1]


EMPTY_ORDERED_DICT = op_global("collections", "OrderedDict") + b")R"


@dataclass
class T:
    """One tensor of a forged pickle: a view (offset, size, stride) of storage `key` of class `storage`."""
    key: str
    storage: str
    numel: int
    offset: int = 0
    size: tuple = ()
    stride: tuple = ()
    rebuild: str = "_rebuild_tensor_v2"
    hooks: bytes = EMPTY_ORDERED_DICT  # opcodes for the backward_hooks argument
    view: tuple | None = None          # legacy view metadata (view_key, offset, size)
    metadata: dict | None = None
    location: str = "cuda:0"
    pid: bytes | None = None           # opcodes replacing the whole persistent id tuple


def pid_ops(t: T, legacy: bool) -> bytes:
    if t.pid is not None:
        return t.pid
    module = "torch.storage" if t.storage == "UntypedStorage" else "torch"  # where torch 2.x pickles it from
    fields = op_value("storage") + op_global(module, t.storage) + op_value(t.key) + op_value(t.location)
    fields += op_value(t.numel) + (op_value(t.view) if legacy else b"")
    return b"(" + fields + b"t"


def tensor_ops(t: T, legacy: bool) -> bytes:
    args = pid_ops(t, legacy) + b"Q" + op_value(t.offset) + op_value(tuple(t.size)) + op_value(tuple(t.stride))
    if t.rebuild != "_rebuild_tensor":
        args += op_value(False) + t.hooks
    if t.metadata is not None:
        args += op_value(t.metadata)
    return op_global("torch._utils", t.rebuild) + b"(" + args + b"tR"


def dict_ops(entries: dict, legacy: bool = False, ordered: bool = True) -> bytes:
    """A dict whose values are T (tensors), raw opcodes (bytes) or plain values."""
    def value(v):
        return tensor_ops(v, legacy) if isinstance(v, T) else v if isinstance(v, bytes) else op_value(v)
    head = EMPTY_ORDERED_DICT if ordered else b"}"
    return head + b"(" + b"".join(op_value(k) + value(v) for k, v in entries.items()) + b"u"


def dumps(ops: bytes) -> bytes:
    return b"\x80\x02" + ops + b"."


def raw(arr: np.ndarray) -> bytes:
    return np.ascontiguousarray(arr).astype(arr.dtype.newbyteorder("<")).tobytes()


def zip_file(pkl: bytes, storages: dict[str, bytes], folder: str = "archive", byteorder: bytes | None = b"little",
             skip: tuple = ()) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        if "data.pkl" not in skip:
            z.writestr(f"{folder}/data.pkl", pkl)
        if byteorder is not None:
            z.writestr(f"{folder}/byteorder", byteorder)
        for key, data in storages.items():
            z.writestr(f"{folder}/data/{key}", data)
        z.writestr(f"{folder}/version", b"3\n")
    return buf.getvalue()


def legacy_header() -> bytes:
    return b"".join(pickle.dumps(x, protocol=2) for x in (LEGACY_MAGIC, LEGACY_PROTOCOL, SYS_INFO))


def legacy_file(pkl: bytes, storages: dict[str, tuple[int, bytes]], keys: list | None = None) -> bytes:
    """`storages`: key -> (element count written before the data, data bytes)."""
    keys = list(storages) if keys is None else keys
    out = legacy_header() + pkl + pickle.dumps(keys, protocol=2)
    return out + b"".join(struct.pack("<q", storages[k][0]) + storages[k][1] for k in keys if k in storages)


def forge(entries: dict, arrays: dict[str, np.ndarray], fmt: str, wrap: dict | None = None, **kw) -> bytes:
    """A whole checkpoint: `entries` name -> T over storages `arrays` (key -> 1-D array), in format 'zip' or
    'legacy'; `wrap` puts the state dict under wrap['__key__'] beside wrap's other (plain) entries."""
    legacy = fmt == "legacy"
    ops = dict_ops(entries, legacy)
    if wrap:
        outer = {k: v for k, v in wrap.items() if k != "__key__"}
        ops = dict_ops({wrap["__key__"]: ops, **outer}, legacy, ordered=False)
    if legacy:
        return legacy_file(dumps(ops), {k: (a.size, raw(a)) for k, a in arrays.items()}, **kw)
    return zip_file(dumps(ops), {k: raw(a) for k, a in arrays.items()}, **kw)


def random_case(rng: np.random.Generator):
    """Storages of several dtypes and awkward views of them, with the arrays numpy says those views hold."""
    arrays = {
        "0": rng.standard_normal(60).astype(np.float32),
        "1": rng.standard_normal(13).astype(np.float16),
        "2": rng.standard_normal(9),
        "3": rng.integers(-2**40, 2**40, 11),
        "4": rng.integers(-2**31, 2**31, 7).astype(np.int32),
        "5": rng.integers(0, 256, 10).astype(np.uint8),
        "6": rng.integers(0, 2, 5).astype(bool),
        "7": rng.integers(-128, 128, 6).astype(np.int8),
        "8": (rng.standard_normal(4) + 1j * rng.standard_normal(4)).astype(np.complex64),
    }
    views = {  # name -> (key, offset, size, stride)
        "full": ("0", 0, (3, 4, 5), (20, 5, 1)),
        "slice": ("0", 7, (2, 3), (20, 2)),          # shares storage 0, non-contiguous
        "transposed": ("0", 0, (5, 4), (1, 5)),
        "broadcast": ("0", 59, (3, 4), (0, 0)),       # expand(): stride 0
        "scalar": ("0", 33, (), ()),
        "empty": ("0", 60, (0, 3), (3, 1)),
        "half": ("1", 1, (3, 4), (4, 1)),
        "double": ("2", 0, (9,), (1,)),
        "long": ("3", 1, (5,), (2,)),
        "int": ("4", 0, (7, 1, 1), (1, 1, 1)),
        "byte": ("5", 2, (2, 2), (1, 4)),
        "bool": ("6", 0, (5,), (1,)),
        "char": ("7", 0, (6,), (1,)),
        "complex": ("8", 1, (3,), (1,)),
    }
    entries, expected = {}, {}
    for name, (key, offset, size, stride) in views.items():
        arr = arrays[key]
        entries[name] = T(key, STORAGE_OF[arr.dtype.name], arr.size, offset, size, stride)
        strides = tuple(s * arr.itemsize for s in stride)
        expected[name] = as_strided(arr[offset:], size, strides) if np.prod(size) else np.zeros(size, arr.dtype)
    return entries, arrays, expected


def assert_same(got: dict, expected: dict):
    assert list(got) == list(expected)
    for name, want in expected.items():
        assert got[name].dtype == want.dtype, name
        assert got[name].shape == want.shape, name
        assert got[name].flags.c_contiguous and got[name].flags.writeable, name
        assert got[name].tobytes() == np.ascontiguousarray(want).tobytes(), name


@pytest.mark.parametrize("fmt", ["zip", "legacy"])
@pytest.mark.parametrize("seed", [0, 1])
def test_forged_views_match_numpy(fmt, seed):
    entries, arrays, expected = random_case(np.random.default_rng(seed))
    data = forge(entries, arrays, fmt)
    assert_same(load_checkpoint(data), expected)
    got = load_checkpoint(data)
    got["full"][...] = 0  # each tensor is a copy of its own even where the storage was shared
    assert got["slice"].tobytes() == np.ascontiguousarray(expected["slice"]).tobytes()


def test_zip_big_endian_storages():
    entries, arrays, expected = random_case(np.random.default_rng(2))
    big = {k: np.ascontiguousarray(a).astype(a.dtype.newbyteorder(">")).tobytes() for k, a in arrays.items()}
    data = zip_file(dumps(dict_ops(entries)), big, byteorder=b"big")
    assert_same(load_checkpoint(data), expected)


@pytest.mark.parametrize("fmt", ["zip", "legacy"])
def test_bfloat16_is_widened_exactly(fmt):
    values = np.random.default_rng(3).standard_normal(12).astype(np.float32)
    bits = (values.view(np.uint32) >> 16).astype(np.uint16)  # bfloat16 = the top half of a float32
    entries = {"w": T("0", "BFloat16Storage", 12, 2, (2, 5), (5, 1))}
    got = load_checkpoint(forge(entries, {"0": bits}, fmt))["w"]
    want = (bits.astype(np.uint32) << 16).view(np.float32)[2:12].reshape(2, 5)
    assert got.dtype == np.float32 and got.tobytes() == want.tobytes()


def test_v3_untyped_storage_with_dtype():
    values = np.arange(10, dtype=np.uint16) * 6000
    t = T("0", "UntypedStorage", 20, 1, (4,), (2,), rebuild="_rebuild_tensor_v3")
    t.hooks += op_global("torch", "uint16")  # v3 takes the dtype after backward_hooks
    got = load_checkpoint(forge({"w": t}, {"0": values.view(np.uint8)}, "zip"))["w"]
    assert got.dtype == np.uint16 and got.tolist() == values[1:9:2].tolist()


def test_legacy_storage_views_and_old_rebuild():
    arr = np.arange(20, dtype=np.float32)
    entries = {
        "a": T("0", "FloatStorage", 20, 1, (2, 3), (3, 1), view=("v", 5, 10)),  # elements 5..14 of the root
        "b": T("0", "FloatStorage", 20, 0, (4,), (1,), rebuild="_rebuild_tensor"),
    }
    got = load_checkpoint(forge(entries, {"0": arr}, "legacy"))
    assert got["a"].tolist() == arr[6:12].reshape(2, 3).tolist() and got["b"].tolist() == arr[:4].tolist()


def test_neg_and_conj_metadata():
    arr = (np.arange(4) + 1j * np.arange(4, 8)).astype(np.complex64)
    entries = {"n": T("0", "ComplexFloatStorage", 4, 0, (4,), (1,), metadata={"neg": True}),
               "c": T("0", "ComplexFloatStorage", 4, 0, (4,), (1,), metadata={"conj": True})}
    got = load_checkpoint(forge(entries, {"0": arr}, "zip"))
    assert got["n"].tolist() == (-arr).tolist() and got["c"].tolist() == np.conj(arr).tolist()
