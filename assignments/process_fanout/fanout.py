"""Fan out work to several processes with ``multiprocessing.Process`` and a ``Queue``.

Every child process runs :func:`rand_string` and puts exactly one random string on a
shared ``multiprocessing.Queue``; :func:`fan_out` starts the children, collects one result
per child and joins them.

This module is imported again by every child under the ``spawn`` and ``forkserver`` start
methods, so it contains nothing but definitions: no work happens at import time.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.queues
import random  # noqa: F401  (you will need it)
import string

ALPHABET = string.ascii_letters + string.digits
"""The characters a random string is made of: ASCII letters and digits (62 characters)."""


def rand_string(length: int, output: multiprocessing.queues.Queue) -> None:
    """Put ONE random string of ``length`` characters on the queue ``output``.

    Args:
        length: how many characters the string has (``0`` gives ``""``).
        output: a ``multiprocessing.Queue`` (anything with a ``put`` method) shared
            with the parent process.

    Every character is drawn from :data:`ALPHABET` (``string.ascii_letters +
    string.digits``) with ``random.choice``/``random.choices``. Do not seed ``random``:
    each child must produce its own string (under ``fork`` the child re-seeds
    ``random`` automatically; under ``spawn``/``forkserver`` it is a fresh interpreter).

    Exactly one ``put`` per call; nothing is returned (the result travels through the
    queue, because a child process cannot hand a return value back to its parent).
    """
    raise NotImplementedError("rand_string(): put one random string on the queue")


def fan_out(n_processes: int, length: int) -> list[str]:
    """Run :func:`rand_string` in ``n_processes`` child processes; return their strings.

    Args:
        n_processes: how many child processes to start (``0`` gives ``[]``).
        length: the length of each random string.

    Returns:
        A list of exactly ``n_processes`` strings, one from each child, in any order.

    What must happen, in this order:

    1. Create ONE ``multiprocessing.Queue()`` shared by all children.
    2. Create ``n_processes`` ``multiprocessing.Process(target=rand_string,
       args=(length, output))``. The target is the module-level function
       ``rand_string`` (never a lambda or a nested function: under ``spawn`` and
       ``forkserver`` the target is pickled by reference, and a grader may replace
       ``rand_string`` in this module with its own probe).
    3. Start them all, so that they run at the same time.
    4. Collect exactly one result per process with ``output.get()``.
    5. Only then ``join()`` every process, and return the list.

    Pitfall (why 4 comes before 5): a child that has put data on a queue does not
    terminate until a background thread has written all of it into the underlying OS
    pipe. The pipe buffer is small (about 64 KiB on Linux), so once a result is larger
    than that, the child blocks until somebody reads the queue. If the parent is
    already waiting in ``join()``, nobody ever reads: a deadlock. The lecture's slide
    joins first and reads afterwards; that only works because its strings are tiny.
    """
    raise NotImplementedError("fan_out(): start the processes, get() the results, then join()")
