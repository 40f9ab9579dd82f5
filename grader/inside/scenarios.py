"""Scenarios: what a sandbox process does with the student's module.

Each scenario is ``name(spec, data)``: it fills ``data`` with plain facts (return values
converted by :func:`runtime.plain`, probe and pool observations) and lets exceptions
propagate to the runner, which records them. Verdicts are made on the trusted side.
"""

from __future__ import annotations

import _thread
import json
import multiprocessing
import multiprocessing.process
import os
import sys
import threading
import time

from grader.inside import probes
from grader.inside.runtime import (
    abandoned,
    import_student,
    plain,
    set_deadline,
    set_phase,
    write_progress,
)

TYPE_CHECKING = False  # (importing typing costs every sandbox ~3 ms)
if TYPE_CHECKING:
    from typing import Any


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _running_below(pid: int) -> list[dict[str, Any]]:
    """The processes below ``pid`` that are running (not zombies), but multiprocessing's
    own helpers of this process (the resource tracker, the forkserver): pid and name."""
    helpers = set()
    for module, attr, pid_attr in (
            ("multiprocessing.resource_tracker", "_resource_tracker", "_pid"),
            ("multiprocessing.forkserver", "_forkserver", "_forkserver_pid")):
        found = getattr(sys.modules.get(module), attr, None)
        if isinstance(getattr(found, pid_attr, None), int):
            helpers.add(getattr(found, pid_attr))
    running, todo, seen = [], [pid], {pid}
    while todo:
        parent = todo.pop()
        try:
            tasks = os.listdir(f"/proc/{parent}/task")
        except OSError:
            continue
        for task in tasks:
            try:
                with open(f"/proc/{parent}/task/{task}/children") as f:
                    children = [int(c) for c in f.read().split()]
            except (OSError, ValueError):
                continue
            for child in children:
                if child in seen:
                    continue
                seen.add(child)
                try:
                    with open(f"/proc/{child}/stat", "rb") as f:
                        stat = f.read()
                except OSError:
                    continue
                name = stat[stat.find(b"(") + 1:stat.rfind(b")")].decode(errors="replace")
                state = stat[stat.rfind(b")") + 2:stat.rfind(b")") + 3]
                if child not in helpers and state not in (b"Z", b"X"):
                    running.append({"pid": child, "name": name[:40]})
                todo.append(child)  # (a forkserver's children are the student's)
    return running


# --- process_fanout ---------------------------------------------------------------------

def fanout(spec: dict[str, Any], data: dict[str, Any]) -> None:
    """Call ``fan_out(n, length)`` once per entry of ``params["calls"]``, in this process,
    with the grader's probe standing in for ``rand_string``.

    Each call has a ``label`` and its own deadline (the watchdog's time starts again), may
    hold its children at a barrier, and fills ``data["calls"][label]``: present once the
    call has begun, with ``done`` once it is over. A second call under ``spawn`` or
    ``forkserver`` reuses the resource tracker (and forkserver) the first one started: one
    or two fresh interpreters fewer than a check of its own. The probes' records carry the
    label of the call that was current when ``rand_string`` began. The grader may abandon
    the calls after the first (:func:`runtime.abandoned`).
    """
    calls = spec["params"]["calls"]
    set_deadline(calls[0]["deadline"])
    # Orphans of the student's processes (a grandchild left by a child that ended) come
    # to this process, where _running_below finds them.
    from grader.inside.runtime import PR_SET_CHILD_SUBREAPER, prctl

    prctl(PR_SET_CHILD_SUBREAPER, 1)
    module = import_student()
    probes.install_rand_string(module)
    probes.probe_in_children()
    plan_path = os.path.join(spec["probe_dir"], probes.FANOUT_CALL)
    data["calls"] = {}
    for number, call in enumerate(calls):
        label, n, length = call["label"], call["n"], call["length"]
        set_phase(f"calling fan_out({n}, {length})")
        if number:
            # The result so far, then whether the grader still wants this call (the
            # session server kills a check that has written its progress when it no
            # longer does: in that order, neither misses the other).
            write_progress()
            if abandoned():
                return
            set_deadline(call["deadline"])
        out: dict[str, Any] = {}
        data["calls"][label] = out
        tmp = plan_path + ".tmp"
        with open(tmp, "w") as f:
            json.dump({"call": label, "barrier": call.get("barrier"),
                       "barrier_timeout": call.get("barrier_timeout")}, f)
        os.replace(tmp, plan_path)
        before = set(multiprocessing.process._children)
        started = time.monotonic()
        value = module.fan_out(n, length)
        out["elapsed"] = time.monotonic() - started
        set_phase(f"checking the processes after fan_out({n}, {length}) returned")
        # Process.join() removes a child from this set; anything new in it was never
        # waited for.
        out["unjoined"] = len(set(multiprocessing.process._children) - before)
        records = [r for r in probes.read_records(spec["probe_dir"], "rand_string")
                   if r.get("call") == label]
        own = os.getpid()
        out["alive_after"] = sorted({r["pid"] for r in records
                                     if r["pid"] != own and _alive(r["pid"])})
        # Any process still running below this one (a daemon, a detached grandchild):
        # fan_out must leave nothing running.
        out["running_after"] = _running_below(own)[:20]
        if call.get("summarize"):
            # Large strings: send digests, not megabytes.
            if type(value) is list:
                out["value"] = {"__type__": "list", "summary": [probes._digest(v) | {
                    "alphabet_ok": type(v) is str and v.isascii() and v.isalnum()}
                    for v in value]}
            else:
                out["value"] = plain(value)
        else:
            out["value"] = plain(value)
            if type(value) is list:
                out["digests"] = [probes._digest(v) for v in value]
        out["done"] = True


