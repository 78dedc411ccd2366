"""What the server keeps of a stream across its own restarts (`pysr serve --state-dir DIR`): the model it runs and
that model's update version (docs/live.md, "Checks on the server").

    DIR/<stream>.pysr     the running model (the update's whole model, deltas applied)
    DIR/<stream>.json     {"version": N, "digest": parameter SHA-256, "saved": unix time}

An accepted update is written here before the control API answers 202 (model first, then the JSON, each through
a temporary file renamed into place, so a crash leaves the previous pair or the new one). At a stream's first
publish after a restart its worker starts from the stored model and version: the streamer's next update must be
above it, and an old signed update replayed to the restarted server is refused as stale. A stored model that no
longer loads, or no longer fits the server's model (scale, colour), is reported and the stream starts on the
server's model — but at the stored version, so replays stay refused.
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

from pysr.errors import MediaError, PysrError
from pysr.live.updates import Running, UpdateError, check_compatible, model_bytes, param_digest
from pysr.model import Model

_NAME = re.compile(r"[A-Za-z0-9_.-]{1,128}")


class StreamStates:
    def __init__(self, folder: Path):
        self.folder = Path(folder)
        if not self.folder.is_dir():
            raise MediaError(f"--state-dir {self.folder}: no such folder")

    def _paths(self, stream: str) -> tuple[Path, Path]:
        if not _NAME.fullmatch(stream) or stream.startswith("."):
            raise MediaError(f"stream name {stream!r} cannot name a state file", "use letters, digits, _ . - in "
                             "stream names (keys file: KEY NAME)")
        return self.folder / f"{stream}.pysr", self.folder / f"{stream}.json"

    def save(self, running: Running) -> None:
        """Store the stream's model and version (MediaError when the folder cannot take them)."""
        model_path, meta_path = self._paths(running.stream)
        meta = {"version": running.version, "digest": running.digest, "saved": round(time.time(), 3)}
        try:
            _replace(model_path, model_bytes(running.model))
            _replace(meta_path, json.dumps(meta).encode())
        except OSError as err:
            raise MediaError(f"cannot store stream {running.stream}'s model in {self.folder}: {err}") from err

    def load(self, stream: str, base: Model, log) -> Running:
        """The stream's Running at its first publish: the stored one, else `base` at version 0 (see the module
        docstring for a stored model that no longer fits)."""
        import pysr

        model_path, meta_path = self._paths(stream)
        if not meta_path.exists():
            return Running.initial(base, stream)
        try:
            meta = json.loads(meta_path.read_text())
            version = meta["version"]
            if type(version) is not int or version < 0:
                raise ValueError(f"version {version!r}")
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise MediaError(f"{meta_path}: unreadable stream state ({err})",
                             "fix or remove it; removing it lets old updates of this stream be replayed") from err
        try:
            model = pysr.load(model_path)
            digest = param_digest(model.graph.params)
            if digest != meta.get("digest"):
                raise UpdateError(f"its parameters hash to {digest[:12]}…, the state says "
                                  f"{str(meta.get('digest'))[:12]}…", "payload")
            check_compatible(model, base)
        except (PysrError, OSError) as err:
            log(f"stream {stream}: stored model v{version} not used ({err}); starting on {base!r} at version "
                f"{version}")
            return Running.initial(base, stream, version)
        log(f"stream {stream}: model v{version} restored from {model_path}")
        return Running(model, stream, version, digest)


def _replace(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError:
        tmp.unlink(missing_ok=True)
        raise
