"""The grader's probes: picklable, top-level callables that record where and when they ran.

They run in the student's processes (the sandbox and its children), importable by name so
that ``spawn`` and ``forkserver`` children can unpickle them. Each call writes one record
file into ``$KIT_PROBE_DIR``; the trusted side reads them after the sandbox has ended.

Witnesses make the concurrency facts certain instead of likely:

* :func:`barrier` holds a task until ``n`` tasks have arrived (so arriving together proves
  they were alive at the same time); if they never do, it gives up after a timeout and
  marks itself broken so that later arrivals do not wait again (a serial submission pays
  the timeout once).
* :func:`wait_for_peer` holds a task until another task starts, proving overlap for a
  submission that should have run one task at a time.
"""

from __future__ import annotations

import importlib
import json
import multiprocessing
import os
import socket
import threading
import time

TYPE_CHECKING = False  # (importing typing costs every sandbox ~3 ms)
if TYPE_CHECKING:
    from typing import Any

POLL = 0.005


def _token() -> str:
    """A random hex token (uuid would import more than a sandbox should pay for)."""
    return os.urandom(16).hex()


def _sha1(data: bytes) -> str:
    try:
        from _sha1 import sha1  # built in: no OpenSSL to load
    except ImportError:  # a build without it
        from hashlib import sha1
    return sha1(data).hexdigest()


def _dir() -> str:
    return os.environ["KIT_PROBE_DIR"]


def witness(key: str, what: str = "") -> None:
    """Tell the sandbox's init who we are: it notes our pid as the kernel reports it.

    The grader then trusts that pid, not the one this process claims (``os.getpid`` may
    have been patched by the student's module). ``what="threads"`` also has init count
    this process's threads (from ``/proc``, at this moment).
    """
    _ask_init(f"{what} {key}".strip(), 10)


def _ask_init(line: str, timeout: float) -> str:
    """Send one line to the sandbox's init and return its one-word answer ("" if there is
    no init to ask, or it did not answer within ``timeout`` seconds)."""
    path = os.environ.get("KIT_WITNESS")
    if not path:
        return ""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect(path)
            sock.sendall(line.encode() + b"\n")
            return sock.recv(16).decode("ascii", "replace").strip()
    except OSError:
        return ""


STACKS = "stacks"  # (in the probe folder: one file per process that can show its stack)
_stacks: list = []  # [pid, file] of this process's registration


def show_stack_on_request() -> None:
    """Let the runner's watchdog see where this process is when a check times out: on
    SIGUSR2, faulthandler writes every thread's stack to ``stacks/<pid>`` (from its C
    signal handler: also in a busy loop, also while blocked in a call)."""
    if _stacks and _stacks[0] == os.getpid():
        return
    try:
        import faulthandler
        import signal

        folder = os.path.join(_dir(), STACKS)
        os.makedirs(folder, exist_ok=True)
        file = open(os.path.join(folder, str(os.getpid())), "w")  # noqa: SIM115 (kept)
        faulthandler.register(signal.SIGUSR2, file=file, all_threads=True, chain=False)
    except (OSError, RuntimeError, ValueError, AttributeError):
        return
    _stacks[:] = [os.getpid(), file]


def identity() -> dict[str, Any]:
    """Where this call runs, as the process itself sees it, with a key the witness knows."""
    key = _token()
    witness(key)
    parent = multiprocessing.parent_process()
    return {
        "key": key,
        "pid": os.getpid(),
        "parent": parent.pid if parent is not None else None,
        "thread": threading.get_ident(),
        "main_thread": threading.current_thread() is threading.main_thread(),
        "process_name": multiprocessing.current_process().name,
    }


def record(kind: str, data: dict[str, Any], key: str | None = None) -> None:
    """Write a record atomically; the same ``key`` overwrites the same record."""
    path = os.path.join(_dir(), f"rec-{kind}-{key or _token()}.json")
    tmp = f"{path}.{_token()}.tmp"
    with open(tmp, "w") as f:
        json.dump(data, f)
    os.replace(tmp, path)


MAX_RECORDS = 20_000  # (a check writes a few dozen; 2,000 threads' worth at most)
RECORD_BYTES = 64 * 1024