# --- pool_variants ----------------------------------------------------------------------

_POOLS: list[dict[str, Any]] = []


def _watch_pools() -> None:
    """Record every multiprocessing Pool (and ThreadPool) created from now on.

    Holding a reference keeps an unclosed pool from being finalized by the garbage collector,
    so "left running" is decided by what the student's code did, not by when gc ran.
    """
    import multiprocessing.pool  # here: the counter's checks need not pay for it

    Pool = multiprocessing.pool.Pool
    original_init, original_join, original_terminate = Pool.__init__, Pool.join, Pool.terminate

    def __init__(self, processes=None, *args, **kwargs):
        original_init(self, processes, *args, **kwargs)
        _POOLS.append({"pool": self, "class": type(self).__module__ + "." + type(self).__qualname__,
                       "processes": self._processes, "phase": _phase_name(),
                       "processes_given": processes is not None, "shut_down": None})

    def _ended(pool, how: str) -> None:
        # Both wait for the workers to exit: once either has returned, none is left.
        for entry in _POOLS:
            if entry["pool"] is pool and not entry["shut_down"]:
                entry["shut_down"] = how

    def join(self):
        original_join(self)
        _ended(self, "join")

    def terminate(self):
        original_terminate(self)
        _ended(self, "terminate")

    Pool.__init__, Pool.join, Pool.terminate = __init__, join, terminate

    # The order in which results reached this process (the pool's result handler hands
    # each to its AsyncResult or iterator): what imap_unordered, or callbacks, return.
    pool_module = multiprocessing.pool
    for cls in (pool_module.ApplyResult, pool_module.MapResult, pool_module.IMapIterator,
                pool_module.IMapUnorderedIterator):
        real = cls.__dict__.get("_set")
        if real is None:
            continue

        def arrived(self, i, obj, _real=real):
            try:
                success, value = obj
                got = (value if type(value) is list else [value]) if success else []
            except (TypeError, ValueError):
                got = []
            _ARRIVALS.extend(got)
            try:
                return _real(self, i, obj)
            finally:
                for result in got:
                    try:
                        probes.result_arrived(result)
                    except Exception:  # noqa: BLE001 (the pool's handler must go on)
                        pass

        cls._set = arrived


_ARRIVALS: list[Any] = []


def _phase_name() -> str:
    from grader.inside.runtime import phase

    return phase()


def _pool_state(entry: dict[str, Any]) -> dict[str, Any]:
    """What a pool was left as when the student's function returned: its state (RUN,
    CLOSE, TERMINATE), whether join() or terminate() returned (``shut_down``: which one;
    each waits for the workers, so the verdict does not depend on how fast a loaded
    machine lets closed workers exit) and the workers then alive."""
    pool = entry["pool"]
    workers = [w for w in getattr(pool, "_pool", []) if hasattr(w, "is_alive")]
    return {"class": entry["class"], "processes": entry["processes"],
            "processes_given": entry["processes_given"], "state": str(getattr(pool, "_state", "?")),
            "shut_down": entry["shut_down"],
            "alive_workers": [_worker_id(w) for w in workers if w.is_alive()],
            "created": entry["phase"]}


def _worker_id(worker: Any) -> Any:
    """A worker's pid (a ThreadPool's workers are threads: their ident)."""
    return getattr(worker, "pid", None) or getattr(worker, "ident", None)


