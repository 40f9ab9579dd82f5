"""Attack: the unchanged stub, handed in with ``sitecustomize.py`` and ``usercustomize.py``.

Both files rig the import of ``counter`` (see there): an interpreter that runs ``site``
with the submission folder on ``sys.path`` replaces this stub by a working module before
any check looks at it. The grader must not run them: every check lost, like the stub.
"""

from __future__ import annotations

import threading  # noqa: F401

num = 0


def worker(val: int) -> None:
    raise NotImplementedError("worker(val): add val to num while holding lock")


def run_workers(n_threads: int = 2000) -> int:
    raise NotImplementedError("run_workers(): reset num, start all threads, then join all")
