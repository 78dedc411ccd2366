"""pysr.io.checkpoint: torch.save files read without torch.
- parity with torch.load for files torch writes (both formats) and for the checkpoints in ../shared/weights;
- which dict is taken as the state dict;
- hostile pickles (refused before their command runs) and broken files (CheckpointError, never another type).
Files without torch are forged by hand with tests/test_checkpoint_forge.py."""

from __future__ import annotations

import os
import pickle
import re
import subprocess
import zipfile
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest
from test_checkpoint_forge import (
    EMPTY_ORDERED_DICT,
    T,
    dict_ops,
    dumps,
    forge,
    legacy_file,
    legacy_header,
    op_global,
    op_value,
    pid_ops,
    random_case,
    raw,
    tensor_ops,
    zip_file,
)

from pysr.errors import CheckpointError
from pysr.io import checkpoint
from pysr.io.checkpoint import find_state_dict, load_checkpoint

# --- parity with torch -------------------------------------------------------------------------------------


def _torch_state(torch, zip_format: bool):
    torch.manual_seed(0)
    base = torch.randn(6, 7)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 5, 3), torch.nn.BatchNorm2d(5), torch.nn.PReLU(5))
    sd = OrderedDict(net.state_dict())  # keeps _metadata (a BUILD in the pickle) and an int64 counter
    sd.update({
        "f16": torch.randn(3, 5).half(), "bf16": torch.randn(4, 3).bfloat16(), "f64": torch.randn(5).double(),
        "i64": torch.randint(-2**40, 2**40, (7,)), "i32": torch.randint(-2**31, 2**31 - 1, (2, 3), dtype=torch.int32),
        "i16": torch.randint(-999, 999, (4,), dtype=torch.int16),
        "i8": torch.randint(-128, 127, (5,), dtype=torch.int8),
        "u8": torch.randint(0, 255, (3, 3), dtype=torch.uint8), "bool": torch.rand(6) > 0.5,
        "c64": torch.randn(3, dtype=torch.complex64), "u16": torch.tensor([0, 1, 40000, 65535], dtype=torch.uint16),
        "scalar": torch.tensor(2.5), "empty": torch.zeros(0, 3),
        "shared": base, "shared_slice": base[1:5:2, 2:], "transposed": base.t(),  # three views of one storage
        "expanded": torch.randn(3, 1).expand(3, 4), "param": torch.nn.Parameter(torch.randn(2, 2)),
        "neg_view": torch.randn(3)._neg_view(), "conj_view": torch.randn(3, dtype=torch.complex64).conj(),
    })
    if not zip_format:
        del sd["u16"]  # NOTE: torch 2.13 writes legacy files with uint16 tensors that its own torch.load cannot read
    return sd


def _as_numpy(t) -> np.ndarray:
    t = t.detach().resolve_neg().resolve_conj()
    import torch
    return (t.float() if t.dtype == torch.bfloat16 else t).contiguous().numpy()


def _assert_equals_torch(ours: dict, ref: dict):
    assert list(ours) == list(ref)
    for name, tensor in ref.items():
        want = _as_numpy(tensor)
        assert (ours[name].dtype, ours[name].shape) == (want.dtype, want.shape), name
        assert ours[name].tobytes() == want.tobytes(), name  # bit-exact, -0.0 included


@pytest.mark.torch
@pytest.mark.parametrize("zip_format", [True, False], ids=["zip", "legacy"])
def test_matches_torch_load(tmp_path, zip_format):
    torch = pytest.importorskip("torch")
    sd = _torch_state(torch, zip_format)
    path = tmp_path / "sd.pth"
    torch.save(sd, path, _use_new_zipfile_serialization=zip_format)
    ref = torch.load(path, map_location="cpu")
    ours = load_checkpoint(path)
    _assert_equals_torch(ours, ref)
    _assert_equals_torch(load_checkpoint(path.read_bytes()), ref)
    ours["shared"][...] = 0  # views of one storage come back as independent copies
    assert ours["shared_slice"].tobytes() == ref["shared_slice"].contiguous().numpy().tobytes()


