"""The .pysr reader: round trip, agreement with the safetensors library, and a precise error for every
kind of damage."""

from __future__ import annotations

import contextlib
import json

import numpy as np
import pytest

import pysr
from pysr.errors import ModelFileError
from pysr.io.model_file import read_model
from pysr.models import espcn
from pysr.models.convert import facts_for


@pytest.fixture
def model_bytes(tmp_path):
    cfg = espcn.EspcnConfig(scale=3, channels=(8, 5), kernels=(5, 3, 3))
    graph = espcn.build(cfg, espcn.init_params(cfg, seed=1))
    model = pysr.Model(graph, facts_for("espcn", cfg, {"source": "test"}, "MIT", "tiny"))
    path = tmp_path / "tiny.pysr"
    model.save(path)
    return path.read_bytes()


def rewrite(data: bytes, edit) -> bytes:
    """Decode the header, let `edit(header)` change it, re-encode with the same data section."""
    n = int.from_bytes(data[:8], "little")
    header = json.loads(data[8 : 8 + n])
    edit(header)
    h = json.dumps(header).encode()
    return len(h).to_bytes(8, "little") + h + data[8 + n :]


def test_round_trip_and_safetensors_agree(model_bytes, tmp_path):
    from safetensors.numpy import load

    graph, facts = read_model(model_bytes)
    theirs = load(model_bytes)
    assert set(theirs) == set(graph.params)
    for k, v in theirs.items():
        np.testing.assert_array_equal(graph.params[k], v)
    assert facts["scale"] == 3 and facts["architecture"] == "espcn" and facts["temporal"] == "single"
    model = pysr.load(model_bytes)
    model.save(tmp_path / "again.pysr")
    graph2, facts2 = read_model(tmp_path / "again.pysr")
    assert graph2.to_json() == graph.to_json() and facts2 == facts
    assert all(np.array_equal(graph2.params[k], v) for k, v in graph.params.items())


@pytest.mark.parametrize("cut", [0, 3, 8, 20, -1, -7, -100])
def test_truncated(model_bytes, cut):
    data = model_bytes[:cut] if cut >= 0 else model_bytes[:cut]
    with pytest.raises(ModelFileError, match="truncated|too short|does not fit|JSON"):
        read_model(data)


def test_garbage_and_not_pysr(tmp_path):
    from safetensors.numpy import save

    with pytest.raises(ModelFileError, match="header length"):
        read_model(b"\xff" * 64)
    with pytest.raises(ModelFileError, match="not a .pysr model"):
        read_model(save({"w": np.zeros(3, np.float32)}))
    with pytest.raises(ModelFileError, match="cannot read"):
        pysr.load(tmp_path / "missing.pysr")


def test_corrupted_header_byte(model_bytes):
    data = bytearray(model_bytes)
    data[9] = 0xFE  # inside the JSON
    with pytest.raises(ModelFileError, match="JSON"):
        read_model(bytes(data))


def test_wrong_version(model_bytes):
    data = rewrite(model_bytes, lambda h: h["__metadata__"].update({"pysr.format": "2"}))
    with pytest.raises(ModelFileError, match="version '2' is not supported"):
        read_model(data)


def test_nan_weight_named(model_bytes):
    graph, _ = read_model(model_bytes)
    n = int.from_bytes(model_bytes[:8], "little")
    header = json.loads(model_bytes[8 : 8 + n])
    begin = header["conv2.weight"]["data_offsets"][0]
    data = bytearray(model_bytes)
    pos = 8 + n + begin + 4 * 7
    data[pos : pos + 4] = np.float32(np.nan).tobytes()
    msg = r"'conv2.weight' holds a non-finite value \(nan\) at index \(0, 0, 2, 1\)"
    with pytest.raises(ModelFileError, match=msg):
        read_model(bytes(data))


def test_shape_disagrees_with_graph(model_bytes):
    def edit(h):
        h["conv1.bias"]["shape"] = [2, 4]

    with pytest.raises(ModelFileError, match="conv1"):
        read_model(rewrite(model_bytes, edit))


