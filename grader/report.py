"""Reports: Gradescope-style ``results.json`` per student, ``grades.csv``, a score table."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class StudentResult:
    """One student's graded checks (``checks`` as written by :mod:`grader.plugin`)."""

    student: str
    checks: list[dict[str, Any]]
    execution_time: float
    note: str = ""
    kit_errors: list[str] = field(default_factory=list)

    @property
    def score(self) -> float:
        return sum(c["max_score"] for c in self.checks if c["passed"])

    @property
    def max_score(self) -> float:
        return sum(c["max_score"] for c in self.checks)

    def lost(self) -> list[str]:
        return [c["id"] for c in self.checks if not c["passed"]]


def _num(x: float) -> float | int:
    return int(x) if float(x).is_integer() else round(x, 3)


def results_json(result: StudentResult, header: str) -> dict[str, Any]:
    """The Gradescope autograder schema (score, max_score, execution_time, output, tests[])."""
    tests = []
    for c in result.checks:
        tests.append({
            "name": c["name"],
            "score": _num(c["max_score"] if c["passed"] else 0),
            "max_score": _num(c["max_score"]),
            "status": "passed" if c["passed"] else "failed",
            "output": c["output"],
            "visibility": "visible",
            "tags": [c["id"]],
        })
    output = header
    if result.note:
        output += "\n" + result.note
    return {
        "score": _num(result.score),
        "max_score": _num(result.max_score),
        "execution_time": round(result.execution_time, 2),
        "output": output,
        "tests": tests,
    }


def write_student(out_dir: Path, result: StudentResult, header: str) -> Path:
    folder = out_dir / result.student
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "results.json"
    path.write_text(json.dumps(results_json(result, header), indent=2) + "\n")
    return path


def write_csv(out_dir: Path, results: list[StudentResult]) -> Path:
    ids: list[str] = []
    for r in results:
        for c in r.checks:
            if c["id"] not in ids:
                ids.append(c["id"])
    path = out_dir / "grades.csv"
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["student", "score", "max_score", *ids])
        for r in sorted(results, key=lambda r: r.student):
            by_id = {c["id"]: c for c in r.checks}
            writer.writerow([r.student, _num(r.score), _num(r.max_score),
                             *(_num(by_id[i]["max_score"] if by_id[i]["passed"] else 0)
                               if i in by_id else "" for i in ids)])
    return path


def table(assignment: str, results: list[StudentResult]) -> str:
    width = max([len("student"), *(len(r.student) for r in results)])
    lines = [f"{assignment}", f"  {'student':<{width}}  {'score':>7}  lost checks"]
    for r in sorted(results, key=lambda r: r.student):
        score = f"{_num(r.score)}/{_num(r.max_score)}"
        lost = ", ".join(r.lost()) or "-"
        lines.append(f"  {r.student:<{width}}  {score:>7}  {lost}")
    return "\n".join(lines)
