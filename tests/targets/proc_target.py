"""A process whose /proc files scripts/record_proc.py records into tests/fixtures/proc.

It holds one of each thing pooltui reads of a process from /proc: a thread in a futex wait
with no timeout (the main thread, on a lock it holds), a thread blocked reading a pipe, a
Unix socket pair, a TCP connection to itself on localhost, a listening Unix socket at the
path given as argv[1], and a zombie child that exited with status 3. Prints its facts as
one JSON line when all are set up, then blocks for good.
"""

import json
import os
import socket
import sys
import threading


def inode(sock_or_fd):
    return os.fstat(sock_or_fd if isinstance(sock_or_fd, int) else sock_or_fd.fileno()).st_ino


def main():
    lock = threading.Lock()
    lock.acquire()
    read_end, write_end = os.pipe()
    left, right = socket.socketpair()
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    client = socket.create_connection(listener.getsockname())
    server, _ = listener.accept()
    unix = socket.socket(socket.AF_UNIX)
    unix.bind(sys.argv[1])
    unix.listen(1)
    child = os.fork()
    if child == 0:
        os._exit(3)
    started = threading.Event()

    def reader():
        started.set()
        os.read(read_end, 1)  # nobody writes: blocked for good

    thread = threading.Thread(target=reader, name="reader", daemon=True)
    thread.start()
    started.wait()
    facts = {
        "pid": os.getpid(),
        "reader_tid": thread.native_id,
        "pipe_read_fd": read_end,
        "pipe_write_fd": write_end,
        "pipe_inode": inode(read_end),
        "pair": [inode(left), inode(right)],
        "tcp": [inode(client), inode(server)],
        "unix_listener": {"inode": inode(unix), "path": sys.argv[1]},
        "zombie_pid": child,
        "zombie_status": 3 << 8,
        "python": "%d.%d" % sys.version_info[:2],
    }
    print(json.dumps(facts), flush=True)
    lock.acquire()  # the lock it holds: a futex wait with no timeout, for good


main()
