"""Target for tests/live/test_incremental.py: a thread whose stack changes only when told.

    python alternate_target.py CONTROL_FIFO ACK_FIFO

The main thread alternates between two functions, ``in_first`` and ``in_second``; in each
it writes the function's name to ACK_FIFO and then blocks in ``os.read(CONTROL_FIFO)``.
Every byte written to CONTROL_FIFO moves it to the other function, so the test knows, from
the acknowledgement, which function is on top of the stack right now. Around it sit things
that never run: a thread parked on an Event and a forked child blocked reading a pipe
(the child dies with its parent: it reads EOF and exits).
"""

from __future__ import print_function

import os
import sys
import threading


def in_first(control, ack):
    os.write(ack, b"in_first\n")
    return os.read(control, 1)


def in_second(control, ack):
    os.write(ack, b"in_second\n")
    return os.read(control, 1)


def child_main(pipe_r):
    os.read(pipe_r, 1)  # EOF when the parent exits
    os._exit(0)


def main():
    pipe_r, pipe_w = os.pipe()
    if os.fork() == 0:
        os.close(pipe_w)
        child_main(pipe_r)
    os.close(pipe_r)
    parked = threading.Thread(target=threading.Event().wait, name="parked", daemon=True)
    parked.start()
    control = os.open(sys.argv[1], os.O_RDWR)  # RDWR: a read blocks instead of seeing EOF between writers
    ack = os.open(sys.argv[2], os.O_WRONLY)
    while True:
        if not in_first(control, ack):
            break
        if not in_second(control, ack):
            break


if __name__ == "__main__":
    main()