@pytest.mark.torch
@pytest.mark.parametrize("zip_format", [True, False], ids=["zip", "legacy"])
def test_wrapped_state_dict_beside_plain_entries(tmp_path, zip_format):
    torch = pytest.importorskip("torch")
    net = torch.nn.Linear(3, 2)
    opt = torch.optim.Adam(net.parameters())
    net(torch.ones(1, 3)).sum().backward()
    opt.step()
    ckpt = {"state_dict": net.state_dict(), "epoch": 3, "optimizer": opt.state_dict(), "name": "run",
            "history": [1.5, 2.0], "best": None}
    path = tmp_path / "ckpt.pth"
    torch.save(ckpt, path, _use_new_zipfile_serialization=zip_format)
    _assert_equals_torch(load_checkpoint(path), torch.load(path, map_location="cpu")["state_dict"])


@pytest.mark.torch
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_refuses_pickled_module_and_torchscript(tmp_path):
    torch = pytest.importorskip("torch")
    net = torch.nn.Conv2d(1, 1, 1)
    torch.save(net, tmp_path / "module.pth")
    torch.jit.save(torch.jit.script(net), tmp_path / "script.pt")
    for name in ("module.pth", "script.pt"):
        with pytest.raises(CheckpointError, match="state_dict"):
            load_checkpoint(tmp_path / name)


# --- the checkpoints in ../shared/weights ------------------------------------------------------------------

SHAPE = r"\((?:\d+(?:, *\d+)*,?)?\)"


def readme_keys(text: str) -> dict[str, tuple]:
    """Keys and shapes from a weights README table. Rows look like `| a.weight | (4, 4) |`,
    `| a.weight / a.bias | (8, 3) / (8,) |`, `| a.weight / .bias | … |` or
    `| map_1 … map_4 .weight / .bias | … each |`."""
    keys = {}
    for line in text.splitlines():
        cells = [c.strip().strip("`") for c in line.strip().strip("|").split("|")]
        if not line.startswith("|") or len(cells) < 2 or not re.search(SHAPE, cells[1]):
            continue
        shapes = [tuple(int(d) for d in re.findall(r"\d+", s)) for s in re.findall(SHAPE, cells[1])]
        parts = [p.strip() for p in cells[0].split(" / ")]
        ranged = re.fullmatch(r"(\S*?)(\d+) … \1(\d+) (\.\S+)", parts[0])
        if ranged:
            stem, first, last, suffix = ranged.groups()
            stems, suffixes = [f"{stem}{i}" for i in range(int(first), int(last) + 1)], [suffix, *parts[1:]]
        elif len(parts) > 1 and all(p.startswith(".") for p in parts[1:]):
            stem, suffix = parts[0].rsplit(".", 1)
            stems, suffixes = [stem], [f".{suffix}", *parts[1:]]
        else:
            stems, suffixes = [""], parts
        assert len(suffixes) == len(shapes), line
        for s in stems:
            keys.update({s + suffix: shape for suffix, shape in zip(suffixes, shapes, strict=True)})
    return keys


SHARED_FILES = ["egvsr_random_seed0/EGVSR_random_seed0.pth", "espcn_x3_yjn870/espcn_x3.pth",
                "espcn_x4_egvsr/espcn_x4_subconv_100.pth", "fsrcnn_x4_nhatthanh/FSRCNN-x4.pt", "sofvsr_tip/BI_x2.pth"]
# Tensor counts the briefs quote for these files; they guard the README parser above.
DOCUMENTED_COUNTS = {"EGVSR_random_seed0.pth": 78, "espcn_x3.pth": 6, "espcn_x4_subconv_100.pth": 12,
                     "FSRCNN-x4.pt": 20, "BI_x2.pth": 50}


@pytest.mark.shared
def test_every_shared_weight_file_is_listed(shared):
    found = sorted(str(p.relative_to(shared / "weights")) for p in (shared / "weights").glob("*/*.pt*"))
    assert found == sorted(SHARED_FILES)


