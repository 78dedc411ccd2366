"""Wrap a model graph so it takes and returns RGB in [0, 1], following the model's colour facts.

For a Y model: RGB → YCbCr (facts' matrix and range) → the network on Y; Cb, Cr upscaled with the
facts' chroma resize op → YCbCr → RGB → clamp to [0, 1]. For an RGB model: the network, then the clamp.
The wrapper is an ordinary graph, so it runs on any backend like the network itself.
"""

from __future__ import annotations

from pysr.errors import ModelFileError
from pysr.graph.graph import Graph, Node

CHROMA_UPSAMPLERS = ("resize_bicubic_torch", "resize_bilinear", "resize_bicubic_matlab")
DEFAULT_Y_COLOUR = {"mode": "y", "matrix": "bt601", "range": "limited", "chroma": "resize_bicubic_torch"}


def check_colour(colour: dict) -> None:
    keys = {"y": {"mode", "matrix", "range", "chroma"}, "rgb": {"mode"}}.get(colour.get("mode"))
    if keys is not None and set(colour) != keys:
        raise ModelFileError(f"colour facts: a {colour['mode']!r} model has exactly the keys {sorted(keys)}, "
                             f"got {sorted(colour)}")
    if colour.get("mode") == "y":
        if colour.get("matrix") not in ("bt601", "bt709") or colour.get("range") not in ("limited", "full"):
            raise ModelFileError(f"colour facts: Y model needs matrix bt601|bt709 and range limited|full, got {colour}")
        if colour.get("chroma") not in CHROMA_UPSAMPLERS:
            raise ModelFileError(
                f"colour facts: chroma must be one of {CHROMA_UPSAMPLERS}, got {colour.get('chroma')!r}")


def _prefixed(graph: Graph, prefix: str, rename: dict[str, str]) -> list[Node]:
    def name(v):
        return rename.get(v, prefix + v)

    return [Node(n.op, prefix + n.name, [name(v) for v in n.inputs], [name(v) for v in n.outputs], dict(n.params),
                 dict(n.attrs)) for n in graph.nodes]


def wrap_rgb(graph: Graph, facts: dict) -> Graph:
    colour, scale = facts["colour"], facts["scale"]
    (net_in, channels), = graph.inputs.items()
    net_out = graph.outputs[0]
    if colour["mode"] == "rgb":
        nodes = _prefixed(graph, "net/", {net_in: "rgb", net_out: "net_out"})
        nodes.append(Node("activation", "clamp", ["net_out"], ["rgb_hr"], {}, {"kind": "clamp", "lo": 0.0, "hi": 1.0}))
        return Graph({"rgb": 3}, ["rgb_hr"], nodes, graph.params)
    check_colour(colour)
    conv = {"matrix": colour["matrix"], "range": colour["range"]}
    nodes = [
        Node("rgb_to_ycbcr", "to_ycbcr", ["rgb"], ["ycbcr"], {}, dict(conv)),
        Node("split", "split_y", ["ycbcr"], ["y", "cbcr"], {}, {"sizes": (1, 2)}),
        *_prefixed(graph, "net/", {net_in: "y", net_out: "y_hr"}),
        Node(colour["chroma"], "chroma_up", ["cbcr"], ["cbcr_hr"], {}, {"scale": scale}),
        Node("concat", "join", ["y_hr", "cbcr_hr"], ["ycbcr_hr"], {}, {}),
        Node("ycbcr_to_rgb", "to_rgb", ["ycbcr_hr"], ["rgb_raw"], {}, dict(conv)),
        Node("activation", "clamp", ["rgb_raw"], ["rgb_hr"], {}, {"kind": "clamp", "lo": 0.0, "hi": 1.0}),
    ]
    return Graph({"rgb": 3}, ["rgb_hr"], nodes, graph.params)


def frame_to_network(facts: dict) -> Graph:
    """The first half of `wrap_rgb` on its own, for multi-input (temporal) graphs whose frames are converted one by
    one: input "rgb" → outputs [network input, *side values] (Y: ["y", "cbcr"]; RGB: no nodes, the frame itself)."""
    colour = facts["colour"]
    if colour["mode"] == "rgb":
        return Graph({"rgb": 3}, ["rgb"], [], {})
    check_colour(colour)
    conv = {"matrix": colour["matrix"], "range": colour["range"]}
    nodes = [Node("rgb_to_ycbcr", "to_ycbcr", ["rgb"], ["ycbcr"], {}, dict(conv)),
             Node("split", "split_y", ["ycbcr"], ["y", "cbcr"], {}, {"sizes": (1, 2)})]
    return Graph({"rgb": 3}, ["y", "cbcr"], nodes, {})


def network_to_frame(facts: dict, out_channels: int) -> Graph:
    """The second half of `wrap_rgb`: inputs "net_out" (+ "cbcr" of the same frame for a Y model) → "rgb_hr",
    clamped to [0, 1]; the same nodes as `wrap_rgb`, so a temporal model's frames get the single-frame colour."""
    colour, scale = facts["colour"], facts["scale"]
    clamp = {"kind": "clamp", "lo": 0.0, "hi": 1.0}
    if colour["mode"] == "rgb":
        return Graph({"net_out": out_channels}, ["rgb_hr"],
                     [Node("activation", "clamp", ["net_out"], ["rgb_hr"], {}, clamp)], {})
    check_colour(colour)
    conv = {"matrix": colour["matrix"], "range": colour["range"]}
    nodes = [
        Node(colour["chroma"], "chroma_up", ["cbcr"], ["cbcr_hr"], {}, {"scale": scale}),
        Node("concat", "join", ["net_out", "cbcr_hr"], ["ycbcr_hr"], {}, {}),
        Node("ycbcr_to_rgb", "to_rgb", ["ycbcr_hr"], ["rgb_raw"], {}, dict(conv)),
        Node("activation", "clamp", ["rgb_raw"], ["rgb_hr"], {}, clamp),
    ]
    return Graph({"net_out": out_channels, "cbcr": 2}, ["rgb_hr"], nodes, {})
