"""`pooltui serve`'s guard without a server: which Host/Origin names pass, which --host needs
--allow-remote, which tokens are refused (the live side is tests/live/test_serve.py)."""

from __future__ import annotations

import subprocess

import pytest

from pooltui.ui.serve import GuardedServer, is_loopback
from tests.conftest import run_cli


def run(*args: str) -> subprocess.CompletedProcess:
    return run_cli(*args)  # refused before any server starts


@pytest.mark.parametrize("host", ["127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost"])
def test_loopback_hosts(host):
    assert is_loopback(host)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "10.0.0.1", "192.168.1.5", "no-such-host.invalid"])
def test_hosts_reachable_from_elsewhere(host):
    assert not is_loopback(host)


def test_host_and_origin_names():
    server = GuardedServer("true", token="t" * 32, max_sessions=1, host="127.0.0.1", port=8000, title="t", public_url="https://pool.example.org/x")
    for ok in ("127.0.0.1:8000", "localhost:8000", "[::1]:8000", "pool.example.org", "10.1.2.3:8000", "LOCALHOST"):
        assert server.host_allowed(ok), ok
    for bad in ("evil.example:8000", "127.0.0.1.evil.example", "", "localhost.evil.example:8000", '127.0.0.1:80"><script>', "127.0.0.1:80/x"):
        assert not server.host_allowed(bad), bad
    assert server.origin_allowed("http://127.0.0.1:8000", "127.0.0.1:8000") and server.origin_allowed("https://pool.example.org", "127.0.0.1:8000")
    assert server.origin_allowed("https://pool.example.org:443", "pool.example.org")
    for bad in ("null", "file://", "http://evil.example", "chrome-extension://abc", "http://127.0.0.1.nip.io:8000"):
        assert not server.origin_allowed(bad, "127.0.0.1:8000"), bad


def test_the_origin_is_compared_by_scheme_host_and_port():
    """Issue 23 item 5: a page served by another local service (another port) or over
    another scheme is another origin, though its host is this server's."""
    server = GuardedServer("true", token="t" * 32, max_sessions=1, host="127.0.0.1", port=8000, title="t")
    assert server.origin_allowed("http://127.0.0.1:8000", "127.0.0.1:8000")
    assert server.origin_allowed("http://localhost:9000", "localhost:9000")  # an SSH tunnel's port: the page's own
    assert server.origin_allowed("http://localhost:8000", "127.0.0.1:8000")  # two loopback names of this server
    for bad in ("http://127.0.0.1:5555", "https://127.0.0.1:8000", "http://10.0.0.5:8000", "http://127.0.0.1", "http://127.0.0.1:8000x"):
        assert not server.origin_allowed(bad, "127.0.0.1:8000"), bad


@pytest.mark.parametrize("host", ["999.1.1.1", "1.2.3.4.5", "no-such-host.invalid"])
def test_a_host_that_is_no_address_is_refused_as_such(host):
    out = run("serve", "1", "--host", host, "--allow-remote")
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert "not an address to listen on" in out.stderr and "reachable" not in out.stderr, out.stderr


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.1"])
def test_a_non_loopback_host_needs_allow_remote(host):
    out = run("serve", "1", "--host", host)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert out.stderr.splitlines()[0] == f"pooltui: --host {host} is reachable from other machines: add --allow-remote to serve there anyway"


@pytest.mark.parametrize("token", ["", "short", "sixteen chars ok", "x" * 15])
def test_weak_tokens_are_refused(token):
    out = run("serve", "1", "--token", token)
    assert out.returncode == 2 and "at least 16 printable ASCII characters" in out.stderr and "Traceback" not in out.stderr


def test_the_environment_token_is_not_passed_on(monkeypatch):
    """$POOLTUI_TOKEN is read once and removed: the sessions' `pooltui attach` processes
    (textual-serve copies os.environ into them) never carry it."""
    import os

    from pooltui.cli.serve import _serve_token

    monkeypatch.setenv("POOLTUI_TOKEN", "e" * 20)
    assert _serve_token(None) == "e" * 20 and "POOLTUI_TOKEN" not in os.environ
    first, second = _serve_token(None), _serve_token(None)
    assert first != second and len(first) >= 32  # a new random one per start
