"""A controlled thread scheduler: the student's threads run one at a time, and the grader
decides at every switch point which one runs next.

Why: CPython 3.10+ switches threads only after calls and on backward jumps, so an unlocked
``num += val`` practically never loses an update by itself and a stress test proves
nothing. Here the interleaving is chosen, so a lost update is found by search, the same
way every time, and replayed as a story the student can read.

How:

* :func:`install` (before the submission is imported) replaces ``threading.Lock``,
  ``RLock``, ``Semaphore``, ``BoundedSemaphore``, ``Event`` and ``Condition`` by
  controlled versions, and wraps ``Thread.start``/``Thread.join`` and ``time.sleep``.
  A lock created at import
  time (``lock = threading.Lock()`` at module level, the common case) is therefore under
  control. The replacements behave like ordinary ones for every caller but the student's
  own code.
* Inside :meth:`Scheduler.run`, every thread the student starts waits for the baton
  before running; exactly one thread holds it. Switch points are: reads and writes of the
  module's shared globals (names some function assigns with ``global``), lock and
  semaphore acquire and release, ``Event.wait``/``set``, ``Condition.wait``,
  ``Thread.start``, ``Thread.join``, ``time.sleep``, and a thread's end. Timeouts are not
  simulated: a timed wait is an untimed one. Between switch points a thread's steps touch
  only its own locals, so nothing is lost by not switching there. The reads and writes
  are found by opcode events restricted to the submission's code objects: a trace
  function's on 3.10/3.11, ``sys.monitoring`` instruction events on 3.12+.
* At a switch point with more than one runnable thread the :class:`Chooser` decides. A
  choice that leaves a runnable thread for another is a *preemption*; the search bounds
  their number. With no runnable thread at all, the run is a deadlock.
* Each execution runs in a forked child of the sandbox, so all executions start from the
  same state and cannot disturb one another (:func:`explore`).
"""

from __future__ import annotations

import _thread
import dis
import json
import os
import random
import select
import signal
import sys
import threading
import time
from collections.abc import Callable

TYPE_CHECKING = False  # (importing typing costs every sandbox ~3 ms)
if TYPE_CHECKING:
    from typing import Any

_REAL_LOCK = _thread.allocate_lock
_REAL_RLOCK = threading.RLock
_REAL_START = threading.Thread.start
_REAL_JOIN = threading.Thread.join
_REAL_SLEEP = time.sleep
_REAL_EVENT = threading.Event
_REAL_CONDITION = threading.Condition

_active: Scheduler | None = None
_student_file: str | None = None

READS = {"LOAD_GLOBAL", "LOAD_NAME"}
# Points where the running thread may be preempted. Elsewhere (start, join, release, sleep)
# a switch happens only when the running thread blocks or ends: between two of these points
# a thread touches nothing another thread can see, so every distinct outcome is reachable
# with preemptions at these points alone.
PREEMPTIBLE = {"read", "write", "acquire"}
MAX_THREADS = 64  # a search asks for a handful; more means the count was not honoured
WRITES = {"STORE_GLOBAL", "STORE_NAME"}


def _from_student(depth: int = 2) -> bool:
    frame = sys._getframe(depth)
    return _student_file is not None and frame.f_code.co_filename == _student_file


# --- controlled primitives ----------------------------------------------------------------

