"""The offsets CPython 3.13+ publishes for out-of-process readers (``_Py_DebugOffsets``).

Since 3.13, ``_PyRuntime`` begins with ``_Py_DebugOffsets``: a cookie (``xdebugpy``), the
interpreter's ``PY_VERSION_HEX``, whether it is free-threaded, then the offsets of the
fields a stack reader needs in the runtime, interpreter, thread state, interpreter frame
and code object (Include/internal/pycore_runtime.h, 3.13). Its own layout is "NOT
backwards compatible between minor versions": the record below is 3.13's, measured
against the 3.13 header, and a new minor version needs its own record here.

Two uses:

* a 3.13 target's published offsets are checked against ``stacks.STACK_LAYOUTS`` before
  a direct read (a patched or unusual build that moved a field is read by py-spy instead);
* ``stack_layout`` derives the reader's whole ``StackLayout`` from them, which is how a
  later version's reader is to be built (3.14/3.15 are not installable here: see the
  README for what pooltui does on them today).
"""

from __future__ import annotations

import struct
from typing import Optional

from pooltui.model.record import Record

COOKIE = b"xdebugpy"

# The 3.13 struct: (section, fields), every field a uint64_t, in declaration order, after the
# header (cookie[8], version, free_threaded). Each section's first field is its struct's size.
_FIELDS_313: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("runtime_state", ("size", "finalizing", "interpreters_head")),
    (
        "interpreter_state",
        (
            "size",
            "id",
            "next",
            "threads_head",
            "gc",
            "imports_modules",
            "sysdict",
            "builtins",
            "ceval_gil",
            "gil_runtime_state",
            "gil_runtime_state_enabled",
            "gil_runtime_state_locked",
            "gil_runtime_state_holder",
        ),
    ),
    ("thread_state", ("size", "prev", "next", "interp", "current_frame", "thread_id", "native_thread_id", "datastack_chunk", "status")),
    ("interpreter_frame", ("size", "previous", "executable", "instr_ptr", "localsplus", "owner")),
    (
        "code_object",
        ("size", "filename", "name", "qualname", "linetable", "firstlineno", "argcount", "localsplusnames", "localspluskinds", "co_code_adaptive"),
    ),
    ("pyobject", ("size", "ob_type")),
    ("type_object", ("size", "tp_name", "tp_repr", "tp_flags")),
    ("tuple_object", ("size", "ob_item", "ob_size")),
    ("list_object", ("size", "ob_item", "ob_size")),
    ("dict_object", ("size", "ma_keys", "ma_values")),
    ("float_object", ("size", "ob_fval")),
    ("long_object", ("size", "lv_tag", "ob_digit")),
    ("bytes_object", ("size", "ob_size", "ob_sval")),
    ("unicode_object", ("size", "state", "length", "asciiobject_size")),
    ("gc", ("size", "collecting")),
)
RECORDS: dict[tuple[int, int], tuple[tuple[str, tuple[str, ...]], ...]] = {(3, 13): _FIELDS_313}
HEADER = 24  # cookie, version, free_threaded
GIL_HOLDER, GIL_LOCKED = 8, 16  # struct _gil_runtime_state: last_holder, locked (3.12+)
FRAME_OWNED_BY_CSTACK = 3  # _PyInterpreterFrame.owner of an entry shim on the C stack, no Python code (3.12+)
MAX_OFFSET = 1 << 20  # no field of these structs is a megabyte in: a larger value is not an offset


class DebugOffsets(Record, frozen=True):
    version_hex: int  # PY_VERSION_HEX of the target
    free_threaded: bool
    fields: dict[str, int]  # "section.field" -> offset (or size)

    @property
    def version(self) -> tuple[int, int]:
        return (self.version_hex >> 24) & 0xFF, (self.version_hex >> 16) & 0xFF

    def __getitem__(self, name: str) -> int:
        return self.fields[name]


