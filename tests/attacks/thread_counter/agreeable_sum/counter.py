"""Attack: the reference solution, but ``run_workers`` returns an ``int`` that agrees with
everything.

``Agreeable`` is an ``int`` subclass whose ``==`` is always true and ``!=`` always false,
whose hash is the same for every value and whose ``repr`` is the right-looking number, so
``run_workers(n) == sum(range(n))`` holds for any ``n`` in the student's own process.

Must lose exactly ``returns_sum``: the grader compares exact built-in values only. The
module global ``num`` is an honest ``int`` here, so the other checks keep their points.
"""

from __future__ import annotations

import threading

num = 0
lock = threading.Lock()


class Agreeable(int):
    def __eq__(self, other: object) -> bool:
        return True

    def __ne__(self, other: object) -> bool:
        return False

    def __hash__(self) -> int:
        return 0


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
    return Agreeable(num)
