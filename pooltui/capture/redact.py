"""Redaction of what a capture keeps: secret-looking values are replaced by ``<redacted>``
and long local reprs are cut, before anything enters a ``Snapshot``.

Applied in ``capture.snapshot.capture_tree`` right after a process is dumped, so a
password in a frame's locals never reaches a saved report, the screen or a diff.
Pure functions over model values; ``--no-redact`` turns the secret part off (the
length cap stays, it protects the report's size and the screen, not a secret).

A name looks secret when one of its words (``api_key`` -> api, key; ``authKey`` ->
auth, key) is a secret word, or when it contains one of the longer secret words
anywhere (``accesstoken``, ``db_password_hash``). Erring towards redaction costs a
value on the screen; erring the other way leaks a credential into a postmortem.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Optional

from pooltui.model import Frame, Local, Thread
from pooltui.model.record import replace

REDACTED = "<redacted>"
MAX_REPR = 200

# whole words of a name (split at _ - . and camelCase)
_SECRET_WORDS = frozenset({"pwd", "key", "keys", "auth", "pass", "pw", "psk", "otp"})
# found anywhere in the lower-cased name
_SECRET_PARTS = (
    "password",
    "passwd",
    "passphrase",
    "token",
    "secret",
    "apikey",
    "api_key",
    "authkey",  # multiprocessing's connection/manager key
    "authorization",
    "cookie",
    "session",
    "credential",
    "private",
    "privkey",
)
_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")
# py-spy's repr of an object it does not format: the type and an address, nothing secret
# (keeping it lets capture.locks name a lock held in e.g. ``session_lock``)
_OPAQUE = re.compile(r"^<[\w.]+ at 0x[0-9a-f]+>$")
# name=value / "name": value / name: value inside a repr, a source line or an argument
_PAIR = re.compile(
    r"""(?P<key>(?P<q>["']?)(?P<name>[A-Za-z_][\w-]*)(?P=q))"""
    r"""(?P<sep>\s*[:=]\s*)(?!=)"""
    r"""(?P<value>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|[^\s,;&)}\]'"]+)"""
)
# scheme://user:password@host
_URL_PASSWORD = re.compile(r"(?P<head>\b[a-zA-Z][\w+.-]*://[^:/@\s]*:)(?P<pw>[^@/\s]+)(?=@)")


def is_secret_name(name: str) -> bool:
    """True for names like password, api_key, authKey, SESSION_ID, db_passwd, x-auth-token."""
    lowered = name.lower()
    if any(part in lowered for part in _SECRET_PARTS):
        return True
    return any(word.lower() in _SECRET_WORDS for word in _WORD.findall(name))


def truncate(text: str, limit: int = MAX_REPR) -> str:
    if limit and len(text) > limit:
        return text[: limit - 1] + "…"
    return text


def scrub(text: str) -> str:
    """``text`` with the values of secret-named pairs and URL passwords replaced."""

    def pair(m: re.Match[str]) -> str:
        if not is_secret_name(m.group("name")):
            return m.group(0)
        return f"{m.group('key')}{m.group('sep')}{REDACTED}"

    return _URL_PASSWORD.sub(lambda m: m.group("head") + REDACTED, _PAIR.sub(pair, text))


# a string literal in a source line (prefixes f, b, r, u...; left open at the end of the line)
_LITERAL = re.compile(r"""(?:(?<!\w)[rRbBuUfF]{1,2})?(?:"(?:[^"\\]|\\.)*"?|'(?:[^'\\]|\\.)*'?)|(?<![\w.])\d{4,}\b""")
_IDENTIFIER = re.compile(r"[A-Za-z_]\w*")


def scrub_code(line: str) -> str:
    """A source line with secrets masked: what ``scrub`` masks (``password = "x"``,
    ``"Authorization": "Bearer x"``, URL passwords), and every string literal or long
    number after the first secret-looking name (``if token == "abc":``,
    ``api_key: str = "x"``, ``login(user, password, "x")``)."""
    out: list[str] = []
    armed = False  # a secret-looking name came before (in code or as a literal: a dict key)
    at = 0
    for m in _LITERAL.finditer(line):
        between = line[at : m.start()]
        armed = armed or any(is_secret_name(w) for w in _IDENTIFIER.findall(between))
        out += [between, REDACTED if armed else m.group()]
        armed = armed or any(is_secret_name(w) for w in _IDENTIFIER.findall(m.group()))
        at = m.end()
    out.append(line[at:])
    return scrub("".join(out))


def redact_local(local: Local, *, redact: bool = True, limit: int = MAX_REPR) -> Local:
    text = local.repr
    if redact and not _OPAQUE.match(text):
        text = REDACTED if is_secret_name(local.name) else scrub(text)
    text = truncate(text, limit)
    return local if text == local.repr else replace(local, repr=text)


def redact_frame(frame: Frame, *, redact: bool = True, limit: int = MAX_REPR) -> Frame:
    locals_ = frame.locals
    if locals_ is not None:
        locals_ = tuple(redact_local(loc, redact=redact, limit=limit) for loc in locals_)
    code = scrub_code(frame.code) if redact and frame.code else frame.code
    if locals_ == frame.locals and code == frame.code:
        return frame
    return replace(frame, locals=locals_, code=code)


def redact_thread(thread: Thread, *, redact: bool = True, limit: int = MAX_REPR) -> Thread:
    frames = tuple(redact_frame(f, redact=redact, limit=limit) for f in thread.frames)
    return thread if frames == thread.frames else replace(thread, frames=frames)


def redact_threads(threads: Iterable[Thread], *, redact: bool = True, limit: int = MAX_REPR) -> list[Thread]:
    return [redact_thread(t, redact=redact, limit=limit) for t in threads]


def _flag_name(arg: str) -> Optional[str]:
    """``--password`` -> ``password``; None for anything that is not a bare long/short flag."""
    if arg.startswith("-") and "=" not in arg and len(arg) > 1:
        return arg.lstrip("-") or None
    return None


def redact_cmdline(cmdline: Iterable[str]) -> tuple[str, ...]:
    """``--password=x`` / ``--token x`` / ``postgres://u:pw@h`` with the secret replaced."""
    out: list[str] = []
    hide_next = False
    for arg in cmdline:
        if hide_next:
            out.append(REDACTED)
            hide_next = False
            continue
        name = _flag_name(arg)
        if name is not None and is_secret_name(name):
            hide_next = True
        out.append(scrub(arg))
    return tuple(out)
