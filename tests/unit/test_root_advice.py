"""Root is never told to run as root (issue 14 item 14): the help of a permission error
depends on who pooltui runs as."""

from __future__ import annotations

import pytest

from pooltui.capture import errors


def test_permission_help_for_root_names_what_else_forbids_it(monkeypatch):
    monkeypatch.setattr("os.geteuid", lambda: 0)
    text = errors.PermissionDenied("no permission to read process 5", pid=5).help
    assert "sudo" not in text and "run as root" not in text
    assert "ptrace_scope 3" in text and "CAP_SYS_PTRACE" in text


@pytest.mark.parametrize("euid", [1000, 65534])
def test_permission_help_for_a_user_says_how_to_get_the_right(monkeypatch, euid):
    monkeypatch.setattr("os.geteuid", lambda: euid)
    assert "sudo" in errors.PermissionDenied("no permission", pid=5).help


def test_an_explicit_help_wins(monkeypatch):
    monkeypatch.setattr("os.geteuid", lambda: 0)
    assert errors.PermissionDenied("x", help="detach the tracer").help == "detach the tracer"
