"""A process tree whose frames hold secrets, for the redaction test: the parent and one
child each sit in a retry loop (asleep at the same line, sample after sample: what pooltui
looks at closer) with locals named ``api_key``, ``password`` and ``token`` whose values
end like a connection error (a credential echoed in a server's refusal), and the parent's
command line carries ``--token VALUE``. Every secret value holds SEED (from the
environment, so it is in no source line and no argument but ``--token``'s).

usage: SECRET_SEED=... python secrets_target.py READY_FIFO --token VALUE
"""
from __future__ import print_function

import json
import multiprocessing
import os
import sys
import time


def retry_forever(seed, ready=None):
    api_key = "AK" + seed + " [Errno 111] Connection refused"
    password = "PW" + seed + " Broken pipe"
    token = "TK" + seed + " Connection reset by peer"
    if ready is not None:
        with open(ready, "w") as f:
            f.write(json.dumps({"pid": os.getpid(), "secrets": 3}) + "\n")
    while True:
        time.sleep(3600)


def main():
    seed = os.environ["SECRET_SEED"]
    child = multiprocessing.Process(target=retry_forever, args=(seed,), name="retrying-child")
    child.daemon = True
    child.start()
    retry_forever(seed, sys.argv[1])


if __name__ == "__main__":
    main()
