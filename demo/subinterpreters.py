"""subinterpreters -- a hang behind a sub-interpreter: the main interpreter's threads are invisible.

Real-world incident: a service runs plugins in sub-interpreters (`_xxsubinterpreters` on
3.8-3.12, `_interpreters` on 3.13). A thread of the main interpreter runs a plugin's
`run_string()`, which never returns; the main thread waits for it under a lock. py-spy (and
pooltui, which reads what py-spy reads) walk only the newest interpreter's threads: the dump
shows the plugin's thread and nothing else -- not the main thread, not the lock it waits on.

What pooltui should show (one process, Python 3.8+):
* only the sub-interpreter's thread: its stack `<module>` (`<string>`) in time.sleep;
* an info verdict `other_interpreters` for the root: it runs 2 interpreters, only the newest
  one's threads are shown, the others' (the main thread among them) are not. Never silent.
* with --healthy (the twin: a plugin that works in short steps, its caller polling it with
  a timeout): the same info verdict, and no warning and no error.
* with --healthy --finish (the plugin returns and its interpreter is destroyed): one
  interpreter left, nothing said.

Truth: interpreters (the ids `list_all()` returns, the main one 0), sub_id (the plugin's),
hidden [{name, ident, tid}] (main-interpreter threads py-spy cannot show), runner {name, ident, tid}
(the thread running the plugin: written by the plugin itself from inside the sub-interpreter).
"""
from __future__ import print_function

import json
import os
import sys
import threading

import _common

try:
    import _interpreters as interpreters  # 3.13
except ImportError:
    try:
        import _xxsubinterpreters as interpreters  # 3.8-3.12
    except ImportError:
        interpreters = None

# the plugin: tells who runs it (from inside the sub-interpreter) then sleeps for good, or works in steps
PLUGIN = """
import json, os, threading, time
os.write({fd}, (json.dumps({{"ident": threading.get_ident(), "tid": threading.get_native_id()
                            if hasattr(threading, "get_native_id") else None}}) + "\\n").encode())
while {again}:
    time.sleep({step})
"""


def _ids(found):
    out = []
    for entry in found:
        entry = entry[0] if isinstance(entry, tuple) else entry  # 3.13: (id, whence)
        out.append(int(entry))
    return sorted(out)


def main(demo, healthy, finish):
    if interpreters is None:
        raise _common.StateNotReached("this Python has no sub-interpreter module (3.8+ only)")
    sub_id = interpreters.create()
    told_r, told_w = os.pipe()
    code = PLUGIN.format(fd=told_w, step=0.05 if healthy else 3600, again=not finish)
    hold = threading.Lock()
    threads = {}

    def run_plugin():
        _common.register_thread(threads)
        with hold:
            interpreters.run_string(sub_id, code)

    runner = threading.Thread(target=run_plugin, name="plugin-runner")
    runner.daemon = True
    runner.start()

    def verify():
        line = _common.read_line(told_r, "the plugin never said it runs")
        told = json.loads(line.decode())
        _common.wait_until(lambda: "plugin-runner" in threads, "the plugin runner to register")
        if finish:
            runner.join(_common.STATE_TIMEOUT)
            interpreters.destroy(sub_id)
        elif not healthy:
            demo.wait_main_blocked()
        hidden = [{"name": "MainThread", "ident": demo.main_ident, "tid": demo.pid}]
        demo.ready({
            "interpreters": _ids(interpreters.list_all()),
            "sub_id": int(sub_id[0] if isinstance(sub_id, tuple) else sub_id),
            "runner": dict(threads["plugin-runner"], ident=told["ident"]),
            "hidden": hidden,
            "healthy": healthy,
        })

    demo.setup_thread(verify)
    if healthy:
        while runner.is_alive():
            runner.join(0.5)
    else:
        with hold:  # never: the plugin never returns
            pass


if __name__ == "__main__":
    def extra(parser):
        parser.add_argument("--healthy", action="store_true", help="the twin: a plugin that works, polled with a timeout")
        parser.add_argument("--finish", action="store_true", help="the plugin returns and its interpreter is destroyed")

    args = _common.parse_args("subinterpreters", __doc__, extra=extra)
    demo = _common.Demo("subinterpreters", args)
    demo.main_ident = threading.current_thread().ident
    demo.run(main, demo, args.healthy or args.finish, args.finish)