@pytest.mark.shared
@pytest.mark.parametrize("rel", SHARED_FILES)
def test_shared_checkpoint_matches_readme(shared, rel):
    path = shared / "weights" / rel
    readme = (path.parent / "README.md").read_text()
    expected = readme_keys(readme)
    assert len(expected) == DOCUMENTED_COUNTS[path.name]
    assert zipfile.is_zipfile(path) == ("zip-format" in readme.lower())  # the READMEs name legacy vs zip
    state = load_checkpoint(path)
    assert {k: v.shape for k, v in state.items()} == expected
    assert all(v.dtype == np.float32 for v in state.values())
    torch = pytest.importorskip("torch")
    _assert_equals_torch(state, torch.load(path, map_location="cpu"))


# --- which dict is the state dict (no torch: ndarrays stand for tensors) ------------------------------------

def test_find_state_dict_choices():
    sd, ema = {"w": np.zeros(2)}, {"w": np.ones(2)}
    assert find_state_dict(sd) is sd
    assert find_state_dict({"epoch": 3, "params": sd, "params_ema": ema}) is ema  # EMA weights preferred
    assert find_state_dict({"params": sd, "params_ema": ema}, key="params") is sd
    assert find_state_dict({"meta": {"lr": 0.1}, "weights": sd}) is sd             # the only dict of tensors
    assert find_state_dict({"model": {"state_dict": sd}, "epoch": 1}) is sd        # nested wrappers
    with pytest.raises(CheckpointError, match="several state dicts"):
        find_state_dict({"a": sd, "b": ema})
    with pytest.raises(CheckpointError, match="no state dict found"):
        find_state_dict({"w": np.zeros(2), "epoch": 3})                               # tensors mixed with others
    with pytest.raises(CheckpointError, match="no state dict found"):
        find_state_dict([np.zeros(2)])
    with pytest.raises(CheckpointError, match="no entry 'nope'"):
        find_state_dict({"params": sd}, key="nope")


@pytest.mark.parametrize("fmt", ["zip", "legacy"])
def test_forged_wrapper_with_plain_entries(fmt):
    entries, arrays, expected = random_case(np.random.default_rng(5))
    wrap = {"__key__": "state_dict", "epoch": 3, "optimizer": {"lr": 0.1, "betas": [0.9, 0.99]}, "tag": "x"}
    got = load_checkpoint(forge(entries, arrays, fmt, wrap=wrap))
    assert {k: (v.shape, v.dtype) for k, v in got.items()} == {k: (v.shape, v.dtype) for k, v in expected.items()}
    # a plain entry that needs a global outside the allowlist spoils the whole file
    wrap["extra"] = op_global("builtins", "set") + b")R"
    with pytest.raises(CheckpointError, match="builtins.set"):
        load_checkpoint(forge(entries, arrays, fmt, wrap=wrap))


# --- hostile pickles ---------------------------------------------------------------------------------------

class ReduceToSystem:
    def __init__(self, command):
        self.command = command

    def __reduce__(self):
        return os.system, (self.command,)


def hostile_payloads(sentinel: Path) -> dict[str, tuple[bytes, str]]:
    """name -> (pickle that creates `sentinel` when unpickled by plain pickle, the global the refusal names)."""
    cmd, code = f"touch {sentinel}", f"open({str(sentinel)!r}, 'w').close()"
    system_call = op_value(cmd) + b"\x85R"  # (cmd,) then REDUCE on the callable below it
    return {
        "os_system": (dumps(op_global("os", "system") + system_call), "os.system"),
        "posix_system": (dumps(op_global("posix", "system") + system_call), "posix.system"),
        "builtins_eval": (dumps(op_global("builtins", "eval") + op_value(code) + b"\x85R"), "builtins.eval"),
        "builtins_exec": (dumps(op_global("builtins", "exec") + op_value(code) + b"\x85R"), "builtins.exec"),
        "builtins_getattr": (dumps(op_global("builtins", "getattr") + op_global("builtins", "__import__")
                                   + op_value("os") + b"\x85R" + op_value("system") + b"\x86R" + system_call),
                             "builtins.getattr"),
        "subprocess_popen": (dumps(op_global("subprocess", "Popen") + op_value(["touch", str(sentinel)]) + b"\x85R"),
                             "subprocess.Popen"),
        "reduce_class": (pickle.dumps(ReduceToSystem(cmd), protocol=2), "posix.system"),
        "reduce_class_stack_global": (pickle.dumps(ReduceToSystem(cmd), protocol=4), "posix.system"),
        "stack_global": (b"\x80\x04\x8c\x02os\x8c\x06system\x93" + system_call + b".", "os.system"),
        "inst": (b"\x80\x02(" + op_value(cmd) + b"ios\nsystem\n.", "os.system"),
        "obj": (dumps(b"(" + op_global("os", "system") + op_value(cmd) + b"o"), "os.system"),
        "in_state_dict": (dumps(dict_ops({"b": op_global("os", "system") + system_call,
                                          "w": T("0", "FloatStorage", 1, 0, (1,), (1,))}, ordered=False)),
                          "os.system"),
    }


