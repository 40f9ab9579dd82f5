"""Attack (or a drastic mistake): a pool task that kills its worker process.

``pool_map`` sends ``_run_and_quit`` to the pool: it computes ``func(x)`` and then ends its
worker with ``os._exit(1)`` before the result is sent back. The pool starts a new worker
in its place, but the task's result is lost for good, so ``Pool.map`` waits for ever (in
CPython it never notices). The other functions are the reference solution's.

Must lose exactly ``map``, with an explanation (it did not return), in bounded time; the
other functions keep their points.
"""

from __future__ import annotations

import multiprocessing
import os


def _run_and_quit(job):
    func, x = job
    func(x)
    os._exit(1)


def square(x):
    return x * x


def cube(x):
    return x * x * x


def pool_apply(func, items, processes=4):
    items = list(items)
    with multiprocessing.Pool(processes=processes) as pool:
        return [pool.apply(func, (x,)) for x in items]


def pool_map(func, items, processes=4):
    items = list(items)
    with multiprocessing.Pool(processes=processes) as pool:
        return pool.map(_run_and_quit, [(func, x) for x in items])


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
