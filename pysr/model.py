"""A loaded model: its graph, its facts, and compiled plans per (backend, input shape)."""

from __future__ import annotations

import os
import threading
from pathlib import Path

from pysr.errors import ModelFileError
from pysr.graph.graph import Graph
from pysr.io.model_file import read_model, write_model
from pysr.models.colour import check_colour, wrap_rgb
from pysr.runtime.plan import Plan, compile_graph


class Model:
    """Immutable graph + facts. Plans are memoised per (backend, rgb?, input shape); the memo is the
    only cache and is filled under a lock, so one Model can serve many threads."""

    def __init__(self, graph: Graph, facts: dict, source: str | None = None):
        check_colour(facts["colour"])
        self.graph, self.facts, self.source = graph, facts, source
        self._plans: dict[tuple, Plan] = {}
        self._lock = threading.Lock()

    @property
    def scale(self) -> int:
        return int(self.facts["scale"])

    @property
    def colour_mode(self) -> str:
        return self.facts["colour"]["mode"]

    @property
    def in_channels(self) -> int:
        return next(iter(self.graph.inputs.values()))

    def plan(self, backend: str, shape: tuple[int, ...], rgb: bool = False) -> Plan:
        key = (backend, rgb, tuple(shape))
        plan = self._plans.get(key)
        if plan is None:
            with self._lock:
                plan = self._plans.get(key)
                if plan is None:
                    graph = wrap_rgb(self.graph, self.facts) if rgb else self.graph
                    name = next(iter(graph.inputs))
                    plan = compile_graph(graph, backend, {name: tuple(shape)})
                    self._plans[key] = plan
        return plan

    def save(self, path: str | os.PathLike) -> None:
        write_model(path, self.graph, self.facts)

    def __repr__(self) -> str:
        f = self.facts
        return (f"Model({f.get('name', f['architecture'])!r}, ×{self.scale}, colour={self.colour_mode}, "
                f"params={sum(v.size for v in self.graph.params.values())})")


def shipped_models() -> dict[str, Path]:
    """Name -> path of the models installed with pysr (package data pysr.weights; `pysr models`)."""
    from importlib import resources

    folder = resources.files("pysr.weights")
    return {p.name[:-5]: Path(str(p)) for p in folder.iterdir() if p.name.endswith(".pysr")}


def load(source: str | os.PathLike | bytes) -> Model:
    """Load and fully check a `.pysr` model: a path, the file's bytes, or the name of a shipped model
    (a bare name such as "espcn_x4" that is not a file here)."""
    if isinstance(source, str) and os.sep not in source and not source.endswith(".pysr") and not Path(source).exists():
        ship = shipped_models()
        if source not in ship:
            raise ModelFileError(f"{source}: no such file, and no shipped model of that name",
                                 f"shipped models: {', '.join(sorted(ship)) or 'none'}; or give a .pysr path")
        source = ship[source]
    graph, facts = read_model(source)
    return Model(graph, facts, None if isinstance(source, (bytes, bytearray)) else str(Path(source)))
