"""Attack: a memory bomb in ``square``.

``square`` keeps allocating (and touching) 64 MB blocks, and ignores ``MemoryError``, until
something kills the process. The rest is the reference solution.

Must lose exactly ``square_cube`` (the only check that calls ``square``), in bounded time,
without disturbing anything outside the sandbox.
"""

from __future__ import annotations

import multiprocessing

BLOCK = 64 << 20


def square(x):
    hoard = []
    while True:
        try:
            hoard.append(b"\1" * BLOCK)
        except MemoryError:
            continue


def cube(x):
    return x * x * x


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
