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
