"""`pysr serve --state-dir` (pysr/live/state.py): an accepted update is stored before its 202, a restarted server
starts the stream from the stored model and version, replays of old updates stay refused, and damaged state is
reported instead of silently forgetting the version."""

from __future__ import annotations

import io

import numpy as np
import pytest
from test_runtime import tiny

import pysr
from pysr.errors import MediaError
from pysr.live.control import upload_model
from pysr.live.server import ServeConfig, Server
from pysr.live.updates import make_update, param_digest

LIMIT = 1 << 20


def _zero(model, value=0.0):
    g = model.graph.copy()
    g.params = {k: np.full_like(v, value) for k, v in model.graph.params.items()}
    return pysr.Model(g, model.facts)


def _server(tmp_path, model, state=True, logs=None):
    (tmp_path / "hls").mkdir(exist_ok=True)
    (tmp_path / "state").mkdir(exist_ok=True)
    (tmp_path / "keys").write_text("goodkey cam\n")
    config = ServeConfig("rtmp://127.0.0.1:1935/live", tmp_path / "hls", model, tmp_path / "keys",
                         max_upload=LIMIT, state_dir=tmp_path / "state" if state else None)
    return Server(config, log=(logs.append if logs is not None else lambda text: None))


def _post(server, blob: bytes) -> tuple[int, dict]:
    return upload_model(server, "goodkey", str(len(blob)), io.BytesIO(blob).read, LIMIT)


def test_a_restarted_server_goes_on_from_the_stored_update(tmp_path):
    model = tiny(2)
    first = _server(tmp_path, model)
    first.worker_for("goodkey", "cam")
    v1 = make_update(_zero(model), "goodkey", "cam", 1)
    assert _post(first, v1)[0] == 202
    assert (tmp_path / "state" / "cam.pysr").is_file() and (tmp_path / "state" / "cam.json").is_file()
    assert not list((tmp_path / "state").glob(".*"))              # no temporary file left behind

    logs: list[str] = []
    again = _server(tmp_path, model, logs=logs)                    # the restart
    worker = again.worker_for("goodkey", "cam")
    assert worker.running.version == 1
    assert worker.running.digest == param_digest(_zero(model).graph.params)
    assert all(not v.any() for v in worker.running.model.graph.params.values())
    assert any("model v1 restored" in line for line in logs), logs
    status, body = _post(again, v1)                                # the old update, replayed
    assert status == 409 and body["reason"] == "version", body
    assert _post(again, make_update(_zero(model, 0.5), "goodkey", "cam", 2))[0] == 202
    assert again.worker_for("goodkey", "cam").latest().version == 2


def test_without_state_dir_nothing_is_kept(tmp_path):
    model = tiny(2)
    first = _server(tmp_path, model, state=False)
    first.worker_for("goodkey", "cam")
    assert _post(first, make_update(_zero(model), "goodkey", "cam", 1))[0] == 202
    assert not list((tmp_path / "state").iterdir())
    assert _server(tmp_path, model, state=False).worker_for("goodkey", "cam").running.version == 0


def test_a_stored_model_that_no_longer_loads_keeps_its_version(tmp_path):
    model = tiny(2)
    first = _server(tmp_path, model)
    first.worker_for("goodkey", "cam")
    assert _post(first, make_update(_zero(model), "goodkey", "cam", 3))[0] == 202
    stored = tmp_path / "state" / "cam.pysr"
    stored.write_bytes(stored.read_bytes()[:100])                   # damaged on disk
    logs: list[str] = []
    worker = _server(tmp_path, model, logs=logs).worker_for("goodkey", "cam")
    assert worker.running.version == 3 and worker.running.model is model
    assert any("stored model v3 not used" in line for line in logs), logs


def test_unreadable_state_refuses_the_stream_with_the_reason(tmp_path):
    model = tiny(2)
    server = _server(tmp_path, model)
    (tmp_path / "state" / "cam.json").write_text("{not json")
    with pytest.raises(MediaError, match="unreadable stream state"):
        server.worker_for("goodkey", "cam")
    with pytest.raises(MediaError, match="cannot name a state file"):
        server.worker_for("otherkey", "../cam")


def test_state_that_cannot_be_written_refuses_the_update(tmp_path):
    model = tiny(2)
    server = _server(tmp_path, model)
    worker = server.worker_for("goodkey", "cam")
    (tmp_path / "state" / "cam.pysr").mkdir()                       # the model's path is taken by a folder
    status, body = _post(server, make_update(_zero(model), "goodkey", "cam", 1))
    assert status == 507 and body["reason"] == "storage", body
    assert worker.latest().version == 0                             # not offered: the stream runs on
    assert [p.name for p in (tmp_path / "state").iterdir()] == ["cam.pysr"]     # no temporary file left
