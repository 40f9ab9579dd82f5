"""Runs one scenario inside a sandbox process and writes what happened as plain JSON.

Contract with :mod:`grader.sandbox` (the trusted side):

* the spec (JSON) names the scenario, the start method, the student's module and folder,
  the probe folder, where to write the result and the phase, and a deadline in seconds;
* the result file holds ``{"pid", "phase", "data", "error", "timeout"}``, all plain data;
* on reaching the deadline a watchdog thread writes the stacks of all threads (where the
  student's code was stuck) as ``timeout`` and ends the process.

The process always leaves through ``os._exit`` so that neither the student's ``atexit``
handlers nor multiprocessing's exit hooks (which join children) can keep it alive.
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

TYPE_CHECKING = False  # (importing typing costs every sandbox ~3 ms)
if TYPE_CHECKING:
    from typing import Any

_spec: dict[str, Any] = {}
_result: dict[str, Any] = {}
_write_lock = threading.Lock()
_written = False


def set_phase(phase: str) -> None:
    """Record what the sandbox is doing now (read by the grader if the process dies)."""
    _result["phase"] = phase
    try:
        with open(_spec["phase_path"], "w") as f:
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
        if isinstance(_result.get("span"), list):
            _result["span"][1] = time.monotonic()
        _dump()


def write_progress() -> None:
    """Write what is known so far as the result, to be replaced by the final one (a check
    stopped from outside between two calls of the student's code still reports the calls
    that were over)."""
    with _write_lock:
        if not _written:
            _dump()


def _dump() -> None:
    tmp = _spec["result_path"] + ".tmp"
    with open(tmp, "w") as f:
        json.dump(_result, f, default=repr)
    os.replace(tmp, _spec["result_path"])


ABANDON = "abandon"


def _flag_abandoned(out_dir: str) -> None:
    with open(os.path.join(out_dir, ABANDON), "w"):
        pass


def abandoned() -> bool:
    """Whether the grader no longer needs the rest of this check (the session server put
    :data:`ABANDON` next to the result): later calls of a scenario are then not made."""
    return os.path.exists(os.path.join(os.path.dirname(_spec["result_path"]), ABANDON))


def student_file(filename: str) -> bool:
    return os.path.dirname(os.path.abspath(filename)) == _spec.get("sub_dir")


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
    folder = os.path.join(_spec["probe_dir"], "stacks")
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


def _watchdog() -> None:
    # Bound before the student's module is imported: patching time or threading later
    # cannot stop the watchdog.
    monotonic, wait = time.monotonic, _deadline_moved.acquire
    while True:
        left = _deadline["at"] - monotonic()
        if left <= 0:
            break
        wait(timeout=left)
    _result["timeout"] = {"after": _deadline["after"], "stacks": all_stacks(),
                          "children": child_stacks()}
    try:
        write_result()
    finally:
        release_shared_memory()
        os._exit(3)


def import_student() -> Any:
    """Import the submission as a real, file-backed module (pickling by reference works)."""
    set_phase(f"importing {_spec['module']}.py")
    # The student's folder goes last: their files cannot shadow the standard library
    # or the grader's own modules.
    sys.path.append(_spec["sub_dir"])
    return importlib.import_module(_spec["module"])


def apply_limits() -> None:
    import resource

    limits = _spec.get("limits", {})
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


def main(spec_path: str) -> None:
    """One check in a fresh sandbox process (the whole process is this check's)."""
    with open(spec_path) as f:
        run_check(json.load(f))


def run_check(spec: dict[str, Any]) -> None:
    """Run the check ``spec`` in this process and leave through ``os._exit``."""
    global _spec
    _spec = spec
    _result.update({"pid": os.getpid(), "phase": "starting", "data": {}, "error": None,
                    "timeout": None})
    apply_limits()
    faulthandler.enable(file=sys.stderr)
    os.makedirs(_spec["probe_dir"], exist_ok=True)
    os.environ["KIT_PROBE_DIR"] = _spec["probe_dir"]
    os.environ["KIT_CHECK"] = str(_spec.get("check") or "check")  # scopes init's barriers
    for key, value in _spec.get("env", {}).items():
        os.environ[key] = str(value)
    if _spec.get("start_method"):
        multiprocessing.set_start_method(_spec["start_method"], force=True)
    set_deadline(_spec["deadline"])
    threading.Thread(target=_watchdog, daemon=True, name="grader-watchdog").start()

    from grader.inside import scenarios

    scenario = getattr(scenarios, _spec["scenario"])
    # When the student's code ran (import and calls, under the grader's sleeps and
    # barriers), on the machine's monotonic clock: what the checks take by design, as
    # against the grader's own overhead (tests/benchmarks/bench_class.py).
    _result["span"] = [time.monotonic(), None]
    try:
        scenario(_spec, _result["data"])
    except BaseException as exc:  # noqa: BLE001 - SystemExit and KeyboardInterrupt too
        _result["error"] = error_data(exc)
        _result["error"]["phase"] = _result["phase"]
    set_phase("done")
    try:
        write_result()
    finally:
        sys.stdout.flush()
        release_shared_memory()
        os._exit(0)


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


# --- session mode: one sandbox, many checks ---------------------------------------------

def tail(path: str, limit: int = 3000) -> str:
    """The last ``limit`` bytes of a file as text ("…" marks a cut), "" if unreadable."""
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - limit))
            data = f.read().decode("utf-8", "replace")
    except OSError:
        return ""
    return ("…" + data) if size > limit else data


