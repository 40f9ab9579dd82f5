"""The runtime of one check inside a sandbox process: its spec and result, the phase it
is in, the deadline's watchdog, where its threads and child processes are, and the
student's data and exceptions as plain JSON data. Used by the scenarios and the runner
(:mod:`grader.inside.runner`); imports nothing of the grader but the standard library.
"""

from __future__ import annotations

import _thread
import faulthandler
import importlib
import json
import linecache
import multiprocessing
import os
import re
import signal
import stat
import sys
import threading
import time
import traceback

from grader.inside import stalls

TYPE_CHECKING = False  # (importing typing costs every sandbox ~3 ms)
if TYPE_CHECKING:
    from typing import Any

# The check this process runs: its spec (see the runner) and its result so far (written
# by :func:`write_result`). Filled in place by :func:`begin`.
spec: dict[str, Any] = {}
result: dict[str, Any] = {}
_write_lock = threading.Lock()
_written = False


def set_phase(phase: str) -> None:
    """Record what the sandbox is doing now (read by the grader if the process dies)."""
    result["phase"] = phase
    try:
        with open(spec["phase_path"], "w") as f:
            f.write(phase)
    except OSError:
        pass


def write_result() -> None:
    """Write the result once (the watchdog and the normal path may race)."""
    global _written
    with _write_lock:
        if _written:
            return
        _written = True
        if isinstance(result.get("span"), list):
            result["span"][1] = time.monotonic()
        _dump()


def write_progress() -> None:
    """Write what is known so far as the result, to be replaced by the final one (a check
    stopped from outside between two calls of the student's code still reports the calls
    that were over)."""
    with _write_lock:
        if not _written:
            _dump()


def _dump() -> None:
    tmp = spec["result_path"] + ".tmp"
    with open(tmp, "w") as f:
        json.dump(result, f, default=repr)
    os.replace(tmp, spec["result_path"])


ABANDON = "abandon"


def flag_abandoned(out_dir: str) -> None:
    with open(os.path.join(out_dir, ABANDON), "w"):
        pass


def abandoned() -> bool:
    """Whether the grader no longer needs the rest of this check (the session server put
    :data:`ABANDON` next to the result): later calls of a scenario are then not made."""
    return os.path.exists(os.path.join(os.path.dirname(spec["result_path"]), ABANDON))


def student_file(filename: str) -> bool:
    return os.path.dirname(os.path.abspath(filename)) == spec.get("sub_dir")


def frame_summary(frame, limit: int = 12) -> list[dict[str, Any]]:
    """The innermost ``limit`` frames of a stack, innermost last, as plain data."""
    frames = []
    while frame is not None:
        code = frame.f_code
        frames.append(
            {
                "file": os.path.basename(code.co_filename),
                "path": code.co_filename,
                "line": frame.f_lineno,
                "func": code.co_name,
                "student": student_file(code.co_filename),
                "text": linecache.getline(code.co_filename, frame.f_lineno).strip(),
            }
        )
        frame = frame.f_back
    frames.reverse()
    return frames[-limit:]


FULL_STACKS = 20


def all_stacks() -> list[dict[str, Any]]:
    """Where every thread is. The main thread and the first few others get their innermost
    frames; the rest (there may be 2000) only their innermost student frame and innermost
    frame, which is all the explanation needs and keeps the result small."""
    names = {t.ident: t for t in threading.enumerate()}
    me = threading.get_ident()
    stacks = []
    for ident, frame in sys._current_frames().items():
        if ident == me:
            continue
        thread = names.get(ident)
        main = thread is threading.main_thread()
        frames = frame_summary(frame)
        if not main and len(stacks) > FULL_STACKS:
            student = [f for f in frames if f["student"]][-1:]
            frames = student + ([frames[-1]] if frames and frames[-1] not in student else [])
        stacks.append({"thread": thread.name if thread else str(ident), "main": main,
                       "frames": frames})
    return stacks


CHILD_STACKS = 8
_FAULTHANDLER_FRAME = re.compile(r'^\s+File "(.*)", line (\d+) in (.*)$')


