"""plain_reentry -- a thread re-enters a plain Lock it holds: it waits on itself forever.

Real-world incident: `reload_config()` takes the module-level `CONFIG_LOCK` (a plain
`threading.Lock`) in a `with` block and calls `parse_section()`, which was later changed to
take `with CONFIG_LOCK:` too, to be safe when called alone. A plain Lock is not re-entrant:
the reloader blocks on its own lock, and every request that reads the config queues behind it.
A heartbeat thread keeps running, so the process is not idle.

What pooltui should show (one process):
* 'reloader': waits on __main__.CONFIG_LOCK (Lock) at the `with CONFIG_LOCK:` line of
  parse_section; its outer frame reload_config is inside `with CONFIG_LOCK:`.
* 'request-0', 'request-1': wait on __main__.CONFIG_LOCK in handle_request.
* 'heartbeat': sleeps in a loop.
* Diagnosis: deadlock (error, from the frame): 'reloader' waits on a plain Lock it holds
  itself (its frame reload_config is inside a `with` of it).

Truth: reloader {name, ident, tid}, requests [{name, ident, tid}], lock {name, kind, id,
futex}, wait_site (parse_section's with line), hold_site (reload_config's with line).
"""
from __future__ import print_function

import threading
import time

import _common

CONFIG_LOCK = threading.Lock()
THREADS = {}
RELOADING = threading.Event()


def parse_section(name):
    with CONFIG_LOCK:                 # re-entered: the reloader already holds it
        return name


def reload_config():
    _common.register_thread(THREADS)
    with CONFIG_LOCK:
        RELOADING.set()
        return parse_section("main")


def handle_request():
    _common.register_thread(THREADS)
    with CONFIG_LOCK:
        return "config"


def heartbeat():
    while True:
        time.sleep(0.2)


def main(demo):
    beat = threading.Thread(target=heartbeat, name="heartbeat")
    beat.daemon = True
    beat.start()
    reloader = threading.Thread(target=reload_config, name="reloader")
    reloader.daemon = True
    reloader.start()
    if not RELOADING.wait(_common.STATE_TIMEOUT):
        raise _common.StateNotReached("the reloader never took the lock")
    requests = [threading.Thread(target=handle_request, name="request-%d" % i) for i in range(2)]
    for t in requests:
        t.daemon = True
        t.start()
    futex = _common.futex_address(CONFIG_LOCK)

    def verify():
        for name in ["reloader"] + [t.name for t in requests]:
            _common.wait_until(lambda: name in THREADS, "thread %s to start" % name)
            _common.wait_blocked(demo.pid, THREADS[name]["tid"], futex, what=name)
        demo.ready({
            "reloader": THREADS["reloader"],
            "requests": [THREADS[t.name] for t in requests],
            "lock": _common.lock_facts(CONFIG_LOCK, "__main__.CONFIG_LOCK", "Lock"),
            "wait_site": _common.site(parse_section, "with CONFIG_LOCK:"),
            "hold_site": _common.site(reload_config, "with CONFIG_LOCK:"),
        })

    demo.setup_thread(verify)
    demo.block()


if __name__ == "__main__":
    args = _common.parse_args("plain_reentry", __doc__)
    demo = _common.Demo("plain_reentry", args)
    demo.run(main, demo)