def test_span_and_dtype_errors(model_bytes):
    with pytest.raises(ModelFileError, match="needs .* bytes"):
        read_model(rewrite(model_bytes, lambda h: h["conv1.bias"].update(shape=[9])))
    with pytest.raises(ModelFileError, match="dtype 'F16' is not supported"):
        read_model(rewrite(model_bytes, lambda h: h["conv1.bias"].update(dtype="F16")))

    def overlap(h):
        h["conv1.bias"]["data_offsets"] = h["conv1.weight"]["data_offsets"][:1] * 2

    with pytest.raises(ModelFileError):
        read_model(rewrite(model_bytes, overlap))


def test_missing_and_unused_tensors(model_bytes):
    graph_edit = lambda h: h["__metadata__"].update(  # noqa: E731
        {"pysr.graph": h["__metadata__"]["pysr.graph"].replace('"conv3.bias"', '"conv9.bias"')})
    with pytest.raises(ModelFileError, match="'conv9.bias'.* is missing"):
        read_model(rewrite(model_bytes, graph_edit))


def test_bad_facts(model_bytes):
    def edit(h):
        facts = json.loads(h["__metadata__"]["pysr.model"])
        facts["temporal"] = "sometimes"
        h["__metadata__"]["pysr.model"] = json.dumps(facts)

    with pytest.raises(ModelFileError, match="temporal"):
        read_model(rewrite(model_bytes, edit))


def _replace_in(key: str, old: str, new: str):
    def edit(h):
        assert old in h["__metadata__"][key]
        h["__metadata__"][key] = h["__metadata__"][key].replace(old, new, 1)
    return edit


@pytest.mark.parametrize("key,old,new,match", [
    ("pysr.graph", '"outputs":', '"outputs":["x"],"outputs":', "repeated key 'outputs'"),
    ("pysr.model", '"scale":3', '"scale":3,"scale":2', "repeated key 'scale'"),
    ("pysr.model", '"input_range":[0', '"input_range":[NaN', "NaN is not JSON"),
    ("pysr.graph", '"channels":1', '"channels":true', "channels must be a positive integer"),
    ("pysr.model", '"temporal":"single"', '"temporal":"window(\u00b2)"', "temporal must be"),
])
def test_json_is_strict(model_bytes, key, old, new, match):
    """docs/model-file.md §1: RFC 8259 JSON, no repeated keys, no NaN literal, booleans are not numbers."""
    with pytest.raises(ModelFileError, match=match):
        read_model(rewrite(model_bytes, _replace_in(key, old, new)))


def test_shape_entries_are_integers_not_booleans(model_bytes):
    def edit(h):
        assert h["conv1.weight"]["shape"][1] == 1
        h["conv1.weight"]["shape"][1] = True         # the same byte count if read as 1
    with pytest.raises(ModelFileError, match="conv1.weight"):
        read_model(rewrite(model_bytes, edit))


def test_unknown_op_in_graph(model_bytes):
    edit = lambda h: h["__metadata__"].update(  # noqa: E731
        {"pysr.graph": h["__metadata__"]["pysr.graph"].replace('"op":"pixel_shuffle"', '"op":"magic"')})
    with pytest.raises(ModelFileError, match="unknown op 'magic'"):
        read_model(rewrite(model_bytes, edit))


def test_random_damage_never_escapes_as_another_error(model_bytes):
    """Flip bytes all over the header and the data: the reader either accepts the file or raises
    ModelFileError — never another exception type."""
    rng = np.random.default_rng(3)
    n = int.from_bytes(model_bytes[:8], "little")
    for trial in range(300):
        data = bytearray(model_bytes)
        hi = 8 + n if trial % 3 else len(data)
        for pos in rng.integers(0, hi, size=rng.integers(1, 4)):
            data[pos] = int(rng.integers(0, 256))
        with contextlib.suppress(ModelFileError):
            read_model(bytes(data))