def read_records(probe_dir: str, kind: str | None = None) -> list[dict[str, Any]]:
    """The records in ``probe_dir`` (of ``kind``), in name order. Each is parsed within
    :mod:`grader.inside.bounded`'s bounds and :data:`RECORD_BYTES`; more than
    :data:`MAX_RECORDS`, or one over a bound, raise
    :class:`~grader.inside.bounded.TooLarge` (the grader's side reads what a student's
    process may have written)."""
    from grader.inside.bounded import MAX_VALUES, TooLarge, loads, values

    names = [n for n in os.listdir(probe_dir) if n.startswith("rec-") and n.endswith(".json")
             and (kind is None or n.startswith(f"rec-{kind}-"))]
    if len(names) > MAX_RECORDS:
        raise TooLarge(f"more than {MAX_RECORDS:,} probe records")
    out, budget = [], MAX_VALUES  # (all records together: one document's bound)
    for name in sorted(names):
        try:
            with open(os.path.join(probe_dir, name), "rb") as f:
                data = f.read(RECORD_BYTES + 1)
        except OSError:
            continue
        if len(data) > RECORD_BYTES:
            raise TooLarge(f"a probe record of more than {RECORD_BYTES >> 10} KiB")
        budget -= values(data) + 1
        if budget < 0:
            raise TooLarge(f"probe records of more than {MAX_VALUES:,} values in all")
        try:
            out.append(loads(data))
        except TooLarge as exc:
            raise TooLarge(f"a probe record: {exc}") from exc
        except ValueError:
            continue
    return out


def barrier(name: str, n: int, timeout: float, key: str | None = None) -> str:
    """Wait until ``n`` callers (any process, any thread) have arrived.

    Returns ``"passed"`` (all arrived while this one waited, or it arrived last),
    ``"late"`` (it arrived after the barrier had passed), ``"timeout"`` (this caller gave
    up), ``"stuck"`` (init saw that no other caller could come: every other thread of the
    check was waiting for good) or ``"broken"`` (an earlier caller gave up).

    In a full sandbox the barrier is kept by init (see ``grader.sandbox.launcher.Witness``), which
    logs the outcome under the caller's ``key`` and kernel pid: the grader believes init,
    not this return value. Elsewhere it is kept in files of the probe folder.
    """
    if os.environ.get("KIT_WITNESS") and key:
        scoped = f"{os.environ.get('KIT_CHECK', 'check')}-{name}"
        reply = _ask_init(f"barrier {scoped} {n} {int(timeout * 1000)} {key}", timeout + 30)
        return reply if reply in ("passed", "late", "timeout", "stuck", "broken") \
            else "broken"
    folder = os.path.join(_dir(), f"barrier-{name}")
    os.makedirs(folder, exist_ok=True)
    broken = folder + ".broken"
    passed = folder + ".passed"
    if os.path.exists(passed):
        return "late"
    if os.path.exists(broken):
        return "broken"
    open(os.path.join(folder, f"{os.getpid()}-{threading.get_ident()}-{_token()}"),
         "w").close()
    end = time.monotonic() + timeout
    while True:
        if len(os.listdir(folder)) >= n:
            open(passed, "w").close()
            return "passed"
        if os.path.exists(passed):
            return "passed"
        if os.path.exists(broken):
            return "broken"
        if time.monotonic() >= end:
            open(broken, "w").close()
            return "timeout"
        time.sleep(POLL)


def wait_for_peer(name: str, token: str, timeout: float, key: str | None = None,
                  waits: bool = True) -> bool:
    """Wait until another task of group ``name`` is running; True if one was seen.

    In a full sandbox, a barrier of two kept by init that every task of the group meets
    (``waits=False``: a task that only lets a waiting one see it): a task running while
    another waits passes it with that one; init ends it (``stuck``) as soon as nothing
    else of the check can run, so a pool that runs one task at a time costs a fraction
    of a second, not ``timeout``. Elsewhere the waiting task looks for another's file in
    the group's running folder until ``timeout``."""
    if os.environ.get("KIT_WITNESS") and key:
        return barrier(f"{name}-peer", 2, timeout, f"{key}-peer") == "passed"
    if not waits:
        return False
    folder = os.path.join(_dir(), f"running-{name}")
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if any(entry != token for entry in os.listdir(folder)):
            return True
        time.sleep(POLL)
    return False


# --- process_fanout -------------------------------------------------------------------

_ORIGINAL_RAND_STRING = None