def _containers(payload: bytes) -> dict[str, bytes]:
    return {"bare": payload, "legacy": legacy_header() + payload, "zip": zip_file(payload, {"0": b"\0" * 4})}


@pytest.mark.parametrize("name", sorted(hostile_payloads(Path("x"))))
def test_hostile_pickle_is_live(tmp_path, name):
    """Control: plain pickle runs each payload, so the refusals below are meaningful."""
    if name == "in_state_dict":
        pytest.skip("plain pickle would import torch first")
    sentinel = tmp_path / "SENTINEL"
    result = pickle.loads(hostile_payloads(sentinel)[name][0])  # noqa: S301 (this is the point)
    if isinstance(result, subprocess.Popen):
        result.wait()
    assert sentinel.exists()


@pytest.mark.parametrize("container", ["bare", "legacy", "zip"])
@pytest.mark.parametrize("name", sorted(hostile_payloads(Path("x"))))
def test_hostile_pickle_refused_before_it_runs(tmp_path, name, container):
    sentinel = tmp_path / "SENTINEL"
    payload, culprit = hostile_payloads(sentinel)[name]
    data = _containers(payload)[container]
    path = tmp_path / "evil.pth"
    path.write_bytes(data)
    for source in (path, data):
        with pytest.raises(CheckpointError, match=re.escape(culprit)):
            load_checkpoint(source)
    assert not sentinel.exists()


@pytest.mark.parametrize("module, name", [("torch._utils", "_rebuild_qtensor"), ("torch._utils", "_rebuild_wrapper"),
                                          ("torch.storage", "_load_from_bytes"), ("torch", "load"),
                                          ("torch", "float8_e4m3fn"), ("__builtin__", "eval"), ("numpy", "load")])
@pytest.mark.parametrize("container", ["legacy", "zip"])
def test_globals_outside_the_allowlist(module, name, container):
    payload = dumps(dict_ops({"w": op_global(module, name) + b")R"}))
    with pytest.raises(CheckpointError, match=re.escape(f"{module}.{name}") + "|" + re.escape(f"torch.{name}")):
        load_checkpoint(_containers(payload)[container])


@pytest.mark.parametrize("state", [{"offset": 10**9}, (None, {"offset": 10**9}), (0, 10**9)],
                         ids=["dict", "slots", "tuple"])
@pytest.mark.parametrize("target", ["rebuild", "dtype", "storage_type", "storage", "tensor"])
def test_build_cannot_alter_stand_ins(target, state):
    """BUILD sets the state of the object below it; a tensor's offset changed after its bounds check would make
    the loader read outside the storage. Every stand-in must refuse."""
    tensor = T("0", "FloatStorage", 12, 0, (3, 4), (4, 1))
    target_ops = {"rebuild": op_global("torch._utils", "_rebuild_tensor_v2"), "dtype": op_global("torch", "float32"),
                  "storage_type": op_global("torch", "FloatStorage"), "storage": pid_ops(tensor, False) + b"Q",
                  "tensor": tensor_ops(tensor, False)}[target]
    payload = dumps(dict_ops({"w": target_ops + op_value(state) + b"b"}))
    with pytest.raises(CheckpointError, match="BUILD"):
        load_checkpoint(_containers(payload)["zip"])