def collect(out_dir: str, limit: int = 3000) -> dict[str, Any]:
    """What a check left in ``out_dir``: result, phase, probe records, output tails.

    Used on both sides: by the session server inside the sandbox (which sends it to the
    grader) and by the grader for a one-check sandbox (after init copied the folder out).
    """
    from grader.inside.bounded import TooLarge, loads
    from grader.inside.probes import read_records

    def text(name: str, limit: int) -> str:
        return tail(os.path.join(out_dir, name), limit)

    result: Any = None
    oversized = ""
    try:
        with open(os.path.join(out_dir, "result.json"), "rb") as f:
            data = f.read(RESULT_BYTES + 1)
        if len(data) > RESULT_BYTES:
            raise TooLarge(f"more than {RESULT_BYTES >> 20} MiB")
        result = loads(data)
    except TooLarge as exc:
        oversized = f"its result: {exc}"
    except (OSError, ValueError):
        result = None
    probe_dir = os.path.join(out_dir, "probes")
    try:
        records = read_records(probe_dir) if os.path.isdir(probe_dir) else []
    except TooLarge as exc:
        records, oversized = [], oversized or str(exc)
    left = {
        "result": result if isinstance(result, dict) else {},
        "phase": text("phase", 500),
        "records": records,
        "stdout_tail": text("stdout", limit),
        "stderr_tail": text("stderr", limit),
    }
    if oversized:
        left["oversized"] = oversized
    return left


RESULT_BYTES = 8 << 20  # (a result is a few KiB: the values of one call, stacks)


def _prctl(option: int, value: int) -> None:
    import ctypes

    ctypes.CDLL(None, use_errno=True).prctl(option, ctypes.c_ulong(value), 0, 0, 0)


PR_SET_DUMPABLE = 4
PR_SET_CHILD_SUBREAPER = 36
SESSION_GRACE = 5.0


def _wipe(folder: str) -> bool:
    """Empty a folder of the sandbox between checks (what one check left for the next),
    whatever modes the check gave what it made there (a folder made read-only, with a
    file that fills the tmpfs, would otherwise stay for the next student: this uid owns
    it, so it may open it up first). True if the folder is empty afterwards."""
    import shutil

    try:
        entries = os.listdir(folder)
    except OSError:
        return not os.path.exists(folder)
    for name in entries:
        path = os.path.join(folder, name)
        if os.path.isdir(path) and not os.path.islink(path):
            _open_up(path)
            shutil.rmtree(path, ignore_errors=True)
        else:
            try:
                os.unlink(path)
            except OSError:
                pass
    try:
        return not os.listdir(folder)
    except OSError:
        return False


