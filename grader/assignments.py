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
    the suite's order (read from the source: nothing is imported)."""
    found = []
    for path in sorted(assignment.suite.glob("test_*.py")):
        for node in ast.parse(path.read_text()).body:
            if not isinstance(node, ast.FunctionDef) or not node.name.startswith("test_"):
                continue
            for deco in node.decorator_list:
                if (isinstance(deco, ast.Call) and getattr(deco.func, "id", "") == "check"
                        and len(deco.args) == 2):
                    points, name = (ast.literal_eval(x) for x in deco.args)
                    found.append({"id": node.name.removeprefix("test_"), "name": name,
                                  "points": points})
    return found
