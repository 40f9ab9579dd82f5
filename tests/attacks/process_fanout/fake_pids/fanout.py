"""Attack: threads of the parent process, disguised as child processes.

``fan_out`` runs ``rand_string`` in ``n`` threads of the calling process, but first patches
``os.getpid`` (every thread but the main one gets its own made-up pid, far above any real
one), ``os.getppid``, ``multiprocessing.current_process`` (a different ``Process-N`` name per
thread) and ``multiprocessing.parent_process`` (the real process, as if it were the parent),
so that whatever the grader asks from inside the process answers "a separate child".

Must lose exactly ``in_children``: the work never ran in a child process. The strings are
genuine and the threads do run at the same time, so ``count``, ``strings``, ``concurrent``,
``joined``, ``large_payload`` and ``portable`` keep their points (like the plain
threads-instead-of-processes mistake).
"""

from __future__ import annotations

import itertools
import multiprocessing
import os
import random
import string
import threading

ALPHABET = string.ascii_letters + string.digits

_real_getpid = os.getpid
_real_getppid = os.getppid
_real_current_process = multiprocessing.current_process
_main_pid = _real_getpid()
_fake_pids = itertools.count(5_000_000)  # above PID_MAX_LIMIT (2**22): no real pid
_local = threading.local()


class _Disguise:
    def __init__(self, pid: int, name: str) -> None:
        self.pid = self.ident = pid
        self.name = name
        self.daemon = False

    def is_alive(self) -> bool:
        return True


def _fake() -> _Disguise | None:
    if threading.current_thread() is threading.main_thread():
        return None
    if not hasattr(_local, "me"):
        pid = next(_fake_pids)
        _local.me = _Disguise(pid, f"Process-{pid - 4_999_999}")
    return _local.me


def _getpid() -> int:
    me = _fake()
    return me.pid if me else _real_getpid()


def _getppid() -> int:
    return _main_pid if _fake() else _real_getppid()


def _current_process():
    return _fake() or _real_current_process()


def _parent_process():
    return _Disguise(_main_pid, "MainProcess") if _fake() else None


def _disguise() -> None:
    os.getpid = _getpid
    os.getppid = _getppid
    multiprocessing.current_process = _current_process
    multiprocessing.parent_process = _parent_process
    multiprocessing.process.current_process = _current_process
    multiprocessing.process.parent_process = _parent_process


def rand_string(length, output):
    output.put("".join(random.choices(ALPHABET, k=length)))


def fan_out(n_processes, length):
    _disguise()
    output = multiprocessing.Queue()
    workers = [threading.Thread(target=rand_string, args=(length, output))
               for _ in range(n_processes)]
    for worker in workers:
        worker.start()
    results = [output.get() for _ in workers]
    for worker in workers:
        worker.join()
    return results
