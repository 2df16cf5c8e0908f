"""outside_peer -- a worker waits for an answer from a server that is not part of its process
tree (another service on this host): who could end the wait is not knowable from here.

Real-world incident: a task calls a local service (a database proxy, a cache, a sidecar) and
waits in recv() for a reply that does not come. Nothing in the pool can end the wait, and
nothing in the pool is wrong: pooltui cannot see why the service does not answer, but it
must say where the wait goes (the address, on this host or not) -- never "No problems
found" with no word on it, never an error.

--peer tcp (default) | unix: a TCP connection to 127.0.0.1, or a Unix socket.
The server is started outside the demo's tree (a double fork: its parent exits at once, so
init adopts it); it accepts one connection, reads nothing back, and exits when the client's
end closes (the demo's end or its lifetime).

What pooltui should show: the worker's MainThread waiting on I/O, its wait saying
"waits to read from 127.0.0.1:PORT (fd N), a process on this host outside this tree" (tcp) or
"a socket (fd N) whose other end is held outside this tree" (unix); no warning, no error.

Truth: worker_pid, server_pid, address.
"""
from __future__ import print_function

import os
import socket
import tempfile

import _common


def _serve(listener, report_w):
    """The server, in a grandchild init adopts: one connection, never an answer."""
    os.write(report_w, ("%d\n" % os.getpid()).encode())
    os.close(report_w)
    conn, _ = listener.accept()
    listener.close()
    while conn.recv(4096):  # until the client's end closes
        pass
    os._exit(0)


def start_server(peer):
    """A listening socket, and the pid of a server outside this tree serving it."""
    if peer == "tcp":
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.bind(("127.0.0.1", 0))
        address = listener.getsockname()
    else:
        address = os.path.join(tempfile.mkdtemp(prefix="pooltui-outside-"), "server.sock")
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(address)
    listener.listen(1)
    r, w = os.pipe()
    ack_r, ack_w = os.pipe()
    first = os.fork()
    if first == 0:  # the child: fork the server, exit (init adopts the server)
        os.close(r)
        if os.fork() == 0:
            os.setsid()
            _common.no_pdeathsig()  # the demo's fork hook tied it to the child, which exits now
            os.close(ack_w)
            _serve(listener, w)
        os.close(ack_w)
        os.read(ack_r, 1)  # until the server has untied itself (EOF)
        os._exit(0)
    os.close(ack_r)
    os.close(ack_w)
    os.close(w)
    os.waitpid(first, 0)
    line = _common.read_line(r, "the server exited before it started")
    os.close(r)
    listener.close()
    return address, int(line)


def ask(peer, address, report_fd):
    family = socket.AF_INET if peer == "tcp" else socket.AF_UNIX
    conn = socket.socket(family, socket.SOCK_STREAM)
    conn.connect(address)
    conn.sendall(b"GET /status\n")
    os.write(report_fd, ("%d\n" % os.getpid()).encode())
    return conn.recv(4096)  # the server never answers


def main(demo, peer):
    address, server = start_server(peer)
    ctx = _common.get_context("fork")
    r, w = os.pipe()
    pool = ctx.Pool(1)

    def verify():
        line = _common.read_line(r, "the worker closed its report pipe")
        worker = int(line)
        _common.wait_blocked(worker, worker, syscalls=("recvfrom", "read", "recvmsg"), what="the task waiting for the answer")
        shown = "%s:%d" % address if peer == "tcp" else address
        demo.ready({"worker_pid": worker, "server_pid": server, "address": shown})

    demo.setup_thread(verify)
    pool.apply(ask, (peer, address, w))


if __name__ == "__main__":
    def extra(parser):
        parser.add_argument("--peer", choices=("tcp", "unix"), default="tcp")

    args = _common.parse_args("outside_peer", __doc__, extra=extra)
    demo = _common.Demo("outside_peer", args)
    demo.run(main, demo, args.peer)
