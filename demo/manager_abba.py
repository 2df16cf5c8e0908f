"""manager_abba -- two pool workers deadlock on two Manager().Lock()s taken in opposite orders.

Real-world incident: pool workers guard shared state kept in a Manager with two Manager
locks (`accounts` and `audit`), each taken through its proxy with `with`. One task takes
accounts then audit, another audit then accounts. Each worker's second acquire() runs in the
Manager's server thread for its connection and blocks there; the workers block reading the
answer; the parent waits in map(). A Manager records no owner, and each connection's last
request is now the pending acquire, which hides the earlier one.

Manager (fork) + Pool(2), initializer passes the two lock proxies and two Manager Events
(each worker says it holds its first lock, then waits for the other's).

What pooltui should show:
* each worker's MainThread: waits on the Manager's Lock <id> (pid M): holder not known.
* the Manager's server threads 'ForkPoolWorker-N': run the acquire() of their client.
* Diagnosis: probably a deadlock (guess: warning): each worker waits on a Lock that one of
  the clients connected to the Manager took -- every one of them is waiting (the parent on
  the pool's results).

Truth: manager_pid, worker_pids.
"""
from __future__ import print_function

import _common

LOCKS = None


def init_worker(accounts, audit, mine, channel):
    global LOCKS
    LOCKS = (accounts, audit, mine, channel)


def transfer(order):
    accounts, audit, events, channel = LOCKS
    first, second = (accounts, audit) if order == 0 else (audit, accounts)
    with first:
        events[order].set()
        channel.send(event="holding", order=order)
        events[1 - order].wait()
        with second:                  # held by the other worker, which waits for this one's
            return order


def main(demo):
    ctx = _common.get_context("fork")
    manager = ctx.Manager()
    accounts, audit = manager.Lock(), manager.Lock()
    events, channel = (manager.Event(), manager.Event()), _common.Channel()
    pool = ctx.Pool(2, initializer=init_worker, initargs=(accounts, audit, events, channel))

    def verify():
        held = channel.collect(2, event="holding")
        for msg in held:
            _common.wait_blocked(msg["pid"], msg["pid"], syscalls=("read",), what="worker %d" % msg["pid"])
        demo.wait_main_blocked()
        demo.ready({
            "manager_pid": manager._process.pid,
            "worker_pids": sorted(m["pid"] for m in held),
        })

    demo.setup_thread(verify)
    pool.map(transfer, [0, 1], chunksize=1)


if __name__ == "__main__":
    args = _common.parse_args("manager_abba", __doc__)
    demo = _common.Demo("manager_abba", args)
    demo.run(main, demo)
