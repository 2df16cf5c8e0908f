"""`pooltui serve PID`: the TUI in a web browser (textual-serve), against a real hung process.

textual-serve first serves an HTML page; its script opens a websocket, and the server runs
`python -m pooltui attach PID` for that session and streams the terminal output over it into
xterm.js. Checked at two levels:

* the server itself: the page names pooltui and the pid; a websocket session streams the
  real TUI (the scenario's thread names appear in the terminal output);
* headless Chromium driven over the DevTools protocol: the page loads, names pooltui, its
  own script connects and receives the TUI, and a key typed into the page's terminal
  reaches the app (`?` opens the help screen). xterm.js draws on a canvas, so the text is
  read from what the page's websocket received (a wrapper installed before the page's
  scripts run), not from the DOM. Skips when /usr/bin/chromium is absent.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from pooltui import scenarios

pytestmark = pytest.mark.live

aiohttp = pytest.importorskip("aiohttp", reason="aiohttp comes with textual-serve")
CHROMIUM = "/usr/bin/chromium"
ANSI = re.compile(r"\x1b(\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)|[@-Z\\-_])")
HOLDER = "cache-refresher"  # a thread of the plain_lock scenario: shown in the TUI's thread pane


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _until(predicate, what: str, timeout: float = 30.0, proc: subprocess.Popen | None = None):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"{what}: the process exited with {proc.returncode}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def _get(url: str) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.read().decode()
    except OSError:
        return None


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """A hung process (demo plain_lock) and `pooltui serve` on it: (url, pid)."""
    demo = scenarios.start("plain_lock", sys.executable, timeout=60)
    port = _free_port()
    log = tmp_path_factory.mktemp("serve") / "serve.log"
    with open(log, "wb") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "pooltui", "serve", str(demo.pid), "--port", str(port), "--interval", "30"],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # the browser sessions' `pooltui attach` children go with it
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _until(lambda: _get(url + "/"), "the server to answer", proc=server)
        yield url, demo.pid
    finally:
        try:
            os.killpg(server.pid, signal.SIGINT)
            server.wait(timeout=10)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            pass
        try:
            os.killpg(server.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        server.wait()
        demo.stop()


def test_page_names_pooltui_and_the_pid(served):
    url, pid = served
    page = _get(url + "/")
    assert page is not None and "pooltui" in page and f"pid {pid}" in page
    assert "ws://127.0.0.1:" in page  # the websocket the page's script opens


def test_a_websocket_session_streams_the_tui(served):
    url, _ = served

    async def session() -> str:
        text = ""
        async with aiohttp.ClientSession() as http, http.ws_connect(url.replace("http", "ws") + "/ws?width=140&height=40") as ws:
            await ws.send_str(json.dumps(["resize", {"width": 140, "height": 40}]))
            deadline = time.monotonic() + 60
            while HOLDER not in ANSI.sub("", text) and time.monotonic() < deadline:
                msg = await ws.receive(timeout=60)
                if msg.type == aiohttp.WSMsgType.BINARY:
                    text += msg.data.decode("utf-8", "replace")
                elif msg.type != aiohttp.WSMsgType.TEXT:
                    break
        return ANSI.sub("", text)

    screen = asyncio.run(session())
    assert HOLDER in screen, screen[-2000:]


# installed before the page's own scripts: keeps what the terminal's websocket receives
CAPTURE_JS = """
(() => {
  const Native = window.WebSocket;
  const decoder = new TextDecoder();
  window.__pooltui = {text: "", open: false};
  window.WebSocket = function (url, protocols) {
    const ws = protocols === undefined ? new Native(url) : new Native(url, protocols);
    ws.addEventListener("open", () => { window.__pooltui.open = true; });
    ws.addEventListener("message", (event) => {
      if (typeof event.data !== "string") {
        window.__pooltui.text += decoder.decode(new Uint8Array(event.data), {stream: true});
      }
    });
    return ws;
  };
  window.WebSocket.prototype = Native.prototype;
  Object.assign(window.WebSocket, {CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3});
})();
"""


class DevTools:
    """The few DevTools-protocol calls the test needs, over the browser's websocket."""

    def __init__(self, ws) -> None:
        self.ws, self.last, self.session = ws, 0, None

    async def call(self, method: str, **params):
        self.last += 1
        message = {"id": self.last, "method": method, "params": params}
        if self.session and not method.startswith("Target."):
            message["sessionId"] = self.session
        await self.ws.send_str(json.dumps(message))
        while True:
            reply = json.loads((await self.ws.receive(timeout=30)).data)
            if reply.get("id") == self.last:
                if "error" in reply:
                    raise AssertionError(f"{method}: {reply['error']}")
                return reply.get("result", {})

    async def js(self, expression: str):
        result = await self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        return result.get("result", {}).get("value")

    async def until(self, expression: str, what: str, timeout: float = 60.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = await self.js(expression)
            if value:
                return value
            await asyncio.sleep(0.2)
        raise AssertionError(f"the page never showed {what}: {await self.js('window.__pooltui && window.__pooltui.text.slice(-1500)')!r}")


@pytest.mark.skipif(not os.access(CHROMIUM, os.X_OK), reason=f"{CHROMIUM} not installed (apt-get install chromium)")
def test_headless_chromium_runs_the_tui(served, tmp_path):
    url, pid = served
    profile = tmp_path / "profile"
    browser = subprocess.Popen(
        [
            CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            f"--user-data-dir={profile}", "--remote-debugging-port=0", "--window-size=1400,900", "about:blank",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        active = profile / "DevToolsActivePort"
        port, path = _until(lambda: active.exists() and active.read_text().split(), "Chromium's DevTools port", proc=browser)
        asyncio.run(_drive(f"ws://127.0.0.1:{port}{path}", url, pid, tmp_path / "page.png"))
    finally:
        os.killpg(browser.pid, signal.SIGKILL)
        browser.wait()
        shutil.rmtree(profile, ignore_errors=True)


async def _drive(devtools: str, url: str, pid: int, screenshot: Path) -> None:
    async with aiohttp.ClientSession() as http, http.ws_connect(devtools, max_msg_size=0) as ws:
        cdp = DevTools(ws)
        target = await cdp.call("Target.createTarget", url="about:blank")
        cdp.session = (await cdp.call("Target.attachToTarget", targetId=target["targetId"], flatten=True))["sessionId"]
        await cdp.call("Network.enable")
        await cdp.call("Network.setBlockedURLs", urls=["*fonts.googleapis.com*"])  # the page links a web font; offline here
        await cdp.call("Page.enable")
        await cdp.call("Page.addScriptToEvaluateOnNewDocument", source=CAPTURE_JS)
        await cdp.call("Page.navigate", url=url + "/")
        title = await cdp.until("document.body && document.body.innerText", "its text")
        assert "pooltui" in title and f"pid {pid}" in title, title
        await cdp.until("window.__pooltui.open", "a websocket connection")
        await cdp.until("document.body.classList.contains('-first-byte')", "the first bytes of the app")
        await cdp.until(f"window.__pooltui.text.includes({HOLDER!r})", f"the thread {HOLDER} in the TUI")
        # a key typed into the page's terminal reaches the app: `?` opens the help screen
        await cdp.js("document.querySelector('.xterm-helper-textarea').focus()")
        await cdp.call("Input.insertText", text="?")
        await cdp.until("window.__pooltui.text.includes('pooltui keys')", "the help screen after typing ?")
        shot = await cdp.call("Page.captureScreenshot", format="png")
        import base64

        screenshot.write_bytes(base64.b64decode(shot["data"]))
