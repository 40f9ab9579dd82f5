"""Attack: threads in place of processes, each announcing itself on connections that a
child process opened.

``fan_out`` runs ``rand_string`` in ``n`` threads of the calling process. First it forks
one helper process per thread; each helper connects to the sandbox's init (the grader's
witness) twice, hands the connected sockets to the parent (``SCM_RIGHTS``) and sleeps.
The grader's probe is made to send each thread's messages on its own helper's sockets.
The peer credentials of a connection (``SO_PEERCRED``) are fixed when it is made: they
name the helper, a child of the caller, so each call looks as if it ran in a child
process of its own.

Must lose exactly ``in_children`` (like ``fake_pids``): init notes which process sent
each message, and that is the calling process.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import random
import signal
import socket
import string
import sys
import threading
import time

ALPHABET = string.ascii_letters + string.digits
PER_THREAD = 2  # the probe's messages in one call: who it is, and the barrier

_probes = sys.modules.get("grader.inside.probes")
_original_ask = _probes._ask_init if _probes is not None else None
_lock = threading.Lock()
_free: list[list[socket.socket]] = []  # one helper's connections per thread still to come
_mine = threading.local()


def _ask_on_helper(line, timeout):
    if not hasattr(_mine, "socks"):
        with _lock:
            _mine.socks = _free.pop() if _free else []
    if not _mine.socks:
        return _original_ask(line, timeout)
    sock = _mine.socks.pop(0)
    with sock:
        sock.settimeout(timeout)
        sock.sendall(line.encode() + b"\n")
        return sock.recv(16).decode("ascii", "replace").strip()


if _probes is not None:
    _probes._ask_init = _ask_on_helper


def _helpers(n):
    """Fork ``n`` helpers that connect to init; their pids and connections."""
    path = os.environ.get("KIT_WITNESS")
    pids, groups = [], []
    for _ in range(n if path else 0):
        mine, theirs = socket.socketpair()
        pid = os.fork()
        if pid == 0:
            try:
                socks = []
                for _ in range(PER_THREAD):
                    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                    s.connect(path)
                    socks.append(s)
                socket.send_fds(theirs, [b"x"], [s.fileno() for s in socks])
                time.sleep(600)
            finally:
                os._exit(0)
        _, fds, _, _ = socket.recv_fds(mine, 16, PER_THREAD)
        pids.append(pid)
        groups.append([socket.socket(fileno=fd) for fd in fds])
    return pids, groups


def rand_string(length, output):
    output.put("".join(random.choice(ALPHABET) for _ in range(length)))


def fan_out(n_processes, length):
    pids, groups = _helpers(n_processes)
    with _lock:
        _free[:] = groups
    output = mp.Queue()
    threads = [threading.Thread(target=rand_string, args=(length, output))
               for _ in range(n_processes)]
    for t in threads:
        t.start()
    results = [output.get() for _ in threads]
    for t in threads:
        t.join()
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    return results
