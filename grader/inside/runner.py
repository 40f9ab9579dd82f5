"""Runs one scenario inside a sandbox process and writes what happened as plain JSON.

Contract with :mod:`grader.sandbox` (the trusted side):

* the spec (JSON) names the scenario, the start method, the student's module and folder,
  the probe folder, where to write the result and the phase, and a deadline in seconds;
* the result file holds ``{"pid", "phase", "data", "error", "timeout"}``, all plain data
  (read back by :func:`grader.inside.output.collect`);
* on reaching the deadline a watchdog thread writes the stacks of all threads (where the
  student's code was stuck) as ``timeout`` and ends the process
  (:mod:`grader.inside.runtime`).

The process always leaves through ``os._exit`` so that neither the student's ``atexit``
handlers nor multiprocessing's exit hooks (which join children) can keep it alive.
"""

from __future__ import annotations

import json
import os
import sys
import time

from grader.inside import runtime

TYPE_CHECKING = False  # (importing typing costs every sandbox ~3 ms)
if TYPE_CHECKING:
    from typing import Any


def main(spec_path: str) -> None:
    """One check in a fresh sandbox process (the whole process is this check's)."""
    with open(spec_path) as f:
        run_check(json.load(f))


def run_check(spec: dict[str, Any]) -> None:
    """Run the check ``spec`` in this process and leave through ``os._exit``."""
    runtime.begin(spec)

    from grader.inside import scenarios

    scenario = getattr(scenarios, spec["scenario"])
    result = runtime.result
    # When the student's code ran (import and calls, under the grader's sleeps and
    # barriers), on the machine's monotonic clock: what the checks take by design, as
    # against the grader's own overhead (tests/benchmarks/bench_class.py).
    result["span"] = [time.monotonic(), None]
    try:
        scenario(runtime.spec, result["data"])
    except BaseException as exc:  # noqa: BLE001 - SystemExit and KeyboardInterrupt too
        result["error"] = runtime.error_data(exc)
        result["error"]["phase"] = result["phase"]
    runtime.set_phase("done")
    try:
        runtime.write_result()
    finally:
        sys.stdout.flush()
        runtime.release_shared_memory()
        os._exit(0)
