"""Attack: a fork bomb in ``cube``.

Every process forks for ever and ignores every error (the process limit, memory), so the
number of processes grows until a limit stops it, and then every one of them spins. The
rest is the reference solution. (``cube`` runs in one sandbox only, the ``square_cube``
check's, so the bomb costs the test suite one sandbox's worth of time.)

Must lose exactly ``square_cube``, in bounded time, leave no process behind, and not
change the grade of a classmate graded at the same time.
"""

from __future__ import annotations

import multiprocessing
import os


def square(x):
    return x * x


def cube(x):
    while True:
        try:
            os.fork()
        except BaseException:  # noqa: B036 - the limits must not stop the bomb
            pass


def pool_apply(func, items, processes=4):
    items = list(items)
    with multiprocessing.Pool(processes=processes) as pool:
        return [pool.apply(func, (x,)) for x in items]


def pool_map(func, items, processes=4):
    items = list(items)
    with multiprocessing.Pool(processes=processes) as pool:
        return pool.map(func, items)


def pool_apply_async(func, items, processes=4):
    items = list(items)
    with multiprocessing.Pool(processes=processes) as pool:
        handles = [pool.apply_async(func, (x,)) for x in items]
        return [handle.get() for handle in handles]


def pool_map_async(func, items, processes=4):
    items = list(items)
    with multiprocessing.Pool(processes=processes) as pool:
        return pool.map_async(func, items).get()


def pool_imap_unordered(func, items, processes=4):
    items = list(items)
    with multiprocessing.Pool(processes=processes) as pool:
        return list(pool.imap_unordered(func, items))
