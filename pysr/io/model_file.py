"""The `.pysr` model file: a safetensors container (docs/model-file.md is the full specification).

    [8 bytes: N, little-endian u64][N bytes: JSON header][tensor data]

The header maps tensor names to {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]} (offsets
into the data section) and holds "__metadata__" with string values: "pysr.format" (the integer version),
"pysr.graph" (graph JSON) and "pysr.model" (model facts JSON). The reader here is strict and names the
first problem; the writer uses the safetensors library.
"""

from __future__ import annotations

import json
import math
import os
import re
from pathlib import Path

import numpy as np

from pysr.errors import ModelFileError, PysrError
from pysr.graph.graph import Graph

FORMAT_VERSION = 1
# Reader limits (docs/model-file.md §1, "Limits"), the same in libpysr: no real model comes near them, and they keep
# a hostile file from taking gigabytes or minutes. The value-size and attribute limits are in pysr/graph/graph.py
# and pysr/ops/spec.py.
MAX_HEADER_BYTES = 16 << 20
MAX_JSON_DEPTH = 256            # containers around any value of a JSON document
MAX_JSON_VALUES = 1 << 20       # values in one JSON document (object keys are not values)
INT32_MAX = 2**31 - 1           # integer facts (scale, receptive_field, a carry's scale) are int32
MAX_WINDOW_DIGITS = 9           # window(k): k has at most 9 digits, so 2k + 1 frames fits int32
NOMINAL_SIZE = 64  # H = W used to check parameter shapes against the graph at load time
TEMPORAL_KINDS = ("single", "recurrent")  # and "window(k)" with k >= 1
FACT_KEYS = {
    "architecture": str, "scale": int, "colour": dict, "input_range": list, "receptive_field": int,
    "temporal": str, "licence": str, "provenance": dict,
}
OPTIONAL_FACT_KEYS = {"name": str, "config": dict, "description": str, "state": dict}
COLOUR_MODES = ("y", "rgb")


