"""Attack: the reference solution, but some functions return objects that agree with
everything.

* ``pool_map`` returns ``AgreeableList``: a ``list`` subclass equal to anything, with a
  constant hash, and ``len()``/iteration that claim whatever was asked;
* ``pool_map_async`` returns an ``Agreeable``: no list at all, but equal to anything, with
  a lying ``len()``, ``iter()`` and ``hash()``;
* ``pool_apply_async`` returns a real list of ``AgreeableInt`` (``int`` subclass, equal to
  anything);
* ``square`` returns an ``AgreeableInt``.

The pools themselves are the reference solution's. Must lose exactly ``map``,
``map_async``, ``apply_async`` and ``square_cube``; everything about the pools (workers,
processes, parallelism, cleanup, portability) keeps its points.
"""

from __future__ import annotations

import multiprocessing


class AgreeableInt(int):
    def __eq__(self, other: object) -> bool:
        return True

    def __ne__(self, other: object) -> bool:
        return False

    def __hash__(self) -> int:
        return 0


class AgreeableList(list):
    def __eq__(self, other: object) -> bool:
        return True

    def __ne__(self, other: object) -> bool:
        return False

    def __hash__(self) -> int:
        return 0

    def __len__(self) -> int:
        return 6

    def __iter__(self):
        return iter(AgreeableInt(x) for x in list.__iter__(self))


class Agreeable:
    def __init__(self, items) -> None:
        self._items = list(items)

    def __eq__(self, other: object) -> bool:
        return True

    def __ne__(self, other: object) -> bool:
        return False

    def __hash__(self) -> int:
        return 0

    def __len__(self) -> int:
        return 6

    def __iter__(self):
        return iter(AgreeableInt(x) for x in self._items)

    def __getitem__(self, index):
        return AgreeableInt(self._items[index])


def square(x):
    return AgreeableInt(x * x)


def cube(x):
    return x * x * x


def pool_apply(func, items, processes=4):
    items = list(items)
    with multiprocessing.Pool(processes=processes) as pool:
        return [pool.apply(func, (x,)) for x in items]


def pool_map(func, items, processes=4):
    items = list(items)
    with multiprocessing.Pool(processes=processes) as pool:
        return AgreeableList(pool.map(func, items))


def pool_apply_async(func, items, processes=4):
    items = list(items)
    with multiprocessing.Pool(processes=processes) as pool:
        handles = [pool.apply_async(func, (x,)) for x in items]
        return [AgreeableInt(handle.get()) for handle in handles]


def pool_map_async(func, items, processes=4):
    items = list(items)
    with multiprocessing.Pool(processes=processes) as pool:
        return Agreeable(pool.map_async(func, items).get())


def pool_imap_unordered(func, items, processes=4):
    items = list(items)
    with multiprocessing.Pool(processes=processes) as pool:
        return list(pool.imap_unordered(func, items))
