# Mistake: pool_imap_unordered uses concurrent.futures' ProcessPoolExecutor.map, which
# returns results in input order (and is not a multiprocessing.Pool). Its results do
# not pass through a Pool, so the grader judges the order by when the tasks ended.
"""Five ways to hand work to a ``multiprocessing.Pool``.

Every ``pool_*`` function creates its own pool of ``processes`` worker processes, applies
``func`` to every element of ``items`` in those workers, shuts the pool down and returns a
``list``. They differ in what blocks and in the order of the results:

================================  ==============================  =======================
function                          what blocks                     order of the results
================================  ==============================  =======================
``pool_apply``                    every single call               input order
``pool_map``                      the whole call                  input order
``pool_apply_async``              only each ``.get()``            input order
``pool_map_async``                only the ``.get()``             input order
``pool_imap_unordered``           the iteration, item by item     completion order
================================  ==============================  =======================

``func`` must be picklable: a function defined at the top level of a module (such as
:func:`square` and :func:`cube`), never a lambda or a function defined inside another
function. Workers receive ``func`` by reference (module name + function name), and under
the ``spawn`` and ``forkserver`` start methods they import that module anew to find it.

This module is imported again by every worker under ``spawn``/``forkserver``, so it contains
nothing but definitions: no pool is created at import time.
"""

from __future__ import annotations

import multiprocessing
import concurrent.futures
from collections.abc import Callable, Iterable
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


def square(x: int) -> int:
    """Return ``x`` squared (``x * x``)."""
    return x * x


def cube(x: int) -> int:
    """Return ``x`` cubed (``x * x * x``)."""
    return x * x * x


def pool_apply(func: Callable[[T], R], items: Iterable[T], processes: int = 4) -> list[R]:
    """Return ``[func(x) for x in items]``, each call run by ``Pool.apply``.

    Args:
        func: a picklable top-level callable taking one argument (no lambdas).
        items: any iterable; it is turned into a list first.
        processes: the number of worker processes of the pool.

    Returns:
        The results in input order.

    Create ``multiprocessing.Pool(processes=processes)`` with a ``with`` statement and
    call ``pool.apply(func, (x,))`` for every item. ``apply`` blocks until that one call
    has finished, so only one worker is ever busy: this is effectively serial, just
    slower than a plain loop. Leaving the ``with`` block terminates the pool, so every
    result must be in hand before it ends.
    """
    items = list(items)
    with multiprocessing.Pool(processes=processes) as pool:
        return [pool.apply(func, (x,)) for x in items]


def pool_map(func: Callable[[T], R], items: Iterable[T], processes: int = 4) -> list[R]:
    """Return ``[func(x) for x in items]``, computed in parallel by ``Pool.map``.

    Args:
        func: a picklable top-level callable taking one argument (no lambdas).
        items: any iterable; it is turned into a list first.
        processes: the number of worker processes of the pool.

    Returns:
        The results in input order.

    Create ``multiprocessing.Pool(processes=processes)`` with a ``with`` statement and
    call ``pool.map(func, items)``. The items are split into chunks that the workers
    process in parallel; ``map`` blocks until all of them are done and returns the
    results in input order (whatever order the workers finished in).
    """
    items = list(items)
    with multiprocessing.Pool(processes=processes) as pool:
        return pool.map(func, items)


def pool_apply_async(func: Callable[[T], R], items: Iterable[T], processes: int = 4) -> list[R]:
    """Return ``[func(x) for x in items]``, submitted with ``Pool.apply_async``.

    Args:
        func: a picklable top-level callable taking one argument (no lambdas).
        items: any iterable; it is turned into a list first.
        processes: the number of worker processes of the pool.

    Returns:
        The results in input order.

    Create ``multiprocessing.Pool(processes=processes)`` with a ``with`` statement. First
    submit EVERY item with ``pool.apply_async(func, (x,))``, which does not block and
    returns an ``AsyncResult`` handle; only then call ``.get()`` on each handle, in
    submission order. The tasks run in parallel and may finish in any order, but
    getting the handles in submission order yields the results in input order.
    (Calling ``.get()`` right after each submission would make it serial again.)
    Leaving the ``with`` block terminates the pool, so get every result inside it.
    """
    items = list(items)
    with multiprocessing.Pool(processes=processes) as pool:
        handles = [pool.apply_async(func, (x,)) for x in items]
        return [handle.get() for handle in handles]


def pool_map_async(func: Callable[[T], R], items: Iterable[T], processes: int = 4) -> list[R]:
    """Return ``[func(x) for x in items]``, computed by ``Pool.map_async``.

    Args:
        func: a picklable top-level callable taking one argument (no lambdas).
        items: any iterable; it is turned into a list first.
        processes: the number of worker processes of the pool.

    Returns:
        The results in input order.

    Create ``multiprocessing.Pool(processes=processes)`` with a ``with`` statement and
    return ``pool.map_async(func, items).get()``. ``map_async`` returns at once with an
    ``AsyncResult`` (the caller could do other work meanwhile); ``.get()`` blocks until
    every item is done and returns the list in input order, even though the workers may
    have finished the items out of order. Return the list, not the ``AsyncResult``, and
    get it before the ``with`` block terminates the pool.
    """
    items = list(items)
    with multiprocessing.Pool(processes=processes) as pool:
        return pool.map_async(func, items).get()


def pool_imap_unordered(func: Callable[[T], R], items: Iterable[T], processes: int = 4) -> list[R]:
    """Return the results of ``func`` over ``items`` in the order they were completed.

    Args:
        func: a picklable top-level callable taking one argument (no lambdas).
        items: any iterable; it is turned into a list first.
        processes: the number of worker processes of the pool.

    Returns:
        The same results as ``[func(x) for x in items]`` (the same multiset), in
        completion order: a result that is ready earlier comes earlier.

    Create ``multiprocessing.Pool(processes=processes)`` with a ``with`` statement and
    return ``list(pool.imap_unordered(func, items))``. ``imap_unordered`` yields each
    result as soon as any worker has finished it (one item per task with the default
    ``chunksize=1``); the iteration blocks only until the next result is ready. Build
    the whole list before the ``with`` block terminates the pool.
    """
    items = list(items)
    with concurrent.futures.ProcessPoolExecutor(max_workers=processes) as ex:
        return list(ex.map(func, items))