class SchedLock:
    """``threading.Lock`` for student code: scheduled while a :class:`Scheduler` runs.

    Called from anywhere else (the threading module's own Conditions and Events, the
    grader), it is an ordinary lock.
    """

    _count = 0

    def __init__(self) -> None:
        self._real = self._make_real()
        self._owner: ThreadState | None = None
        self._depth = 0
        SchedLock._count += 1
        self.label = f"lock#{SchedLock._count}"

    def _make_real(self) -> Any:
        return _REAL_LOCK()

    @staticmethod
    def _scheduled() -> bool:
        return (_active is not None and _active.current_state() is not None
                and _from_student(3))

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        if self._scheduled():
            return self._sched_acquire(blocking)
        return self._real.acquire(blocking, timeout)

    def __enter__(self) -> bool:
        if self._scheduled():
            return self._sched_acquire(True)
        return self._real.acquire()

    def release(self) -> None:
        if self._owner is not None and _active is not None:
            self._sched_release()
        else:
            self._real.release()

    def __exit__(self, *exc: Any) -> None:
        self.release()

    def locked(self) -> bool:
        return self._owner is not None or self._real.locked()

    def _sched_acquire(self, blocking: bool) -> bool:
        sched = _active
        me = sched.current_state()
        sched.point("acquire", self.label)
        if self._owner is me and self._reentrant():
            self._depth += 1
            return True
        if self._owner is not None:
            if not blocking:
                return False
            if self._owner is me:
                sched.block(me, lambda: False, f"acquire {self.label}, which it already holds",
                            lock=self)
            sched.block(me, lambda: self._owner is None, f"acquire {self.label}", lock=self)
        self._owner, self._depth = me, 1
        sched.event(me, "acquired", self.label)
        return True

    def _sched_release(self) -> None:
        sched = _active
        me = sched.current_state()
        self._depth -= 1
        if self._depth > 0:
            return
        self._owner = None
        sched.event(me, "released", self.label)
        sched.point("release", self.label)

    def _reentrant(self) -> bool:
        return False


class SchedRLock(SchedLock):
    """``threading.RLock`` for student code."""

    def _make_real(self) -> Any:
        return _REAL_RLOCK()

    def _reentrant(self) -> bool:
        return True


class SchedSemaphore:
    """``threading.Semaphore`` for student code (``BoundedSemaphore`` below)."""

    _real_class = threading.Semaphore

    def __init__(self, value: int = 1) -> None:
        if value < 0:
            raise ValueError("semaphore initial value must be >= 0")
        self._real = self._real_class(value)
        self._value = self._initial = value
        SchedLock._count += 1
        self.label = f"semaphore#{SchedLock._count}"

    def acquire(self, blocking: bool = True, timeout: float | None = None) -> bool:
        if not SchedLock._scheduled():
            return self._real.acquire(blocking, timeout)
        sched = _active
        me = sched.current_state()
        sched.point("acquire", self.label)
        if self._value == 0:
            if not blocking or timeout is not None:
                return False
            sched.block(me, lambda: self._value > 0, f"acquire {self.label}")
        self._value -= 1
        sched.event(me, "acquired", self.label)
        return True

    __enter__ = acquire

    def release(self, n: int = 1) -> None:
        if _active is None or _active.current_state() is None:
            self._real.release(n)
            return
        if self._bounded() and self._value + n > self._initial:
            raise ValueError("Semaphore released too many times")
        self._value += n
        sched = _active
        sched.event(sched.current_state(), "released", self.label)
        sched.point("release", self.label)

    def __exit__(self, *exc: Any) -> None:
        self.release()

    def _bounded(self) -> bool:
        return False


class SchedBoundedSemaphore(SchedSemaphore):
    _real_class = threading.BoundedSemaphore

    def _bounded(self) -> bool:
        return True


class SchedEvent:
    """``threading.Event`` for student code: ``wait()`` blocks until another thread
    ``set()``s it; ``wait(timeout)`` only polls (the grader does not simulate time)."""

    def __init__(self) -> None:
        self._real = _REAL_EVENT()
        self._flag = False
        SchedLock._count += 1
        self.label = f"event#{SchedLock._count}"

    def is_set(self) -> bool:
        return self._flag

    def set(self) -> None:
        self._flag = True
        self._real.set()
        sched = _active
        if SchedLock._scheduled():
            sched.event(sched.current_state(), "set", self.label)
            sched.point("release", self.label)

    def clear(self) -> None:
        self._flag = False
        self._real.clear()

    def wait(self, timeout: float | None = None) -> bool:
        if not SchedLock._scheduled():
            return self._real.wait(timeout)
        sched = _active
        me = sched.current_state()
        sched.point("acquire", self.label)
        if not self._flag and timeout is None:
            sched.block(me, lambda: self._flag, f"wait for {self.label}")
        return self._flag


