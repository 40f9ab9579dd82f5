"""Attack (or a subtle mistake): the ``Process`` target is a nested function.

``make_string`` is decorated by ``logged``, which returns its inner ``wrapper`` without
``functools.wraps``: the module attribute ``make_string`` is the local object
``logged.<locals>.wrapper``, which children cannot import. Under ``fork`` nothing is
pickled and it works; under ``spawn`` and ``forkserver`` the target must be pickled by
reference, and ``start()`` fails.

Must lose exactly ``portable``, with an explanation; everything judged under ``fork``
keeps its points.
"""

from __future__ import annotations

import multiprocessing
import random
import string

ALPHABET = string.ascii_letters + string.digits


def logged(func):
    def wrapper(*args):
        return func(*args)

    return wrapper


def rand_string(length, output):
    output.put("".join(random.choices(ALPHABET, k=length)))


@logged
def make_string(length, output):
    rand_string(length, output)


def fan_out(n_processes, length):
    output = multiprocessing.Queue()
    processes = [multiprocessing.Process(target=make_string, args=(length, output))
                 for _ in range(n_processes)]
    for process in processes:
        process.start()
    results = [output.get() for _ in processes]
    for process in processes:
        process.join()
    return results
