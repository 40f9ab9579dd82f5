"""Fixtures shared by the hidden suites.

A suite module declares ``MODULE`` (the student's module name) and ``SCENARIOS``: a dict
from a key to the keyword arguments of :func:`grader.sandbox.run`. The ``runs`` fixture runs
them all, in several sandbox sessions at a time (checks mostly wait on the grader's injected
barriers and sleeps), and hands the tests a dict ``key -> Run``.
"""

from __future__ import annotations

import os
import queue
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from grader import sandbox


@pytest.fixture(scope="session")
def submission(request: pytest.FixtureRequest) -> Path:
    value = request.config.getoption("--submission")
    if not value:
        raise pytest.UsageError("--submission DIR is required")
    return Path(value).resolve()


@pytest.fixture(scope="module")
def runs(request: pytest.FixtureRequest, submission: Path) -> dict:
    module = request.module.MODULE
    scenarios = request.module.SCENARIOS
    parallel = min(int(os.environ.get("KIT_SANDBOXES", "6")), len(scenarios))
    todo: queue.SimpleQueue = queue.SimpleQueue()
    for item in scenarios.items():
        todo.put(item)
    done: dict = {}

    def serve() -> None:
        # One sandbox session per parallel slot; each check still starts from a clean
        # sandbox state (see grader.sandbox.Session), so which slot runs it is irrelevant.
        with sandbox.Session(submission, module) as session:
            while True:
                try:
                    key, kwargs = todo.get_nowait()
                except queue.Empty:
                    return
                done[key] = session.run(**kwargs)

    with ThreadPoolExecutor(max_workers=parallel) as pool:
        for future in [pool.submit(serve) for _ in range(parallel)]:
            future.result()
    return {key: done[key] for key in scenarios}