class SchedCondition:
    """``threading.Condition`` for student code. ``wait()`` releases the lock, blocks until
    another thread ``notify()``s, then takes the lock back; a timeout is not simulated
    (a timed wait is an untimed one: nobody notifying is then reported as a deadlock)."""

    def __init__(self, lock: Any = None) -> None:
        self._lock = lock if lock is not None else SchedRLock()
        self._real = _REAL_CONDITION(self._lock)
        self._waiters: list[list[bool]] = []
        SchedLock._count += 1
        self.label = f"condition#{SchedLock._count}"

    def _mine(self, depth: int = 3) -> bool:
        """Called by the student's code (``depth`` frames up) while a scheduler runs."""
        return (isinstance(self._lock, SchedLock) and _active is not None
                and _active.current_state() is not None and _from_student(depth))

    def acquire(self, *args: Any) -> bool:
        if self._mine():
            return self._lock._sched_acquire(args[0] if args else True)
        return self._lock.acquire(*args)

    def __enter__(self) -> bool:
        if self._mine():
            return self._lock._sched_acquire(True)
        return self._lock.__enter__()

    def release(self) -> None:
        self._lock.release()

    def __exit__(self, *exc: Any) -> None:
        self._lock.release()

    def wait(self, timeout: float | None = None) -> bool:
        if not self._mine():
            return self._real.wait(timeout)
        return self._sched_wait()

    def _sched_wait(self) -> bool:
        sched = _active
        me = sched.current_state()
        lock = self._lock
        if lock._owner is not me:
            raise RuntimeError("cannot wait on un-acquired lock")
        depth, lock._owner, lock._depth = lock._depth, None, 0
        token = [False]
        self._waiters.append(token)
        sched.event(me, "waits on", self.label)
        sched.block(me, lambda: token[0], f"be notified on {self.label}")
        sched.block(me, lambda: lock._owner is None, f"acquire {lock.label}", lock=lock)
        lock._owner, lock._depth = me, depth
        sched.event(me, "woke up on", self.label)
        return True

    def wait_for(self, predicate: Callable[[], Any], timeout: float | None = None) -> Any:
        if not self._mine():
            return self._real.wait_for(predicate, timeout)
        result = predicate()
        while not result:
            self._sched_wait()
            result = predicate()
        return result

    def notify(self, n: int = 1) -> None:
        if not self._mine():
            self._real.notify(n)
            return
        self._wake(n)

    def notify_all(self) -> None:
        if not self._mine():
            self._real.notify_all()
            return
        self._wake(len(self._waiters))

    def _wake(self, n: int) -> None:
        for token in self._waiters[:n]:
            token[0] = True
        del self._waiters[:n]
        sched = _active
        sched.event(sched.current_state(), "notified", self.label)


def _start(self: threading.Thread) -> None:
    sched = _active
    if sched is None or sched.current_state() is None:
        return _REAL_START(self)
    me = sched.current_state()
    if len(sched.states) > MAX_THREADS:
        sched._finish({"kind": "too_many_threads", "limit": MAX_THREADS})
    state = sched.add_thread(self)
    body = self.run

    def run() -> None:
        sched.begin(state)
        try:
            body()
        finally:
            sched.end(state)

    self.run = run  # an instance attribute: subclasses overriding run() are covered too
    _REAL_START(self)
    sched.event(me, "started", state.name)
    sched.point("start", state.name)
    return None


def _join(self: threading.Thread, timeout: float | None = None) -> None:
    sched = _active
    if sched is None or sched.current_state() is None:
        return _REAL_JOIN(self, timeout)
    state = sched.state_of(self)
    me = sched.current_state()
    if state is None:
        return _REAL_JOIN(self, timeout)
    sched.point("join", state.name)
    if not state.done:
        sched.block(me, lambda: state.done, f"join {state.name}")
    return None


