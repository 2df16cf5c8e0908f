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


def test_a_failure_quoting_a_target_name_stays_on_one_line(monkeypatch, capsys):
    from pooltui import cli

    def fail(args):  # type: ignore[no-untyped-def]
        raise cli.Fail("tracer 'x\npooltui: forged\u202e' holds it", 3, "detach\nit")

    monkeypatch.setitem(cli.COMMANDS, "snapshot", fail)
    with pytest.raises(SystemExit) as exited:
        cli.main(["snapshot", "1"])
    assert exited.value.code == 3
    err = capsys.readouterr().err
    assert err.count("\n") == 2 and "\\n" in err and "\u202e" not in err


def test_a_comm_with_control_bytes_is_escaped(tmp_path):
    from pooltui.capture import procs, state

    (tmp_path / "1").mkdir()  # a /proc whose process 1 has that comm
    (tmp_path / "1" / "comm").write_bytes(b"gdb\nforged\xe2\x80\xae\n")
    with state.active(state.CaptureState(proc_root=str(tmp_path))):
        assert procs.comm_of(1) == "gdb\\x0aforged\\x202e"
