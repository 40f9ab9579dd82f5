"""Attack: run the children one after another, then replay their barrier calls at once.

``fan_out`` is serial (start a child, take its string, join it, start the next), which
must lose ``concurrent``. In every child the grader's barrier probe is replaced by one
that saves its arguments (the barrier's name and size, its timeout, the caller's key) in
the probe folder and answers "passed" at once. When all the children are done, the
parent sends those barrier calls to the sandbox's init itself, from as many threads at
once, so that init sees every child's key wait at the barrier together.

Must lose exactly ``concurrent``: init notes which process sent each message, and these
came from the parent, not from the processes whose keys they carry.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import random
import string
import sys
import threading

ALPHABET = string.ascii_letters + string.digits

_probes = sys.modules.get("grader.inside.probes")


def _saving_barrier(name, n, timeout, key=None):
    folder = os.environ.get("KIT_PROBE_DIR")
    if folder and key:
        with open(os.path.join(folder, f"replay-{key}"), "w") as f:
            json.dump([name, n, timeout, key], f)
    return "passed"


if _probes is not None:
    _probes.barrier = _saving_barrier


def _replay() -> None:
    folder = os.environ.get("KIT_PROBE_DIR")
    if _probes is None or not folder:
        return
    calls = []
    for name in os.listdir(folder):
        if name.startswith("replay-"):
            with open(os.path.join(folder, name)) as f:
                calls.append(json.load(f))
            os.unlink(os.path.join(folder, name))

    def send(name, n, timeout, key):
        scoped = f"{os.environ.get('KIT_CHECK', 'check')}-{name}"
        _probes._ask_init(f"barrier {scoped} {n} {int(timeout * 1000)} {key}", timeout + 30)

    threads = [threading.Thread(target=send, args=call) for call in calls]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def rand_string(length, output):
    output.put("".join(random.choice(ALPHABET) for _ in range(length)))


def fan_out(n_processes, length):
    output = mp.Queue()
    results = []
    for _ in range(n_processes):
        p = mp.Process(target=rand_string, args=(length, output))
        p.start()
        results.append(output.get())
        p.join()
    _replay()
    return results