def _sleep(seconds: float) -> None:
    sched = _active
    if sched is None or sched.current_state() is None:
        return _REAL_SLEEP(seconds)
    if sched.current_state() is sched.states[0]:
        sched.slept = True
    sched.point("sleep", f"{seconds:g}")
    return None


def install(student_file: str) -> None:
    """Put the controlled primitives in place; call before importing the submission."""
    global _student_file
    _student_file = student_file
    threading.Lock = SchedLock  # type: ignore[misc]
    threading.RLock = SchedRLock  # type: ignore[misc]
    threading.Semaphore = SchedSemaphore  # type: ignore[misc]
    threading.BoundedSemaphore = SchedBoundedSemaphore  # type: ignore[misc]
    threading.Event = SchedEvent  # type: ignore[misc]
    threading.Condition = SchedCondition  # type: ignore[misc]
    threading.Thread.start = _start  # type: ignore[method-assign]
    threading.Thread.join = _join  # type: ignore[method-assign]
    time.sleep = _sleep


# --- the scheduler ------------------------------------------------------------------------

class ThreadState:
    def __init__(self, tid: int, name: str, thread: threading.Thread | None) -> None:
        self.tid = tid
        self.name = name
        self.thread = thread
        self.done = False
        self.started = False
        self.waiting: Callable[[], bool] | None = None
        self.waiting_for = ""
        self.lock: SchedLock | None = None

    def runnable(self) -> bool:
        if self.done or not self.started:
            return False
        return self.waiting is None or self.waiting()


class Chooser:
    """Decides which runnable thread continues at a decision point.

    ``prefix`` fixes the first decisions (thread ids); after it the default is to keep the
    current thread running while it can (no preemption), else the lowest id.
    """

    def __init__(self, prefix: list[int] | None = None) -> None:
        self.prefix = list(prefix or [])

    def choose(self, index: int, current: ThreadState, options: list[ThreadState]) -> int:
        if index < len(self.prefix):
            return self.prefix[index]
        if current in options:
            return current.tid
        return options[0].tid


class PCTChooser(Chooser):
    """Probabilistic concurrency testing: random thread priorities and ``depth - 1``
    priority change points among the first ``steps`` decisions (Burckhardt et al., 2010):
    a bug of depth ``d`` is found with probability at least 1/(n * k^(d-1)) per run."""

    def __init__(self, seed: int, depth: int, steps: int) -> None:
        super().__init__()
        self.rng = random.Random(seed)
        self.priority: dict[int, float] = {}
        self.changes = sorted(self.rng.sample(range(1, max(steps, depth) + 1), depth - 1))
        self.lowered = 0.0

    def choose(self, index: int, current: ThreadState, options: list[ThreadState]) -> int:
        for t in options:
            if t.tid not in self.priority:
                self.priority[t.tid] = 1.0 + self.rng.random()
        if self.changes and index >= self.changes[0]:
            self.changes.pop(0)
            self.lowered -= 1.0
            self.priority[current.tid] = self.lowered
        return max(options, key=lambda t: self.priority[t.tid]).tid


