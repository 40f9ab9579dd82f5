"""Fixtures shared by the hidden suites.

A suite module declares ``MODULE`` (the student's module name) and ``SCENARIOS``: a dict
from a key to the keyword arguments of :func:`grader.sandbox.run`. The ``runs`` fixture runs
them all, several sandboxes at a time (they mostly wait on the grader's injected barriers
and sleeps), and hands the tests a dict ``key -> Run``.
"""

from __future__ import annotations

import os
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
    parallel = int(os.environ.get("KIT_SANDBOXES", "6"))

    def one(kwargs: dict) -> sandbox.Run:
        return sandbox.run(submission=submission, module=module, **kwargs)

    with ThreadPoolExecutor(max_workers=parallel) as pool:
        futures = {key: pool.submit(one, kwargs) for key, kwargs in scenarios.items()}
        return {key: future.result() for key, future in futures.items()}
