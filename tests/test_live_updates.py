"""Model updates (pysr.live.updates) and the uplink pacer (pysr.live.uplink): good updates install, every bad
one is a typed UpdateError that leaves the running model untouched."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

import pysr
from pysr.errors import PysrError
from pysr.live import updates as up
from pysr.live.updates import Running, UpdateError, UpdateHeader, UpdateLimits, make_update, verify_and_load
from pysr.live.uplink import TokenBucket, UplinkBudget, UplinkError
from pysr.models import espcn
from pysr.models.convert import facts_for

KEY = b"stream-key-of-alice"


def tiny(scale=3, channels=(12, 7), seed=None):
    cfg = espcn.EspcnConfig(scale=scale, channels=channels, kernels=(5, 3, 3))
    return pysr.Model(espcn.build(cfg, espcn.init_params(cfg, seed=scale if seed is None else seed)),
                      facts_for("espcn", cfg, {}, "MIT"))


def retrained(model, names=None, step=0.01, seed=5):
    """The same model with some tensors nudged, as online training would."""
    rng = np.random.default_rng(seed)
    g = model.graph.copy()
    g.params = {k: (v + step * rng.standard_normal(v.shape)).astype(np.float32) if names is None or k in names else v
                for k, v in g.params.items()}
    return pysr.Model(g, model.facts)


@pytest.fixture
def running():
    return Running.initial(tiny(), "alice")


def snapshot(r: Running):
    return r.version, r.digest, {k: v.copy() for k, v in r.model.graph.params.items()}


def assert_untouched(r: Running, snap):
    version, digest, params = snap
    assert (r.version, r.digest) == (version, digest)
    assert up.param_digest(r.model.graph.params) == digest
    for k, v in params.items():
        np.testing.assert_array_equal(r.model.graph.params[k], v)


def rejected(blob, r, reason, key=KEY, limits=None, match=None):
    snap = snapshot(r)
    with pytest.raises(UpdateError, match=match) as e:
        verify_and_load(blob, key, r, limits)
    assert isinstance(e.value, PysrError) and e.value.reason == reason, str(e.value)
    assert_untouched(r, snap)
    return e.value


def test_whole_model_update_installs(running):
    new = retrained(running.model)
    r2 = verify_and_load(make_update(new, KEY, "alice", 1), KEY, running)
    assert (r2.version, r2.stream) == (1, "alice")
    assert r2.digest == up.param_digest(new.graph.params) != running.digest
    for k, v in new.graph.params.items():
        np.testing.assert_array_equal(r2.model.graph.params[k], v)
    x = np.random.default_rng(0).uniform(0, 1, (1, 1, 8, 9)).astype(np.float32)
    np.testing.assert_array_equal(r2.model.plan("cpu", x.shape).run(x)[0], new.plan("cpu", x.shape).run(x)[0])


def test_delta_update_installs_and_chains(running):
    new = retrained(running.model, names={"conv3.weight"})  # only the last layer was fine-tuned
    blob = make_update(new, KEY, "alice", 1, base=running)
    whole = make_update(new, KEY, "alice", 1)
    assert len(blob) < len(whole)
    r2 = verify_and_load(blob, KEY, running)
    assert r2.digest == up.param_digest(new.graph.params)
    newer = retrained(new, seed=9)
    r3 = verify_and_load(make_update(newer, KEY, "alice", 5, base=r2), KEY, r2)  # versions may skip
    assert r3.version == 5 and r3.digest == up.param_digest(newer.graph.params)


def test_delta_payload_is_the_changed_tensors_only(running):
    from safetensors.numpy import load

    new = retrained(running.model, names={"conv1.bias", "conv3.weight"})
    payload = up.delta_payload(running.model.graph.params, new.graph.params)
    got = load(payload)
    assert sorted(got) == ["conv1.bias", "conv3.weight"]
    np.testing.assert_array_equal(got["conv3.weight"], new.graph.params["conv3.weight"])
    with pytest.raises(UpdateError, match="nothing to send"):
        up.delta_payload(running.model.graph.params, running.model.graph.params)


def test_truncated(running):
    blob = make_update(retrained(running.model), KEY, "alice", 1)
    for n in (len(blob) - 1, len(blob) // 2, 40, 3):
        rejected(blob[:n], running, "signature" if n >= up.PREFIX_BYTES + up.TAG_BYTES else "size")


def test_bit_flips_anywhere(running):
    blob = bytearray(make_update(retrained(running.model), KEY, "alice", 1))
    for pos in (0, 9, 20, len(blob) // 2, len(blob) - 40, len(blob) - 1):
        bad = bytearray(blob)
        bad[pos] ^= 0x10
        rejected(bytes(bad), running, "signature")


def test_bad_signature_and_wrong_key(running):
    blob = make_update(retrained(running.model), KEY, "alice", 1)
    rejected(blob[:-32] + bytes(32), running, "signature")
    rejected(blob, running, "signature", key=b"stream-key-of-mallory")
    forged = make_update(retrained(running.model), b"stream-key-of-mallory", "alice", 1)
    rejected(forged, running, "signature")
    with pytest.raises(UpdateError):
        verify_and_load(blob, b"", running)


def test_replayed_and_stale_versions(running):
    v1 = make_update(retrained(running.model, seed=1), KEY, "alice", 1)
    r1 = verify_and_load(v1, KEY, running)
    rejected(v1, r1, "version", match="stale or replayed")
    v2 = make_update(retrained(running.model, seed=2), KEY, "alice", 2)
    r2 = verify_and_load(v2, KEY, r1)
    rejected(v1, r2, "version")


def test_other_stream(running):
    rejected(make_update(retrained(running.model), KEY, "bob", 1), running, "stream")


def test_delta_against_another_base(running):
    r1 = verify_and_load(make_update(retrained(running.model, seed=1), KEY, "alice", 1), KEY, running)
    # The streamer computed the delta against v0, but the server already runs v1.
    delta = make_update(retrained(running.model, seed=2), KEY, "alice", 2, base=running)
    rejected(delta, r1, "base", match="applies to v0")
    # Same version number, different parameters: the hash catches it.
    other = Running(running.model, "alice", 1, running.digest)
    fake_base = Running(retrained(running.model, seed=3), "alice", 1, up.param_digest(
        retrained(running.model, seed=3).graph.params))
    rejected(make_update(retrained(running.model, seed=4), KEY, "alice", 2, base=fake_base), other, "base")


def test_oversized_is_rejected_before_parsing(running, monkeypatch):
    calls = []
    for name in ("_parse", "_load", "_apply_delta"):
        monkeypatch.setattr(up, name, lambda *a, _n=name: calls.append(_n))
    monkeypatch.setattr(up.hmac, "new", lambda *a, **k: calls.append("hmac"))
    monkeypatch.setattr(pysr, "load", lambda *a: calls.append("load"))
    blob = b"\0" * 5000  # would fail every later check; must not reach any of them
    rejected(blob, running, "size", limits=UpdateLimits(max_bytes=4096), match="not parsed")
    assert calls == []


def test_oversized_real_update(running):
    blob = make_update(retrained(running.model), KEY, "alice", 1)
    rejected(blob, running, "size", limits=UpdateLimits(max_bytes=len(blob) - 1))
    assert verify_and_load(blob, KEY, running, UpdateLimits(max_bytes=len(blob))).version == 1


def _signed(header_changes: dict, payload: bytes, running, kind="model"):
    h = UpdateHeader("alice", 1, kind, None, None, "0" * 64, hashlib.sha256(payload).hexdigest(), len(payload))
    h = UpdateHeader(**{**h.__dict__, **header_changes})
    return up.pack_update(h, payload, KEY)


def test_nan_weights_in_a_validly_signed_update(running):
    bad = retrained(running.model)
    bad.graph.params["conv2.weight"][0, 0, 1, 1] = np.nan
    with pytest.raises(UpdateError, match="NaN"):
        make_update(bad, KEY, "alice", 1)  # the streamer refuses to send it ...
    payload = up.model_bytes(bad)
    e = rejected(_signed({"result_hash": up.param_digest(bad.graph.params)}, payload, running), running, "model")
    assert "non-finite" in str(e)  # ... and the server's loader refuses to load it
    # the same through a delta
    delta = up.delta_payload(running.model.graph.params, bad.graph.params)
    blob = _signed({"kind": "delta", "base_version": 0, "base_hash": running.digest}, delta, running)
    assert "non-finite" in str(rejected(blob, running, "model"))


def test_wrong_scale_and_architecture(running):
    rejected(make_update(tiny(scale=2), KEY, "alice", 1), running, "mismatch", match="scale")
    rejected(make_update(tiny(channels=(12, 5)), KEY, "alice", 1), running, "mismatch", match="conv2.bias")
    bt709 = tiny()
    bt709.facts = {**bt709.facts, "colour": {**bt709.facts["colour"], "matrix": "bt709"}}
    rejected(make_update(bt709, KEY, "alice", 1), running, "mismatch", match="colour")
    rgb = tiny()
    rgb.facts = {**rgb.facts, "colour": {"mode": "rgb"}}
    rejected(make_update(rgb, KEY, "alice", 1), running, "mismatch", match="colour")


def test_malformed_but_signed(running):
    payload = up.model_bytes(retrained(running.model))
    rejected(_signed({"payload_size": len(payload) + 1}, payload, running), running, "payload")
    rejected(_signed({"payload_hash": "0" * 64}, payload, running), running, "payload")
    rejected(_signed({"result_hash": "1" * 64}, payload, running), running, "payload", match="hash to")
    rejected(_signed({"kind": "exe"}, payload, running), running, "header")
    rejected(_signed({"kind": "model", "base_hash": "0" * 64}, payload, running), running, "header")
    rejected(_signed({}, b"this is not a model", running), running, "model")
    rejected(_signed({"kind": "delta", "base_version": 0, "base_hash": running.digest}, b"junk" * 5, running),
             running, "payload")
    head = json.dumps({"format": 1}).encode()
    body = up.MAGIC + len(head).to_bytes(4, "little") + head
    rejected(body + up.hmac.new(KEY, body, hashlib.sha256).digest(), running, "header", match="exactly the keys")
    body = b"NOTMAGIC" + (2).to_bytes(4, "little") + b"{}"
    rejected(body + up.hmac.new(KEY, body, hashlib.sha256).digest(), running, "header", match="magic")


def test_delta_naming_unknown_tensor(running):
    from safetensors.numpy import save

    payload = save({"conv9.weight": np.zeros((1,), np.float32)}, metadata={"pysr.delta": "1"})
    blob = _signed({"kind": "delta", "base_version": 0, "base_hash": running.digest}, payload, running)
    rejected(blob, running, "mismatch", match="conv9.weight")
    payload = save({"conv3.weight": np.zeros((1,), np.float32)}, metadata={"pysr.delta": "1"})
    blob = _signed({"kind": "delta", "base_version": 0, "base_hash": running.digest}, payload, running)
    rejected(blob, running, "mismatch", match="conv3.weight")


# ---- uplink ---------------------------------------------------------------------------------------------------


def sent_in_windows(times, sizes, width):
    """Largest number of bytes sent (at the send instants) in any window [a, a + width]."""
    times, sizes = np.asarray(times), np.asarray(sizes)
    return max(sizes[(times >= t) & (times <= t + width)].sum() for t in times)


@pytest.mark.parametrize("n", [1, 999, 1000, 10_500, 123_457])
def test_pacing_never_exceeds_the_budget(n):
    budget = UplinkBudget(2_000_000, margin=0.1, chunk_bytes=1000)
    video = 1_000_000
    r = budget.update_rate(video)
    assert r == pytest.approx((2_000_000 * 0.9 - video) / 8)
    plan = budget.chunks(bytes(range(256)) * (n // 256) + bytes(n % 256), video)
    assert b"".join(c for _, c in plan) == bytes(range(256)) * (n // 256) + bytes(n % 256)
    assert all(d >= 0 and 0 < len(c) <= 1000 for d, c in plan)
    times = np.cumsum([d for d, _ in plan])
    sizes = [len(c) for _, c in plan]
    for width in (0.0, 0.001, 0.0123, 0.1, 1.0, 10.0):
        assert sent_in_windows(times, sizes, width) <= budget.chunk_bytes + r * width + 1e-6
    # carried at rate r one after another, the last byte arrives at N / r: the predicted delivery time
    done = 0.0
    for t, s in zip(times, sizes):
        done = max(done, t) + s / r
    assert done == pytest.approx(budget.delivery_time(n, video), rel=1e-9)
    assert times[-1] == pytest.approx(max(0, n - 1000) / r, rel=1e-9, abs=1e-12)
    # video + updates within the uplink: average update bitrate over the whole send <= the share
    if n > 1000:
        assert 8 * n / done <= 2_000_000 * 0.9 - video + 1e-6


def test_no_room_for_updates():
    with pytest.raises(UplinkError, match="no room"):
        UplinkBudget(1_000_000).chunks(b"x" * 10, 950_000)
    with pytest.raises(UplinkError):
        UplinkBudget(0)


def test_token_bucket_rate_change_keeps_the_bound():
    b = TokenBucket(rate=1000, capacity=100)
    times = [b.reserve(100, 0.0) for _ in range(5)]
    assert times == pytest.approx([0.0, 0.1, 0.2, 0.3, 0.4])
    b.set_rate(500, 0.4)
    assert b.reserve(100, 0.4) == pytest.approx(0.6)
    assert b.reserve(50, 1.0) == pytest.approx(1.0)  # idle time refilled the bucket
    with pytest.raises(UplinkError):
        b.reserve(101, 2.0)
