"""Lone Python processes for `pooltui ps` tests and fixtures (Python 3.3+), each ready once
in its state: prints one line "ready PID" to stdout, then stays until killed.

  sleeper   one thread in time.sleep(): a lone process with a timed wait (no verdict)
  zombie    forks a child that exits 3 and is never reaped (waitid WNOWAIT sees the
            exit without reaping it): an exited child not reaped
"""

import os
import sys
import time


def main():
    mode = sys.argv[1]
    if mode == "zombie":
        child = os.fork()
        if child == 0:
            os._exit(3)
        os.waitid(os.P_PID, child, os.WEXITED | os.WNOWAIT)  # exited, still a zombie
    elif mode != "sleeper":
        raise SystemExit("unknown mode %r" % mode)
    sys.stdout.write("ready %d\n" % os.getpid())
    sys.stdout.flush()
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main()
