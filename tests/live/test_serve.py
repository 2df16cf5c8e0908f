"""`pooltui serve PID`: the TUI in a web browser (textual-serve), against a real hung process.

textual-serve first serves an HTML page; its script opens a websocket, and the server runs
`python -m pooltui attach PID` for that session and streams the terminal output over it into
xterm.js. Checked at two levels:

* the server itself: the page names pooltui and the pid; a websocket session streams the
  real TUI (the scenario's thread names appear in the terminal output);
* its guard (pooltui.ui.serve): without the token every request is refused, also for an
  unprivileged local user's curl; a page of another site (Origin) or a DNS-rebinding name
  (Host) is refused even with it; the session cap holds; `s` in a browser session offers
  the report as a download and writes nothing on the server's disk; the page loads nothing
  from the internet;
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
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from pooltui import scenarios

pytestmark = pytest.mark.live

aiohttp = pytest.importorskip("aiohttp", reason="aiohttp comes with textual-serve")
CHROMIUM = "/usr/bin/chromium"
ANSI = re.compile(r"\x1b(\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)|[@-Z\\-_])")
HOLDER = "cache-refresher"  # a thread of the plain_lock scenario: shown in the TUI's thread pane
TOKEN = "pooltui-test-token-" + "x" * 16
MAX_SESSIONS = 2


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


def _ws_url(url: str) -> str:
    return f"{url.replace('http', 'ws')}/ws?width=140&height=40&token={TOKEN}"


async def _connect(http, ws_url: str, origin: str):
    """A websocket session; a session of an earlier test may still be ending (--max-sessions):
    its place is free once its process exited."""
    deadline = time.monotonic() + 60
    while True:
        try:
            return await http.ws_connect(ws_url, origin=origin)
        except aiohttp.WSServerHandshakeError as exc:
            if exc.status != 503 or time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)


def _status(url: str, **headers: str) -> int:
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """A hung process (demo plain_lock) and `pooltui serve` on it: (url, pid, server's cwd).
    The url is the server's, without the token (TOKEN, given through the environment)."""
    demo = scenarios.start("plain_lock", sys.executable, timeout=60)
    port = _free_port()
    folder = tmp_path_factory.mktemp("serve")
    log = folder / "serve.log"
    cwd = folder / "cwd"
    cwd.mkdir()
    env = {**os.environ, "POOLTUI_TOKEN": TOKEN, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    with open(log, "wb") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "pooltui", "serve", str(demo.pid), "--port", str(port), "--interval", "30", "--max-sessions", str(MAX_SESSIONS)],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # the browser sessions' `pooltui attach` children go with it
            cwd=cwd,
            env=env,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _until(lambda: _get(f"{url}/?token={TOKEN}"), "the server to answer", proc=server)
        assert f"{url}/?token={TOKEN}" in log.read_text()  # the printed URL carries the token
        yield url, demo.pid, cwd
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
    url, pid, _ = served
    page = _get(f"{url}/?token={TOKEN}")
    assert page is not None and "pooltui" in page and f"pid {pid}" in page
    assert f"ws://127.0.0.1:{url.rsplit(':', 1)[1]}/ws/{TOKEN}" in page  # the websocket the page's script opens (it appends ?width=…)
    # asked by another name or port (ssh -L 9000:127.0.0.1:8000), the page's URLs follow it
    request = urllib.request.Request(f"{url}/?token={TOKEN}", headers={"Host": "localhost:9000"})
    with urllib.request.urlopen(request, timeout=5) as response:
        tunnelled = response.read().decode()
    assert f"ws://localhost:9000/ws/{TOKEN}" in tunnelled and "http://localhost:9000/static/" in tunnelled


def test_the_page_loads_nothing_from_elsewhere(served):
    url, _, _ = served
    page = _get(f"{url}/?token={TOKEN}")
    assert page is not None
    links = re.findall(r"""(?:src|href)=["']([^"']+)|url\(["']?([^"')]+)""", page)
    assert links and all(u.startswith(url + "/static/") for pair in links for u in pair if u), links
    for pair in links:
        for u in pair:
            if u:
                assert _status(u) == 200, u  # a local copy that exists (the web font too)
    with urllib.request.urlopen(f"{url}/?token={TOKEN}", timeout=5) as response:
        policy = response.headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy and "http" not in policy


@pytest.mark.parametrize("path", ["/", "/static/js/textual.js", "/static/css/xterm.css", "/download/0123456789abcdef", "/ws"])
def test_without_the_token_everything_is_refused(served, path):
    url, _, _ = served
    assert _status(url + path) == 401
    assert _status(f"{url}/ws/{'y' * len(TOKEN)}") == 401
    assert _status(url + path + "?token=" + "y" * len(TOKEN)) == 401
    assert _status(url + path + "?token=" + TOKEN[:-1]) == 401


@pytest.mark.skipif(not shutil.which("runuser") or not shutil.which("curl"), reason="needs runuser and curl")
def test_an_unprivileged_users_curl_is_refused(served):
    url, _, _ = served
    curl = ["runuser", "-u", "nobody", "--", "curl", "-s", "-w", "\n%{http_code}", url + "/"]
    out = subprocess.run(curl, capture_output=True, text=True, timeout=30)
    assert out.stdout.splitlines()[-1] == "401", out
    assert "cache-refresher" not in out.stdout and "pid" not in out.stdout


def test_another_sites_page_and_rebound_names_are_refused(served):
    url, _, _ = served
    port = url.rsplit(":", 1)[1]
    with_token = f"{url}/?token={TOKEN}"
    assert _status(with_token, Origin="http://evil.example") == 403
    assert _status(with_token, Origin="null") == 403  # a file:// page
    assert _status(with_token, Host=f"evil.example:{port}") == 403  # DNS rebinding: evil.example now resolves to 127.0.0.1
    assert _status(with_token, Origin=url, Host=f"localhost:{port}") == 200

    async def websocket(origin: str) -> int:
        async with aiohttp.ClientSession() as http:
            try:
                async with http.ws_connect(f"{url.replace('http', 'ws')}/ws?token={TOKEN}", origin=origin):
                    return 101
            except aiohttp.WSServerHandshakeError as exc:
                return exc.status

    assert asyncio.run(websocket("http://evil.example")) == 403
    assert asyncio.run(websocket("null")) == 403


def test_a_websocket_session_streams_the_tui(served):
    url, _, _ = served

    async def session() -> str:
        text = ""
        async with aiohttp.ClientSession() as http, await _connect(http, _ws_url(url), url) as ws:
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


async def _screen_until(ws, text: str, wanted: str, timeout: float = 60.0) -> tuple[str, list]:
    """Read the session until ``wanted`` is on the screen; the JSON (text) messages seen meanwhile."""
    texts: list = []
    deadline = time.monotonic() + timeout
    while wanted not in ANSI.sub("", text) and time.monotonic() < deadline:
        msg = await ws.receive(timeout=timeout)
        if msg.type == aiohttp.WSMsgType.BINARY:
            text += msg.data.decode("utf-8", "replace")
        elif msg.type == aiohttp.WSMsgType.TEXT:
            texts.append(json.loads(msg.data))
        else:
            break
    return text, texts


def test_the_session_cap_holds(served):
    url, _, _ = served
    ws_url = f"{url.replace('http', 'ws')}/ws?width=100&height=30&token={TOKEN}"

    async def connect(http):
        return await _connect(http, ws_url, url)

    async def sessions() -> tuple[int, int]:
        async with aiohttp.ClientSession() as http:
            opened = [await connect(http) for _ in range(MAX_SESSIONS)]
            try:
                await http.ws_connect(ws_url, origin=url)
                over = 101
            except aiohttp.WSServerHandshakeError as exc:
                over = exc.status
            for ws in opened:
                await ws.close()
            await (await connect(http)).close()  # closed sessions free their places
            return over, 101

    over, again = asyncio.run(sessions())
    assert over == 503 and again == 101


def test_save_in_a_browser_is_a_download_not_a_file_on_the_server(served):
    url, pid, cwd = served
    home = Path(os.path.expanduser("~"))
    before = {p: set(p.iterdir()) for p in (cwd, home, home / "Downloads") if p.is_dir()}

    async def session() -> tuple[list, str, int, str]:
        async with aiohttp.ClientSession() as http, await _connect(http, _ws_url(url), url) as ws:
            await ws.send_str(json.dumps(["resize", {"width": 140, "height": 40}]))
            text, texts = await _screen_until(ws, "", HOLDER)
            await ws.send_str(json.dumps(["stdin", "s"]))
            text, more = await _screen_until(ws, text, "download report")
            await ws.send_str(json.dumps(["stdin", "\r"]))
            texts += more
            deadline = time.monotonic() + 60
            while not any(m[0] == "deliver_file_start" for m in texts) and time.monotonic() < deadline:
                msg = await ws.receive(timeout=60)
                if msg.type == aiohttp.WSMsgType.TEXT:
                    texts.append(json.loads(msg.data))
            key = next(m[1] for m in texts if m[0] == "deliver_file_start")
            async with http.get(f"{url}/download/{key}") as response:  # the URL textual.js opens: no token, the key is the capability
                body, status = await response.text(), response.status
                disposition = response.headers.get("Content-Disposition", "")
            return texts, body, status, disposition

    _, body, status, disposition = asyncio.run(session())
    assert status == 200 and "attachment" in disposition and ".json" in disposition
    report = json.loads(body)
    assert report["schema"].startswith("pooltui.report/") and report["snapshot"]["root_pid"] == pid
    assert {p: set(p.iterdir()) for p in before} == before  # nothing written on the server's disk


# installed before the page's own scripts: keeps what the terminal's websocket receives
CAPTURE_JS = """
(() => {
  const Native = window.WebSocket;
  const decoder = new TextDecoder();
  window.__pooltui = {text: "", open: false, blocked: []};
  document.addEventListener("securitypolicyviolation", (e) => { window.__pooltui.blocked.push(e.violatedDirective + " " + e.blockedURI); });
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
    url, pid, _ = served
    profile = tmp_path / "profile"
    browser = subprocess.Popen(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
            "--remote-debugging-port=0",
            "--window-size=1400,900",
            "about:blank",
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
        await cdp.call("Page.enable")
        await cdp.call("Page.addScriptToEvaluateOnNewDocument", source=CAPTURE_JS)
        await cdp.call("Page.navigate", url=f"{url}/?token={TOKEN}")
        title = await cdp.until("document.body && document.body.innerText", "its text")
        assert "pooltui" in title and f"pid {pid}" in title, title
        await cdp.until("window.__pooltui.open", "a websocket connection")
        await cdp.until("document.body.classList.contains('-first-byte')", "the first bytes of the app")
        await cdp.until(f"window.__pooltui.text.includes({HOLDER!r})", f"the thread {HOLDER} in the TUI")
        # a key typed into the page reaches the app without a click first (the page focuses the
        # terminal itself): `?` opens the help screen
        await cdp.until("document.activeElement && document.activeElement.classList.contains('xterm-helper-textarea')", "the terminal focused")
        await cdp.call("Input.insertText", text="?")
        await cdp.until("window.__pooltui.text.includes('pooltui keys')", "the help screen after typing ?")
        assert await cdp.js("window.__pooltui.blocked") == []  # the page needs nothing its Content-Security-Policy forbids
        shot = await cdp.call("Page.captureScreenshot", format="png")
        import base64

        screenshot.write_bytes(base64.b64decode(shot["data"]))
