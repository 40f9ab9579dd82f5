"""How many students are graded at once (:class:`Admission`)."""

from __future__ import annotations

import os
import time


class Admission:
    """How many students are graded at once.

    A number: exactly that many. ``"auto"`` (the grading command's default): at least one
    per core, and one more, at most every :attr:`WINDOW` seconds, while the machine's CPUs
    were less than :attr:`IDLE` busy over the last window, up to :attr:`MOST_PER_CORE` per
    core. Most of a check is waiting by design (the grader's sleeps and barriers) and a
    deadlocked or hanging submission waits until its deadline, up to 30 s; such students
    leave cores idle, and the next students use them instead of queueing behind them. A
    busy machine (CPU-bound checks, a spinning submission, other users) gets no more than
    the cores.
    """

    WINDOW = 0.5
    IDLE = 0.6
    MOST_PER_CORE = 3

    def __init__(self, jobs: int | str) -> None:
        cores = os.cpu_count() or 1
        self.adaptive = jobs == "auto"
        self.least = cores if self.adaptive else max(1, int(jobs))
        self.most = self.least * self.MOST_PER_CORE if self.adaptive else self.least
        self.cores = cores
        self.last = machine_cpu()

    def may_start(self, running: int) -> bool:
        if running < self.least:
            return True
        if not self.adaptive or running >= self.most:
            return False
        now = machine_cpu()
        if now is None or self.last is None:
            return False
        elapsed = now[0] - self.last[0]
        if elapsed < self.WINDOW:
            return False
        busy = (now[1] - self.last[1]) / (elapsed * self.cores)
        # (A new window starts at every decision: at most one more student per window.)
        self.last = now
        return busy < self.IDLE


def machine_cpu() -> tuple[float, float] | None:
    """(monotonic now, CPU seconds the machine's cores have been busy so far, all of them
    together: /proc/stat), or None where unreadable."""
    try:
        with open("/proc/stat") as f:
            fields = [int(x) for x in f.readline().split()[1:9]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + fields[4]  # idle, iowait
    return time.monotonic(), (sum(fields) - idle) / os.sysconf("SC_CLK_TCK")