# --- broken and malformed files ----------------------------------------------------------------------------

def _one(fmt: str = "zip", **t_fields) -> bytes:
    """A one-tensor checkpoint over a 12-float storage; `t_fields` override the tensor's fields."""
    t = T("0", "FloatStorage", 12, 0, (3, 4), (4, 1))
    for k, v in t_fields.items():
        setattr(t, k, v)
    return forge({"w": t}, {"0": np.arange(12, dtype=np.float32)}, fmt)


def _refused(data: bytes, match: str | None = None):
    with pytest.raises(CheckpointError, match=match):
        load_checkpoint(data)


def test_empty_and_missing_files(tmp_path):
    (tmp_path / "empty.pth").write_bytes(b"")
    for source in (tmp_path / "empty.pth", b""):
        with pytest.raises(CheckpointError, match="empty"):
            load_checkpoint(source)
    with pytest.raises(CheckpointError, match="cannot read"):
        load_checkpoint(tmp_path / "absent.pth")
    with pytest.raises(CheckpointError, match="cannot read"):
        load_checkpoint(tmp_path)


@pytest.mark.parametrize("fmt", ["zip", "legacy"])
def test_every_truncation_is_refused(fmt):
    data = forge(*random_case(np.random.default_rng(4))[:2], fmt)
    load_checkpoint(data)
    for cut in range(len(data)):
        with pytest.raises(CheckpointError):
            load_checkpoint(data[:cut])


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("prefix", [b"", b"\x80\x02", b"PK\x03\x04"])
def test_random_bytes(seed, prefix):
    _refused(prefix + np.random.default_rng(seed).integers(0, 256, 300, dtype=np.uint8).tobytes())


def test_not_a_torch_file():
    _refused(pickle.dumps({"w": 1}, protocol=2), "magic number")
    _refused(legacy_header()[:-1], "truncated")
    _refused(b"hello world", "not a PyTorch checkpoint")
    wrong_version = pickle.dumps(checkpoint.LEGACY_MAGIC, protocol=2) + pickle.dumps(999, protocol=2)
    _refused(wrong_version, "protocol version")


def test_zip_structure():
    pkl = dumps(dict_ops({"w": T("0", "FloatStorage", 12, 0, (3, 4), (4, 1))}))
    good = {"0": raw(np.arange(12, dtype=np.float32))}
    load_checkpoint(zip_file(pkl, good, folder="my_model"))  # the folder name varies
    _refused(zip_file(pkl, good, skip=("data.pkl",)), "data.pkl")
    _refused(zip_file(pkl, {}), "no entry archive/data/0")
    _refused(zip_file(pkl, {"0": good["0"][:-4]}), "44 bytes, expected 12 elements")
    _refused(zip_file(pkl, {"0": good["0"] + b"\0" * 4}), "52 bytes, expected 12 elements")
    _refused(zip_file(pkl, good, byteorder=b"middle"), "byteorder")
    _refused(zip_file(dumps(dict_ops({"w": 3})), {}), "no state dict found")


def test_legacy_structure():
    arr = np.arange(12, dtype=np.float32)
    pkl = dumps(dict_ops({"w": T("0", "FloatStorage", 12, 0, (3, 4), (4, 1))}, legacy=True))
    good = {"0": (12, raw(arr))}
    load_checkpoint(legacy_file(pkl, good))
    _refused(legacy_file(pkl, good) + b"\0", "trailing garbage")
    _refused(legacy_file(pkl, {"0": (11, raw(arr))}), "has 11 elements in the file")
    _refused(legacy_file(pkl, {"0": (12, raw(arr)[:-1])}), "truncated inside storage")
    _refused(legacy_file(pkl, good, keys=[]), "storage key list")
    _refused(legacy_file(pkl, good, keys=["0", "0"]), "storage key list")
    _refused(legacy_file(pkl, good, keys=["0", "1"]), "storage key list")
    _refused(legacy_header() + pkl + pickle.dumps("0", protocol=2), "storage key list")


