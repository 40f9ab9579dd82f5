"""Fixtures shared by the hidden suites.

A suite module declares ``MODULE`` (the student's module name) and ``SCENARIOS``: a dict
from a key to the keyword arguments of :func:`grader.sandbox.run`. The ``runs`` fixture runs
them all, in several sandbox sessions at a time (checks mostly wait on the grader's injected
barriers and sleeps), and hands the tests a dict ``key -> Run``.
"""

from __future__ import annotations

import queue
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from grader import sandbox, settings
from grader.checks.judge import START_METHODS, call_of, note_runs
from grader.sandbox import pool


@pytest.fixture(scope="session")
def submission(request: pytest.FixtureRequest) -> Path:
    value = request.config.getoption("--submission")
    if not value:
        raise pytest.UsageError("--submission DIR is required")
    return Path(value).resolve()


def _method(key: str) -> int | None:
    """The rank of a suite key's start method ("name/method"), None if it has none."""
    method = key.partition("/")[2]
    return START_METHODS.index(method) if method in START_METHODS else None


def _labels(key: str, scenarios: dict) -> list[str]:
    """What a scenario's run judges, in order: the labels of its calls (a scenario that
    calls the student's code several times, see :func:`grader.checks.judge.call_of`), else its
    name."""
    calls = (scenarios[key].get("params") or {}).get("calls")
    if isinstance(calls, list) and calls:
        return [c.get("label") for c in calls]
    return [key.partition("/")[0]]


def _part(run, key: str, label: str, scenarios: dict):
    return run if _labels(key, scenarios) == [label] else call_of(run, label)


def stops(scenarios: dict, key: str, run, failed: dict, done) -> list[tuple[str, str]]:
    """What ``run`` (of ``key``) stops among the runs under later start methods that are not
    ``done``: ``(other, "cancel")`` when every call of ``other`` has now failed under an
    earlier method, ``(other, "abandon")`` when every call after its first has. ``failed``
    (key -> labels failed under earlier methods) is updated."""
    rank = _method(key)
    if rank is None:
        return []
    lost = _lost(scenarios, key, run)
    out = []
    for other in scenarios:
        later, labels = _method(other), _labels(other, scenarios)
        if other in done or later is None or later <= rank or not lost & set(labels):
            continue
        failed[other] = failed.get(other, set()) | (lost & set(labels))
        how = _stop(labels, failed[other])
        if how:
            out.append((other, how))
    return out


def _lost(scenarios: dict, key: str, run) -> set[str]:
    """The labels of ``key``'s calls that ``run`` made and that did not return."""
    lost = set()
    for label in _labels(key, scenarios):
        part = _part(run, key, label, scenarios)
        if part.status != "skipped" and not part.finished:
            lost.add(label)
    return lost


def _stop(labels: list[str], failed: set[str]) -> str | None:
    """What becomes of a run making calls ``labels`` once ``failed`` of them have failed
    under an earlier start method: cancelled when all have, abandoned when all after its
    first have, else nothing."""
    if failed >= set(labels):
        return "cancel"
    if len(labels) > 1 and failed >= set(labels[1:]):
        return "abandon"
    return None


def _only(key: str, scenario: dict, calls: list[dict]) -> tuple[str, dict]:
    """``scenario`` cut to ``calls``, and its key: ``name+label/method``, ``label`` the
    first of them."""
    name, sep, method = key.partition("/")
    return f"{name}+{calls[0].get('label')}{sep}{method}", dict(
        scenario, params={**scenario["params"], "calls": calls},
        deadline=sum(c["deadline"] for c in calls))


def rest(scenarios: dict, key: str, run) -> tuple[str, str, dict] | None:
    """The calls of ``key``'s scenario that ``run`` never made because an earlier call of
    it did not return (an exception, a deadline, a death), as a scenario of their own:
    ``(label, name+next/method, scenario)``, ``label`` the call that did not return,
    ``next`` the first one not made. None when every call was made, or the run was
    cancelled or abandoned (the grader did not need them)."""
    calls = (scenarios[key].get("params") or {}).get("calls")
    if (run.status == "skipped" or run.abandoned or not isinstance(calls, list)
            or len(calls) < 2):
        return None
    labels = _labels(key, scenarios)
    for i, label in enumerate(labels):
        if i and call_of(run, label).status == "skipped":
            return (labels[i - 1], *_only(key, scenarios[key], calls[i:]))
    return None