def child_stacks(wait: float = 0.5) -> list[dict[str, Any]]:
    """Where the check's child processes are (those that ran the grader's probe: see
    :func:`probes.show_stack_on_request`), asked by SIGUSR2: for each of the first few
    still there, the innermost frames of the thread that holds student code (else of the
    first), innermost last, as :func:`frame_summary` gives them."""
    folder = os.path.join(spec["probe_dir"], "stacks")
    try:
        pids = sorted(int(n) for n in os.listdir(folder) if n.isdigit())
    except OSError:
        return []
    asked = []
    for pid in [p for p in pids if p != os.getpid()][:CHILD_STACKS]:
        try:
            os.kill(pid, signal.SIGUSR2)
            asked.append(pid)
        except OSError:
            pass
    end = time.monotonic() + wait
    while asked and time.monotonic() < end:
        sizes = []
        for pid in asked:
            try:
                sizes.append(os.path.getsize(os.path.join(folder, str(pid))))
            except OSError:
                sizes.append(0)
        if all(sizes):
            break
        time.sleep(0.02)
    time.sleep(0.02)  # (faulthandler writes the whole dump from its handler, at once)
    texts: dict[int, str] = {}
    for pid in asked:
        try:
            with open(os.path.join(folder, str(pid)), errors="replace") as f:
                texts[pid] = f.read(16384)
        except OSError:
            pass
    out = []
    for pid, text in texts.items():
        threads = [[m.groups() for m in map(_FAULTHANDLER_FRAME.match, block.splitlines())
                    if m] for block in text.split("(most recent call first):")[1:]]
        threads = [t for t in threads if t] or [[]]
        chosen = next((t for t in threads if any(student_file(f) for f, _, _ in t)),
                      threads[0])
        frames = [{"file": os.path.basename(path), "path": path, "line": int(line),
                   "func": func.strip(), "student": student_file(path),
                   "text": linecache.getline(path, int(line)).strip()}
                  for path, line, func in reversed(chosen[:12])]
        out.append({"pid": pid, "frames": frames})
    return out


def error_data(exc: BaseException) -> dict[str, Any]:
    """An exception as plain data, with the student's innermost line."""
    tb = traceback.extract_tb(exc.__traceback__)
    where = None
    for entry in tb:
        if student_file(entry.filename):
            where = {"file": os.path.basename(entry.filename), "line": entry.lineno,
                     "text": (entry.line or "").strip(), "func": entry.name}
    try:
        message = str(exc)[:2000]
    except Exception:  # a hostile __str__
        message = "<unprintable>"
    return {
        "type": type(exc).__name__,
        "message": message,
        "where": where,
        "traceback": "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))[-4000:],
    }


def plain(value: Any, depth: int = 0) -> Any:
    """Student data converted to JSON, keeping only exact built-in types.

    An object that merely claims to be equal to something (``__eq__`` always true) or a
    subclass of ``str``/``int`` is reported by type name, never trusted.
    """
    kind = type(value)
    if value is None or kind in (bool, int, float, str):
        return value
    if kind in (list, tuple) and depth < 3:
        return {"__type__": kind.__name__, "items": [plain(v, depth + 1) for v in value[:10000]]}
    try:
        text = repr(value)[:200]
    except Exception:
        text = "<unprintable>"
    return {"__type__": kind.__name__, "repr": text}


# When the watchdog fires (monotonic clock) and the time it was given; a scenario that calls
# the student's code twice gives each call its own time (:func:`set_deadline`).
_deadline = {"at": 0.0, "after": 0.0}
_deadline_moved = _thread.allocate_lock()
_deadline_moved.acquire()  # (released to wake the watchdog when the deadline moves)


def set_deadline(seconds: float) -> None:
    """Move the watchdog's deadline to ``seconds`` from now."""
    _deadline.update(at=time.monotonic() + seconds, after=seconds)
    try:
        _deadline_moved.release()
    except RuntimeError:  # (already released, not yet seen)
        pass


# A check stuck for good (grader.inside.stalls) ends at once instead of at its deadline:
# looked at every STALL_EVERY s once a call has run STALL_GRACE s (less often, up to
# STALL_EVERY_MOST s, while it keeps moving), and declared after the same stuck picture
# has held for STALL_SETTLE s.
STALL_GRACE, STALL_EVERY, STALL_SETTLE = 0.3, 0.1, 0.3
STALL_EVERY_MOST = 0.8