class Scheduler:
    def __init__(self, chooser: Chooser, max_steps: int = 20000) -> None:
        self.chooser = chooser
        self.max_steps = max_steps
        self.states: list[ThreadState] = []
        self.by_thread: dict[int, ThreadState] = {}
        self.current: ThreadState | None = None
        self.cv = _REAL_CONDITION(_REAL_LOCK())
        self.decisions: list[dict[str, Any]] = []
        self.events: list[dict[str, Any]] = []
        self.steps = 0
        self.outcome: dict[str, Any] | None = None
        self.pending: dict[Any, tuple[int, str]] = {}
        self._shared: dict[Any, dict[int, tuple[str, str]]] = {}
        self.shared_names: set[str] = set()
        self.slept = False  # the main thread called time.sleep (in place of a join?)

    # threads
    def current_state(self) -> ThreadState | None:
        return self.by_thread.get(threading.get_ident())

    def state_of(self, thread: threading.Thread) -> ThreadState | None:
        for s in self.states:
            if s.thread is thread:
                return s
        return None

    def add_thread(self, thread: threading.Thread) -> ThreadState:
        state = ThreadState(len(self.states), thread.name, thread)
        self.states.append(state)
        return state

    def begin(self, state: ThreadState) -> None:
        with self.cv:
            self.by_thread[threading.get_ident()] = state
            state.started = True
            self.cv.notify_all()
            while self.current is not state:
                self.cv.wait()
        if not MONITORING:
            sys.settrace(self.global_trace)

    def end(self, state: ThreadState) -> None:
        sys.settrace(None)
        state.done = True
        # The OS reuses a finished thread's ident for the next thread: forget this one.
        self.by_thread.pop(threading.get_ident(), None)
        self.event(state, "finished", "")
        if self.outcome is None:
            self._switch(state, "end", state.name, leaving=True)

    # the baton
    def point(self, kind: str, detail: str) -> None:
        me = self.current_state()
        if me is None or self.outcome is not None:
            return
        self._switch(me, kind, detail)

    def block(self, me: ThreadState, ready: Callable[[], bool], what: str,
              lock: SchedLock | None = None) -> None:
        me.waiting, me.waiting_for, me.lock = ready, what, lock
        while not ready():
            self._switch(me, "blocked", what)
        me.waiting, me.waiting_for, me.lock = None, "", None

    def _switch(self, me: ThreadState, kind: str, detail: str, leaving: bool = False) -> None:
        self.steps += 1
        if self.steps > self.max_steps:
            self._finish({"kind": "step_limit"})
        # A thread starting up (not yet waiting for the baton) must get there first.
        with self.cv:
            while any(s.thread is not None and not s.started and not s.done
                      for s in self.states):
                self.cv.wait(0.5)
        options = [s for s in self.states if s.runnable()]
        if me in options and kind not in PREEMPTIBLE:
            return  # only shared accesses and lock acquires may be preempted
        if not options:
            if leaving and all(s.done for s in self.states):
                return
            self._finish({"kind": "deadlock", "threads": [
                {"name": s.name, "waiting_for": s.waiting_for,
                 "holder": (s.lock._owner.name if s.lock is not None
                            and s.lock._owner is not None else None)}
                for s in self.states if not s.done]})
        if len(options) == 1:
            chosen = options[0]
        else:
            index = len(self.decisions)
            tid = self.chooser.choose(index, me, options)
            chosen = next((s for s in options if s.tid == tid), options[0])
            self.decisions.append({
                "options": [s.tid for s in options], "chosen": chosen.tid,
                "current": me.tid, "current_runnable": me in options,
                "kind": kind, "detail": detail})
        if chosen is me:
            return
        with self.cv:
            self.current = chosen
            self.cv.notify_all()
            if leaving:
                return
            while self.current is not me:
                self.cv.wait()

    def _finish(self, outcome: dict[str, Any]) -> None:
        self.outcome = outcome
        report(self)  # the forked child reports and ends here
        os._exit(0)

    def event(self, me: ThreadState | None, what: str, detail: str, **more: Any) -> None:
        if me is None:
            return
        frame = _student_frame()
        self.events.append({"thread": me.name, "what": what, "detail": detail,
                            "line": frame.f_lineno if frame else None, **more})

    # opcode tracing of the student's code
    def global_trace(self, frame, event, arg):
        if event != "call" or frame.f_code.co_filename != _student_file:
            return None
        if not self._points(frame.f_code):
            return None
        frame.f_trace_opcodes = True
        frame.f_trace_lines = False
        return self.local_trace

    def _points(self, code) -> dict[int, tuple[str, str]]:
        if code not in self._shared:
            points = {}
            instructions = list(dis.get_instructions(code))
            for i, ins in enumerate(instructions):
                if ins.argval in self.shared_names and (ins.opname in READS
                                                        or ins.opname in WRITES):
                    points[ins.offset] = ("read" if ins.opname in READS else "write",
                                          ins.argval)
                    if ins.opname in WRITES and i + 1 < len(instructions):
                        points.setdefault(instructions[i + 1].offset, ("after", ins.argval))
            self._shared[code] = points
        return self._shared[code]

    def local_trace(self, frame, event, arg):
        if self.outcome is not None:
            return None
        me = self.current_state()
        if me is not None:
            self._step(me, frame, event == "opcode")
        return self.local_trace

    def _on_instruction(self, code, offset):
        """sys.monitoring INSTRUCTION callback (3.12+), enabled for student code only."""
        points = self._shared.get(code)
        if points is None or offset not in points:
            return sys.monitoring.DISABLE  # not a shared access: never call back here again
        me = self.current_state()
        if me is not None and self.outcome is None:
            self._step(me, sys._getframe(1), True)
        return None

    def _step(self, me: ThreadState, frame, at_instruction: bool) -> None:
        """The frame is about to run its next instruction (or return): note a pending
        write's value, then switch if the instruction is a shared access."""
        key = (me.tid, id(frame))
        if key in self.pending:
            line, name = self.pending.pop(key)
            self.events.append({"thread": me.name, "what": "wrote", "detail": name,
                                "value": _value(frame, name), "line": line})
        if not at_instruction:
            return
        point = self._shared.get(frame.f_code, {}).get(frame.f_lasti)
        if point is None or point[0] == "after":
            return
        op, name = point
        self._switch(me, op, name)
        if op == "read":
            self.events.append({"thread": me.name, "what": "read", "detail": name,
                                "value": _value(frame, name), "line": frame.f_lineno})
        else:  # the value written is known at the frame's next event
            self.pending[key] = (frame.f_lineno, name)

    # one execution
    def run(self, func: Callable[..., Any], *args: Any) -> Any:
        global _active
        main = ThreadState(0, "MainThread", None)
        main.started = True
        self.states.append(main)
        self.by_thread[threading.get_ident()] = main
        self.current = main
        _active = self
        if MONITORING:
            self._monitor(func)
        else:
            sys.settrace(self.global_trace)
        try:
            return func(*args)
        finally:
            if not MONITORING:
                sys.settrace(None)
            _active = None

    def _monitor(self, func: Callable[..., Any]) -> None:
        """3.12+: instruction events on the student's code objects, set before they run
        (a trace function's opcode events miss a code object's first execution there)."""
        mon = sys.monitoring
        mon.use_tool_id(TOOL_ID, "kit-scheduler")
        mon.register_callback(TOOL_ID, mon.events.INSTRUCTION, self._on_instruction)
        for code in _student_codes(sys.modules[func.__module__]):
            if self._points(code):
                mon.set_local_events(TOOL_ID, code, mon.events.INSTRUCTION)


