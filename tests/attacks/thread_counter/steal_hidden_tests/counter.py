"""Attack: look for the hidden tests and the model solution, and use what is found.

At import (within a time budget) this module searches:

* the file system, starting where the kit is known to live (the repository, also through
  ``/proc/1/root``), then everything from ``/`` (skipping ``/proc`` and ``/sys``): for
  ``solutions/thread_counter/counter.py``, any ``test_counter.py`` and any folder named
  ``suites``;
* ``sys.modules``, for the grader's hidden test modules;
* the call stack (``sys._getframe()``), for a frame of a hidden test that imported it.

A solution that is found is executed into this module's globals (full marks). Any other
hidden artefact switches on ``_cheat()``, a working implementation standing for what a
student who had read the hidden tests would hand in. With nothing found, the module stays
the unchanged stub.

Must earn nothing: the sandbox shows neither the solutions nor the hidden suites.
``@ROOT@`` is filled in by the test (the kit's repository).
"""

from __future__ import annotations

import os
import sys
import threading
import time

ROOT = "@ROOT@"
BUDGET = 3.0
SKIP = ("/proc", "/sys")
SOLUTION = os.path.join("solutions", "thread_counter", "counter.py")
HIDDEN_TEST = "test_counter.py"
FOUND: list[str] = []


def _search_files(end: float) -> None:
    tops = [ROOT, "/proc/1/root" + ROOT, "/proc/1/cwd", "/proc/1/root", "/kit", "/sandbox",
            "/tmp", "/work", "/root", "/home", "/srv", "/opt", "/var", "/"]
    seen = set()
    for top in tops:
        for folder, dirs, files in os.walk(top):
            if time.monotonic() > end:
                return
            key = os.path.realpath(folder)
            if key in seen:
                dirs[:] = []
                continue
            seen.add(key)
            dirs[:] = [d for d in dirs if os.path.join(folder, d) not in SKIP]
            if os.path.basename(folder) == "suites":
                FOUND.append(folder)
            for name in files:
                path = os.path.join(folder, name)
                if name == HIDDEN_TEST or path.endswith(os.sep + SOLUTION):
                    FOUND.append(path)


def _search_modules() -> None:
    for name, module in list(sys.modules.items()):
        where = str(getattr(module, "__file__", "") or "")
        if "suites" in name or name.split(".")[-1].startswith("test_") or "/suites/" in where:
            FOUND.append(f"module {name} ({where})")


def _search_stack() -> None:
    frame = sys._getframe()
    while frame is not None:
        where = frame.f_code.co_filename
        if "/suites/" in where or os.path.basename(where).startswith("test_"):
            FOUND.append(f"frame {frame.f_code.co_name} in {where}")
        frame = frame.f_back


def _use(found: list[str]) -> None:
    for path in found:
        if path.endswith(os.sep + SOLUTION):
            try:
                with open(path) as f:
                    exec(compile(f.read(), __file__, "exec"), globals())
                return
            except OSError:
                continue
    _cheat()


_search_modules()
_search_stack()
_search_files(time.monotonic() + BUDGET)

num = 0


def worker(val: int) -> None:
    raise NotImplementedError("worker(val): add val to num while holding lock")


def run_workers(n_threads: int = 2000) -> int:
    raise NotImplementedError("run_workers(): reset num, start all threads, then join all")


def _cheat() -> None:
    """What a student who had read the hidden tests would do: hand in what passes them."""
    global lock, worker, run_workers
    lock = threading.Lock()

    def worker(val: int) -> None:  # noqa: F811 - replaces the stub on purpose
        global num
        with lock:
            num += val

    def run_workers(n_threads: int = 2000) -> int:  # noqa: F811
        global num
        num = 0
        threads = [threading.Thread(target=worker, args=(i,)) for i in range(n_threads)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return num


if FOUND:
    _use(FOUND)
