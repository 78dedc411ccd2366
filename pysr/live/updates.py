"""Model updates from a streamer to the server: signed, versioned, whole `.pysr` files or parameter deltas.
docs/live.md ("Model updates") is the specification; this module is one implementation of it.

    blob = MAGIC (8) | header length (u32 LE) | header (UTF-8 JSON) | payload | HMAC-SHA256 tag (32)

The tag is HMAC-SHA256 keyed by the stream's key over every byte before it. The key is the secret the
server already checks when the stream is published, so no new key distribution is needed, and only a
holder of it can produce an update the server accepts for that stream: a third party on the path cannot
forge, alter, truncate or splice one (any changed byte changes the tag), nor move an update from one
stream to another. The monotonic version makes a captured update useless once a newer one is installed
(replay); the base hash pins a delta to the exact parameters it was computed against. HMAC gives no
secrecy (use TLS for that) and nothing against a party that has the stream key — that party can publish
the stream itself; what stops it from doing harm on the server is that an update is data only (a
safetensors container, strict JSON) and is loaded with full validation.

`verify_and_load` checks in this order and stops at the first failure, with an UpdateError naming it:
size (before any parsing), tag (constant-time compare, before any parsing), header, stream, version,
payload size and hash, base (delta), the model itself (pysr.load on bytes: full validation), the result
hash, and that the model matches the running one (graph, scale, colour mode). The running model is never
modified: a failed update leaves it serving.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import struct
from dataclasses import dataclass

import numpy as np

from pysr.errors import PysrError
from pysr.model import Model

MAGIC = b"PYSRUPD1"
UPDATE_FORMAT = 1
TAG_BYTES = 32
PREFIX_BYTES = len(MAGIC) + 4
KINDS = ("model", "delta")
HEADER_KEYS = ("format", "stream", "version", "kind", "base_version", "base_hash", "result_hash",
               "payload_hash", "payload_size")


class UpdateError(PysrError, ValueError):
    """A model update was refused. `reason` is one of: size, signature, header, stream, version, payload,
    base, model, mismatch, key, empty."""

    def __init__(self, message: str, reason: str, hint: str | None = None):
        self.reason = reason
        super().__init__(message, hint)


@dataclass(frozen=True)
class UpdateLimits:
    max_bytes: int = 32 << 20          # whole blob; checked before anything is parsed
    max_header_bytes: int = 16 << 10   # the JSON header


@dataclass(frozen=True)
class UpdateHeader:
    stream: str
    version: int
    kind: str                          # "model" | "delta"
    base_version: int | None           # delta: the version it applies to; model: None
    base_hash: str | None              # delta: param_digest of that version's parameters; model: None
    result_hash: str                   # param_digest of the model after the update
    payload_hash: str                  # SHA-256 of the payload bytes, lower-case hex
    payload_size: int

    def to_json(self) -> bytes:
        d = {k: getattr(self, k) for k in HEADER_KEYS if k != "format"}
        return json.dumps({"format": UPDATE_FORMAT, **d}, separators=(",", ":"), sort_keys=True).encode()


@dataclass(frozen=True)
class Running:
    """What the server runs for one stream: the model, the version it came with and its parameter digest."""

    model: Model
    stream: str
    version: int
    digest: str

    @staticmethod
    def initial(model: Model, stream: str, version: int = 0) -> Running:
        return Running(model, stream, version, param_digest(model.graph.params))


def param_digest(params: dict[str, np.ndarray]) -> str:
    """SHA-256 (hex) over the parameters in ascending order of their UTF-8 names, each as: u32 LE name
    length, name, u32 LE rank, rank × u64 LE dims, float32 LE values in C order. Independent of the container."""
    h = hashlib.sha256()
    for name in sorted(params, key=lambda s: s.encode()):
        a = np.ascontiguousarray(params[name], dtype="<f4")
        nb = name.encode()
        h.update(struct.pack("<I", len(nb)) + nb + struct.pack("<I", a.ndim))
        h.update(b"".join(struct.pack("<Q", d) for d in a.shape))
        h.update(a.tobytes())
    return h.hexdigest()


def model_bytes(model: Model) -> bytes:
    """The `.pysr` bytes of a model (the same container write_model produces, in memory)."""
    from safetensors.numpy import save

    from pysr.io.model_file import FORMAT_VERSION

    meta = {
        "pysr.format": str(FORMAT_VERSION),
        "pysr.graph": json.dumps(model.graph.to_json(), separators=(",", ":")),
        "pysr.model": json.dumps(model.facts, separators=(",", ":"), sort_keys=True),
    }
    tensors = {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in model.graph.params.items()}
    return save(tensors, metadata=meta)


def _key(key) -> bytes:
    if isinstance(key, str):
        key = key.encode()
    if not isinstance(key, (bytes, bytearray)) or not key:
        raise UpdateError("update key must be a non-empty stream key (bytes or str)", "key")
    return bytes(key)


def pack_update(header: UpdateHeader, payload: bytes, key) -> bytes:
    """Frame and sign. No checks on the payload: `make_update` is the streamer's checked entry point."""
    head = header.to_json()
    body = MAGIC + struct.pack("<I", len(head)) + head + bytes(payload)
    return body + hmac.new(_key(key), body, hashlib.sha256).digest()


