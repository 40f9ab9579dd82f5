"""Attack: flood the sandbox's witness, then behave.

At import it sends the sandbox's init (the grader's witness) 20,000 unique keys of 100
characters (far past what init notes for one check, 256 KiB) as fast as init takes them
(no waiting for the answers: the flood goes at init's pace, not at that of round trips,
which a busy machine slows down past the import's time limit), and parks 500 connections at
barriers that never fill (init holds them; the grading command was started with
``ulimit -n 1024``). The rest is the reference solution.

Must lose every check, each told that the run sent the witness more than the grader
reads (its probe calls can no longer be confirmed), in bounded time, and change nobody's
grade: init's descriptors and the grader's memory stay bounded.
"""

from __future__ import annotations

import os as _os
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

_path = _os.environ.get("KIT_WITNESS")
_parked = []
if _path:
    for _i in range(20_000):
        try:
            with _socket.socket(_socket.AF_UNIX) as _s:
                _s.connect(_path)
                _s.sendall(b"%0100d\n" % _i)
        except OSError:
            break
    for _i in range(500):
        try:
            _s = _socket.socket(_socket.AF_UNIX)
            _s.connect(_path)
            _s.sendall(b"barrier flood-%d 1000 600000 k%d\n" % (_os.getpid(), _i))
            _parked.append(_s)
        except OSError:
            break
