"""Attack: join each thread right after starting it, make the grader's overlap gate
report "passed", and have the sandbox's init count idle threads.

At import it finds the grader's ``OverlapGate`` class in ``sys.modules`` and replaces
its ``report``: the report it returns claims that three threads were inside ``worker``
at once, and before returning it starts four idle threads and asks init, under the
gate's own key, to count the process's threads, as the real gate does while it
holds three threads inside. ``run_workers`` itself is serial (the lecture's join in the
start loop).

A known limit (docs/design.md, "What the sandbox does not stop"): init counts the threads the
process has, not which of them are inside the student's code, so this keeps ``overlap``.
The test expects the loss and is marked as an expected failure until init can tell.
"""

from __future__ import annotations

import sys
import threading

num = 0
_lock = threading.Lock()

_gates = sys.modules.get("grader.inside.gates")
_probes = sys.modules.get("grader.inside.probes")
if _gates is not None and _probes is not None:
    _gates.OverlapGate.on_call = lambda self, frame: None

    def _report(self):
        if not getattr(self, "_counted", False):
            self._counted = True
            stop = threading.Event()
            idle = [threading.Thread(target=stop.wait, daemon=True) for _ in range(4)]
            for t in idle:
                t.start()
            _probes.witness(self.key, "threads")
            stop.set()
        self.live.update(state="passed", max_inside=3, threads=50, key=self.key, spans=[])
        return self.live

    _gates.OverlapGate.report = _report


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