def delta_payload(base: dict[str, np.ndarray], new: dict[str, np.ndarray]) -> bytes:
    """The tensors of `new` whose values differ from `base` (bitwise), with their new values, as safetensors."""
    from safetensors.numpy import save

    if set(base) != set(new):
        raise UpdateError(f"delta: base and new models have different tensors ({sorted(set(base) ^ set(new))})",
                          "mismatch")
    changed = {}
    for name in sorted(new):
        a, b = np.asarray(base[name], "<f4"), np.ascontiguousarray(new[name], "<f4")
        if a.shape != b.shape:
            raise UpdateError(f"delta: tensor {name!r} changes shape {a.shape} -> {b.shape}", "mismatch")
        if a.tobytes() != b.tobytes():
            changed[name] = b
    if not changed:
        raise UpdateError("delta: the new model's parameters equal the base's; nothing to send", "empty")
    return save(changed, metadata={"pysr.delta": str(UPDATE_FORMAT)})


def make_update(model: Model, key, stream: str, version: int, base: Running | None = None) -> bytes:
    """The streamer's side. `base` given: a delta against it (the server must be running exactly that
    version); else the whole model. The model must fit the base's graph and hold finite values."""
    for name, v in model.graph.params.items():
        if not np.isfinite(v).all():
            raise UpdateError(f"refusing to send a model whose tensor {name!r} holds NaN or infinite values", "model")
    if not isinstance(version, int) or version < 1:
        raise UpdateError(f"update version must be an integer >= 1, got {version!r}", "version")
    if base is None:
        payload, kind, base_version, base_hash = model_bytes(model), "model", None, None
    else:
        if version <= base.version:
            raise UpdateError(f"update version {version} must be above the base's {base.version}", "version")
        check_compatible(model, base.model)
        payload, kind = delta_payload(base.model.graph.params, model.graph.params), "delta"
        base_version, base_hash = base.version, base.digest
    header = UpdateHeader(stream, version, kind, base_version, base_hash, param_digest(model.graph.params),
                          hashlib.sha256(payload).hexdigest(), len(payload))
    return pack_update(header, payload, key)


