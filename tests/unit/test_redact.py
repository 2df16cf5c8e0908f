"""Redaction of captured locals and command lines (capture.redact), on its own and over
every recorded report in tests/fixtures (real py-spy --locals output)."""

from __future__ import annotations

import pytest

from pooltui.capture.redact import MAX_REPR, REDACTED, is_secret_name, redact_cmdline, redact_local, redact_threads, scrub, truncate
from pooltui.model import Local
from tests.conftest import FIXTURES, fixture_names

SECRET = [
    "password", "passwd", "pwd", "token", "secret", "key", "api_key", "apiKey", "API_KEY", "auth",
    "authorization", "cookie", "session", "credential", "credentials", "private", "private_key",
    "db_password", "access_token", "SECRET_KEY", "authkey", "x-auth-token", "session_id", "pw",
]  # fmt: skip
PLAIN = ["self", "result", "keyboard", "monkey", "author", "count", "lock", "timeout", "pool", "ready", "waiter"]
SECRET_HINTS = ("pass", "pwd", "token", "secret", "key", "auth", "session", "cookie", "credential", "private", "://")


@pytest.mark.parametrize("name", SECRET)
def test_secret_names(name):
    assert is_secret_name(name)


@pytest.mark.parametrize("name", PLAIN)
def test_plain_names(name):
    assert not is_secret_name(name)


def test_secret_local_loses_its_value_but_keeps_its_address():
    loc = Local(name="password", repr='"hunter2"', addr=0x7F00, arg=True)
    out = redact_local(loc)
    assert out.repr == REDACTED and out.addr == 0x7F00 and out.arg and out.name == "password"


def test_opaque_object_repr_is_kept():
    # nothing secret in "<type at 0xADDR>", and capture.locks names locks from it
    loc = Local(name="session_lock", repr="<_thread.lock at 0x7f6341f0780>", addr=1)
    assert redact_local(loc) == loc


def test_secret_pairs_inside_a_repr():
    loc = Local(name="cfg", repr='{"token": "abc", "user": "bob", "password": "p w"}')
    assert redact_local(loc).repr == '{"token": <redacted>, "user": "bob", "password": <redacted>}'


def test_url_password():
    assert scrub("postgres://app:s3cr3t@db:5432/x") == "postgres://app:<redacted>@db:5432/x"


def test_long_repr_is_cut_even_without_redaction():
    loc = Local(name="password", repr='"' + "x" * 500 + '"')
    out = redact_local(loc, redact=False)
    assert len(out.repr) == MAX_REPR and out.repr.endswith("…") and out.repr.startswith('"xxx')
    assert redact_local(Local(name="data", repr="y" * 500)).repr == "y" * (MAX_REPR - 1) + "…"


def test_no_redact_keeps_the_value():
    loc = Local(name="password", repr='"hunter2"')
    assert redact_local(loc, redact=False) == loc


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["app", "--password=hunter2"], ["app", "--password=<redacted>"]),
        (["app", "--api-token", "abc", "--workers", "4"], ["app", "--api-token", REDACTED, "--workers", "4"]),
        (["app", "--dsn", "mysql://u:pw@h/db"], ["app", "--dsn", "mysql://u:<redacted>@h/db"]),
        (
            ["python3", "-c", "from multiprocessing.spawn import spawn_main; spawn_main(tracker_fd=5, pipe_handle=7)", "--multiprocessing-fork"],
            ["python3", "-c", "from multiprocessing.spawn import spawn_main; spawn_main(tracker_fd=5, pipe_handle=7)", "--multiprocessing-fork"],
        ),
    ],
)
def test_cmdline(argv, expected):
    assert list(redact_cmdline(argv)) == expected


FIXTURE_NAMES = fixture_names()


@pytest.mark.skipif(not FIXTURE_NAMES, reason=f"no recorded reports in {FIXTURES} yet (scripts/record_fixtures.py)")
@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_recorded_reports(name):
    from pooltui.report import load_report

    snapshot = load_report(FIXTURES / f"{name}.json").snapshot
    seen = 0
    for proc in snapshot.processes:
        # real pool command lines carry no secret: redaction must leave them (and the roles read from them) alone
        assert redact_cmdline(proc.cmdline) == proc.cmdline
        redacted = redact_threads(proc.threads)
        assert redact_threads(redacted) == redacted  # idempotent
        for before, after in zip(proc.threads, redacted):
            assert (before.tid, before.name, len(before.frames)) == (after.tid, after.name, len(after.frames))
            for f_before, f_after in zip(before.frames, after.frames):
                assert (f_before.function, f_before.file, f_before.line) == (f_after.function, f_after.file, f_after.line)
                for loc_before, loc_after in zip(f_before.locals or (), f_after.locals or ()):
                    seen += 1
                    assert len(loc_after.repr) <= MAX_REPR
                    assert loc_after.addr == loc_before.addr
                    if is_secret_name(loc_before.name) and not loc_before.repr.startswith("<"):
                        assert loc_after.repr == REDACTED
                    elif not any(hint in loc_before.repr.lower() for hint in SECRET_HINTS):
                        assert loc_after.repr == truncate(loc_before.repr)  # untouched but for the length cap
    if snapshot.options.get("locals"):
        assert seen, "a report captured with --locals should hold locals"
