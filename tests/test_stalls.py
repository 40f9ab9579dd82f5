"""What the watchdog counts as stuck for good (grader.inside.stalls), on real processes:
the lecture's deadlocks are, every wait that something could still end is not. Fast: no
sandbox (``snapshot`` is given the process tree to look at)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from grader.inside import stalls
from grader.sandbox.tree import descendants, stat_fields

pytestmark = [pytest.mark.timeout(60), pytest.mark.fast,
              pytest.mark.skipif(not stalls.supported, reason="no call table for this CPU")]

FAN_OUT = """
    import multiprocessing as mp
    def child(q):
        q.put("x" * 300_000)  # (more than a pipe holds)
    if __name__ == "__main__":
        mp.set_start_method("{method}")
        q = mp.Queue()
        p = mp.Process(target=child, args=(q,))
        p.start()
        p.join()  # before q.get(): the child cannot end
"""

STUCK = {
    "join_before_get_fork": FAN_OUT.format(method="fork"),
    "join_before_get_spawn": FAN_OUT.format(method="spawn"),
    "join_before_get_forkserver": FAN_OUT.format(method="forkserver"),
    "lock_taken_twice": """
        import threading
        lock = threading.Lock()
        def worker():
            with lock:
                with lock:
                    pass
        t = threading.Thread(target=worker)
        t.start()
        t.join()
    """,
    "pool_worker_gone": """
        import multiprocessing as mp, os
        def task(x):
            if x == 3:
                os._exit(1)
            return x
        if __name__ == "__main__":
            mp.set_start_method("fork")
            with mp.Pool(2) as pool:
                pool.map(task, range(8))
    """,
    "event_never_set": """
        import threading
        threading.Event().wait()
    """,
}

# Waits that something could still end, and the call each process is seen in first (so
# that the picture is taken while it waits there, not before it got there).
MOVING = {
    "busy_loop": ("while True:\n    pass\n", None),
    "sleep": ("import time\ntime.sleep(60)\n", ("clock_nanosleep", "nanosleep")),
    "lock_with_timeout": ("import threading\nlock = threading.Lock()\nlock.acquire()\n"
                          "while True:\n    lock.acquire(timeout=60)\n", ("futex",)),
    "connected_socket": ("import socket\na, b = socket.socketpair()\na.recv(1)\n",
                         ("recvfrom", "read")),
    "lock_with_an_alarm": ("import signal, threading\n"
                           "signal.signal(signal.SIGALRM, lambda *a: None)\n"
                           "lock = threading.Lock()\nlock.acquire()\nlock.acquire()\n",
                           ("futex",)),
}
NUMBERS = {"x86_64": {"clock_nanosleep": 230, "nanosleep": 35, "futex": 202,
                      "recvfrom": 45, "read": 0},
           "aarch64": {"clock_nanosleep": 115, "nanosleep": 101, "futex": 98,
                       "recvfrom": 207, "read": 63}}


def _tree(root: int) -> set[int]:
    return {root, *descendants(root)}


def _start(tmp_path, name: str, code: str) -> subprocess.Popen:
    path = tmp_path / f"{name}.py"
    path.write_text(textwrap.dedent(code))
    # (TMPDIR: what multiprocessing makes there, a forkserver's socket folder, stays in
    # pytest's folder when the processes are killed.)
    return subprocess.Popen([sys.executable, str(path)], cwd=tmp_path,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**os.environ, "TMPDIR": str(tmp_path)},
                            start_new_session=True)


def _group(pgid: int) -> set[int]:
    """The live processes of the process group ``pgid`` (zombies are over)."""
    found = set()
    for entry in os.listdir("/proc"):
        fields = stat_fields("/proc", int(entry)) if entry.isdigit() else None
        if fields and fields[0] != "Z" and fields[2] == str(pgid):
            found.add(int(entry))
    return found


def _tracker(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return b"resource_tracker" in f.read()
    except OSError:
        return False


def _end(proc: subprocess.Popen) -> None:
    """Kill the scenario's processes (its session: a forkserver's children too), all but
    its resource trackers, which then see their last client gone, unlink the semaphores
    that spawn and forkserver left in /dev/shm, and end (else killed after 10 s)."""
    trackers: set[int] = set()
    for _ in range(2):  # (again for any forked meanwhile)
        for pid in _group(proc.pid) | _tree(proc.pid):
            if _tracker(pid):
                trackers.add(pid)
                continue
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        proc.wait()
    end = time.monotonic() + 10
    while trackers & _group(proc.pid) and time.monotonic() < end:
        time.sleep(0.02)
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except OSError:
        pass


@pytest.mark.parametrize("name", sorted(STUCK))
def test_the_lectures_deadlocks_are_seen_stuck(tmp_path, name):
    """The same stuck picture, twice in a row: what the watchdog ends a check on."""
    proc = _start(tmp_path, name, STUCK[name])
    try:
        watch = stalls.Stalls(set(), -1, settle=0.2)
        end = time.monotonic() + 45
        while time.monotonic() < end:
            watch.only = _tree(proc.pid)
            if watch.stuck(time.monotonic()):
                break
            time.sleep(0.05)
        else:
            pytest.fail(f"{name}: never seen stuck; last: {watch.picture}")
        assert proc.poll() is None
    finally:
        _end(proc)


def _in_call(pid: int, names: tuple[str, ...]) -> bool:
    numbers = {NUMBERS[os.uname().machine][n] for n in names}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/syscall") as f:
                call = f.read().split()
        except OSError:
            continue
        if call and call[0].isdigit() and int(call[0]) in numbers:
            return True
    return False


@pytest.mark.parametrize("name", sorted(MOVING))
def test_waits_that_can_end_are_not_stuck(tmp_path, name):
    if os.uname().machine not in NUMBERS:
        pytest.skip("no call numbers for this CPU here")
    code, calls = MOVING[name]
    proc = _start(tmp_path, name, code)
    try:
        end = time.monotonic() + 30
        while calls and not _in_call(proc.pid, calls):
            assert time.monotonic() < end, f"{name} never got to {calls}"
            time.sleep(0.02)
        for _ in range(5):
            assert stalls.snapshot(set(), -1, only=_tree(proc.pid)) is None
            time.sleep(0.05)
    finally:
        _end(proc)


def test_a_stopped_process_is_not_stuck(tmp_path):
    """(Stopped: something may continue it; the deadline decides.)"""
    proc = _start(tmp_path, "stopped", "import os, signal\nos.kill(os.getpid(), "
                                       "signal.SIGSTOP)\n")
    try:
        end = time.monotonic() + 30
        while True:
            with open(f"/proc/{proc.pid}/stat") as f:
                text = f.read()
            if text[text.rfind(")") + 2] == "T":
                break
            assert time.monotonic() < end
            time.sleep(0.02)
        assert stalls.snapshot(set(), -1, only={proc.pid}) is None
    finally:
        _end(proc)
