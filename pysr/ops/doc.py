"""Writes docs/ops.md from the op specs: `python -m pysr.ops.doc > docs/ops.md`.
A test checks the file is current, so the documented op set is always the implemented one."""

from __future__ import annotations

import inspect

from pysr.ops import OpType, spec
from pysr.ops.spec import REQUIRED


def render() -> str:
    out = ["# The op set", "",
           "Generated from `pysr/ops/<op>.py` by `python -m pysr.ops.doc > docs/ops.md`; do not edit by hand.",
           "Every tensor is NCHW float32. Each op's float64 numpy reference in that file is its exact definition.",
           ""]
    for op in OpType:
        s = spec(op)
        out += [f"## `{s.name}`", ""]
        out.append(f"- inputs: {', '.join(f'`{i}`' for i in s.inputs)}")
        if s.params:
            out.append(f"- parameters: {', '.join(f'`{p}`' for p in s.params)} (`?` = optional)")
        if s.attrs:
            attrs = ", ".join(f"`{k}` = {'required' if v is REQUIRED else repr(v)}" for k, v in s.attrs.items())
            out.append(f"- attributes: {attrs}")
        out += ["", inspect.cleandoc(s.doc or ""), ""]
    return "\n".join(out).rstrip() + "\n"


if __name__ == "__main__":
    print(render(), end="")
