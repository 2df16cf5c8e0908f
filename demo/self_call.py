"""self_call -- a thread calls its own process's HTTP server while holding a lock the request handler needs.

Real-world incident: a service embeds a small HTTP API (a threading `http.server`, a
metrics or admin endpoint) and, elsewhere in the same process, a job that holds the
service's state lock calls that API over localhost (it reuses the public client instead of
the internal function). The request's handler thread takes the same lock first thing: it
waits for the job, the job waits in recv() for the handler's answer. Nobody else ever
touches that connection; the server's own loop keeps polling its listening socket every
0.5 s, so the process never looks idle. py-spy shows one thread "in a socket read" and
another "waiting on a lock": neither says they wait on each other.

Threads: 'http-server' (`serve_forever()`: a timed poll of the listening socket),
'state-job' (holds STATE_LOCK, GETs the server's /status), the handler thread
(`process_request_thread`: waits on STATE_LOCK); the main thread sleeps (`--main sleep`,
the default) or joins 'http-server' (`--main join`).
--healthy: the twin: 'state-job' calls /status without holding the lock, over and over; the
handler takes the lock briefly.

What pooltui should show: a deadlock_cycle: 'state-job' is blocked in recvfrom() on a socket
whose other end only its own process holds, served by the handler thread, which waits on
STATE_LOCK held by 'state-job'. The server loop beside it (it polls only its listening
socket, and wakes twice a second) is no party. An error (inferred) when the main thread
sleeps; with `--main join` a warning (guess): the main thread could, in principle, write to
the connection once 'http-server' ends -- said as "unless 'MainThread' ... answers".

Truth: job {name, ident, tid}, handler {name, ident, tid} (--healthy: job only).
"""
from __future__ import print_function

import threading
import time

import _common

try:
    from http.server import BaseHTTPRequestHandler, HTTPServer
    from socketserver import ThreadingMixIn
    from urllib.request import urlopen
except ImportError:  # 2.7
    from BaseHTTPServer import BaseHTTPRequestHandler, HTTPServer
    from SocketServer import ThreadingMixIn
    from urllib2 import urlopen

STATE_LOCK = threading.Lock()
SEEN = {}


class StatusHandler(BaseHTTPRequestHandler):
    def do_GET(self):
        SEEN["handler"] = _common.thread_info()
        with STATE_LOCK:                 # blocks: the job calling us holds it
            body = b"ok"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class Server(ThreadingMixIn, HTTPServer):
    daemon_threads = True


def main(demo, healthy, how):
    server = Server(("127.0.0.1", 0), StatusHandler)
    url = "http://127.0.0.1:%d/status" % server.server_address[1]
    job = {}

    def state_job():
        job.update(_common.thread_info())
        if healthy:
            while True:  # a poller of its own status page, not a hot loop (each call is a new handler thread)
                urlopen(url).read()
                SEEN["answered"] = True
                time.sleep(0.05)
        with STATE_LOCK:
            urlopen(url).read()          # blocks: the handler waits for STATE_LOCK

    def verify():
        if healthy:
            _common.wait_until(lambda: "answered" in SEEN, "the server to answer the job")
            demo.ready({"job": dict(job)})
            return
        _common.wait_until(lambda: "handler" in SEEN and "tid" in job, "the request to reach its handler")
        _common.wait_blocked(demo.pid, SEEN["handler"]["tid"], what="the handler on STATE_LOCK")
        _common.wait_blocked(demo.pid, job["tid"], syscalls=("recvfrom", "read"), what="the job reading its answer")
        demo.ready({"job": dict(job), "handler": dict(SEEN["handler"])})

    threads = []
    for name, target in (("http-server", server.serve_forever), ("state-job", state_job)):
        t = threading.Thread(target=target, name=name)
        t.daemon = True
        t.start()
        threads.append(t)
    demo.setup_thread(verify)
    if how == "join":
        threads[0].join()                # the service's main thread waits on its server
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    def extra(parser):
        parser.add_argument("--healthy", action="store_true", help="the twin that must draw no verdict")
        parser.add_argument("--main", choices=("sleep", "join"), default="sleep", help="what the main thread does meanwhile")

    args = _common.parse_args("self_call", __doc__, extra=extra)
    demo = _common.Demo("self_call", args)
    demo.run(main, demo, args.healthy, args.main)
