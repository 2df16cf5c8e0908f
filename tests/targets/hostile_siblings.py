"""A root master whose fork workers drop to ``nobody``, one of them hostile (Python 3.8+).

    python hostile_siblings.py VICTIM_DIR MODE PLANTED_NAME

The shape of gunicorn ``--user``, uWSGI ``uid=`` and celery ``--uid``: the master (root)
imports ``victim_mod`` from VICTIM_DIR (written by the test), forks two workers that each
``setgroups``/``setgid``/``setuid`` to nobody, and every process then sleeps in
``victim_mod.housekeeping``: the same code object at the same address in all three.

Before sleeping, the hostile worker rewrites, in its own copy-on-write memory, the objects
that code object points to (ctypes on the str/bytes object's data):

- ``plant``: co_filename's characters become PLANTED_NAME (same length: the test made a
  root-only file there holding a secret), co_name's and co_qualname's become ``EVILFUNCTION``;
- ``corrupt``: co_filename's length is cut by 3 and the line table's length halved.

A reader that caches a code object by its header (the pointers, not what they point to)
across the family shows the master and the clean sibling with the hostile worker's
strings, or the hostile worker with the others'. Each process must show what py-spy shows
for it. When all three are in place the master prints one JSON line (the pids) on stdout.
"""

import ctypes
import json
import os
import sys

NOBODY = 65534


def str_data(s):
    """Address of a compact ASCII str's characters (the same expression on 3.8-3.13)."""
    return id(s) + sys.getsizeof(s) - len(s) - 1


def bytes_data(b):
    return id(b) + sys.getsizeof(b) - len(b) - 1


def set_size(obj, size):
    """ob_size / str length: the word after the header (refcount, type) of a var-sized object."""
    ctypes.c_ssize_t.from_address(id(obj) + 16).value = size


def table_of(code):
    return code.co_linetable if sys.version_info >= (3, 10) else code.co_lnotab


def rewrite(code, mode, planted):
    if mode == "plant":
        filename = code.co_filename
        assert len(planted) == len(filename), (planted, filename)
        ctypes.memmove(str_data(filename), planted.encode("ascii"), len(planted))
        names = {id(code.co_name): code.co_name}
        qualname = getattr(code, "co_qualname", None)  # 3.11+: py-spy shows this one
        if qualname is not None:
            names[id(qualname)] = qualname
        for name in names.values():
            evil = "EVILFUNCTION"[: len(name)].ljust(len(name), "X")
            ctypes.memmove(str_data(name), evil.encode("ascii"), len(name))
    else:
        set_size(code.co_filename, len(code.co_filename) - 3)
        table = table_of(code)
        set_size(table, 2)  # a line table cut short: the line computed from it changes


def worker(victim, mode, planted, ready_fd):
    os.setgroups([])
    os.setgid(NOBODY)
    os.setuid(NOBODY)
    if mode:
        rewrite(victim.housekeeping.__code__, mode, planted)
    os.write(ready_fd, b"x")
    os.close(ready_fd)
    victim.housekeeping()


def main():
    victim_dir, mode, planted = sys.argv[1], sys.argv[2], sys.argv[3]
    sys.path.insert(0, victim_dir)
    import victim_mod

    read_end, write_end = os.pipe()
    pids = {}
    for role, rewrite_mode in (("hostile", mode), ("clean", "")):
        pid = os.fork()
        if pid == 0:
            os.close(read_end)
            try:
                worker(victim_mod, rewrite_mode, planted, write_end)
            finally:
                os._exit(1)
        pids[role] = pid
    os.close(write_end)
    got = b""
    while len(got) < 2:
        chunk = os.read(read_end, 2)
        if not chunk:
            sys.exit("a worker died before it was ready")
        got += chunk
    pids["master"] = os.getpid()
    sys.stdout.write(json.dumps(pids) + "\n")
    sys.stdout.flush()
    victim_mod.housekeeping()


if __name__ == "__main__":
    main()