def _open_up(top: str) -> None:
    """Give every folder under ``top`` mode 0700, each before looking inside (links are
    not followed)."""
    todo = [top]
    while todo:
        path = todo.pop()
        try:
            os.chmod(path, 0o700)
            with os.scandir(path) as entries:
                todo += [e.path for e in entries if e.is_dir(follow_symlinks=False)]
        except OSError:
            continue


def _kill_check(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except OSError:
        pass
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass


def _readable(sources: list, timeout: float) -> list:
    """Those of ``sources`` (descriptors or objects with ``fileno()``) that can be read
    within ``timeout`` seconds: ``poll``, which, unlike ``select``, takes any descriptor
    number (the student's code may have opened a thousand in here)."""
    import select

    poller = select.poll()
    by_fd = {}
    for source in sources:
        fd = source if isinstance(source, int) else source.fileno()
        by_fd[fd] = source
        poller.register(fd, select.POLLIN)
    return [by_fd[fd] for fd, _ in poller.poll(max(0, int(timeout * 1000)))]


def _wait_check(pid: int, limit: float, requests: Any = None, check_id: str = "",
                out_dir: str = "") -> tuple[int | None, bool, bool]:
    """Wait for the check process up to ``limit`` seconds; (wait status, killed,
    abandoned). Meanwhile ``requests`` (the server's stdin) may say ``{"abandon": id}``:
    the grader no longer needs the check's later calls. Its next call is then not made
    (:func:`abandoned`); if one is under way already (the check wrote its progress), the
    check is killed."""
    try:
        fd = os.pidfd_open(pid)
    except (AttributeError, OSError):
        fd = None
    watch = [fd] if fd is not None else []
    if requests is not None:
        watch.append(requests)
    gave_up = False
    end = time.monotonic() + limit
    try:
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                return status, False, gave_up
            left = end - time.monotonic()
            if left <= 0:
                _kill_check(pid)
                return os.waitpid(pid, 0)[1], True, gave_up
            if watch:  # (without a pidfd, the child's end is polled)
                ready = _readable(watch, left if fd is not None else min(left, 0.005))
            else:
                time.sleep(min(left, 0.005))
                ready = []
            if requests is not None and requests in ready:
                line = requests.readline()
                if not line:  # the grader is gone: the check is not needed either
                    watch.remove(requests)
                    requests = None
                    _kill_check(pid)
                    continue
                try:
                    wanted = json.loads(line).get("abandon") == check_id
                except (ValueError, AttributeError):
                    wanted = False
                if wanted and not gave_up:
                    gave_up = True
                    _flag_abandoned(out_dir)
                    # (After the flag: a check that wrote its progress before looking
                    # for the flag is in a later call now.)
                    if os.path.exists(os.path.join(out_dir, "result.json")):
                        _kill_check(pid)
    finally:
        if fd is not None:
            os.close(fd)


def _kill_the_rest(limit: float = 10.0) -> bool:
    """Kill whatever the check left behind and wait until the sandbox holds nothing but
    init and this server (``/proc`` is the sandbox's own): every other process is of this
    uid, and ``kill(-1)`` spares only the caller (init is root). Repeated, because a
    process forked during one sweep (a fork bomb) escapes it; a dying process counts until
    init has reaped it. False if the sandbox is not empty within ``limit`` seconds: the
    next check must not share it with what is left.
    """
    me = os.getpid()
    end = time.monotonic() + limit
    while True:
        try:
            os.kill(-1, signal.SIGKILL)
        except OSError:  # ESRCH: nobody left to signal
            pass
        try:
            others = [p for p in os.listdir("/proc") if p.isdigit() and int(p) not in (1, me)]
        except OSError:
            others = []
        if not others:
            return True
        if time.monotonic() > end:
            return False
        time.sleep(0.002)


IPC_RMID = 0


def _remove_ipc() -> bool:
    """Remove the System V shared memory segments, message queues and semaphore sets a
    check created: they outlive its processes (in the sandbox's own IPC namespace), and a
    segment left full would hold memory of the sandbox's cgroup for the next check. False
    if some remain."""
    import ctypes

    libc = None
    for kind in ("shm", "msg", "sem"):
        try:
            with open(f"/proc/sysvipc/{kind}") as f:
                rows = f.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            try:
                ident = int(row.split()[1])
            except (IndexError, ValueError):
                continue
            libc = libc or ctypes.CDLL(None, use_errno=True)
            if kind == "sem":
                libc.semctl(ident, 0, IPC_RMID)
            else:
                getattr(libc, f"{kind}ctl")(ident, IPC_RMID, None)
    for kind in ("shm", "msg", "sem"):
        try:
            with open(f"/proc/sysvipc/{kind}") as f:
                if len(f.read().splitlines()) > 1:
                    return False
        except OSError:
            pass
    return True


def serve(session_path: str) -> None:
    """The session server: read checks (JSON lines) on stdin, run each in a forked process,
    answer on the response pipe with what it left (JSON lines).

    It never imports the student's module: each check's process does, fresh. Between
    checks everything else of this uid is killed (``kill(-1)`` spares only the caller, and
    init is root), System V IPC objects are removed and the private folders are emptied,
    so a check starts from what a new sandbox would give it (the class's pool,
    :mod:`grader.sandbox.pool`, relies on this to hand the sandbox to another student). The
    server is not dumpable: the student's processes, though of the same uid, cannot trace
    it or open its file descriptors.
    """
    with open(session_path) as f:
        session = json.load(f)
    _prctl(PR_SET_DUMPABLE, 0)
    # Imported once here so that each check's fork starts warm.
    import multiprocessing.pool  # noqa: F401
    import multiprocessing.popen_fork  # noqa: F401
    import multiprocessing.queues  # noqa: F401
    import multiprocessing.synchronize  # noqa: F401
    import resource  # noqa: F401

    from grader.inside import gates, probes, scenarios, schedule  # noqa: F401

    # What the server holds is never collected again: a check's garbage collections
    # skip it, so they do not copy the server's pages into the check (copy-on-write).
    __import__("gc").freeze()
    respond = session["response_fd"]
    requests = os.fdopen(0, "rb", buffering=0)
    reader = __import__("io").BufferedReader(requests)
    for line in reader:
        try:
            request = json.loads(line)
            if "abandon" in request:  # (for a check that ended before it came)
                continue
            spec = request["spec"]
        except (ValueError, KeyError, TypeError):
            break
        out_dir = os.path.dirname(spec["result_path"])
        os.makedirs(out_dir, exist_ok=True)
        given_up = request.get("abandoned") is True  # (before it began: its first call only)
        if given_up:
            _flag_abandoned(out_dir)
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
        out_fd = os.open(os.path.join(out_dir, "stdout"), flags, 0o600)
        err_fd = os.open(os.path.join(out_dir, "stderr"), flags, 0o600)
        pid = os.fork()
        if pid == 0:
            try:
                os.setpgid(0, 0)
                os.dup2(out_fd, 1)
                os.dup2(err_fd, 2)
                null = os.open(os.devnull, os.O_RDONLY)
                os.dup2(null, 0)
                for fd in (out_fd, err_fd, null, respond):
                    os.close(fd)
                _prctl(PR_SET_DUMPABLE, 1)
                probes.witness(f"runner-{request['id']}")
                run_check(spec)
            finally:
                os._exit(70)
        os.close(out_fd)
        os.close(err_fd)
        status, killed, gave_up = _wait_check(pid, spec["deadline"] + SESSION_GRACE,
                                              reader, request["id"], out_dir)
        clean = _kill_the_rest() and _remove_ipc()
        answer = collect(out_dir)
        answer.update({"id": request["id"], "killed": killed,
                       "abandoned": gave_up or given_up,
                       "exit": os.waitstatus_to_exitcode(status)})
        for folder in session.get("wipe", []):
            clean = _wipe(folder) and clean  # (not emptied: no next check in here)
        data = (json.dumps(answer, default=repr) + "\n").encode()
        while data:
            data = data[os.write(respond, data):]
        if not clean:
            break  # the grader sees the session end and gives later checks new sandboxes
    os._exit(0)
