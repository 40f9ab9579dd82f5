"""pytest plugin loaded into the hidden-suite run (``-p grader.checks.plugin``).

Records, for every test marked ``@check(points, name)``, whether it passed and the student's
explanation, and writes them as JSON to ``--kit-results``. Nothing the student's code prints
is read: the explanation is the :class:`grader.checks.judge.Lost` message built on the trusted side.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

_records: list[dict[str, Any]] = []


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("kit", "concurrency kit grader")
    group.addoption("--submission", help="the student's folder holding the module")
    group.addoption("--kit-results", help="where to write the check results (JSON)")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "check(points, name): a graded check")


def _message(call: pytest.CallInfo) -> str:
    from grader.checks.judge import Lost

    excinfo = call.excinfo
    if excinfo is None:
        return ""
    if isinstance(excinfo.value, Lost):
        return str(excinfo.value)
    text = str(excinfo.value)
    if "Timeout" in excinfo.typename or text.startswith("Timeout"):
        return ("This check ran out of the grader's time limit; a part of your code did not "
                "return.")
    return (f"The grader itself failed on this check ({excinfo.typename}: {text[:300]}). "
            f"This is not your fault: tell your instructor.")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    outcome = yield
    report = outcome.get_result()
    marker = item.get_closest_marker("check")
    if marker is None:
        return
    if report.when == "call" or (report.when == "setup" and not report.passed):
        from grader.checks.judge import take_spans, take_timelines

        name = item.name.removeprefix("test_")
        _records.append({
            "timelines": take_timelines(),
            "id": name,
            "name": marker.kwargs["name"],
            "max_score": marker.kwargs["points"],
            "passed": report.passed,
            "output": "" if report.passed else _message(call),
            "internal_error": (not report.passed and call.excinfo is not None
                               and type(call.excinfo.value).__name__ != "Lost"),
            "spans": take_spans(),
        })


def pytest_sessionfinish(session: pytest.Session) -> None:
    path = session.config.getoption("--kit-results")
    if path:
        Path(path).write_text(json.dumps(_records, indent=1))
