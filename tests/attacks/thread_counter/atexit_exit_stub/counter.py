"""Attack: ``atexit.register(os._exit, 0)`` at import; otherwise the unchanged stub.

Whatever happens later (a failing assertion, an exception, a test runner that would report
failures), the interpreter ends with exit status 0 and skips every other exit handler. A
grader that judged the student's process by its exit status, or that ran its tests inside
that process and wrote the report from an exit handler, would see a clean run.

Must earn nothing: every check lost, exactly like the stub.
"""

from __future__ import annotations

import atexit
import os
import threading  # noqa: F401

atexit.register(os._exit, 0)

num = 0


def worker(val: int) -> None:
    raise NotImplementedError("worker(val): add val to num while holding lock")


def run_workers(n_threads: int = 2000) -> int:
    raise NotImplementedError("run_workers(): reset num, start all threads, then join all")
