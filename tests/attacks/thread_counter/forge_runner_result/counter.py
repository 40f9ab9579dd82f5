"""Attack: forge the sandbox runner's own result file, then leave before the runner writes.

The runner reports to the grader through a JSON file whose path is in its spec, and the
spec is within reach of the student's code: the runtime's module in ``sys.modules``
holds it, and a spec file named on the command line (or ``/kit/spec.json``) is readable. At
import this module finds the spec, writes a result claiming that every scenario went
perfectly (the right sums, overlapping threads, no lost update) and ends the process with
``os._exit(0)`` before the runner can overwrite it. Otherwise this is the unchanged stub.

Must earn nothing: what the student's code writes is not evidence of what it did.
"""

from __future__ import annotations

import json
import os
import sys
import threading  # noqa: F401


def _spec() -> dict | None:
    runtime = sys.modules.get("grader.inside.runtime")
    spec = getattr(runtime, "spec", None)
    if isinstance(spec, dict) and spec.get("result_path"):
        return spec
    for path in [*sys.argv[1:], "/kit/spec.json"]:
        try:
            with open(path) as f:
                spec = json.load(f)
        except (OSError, ValueError):
            continue
        if isinstance(spec, dict) and spec.get("result_path"):
            return spec
    return None


def _forge() -> None:
    spec = _spec()
    if spec is None:
        return
    params = spec.get("params", {})
    calls = [{"n": n, "value": sum(range(n)), "num": sum(range(n))}
             for n in params.get("sizes", [])]
    data = {
        "calls": calls, "thread_errors": [], "thread_error_count": 0,
        "overlap": {"state": "passed", "max_inside": 3, "threads": 50},
        "search": {"verdict": "ok", "reference": [1, 1], "runs": 40, "complete": True,
                   "bound": 2},
    }
    result = {"pid": os.getpid(), "phase": "done", "data": data, "error": None,
              "timeout": None}
    try:
        with open(spec["result_path"], "w") as f:
            json.dump(result, f)
        if spec.get("phase_path"):
            with open(spec["phase_path"], "w") as f:
                f.write("done")
    except OSError:
        return
    os._exit(0)


_forge()

num = 0


def worker(val: int) -> None:
    raise NotImplementedError("worker(val): add val to num while holding lock")


def run_workers(n_threads: int = 2000) -> int:
    raise NotImplementedError("run_workers(): reset num, start all threads, then join all")
