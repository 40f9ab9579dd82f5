"""The session server: one sandbox serves many checks, one after another, each in a
process forked from this server (see :class:`grader.sandbox.Session`, and the class's
pool, :mod:`grader.sandbox.pool`, which hands the sandbox from student to student).
"""

from __future__ import annotations

import json
import os
import signal
import time

from grader.inside import lines
from grader.inside.output import collect
from grader.inside.runner import run_check
from grader.inside.runtime import PR_SET_DUMPABLE, flag_abandoned, prctl

TYPE_CHECKING = False  # (importing typing costs every sandbox ~3 ms)
if TYPE_CHECKING:
    from typing import Any
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


def _wait_check(pid: int, limit: float, requests: Any = None, check_id: str = "",
                out_dir: str = "") -> tuple[int | None, bool, bool]:
    """Wait for the check process up to ``limit`` seconds; (wait status, killed,
    abandoned). Meanwhile ``requests`` (the server's stdin) may say ``{"abandon": id}``:
    the grader no longer needs the check's later calls. Its next call is then not made
    (:func:`grader.inside.runtime.abandoned`); if one is under way already (the check
    wrote its progress), the check is killed."""
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
                ready = lines.readable(watch, left if fd is not None else min(left, 0.005))
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
                    wanted = lines.decode(line).get("abandon") == check_id
                except ValueError:
                    wanted = False
                if wanted and not gave_up:
                    gave_up = True
                    flag_abandoned(out_dir)
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
    prctl(PR_SET_DUMPABLE, 0)
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
            request = lines.decode(line)
            if "abandon" in request:  # (for a check that ended before it came)
                continue
            spec = request["spec"]
        except (ValueError, KeyError, TypeError):
            break
        out_dir = os.path.dirname(spec["result_path"])
        os.makedirs(out_dir, exist_ok=True)
        given_up = request.get("abandoned") is True  # (before it began: its first call only)
        if given_up:
            flag_abandoned(out_dir)
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
                prctl(PR_SET_DUMPABLE, 1)
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
        data = lines.encode(answer)
        while data:
            data = data[os.write(respond, data):]
        if not clean:
            break  # the grader sees the session end and gives later checks new sandboxes
    os._exit(0)