MONITORING = sys.version_info >= (3, 12)
TOOL_ID = 4  # sys.monitoring's free tool ids are 0-5; 0-2 are debugger/coverage/profiler


def _student_codes(module: Any) -> list[Any]:
    """Every code object of the student's file reachable from the module."""
    out: list[Any] = []

    def visit(code) -> None:
        if code.co_filename == _student_file and code not in out:
            out.append(code)
            for const in code.co_consts:
                if hasattr(const, "co_code"):
                    visit(const)

    for value in vars(module).values():
        members = [value, *vars(value).values()] if isinstance(value, type) else [value]
        for member in members:
            code = getattr(member, "__code__", None)
            if code is not None:
                visit(code)
    return out


def _student_frame():
    frame = sys._getframe(1)
    while frame is not None and frame.f_code.co_filename != _student_file:
        frame = frame.f_back
    return frame


def _plain(value: Any) -> Any:
    """A value to compare between executions: exact built-in scalars as they are.

    A subclass's ``==``, ``repr`` and ``str`` are the student's (they may say the same
    whatever happened), so a subclass of int/float/str is shown by what its base type
    holds; any other object is opaque: the search cannot compare it (see :func:`explore`).
    """
    kind = type(value)
    if kind in (int, float, str, bool, type(None)):
        return value
    for base in (int, float, str):
        if isinstance(value, base):
            return f"{kind.__name__}({base.__repr__(value)})"
    return {"__opaque__": kind.__name__}


