"""Attack (or the classic mistake): work at import time, without a ``__main__`` guard.

The last line tries ``fan_out`` out at module level. Under ``fork`` that is harmless (the
children are copies; nothing imports the module again). Under ``spawn`` and
``forkserver`` every child imports this module to find ``rand_string``, which starts
children of its own before the child is ready: CPython refuses that with a
``RuntimeError`` in each child, the children die, and the parent's ``output.get()`` waits
for strings that never come, so the import never ends.

Must lose exactly ``portable``, with an explanation, in bounded time; everything judged
under ``fork`` keeps its points.
"""

from __future__ import annotations

import multiprocessing
import random
import string

ALPHABET = string.ascii_letters + string.digits


def rand_string(length, output):
    output.put("".join(random.choices(ALPHABET, k=length)))


def fan_out(n_processes, length):
    output = multiprocessing.Queue()
    processes = [multiprocessing.Process(target=rand_string, args=(length, output))
                 for _ in range(n_processes)]
    for process in processes:
        process.start()
    results = [output.get() for _ in processes]
    for process in processes:
        process.join()
    return results


print(fan_out(2, 8))
