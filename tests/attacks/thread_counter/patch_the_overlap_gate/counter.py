"""Attack: join each thread right after starting it, and make the grader's overlap gate
report that three threads were inside ``worker`` at once.

At import it finds the grader's ``OverlapGate`` class in ``sys.modules`` and replaces
its ``on_call`` (so no thread is ever held) and ``report`` (which claims "passed").

Must lose exactly ``overlap``: when the gate passes, the sandbox's init counts the
process's threads itself (from the kernel); with the gate rewritten, init never
receives that request, so nothing confirms the overlap. The sum is right and the lock
makes it race-free, so the other checks keep their points.
"""

from __future__ import annotations

import sys
import threading

num = 0
_lock = threading.Lock()

_gates = sys.modules.get("grader.inside.gates")
if _gates is not None:
    _gates.OverlapGate.on_call = lambda self, frame: None
    _gates.OverlapGate.report = lambda self: {
        "state": "passed", "max_inside": 3, "threads": 50, "key": "forged"}


def worker(val):
    global num
    with _lock:
        num += val


def run_workers(n_threads=2000):
    global num
    num = 0
    for i in range(n_threads):
        t = threading.Thread(target=worker, args=(i,))
        t.start()
        t.join()
    return num
