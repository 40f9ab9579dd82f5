"""The kit's assignments: name, student module, hidden suite and its graded checks."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SUITES = Path(__file__).resolve().parent / "suites"


@dataclass(frozen=True)
class Assignment:
    name: str
    module: str
    summary: str

    @property
    def filename(self) -> str:
        return self.module + ".py"

    @property
    def suite(self) -> Path:
        return SUITES / self.name


ASSIGNMENTS = {
    a.name: a
    for a in (
        Assignment("process_fanout", "fanout",
                   "Process + Queue fan-out of a random-string generator"),
        Assignment("pool_variants", "pools",
                   "Pool.apply / map / apply_async / map_async / imap_unordered"),
        Assignment("thread_counter", "counter",
                   "a global counter shared by 2000 threads, made race-free with a Lock"),
    )
}


def checks_of(assignment: Assignment) -> list[dict[str, Any]]:
    """``[{"id", "name", "points"}]`` of the suite's ``@check(points, name)`` tests, in
    the suite's order (read from the source: nothing is imported). A test is either a
    decorated function or an assignment ``test_x = check(points, name)(function)``."""

    def check_args(call: ast.expr) -> tuple[Any, Any] | None:
        if (isinstance(call, ast.Call) and getattr(call.func, "id", "") == "check"
                and len(call.args) == 2):
            points, name = (ast.literal_eval(x) for x in call.args)
            return points, name
        return None

    found = []
    for path in sorted(assignment.suite.glob("test_*.py")):
        for node in ast.parse(path.read_text()).body:
            test, marks = None, []
            if isinstance(node, ast.FunctionDef):
                test, marks = node.name, node.decorator_list
            elif (isinstance(node, ast.Assign) and len(node.targets) == 1
                  and isinstance(node.targets[0], ast.Name)
                  and isinstance(node.value, ast.Call)):
                test, marks = node.targets[0].id, [node.value.func]
            if test is None or not test.startswith("test_"):
                continue
            for mark in marks:
                args = check_args(mark)
                if args is not None:
                    found.append({"id": test.removeprefix("test_"), "name": args[1],
                                  "points": args[0]})
    return found
