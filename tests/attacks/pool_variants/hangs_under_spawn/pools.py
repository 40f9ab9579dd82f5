"""Attack: the pool functions work under fork and block for ever under spawn/forkserver.

Under each of spawn and forkserver, the check of ``pool_apply`` and the first call of the
check of the other four hang. That call returned under fork, so it alone costs
``portable`` and the three after it are not made in a check of their own: grading ends
in about one round of deadlines (a deadlock is seen at once where init watches), and
only ``portable`` is lost.
"""

# ruff: noqa: E402, F811 - a whole student module with the attack appended

from __future__ import annotations

import multiprocessing
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
    with multiprocessing.Pool(processes=processes) as pool:
        return list(pool.imap_unordered(func, items))


import multiprocessing as _mp
import threading as _threading

_REAL = {name: globals()[name] for name in (
    "pool_apply", "pool_map", "pool_apply_async", "pool_map_async", "pool_imap_unordered")}


def _only_under_fork(name):
    def function(*args, **kwargs):
        if _mp.get_start_method() != "fork":
            _threading.Event().wait()
        return _REAL[name](*args, **kwargs)
    return function


for _name in _REAL:
    globals()[_name] = _only_under_fork(_name)
