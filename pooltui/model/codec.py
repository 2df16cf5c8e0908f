"""The report file: the versioned JSON form of a ``Snapshot`` and its ``Timeline``
(``pooltui.report/2``; ``/1`` is read too, through model.upgrade), used to save, replay,
diff and as test fixtures. Writing and loading use msgspec, which encodes the model's
records (msgspec Structs, ``model.record``) directly and validates every field against their
annotations on load; any problem is a one-line ``ReportError``."""

from __future__ import annotations

import json
import math
import re
from functools import cache
from typing import TYPE_CHECKING, Any, Optional

from pooltui.model.record import Record
from pooltui.model.tree import Snapshot, Timeline
from pooltui.model.upgrade import SCHEMA_1, from_1

if TYPE_CHECKING:
    import msgspec

SCHEMA = "pooltui.report/2"  # 2: Wait.coroutine and Wait.far (model.upgrade reads 1)
MAX_REPORT_BYTES = 100 * 1024 * 1024
LATEST_TIME = 253402300799.0  # 9999-12-31T23:59:59Z: the last instant datetime can show
MAX_ID = 2**31 - 1  # pids and tids (Linux's PID_MAX_LIMIT is 2**22)
_SURROGATE = re.compile("[\ud800-\udfff]")


def escape_surrogates(text: str) -> str:
    """``text`` with lone surrogates (bytes that were not UTF-8, kept by surrogateescape in
    argv, comm, file names) as ``\\xNN`` (other lone surrogates as ``\\udNNN``): printable,
    encodable, and unambiguous about what was there."""
    if not _SURROGATE.search(text):
        return text

    def shown(m: re.Match[str]) -> str:
        code = ord(m.group())
        return f"\\x{code - 0xDC00:02x}" if 0xDC80 <= code <= 0xDCFF else f"\\u{code:04x}"

    return _SURROGATE.sub(shown, text)


class ReportError(ValueError):
    """A report file could not be loaded; the message is one line a user can act on."""


class Report(Record, frozen=True):
    """The saved file: one snapshot (the last) and, optionally, the timeline it ends."""

    schema: str
    snapshot: Snapshot
    timeline: Optional[Timeline] = None


@cache
def _encoder() -> msgspec.json.Encoder:
    import msgspec

    return msgspec.json.Encoder()


def to_dict(snapshot: Snapshot, timeline: Optional[Timeline] = None) -> dict[str, Any]:
    """The JSON-ready form of a report: records as objects, enums as their values,
    tuples as lists (msgspec, which reads the records' fields directly)."""
    import msgspec

    built: dict[str, Any] = msgspec.to_builtins(Report(SCHEMA, snapshot, timeline))  # a record: an object
    return built


def _where(path: str) -> str:
    """msgspec's ``$.snapshot.processes[0].pid`` as ``snapshot.processes.0.pid``."""
    return re.sub(r"\[(\d+)\]", r".\1", path).lstrip("$.")


def from_dict(data: Any) -> Report:
    """Validate a decoded report (msgspec, against the records' own annotations);
    any problem becomes a one-line ReportError."""
    import msgspec

    if not isinstance(data, dict):
        raise ReportError(f"not a pooltui report: top level is {type(data).__name__}, expected an object")
    schema = data.get("schema")
    if schema == SCHEMA_1:
        data = from_1(data, SCHEMA)
        schema = SCHEMA
    if schema != SCHEMA:
        if isinstance(schema, str) and schema.startswith("pooltui.report/"):
            raise ReportError(f"report schema {schema!r} is not supported by this pooltui (reads {SCHEMA} and {SCHEMA_1})")
        raise ReportError(f"not a pooltui report: schema is {schema!r}, expected {SCHEMA!r}")
    try:
        return msgspec.convert(data, Report)
    except msgspec.ValidationError as exc:
        text = " ".join(str(exc).split())
        message, _, path = text.partition(" - at `")
        where = _where(path.rstrip("`"))
        missing = re.fullmatch(r"Object missing required field `(.*)`", message)
        if missing:
            where, message = ".".join(w for w in (where, missing.group(1)) if w), "field required"
        raise ReportError(f"invalid report: {where or 'top level'}: {message}") from None
    except RecursionError:
        raise ReportError("not a pooltui report: nested too deeply") from None
    except UnicodeError:  # a field name with a lone surrogate (\udcNN escape): msgspec matches names as UTF-8
        raise ReportError("not a pooltui report: a field name that is not text") from None


def dumps(snapshot: Snapshot, timeline: Optional[Timeline] = None) -> str:
    """The report as JSON text, indented by one space: byte for byte what ``json.dumps(to_dict(...),
    indent=1, ensure_ascii=False)`` gives, ~30x faster (msgspec encodes the records as they
    are, no ``asdict`` copy). A value msgspec refuses (an int beyond 64 bits, a lone surrogate)
    takes the standard library's way, which then decides."""
    import msgspec

    report = Report(SCHEMA, snapshot, timeline)
    try:
        return msgspec.json.format(_encoder().encode(report), indent=1).decode("utf-8") + "\n"
    except (TypeError, ValueError, OverflowError, UnicodeError):
        return json.dumps(msgspec.to_builtins(report), indent=1, ensure_ascii=False) + "\n"


def _no_constant(name: str) -> Any:
    raise ReportError(f"not a pooltui report: {name} is not a value a report holds")


def _check_numbers(report: Report) -> Report:
    """Values the schema's types allow but no capture produces, which would break showing
    the report: times outside 1970..9999 (or not finite), pids and tids out of range, a
    pid twice in one snapshot."""
    snapshots = (report.snapshot, *(report.timeline.snapshots if report.timeline else ()))
    events = tuple(e for s in snapshots for e in s.events) + (report.timeline.events if report.timeline else ())
    times = [("created", s.created) for s in snapshots]
    times += [("create_time", p.create_time) for s in snapshots for p in s.processes]
    times += [("event time", e.time) for e in events] + [("exit time", x.at) for s in snapshots for x in s.exits]
    for name, value in times:
        if not (math.isfinite(value) and 0 <= value <= LATEST_TIME):
            raise ReportError(f"invalid report: {name} {value!r} is not a time between 1970 and 9999")
    ids = [("root_pid", s.root_pid) for s in snapshots]
    ids += [(name, v) for s in snapshots for p in s.processes for name, v in (("pid", p.pid), ("ppid", p.ppid))]
    ids += [("tid", t.tid) for s in snapshots for p in s.processes for t in p.threads]
    for name, value in ids:
        if not 0 <= value <= MAX_ID:
            raise ReportError(f"invalid report: {name} {value} is not a process or thread id")
    for s in snapshots:  # one instant of one tree: a pid is one process
        pids = [p.pid for p in s.processes]
        if len(set(pids)) != len(pids):
            twice = next(pid for pid in pids if pids.count(pid) > 1)
            raise ReportError(f"invalid report: pid {twice} appears twice in one snapshot")
    return report


def loads(text: str) -> Report:
    if not text.strip():
        raise ReportError("empty file, not a pooltui report")
    try:
        data = json.loads(text, parse_constant=_no_constant)  # NaN, Infinity: never written by pooltui
    except ReportError:
        raise
    except json.JSONDecodeError as exc:
        raise ReportError(f"not JSON (truncated or corrupt?): {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except RecursionError:
        raise ReportError("not a pooltui report: JSON nested too deeply") from None
    except ValueError as exc:  # an integer of more than 4300 digits
        raise ReportError(f"not a pooltui report: {exc}") from None
    return _check_numbers(from_dict(data))
