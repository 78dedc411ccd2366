"""The long fuzzing run of the .pysr reader (csrc/fuzz/fuzz_model_file.cpp), and its seed corpus.

    python bench/fuzz_model_file.py [--minutes 30] [--jobs 2] [--corpus ~/.cache/pysr/fuzz/corpus] [--build DIR]

Builds the libFuzzer harness with clang (cmake -DPYSR_FUZZ=ON: ASan + UBSan, -O1), writes the seed corpus into a
folder of its own beside the corpus (`seeds/`: the shipped weights, tiny models written by `pysr.Model.save`,
hand-made hostile files), then runs libFuzzer for --minutes on --jobs processes (fork mode: a crash does not stop
the run) over the persistent corpus folder, which keeps growing from one run to the next. Every input that made a
crash, a leak, a timeout or an out-of-memory is copied into tests/fuzz_regressions/ (named by its SHA-1), where
tests/test_fuzz.py replays it: fix the bug, keep the file. The CI run is tests/test_fuzz.py (30 s, one process).

tests/test_fuzz.py builds, seeds and checks with the functions here (`build_fuzzer`, `write_seeds`, `oversized_files`,
the tiny temporal models).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
DICT = ROOT / "csrc" / "fuzz" / "pysr.dict"
REGRESSIONS = ROOT / "tests" / "fuzz_regressions"
BINARY = "pysr_fuzz_model_file"
# The C++ flags of sanitizer builds: -O1 keeps ASan fast enough and stack traces exact.
SANITIZER_CMAKE = ["-DCMAKE_BUILD_TYPE=Debug", "-DCMAKE_CXX_FLAGS_DEBUG=-O1 -g", "-DCMAKE_C_FLAGS_DEBUG=-O1 -g"]
ARTIFACT_PREFIXES = ("crash-", "leak-", "timeout-", "oom-", "slow-unit-")


def run_checked(cmd, **kw) -> subprocess.CompletedProcess:
    res = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, **kw)
    if res.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, cmd))} failed ({res.returncode}):\n"
                           f"{res.stdout[-3000:]}\n{res.stderr[-3000:]}")
    return res


def libfuzzer_missing() -> str | None:
    """Why this machine cannot build a libFuzzer + ASan + UBSan program, or None when it can."""
    for tool in ("clang", "clang++", "cmake"):
        if not shutil.which(tool):
            return f"{tool} is not installed (Debian: apt-get install clang libclang-rt-14-dev cmake)"
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "probe.cpp"
        src.write_text('#include <cstdint>\n#include <cstddef>\n'
                       'extern "C" int LLVMFuzzerTestOneInput(const uint8_t *, size_t) { return 0; }\n')
        res = subprocess.run(["clang++", "-fsanitize=fuzzer,address,undefined", src, "-o", Path(tmp) / "probe"],
                             capture_output=True, text=True)
        if res.returncode != 0:
            return ("clang++ cannot link -fsanitize=fuzzer,address,undefined (Debian: apt-get install "
                    f"libclang-rt-14-dev): {res.stderr.strip()[-300:]}")
    return None


def build_fuzzer(build: Path, extra: tuple[str, ...] = ()) -> Path:
    """Configure and build the harness (and the sanitized libpysr.so beside it) into `build`; its path."""
    gen = ["-G", "Ninja"] if shutil.which("ninja") else []
    run_checked(["cmake", "-S", ROOT, "-B", build, *gen, "-DCMAKE_C_COMPILER=clang", "-DCMAKE_CXX_COMPILER=clang++",
                 "-DPYSR_FUZZ=ON", "-DPYSR_BUILD_STATIC=OFF", "-DPYSR_BUILD_TESTS=OFF", *SANITIZER_CMAKE, *extra])
    run_checked(["cmake", "--build", build, "-j2"])
    return build / BINARY


# ---- the seed corpus ------------------------------------------------------------------------------------


def pack(tensors: dict[str, np.ndarray], graph: dict | str, facts: dict | str, meta: dict | None = None,
         entries: dict | None = None) -> bytes:
    """A .pysr file written by hand (no checks), so that it can break any rule: `graph` / `facts` as objects or as
    raw text, `meta` extra metadata, `entries` replaces header entries (raw JSON values) after they are made."""
    header: dict = {}
    body = b""
    for name, value in tensors.items():
        raw = np.ascontiguousarray(value, np.float32).tobytes()
        offsets = [len(body), len(body) + len(raw)]
        header[name] = {"dtype": "F32", "shape": list(np.shape(value)), "data_offsets": offsets}
        body += raw
    header.update(entries or {})
    header["__metadata__"] = {
        "pysr.format": "1",
        "pysr.graph": graph if isinstance(graph, str) else json.dumps(graph, separators=(",", ":")),
        "pysr.model": facts if isinstance(facts, str) else json.dumps(facts, separators=(",", ":")),
        **(meta or {}),
    }
    text = json.dumps(header, separators=(",", ":")).encode()
    return len(text).to_bytes(8, "little") + text + body


Y_FACTS = {"architecture": "fuzz", "scale": 2, "input_range": [0.0, 1.0], "receptive_field": 1, "temporal": "single",
           "licence": "MIT", "provenance": {},
           "colour": {"mode": "y", "matrix": "bt601", "range": "limited", "chroma": "resize_bicubic_torch"}}
RGB_FACTS = {**Y_FACTS, "colour": {"mode": "rgb"}}


def node(op, name, inputs, outputs, params=None, attrs=None) -> dict:
    return {"op": op, "name": name, "inputs": inputs, "outputs": outputs, "params": params or {}, "attrs": attrs or {}}


def _small_conv(seed=0, cin=1, cout=4, k=3):
    rng = np.random.default_rng(seed)
    return {"c.weight": rng.standard_normal((cout, cin, k, k)).astype(np.float32) * 0.3,
            "c.bias": rng.standard_normal(cout).astype(np.float32) * 0.1}


def espcn_like() -> tuple[dict, dict]:
    """conv 1→4 (3×3) → tanh → pixel_shuffle ×2: a valid ×2 Y model in a few hundred bytes."""
    graph = {"inputs": [{"name": "x", "channels": 1}], "outputs": ["y"], "nodes": [
        node("conv2d", "c", ["x"], ["c"], {"weight": "c.weight", "bias": "c.bias"}, {"padding": [1, 1]}),
        node("activation", "a", ["c"], ["a"], {}, {"kind": "tanh"}),
        node("pixel_shuffle", "ps", ["a"], ["y"], {}, {"scale": 2})]}
    return _small_conv(), graph


def hostile_files() -> dict[str, bytes]:
    """Small files that break one rule each (or that are valid but extreme), named by what they do."""
    params, graph = espcn_like()
    good = pack(params, graph, Y_FACTS)
    n = int.from_bytes(good[:8], "little")
    out: dict[str, bytes] = {"tiny_valid": good}
    # container
    out["header_beyond_file"] = (n + 100).to_bytes(8, "little") + good[8:]
    out["header_length_max"] = (2**64 - 1).to_bytes(8, "little") + good[8:]
    out["truncated_body"] = good[:-5]
    out["only_length"] = good[:8]
    out["header_not_utf8"] = good[:9] + b"\xff\xfe" + good[11:]
    out["trailing_bytes"] = good + b"\0" * 8
    # tensor entries
    w = params["c.weight"]
    out["dtype_f16"] = pack(params, graph, Y_FACTS, entries={"c.weight": {"dtype": "F16", "shape": list(w.shape),
                                                                         "data_offsets": [0, w.nbytes]}})
    out["offsets_overlap"] = pack(params, graph, Y_FACTS, entries={"c.bias": {"dtype": "F32", "shape": [4],
                                                                            "data_offsets": [0, 16]}})
    out["offsets_out_of_range"] = pack(params, graph, Y_FACTS, entries={"c.bias": {"dtype": "F32", "shape": [4],
                                                                                 "data_offsets": [2**62, 2**62 + 16]}})
    out["offsets_reversed"] = pack(params, graph, Y_FACTS, entries={"c.bias": {"dtype": "F32", "shape": [4],
                                                                             "data_offsets": [160, 144]}})
    out["offsets_beyond_int64"] = pack(params, graph, Y_FACTS, entries={"c.bias": {
        "dtype": "F32", "shape": [4], "data_offsets": [144, 18446744073709551616]}})
    out["shape_huge"] = pack(params, graph, Y_FACTS, entries={"c.bias": {
        "dtype": "F32", "shape": [2**31, 2**31, 2**31], "data_offsets": [144, 160]}})
    # an empty tensor with enormous dimensions, bound as a conv weight: every product of its dims overflows
    zero = {"c.weight": np.zeros((0, 1, 3, 3), np.float32), "c.bias": params["c.bias"]}
    out["shape_zero_huge_weight"] = pack(zero, graph, Y_FACTS, entries={"c.weight": {
        "dtype": "F32", "shape": [0, 2**62, 2**62, 2**62], "data_offsets": [0, 0]}})
    out["shape_zero_huge_groups"] = pack(zero, {**graph, "nodes": [
        node("conv2d", "c", ["x"], ["y"], {"weight": "c.weight"}, {"groups": 2**31 - 1})]}, Y_FACTS,
        entries={"c.weight": {"dtype": "F32", "shape": [0, 2**62, 1, 1], "data_offsets": [0, 0]}})
    nan = dict(params)
    nan["c.bias"] = np.array([0, np.nan, 0, 0], np.float32)
    out["nan_weight"] = pack(nan, graph, Y_FACTS)
    # JSON
    deep = "[" * 300 + "]" * 300
    out["deep_header_json"] = pack(params, graph, Y_FACTS, meta={"x": "1"}).replace(b'"x":"1"', b'"x":' + deep.encode())
    out["deep_graph_json"] = pack(params, graph.copy() | {"inputs": json.loads("[" * 200 + "]" * 200)}, Y_FACTS)
    deepest = json.dumps(graph)[:-1] + ',"x":' + "[" * 256 + "]" * 256 + "}"  # legal depth, unknown key
    out["graph_json_depth_limit"] = pack(params, deepest, Y_FACTS)
    out["duplicate_key"] = pack(params, graph, '{"scale":2,"scale":2}')
    facts = json.dumps(Y_FACTS)
    out["big_integer"] = pack(params, graph, facts.replace('"scale": 2', '"scale": 99999999999999999999999'))
    out["float_overflow"] = pack(params, graph, facts.replace('"receptive_field": 1', '"receptive_field": 1e999'))
    out["lone_surrogate_name"] = pack(params, json.dumps(graph).replace('"ps"', '"\\ud800"'), Y_FACTS)
    out["long_utf8_value"] = pack(params, graph, {**Y_FACTS, "scale": "é" * 300})
    # facts
    out["facts_scale_int32_max"] = pack(params, graph, {**Y_FACTS, "scale": 2**31 - 1})
    out["facts_window_huge"] = pack(params, graph, {**Y_FACTS, "temporal": "window(9999999999)"})
    out["facts_window_int_max"] = pack(params, graph, {**Y_FACTS, "temporal": "window(2147483647)"})
    out["facts_rgb_on_y_graph"] = pack(params, graph, RGB_FACTS)
    out["facts_input_range_tiny"] = pack(params, graph, {**Y_FACTS, "input_range": [1e-320, 2e-320]})
    # graphs
    nodes = graph["nodes"]
    out["graph_cycle"] = pack(params, {**graph, "nodes": [
        node("activation", "a", ["b"], ["a"], {}, {"kind": "relu"}),
        node("activation", "b", ["a"], ["b"], {}, {"kind": "relu"}), *nodes]}, Y_FACTS)
    out["graph_self_loop"] = pack(params, {**graph, "nodes": [node("add", "s", ["x", "s"], ["s"]), *nodes]}, Y_FACTS)
    dangling = node("pixel_shuffle", "ps", ["nope"], ["y"], {}, {"scale": 2})
    out["graph_dangling_input"] = pack(params, {**graph, "nodes": [*nodes[:2], dangling]}, Y_FACTS)
    out["graph_dangling_output"] = pack(params, {**graph, "outputs": ["nope"]}, Y_FACTS)
    missing = node("conv2d", "c", ["x"], ["c"], {"weight": "nope", "bias": "c.bias"}, {"padding": [1, 1]})
    out["graph_missing_param"] = pack(params, {**graph, "nodes": [missing, *nodes[1:]]}, Y_FACTS)
    out["graph_identity"] = pack({}, {"inputs": [{"name": "x", "channels": 1}], "outputs": ["x"], "nodes": []},
                                 {**Y_FACTS, "scale": 1})
    out["graph_identity_rgb"] = pack({}, {"inputs": [{"name": "x", "channels": 3}], "outputs": ["x"], "nodes": []},
                                     {**RGB_FACTS, "scale": 1})
    out["graph_two_inputs"] = pack(params, {**graph, "inputs": [{"name": "x", "channels": 1},
                                                                {"name": "z", "channels": 1}]}, Y_FACTS)
    for attr, value in (("padding", "2"), ("padding", [2**20, 2**20]), ("stride", True), ("stride", 2**31),
                        ("groups", 0), ("activation", 3), ("clamp", [1, 0]), ("pixel_shuffle", 2**31 - 1),
                        ("alpha", 1e308), ("residual", 1)):
        out[f"attr_conv_{attr}_{json.dumps(value)}"] = pack(params, {**graph, "nodes": [
            node("conv2d", "c", ["x"], ["c"], {"weight": "c.weight", "bias": "c.bias"}, {attr: value}), *nodes[1:]]},
            Y_FACTS)
    # extreme but valid shapes: resizes that multiply the size past int64, channels doubled by concat
    up = [node("resize_bilinear", f"r{i}", [f"v{i}"], [f"v{i + 1}"], {}, {"scale": 2**31 - 1}) for i in range(3)]
    out["resize_chain_overflow"] = pack({}, {"inputs": [{"name": "v0", "channels": 1}], "outputs": ["v3"],
                                             "nodes": up}, {**Y_FACTS, "scale": 1})
    big = [node("resize_bicubic_torch", "r", ["x"], ["u"], {}, {"scale": 1e9}),
           node("pool2d", "p", ["u"], ["y"], {}, {"mode": "avg"})]
    out["resize_huge_then_pool"] = pack({}, {"inputs": [{"name": "x", "channels": 1}], "outputs": ["y"],
                                             "nodes": big}, {**Y_FACTS, "scale": 1})
    cat = [node("concat", f"k{i}", [f"v{i}", f"v{i}"], [f"v{i + 1}"]) for i in range(40)]
    out["concat_doubling"] = pack({}, {"inputs": [{"name": "v0", "channels": 1}], "outputs": ["v40"], "nodes": cat},
                                  {**Y_FACTS, "scale": 1})
    out["split_sizes_overflow"] = pack({}, {"inputs": [{"name": "x", "channels": 3}], "outputs": ["a"], "nodes": [
        node("split", "s", ["x"], ["a", "b", "c", "d"], {}, {"sizes": [2**62, 2**62, 2**62, 2**62 + 3]})]}, RGB_FACTS)
    out["pad_huge"] = pack({}, {"inputs": [{"name": "x", "channels": 1}], "outputs": ["y"], "nodes": [
        node("pad", "p", ["x"], ["y"], {}, {"pads": [2**31 - 1] * 4})]}, {**Y_FACTS, "scale": 1})
    out["warp_flow_mismatch"] = pack({}, {"inputs": [{"name": "x", "channels": 3}], "outputs": ["w"], "nodes": [
        node("warp", "w", ["x", "x"], ["w"])]}, RGB_FACTS)
    # a recurrent model whose carried state is 2^31 - 1 times the frame: 64·(2^31 - 1) pixels at the load check
    rec = tiny_recurrent_model()
    carry = {**rec.facts["state"]["carry"][0], "scale": 2**31 - 1}
    out["recurrent_carry_scale_huge"] = pack(rec.graph.params, rec.graph.to_json(),
                                             {**rec.facts, "state": {**rec.facts["state"], "carry": [carry]}})
    return out


def oversized_files() -> dict[str, bytes]:
    """Files of a few MiB that took gigabytes or minutes before the reader's limits and its O(N log N) checks (too
    big to be seeds): tests/test_fuzz.py runs each under ASan with -timeout=30 and -rss_limit_mb=1024, where the
    quadratic versions took minutes and the uncapped JSON 1.3 GB."""
    limit = 16 << 20
    out: dict[str, bytes] = {}

    def raw(header: str) -> bytes:
        data = header.encode()
        assert len(data) <= limit, len(data)
        return len(data).to_bytes(8, "little") + data

    meta = '"__metadata__":{"pysr.format":"1"}'
    # 8 M JSON values: 1.3 GB of parsed JSON before the reader capped a document at 2^20 values
    out["array_of_8m_zeros"] = raw("{" + meta + ',"x":[' + "0," * ((limit - 100) // 2) + "0]}")
    # an object with 100 000 keys: the repeated-key check was quadratic
    out["object_100k_keys"] = raw("{" + meta + "," + ",".join(f'"k{i}":0' for i in range(100_000)) + "}")
    # 50 000 graph inputs (the duplicate-name check was quadratic), the facts otherwise fine
    inputs = [{"name": f"i{i}", "channels": 1} for i in range(50_000)]
    out["graph_50k_inputs"] = pack({}, {"inputs": inputs, "outputs": ["i0"], "nodes": []}, {**Y_FACTS, "scale": 1})
    # a valid chain of 6 000 conv → relu pairs: the fusion pass restarted its scan after every fusion
    params, nodes, x = {}, [], "x"
    for i in range(6_000):
        params[f"w{i}"] = np.ones((1, 1, 1, 1), np.float32)
        nodes.append(node("conv2d", f"c{i}", [x], [f"c{i}"], {"weight": f"w{i}"}))
        nodes.append(node("activation", f"a{i}", [f"c{i}"], [f"a{i}"], {}, {"kind": "relu"}))
        x = f"a{i}"
    out["chain_6k_conv_relu"] = pack(params, {"inputs": [{"name": "x", "channels": 1}], "outputs": [x],
                                               "nodes": nodes}, {**Y_FACTS, "scale": 1})
    return out


def tiny_recurrent_model():
    """A recurrent ×2 Y model (EGVSR's pysr model is 7 MB even at its narrowest): the previous output, warped by a
    flow from the frame and a conv, is added to the bilinear ×2 of the frame."""
    import pysr
    from pysr.graph.graph import Graph, Node

    rng = np.random.default_rng(5)
    params = {"f.weight": (0.1 * rng.standard_normal((2, 1, 3, 3))).astype(np.float32),
              "g.weight": (0.1 * rng.standard_normal((1, 1, 3, 3))).astype(np.float32)}
    nodes = [Node("conv2d", "f", ["lr"], ["flow_lr"], {"weight": "f.weight"}, {"padding": (1, 1)}),
             Node("resize_bilinear", "fu", ["flow_lr"], ["flow"], {}, {"scale": 2}),
             Node("warp", "w", ["hr_prev", "flow"], ["warped"], {}, {}),
             Node("conv2d", "g", ["warped"], ["g"], {"weight": "g.weight"}, {"padding": (1, 1)}),
             Node("resize_bilinear", "up", ["lr"], ["up"], {}, {"scale": 2}),
             Node("add", "hr", ["up", "g"], ["hr"], {}, {})]
    state = {"frame_input": "lr", "frame_output": "hr",
             "carry": [{"input": "hr_prev", "from": "hr", "scale": 2, "initial": "zeros"}]}
    facts = {**Y_FACTS, "temporal": "recurrent", "state": state}
    return pysr.Model(Graph({"lr": 1, "hr_prev": 1}, ["hr"], nodes, params), facts)


def tiny_window_model():
    """A window(1) model (three frames in, the middle one out)."""
    import pysr
    from pysr.models import tcsr
    from pysr.models.convert import facts_for

    cfg = tcsr.TcsrConfig(radius=1, channels=4, ofr_channels=4, ofr_blocks=1)
    return pysr.Model(tcsr.build(cfg, tcsr.init_params(cfg, seed=4)), facts_for("tcsr", cfg, {}, "unknown"))


def write_seeds(out: Path) -> list[Path]:
    """The seed corpus into `out`: shipped weights, tiny models from pysr.Model.save, hostile files."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for path in sorted((ROOT / "weights").glob("*.pysr")):
        written.append(out / path.name)
        shutil.copyfile(path, written[-1])
    sys.path.insert(0, str(ROOT / "tests"))
    try:
        import test_native_lib as t  # the op-covering tiny models of the C library tests
    finally:
        sys.path.remove(str(ROOT / "tests"))
    for name, make in (("rgb_x3", t.rgb_model_x3), ("y_x2", t.y_model_x2), ("flow_x2", t.flow_model_x2),
                       ("fedsr_x3_rgb", lambda: t.fedsr_model(3, 3)), ("sofvsr_x2", t.sofvsr_model),
                       ("recurrent_x2", tiny_recurrent_model), ("tcsr_x2", tiny_window_model)):
        written.append(out / f"{name}.pysr")
        make().save(written[-1])
    for name, data in hostile_files().items():
        safe = "".join(c if c.isalnum() or c in "_-." else "_" for c in name)
        written.append(out / f"hostile_{safe}.pysr")
        written[-1].write_bytes(data)
    return written


# ---- the long run ----------------------------------------------------------------------------------------


def keep_artifacts(artifacts: Path) -> list[Path]:
    """Copy libFuzzer's crash / leak / timeout / oom inputs into tests/fuzz_regressions/ (by SHA-1)."""
    kept = []
    for path in sorted(artifacts.iterdir()):
        if path.name.startswith(ARTIFACT_PREFIXES):
            data = path.read_bytes()
            kind = path.name.split("-")[0]
            dst = REGRESSIONS / f"{kind}-{hashlib.sha1(data).hexdigest()}"
            if not dst.exists():
                dst.write_bytes(data)
                kept.append(dst)
    return kept


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=30.0)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--corpus", type=Path, default=Path.home() / ".cache" / "pysr" / "fuzz" / "corpus",
                    help="persistent corpus folder (grows from run to run; outside the repository)")
    ap.add_argument("--build", type=Path, default=None, help="build folder (default: beside the corpus)")
    ap.add_argument("--max-len", type=int, default=131072)
    args = ap.parse_args()
    why = libfuzzer_missing()
    if why:
        print(f"fuzz_model_file: {why}", file=sys.stderr)
        return 2
    work = args.corpus.parent
    build = args.build or work / "build"
    artifacts = work / "artifacts"
    for d in (args.corpus, artifacts):
        d.mkdir(parents=True, exist_ok=True)
    print(f"building {build} ...", flush=True)
    binary = build_fuzzer(build)
    seeds = work / "seeds"
    write_seeds(seeds)
    cmd = [binary, args.corpus, seeds, f"-dict={DICT}", f"-max_total_time={int(args.minutes * 60)}",
           f"-fork={args.jobs}", "-ignore_crashes=1", "-ignore_timeouts=1", "-ignore_ooms=1", "-timeout=10",
           "-rss_limit_mb=2048", f"-max_len={args.max_len}", f"-artifact_prefix={artifacts}/", "-print_final_stats=1"]
    print(" ".join(map(str, cmd)), flush=True)
    env = {**os.environ, "ASAN_OPTIONS": "detect_leaks=1", "UBSAN_OPTIONS": "print_stacktrace=1"}
    res = subprocess.run([str(c) for c in cmd], cwd=work, env=env)
    kept = keep_artifacts(artifacts)
    for path in kept:
        print(f"new regression input: {path.relative_to(ROOT)}")
    print(f"libFuzzer exit {res.returncode}; {len(kept)} new input(s) in {REGRESSIONS.relative_to(ROOT)}; "
          f"corpus {args.corpus} holds {sum(1 for _ in args.corpus.iterdir())} files")
    return 1 if kept else 0


if __name__ == "__main__":
    sys.exit(main())