def verify_and_load(blob: bytes, key, current: Running, limits: UpdateLimits | None = None) -> Running:
    """The server's side: check everything (order in the module docstring) and return the new Running.
    Raises UpdateError; `current` and its model are left exactly as they were."""
    limits = limits or UpdateLimits()
    if not isinstance(blob, (bytes, bytearray, memoryview)):
        raise UpdateError(f"update must be bytes, got {type(blob).__name__}", "header")
    n = len(blob)
    if n > limits.max_bytes:
        raise UpdateError(f"update is {n} bytes, above the limit of {limits.max_bytes}; not parsed", "size",
                          "send a delta, or raise UpdateLimits.max_bytes on the server")
    if n < PREFIX_BYTES + TAG_BYTES:
        raise UpdateError(f"update is {n} bytes, shorter than the smallest possible update "
                          f"({PREFIX_BYTES + TAG_BYTES})", "size")
    blob = bytes(blob)
    body, tag = blob[:-TAG_BYTES], blob[-TAG_BYTES:]
    if not hmac.compare_digest(hmac.new(_key(key), body, hashlib.sha256).digest(), tag):
        raise UpdateError("update signature does not match: wrong stream key, or the update was truncated or "
                          "altered in transit; not parsed", "signature")
    header, payload = _parse(body, limits)
    if header.stream != current.stream:
        raise UpdateError(f"update is for stream {header.stream!r}, this server runs stream {current.stream!r}",
                          "stream")
    if header.version <= current.version:
        raise UpdateError(f"update version {header.version} is not above the running version {current.version} "
                          "(stale or replayed)", "version")
    if len(payload) != header.payload_size:
        raise UpdateError(f"payload is {len(payload)} bytes, header says {header.payload_size}", "payload")
    if hashlib.sha256(payload).hexdigest() != header.payload_hash:
        raise UpdateError("payload SHA-256 does not match the header's payload_hash", "payload")
    if header.kind == "model":
        model = _load(payload, header)
    else:
        if header.base_version != current.version or header.base_hash != current.digest:
            raise UpdateError(f"delta v{header.version} applies to v{header.base_version} (parameters "
                              f"{str(header.base_hash)[:12]}…), the server runs v{current.version} "
                              f"({current.digest[:12]}…)", "base", "send the whole model, or a delta against the "
                              "version the server acknowledged")
        model = _load(_apply_delta(payload, current.model, header), header)
    digest = param_digest(model.graph.params)
    if digest != header.result_hash:
        raise UpdateError(f"v{header.version}: the resulting parameters hash to {digest[:12]}…, the header says "
                          f"{header.result_hash[:12]}…", "payload")
    check_compatible(model, current.model)
    return Running(model, current.stream, header.version, digest)