def one_call_each(scenarios: dict) -> dict:
    """Every call of a scenario that makes several in a check of its own (the first keeps
    the key, the others are named as :func:`rest` names them)."""
    out = {}
    for key, scenario in scenarios.items():
        calls = (scenario.get("params") or {}).get("calls")
        if not isinstance(calls, list) or len(calls) < 2:
            out[key] = scenario
            continue
        for i, call in enumerate(calls):
            name, alone = _only(key, scenario, [call])
            out[key if i == 0 else name] = alone
    return out


def returned_first(scenarios: dict, done: dict, label: str) -> bool | None:
    """Whether call ``label`` returned under the first start method (None: not known yet,
    a run that makes it is not over)."""
    unknown = False
    for key in scenarios:
        if _method(key) == 0 and label in _labels(key, scenarios):
            if key not in done:
                unknown = True
            elif _part(done[key], key, label, scenarios).finished:
                return True
    return None if unknown else False


@pytest.fixture(scope="module")
def runs(request: pytest.FixtureRequest, submission: Path) -> dict:
    """Run the suite's scenarios; ``key -> Run``.

    A run of a scenario under a later start method counts only if the scenario (each call
    of it) finished under the earlier ones (:func:`grader.checks.judge.judged`,
    :func:`grader.checks.judge.check_portable`). So earlier methods are queued first, all runs go
    ahead in parallel, and when a run does not finish, what of the later runs can no
    longer count is stopped: a later run whose every call has failed under an earlier
    method is cancelled (killed if it is running, never started if not; status
    ``"skipped"``), and one whose calls after the first all have is abandoned (it makes
    no further call: :meth:`grader.sandbox.Cancel.abandon`). A submission that hangs
    everywhere costs about one check's time limit instead of three, a correct one loses
    no parallelism, and whether a later run was stopped changes no verdict and no
    explanation.

    A suite that sets ``RESUME`` has the calls that a run never made (an earlier call of
    it did not return) made in a run of their own (:func:`rest`), under the same rules,
    unless the call that did not return had returned under the first start method: that
    failure already costs the ``portable`` check, and the later calls could not change a
    verdict there. Which calls are made depends only on what the submission did, never on
    which run ended first (the decision waits for the first method's run of that call).
    Where the sandbox does not see stalls (the weakest levels), such a suite's calls are
    each made in a check of their own from the start (:func:`one_call_each`): a barrier
    that cannot fill lasts its whole limit there, and one check would add them up.
    """
    module = request.module.MODULE
    scenarios = dict(request.module.SCENARIOS)
    resume = getattr(request.module, "RESUME", False)
    if resume and not sandbox.isolation().stalls_seen:
        scenarios = one_call_each(scenarios)
    parallel = min(settings.number("KIT_SANDBOXES"), len(scenarios))
    order = sorted(scenarios, key=lambda k: _method(k) or 0)
    todo: queue.SimpleQueue = queue.SimpleQueue()
    for key in order:
        todo.put(key)
    done: dict = {}
    cancels = {key: sandbox.Cancel() for key in scenarios}
    failed: dict = {}  # key -> labels that failed under earlier start methods
    pending: list = []  # what rest() found, until returned_first() knows
    lock = threading.Lock()

    def serve() -> None:
        # Under a grading command, the class's pool of warm sandboxes (grader.sandbox.pool);
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
                with lock:
                    for other, how in stops(scenarios, key, run, failed, done):
                        getattr(cancels[other], how)()
                    later = rest(scenarios, key, run) if resume else None
                    if later is not None:
                        pending.append(later)
                    for item in list(pending):
                        returned = returned_first(scenarios, done, item[0])
                        if returned is not None:
                            pending.remove(item)
                            if not returned:
                                resume_with(*item[1:])

    def resume_with(new: str, scenario: dict) -> None:
        # (Under the lock, from the thread that just ended a run: it takes it next.)
        scenarios[new], cancels[new] = scenario, sandbox.Cancel()
        labels = _labels(new, scenarios)
        failed[new] = set()
        for key, run in done.items():  # (what earlier methods' runs stop: as stops())
            if _method(key) is not None and _method(key) < _method(new):
                failed[new] |= _lost(scenarios, key, run) & set(labels)
        how = _stop(labels, failed[new])
        if how:
            getattr(cancels[new], how)()
        todo.put(new)

    with ThreadPoolExecutor(max_workers=parallel) as slots:
        for future in [slots.submit(serve) for _ in range(parallel)]:
            future.result()
    note_runs(done.values())
    return {key: done[key] for key in scenarios}
