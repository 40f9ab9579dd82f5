"""The threads-really-overlap gate for the counter exercise.

:class:`OverlapGate` holds the first worker thread that enters the student's code until
``n`` distinct threads are inside it at once: proof that threads really overlapped (a loop
that joins each thread right after starting it never gets there, nor does a Thread
replacement that runs its target in the calling thread). The controlled scheduler
(:mod:`grader.inside.schedule`) cannot tell such a serialized "fix" from a correct one, so
this gate stays beside it. Only code objects from the student's file are traced.
"""

from __future__ import annotations

import os
import sys
import threading
import time

TYPE_CHECKING = False  # (importing typing costs every sandbox ~3 ms)
if TYPE_CHECKING:
    from typing import Any


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


class OverlapGate(_Tracer):
    """Holds worker threads on entering student code until ``n`` are inside at once."""

    def __init__(self, filename: str, n: int, timeout: float) -> None:
        super().__init__(filename)
        self.n = n
        self.timeout = timeout
        self.cond = threading.Condition()
        self.inside: set[int] = set()
        # Thread objects, not idents: the ident of a finished thread is reused by the next
        # one (a serial run would look like one thread calling again and again).
        self.seen: set[threading.Thread] = set()
        self.state = "waiting"
        self.max_inside = 0
        self.key = os.urandom(16).hex()
        self.live: dict[str, Any] = {}  # the report, kept current (see report())
        # [thread name, entered, left] of the first SPANS threads: the feedback's picture
        # of when each was inside the student's code.
        self.spans: dict[threading.Thread, list[Any]] = {}
        self._sync()

    SPANS = 12

    def _sync(self) -> None:
        self.live.update(state=self.state, max_inside=self.max_inside,
                         threads=len(self.seen), key=self.key,
                         spans=list(self.spans.values()))

    def _left(self, frame, event, arg):
        """Local trace of a tracked thread's outermost student frame: its return."""
        if event == "return":
            span = self.spans.get(threading.current_thread())
            if span is not None and span[2] is None:
                span[2] = time.monotonic()
        return self._left

    def on_call(self, frame):
        ident = threading.get_ident()
        me = threading.current_thread()
        with self.cond:
            if me in self.seen:
                return None  # nested calls of the same thread
            self.seen.add(me)
            tracked = len(self.spans) < self.SPANS
            if tracked:
                self.spans[me] = [me.name, time.monotonic(), None]
                frame.f_trace_lines = False  # only its return is of interest
            self._sync()
            local = self._left if tracked else None
            if self.state != "waiting":
                return local
            self.inside.add(ident)
            self.max_inside = max(self.max_inside, len(self.inside))
            if len(self.inside) >= self.n:
                # While the others are still held: init counts this process's threads
                # (the kernel's count, which no code in here can change).
                from grader.inside.probes import witness

                witness(self.key, "threads")
                self.state = "passed"
                self._sync()
                self.cond.notify_all()
                return local
            end = time.monotonic() + self.timeout
            while self.state == "waiting":
                left = end - time.monotonic()
                if left <= 0:
                    self.state = "timeout"
                    self.cond.notify_all()
                    break
                self.cond.wait(min(left, self.POLL))
                if self.state == "waiting" and self.nobody_can_come(ident):
                    self.state = "serial"
                    self.cond.notify_all()
            self._sync()
        return local

    POLL = 0.02

    def nobody_can_come(self, held: int) -> bool:
        """True when no further thread can reach the student's code while ``held`` waits:
        the main thread waits in ``Thread.join`` and every other
        live thread has already been in. This decides a serial submission without relying
        on the timeout, so a loaded machine cannot turn a correct answer into a wrong one
        (a correct submission has started its other threads before it joins)."""
        main = self.main
        frame = sys._current_frames().get(main.ident)
        blocked = False
        while frame is not None:
            code = frame.f_code
            if code.co_filename == threading.__file__ and code.co_name in self.WAITS:
                blocked = True
                break
            frame = frame.f_back
        if not blocked:
            return False
        for thread in threading.enumerate():
            if thread is main or thread.ident == held or thread.name.startswith("grader-"):
                continue
            if thread not in self.seen:  # alive or still starting: it may come
                return False
        return True

    # Only a join: Thread.start() itself waits (for the new thread to start), in "wait".
    WAITS = frozenset({"join", "_wait_for_tstate_lock"})

    def report(self) -> dict[str, Any]:
        """``state`` (waiting, passed, serial, timeout), ``max_inside``, ``threads`` seen
        in the student's code, ``key`` (of init's thread count). The same dict all along,
        kept current: a run that hangs after the overlap was seen (a deadlock) still
        reports it when the watchdog writes the result."""
        self._sync()
        return self.live

