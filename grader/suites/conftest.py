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

from grader import pool, sandbox
from grader.judge import START_METHODS, note_runs


@pytest.fixture(scope="session")
def submission(request: pytest.FixtureRequest) -> Path:
    value = request.config.getoption("--submission")
    if not value:
        raise pytest.UsageError("--submission DIR is required")
    return Path(value).resolve()


def _earlier(key: str, scenarios: dict) -> list[str]:
    """The runs of the same scenario under the earlier start methods (``name/fork`` for
    ``name/spawn``; both for ``name/forkserver``)."""
    name, _, method = key.partition("/")
    if method not in START_METHODS:
        return []
    return [f"{name}/{m}" for m in START_METHODS[:START_METHODS.index(method)]
            if f"{name}/{m}" in scenarios]


@pytest.fixture(scope="module")
def runs(request: pytest.FixtureRequest, submission: Path) -> dict:
    """Run the suite's scenarios; ``key -> Run``.

    A run of a scenario under a later start method counts only if the scenario finished
    under the earlier ones (:func:`grader.judge.judged`, :func:`grader.judge.check_portable`).
    So earlier methods are queued first, all runs go ahead in parallel, and when a run does
    not finish, the later runs of its scenario are cancelled (killed if they are running,
    never started if not; status ``"skipped"``). A submission that hangs everywhere costs
    about one check's time limit instead of three, a correct one loses no parallelism, and
    whether a later run was cancelled changes no verdict and no explanation.
    """
    module = request.module.MODULE
    scenarios = request.module.SCENARIOS
    parallel = min(int(os.environ.get("KIT_SANDBOXES", "6")), len(scenarios))
    order = sorted(scenarios, key=lambda k: len(_earlier(k, scenarios)))
    todo: queue.SimpleQueue = queue.SimpleQueue()
    for key in order:
        todo.put(key)
    done: dict = {}
    cancels = {key: sandbox.Cancel() for key in scenarios}
    later = {key: [k for k in scenarios if key in _earlier(k, scenarios)] for key in scenarios}

    def serve() -> None:
        # Under a grading command, the class's pool of warm sandboxes (grader.pool);
        # else one sandbox session per parallel slot when slots serve several checks
        # (else a sandbox per check is cheaper). Each check starts from a clean sandbox
        # state (see grader.sandbox.Session), so which sandbox runs it is irrelevant.
        with pool.session(submission, module, serve=len(scenarios) > parallel) as session:
            while True:
                try:
                    key = todo.get_nowait()
                except queue.Empty:
                    return
                run = session.run(**scenarios[key], cancel=cancels[key])
                done[key] = run
                if not run.finished:
                    for other in later[key]:
                        cancels[other].cancel()

    with ThreadPoolExecutor(max_workers=parallel) as slots:
        for future in [slots.submit(serve) for _ in range(parallel)]:
            future.result()
    note_runs(done.values())
    return {key: done[key] for key in scenarios}
