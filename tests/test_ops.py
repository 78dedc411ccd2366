"""The one differential harness: every op × every backend × its awkward cases, against the float64
numpy reference (pysr/ops/<op>.py), and the reference itself against PyTorch where torch is installed.

Outputs are poisoned with NaN before each run so an element a kernel forgot to write fails.
"""

from __future__ import annotations

import importlib

import numpy as np
import pytest

from pysr import backends
from pysr.ops import OpType, spec

OPS = [op.value for op in OpType]


def case_module(op: str):
    return importlib.import_module(f"op_cases.{op}")


def all_cases():
    for op in OPS:
        try:
            mod = case_module(op)
        except ModuleNotFoundError:
            continue
        for i, case in enumerate(mod.CASES):
            yield pytest.param(op, case, id=f"{op}-{case.id or i}")


def describe(op, attrs, inputs, params, backend=""):
    ins = ", ".join(str(tuple(a.shape)) for a in inputs)
    ps = ", ".join(f"{k}{tuple(v.shape)}" for k, v in params.items())
    return f"op={op} backend={backend} inputs=[{ins}] params=[{ps}] attrs={attrs}"


def assert_close(out, ref, atol, rtol, story):
    out = np.asarray(out, np.float64)
    assert out.shape == ref.shape, f"{story}\nshape {out.shape} != reference {ref.shape}"
    err = np.abs(out - ref)
    bad = ~(err <= atol + rtol * np.abs(ref))  # NaN (unwritten) counts as bad
    if bad.any():
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        finite = np.where(np.isfinite(err), err, np.inf)
        rel = finite / np.maximum(np.abs(ref), 1e-30)
        pytest.fail(
            f"{story}\n{int(bad.sum())} of {bad.size} elements out of tolerance (atol={atol:.3g}, rtol={rtol:.3g}); "
            f"max abs err {finite.max():.3g}, max rel err {rel.max():.3g}; "
            f"first bad index {idx}: got {out[idx]!r}, reference {ref[idx]!r}"
        )


@pytest.mark.parametrize("backend_name", backends.names())
@pytest.mark.parametrize("op,case", list(all_cases()))
def test_kernel_matches_reference(op, case, backend_name):
    try:
        backend = backends.get(backend_name)
    except Exception as err:  # noqa: BLE001 - a backend that cannot start here is a skip, never a failure
        pytest.skip(f"backend {backend_name} unavailable: {err}")
    s = spec(op)
    attrs = s.merge_attrs(case.attrs)
    inputs, params = case.build(op)
    in_shapes = [a.shape for a in inputs]
    param_shapes = {k: v.shape for k, v in params.items()}
    out_shapes = s.shape(attrs, in_shapes, param_shapes)
    refs = s.reference(attrs, inputs, params)
    if not backend.supports(op, attrs, in_shapes):
        why = f": {backend.why_not(op, attrs, in_shapes)}" if hasattr(backend, "why_not") else ""
        pytest.skip(f"{backend_name} does not support {op} with {attrs}{why}")
    fn = backend.compile_node(op, attrs, params, in_shapes, out_shapes)
    dev_in = [backend.to_device(a.astype(np.float32)) for a in inputs]
    dev_out = [backend.to_device(np.full(sh, np.nan, np.float32)) for sh in out_shapes]
    fn(dev_in, dev_out)
    atol, rtol = s.tolerance(attrs, in_shapes, param_shapes)
    story = describe(op, attrs, inputs, params, backend_name)
    assert len(refs) == len(out_shapes)
    for k, (out, ref) in enumerate(zip(dev_out, refs)):
        assert tuple(ref.shape) == tuple(out_shapes[k]), f"{story}\nreference shape {ref.shape} != spec shape"
        assert_close(backend.to_host(out), ref, atol, rtol, f"{story} output {k}")


@pytest.mark.parametrize("op,case", list(all_cases()))
def test_reference_matches_torch(op, case):
    mod = case_module(op)
    if not hasattr(mod, "torch_reference"):
        pytest.skip(f"{op}: no PyTorch counterpart")
    pytest.importorskip("torch", reason="PyTorch not installed (pip install torch==2.13.0)")
    s = spec(op)
    attrs = s.merge_attrs(case.attrs)
    inputs, params = case.build(op)
    refs = s.reference(attrs, inputs, params)
    theirs = mod.torch_reference(attrs, inputs, params)
    if theirs is None:
        pytest.skip(f"{op}: no PyTorch counterpart for {attrs}")
    story = describe(op, attrs, inputs, params, "torch")
    for ref, t in zip(refs, theirs):
        assert_close(ref, np.asarray(t, np.float64), 1e-9, 1e-9, story)


def test_every_op_is_complete():
    """Tripwire: every op has a spec with a reference, test cases, and on each backend a kernel or an
    explicit UNSUPPORTED."""
    for op in OPS:
        s = spec(op)
        assert callable(s.reference) and s.name == op
        assert case_module(op).CASES, f"{op}: no test cases in tests/op_cases/{op}.py"
        for name in backends.names():
            kmod = importlib.import_module(f"pysr.backends.{name}")
            if hasattr(kmod, "kernel_module"):
                km = kmod.kernel_module(op)
                assert hasattr(km, "compile") or hasattr(km, "UNSUPPORTED"), f"{name}/{op}: no kernel"