def watchdog() -> None:
    # Bound before the student's module is imported: patching time or threading later
    # cannot stop the watchdog.
    monotonic, wait = time.monotonic, _deadline_moved.acquire
    stalls.name_watchdog()
    observe = spec.get("observe")
    observer = None
    if observe in ("pid", "uid") and stalls.supported:
        # Not this thread; with a PID namespace, not init (pid 1) nor a session's server
        # (this process's parent); at the uid level, only this sandbox's own uid.
        observer = stalls.Stalls({1, os.getppid()} if observe == "pid" else set(),
                                 threading.get_native_id(), STALL_SETTLE,
                                 uid=os.getuid() if observe == "uid" else None)
    deadlock = False
    every = STALL_EVERY
    while True:
        now = monotonic()
        left = _deadline["at"] - now
        if left <= 0:
            break
        if observer is None:
            wait(timeout=left)
            continue
        if wait(timeout=min(left, every)):
            observer.reset()  # (another call, another deadline)
            every = STALL_EVERY
            continue
        now = monotonic()
        try:
            if now - (_deadline["at"] - _deadline["after"]) >= STALL_GRACE:
                if observer.stuck(now):
                    deadlock = True
                    break
                # While the check keeps moving, look less often (up to STALL_EVERY_MOST):
                # a look holds the GIL the student's threads need.
                every = STALL_EVERY if observer.picture is not None else \
                    min(2 * every, STALL_EVERY_MOST)
        except BaseException:  # noqa: BLE001 - (a MemoryError: a process at its limit)
            observer = None  # the deadline alone decides, as without a namespace
    after = _deadline["after"]
    if deadlock:
        after = round(after - max(0.0, _deadline["at"] - monotonic()), 1)
    result["timeout"] = {"after": after, "deadlock": deadlock, "stacks": all_stacks(),
                          "children": child_stacks()}
    try:
        write_result()
    finally:
        release_shared_memory()
        os._exit(3)


def import_student() -> Any:
    """Import the submission as a real, file-backed module (pickling by reference works)."""
    set_phase(f"importing {spec['module']}.py")
    # The student's folder goes last: their files cannot shadow the standard library
    # or the grader's own modules.
    sys.path.append(spec["sub_dir"])
    return importlib.import_module(spec["module"])


def apply_limits() -> None:
    import resource

    limits = spec.get("limits", {})
    for name, value in limits.items():
        res = getattr(resource, name)
        soft, hard = resource.getrlimit(res)
        if hard != resource.RLIM_INFINITY and hard < value:
            value = hard
        resource.setrlimit(res, (value, value))
    # Output beyond the file-size limit fails with EFBIG instead of killing the process.
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    # 2000 threads must fit in the address-space limit.
    threading.stack_size(512 * 1024)


def release_shared_memory() -> None:
    """Remove the /dev/shm files this process still maps: the semaphores of queues and
    locks made under spawn or forkserver (and shared memory) stay there until finalizers
    that ``os._exit`` skips remove them. The sandbox's /dev/shm is its own but at the
    subreaper level, where it is the machine's (init removes what the other processes
    hold). By inode: glibc maps a new semaphore under a temporary name."""
    try:
        with open("/proc/self/maps", "rb") as f:
            inodes = {int(fields[4]) for fields in (line.split(None, 5) for line in f)
                      if len(fields) == 6 and fields[5].startswith(b"/dev/shm/")}
        names = os.listdir("/dev/shm") if inodes else []
    except (OSError, ValueError):
        return
    for name in names:
        path = os.path.join("/dev/shm", name)
        try:
            info = os.lstat(path)
            if info.st_ino in inodes and info.st_uid == os.geteuid() \
                    and stat.S_ISREG(info.st_mode):  # (a regular file, not a link)
                os.unlink(path)
        except OSError:
            pass


def prctl(option: int, value: int) -> None:
    import ctypes

    ctypes.CDLL(None, use_errno=True).prctl(option, ctypes.c_ulong(value), 0, 0, 0)


PR_SET_DUMPABLE = 4
PR_SET_CHILD_SUBREAPER = 36


def begin(given: dict[str, Any]) -> None:
    """Set this process up for the check ``given``: limits, environment, start method and
    the deadline's watchdog (bound before the student's module is imported)."""
    spec.clear()
    spec.update(given)
    result.update({"pid": os.getpid(), "phase": "starting", "data": {}, "error": None,
                   "timeout": None})
    apply_limits()
    faulthandler.enable(file=sys.stderr)
    os.makedirs(spec["probe_dir"], exist_ok=True)
    os.environ["KIT_PROBE_DIR"] = spec["probe_dir"]
    os.environ["KIT_CHECK"] = str(spec.get("check") or "check")  # scopes init's barriers
    for key, value in spec.get("env", {}).items():
        os.environ[key] = str(value)
    if spec.get("start_method"):
        multiprocessing.set_start_method(spec["start_method"], force=True)
    set_deadline(spec["deadline"])
    threading.Thread(target=watchdog, daemon=True, name="grader-watchdog").start()


def phase() -> str:
    """The phase the check is in (:func:`set_phase`)."""
    return result.get("phase", "")