def write_model(path: str | os.PathLike, graph: Graph, facts: dict) -> None:
    """Validate and write atomically (a temp file renamed into place: never a half-written model)."""
    from safetensors.numpy import save

    check_facts(facts)
    graph.validate()
    check_state(facts, graph)
    check_params_against_graph(graph, facts)
    for name, value in graph.params.items():
        if not np.isfinite(value).all():
            raise ModelFileError(f"refusing to write {path}: parameter {name!r} holds NaN or infinite values")
    meta = {
        "pysr.format": str(FORMAT_VERSION),
        "pysr.graph": json.dumps(graph.to_json(), separators=(",", ":")),
        "pysr.model": json.dumps(facts, separators=(",", ":"), sort_keys=True),
    }
    tensors = {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in graph.params.items()}
    data = save(tensors, metadata=meta)
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def read_model(source: str | os.PathLike | bytes) -> tuple[Graph, dict]:
    """Read and fully check a `.pysr` file (path or bytes). ModelFileError names the first problem."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        data, where = bytes(source), "<bytes>"
    else:
        where = str(source)
        try:
            data = Path(source).read_bytes()
        except OSError as err:
            raise ModelFileError(f"{where}: cannot read: {err.strerror or err}") from None
    try:
        return _parse(data, where)
    except ModelFileError:
        raise
    except PysrError as err:
        raise ModelFileError(f"{where}: {err}") from None
    except (TypeError, KeyError, AttributeError, ValueError, RecursionError) as err:
        # Well-formed JSON of the wrong structure somewhere the checks above did not anticipate.
        raise ModelFileError(f"{where}: malformed graph or facts ({type(err).__name__}: {err})") from None


def _fail(where: str, msg: str, hint: str | None = None):
    raise ModelFileError(f"{where}: {msg}", hint)


def _unique_keys(pairs: list) -> dict:
    out = dict(pairs)
    if len(out) != len(pairs):  # name the first key seen twice, as libpysr does (linear: 10^6 keys are allowed)
        seen: set = set()
        raise ValueError(f"repeated key {next(k for k, _ in pairs if k in seen or seen.add(k))!r}")
    return out


def _no_constant(name: str):
    raise ValueError(f"{name} is not JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text[:40]} is out of float range")
    return value


def _finite_int(text: str) -> int:
    # as libpysr: an integer literal must fit a double too (1e400 written out is refused, not kept as a bignum)
    _finite_float(text)
    return int(text)


class JsonLimitError(ValueError):
    """A JSON document over a reader limit (MAX_JSON_DEPTH, MAX_JSON_VALUES)."""


_OPEN, _CLOSE = np.frombuffer(b"[{", np.uint8), np.frombuffer(b"]}", np.uint8)
_SPACE = np.frombuffer(b" \t\n\r", np.uint8)
_NOT_VALUE = np.frombuffer(b",:]}", np.uint8)   # every other byte outside strings is part of some value
_SLICE = 1 << 20


def check_json_limits(doc: bytes) -> None:
    """libpysr's JSON limits on one document, checked on its bytes before parsing so that a hostile document never
    becomes millions of Python objects: no value inside more than MAX_JSON_DEPTH containers and at most
    MAX_JSON_VALUES values (JsonLimitError). Exact for valid JSON; vectorised, in 1 MiB slices (a 16 MiB header
    takes ~0.2 s and ~50 MiB whatever it holds)."""
    opens = doc.count(b"[") + doc.count(b"{")
    if opens <= MAX_JSON_DEPTH and 1 + doc.count(b",") + opens <= MAX_JSON_VALUES:
        return  # upper bounds (brackets and commas inside strings counted too): every real header ends here
    a = np.frombuffer(doc, np.uint8)
    values, depth, quotes, backslashes, last = 1, 0, 0, 0, 0  # carried from slice to slice
    for i in range(0, len(a), _SLICE):
        c = a[i : i + _SLICE]
        # Strings out. A quote closes or opens one unless an odd run of backslashes precedes it (valid JSON has
        # backslashes only inside strings); the quotes seen so far say which bytes are inside.
        pos = np.arange(len(c))
        plain = np.maximum.accumulate(np.where(c == ord("\\"), -1, pos))  # last non-backslash at or before
        q = np.flatnonzero(c == ord('"'))
        before = np.where(q > 0, plain[np.maximum(q - 1, 0)], -1)
        run = np.where(before >= 0, q - 1 - before, q + backslashes)
        backslashes = len(c) - 1 - plain[-1] if plain[-1] >= 0 else len(c) + backslashes
        toggle = np.zeros(len(c), np.int8)
        toggle[q[run % 2 == 0]] = 1
        inside = (np.cumsum(toggle) + quotes) % 2 == 1
        quotes += int(toggle.sum())
        t = c[~inside & ~np.isin(c, _SPACE)]  # the structure: brackets, commas, colons, scalars, closing quotes
        if not len(t):
            continue
        # Values: 1 + commas + containers that held something, counted as they close (not right after the opener):
        # never more than so far, exact at the end.
        is_open, is_close = np.isin(t, _OPEN), np.isin(t, _CLOSE)
        held = is_close & ~np.isin(np.concatenate(([last], t[:-1])), _OPEN)
        values += int((t == ord(",")).sum()) + int(held.sum())
        # Depth of a value: the containers open before its first byte.
        steps = is_open.astype(np.int64) - is_close
        after = depth + np.cumsum(steps)
        deepest = int((after - steps)[~np.isin(t, _NOT_VALUE)].max(initial=0))
        if deepest > MAX_JSON_DEPTH:
            raise JsonLimitError(f"nests a value {deepest} deep, more than the limit of {MAX_JSON_DEPTH}")
        if values > MAX_JSON_VALUES:
            raise JsonLimitError(f"holds at least {values} values, more than the limit of 2^20 = {MAX_JSON_VALUES}")
        depth, last = int(after[-1]), int(t[-1])


_SURROGATE = re.compile("[\ud800-\udfff]")


def _fffd(v):
    """v with every surrogate of its strings as U+FFFD; lists are walked, objects were done by their hook."""
    if isinstance(v, str):
        return _SURROGATE.sub("\ufffd", v)
    return [_fffd(x) for x in v] if isinstance(v, list) else v


def _unique_keys_fffd(pairs: list) -> dict:
    return _unique_keys([(_fffd(k), _fffd(v)) for k, v in pairs])


def strict_json(text: str | bytes):
    """RFC 8259 JSON as the spec requires it (docs/model-file.md §1): repeated keys in an object, the non-standard
    NaN / Infinity literals and numbers beyond float range are errors (ValueError), and so is a document over the
    reader limits (JsonLimitError). Bytes are decoded as UTF-8 first (UnicodeDecodeError, a ValueError).
    As in libpysr, a \\u escape of a lone surrogate reads as U+FFFD (Python's json keeps the surrogate, which no
    UTF-8 string holds): the two readers see the same names, and the same repeated keys."""
    if isinstance(text, str):
        raw = text.encode("utf-8", "surrogatepass")
    else:
        raw = bytes(text)
        text = raw.decode("utf-8")
    check_json_limits(raw)
    fffd = re.search(r"\\u[dD][89a-fA-F]", text) is not None  # only then can a lone surrogate come out
    doc = json.loads(text, object_pairs_hook=_unique_keys_fffd if fffd else _unique_keys,
                     parse_constant=_no_constant, parse_float=_finite_float, parse_int=_finite_int)
    return _fffd(doc) if fffd else doc


def _parse(data: bytes, where: str) -> tuple[Graph, dict]:
    if len(data) < 8:
        _fail(where, f"file is {len(data)} bytes, too short for a .pysr header (8-byte length + JSON)")
    n = int.from_bytes(data[:8], "little")
    if n > MAX_HEADER_BYTES or 8 + n > len(data):
        _fail(where, f"header length {n} does not fit the file ({len(data)} bytes): truncated or not a .pysr file")
    try:
        header = strict_json(data[8 : 8 + n])
    except JsonLimitError as err:
        _fail(where, f"header JSON {err} (a limit of libpysr's reader, docs/model-file.md §1)")
    except (UnicodeDecodeError, ValueError) as err:
        _fail(where, f"header is not valid UTF-8 JSON ({err})")
    if not isinstance(header, dict):
        _fail(where, "header JSON is not an object")
    meta = header.pop("__metadata__", None)
    if not isinstance(meta, dict) or not all(isinstance(v, str) for v in meta.values()):
        _fail(where, "no string-valued __metadata__: this is a safetensors file but not a .pysr model",
              "convert checkpoints with `pysr import`")
    fmt = meta.get("pysr.format")
    if fmt is None:
        _fail(where, "metadata has no 'pysr.format': not a .pysr model", "convert checkpoints with `pysr import`")
    if fmt != str(FORMAT_VERSION):
        _fail(where, f"format version {fmt!r} is not supported (this pysr reads version {FORMAT_VERSION})",
              "upgrade pysr or re-export the model")
    body = memoryview(data)[8 + n :]
    params = _tensors(header, body, where)
    docs = {}
    for key in ("pysr.graph", "pysr.model"):
        try:
            docs[key] = strict_json(meta.get(key, ""))
        except JsonLimitError as err:
            _fail(where, f"metadata {key!r}: JSON {err} (a limit of libpysr's reader, docs/model-file.md §1)")
        except ValueError as err:
            _fail(where, f"metadata 'pysr.graph' or 'pysr.model' is missing or not JSON ({key}: {err})")
    graph_json, facts = docs["pysr.graph"], docs["pysr.model"]
    check_facts(facts)
    graph = Graph.from_json(graph_json, params)
    graph.validate()
    check_state(facts, graph)
    used = {p for node in graph.nodes for p in node.params.values()}
    unused = sorted(set(params) - used)
    if unused:
        _fail(where, f"tensor {unused[0]!r} is not used by any node of the graph ({len(unused)} unused)")
    check_params_against_graph(graph, facts)
    return graph, facts


_DTYPES = {"F32": np.dtype("<f4")}


def _tensors(header: dict, body: memoryview, where: str) -> dict[str, np.ndarray]:
    spans = []
    params = {}
    for name, info in header.items():
        if not isinstance(info, dict) or set(info) != {"dtype", "shape", "data_offsets"}:
            _fail(where, f"tensor {name!r}: entry must have exactly dtype, shape, data_offsets")
        dtype, shape, offs = info["dtype"], info["shape"], info["data_offsets"]
        if dtype not in _DTYPES:
            _fail(where, f"tensor {name!r}: dtype {dtype!r} is not supported (format {FORMAT_VERSION} stores F32)")
        if not isinstance(shape, list) or not all(type(s) is int and s >= 0 for s in shape):
            _fail(where, f"tensor {name!r}: shape {shape!r} is not a list of non-negative integers")
        if (not isinstance(offs, list) or len(offs) != 2 or not all(type(o) is int for o in offs)
                or not 0 <= offs[0] <= offs[1]):
            _fail(where, f"tensor {name!r}: data_offsets {offs!r} must be [begin, end] with 0 <= begin <= end")
        nbytes = math.prod(shape) * _DTYPES[dtype].itemsize
        if offs[1] - offs[0] != nbytes:
            _fail(where, f"tensor {name!r}: shape {shape} needs {nbytes} bytes, data_offsets span {offs[1] - offs[0]}")
        if offs[1] > len(body):
            _fail(where, f"tensor {name!r}: data ends at byte {offs[1]} but the data section has {len(body)} bytes "
                  "(file truncated?)")
        spans.append((offs[0], offs[1], name))
        arr = np.frombuffer(body[offs[0] : offs[1]], dtype=_DTYPES[dtype]).reshape(shape).astype(np.float32)
        bad = ~np.isfinite(arr)
        if bad.any():
            idx = tuple(int(i) for i in np.argwhere(bad)[0])
            _fail(where, f"tensor {name!r} holds a non-finite value ({arr[idx]}) at index {idx}")
        params[name] = arr
    pos = 0
    for begin, end, name in sorted(spans):
        if begin != pos:
            _fail(where, f"tensor {name!r} starts at byte {begin}, expected {pos} (overlap or gap in the data)")
        pos = end
    if pos != len(body):
        _fail(where, f"data section has {len(body) - pos} bytes after the last tensor")
    return params


def check_params_against_graph(graph: Graph, facts: dict | None = None) -> None:
    """Every parameter's shape must fit its op: run shape inference on a nominal input size (a recurrent model's
    carried inputs at their state scale times it)."""
    scale = {c["input"]: c["scale"] for c in (facts or {}).get("state", {}).get("carry", [])}
    size = {k: NOMINAL_SIZE * scale.get(k, 1) for k in graph.inputs}
    shapes = {k: (1, c, size[k], size[k]) for k, c in graph.inputs.items()}
    graph.infer_shapes(shapes)


STATE_INITIAL = ("zeros", "frame")


def check_state(facts: dict, graph: Graph) -> None:
    """A recurrent model's `state` (docs/temporal.md): {"frame_input": graph input, "frame_output": graph output,
    "carry": [{"input": graph input, "from": graph input or output, "scale": int >= 1, "initial": "zeros" | "frame"},
    …]}; every graph input but the frame input is carried exactly once. Other temporal kinds have no `state`."""
    state = facts.get("state")
    if facts["temporal"] != "recurrent":
        if state is not None:
            raise ModelFileError(f"model facts: 'state' is only for recurrent models, not {facts['temporal']!r}")
        return
    if not isinstance(state, dict) or set(state) != {"frame_input", "frame_output", "carry"}:
        raise ModelFileError("model facts: a recurrent model needs 'state' with exactly the keys carry, frame_input, "
                             f"frame_output; got {state!r}")
    if state["frame_input"] not in graph.inputs or state["frame_output"] not in graph.outputs:
        raise ModelFileError(f"model facts: state frame_input {state['frame_input']!r} / frame_output "
                             f"{state['frame_output']!r} must be a graph input / output ({list(graph.inputs)} / "
                             f"{graph.outputs})")
    carry = state["carry"]
    if not isinstance(carry, list):
        raise ModelFileError("model facts: state.carry must be a list")
    carried = []
    for c in carry:
        if not isinstance(c, dict) or set(c) != {"input", "from", "scale", "initial"}:
            raise ModelFileError(f"model facts: a state.carry entry has exactly input, from, scale, initial; got {c!r}")
        if c["input"] not in graph.inputs or c["input"] == state["frame_input"]:
            raise ModelFileError(f"model facts: state carries {c['input']!r}, which is not a state input of the graph")
        if c["from"] not in graph.inputs and c["from"] not in graph.outputs:
            raise ModelFileError(f"model facts: state carry 'from' {c['from']!r} is neither a graph input nor output")
        if type(c["scale"]) is not int or not 1 <= c["scale"] <= INT32_MAX or c["initial"] not in STATE_INITIAL:
            raise ModelFileError(f"model facts: state carry {c['input']!r}: scale must be an integer >= 1 and initial "
                                 f"one of {STATE_INITIAL}, got {c['scale']!r}, {c['initial']!r}")
        carried.append(c["input"])
    want = sorted(set(graph.inputs) - {state["frame_input"]})
    if sorted(carried) != want:
        raise ModelFileError(f"model facts: state must carry each of the inputs {want} once, carries {carried}")


def check_facts(facts) -> None:
    if not isinstance(facts, dict):
        raise ModelFileError("model facts ('pysr.model') must be a JSON object")
    for key, typ in FACT_KEYS.items():
        if key not in facts:
            raise ModelFileError(f"model facts: {key!r} is missing")
        if not isinstance(facts[key], typ) or isinstance(facts[key], bool):
            raise ModelFileError(f"model facts: {key!r} must be {typ.__name__}, got {facts[key]!r}")
        if typ is int and not -INT32_MAX - 1 <= facts[key] <= INT32_MAX:
            raise ModelFileError(f"model facts: {key!r} must be an int32, in [-2^31, 2^31 - 1], got {facts[key]!r}")
    for key in set(facts) - set(FACT_KEYS):
        if key not in OPTIONAL_FACT_KEYS:
            raise ModelFileError(f"model facts: unknown key {key!r}")
        if not isinstance(facts[key], OPTIONAL_FACT_KEYS[key]):
            raise ModelFileError(f"model facts: {key!r} must be {OPTIONAL_FACT_KEYS[key].__name__}")
    if facts["scale"] < 1:
        raise ModelFileError(f"model facts: scale must be >= 1, got {facts['scale']}")
    if facts["receptive_field"] < 0:
        raise ModelFileError("model facts: receptive_field must be >= 0")
    colour = facts["colour"]
    if colour.get("mode") not in COLOUR_MODES:
        raise ModelFileError(f"model facts: colour.mode must be one of {COLOUR_MODES}, got {colour.get('mode')!r}")
    rng = facts["input_range"]
    if len(rng) != 2 or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in rng) \
            or rng[0] >= rng[1]:
        raise ModelFileError(f"model facts: input_range must be [lo, hi] with lo < hi, got {rng!r}")
    t = facts["temporal"]
    window = re.fullmatch(rf"window\(([0-9]{{1,{MAX_WINDOW_DIGITS}}})\)", t)
    if t not in TEMPORAL_KINDS and not (window and int(window.group(1)) >= 1):
        raise ModelFileError("model facts: temporal must be single, recurrent or window(k) with k >= 1 of at most "
                             f"{MAX_WINDOW_DIGITS} digits, got {t!r}")