def _opaque(value: Any) -> str | None:
    """The type name of the first opaque part of an execution's value, if any."""
    if isinstance(value, dict):
        return value.get("__opaque__")
    if isinstance(value, (list, tuple)):
        for item in value:
            name = _opaque(item)
            if name:
                return name
    return None


def _value(frame, name: str) -> Any:
    return _plain(frame.f_globals.get(name, frame.f_builtins.get(name)))


def shared_globals(module: Any) -> set[str]:
    """Names the module's functions assign as globals: the state threads share."""
    return {ins.argval for code in _student_codes(module)
            for ins in dis.get_instructions(code) if ins.opname == "STORE_GLOBAL"}


# --- executions in forked children --------------------------------------------------------

_result_fd: int | None = None


def report(sched: Scheduler, value: Any = None) -> None:
    data = {"outcome": sched.outcome or {"kind": "returned"}, "decisions": sched.decisions,
            "events": sched.events[-400:], "steps": sched.steps}
    if sched.outcome is None:
        data["value"] = value
    payload = json.dumps(data, default=repr).encode()
    view = memoryview(payload)
    while view:
        view = view[os.write(_result_fd, view):]
    os.close(_result_fd)


_prepared: dict[int, tuple[Any, set[str], dict[Any, dict[int, tuple[str, str]]]]] = {}


def _prepare(module: Any) -> tuple[set[str], dict[Any, dict[int, tuple[str, str]]]]:
    """The module's shared globals and its code's preemption points, found once in the
    check's process: every execution's fork inherits them (finding them again in each
    child took about a third of an execution's CPU)."""
    entry = _prepared.get(id(module))
    if entry is None or entry[0] is not module:
        sched = Scheduler(Chooser())
        sched.shared_names = shared_globals(module)
        for code in _student_codes(module):
            sched._points(code)
        entry = _prepared[id(module)] = (module, sched.shared_names, sched._shared)
    return entry[1], entry[2]


def execute(module: Any, n: int, chooser: Chooser, timeout: float = 5.0) -> dict[str, Any]:
    """One execution of ``module.run_workers(n)`` under ``chooser``, in a forked child."""
    global _result_fd
    names, points = _prepare(module)
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_fd)
        _result_fd = write_fd
        sched = Scheduler(chooser)
        sched.shared_names, sched._shared = names, points
        try:
            value = sched.run(module.run_workers, n)
            value = (_plain(value), _plain(getattr(module, "num", None)))
            left = [s.name for s in sched.states[1:] if not s.done]
            if left and sched.outcome is None:
                # Returned while threads it started had not finished (never joined): what
                # it read of num depends on whether they had run, not on a lost update.
                sched.outcome = {"kind": "unjoined", "count": len(left),
                                 "threads": left[:8], "slept": sched.slept}
        except BaseException as exc:  # noqa: BLE001 - report whatever the student raised
            sched.outcome = {"kind": "raised", "type": type(exc).__name__,
                             "message": str(exc)[:300]}
            value = None
        report(sched, value)
        os._exit(0)
    os.close(write_fd)
    chunks = []
    end = time.monotonic() + timeout
    while True:
        left = end - time.monotonic()
        poller = select.poll()  # (not select: any descriptor number)
        poller.register(read_fd, select.POLLIN)
        ready = poller.poll(max(0, int(left * 1000)))
        if not ready:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            os.close(read_fd)
            return {"outcome": {"kind": "stuck"}, "decisions": [], "events": []}
        chunk = os.read(read_fd, 1 << 16)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(read_fd)
    os.waitpid(pid, 0)
    try:
        return json.loads(b"".join(chunks))
    except ValueError:
        return {"outcome": {"kind": "stuck"}, "decisions": [], "events": []}



def preemptions(decisions: list[dict[str, Any]]) -> int:
    return sum(1 for d in decisions if d["current_runnable"] and d["chosen"] != d["current"])