@pytest.mark.parametrize("fmt", ["zip", "legacy"])
def test_views_outside_their_storage(fmt):
    _refused(_one(fmt, stride=(4, 2)), "reads element 14")
    _refused(_one(fmt, offset=1), "reads element 12")
    _refused(_one(fmt, offset=13, size=(0,), stride=(1,)), "reads element 12")
    _refused(_one(fmt, stride=(4, -1)), "stride")
    _refused(_one(fmt, size=(3, -4)), "size")
    _refused(_one(fmt, stride=(4,)), "differ in rank")
    _refused(_one(fmt, offset=-1), "offset")
    _refused(_one(fmt, size=(3.0, 4), stride=(4, 1)), "size")
    _refused(_one(fmt, numel=-1), "numel")
    _refused(_one(fmt, metadata={"sparse": True}), "metadata")


@pytest.mark.parametrize("fmt", ["zip", "legacy"])
def test_malformed_persistent_ids_and_arguments(fmt):
    legacy = fmt == "legacy"

    def pid(*fields: bytes) -> bytes:
        return b"(" + b"".join(fields) + (op_value(None) if legacy else b"") + b"t"

    storage, key, cpu, numel = op_value("storage"), op_value("0"), op_value("cpu"), op_value(12)
    bad_pids = {
        "holds a whole nn.Module": b"(" + op_value("module") + op_value("Net") + b"t",
        "not a storage reference": pid(op_value("spam"), op_global("torch", "FloatStorage"), key, cpu, numel),
        "is not a storage reference": op_value(("storage", "0")),
        "storage type": pid(storage, op_value("FloatStorage"), key, cpu, numel),
        "key and location": pid(storage, op_global("torch", "FloatStorage"), op_value(0), cpu, numel),
    }
    for match, pid in bad_pids.items():
        _refused(_one(fmt, pid=pid), match)
    hooks_with_item = op_global("collections", "OrderedDict") + b")R(" + op_value(1) + op_value(2) + b"u"
    _refused(_one(fmt, hooks=hooks_with_item), "backward_hooks")
    _refused(_one(fmt, hooks=b"}"), "backward_hooks")
    _refused(_one(fmt, hooks=op_value(None)), "backward_hooks")
    # one storage key declared with two different types
    two = {"a": T("0", "FloatStorage", 12, 0, (2,), (1,)), "b": T("0", "IntStorage", 12, 0, (2,), (1,))}
    _refused(forge(two, {"0": np.arange(12, dtype=np.float32)}, fmt), "declared as FloatStorage")
    # a tensor whose storage argument is not a persistent id, and a persistent id outside any tensor
    def container(ops: bytes) -> bytes:
        return legacy_file(dumps(ops), {}) if legacy else zip_file(dumps(ops), {})

    not_a_storage = op_global("torch._utils", "_rebuild_tensor_v2") + b"(" + op_value("0") + op_value(0) + \
        op_value((1,)) + op_value((1,)) + op_value(False) + EMPTY_ORDERED_DICT + b"tR"
    _refused(container(dict_ops({"w": not_a_storage})), "expected a storage reference")
    _refused(container(op_value(("storage", "x")) + b"Q"), "persistent id")
    _refused(container(b"]" * 100_000 + b"a" * 99_999 + b"Q"), "persistent id")  # too deep for plain repr()


@pytest.mark.parametrize("fmt", ["zip", "legacy"])
def test_absurd_sizes(fmt, monkeypatch):
    _refused(_one(fmt, numel=2**40), "over the limit")                              # a 4 TiB storage
    _refused(_one(fmt, size=(10**6, 10**6), stride=(0, 0)), "over the limit")       # a broadcast view of 4 TB
    monkeypatch.setattr(checkpoint, "MAX_TENSORS", 3)
    many = {f"t{i}": T(str(i), "FloatStorage", 1, 0, (1,), (1,)) for i in range(4)}
    _refused(forge(many, {str(i): np.zeros(1, np.float32) for i in range(4)}, fmt), "more than 3")
    monkeypatch.setattr(checkpoint, "MAX_TOTAL_BYTES", 40)
    _refused(_one(fmt), "over the limit")


def test_wrong_argument_type():
    with pytest.raises(TypeError):
        load_checkpoint(12)
