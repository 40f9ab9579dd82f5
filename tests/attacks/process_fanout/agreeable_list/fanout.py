"""Attack: the reference solution, but ``fan_out`` returns a list that lies.

``Agreeable`` is a ``list`` subclass that is equal to anything (``!=`` never), hashes to a
constant, always claims the length the caller asked for and iterates over whatever
strings it holds, each wrapped in ``AgreeableStr`` (a ``str`` that is equal to anything
and claims the requested length). Any comparison made in the student's own process
passes. The children, the queue and the joins are the reference solution's.

Must lose exactly ``count`` and ``strings`` (the return value is not a list of strings);
the process checks keep their points.
"""

from __future__ import annotations

import multiprocessing
import random
import string

ALPHABET = string.ascii_letters + string.digits


class AgreeableStr(str):
    claimed = 0

    def __eq__(self, other: object) -> bool:
        return True

    def __ne__(self, other: object) -> bool:
        return False

    def __hash__(self) -> int:
        return 0

    def __len__(self) -> int:
        return self.claimed


class Agreeable(list):
    def __init__(self, items, claimed_len: int, item_len: int) -> None:
        super().__init__(items)
        self.claimed_len = claimed_len
        self.item_len = item_len

    def __eq__(self, other: object) -> bool:
        return True

    def __ne__(self, other: object) -> bool:
        return False

    def __hash__(self) -> int:
        return 0

    def __len__(self) -> int:
        return self.claimed_len

    def __iter__(self):
        for item in list.__iter__(self):
            fake = AgreeableStr(item)
            fake.claimed = self.item_len
            yield fake


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
    return Agreeable(results, n_processes, length)
