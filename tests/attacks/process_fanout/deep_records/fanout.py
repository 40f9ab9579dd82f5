"""Attack: probe records that no parser should hold (the trusted side reads them).

At import it writes two records into the probe folder (``KIT_PROBE_DIR``, where the
grader's probes leave theirs): one nested 30,000 lists deep (the JSON parser would
recurse out of the grader's stack; before, every check said "the grader itself failed")
and one of 20,000 empty objects. The rest is the reference solution.

Must lose every check, each told that the run left more data than the grader reads;
the classmates are graded as ever.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.queues
import os
import random
import string

_probes = os.environ.get("KIT_PROBE_DIR")
if _probes:
    os.makedirs(_probes, exist_ok=True)
    with open(os.path.join(_probes, "rec-rand_string-deep.json"), "w") as _f:
        _f.write("[" * 30_000 + "]" * 30_000)
    with open(os.path.join(_probes, "rec-rand_string-flood.json"), "w") as _f:
        _f.write("[" + "{}," * 20_000 + "{}]")

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
    output.put("".join(random.choices(ALPHABET, k=length)))


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
    output = multiprocessing.Queue()
    processes = [
        multiprocessing.Process(target=rand_string, args=(length, output))
        for _ in range(n_processes)
    ]
    for process in processes:
        process.start()
    # Drain the queue before joining: a child cannot exit while its data is still
    # stuck in a full pipe.
    results = [output.get() for _ in processes]
    for process in processes:
        process.join()
    return results