def install_rand_string(module: Any) -> None:
    """Replace ``module.rand_string`` by :func:`probe_rand_string` (looked up at call time)."""
    global _ORIGINAL_RAND_STRING
    _ORIGINAL_RAND_STRING = module.rand_string
    module.rand_string = probe_rand_string


class _ProbeInChild:
    """Goes with every process the student starts (an attribute of the Process object):
    a spawn or forkserver child unpickles it before ``run()``, which puts the probe in
    place of ``rand_string`` in the child's fresh import of the student's module too. A
    ``Process`` subclass whose ``run()`` calls the module's ``rand_string`` (no
    ``target``) then meets the probe there as it does under fork."""

    def __reduce__(self):
        return (_install_in_child, ())


def _install_in_child() -> None:
    module = importlib.import_module(os.environ["KIT_MODULE"])
    if getattr(module, "rand_string", None) is not probe_rand_string:
        install_rand_string(module)


def probe_in_children() -> None:
    """From now on, every process started here carries :class:`_ProbeInChild`."""
    import multiprocessing.process

    start = multiprocessing.process.BaseProcess.start

    def start_with_probe(self):
        try:
            self._kit_probe = _ProbeInChild()
        except AttributeError:  # (a subclass with __slots__, say: as before)
            pass
        return start(self)

    multiprocessing.process.BaseProcess.start = start_with_probe


def _digest(obj: Any) -> dict[str, Any]:
    if type(obj) is str:
        return {"sha": _sha1(obj.encode("utf-8", "replace")),
                "len": len(obj)}
    return {"sha": None, "type": type(obj).__name__}


_current = threading.local()
_wrap_lock = threading.Lock()


def _watch_queue(output: Any) -> None:
    """Note what the calling rand_string puts on ``output``, once per queue object.

    The queue may be shared by threads of one process (a submission using threads), so
    the wrapper is installed once and finds the current call's record thread-locally.
    """
    with _wrap_lock:
        if getattr(output, "_kit_watched", False):
            return
        for method in ("put", "put_nowait"):
            real = getattr(output, method, None)
            if real is None:
                continue

            def wrapped(obj, *a, _real=real, **kw):
                rec = getattr(_current, "rec", None)
                if rec is not None and not getattr(_current, "inside", False):
                    rec["puts"].append(_digest(obj))
                    # On disk before the data can reach the parent: a parent that never
                    # joins may end (and the sandbox with it) as soon as it has the result.
                    record("rand_string", rec, rec["key"])
                _current.inside = True
                try:
                    return _real(obj, *a, **kw)
                finally:
                    _current.inside = False

            try:
                setattr(output, method, wrapped)
            except (AttributeError, TypeError):
                return
        try:
            output._kit_watched = True
        except (AttributeError, TypeError):
            pass


FANOUT_CALL = "fanout-call.json"


def fanout_call() -> dict[str, Any]:
    """Which call of ``fan_out`` this is and whether to hold it at a barrier, as the scenario
    wrote it just before the call (read in every child: a forkserver's children inherit
    the environment of the forkserver's own start, so the environment cannot say)."""
    try:
        with open(os.path.join(_dir(), FANOUT_CALL)) as f:
            plan = json.load(f)
    except (OSError, ValueError):
        return {}
    return plan if isinstance(plan, dict) else {}


def probe_rand_string(length, output, *args, **kwargs):
    """Stands in for the student's ``rand_string``: records, waits at the barrier, then calls
    the student's own function and notes what it put on the queue."""
    show_stack_on_request()
    original = _ORIGINAL_RAND_STRING
    if original is None:  # a spawn/forkserver child: a fresh import holds the original
        original = importlib.import_module(os.environ["KIT_MODULE"]).rand_string
    plan = fanout_call()
    rec = identity()
    rec["call"] = plan.get("call")
    rec["start"] = time.monotonic()
    if plan.get("barrier"):
        rec["barrier"] = barrier(f"fanout-{plan.get('call')}", int(plan["barrier"]),
                                 float(plan["barrier_timeout"]), rec["key"])
    rec["passed_at"] = time.monotonic()
    rec["puts"] = []
    _watch_queue(output)
    _current.rec = rec
    try:
        returned = original(length, output, *args, **kwargs)
        if returned is not None:  # (it must return nothing: the queue carries the string)
            rec["returned"] = f"{type(returned).__name__} {repr(returned)[:60]}"
        if not rec["puts"]:  # (it put its string on some other queue, or nowhere)
            rec["put_nothing"] = True
        return returned
    finally:
        _current.rec = None
        rec["end"] = time.monotonic()
        record("rand_string", rec, rec["key"])


