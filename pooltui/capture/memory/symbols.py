"""A dynamic symbol's address in a target, read from the target's own memory.

The ELF header, program headers, ``.dynamic``, ``.dynsym``, ``.dynstr`` and the hash
table of every loaded object are mapped (they are what the dynamic linker itself reads),
so a symbol such as ``_PyRuntime`` is found with a dozen small reads of ``/proc/PID/mem``:
no file the target names is opened, and nothing is parsed but the one hash chain.

Not cached across processes: those tables are the target's private copy (a process may
``mprotect`` and rewrite them), so a lookup made in one fork sibling, or in any process
that maps the same file, says nothing trustworthy about another. A lookup costs a dozen
reads (~30 us), once per process read.
"""

from __future__ import annotations

import struct
from typing import Optional

from pooltui.capture.memory.kernel import Mapping
from pooltui.capture.memory.reader import MemoryFault, ProcessMemory

PT_LOAD, PT_DYNAMIC = 1, 2
DT_NULL, DT_HASH, DT_STRTAB, DT_SYMTAB, DT_GNU_HASH = 0, 4, 5, 6, 0x6FFFFEF5
MAX_PHDRS = 64
MAX_DYNAMIC = 512  # .dynamic entries read before giving up
MAX_CHAIN = 4096  # symbols of one hash chain compared before giving up


def _gnu_hash(name: bytes) -> int:
    h = 5381
    for c in name:
        h = (h * 33 + c) & 0xFFFFFFFF
    return h


def _sysv_hash(name: bytes) -> int:
    h = 0
    for c in name:
        h = ((h << 4) + c) & 0xFFFFFFFF
        h ^= (h >> 24) & 0xF0
        h &= 0x0FFFFFFF
    return h


def _bias(mem: ProcessMemory, base: int) -> tuple[int, int]:
    """(load bias, address of .dynamic) of the object whose ELF header is mapped at ``base``."""
    head = mem.read(base, 64)
    if head[:4] != b"\x7fELF" or head[4] != 2:
        raise MemoryFault(f"no 64-bit ELF header at {base:#x} in process {mem.pid}", pid=mem.pid)
    e_type = struct.unpack_from("<H", head, 16)[0]
    phoff, phentsize, phnum = struct.unpack_from("<Q", head, 32)[0], *struct.unpack_from("<HH", head, 54)
    if phentsize != 56 or not 0 < phnum <= MAX_PHDRS:
        raise MemoryFault(f"unexpected ELF program headers at {base:#x} in process {mem.pid}", pid=mem.pid)
    phdrs = mem.read(base + phoff, phnum * 56)
    first_load = dynamic = None
    for i in range(phnum):
        p_type, _flags, _offset, p_vaddr = struct.unpack_from("<IIQQ", phdrs, i * 56)
        if p_type == PT_LOAD and first_load is None:
            first_load = p_vaddr & ~0xFFF
        elif p_type == PT_DYNAMIC:
            dynamic = p_vaddr
    if first_load is None or dynamic is None:
        raise MemoryFault(f"no dynamic section in the object at {base:#x} in process {mem.pid}", pid=mem.pid)
    bias = base - first_load if e_type == 3 else 0  # ET_DYN (shared object, PIE) vs ET_EXEC
    return bias, bias + dynamic


def _lookup(mem: ProcessMemory, bias: int, dynamic: int, name: bytes) -> Optional[int]:
    """The value of dynamic symbol ``name`` of the object loaded at ``bias`` whose
    ``.dynamic`` is at ``dynamic`` (``_bias``); None: not defined there."""
    tags: dict[int, int] = {}
    raw = b""
    for i in range(MAX_DYNAMIC):
        if i % 32 == 0:
            raw = mem.read(dynamic + 16 * i, 16 * 32)
        tag, value = struct.unpack_from("<qQ", raw, 16 * (i % 32))
        if tag == DT_NULL:
            break
        tags.setdefault(tag, value)
    else:
        raise MemoryFault(f"unterminated dynamic section at {dynamic:#x} in process {mem.pid}", pid=mem.pid)

    def where(tag: int) -> Optional[int]:
        # ld.so relocates these entries in place (glibc); an unrelocated one is an offset
        value = tags.get(tag)
        return None if value is None else value if value >= bias else value + bias

    symtab, strtab = where(DT_SYMTAB), where(DT_STRTAB)
    if symtab is None or strtab is None:
        return None

    def matches(index: int) -> Optional[int]:
        st_name, _info, _other, shndx, value = struct.unpack("<IBBHQ", mem.read(symtab + 24 * index, 16))
        if shndx == 0:  # undefined here (imported)
            return None
        return value if mem.read(strtab + st_name, len(name) + 1) == name + b"\0" else None

    gnu = where(DT_GNU_HASH)
    if gnu is not None:
        nbuckets, symoffset, bloom_size, _shift = struct.unpack("<IIII", mem.read(gnu, 16))
        if not 0 < nbuckets < 1 << 24 or bloom_size > 1 << 24:
            return None
        h = _gnu_hash(name)
        buckets = gnu + 16 + 8 * bloom_size
        index = struct.unpack("<I", mem.read(buckets + 4 * (h % nbuckets), 4))[0]
        if index < symoffset:
            return None
        chain = buckets + 4 * nbuckets
        for _ in range(MAX_CHAIN):
            h2 = struct.unpack("<I", mem.read(chain + 4 * (index - symoffset), 4))[0]
            if h2 | 1 == h | 1:
                value = matches(index)
                if value is not None:
                    return value
            if h2 & 1:
                return None
            index += 1
        return None
    sysv = where(DT_HASH)
    if sysv is None:
        return None
    nbucket, nchain = struct.unpack("<II", mem.read(sysv, 8))
    if not 0 < nbucket < 1 << 24 or not 0 < nchain < 1 << 24:
        return None
    index = struct.unpack("<I", mem.read(sysv + 8 + 4 * (_sysv_hash(name) % nbucket), 4))[0]
    for _ in range(MAX_CHAIN):
        if index == 0 or index >= nchain:
            return None
        value = matches(index)
        if value is not None:
            return value
        index = struct.unpack("<I", mem.read(sysv + 8 + 4 * nbucket + 4 * index, 4))[0]
    return None


def address_of(mem: ProcessMemory, mapping: Mapping, name: str) -> Optional[int]:
    """Where dynamic symbol ``name`` of the object ``mapping`` (its first mapping) is, in
    ``mem``'s process; None when the object does not define it."""
    bias, dynamic = _bias(mem, mapping.start)
    value = _lookup(mem, bias, dynamic, name.encode())
    return None if value is None else bias + value


def interpreter_symbol(mem: ProcessMemory, name: str) -> Optional[tuple[int, Mapping]]:
    """Where dynamic symbol ``name`` of the interpreter is -- in libpython when one is mapped,
    else in the executable -- with the first mapping of the object that defines it; None when
    neither does."""
    exe = mem.exe
    candidates = [m for m in mem.maps if m.offset == 0 and "libpython" in m.path.rpartition("/")[2]]
    candidates += [m for m in mem.maps if m.offset == 0 and m.path == exe]
    for mapping in candidates:
        try:
            addr = address_of(mem, mapping, name)
        except MemoryFault:  # not an ELF object as expected: try the next
            continue
        if addr:
            return addr, mapping
    return None
