"""Attack: run the children one after another, and tell the grader's barrier it passed.

``fan_out`` starts a child, takes its string and joins it before starting the next (a
serial fan-out, which must lose ``concurrent``). At import it replaces the grader's
``barrier`` probe, found in ``sys.modules``, by one that answers "passed" at once, so the
probe's own record claims that all the calls waited together.

Must lose exactly ``concurrent``: the barrier is kept by the sandbox's init, outside the
student's processes, and init saw no call wait there (the record's claim is not evidence).
"""

from __future__ import annotations

import multiprocessing as mp
import random
import string
import sys

ALPHABET = string.ascii_letters + string.digits

_probes = sys.modules.get("grader.inside.probes")
if _probes is not None:
    _probes.barrier = lambda *args, **kwargs: "passed"


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
    return results