def _parse(body: bytes, limits: UpdateLimits) -> tuple[UpdateHeader, bytes]:
    from pysr.io.model_file import strict_json

    if body[: len(MAGIC)] != MAGIC:
        raise UpdateError(f"not a pysr update (magic {body[:len(MAGIC)]!r}, expected {MAGIC!r})", "header")
    (hn,) = struct.unpack("<I", body[len(MAGIC) : PREFIX_BYTES])
    if hn > limits.max_header_bytes or PREFIX_BYTES + hn > len(body):
        raise UpdateError(f"header length {hn} is above the limit {limits.max_header_bytes} or past the end of "
                          f"the update ({len(body)} bytes before the tag)", "header")
    try:
        h = strict_json(body[PREFIX_BYTES : PREFIX_BYTES + hn].decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as err:
        raise UpdateError(f"update header is not valid UTF-8 JSON ({err})", "header") from None
    if not isinstance(h, dict) or set(h) != set(HEADER_KEYS):
        got = sorted(h) if isinstance(h, dict) else type(h).__name__
        raise UpdateError(f"update header must have exactly the keys {sorted(HEADER_KEYS)}, got {got}", "header")
    if h["format"] != UPDATE_FORMAT or type(h["format"]) is not int:
        raise UpdateError(f"update format {h['format']!r} is not supported (this pysr reads {UPDATE_FORMAT})",
                          "header", "upgrade pysr on the server")

    def is_int(v):
        return type(v) is int

    def is_hash(v):
        return isinstance(v, str) and len(v) == 64 and all(c in "0123456789abcdef" for c in v)

    bad = None
    if not isinstance(h["stream"], str):
        bad = "stream must be a string"
    elif not is_int(h["version"]) or h["version"] < 1:
        bad = f"version must be an integer >= 1, got {h['version']!r}"
    elif h["kind"] not in KINDS:
        bad = f"kind must be one of {KINDS}, got {h['kind']!r}"
    elif h["kind"] == "model" and (h["base_version"] is not None or h["base_hash"] is not None):
        bad = "a whole-model update has base_version and base_hash null"
    elif h["kind"] == "delta" and not (is_int(h["base_version"]) and h["base_version"] >= 0
                                       and is_hash(h["base_hash"])):
        bad = "a delta needs base_version (integer >= 0) and base_hash (64 lower-case hex digits)"
    elif not (is_hash(h["result_hash"]) and is_hash(h["payload_hash"])):
        bad = "result_hash and payload_hash must be 64 lower-case hex digits"
    elif not is_int(h["payload_size"]) or h["payload_size"] < 0:
        bad = f"payload_size must be an integer >= 0, got {h['payload_size']!r}"
    if bad:
        raise UpdateError(f"update header: {bad}", "header")
    header = UpdateHeader(**{k: h[k] for k in HEADER_KEYS if k != "format"})
    return header, body[PREFIX_BYTES + hn :]


def _load(data: bytes, header: UpdateHeader) -> Model:
    import pysr

    try:
        return pysr.load(data)
    except PysrError as err:
        raise UpdateError(f"v{header.version} ({header.kind}): the resulting model was rejected by the loader: {err}",
                          "model") from err


def _apply_delta(payload: bytes, base: Model, header: UpdateHeader) -> bytes:
    """Base parameters with the delta's tensors replaced, as `.pysr` bytes for the full loader."""
    from safetensors import SafetensorError
    from safetensors.numpy import load

    where = f"v{header.version} delta"
    if len(payload) < 8:
        raise UpdateError(f"{where}: payload of {len(payload)} bytes is not a safetensors blob", "payload")
    (hn,) = struct.unpack("<Q", payload[:8])
    if hn > len(payload) - 8:
        raise UpdateError(f"{where}: safetensors header length {hn} runs past the payload", "payload")
    from pysr.io.model_file import strict_json

    try:
        meta = strict_json(payload[8 : 8 + hn].decode("utf-8")).get("__metadata__")
        tensors = load(payload)
    except (UnicodeDecodeError, ValueError, AttributeError, SafetensorError) as err:
        raise UpdateError(f"{where}: payload is not a valid safetensors blob ({err})", "payload") from None
    if meta != {"pysr.delta": str(UPDATE_FORMAT)}:
        raise UpdateError(f"{where}: safetensors metadata must be {{'pysr.delta': '{UPDATE_FORMAT}'}}, got {meta!r}",
                          "payload")
    if not tensors:
        raise UpdateError(f"{where}: changes no tensor", "empty")
    params = dict(base.graph.params)
    for name, value in sorted(tensors.items()):
        if name not in params:
            raise UpdateError(f"{where}: tensor {name!r} is not a parameter of the running model", "mismatch")
        if value.dtype != np.dtype("<f4") or value.shape != params[name].shape:
            raise UpdateError(f"{where}: tensor {name!r} is {value.dtype} {list(value.shape)}, the running model's is "
                              f"float32 {list(params[name].shape)}", "mismatch")
        params[name] = value
    graph = base.graph.copy()
    graph.params = params
    return model_bytes(Model(graph, base.facts))


def check_compatible(new: Model, old: Model) -> None:
    """The new model must be a drop-in replacement: same graph (ops, attributes, parameter names and shapes),
    same architecture, scale, colour, input range and temporal kind. Values may differ."""
    for key in ("architecture", "scale", "colour", "input_range", "temporal", "state"):
        a, b = new.facts.get(key), old.facts.get(key)
        if a != b:
            raise UpdateError(f"update does not match the running model: {key} {a!r}, running {b!r}", "mismatch",
                              "an update may change parameter values only; restart the stream for a new model")
    ga, gb = new.graph.to_json(), old.graph.to_json()
    if ga != gb:
        for part in ("inputs", "outputs", "nodes"):
            if ga[part] != gb[part]:
                first = next((f"{x!r} vs running {y!r}" for x, y in zip(ga[part], gb[part]) if x != y),
                             f"{len(ga[part])} vs running {len(gb[part])} entries")
                raise UpdateError(f"update does not match the running model's graph ({part}): {first}", "mismatch")
    for name, v in new.graph.params.items():
        if old.graph.params[name].shape != v.shape:
            raise UpdateError(f"update does not match the running model: tensor {name!r} is {list(v.shape)}, "
                              f"running {list(old.graph.params[name].shape)}", "mismatch")