# --- pool_variants ----------------------------------------------------------------------

def _plan() -> dict[str, Any]:
    """The plan of the pool call under way (``$KIT_PLAN``). Read at every use, not kept: a
    check may call several pool functions, each with a plan of its own, and the workers of
    a ``fork`` pool inherit whatever this process had read."""
    with open(os.environ["KIT_PLAN"]) as f:
        return json.load(f)


def write_plan(path: str, plan: dict[str, Any]) -> None:
    """Put ``plan`` at ``path`` whole (readers never see half of it)."""
    tmp = f"{path}.{_token()}.tmp"
    with open(tmp, "w") as f:
        json.dump(plan, f)
    os.replace(tmp, path)


def _meet_arrival(plan: dict[str, Any], value: Any, key: str) -> str:
    """The barrier of two where the task waiting for the result of the task for ``value``
    meets the caller's result handler (:func:`timed_task`, :func:`result_arrived`)."""
    return barrier(f"{plan['name']}-arrived-{value}", 2,
                   plan.get("after_timeout", plan["barrier_timeout"]), key)


def task_result(value: int) -> int:
    """What :func:`timed_task` returns for ``value`` (distinct from square and cube)."""
    return 3 * value + 1


def timed_task(value):
    """A pool task: follows the plan for ``value`` (barrier, peer wait, ``after``, sleep),
    records (pid, start, end) and returns :func:`task_result`.

    ``after: x`` holds the task until the result of the task for ``x`` has reached the
    caller (:func:`result_arrived`, in the pool's result handler): its own result can then
    only arrive later. A chain of them makes the order in which results reach the caller
    certain, with no sleep and on any machine's load. Where nothing met the task there
    (``unpaired_sleep``), it sleeps instead, so that the tasks still end in that order."""
    plan = _plan()
    step = plan["tasks"].get(str(value), {})
    rec = identity()
    rec["value"] = value
    if plan.get("call"):
        rec["call"] = plan["call"]
    rec["start"] = time.monotonic()
    token = _token()
    running = os.path.join(_dir(), f"running-{plan['name']}")
    os.makedirs(running, exist_ok=True)
    open(os.path.join(running, token), "w").close()
    try:
        if plan.get("barrier"):
            rec["barrier"] = barrier(plan["name"], plan["barrier"], plan["barrier_timeout"],
                                     rec["key"])
        if step.get("peer_wait"):
            rec["peer_seen"] = wait_for_peer(plan["name"], token, step["peer_wait"],
                                             rec["key"])
        elif plan.get("peer_wait"):  # (lets the waiting task see this one)
            wait_for_peer(plan["name"], token, plan["peer_wait"], rec["key"], waits=False)
        rec["peers_at_start"] = len(os.listdir(running)) - 1
        if "after" in step:
            rec["after"] = _meet_arrival(plan, step["after"], f"{rec['key']}-after")
            if rec["after"] != "passed":
                # No result handler met this task (results that do not pass through a
                # multiprocessing pool, a serial pool): keep the planned order by time.
                time.sleep(step.get("unpaired_sleep", 0.0))
        time.sleep(step.get("sleep", 0.0))
        return task_result(value)
    finally:
        os.unlink(os.path.join(running, token))
        rec["end"] = time.monotonic()
        record("task", rec)


def result_arrived(result: Any) -> None:
    """In the caller, from the pool's result handler: ``result`` (what :func:`timed_task`
    returned) has reached this process. If a task of the plan waits for it (``after``),
    meet that task at their barrier of two, so that it goes on only now; a task that can
    no longer come (a serial pool, one worker's chunk) is given up on as any barrier is
    (init sees that nothing else can run, or the time limit)."""
    path = os.environ.get("KIT_PLAN")
    if not path or type(result) is not int:
        return
    try:
        plan = _plan()
    except (OSError, ValueError):
        return
    waited = {task_result(int(step["after"])): step["after"]
              for step in plan.get("tasks", {}).values()
              if isinstance(step, dict) and type(step.get("after")) is int}
    if result not in waited:
        return
    _meet_arrival(plan, waited[result], f"{_token()}-arrived")
