"""The child of `subprocess_pipe --wait --via python`: three threads, the main one too, write
lines to stdout (`python _printers.py LINES`), then sleep. Each write takes the file object's
own lock (2.7: the C FILE's; 3.x: the BufferedWriter's) around the write() system call: once
stdout is a full pipe nobody reads, one blocks in write() and the others on that lock."""
import sys
import threading
import time


def spam(lines):
    for _ in range(lines):
        sys.stdout.write("x" * 4000 + "\n")
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    count = int(sys.argv[1])
    for _ in range(2):
        t = threading.Thread(target=spam, args=(count,))
        t.daemon = True
        t.start()
    spam(count)