def pool_variant(spec: dict[str, Any], data: dict[str, Any]) -> None:
    """Call pool functions, one per entry of ``params["calls"]``, in this process, each
    with the grader's :func:`probes.timed_task` as ``func`` and a plan of its own.

    As in :func:`fanout`: each call has a ``label`` and its own deadline and fills
    ``data["calls"][label]`` (``done`` once it is over); the probes' records carry the
    label; the grader may abandon the calls after the first. Under ``spawn`` and
    ``forkserver`` the calls share one resource tracker (and forkserver)."""
    params = spec["params"]
    calls = params["calls"]
    set_deadline(calls[0]["deadline"])
    # One path for every call (forkserver's workers inherit the environment it started
    # with); the file is replaced before each call.
    plan_path = os.path.join(spec["probe_dir"], "plan.json")
    probes.write_plan(plan_path, calls[0]["plan"] | {"call": calls[0]["label"]})
    os.environ["KIT_PLAN"] = plan_path
    # Pool() without processes has one worker per CPU: the same count on every grading
    # machine, fewer than the check asks for, so that forgetting the argument gives the
    # same verdicts whatever the machine's cores.
    os.cpu_count = lambda: params.get("cpus", 2)
    if hasattr(os, "process_cpu_count"):  # (3.13+: what Pool() asks)
        os.process_cpu_count = os.cpu_count
    _watch_pools()
    module = import_student()
    at_import = len(_POOLS)
    processes = params["processes"]
    data["calls"] = {}
    for number, call in enumerate(calls):
        name, items = call["function"], list(call["items"])
        set_phase(f"calling {name}(timed_task, (x for x in {items}), "
                  f"processes={processes})")
        if number:
            write_progress()  # (see fanout)
            if abandoned():
                return
            set_deadline(call["deadline"])
            probes.write_plan(plan_path, call["plan"] | {"call": call["label"]})
        out: dict[str, Any] = {}
        data["calls"][call["label"]] = out
        func = getattr(module, name)
        before = len(_POOLS)
        _ARRIVALS.clear()
        # A generator, as the exercise allows any iterable (len() or indexing fail on it).
        value = func(probes.timed_task, (x for x in items), processes=processes)
        set_phase(f"checking the pools after {name} returned")
        out["value"] = plain(value)
        out["arrivals"] = [x for x in _ARRIVALS[:1000] if type(x) is int]
        # (Pools made at import belong to every call: they are what each one used.)
        out["pools"] = [_pool_state(e) for e in _POOLS[:at_import] + _POOLS[before:]]
        out["pools_in_call"] = len(_POOLS) - before
        out["done"] = True


def pool_empty(spec: dict[str, Any], data: dict[str, Any]) -> None:
    """Call every pool function with no items: each must return ``[]``."""
    module = import_student()
    data["values"] = {}
    for name in spec["params"]["functions"]:
        set_phase(f"calling {name}(func, [], processes={spec['params']['processes']})")
        data["values"][name] = plain(getattr(module, name)(
            probes.task_result, [], processes=spec["params"]["processes"]))


def square_cube(spec: dict[str, Any], data: dict[str, Any]) -> None:
    module = import_student()
    xs = spec["params"]["xs"]
    for name in ("square", "cube"):
        set_phase(f"calling {name}")
        data[name] = [plain(getattr(module, name)(x)) for x in xs]


# --- thread_counter ---------------------------------------------------------------------

def _record_thread_errors(data: dict[str, Any]) -> None:
    """Keep the first exceptions raised in worker threads (a thread's exception does not
    reach run_workers, but it is why the sum is wrong)."""
    from grader.inside.runtime import error_data

    errors: list[dict[str, Any]] = []
    data["thread_errors"] = errors
    data["thread_error_count"] = 0

    def hook(args: Any) -> None:
        data["thread_error_count"] += 1
        if len(errors) < 3 and args.exc_value is not None:
            errors.append(error_data(args.exc_value))

    threading.excepthook = hook


def _counter_calls(module: Any, sizes: list[int], data: dict[str, Any],
                   gate: _JoinGate | None = None) -> None:
    _record_thread_errors(data)
    calls = []
    data["calls"] = calls
    for n in sizes:
        set_phase(f"calling run_workers({n})")
        if gate is not None:
            gate.before_call(n)
        value = module.run_workers(n)
        call = {"n": n, "value": plain(value), "num": plain(getattr(module, "num", None))}
        if gate is not None:
            call.update(gate.after_call())
        calls.append(call)


