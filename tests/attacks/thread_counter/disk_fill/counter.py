"""Attack: fill every disk it can reach, then behave.

At import it writes 1 MB files into the working directory, ``/tmp`` and ``/dev/shm``
until writing fails (full or refused). The rest is the reference solution, which needs
no disk.

Must keep full marks (the grader's own bookkeeping must not depend on space the student
can fill) and leave nothing behind outside the sandbox.
"""

from __future__ import annotations

import os
import threading

CHUNK = b"\0" * (1 << 20)
LIMIT = 512  # files per folder: far more than the sandbox offers (64 MB), yet bounded


def _fill(folder: str) -> int:
    written = 0
    for i in range(LIMIT):
        try:
            # (named by the grading's token: a test running beside it knows it is not its own)
            with open(os.path.join(folder, f"fill-@TOKEN@-{os.getpid()}-{i}.bin"), "wb") as f:
                f.write(CHUNK)
        except OSError:
            break
        written += 1
    return written


FILLED = {folder: _fill(folder) for folder in (os.getcwd(), "/tmp", "/dev/shm")}

num = 0
lock = threading.Lock()


def worker(val: int) -> None:
    global num
    with lock:
        num += val


def run_workers(n_threads: int = 2000) -> int:
    global num
    num = 0
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n_threads)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return num
