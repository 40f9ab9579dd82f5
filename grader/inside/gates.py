"""Thread witnesses for the counter exercise, driven by a trace function.

CPython 3.10+ switches threads only after calls and on backward jumps, so an unlocked
``num += val`` practically never loses an update on its own. These witnesses make the
interleaving happen instead of hoping for it:

* :class:`ReadGate` holds a thread right after it has read the shared global (the
  instruction after ``LOAD_GLOBAL num``) until a second thread has read it too, then lets
  both go on: with no lock, both now write back a sum built on the same old value and one
  update is lost, every time. With a lock around the read-add-write, the second thread can
  never reach the read while the first waits, the wait times out and nothing is lost.
* :class:`OverlapWitness` holds the first worker thread that enters the student's code
  until ``n`` distinct threads are inside it at once: proof that threads really overlapped
  (a loop that joins each thread right after starting it never gets there).

Only code objects from the student's file are traced, with opcode events.
"""

from __future__ import annotations

import dis
import threading
import time
from typing import Any

_LOAD_OPS = {"LOAD_GLOBAL", "LOAD_NAME"}


def _read_offsets(code, name: str) -> set[int]:
    """Offsets of the instructions that follow a load of global ``name`` in ``code``."""
    out = set()
    instructions = list(dis.get_instructions(code))
    for i, ins in enumerate(instructions[:-1]):
        if ins.opname in _LOAD_OPS and ins.argval == name:
            out.add(instructions[i + 1].offset)
    return out


class _Tracer:
    def __init__(self, filename: str) -> None:
        self.filename = filename
        self.main = threading.main_thread()

    def is_student(self, frame) -> bool:
        return frame.f_code.co_filename == self.filename

    def install(self) -> None:
        threading.settrace(self.global_trace)

    def uninstall(self) -> None:
        threading.settrace(None)  # type: ignore[arg-type]

    def global_trace(self, frame, event, arg):
        if event != "call" or not self.is_student(frame):
            return None
        if threading.current_thread() is self.main:
            return None
        return self.on_call(frame)

    def on_call(self, frame):  # pragma: no cover - overridden
        return None


class ReadGate(_Tracer):
    """Pairs up threads right after they read global ``name`` (see module docstring)."""

    def __init__(self, filename: str, name: str, rounds: int, timeout: float,
                 skip: int = 1) -> None:
        super().__init__(filename)
        self.name = name
        self.rounds = rounds
        self.timeout = timeout
        self.skip = skip
        self.cond = threading.Condition()
        self.waiting = False
        self.partner_arrived = False
        self.reads = 0
        self.paired = 0
        self.timeouts = 0
        self._offsets: dict[Any, set[int]] = {}

    def on_call(self, frame):
        code = frame.f_code
        if code not in self._offsets:
            self._offsets[code] = _read_offsets(code, self.name)
        if not self._offsets[code]:
            return None
        frame.f_trace_opcodes = True
        frame.f_trace_lines = False
        return self.local_trace

    def local_trace(self, frame, event, arg):
        if event == "opcode" and frame.f_lasti in self._offsets.get(frame.f_code, ()):
            self.after_read()
        return self.local_trace

    def after_read(self) -> None:
        with self.cond:
            self.reads += 1
            if self.reads <= self.skip or self.paired + self.timeouts >= self.rounds:
                return
            if self.waiting:
                # Second reader: release the first; both now write back stale sums.
                self.partner_arrived = True
                self.cond.notify_all()
                return
            self.waiting = True
            self.partner_arrived = False
            got = self.cond.wait_for(lambda: self.partner_arrived, timeout=self.timeout)
            self.waiting = False
            if got:
                self.paired += 1
            else:
                self.timeouts += 1

    def report(self) -> dict[str, Any]:
        return {"reads": self.reads, "paired": self.paired, "timeouts": self.timeouts}


class OverlapWitness(_Tracer):
    """Holds worker threads on entering student code until ``n`` are inside at once."""

    def __init__(self, filename: str, n: int, timeout: float) -> None:
        super().__init__(filename)
        self.n = n
        self.timeout = timeout
        self.cond = threading.Condition()
        self.inside: set[int] = set()
        self.seen: set[int] = set()
        self.state = "waiting"
        self.max_inside = 0

    def on_call(self, frame):
        ident = threading.get_ident()
        with self.cond:
            if ident in self.seen:
                return None  # nested calls of the same thread
            self.seen.add(ident)
            if self.state != "waiting":
                return None
            self.inside.add(ident)
            self.max_inside = max(self.max_inside, len(self.inside))
            if len(self.inside) >= self.n:
                self.state = "passed"
                self.cond.notify_all()
                return None
            end = time.monotonic() + self.timeout
            while self.state == "waiting":
                left = end - time.monotonic()
                if left <= 0:
                    self.state = "timeout"
                    self.cond.notify_all()
                    break
                self.cond.wait(left)
        return None

    def report(self) -> dict[str, Any]:
        return {"state": self.state, "max_inside": self.max_inside, "threads": len(self.seen)}