def size_of(version: tuple[int, int]) -> Optional[int]:
    """Bytes of the published struct for ``version`` (None: no record for it)."""
    record = RECORDS.get(tuple(version))  # type: ignore[arg-type]
    return None if record is None else HEADER + 8 * sum(len(fields) for _, fields in record)


def parse(raw: bytes, version: tuple[int, int]) -> Optional[DebugOffsets]:
    """The published offsets in ``raw`` (the first bytes of ``_PyRuntime``), or None when
    they are not there (no cookie, another version, a record we do not have, a value that
    cannot be an offset). ``raw`` is the target's memory: every value is checked."""
    record = RECORDS.get(tuple(version))  # type: ignore[arg-type]
    size = size_of(version)
    if record is None or size is None or len(raw) < size or raw[:8] != COOKIE:
        return None
    version_hex, free_threaded = struct.unpack_from("<QQ", raw, 8)
    if ((version_hex >> 24) & 0xFF, (version_hex >> 16) & 0xFF) != tuple(version) or free_threaded not in (0, 1):
        return None
    values = struct.unpack_from(f"<{(size - HEADER) // 8}Q", raw, HEADER)
    names = [f"{section}.{field}" for section, fields in record for field in fields]
    fields = dict(zip(names, values))
    if any(value >= MAX_OFFSET for value in fields.values()):
        return None
    return DebugOffsets(version_hex, bool(free_threaded), fields)


def stack_fields(offsets: DebugOffsets) -> dict[str, object]:
    """The ``stacks.StackLayout`` fields these offsets give (3.13 and later: the
    interpreter-frame layout with its entry shims, the location table, the GIL as a pointer
    in the interpreter, and the offsets themselves, published)."""
    o = offsets
    return dict(
        interp_head=o["runtime_state.interpreters_head"],
        interp_next=o["interpreter_state.next"],
        interp_id=o["interpreter_state.id"],
        threads_head=o["interpreter_state.threads_head"],
        modules=o["interpreter_state.imports_modules"],
        frame_at=(o["thread_state.current_frame"],),
        thread_id=o["thread_state.thread_id"],
        native_id=o["thread_state.native_thread_id"],
        frame="interp",
        f_back=o["interpreter_frame.previous"],
        f_code=o["interpreter_frame.executable"],
        f_lasti=o["interpreter_frame.instr_ptr"],
        f_owner=o["interpreter_frame.owner"],
        code_firstlineno=o["code_object.firstlineno"],
        code_linetable=o["code_object.linetable"],
        code_name=o["code_object.qualname"],
        code_filename=o["code_object.filename"],
        code_adaptive=o["code_object.co_code_adaptive"],
        lines="311",
        gil=("interp", o["interpreter_state.ceval_gil"]),
        ts_next=o["thread_state.next"],
        ts_interp=o["thread_state.interp"],
        shim_owner=FRAME_OWNED_BY_CSTACK,
        publishes_offsets=True,
    )


def disagreement(offsets: DebugOffsets, layout: object) -> list[str]:
    """The ``StackLayout`` fields the published offsets put elsewhere ([] when they agree),
    as "field: table X, target Y"."""
    out = []
    for name, value in stack_fields(offsets).items():
        known = getattr(layout, name, None)
        if known != value:
            out.append(f"{name}: table {known}, target {value}")
    # the GIL's fields the reader takes at fixed places in the GIL struct (StackMemory.gil_holder);
    # 3.13 publishes them as offsets in the interpreter state, through its own GIL (interp->_gil)
    gil = offsets["interpreter_state.gil_runtime_state"]
    for name, known in (("gil_runtime_state_holder", GIL_HOLDER), ("gil_runtime_state_locked", GIL_LOCKED)):
        if offsets[f"interpreter_state.{name}"] - gil != known:
            out.append(f"{name}: reader {known}, target {offsets[f'interpreter_state.{name}'] - gil}")
    return out