# ---- reader limits (docs/model-file.md §1): this reader and libpysr's refuse and accept the same files ------------

LIMIT_FACTS = {"architecture": "test", "scale": 1, "colour": {"mode": "rgb"}, "input_range": [0, 1],
               "receptive_field": 0, "temporal": "single", "licence": "MIT", "provenance": {"source": "test"}}


def limit_graph(channels: int = 3, op: str = "pad", attrs: dict | None = None, params: dict | None = None) -> dict:
    attrs = {"pads": [0, 0, 0, 0]} if attrs is None and op == "pad" else attrs or {}
    node = {"op": op, "name": "n", "inputs": ["x"], "outputs": ["y"], "params": params or {}, "attrs": attrs}
    return {"inputs": [{"name": "x", "channels": channels}], "outputs": ["y"], "nodes": [node]}


def pysr_file(graph=None, facts=None, tensors=None, header_bytes: int | None = None) -> bytes:
    """A .pysr file written by hand (no checks): graph and facts as dicts or JSON text, the header padded with
    spaces to `header_bytes`."""
    graph, facts, tensors = graph or limit_graph(), facts or LIMIT_FACTS, tensors or {}
    meta = {"pysr.format": "1", "pysr.graph": graph if isinstance(graph, str) else json.dumps(graph),
            "pysr.model": facts if isinstance(facts, str) else json.dumps(facts)}
    header, body = {"__metadata__": meta}, b""
    for name, arr in tensors.items():
        header[name] = {"dtype": "F32", "shape": list(arr.shape), "data_offsets": [len(body), len(body) + arr.nbytes]}
        body += np.ascontiguousarray(arr, "<f4").tobytes()
    h = json.dumps(header).encode()
    if header_bytes is not None:
        h += b" " * (header_bytes - len(h))
    return len(h).to_bytes(8, "little") + h + body


def json_values(v) -> int:
    """Values in a JSON document as libpysr counts them (every value, containers too; keys are not values)."""
    children = v.values() if isinstance(v, dict) else v if isinstance(v, list) else ()
    return 1 + sum(json_values(c) for c in children)


def nested(depth: int, inner: str = "0") -> str:
    return "[" * depth + inner + "]" * depth


def facts_with(**provenance) -> dict:
    return {**LIMIT_FACTS, "provenance": {"source": "test", **provenance}}


def facts_json_with(extra: str) -> str:
    """The facts as JSON text with `extra` (raw JSON members) added to the provenance."""
    text = json.dumps(facts_with())
    return text.replace('{"source": "test"}', '{"source": "test", ' + extra + "}")


def values_facts(total: int) -> dict:
    base = facts_with(list=[])
    return facts_with(list=[0] * (total - json_values(base)))