def _bad(result: dict[str, Any], reference: Any) -> bool:
    kind = result["outcome"]["kind"]
    if kind in ("deadlock", "raised", "stuck", "step_limit", "too_many_threads", "unjoined"):
        return True
    return kind == "returned" and result.get("value") != reference


def explore(module: Any, n: int, bound: int = 2, max_runs: int = 3000,
            budget: float = 4.0, seed: int = 0, pct_runs: int = 0,
            pct_threads: int | None = None) -> dict[str, Any]:
    """Search the interleavings of ``run_workers(n)`` for one that goes wrong.

    Exhaustive depth-first search over all schedules with at most ``bound`` preemptions
    (from the non-preemptive schedule outwards), then ``pct_runs`` PCT runs of
    ``run_workers(pct_threads)`` from ``seed``. A schedule is wrong when it deadlocks,
    raises, returns while threads it started are still running (``unjoined``: then the
    non-preemptive schedule is no reference, and the search stops there), or returns a
    result (value, ``num``) different from the non-preemptive one.
    Deterministic: the same module, arguments and seed give the same verdict and the
    same counterexample, shrunk to the fewest preemptions.
    """
    started = time.monotonic()
    first = execute(module, n, Chooser())
    stats = {"runs": 1, "complete": False, "bound": bound}

    def verdict(kind: str, reference: Any, counterexample: dict[str, Any] | None = None
                ) -> dict[str, Any]:
        out = {"verdict": kind, "reference": reference, **stats,
               "elapsed": time.monotonic() - started}
        if counterexample is not None:
            out["counterexample"] = counterexample
            out["schedule"] = [d["chosen"] for d in counterexample["decisions"]]
        return out

    if first["outcome"]["kind"] != "returned":  # wrong without any preemption
        return verdict("error", None, first)
    reference = first["value"]
    if _opaque(reference):  # nothing to compare: a lost update would look the same
        return verdict("opaque", reference)
    frontier = [(first, [])]
    while frontier:
        result, prefix = frontier.pop()
        decisions = result["decisions"]
        chosen = [d["chosen"] for d in decisions]
        for i in range(len(decisions) - 1, len(prefix) - 1, -1):
            d = decisions[i]
            for alt in d["options"]:
                if alt == d["chosen"]:
                    continue
                trial = chosen[:i] + [alt]
                cost = preemptions(decisions[:i]) + (1 if d["current_runnable"]
                                                     and alt != d["current"] else 0)
                if cost > bound:
                    continue
                if stats["runs"] >= max_runs or time.monotonic() - started > budget:
                    return verdict("ok", reference)
                run = execute(module, n, Chooser(trial))
                stats["runs"] += 1
                if _bad(run, reference):
                    return verdict("bad", reference, shrink(module, n, run, reference))
                frontier.append((run, trial))
    stats["complete"] = True
    if pct_runs and first["decisions"]:  # no decision at all: no concurrency to sample
        rng = random.Random(seed)
        threads = pct_threads or n
        steps = max(1, len(first["decisions"]) * max(1, threads // max(n, 1)))
        pct_first = execute(module, threads, Chooser())
        pct_reference = pct_first.get("value")
        for _ in range(pct_runs):
            run = execute(module, threads, PCTChooser(rng.randrange(1 << 30), 3, steps))
            stats["runs"] += 1
            if _bad(run, pct_reference):
                return verdict("bad", pct_reference, run)
    return verdict("ok", reference)


def shrink(module: Any, n: int, run: dict[str, Any], reference: Any) -> dict[str, Any]:
    """Drop preemptions from a failing run's schedule while it still fails."""
    improved = True
    while improved:
        improved = False
        decisions = run["decisions"]
        for i, d in enumerate(decisions):
            if not (d["current_runnable"] and d["chosen"] != d["current"]):
                continue
            trial = [x["chosen"] for x in decisions[:i]] + [d["current"]]
            candidate = execute(module, n, Chooser(trial))
            if _bad(candidate, reference) and (preemptions(candidate["decisions"])
                                               < preemptions(decisions)):
                run = candidate
                improved = True
                break
    return run
