"""Hostile core files into ``capture.memory.core.parse_core`` and ``CoreImage.read``: a core
built here the way the kernel lays one out (ELF header, PT_NOTE with NT_PRSTATUS,
NT_PRPSINFO, NT_SIGINFO, NT_FILE, NT_AUXV, one PT_LOAD), then cut, flipped and filled with
garbage. Each must parse or raise ``BadCore`` (one line) -- never another exception, never
an unbounded allocation -- and a read of any address gives bytes the core holds or a
``MemoryFault``. (The live proof against real cores is tests/live/test_cores.py.)"""

from __future__ import annotations

import os
import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pooltui.capture.memory.core import NT_AUXV, NT_FILE, NT_PRPSINFO, NT_PRSTATUS, NT_SIGINFO, REGS, BadCore, parse_core
from pooltui.capture.memory.coreimage import CoreImage
from pooltui.capture.memory.reader import MemoryFault
from tests.conftest import examples

FUZZ = settings(max_examples=examples(200), deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
LOAD_AT = 0x7F0000000000


def _note(kind: int, desc: bytes) -> bytes:
    name = b"CORE\0"
    pad = lambda b: b + b"\0" * (-len(b) % 4)  # noqa: E731
    return struct.pack("<III", len(name), len(desc), kind) + pad(name) + pad(desc)


def make_core(tid: int = 4242, signal: int = 11, mapped: bytes = b"/usr/lib/libpython3.11.so.1.0", header: bytes = b"") -> bytes:
    """A core of one thread; ``mapped`` is the file NT_FILE says is mapped at LOAD_AT + 8192
    (its first page in the core is ``header`` when given: a segment of its own)."""
    regs = dict.fromkeys(REGS, 0) | {"fs_base": 0x7F00DEADB000, "orig_rax": 202, "rdi": LOAD_AT + 16, "rsi": 0x80}
    prstatus = bytearray(336)
    struct.pack_into("<h", prstatus, 12, signal)
    struct.pack_into("<i", prstatus, 32, tid)
    struct.pack_into(f"<{len(REGS)}Q", prstatus, 112, *(regs[r] for r in REGS))
    prpsinfo = bytearray(136)
    struct.pack_into("<IIii", prpsinfo, 16, 1000, 1000, tid, 1)
    prpsinfo[40:50] = b"python3.11"
    prpsinfo[56:80] = b"python3.11 -m something".ljust(24, b"\0")
    siginfo = struct.pack("<iiiiQ", signal, 0, 1, 0, 0) + bytes(104)
    path = mapped + b"\0"
    nt_file = struct.pack("<QQ", 1, 4096) + struct.pack("<QQQ", LOAD_AT + 8192, LOAD_AT + 16384, 0) + path
    auxv = struct.pack("<4Q", 9, LOAD_AT + 8192, 0, 0)
    parts = [(NT_PRSTATUS, bytes(prstatus)), (NT_PRPSINFO, bytes(prpsinfo)), (NT_SIGINFO, siginfo), (NT_FILE, nt_file), (NT_AUXV, auxv)]
    notes = b"".join(_note(kind, desc) for kind, desc in parts)
    phoff, phnum = 64, 3 if header else 2
    notes_at = phoff + 56 * phnum
    data_at = (notes_at + len(notes) + 4095) & ~4095
    data = bytes(range(256)) * 16  # one page
    head = bytearray(64)
    head[:6] = b"\x7fELF\x02\x01"
    struct.pack_into("<HHI", head, 16, 4, 62, 1)  # ET_CORE, x86-64
    struct.pack_into("<Q", head, 32, phoff)
    struct.pack_into("<HHHHHH", head, 52, 64, 56, phnum, 64, 0, 0)
    phdrs = struct.pack("<IIQQQQQQ", 4, 0, notes_at, 0, 0, len(notes), 0, 1)
    phdrs += struct.pack("<IIQQQQQQ", 1, 6, data_at, LOAD_AT, 0, len(data), len(data) + 8192, 4096)  # 2 pages not dumped
    if header:
        phdrs += struct.pack("<IIQQQQQQ", 1, 4, data_at + 4096, LOAD_AT + 8192, 0, 4096, 4096, 4096)
        data += header.ljust(4096, b"\0")
    body = bytes(head) + phdrs + notes
    return body + bytes(data_at - len(body)) + data


def _parse(raw: bytes, tmp_path):  # type: ignore[no-untyped-def]
    path = tmp_path / "core"
    path.write_bytes(raw)
    fd = os.open(path, os.O_RDONLY)
    try:
        return parse_core(fd, str(path))
    finally:
        os.close(fd)


def test_the_built_core_parses_to_what_was_put_in(tmp_path):
    core = _parse(make_core(), tmp_path)
    (thread,) = core.threads
    assert (thread.tid, thread.signal, thread.ident, thread.syscall_nr) == (4242, 11, 0x7F00DEADB000, 202)
    assert core.process is not None and (core.process.pid, core.process.uid, core.process.name) == (4242, 1000, "python3.11")
    assert core.siginfo is not None and (core.siginfo.signo, core.siginfo.code, core.siginfo.addr) == (11, 1, 0)
    assert [(f.start, f.path) for f in core.files] == [(LOAD_AT + 8192, "/usr/lib/libpython3.11.so.1.0")]
    (tmp_path / "core").write_bytes(make_core())
    with CoreImage(str(tmp_path / "core")) as image:
        assert image.read(LOAD_AT + 255, 2) == b"\xff\x00"
        assert image.exe == "/usr/lib/libpython3.11.so.1.0"
        with pytest.raises(MemoryFault, match="not dumped"):
            image.read(LOAD_AT + 4096 + 8, 8)  # no file mapped there
        with pytest.raises(MemoryFault, match="not read"):
            image.read(LOAD_AT + 8192, 8)  # the file's header page is not in the core: never read from disk


@pytest.mark.parametrize("cut", [0, 3, 63, 64, 100, 176, 300, 4095, 4096 + 100])
def test_a_cut_core_is_refused_in_one_line(tmp_path, cut):
    with pytest.raises(BadCore) as caught:
        _parse(make_core()[:cut], tmp_path)
    assert "\n" not in str(caught.value) and caught.value.exit_code == 2


@FUZZ
@given(st.data())
def test_flipped_or_garbage_cores_parse_or_are_refused(tmp_path_factory, data):
    tmp_path = tmp_path_factory.mktemp("core")
    raw = bytearray(make_core())
    choice = data.draw(st.sampled_from(["flip", "cut", "garbage"]))
    if choice == "flip":
        for _ in range(data.draw(st.integers(1, 8))):
            at = data.draw(st.integers(0, 4096 - 1))
            raw[at] = data.draw(st.integers(0, 255))
    elif choice == "cut":
        raw = raw[: data.draw(st.integers(0, len(raw)))]
    else:
        raw = bytearray(b"\x7fELF\x02\x01" + data.draw(st.binary(max_size=3000)))
    path = tmp_path / "core"
    path.write_bytes(bytes(raw))
    try:
        image = CoreImage(str(path))
    except BadCore as exc:
        assert "\n" not in str(exc)
        return
    with image:
        for addr in data.draw(st.lists(st.integers(0, 2**64 - 1) | st.integers(LOAD_AT - 8, LOAD_AT + 16384), max_size=8)):
            try:
                assert len(image.read(addr, 16)) == 16
            except MemoryFault:
                pass


def _image_naming(tmp_path, target, header: bytes):  # type: ignore[no-untyped-def]
    (tmp_path / "core").write_bytes(make_core(mapped=os.fsencode(str(target)), header=header))
    return CoreImage(str(tmp_path / "core"))


def test_a_file_the_core_names_is_read_only_when_its_first_page_is_the_cores(tmp_path):
    """A core names the files it had mapped: one whose first page differs from the page the
    core holds for it (another build, or /etc/shadow named by a forged core) is never read."""
    secret = tmp_path / "secret"
    secret.write_bytes(b"root:$6$hash:19000:0:99999:7:::\n" * 300)
    with _image_naming(tmp_path, secret, b"\x7fELF\x02\x01\x01" + bytes(57)) as image:
        with pytest.raises(MemoryFault, match="does not match the core"):
            image.read(LOAD_AT + 8192 + 4096, 16)  # past the page the core holds: would come from the file
        assert image.read(LOAD_AT + 8192, 4) == b"\x7fELF"  # the core's own page is the core's
    same = tmp_path / "same"
    page = b"\x7fELF\x02\x01\x01" + bytes(57) + bytes(range(256)) * 15
    same.write_bytes(page.ljust(4096, b"\0") + b"tail" * 1024)
    with _image_naming(tmp_path, same, page) as image:
        assert image.read(LOAD_AT + 8192 + 4096, 4) == b"tail"  # checked: the same file
        with pytest.raises(MemoryFault):
            image.read(LOAD_AT + 16384, 4)  # past the mapping: nothing of the file is read there


def test_a_fifo_or_symlink_named_by_a_core_is_not_opened(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with _image_naming(tmp_path, fifo, b"\x7fELF") as image, pytest.raises(MemoryFault, match="not a regular file"):
        image.read(LOAD_AT + 8192 + 4096, 4)  # a blocking open of a FIFO would hang here
    link = tmp_path / "link"
    link.symlink_to("/proc/self/environ")
    with _image_naming(tmp_path, link, b"\x7fELF") as image, pytest.raises(MemoryFault, match=r"not read|magic link|not a regular"):
        image.read(LOAD_AT + 8192 + 4096, 4)