class _JoinGate:
    """Holds back the worker calls of the last few values (``worker(n-1)``, ...) made in
    threads until the main thread waits for the threads (``join``, ``is_alive``, or any
    wait on a threading condition, which events, queues, barriers and executors use): a
    run_workers that returns without waiting then returns before those have added, every
    time, however fast the machine. The last values, so that workers that take turns in
    order of their value are not held up. Sleeping is not waiting (it is noted)."""

    HOLD = 3
    # (Taken before the student's module is imported: a submission may patch
    # threading.current_thread, and the gate must still know the main thread.)
    _get_ident = staticmethod(_thread.get_ident)

    def __init__(self, module: Any) -> None:
        self.module = module
        self.opened = threading.Event()
        self.lock = threading.Lock()
        self.hold: set[int] = set()
        self.held = 0  # worker calls waiting at the gate
        self.running = 0  # worker calls in threads, not yet returned
        self.slept = False
        self.starting = False  # (Thread.start waits for the new thread to begin: no wait)
        self._sleep = time.sleep
        self.main = self._get_ident()  # (made in the main thread)

    def _in_main(self) -> bool:
        return self._get_ident() == self.main

    def _main_waits(self) -> None:
        if self._in_main() and not self.starting:
            self.opened.set()

    def install(self) -> None:
        gate, original = self, self.module.worker

        def worker(*args: Any, **kwargs: Any) -> Any:
            if gate._in_main():
                return original(*args, **kwargs)
            val = args[0] if args else kwargs.get("val")
            held = type(val) is int and val in gate.hold
            with gate.lock:
                gate.running += 1
                gate.held += held
            try:
                if held:
                    gate.opened.wait()
                    with gate.lock:
                        gate.held -= 1
                return original(*args, **kwargs)
            finally:
                with gate.lock:
                    gate.running -= 1

        self.module.worker = worker
        for cls, name in ((threading.Thread, "join"), (threading.Thread, "is_alive"),
                          (threading.Condition, "wait")):
            real = getattr(cls, name)

            def waiting(*args: Any, _real: Any = real, **kwargs: Any) -> Any:
                gate._main_waits()
                return _real(*args, **kwargs)

            setattr(cls, name, waiting)
        real_start = threading.Thread.start

        def start(thread: threading.Thread) -> None:
            main = gate._in_main()
            if main:
                gate.starting = True
            try:
                real_start(thread)
            finally:
                if main:
                    gate.starting = False

        threading.Thread.start = start

        def sleep(seconds: float) -> None:
            if gate._in_main():
                gate.slept = True
            gate._sleep(seconds)

        time.sleep = sleep

    def before_call(self, n: int) -> None:
        self.hold = set(range(max(n - self.HOLD, 0), n))

    def after_call(self) -> dict[str, Any]:
        """What run_workers left when it returned; then the gate opens for the rest, and
        closes for the next call once every worker call of this one has returned."""
        with self.lock:
            left = {"held": self.held, "slept": self.slept}
        self.opened.set()
        end = time.monotonic() + 5.0
        while time.monotonic() < end:
            with self.lock:
                if not self.running:
                    break
            self._sleep(0.005)
        self.opened.clear()
        self.slept = False
        return left


def counter_plain(spec: dict[str, Any], data: dict[str, Any]) -> None:
    """run_workers twice, no witnesses: sum, counter.num and reset (worker calls held at
    a :class:`_JoinGate`)."""
    module = import_student()
    gate = None
    if callable(getattr(module, "worker", None)):
        gate = _JoinGate(module)
        gate.install()
    _counter_calls(module, spec["params"]["sizes"], data, gate)


def counter_overlap(spec: dict[str, Any], data: dict[str, Any]) -> None:
    """run_workers with the :class:`~grader.inside.gates.OverlapGate`."""
    from grader.inside.gates import OverlapGate

    module = import_student()
    p = spec["params"]
    gate = OverlapGate(module.__file__, p["n"], p["timeout"])
    data["overlap"] = gate.report()  # live: in the result even if the run hangs later
    gate.install()
    try:
        _counter_calls(module, p["sizes"], data)
        # A run_workers that returned without joining leaves threads that may not have
        # reached worker() yet (later on a loaded machine): they still count, so the
        # gate stays until they end (their overlap is what it judges, not the join).
        end = time.monotonic() + p["timeout"]
        main = threading.main_thread()
        for thread in threading.enumerate():
            if thread is not main and not thread.name.startswith("grader-"):
                thread.join(max(end - time.monotonic(), 0.0))
    finally:
        gate.uninstall()
    gate.report()


def counter_search(spec: dict[str, Any], data: dict[str, Any]) -> None:
    """Search the interleavings of run_workers with the controlled scheduler."""
    from grader.inside import schedule

    schedule.install(os.path.join(spec["sub_dir"], spec["module"] + ".py"))
    module = import_student()
    p = spec["params"]
    set_phase(f"searching the interleavings of run_workers({p['threads']})")
    module.run_workers  # noqa: B018 - a missing function is reported like everywhere else
    data["search"] = schedule.explore(
        module, p["threads"], bound=p["bound"], budget=p["budget"], seed=p["seed"],
        pct_runs=p.get("pct_runs", 0), pct_threads=p.get("pct_threads"))