def zeros_header(n: int) -> bytes:
    """A file whose header is the JSON list [0,0,…,0] of n bytes."""
    return n.to_bytes(8, "little") + b"[" + b"0," * (n // 2 - 1) + b"0]"


M20, M24, I32 = 1 << 20, 1 << 24, 2**31 - 1
W1 = {"weight": "w"}
W1_TENSOR = {"w": np.ones((3, 3, 1, 1), np.float32)}

# name: (file just over the limit, Python's message, file at the limit or None where one costs too much)
LIMIT_CASES = {
    "header bytes": (lambda: pysr_file(header_bytes=(16 << 20) + 1), "header length",
                     lambda: pysr_file(header_bytes=16 << 20)),
    "JSON depth": (lambda: pysr_file(facts=facts_json_with('"deep": ' + nested(255))), "nests a value 257 deep",
                   lambda: pysr_file(facts=facts_json_with('"deep": ' + nested(254)))),
    # an empty container at depth 256 holds no value at 257: within the limit
    "JSON depth, empty innermost": (None, None, lambda: pysr_file(facts=facts_json_with('"deep": ' + nested(255, "")))),
    "JSON values": (lambda: pysr_file(facts=values_facts(M20 + 1)), "holds at least 1048577 values, more than the",
                    lambda: pysr_file(facts=values_facts(M20))),
    # 16 MiB of "0," as the header: refused by the value count before anything is built (in ~0.1 s)
    "header JSON values": (lambda: zeros_header(16 << 20), "header JSON holds at least .* values, more than the limit",
                           None),
    "number range": (lambda: pysr_file(facts=facts_json_with('"x": 1e309')), "out of float range",
                     lambda: pysr_file(facts=facts_json_with('"x": 1.7e308'))),
    "integer range": (lambda: pysr_file(facts=facts_json_with('"x": 1' + "0" * 309)), "out of float range",
                      lambda: pysr_file(facts=facts_json_with('"x": 1' + "0" * 307))),
    "input channels": (lambda: pysr_file(limit_graph(M20 + 1)), "channels must be a positive integer, at most 2",
                       lambda: pysr_file(limit_graph(M20))),  # 1 × 2^20 × 64 × 64: 2^32 elements, at that limit too
    "value elements": (lambda: pysr_file(limit_graph(M20, attrs={"pads": [0, 1, 0, 0]})), "at most 2.32 elements",
                       None),
    "scale int32": (lambda: pysr_file(facts={**LIMIT_FACTS, "scale": I32 + 1}), "'scale' must be an int32",
                    lambda: pysr_file(facts={**LIMIT_FACTS, "scale": I32})),
    "receptive_field int32": (lambda: pysr_file(facts={**LIMIT_FACTS, "receptive_field": I32 + 1}),
                              "'receptive_field' must be an int32",
                              lambda: pysr_file(facts={**LIMIT_FACTS, "receptive_field": I32})),
    "window digits": (lambda: pysr_file(facts={**LIMIT_FACTS, "temporal": "window(1000000000)"}), "at most 9 digits",
                      lambda: pysr_file(facts={**LIMIT_FACTS, "temporal": "window(999999999)"})),
    "conv2d stride int32": (lambda: pysr_file(limit_graph(3, "conv2d", {"stride": I32 + 1}, W1), tensors=W1_TENSOR),
                            r"stride=2147483648 must be an integer in \[1, 2\^31 - 1\]",
                            lambda: pysr_file(limit_graph(3, "conv2d", {"stride": I32}, W1), tensors=W1_TENSOR)),
    "conv2d padding": (lambda: pysr_file(limit_graph(3, "conv2d", {"padding": [M20 + 1, 0]}, W1), tensors=W1_TENSOR),
                       r"padding=1048577 must be an integer in \[0, 2\^20\]",
                       lambda: pysr_file(limit_graph(3, "conv2d", {"padding": [M20, 0]}, W1), tensors=W1_TENSOR)),
    "pad pads": (lambda: pysr_file(limit_graph(1, attrs={"pads": [M24 + 1, 0, 0, 0]})),
                 r"pads=16777217 must be an integer in \[0, 2\^24\]",
                 lambda: pysr_file(limit_graph(1, attrs={"pads": [M24, 0, 0, 0]}))),
    "split sizes": (lambda: pysr_file(limit_graph(3, "split", {"sizes": [M24 + 1]})),
                    r"sizes=16777217 must be an integer in \[1, 2\^24\]", None),
    "pixel_shuffle scale int32": (lambda: pysr_file(limit_graph(3, "pixel_shuffle", {"scale": I32 + 1})),
                                  r"scale=2147483648 must be an integer in \[1, 2\^31 - 1\]", None),
    # not limits, but places where the two readers once disagreed
    "lone surrogates read as U+FFFD": (lambda: pysr_file(facts=facts_json_with(r'"\ud800": 1, "\udfff": 2')),
                                       "repeated key '\ufffd'",
                                       lambda: pysr_file(facts=facts_json_with(r'"\ud83d\ude00": 1, "\ud83d": 2'))),
    "input_range of booleans": (lambda: pysr_file(facts={**LIMIT_FACTS, "input_range": [False, True]}),
                                "input_range must be", None),
}


@pytest.fixture(scope="module")
def native_reader(tmp_path_factory):
    """libpysr's reader through ctypes: the build of tests/test_native_lib.py (one per test run)."""
    import test_native_lib as native_lib

    return native_lib.Lib(native_lib.built(tmp_path_factory)["lib"])


@pytest.mark.parametrize("case", LIMIT_CASES)
def test_reader_limits_agree_with_libpysr(native_reader, case):
    over, message, under = LIMIT_CASES[case]
    if over is not None:
        data = over()
        with pytest.raises(ModelFileError, match=message):
            pysr.load(data)
        status, msg = native_reader.try_load(data)
        assert status == 3, f"{case}: libpysr {'accepts' if status == 0 else f'status {status}: {msg}'}"
    if under is not None:
        data = under()
        pysr.load(data)
        status, msg = native_reader.try_load(data)
        assert status == 0, f"{case}: libpysr refuses the file at the limit: {msg}"


def test_value_size_limit_at_run_time():
    """A plan's values obey the same limit as the load-time check (libpysr: a session's shape error)."""
    from pysr.errors import ShapeError
    from pysr.graph.graph import Graph, Node

    graph = Graph({"x": 1}, ["y"], [Node("pad", "p", ["x"], ["y"], attrs={"pads": (0, 0, 0, 0)})], {})
    assert graph.infer_shapes({"x": (1, 1, 1, 2**31 - 1)})["y"] == (1, 1, 1, 2**31 - 1)
    with pytest.raises(ShapeError, match=r"graph input 'x' would have shape \(1, 1, 1, 2147483648\)"):
        graph.infer_shapes({"x": (1, 1, 1, 2**31)})
    with pytest.raises(ShapeError, match="at most 2.32 elements"):
        graph.infer_shapes({"x": (2, 1, 2**16, 2**15 + 1)})


@pytest.mark.parametrize("slice_bytes", [1, 3, 1 << 20])
def test_json_limit_scan_counts_like_the_parser(monkeypatch, slice_bytes):
    """check_json_limits counts values and depth on the bytes (no parse): exact for valid JSON, with brackets, commas
    and escaped quotes inside strings and empty containers, across the slices it scans in."""
    from pysr.io import model_file as mf

    def depth(v, d=0):
        children = list(v.values()) if isinstance(v, dict) else v if isinstance(v, list) else []
        return max([d] + [depth(c, d + 1) for c in children])

    docs = [[], {}, [[[]]], [0, [1, [2, {"a": []}]]], ['a"b', "[{,", "\\", "\\\"]", {"k,[": [{}], '"': "x"}],
            {"a": [[], [[]], {"b": {"c": [1, 2, "]]]"]}}]}, [[[[["\u00e9\u4e2d"]]]], [{}], "s"]]
    monkeypatch.setattr(mf, "_SLICE", slice_bytes)
    for doc in docs:
        for indent in (None, 1):
            text = json.dumps(doc, indent=indent, ensure_ascii=False).encode()
            n, d = json_values(doc), depth(doc)
            monkeypatch.setattr(mf, "MAX_JSON_VALUES", n)
            monkeypatch.setattr(mf, "MAX_JSON_DEPTH", d)
            mf.check_json_limits(text)  # at both limits: accepted
            monkeypatch.setattr(mf, "MAX_JSON_VALUES", n - 1)
            with pytest.raises(mf.JsonLimitError, match="values"):
                mf.check_json_limits(text)
            if d > 0:
                monkeypatch.setattr(mf, "MAX_JSON_VALUES", n)
                monkeypatch.setattr(mf, "MAX_JSON_DEPTH", d - 1)
                with pytest.raises(mf.JsonLimitError, match="deep"):
                    mf.check_json_limits(text)
