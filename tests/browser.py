"""Headless Chromium for the browser tests (tests/test_browser_hls.py, tests/test_browser_webrtc.py), driven over the
Chrome DevTools Protocol: the browser started with --remote-debugging-port=0, one WebSocket to its page, and three
commands — navigate, evaluate JavaScript, read the console. aiohttp (already in the `test` extra) is the WebSocket
client, so no driver package (selenium, playwright) and no downloaded browser is needed: the Debian `chromium`
package is the browser, found on PATH.

`npm_file` fetches a file of an npm package (hls.js) into a cache folder at test time; nothing third-party is kept in
the repository.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import aiohttp
import pytest

NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
# Headless, no GPU, no sandbox (CI runs as root), and nothing that reaches for the network on its own: on a closed
# network the background services' connection attempts stall or are refused.
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
         "--no-proxy-server", "--autoplay-policy=no-user-gesture-required", "--mute-audio"]
START_S = 60.0              # the browser's DevTools port: a cold start on a loaded 2-core machine takes seconds


def find_chromium() -> str | None:
    return next((p for p in map(shutil.which, NAMES) if p), None)


def chromium_missing() -> str | None:
    """Why the browser tests cannot run here, or None."""
    if find_chromium() is None:
        return f"no Chromium ({' / '.join(NAMES)}) on PATH (apt-get install chromium)"
    return None


def npm_file(cache: Path, name: str, version: str, file: str, timeout: float = 180.0) -> Path:
    """`cache/node_modules/NAME/FILE`, installed with `npm install NAME@VERSION` if it is not there yet. Skips the
    calling test, saying why, where npm or the registry is not available."""
    package = f"{name}@{version}"
    path = cache / "node_modules" / name / file
    if path.is_file():
        return path
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip(f"no npm on PATH to fetch {package} (apt-get install npm, or Node.js)")
    cache.mkdir(parents=True, exist_ok=True)
    cmd = [npm, "install", "--prefix", str(cache), "--no-save", "--no-package-lock", "--no-audit", "--no-fund",
           "--loglevel=error", "--fetch-retries=1", "--fetch-retry-mintimeout=1000", "--fetch-timeout=30000", package]
    try:
        run = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=cache)
    except subprocess.TimeoutExpired:
        pytest.skip(f"`npm install {package}` took over {timeout:.0f} s (no npm registry reachable?)")
    if run.returncode != 0 or not path.is_file():
        lines = run.stderr.strip().splitlines() or ["no output"]
        why = next((ln for ln in lines if "Error" in ln), lines[0])      # (FetchError: request to … failed …)
        pytest.skip(f"`npm install {package}` failed (no npm registry reachable?): {why}")
    return path


class JsError(AssertionError):
    """A script evaluated in the page threw."""


class Browser:
    """One headless Chromium and its first page. Use `async with Browser(folder, *flags) as b`; on leaving, the
    browser's console log and the tail of its own log are printed (pytest shows them for a failed test)."""

    def __init__(self, folder: Path, *flags: str):
        self.folder, self.flags = Path(folder), flags
        self.log: list[str] = []                    # console messages, uncaught exceptions, browser log entries
        self.proc: subprocess.Popen | None = None
        self._http: aiohttp.ClientSession | None = None
        self._ws = None
        self._reader: asyncio.Task | None = None
        self._ids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future] = {}
        self._t0 = time.monotonic()

    async def __aenter__(self) -> Browser:
        try:
            await self._launch()
        except BaseException:
            await self.close()
            raise
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()
        print(self.report())

    async def _launch(self) -> None:
        exe = find_chromium()
        assert exe is not None, chromium_missing()
        profile = self.folder / "profile"           # a fresh profile each time: no state between runs
        shutil.rmtree(profile, ignore_errors=True)
        profile.mkdir(parents=True)
        cmd = [exe, *FLAGS, f"--user-data-dir={profile}", "--remote-debugging-port=0", *self.flags, "about:blank"]
        with open(self.folder / "chromium.log", "wb") as out:
            # its own session: the renderer, GPU and utility processes are stopped with it, by its process group
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                         start_new_session=True)
        port_file = profile / "DevToolsActivePort"   # written once the DevTools server listens (port 0: any free one)
        end = time.monotonic() + START_S
        while not (port_file.is_file() and port_file.read_text().count("\n") >= 1):
            assert self.proc.poll() is None, f"Chromium exited ({self.proc.returncode}) at start\n{self.report()}"
            assert time.monotonic() < end, f"Chromium's DevTools port not open after {START_S:.0f} s\n{self.report()}"
            await asyncio.sleep(0.05)
        port = int(port_file.read_text().split()[0])
        self._http = aiohttp.ClientSession()        # (trust_env off: a proxy in the environment is not used)
        async with self._http.get(f"http://127.0.0.1:{port}/json/list") as r:
            pages = [t for t in await r.json() if t["type"] == "page"]
        assert pages, "Chromium has no page"
        self._ws = await self._http.ws_connect(pages[0]["webSocketDebuggerUrl"], max_msg_size=0)
        self._reader = asyncio.ensure_future(self._read())
        for domain in ("Runtime", "Log", "Page"):
            await self.send(f"{domain}.enable")

    async def close(self) -> None:
        asked = self._ws is not None and self.proc.poll() is None
        if asked:
            with contextlib.suppress(Exception):            # (it may close the connection before it answers)
                await self.send("Browser.close", timeout=5)
        if self._reader is not None:
            self._reader.cancel()
        if self._ws is not None:
            await self._ws.close()
        if self._http is not None:
            await self._http.close()
        if self.proc is None:
            return
        loop = asyncio.get_running_loop()
        if asked:
            with contextlib.suppress(subprocess.TimeoutExpired):    # after Browser.close it exits on its own
                await loop.run_in_executor(None, self.proc.wait, 10)
        for sig in (signal.SIGTERM, signal.SIGKILL):            # what is left of its process group (all of it, if not)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, sig)
            with contextlib.suppress(subprocess.TimeoutExpired):
                await loop.run_in_executor(None, self.proc.wait, 10)
                break

    async def _read(self) -> None:
        async for msg in self._ws:
            if msg.type != aiohttp.WSMsgType.TEXT:
                continue
            data = json.loads(msg.data)
            if "id" in data:
                fut = self._waiting.pop(data["id"], None)
                if fut is not None and not fut.done():
                    fut.set_result(data)
            else:
                self._event(data["method"], data.get("params", {}))
        for fut in self._waiting.values():          # the browser went away
            if not fut.done():
                fut.set_exception(ConnectionError(f"Chromium closed the DevTools connection\n{self.report()}"))

    def _event(self, method: str, p: dict) -> None:
        at = f"{time.monotonic() - self._t0:6.1f} s"
        if method == "Runtime.consoleAPICalled":
            args = " ".join(str(a.get("value", a.get("description", a.get("type")))) for a in p.get("args", []))
            self.log.append(f"{at} console.{p['type']}: {args}")
        elif method == "Runtime.exceptionThrown":
            d = p["exceptionDetails"]
            self.log.append(f"{at} uncaught: {d.get('exception', {}).get('description') or d.get('text')}")
        elif method == "Log.entryAdded":
            e = p["entry"]
            self.log.append(f"{at} {e['source']} {e['level']}: {e['text']} {e.get('url', '')}".rstrip())

    async def send(self, method: str, timeout: float = 30.0, **params) -> dict:
        i = next(self._ids)
        fut = asyncio.get_running_loop().create_future()
        self._waiting[i] = fut
        await self._ws.send_str(json.dumps({"id": i, "method": method, "params": params}))
        data = await asyncio.wait_for(fut, timeout)
        if "error" in data:
            raise AssertionError(f"{method}: {data['error']}")
        return data["result"]

    async def evaluate(self, expression: str, timeout: float = 30.0):
        """The value of a JavaScript expression in the page (a promise is awaited); JsError if it throws."""
        r = await self.send("Runtime.evaluate", timeout, expression=expression, returnByValue=True,
                            awaitPromise=True)
        if "exceptionDetails" in r:
            d = r["exceptionDetails"]
            raise JsError(f"{expression[:200]}\n→ {d.get('exception', {}).get('description') or d.get('text')}")
        return r["result"].get("value")

    async def open(self, url: str, timeout: float = 30.0) -> None:
        """Navigate and wait until the page has loaded (its scripts have run)."""
        nav = await self.send("Page.navigate", url=url)
        assert "errorText" not in nav, f"{url}: {nav['errorText']}"
        await self.wait(f"document.readyState === 'complete' && location.href === {json.dumps(url)}", timeout,
                        f"{url} loaded")

    async def wait(self, expression: str, timeout: float, what: str, every: float = 0.1):
        """Poll a JavaScript expression until it is truthy; its value. Fails after `timeout` s with the last value."""
        end, value = time.monotonic() + timeout, None
        while True:
            value = await self.evaluate(expression)
            if value:
                return value
            assert time.monotonic() < end, f"not {what} after {timeout:.0f} s; last {value!r}"
            await asyncio.sleep(every)

    def report(self) -> str:
        text = ""
        with contextlib.suppress(OSError):
            lines = (self.folder / "chromium.log").read_text(errors="replace").splitlines()
            # (without a D-Bus, Chromium logs a line for each service it looks for: noise here)
            lines = [ln for ln in lines if "dbus" not in ln and "unexpected operator" not in ln]
            text = "\n".join(lines[-40:])
        console = "\n".join(self.log[-200:]) or "(empty)"
        return f"--- browser console ---\n{console}\n--- chromium's log (last lines) ---\n{text or '(empty)'}"
