"""Graph: named ops in execution order, named values between them, named parameters.

Values are NCHW float32 tensors named by strings. A node lists its input values, output values,
parameter slots (slot -> parameter name) and attributes. The order of `nodes` is an execution order;
`validate` checks that every value is produced once, before it is used.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import numpy as np

from pysr.errors import GraphError, PysrError, ShapeError
from pysr.ops import spec

Shape = tuple[int, ...]

# Limits shared with libpysr (docs/model-file.md §1): a graph input has at most 2^20 channels; every value is
# (N, C, H, W) with each dimension in [1, 2^31 - 1] (the C API's int32 sizes) and at most 2^32 elements (16 GiB of
# float32), at the load-time check's size and at every size a plan is compiled for.
MAX_INPUT_CHANNELS = 1 << 20
MAX_VALUE_DIM = 2**31 - 1
MAX_VALUE_ELEMENTS = 1 << 32


@dataclass
class Node:
    op: str
    name: str
    inputs: list[str]
    outputs: list[str]
    params: dict[str, str] = field(default_factory=dict)
    attrs: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        return {
            "op": self.op,
            "name": self.name,
            "inputs": list(self.inputs),
            "outputs": list(self.outputs),
            "params": dict(self.params),
            "attrs": _jsonable(self.attrs),
        }

    @staticmethod
    def from_json(d: dict) -> Node:
        if not isinstance(d, dict):
            raise GraphError(f"a node must be a JSON object, got {type(d).__name__}")
        keys = {"op", "name", "inputs", "outputs", "params", "attrs"}
        missing, unknown = keys - set(d), set(d) - keys
        if missing or unknown:
            raise GraphError(f"node {d.get('name', '?')!r}: missing keys {sorted(missing)}, unknown {sorted(unknown)}")
        for k in ("op", "name"):
            if not isinstance(d[k], str):
                raise GraphError(f"node {d.get('name')!r}: {k!r} must be a string")
        for k in ("inputs", "outputs"):
            if not isinstance(d[k], list) or not all(isinstance(v, str) for v in d[k]):
                raise GraphError(f"node {d['name']!r}: {k!r} must be a list of value names")
        if not isinstance(d["params"], dict) or not all(isinstance(v, str) for v in d["params"].values()):
            raise GraphError(f"node {d['name']!r}: 'params' must map slot names to parameter names")
        if not isinstance(d["attrs"], dict):
            raise GraphError(f"node {d['name']!r}: 'attrs' must be an object")
        attrs = {k: tuple(v) if isinstance(v, list) else v for k, v in d["attrs"].items()}
        return Node(d["op"], d["name"], list(d["inputs"]), list(d["outputs"]), dict(d["params"]), attrs)


def _jsonable(attrs: dict) -> dict:
    out = {}
    for k, v in attrs.items():
        if isinstance(v, tuple):
            v = list(v)
        elif isinstance(v, np.generic):
            v = v.item()
        out[k] = v
    return out


@dataclass
class Graph:
    inputs: dict[str, int]                  # input value name -> channel count (H, W free)
    outputs: list[str]
    nodes: list[Node]
    params: dict[str, np.ndarray]

    def copy(self) -> Graph:
        return Graph(dict(self.inputs), list(self.outputs), copy.deepcopy(self.nodes), dict(self.params))

    def canonical(self) -> Graph:
        """A copy with every node's attributes completed with the op's defaults (and checked)."""
        g = self.copy()
        for node in g.nodes:
            try:
                node.attrs = spec(node.op).merge_attrs(node.attrs)
            except PysrError as err:
                raise GraphError(f"node {node.name!r} ({node.op}): {err}") from None
        return g

    def to_json(self) -> dict:
        return {
            "inputs": [{"name": n, "channels": c} for n, c in self.inputs.items()],
            "outputs": list(self.outputs),
            "nodes": [n.to_json() for n in self.nodes],
        }

    @staticmethod
    def from_json(d: dict, params: dict[str, np.ndarray]) -> Graph:
        if not isinstance(d, dict) or set(d) != {"inputs", "outputs", "nodes"}:
            raise GraphError("graph JSON must be an object with exactly 'inputs', 'outputs' and 'nodes'")
        inputs = {}
        for item in d["inputs"] if isinstance(d["inputs"], list) else [None]:
            if not isinstance(item, dict) or set(item) != {"name", "channels"}:
                raise GraphError(f"graph input must be {{'name': str, 'channels': int}}, got {item!r}")
            if type(item["channels"]) is not int or not 0 < item["channels"] <= MAX_INPUT_CHANNELS:
                raise GraphError(f"graph input {item['name']!r}: channels must be a positive integer, at most 2^20 "
                                 f"(a limit of the reader), got {item['channels']!r}")
            inputs[item["name"]] = item["channels"]
        if not isinstance(d["outputs"], list) or not all(isinstance(o, str) for o in d["outputs"]):
            raise GraphError("graph 'outputs' must be a list of value names")
        if not isinstance(d["nodes"], list):
            raise GraphError("graph 'nodes' must be a list")
        return Graph(inputs, list(d["outputs"]), [Node.from_json(n) for n in d["nodes"]], params)

    # ---- queries ------------------------------------------------------------------------------

    def producers(self) -> dict[str, int]:
        return {v: i for i, n in enumerate(self.nodes) for v in n.outputs}

    def consumers(self) -> dict[str, list[int]]:
        out: dict[str, list[int]] = {}
        for i, n in enumerate(self.nodes):
            for v in n.inputs:
                out.setdefault(v, []).append(i)
        return out

    def node_params(self, node: Node) -> dict[str, np.ndarray]:
        return {slot: self.params[p] for slot, p in node.params.items()}

    # ---- checks -------------------------------------------------------------------------------

    def validate(self) -> None:
        """Structure: known ops, attrs valid, every value defined once before use, params present."""
        defined = set(self.inputs)
        names = set()
        if not self.outputs:
            raise GraphError("graph has no outputs")
        for node in self.nodes:
            where = f"node {node.name!r} ({node.op})"
            if node.name in names:
                raise GraphError(f"{where}: duplicate node name")
            names.add(node.name)
            s = spec(node.op)
            try:
                s.merge_attrs(node.attrs)
            except PysrError as err:
                raise GraphError(f"{where}: {err}") from None
            for v in node.inputs:
                if v not in defined:
                    raise GraphError(f"{where}: input value {v!r} is not produced by any earlier node or input")
            slots = set(s.param_names())
            for slot, pname in node.params.items():
                if slot not in slots:
                    raise GraphError(f"{where}: unknown parameter slot {slot!r}; the op takes {sorted(slots)}")
                if pname not in self.params:
                    raise GraphError(f"{where}: parameter {pname!r} (slot {slot!r}) is missing")
            for slot in s.required_params():
                if slot not in node.params:
                    raise GraphError(f"{where}: required parameter slot {slot!r} is not bound")
            for v in node.outputs:
                if v in defined:
                    raise GraphError(f"{where}: value {v!r} is produced twice")
                defined.add(v)
        for v in self.outputs:
            if v not in defined:
                raise GraphError(f"graph output {v!r} is never produced")

    def infer_shapes(self, input_shapes: dict[str, Shape]) -> dict[str, Shape]:
        """Shape of every value for the given input shapes; errors name the node."""
        self.validate()
        shapes: dict[str, Shape] = {}
        for name, channels in self.inputs.items():
            if name not in input_shapes:
                raise ShapeError(f"no shape given for graph input {name!r}")
            s = tuple(int(v) for v in input_shapes[name])
            if len(s) != 4 or s[1] != channels or min(s) <= 0:
                raise ShapeError(f"graph input {name!r} must be (N, {channels}, H, W) with N, H, W > 0, got {s}")
            _check_value_size(f"graph input {name!r}", s)
            shapes[name] = s
        for node in self.nodes:
            pshapes = {slot: tuple(self.params[p].shape) for slot, p in node.params.items()}
            try:
                s = spec(node.op)
                outs = s.shape(s.merge_attrs(node.attrs), [shapes[v] for v in node.inputs], pshapes)
            except PysrError as err:
                raise ShapeError(f"node {node.name!r} ({node.op}): {err}") from None
            if len(outs) != len(node.outputs):
                raise GraphError(
                    f"node {node.name!r} ({node.op}) declares {len(node.outputs)} outputs, the op gives {len(outs)}")
            for v, s in zip(node.outputs, outs):
                shapes[v] = tuple(int(d) for d in s)
                _check_value_size(f"node {node.name!r} ({node.op}): output {v!r}", shapes[v])
        return shapes


def _check_value_size(what: str, s: Shape) -> None:
    if len(s) != 4 or not all(1 <= d <= MAX_VALUE_DIM for d in s) or np.prod(s, dtype=object) > MAX_VALUE_ELEMENTS:
        raise ShapeError(f"{what} would have shape {s}: a value has 4 dimensions, each in [1, 2^31 - 1], and at most "
                         "2^32 elements")


def run_reference(graph: Graph, inputs: dict[str, np.ndarray]) -> list[np.ndarray]:
    """Execute the graph with the float64 references: the ground truth for passes and backends."""
    graph.infer_shapes({k: v.shape for k, v in inputs.items()})
    values = {k: np.asarray(v, np.float64) for k, v in inputs.items()}
    for node in graph.nodes:
        params = {k: np.asarray(v, np.float64) for k, v in graph.node_params(node).items()}
        s = spec(node.op)
        outs = s.reference(s.merge_attrs(node.attrs), [values[v] for v in node.inputs], params)
        values.update(zip(node.outputs, outs))
    return [values[v] for v in graph.outputs]
