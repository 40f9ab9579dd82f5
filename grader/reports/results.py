"""One student's graded checks and what they become: ``results.json`` (the Gradescope
schema), a row of ``grades.csv``, a line of the score table."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grader.reports.text import clean


@dataclass
class StudentResult:
    """One student's graded checks (``checks`` as written by :mod:`grader.checks.plugin`)."""

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

    @property
    def busy(self) -> float:
        """Seconds during which the student's code ran under some check (the union of the
        runs' spans, recorded with the checks): the time the checks take by design, as
        against the grader's."""
        total, reach = 0.0, float("-inf")
        spans = (s for c in self.checks for s in c.get("spans") or [])
        for a, b in sorted((float(a), float(b)) for a, b in spans):
            if b > reach:
                total += b - max(a, reach)
                reach = b
        return total



def _num(x: float) -> float | int:
    return int(x) if float(x).is_integer() else round(x, 3)


def fraction(score: float, max_score: float) -> str:
    """``score/max_score`` as students read it (8/10, 7.5/10)."""
    return f"{_num(score)}/{_num(max_score)}"


def find_test(results: dict[str, Any], check_id: str) -> dict[str, Any] | None:
    """The entry of check ``check_id`` in a results.json, or None."""
    return next((t for t in results.get("tests", []) if t.get("tags") == [check_id]), None)


def test_line(test: dict[str, Any]) -> str:
    """One results.json entry's title and score: ``name: 0/2``."""
    return f"{test['name']}: {test['score']:g}/{test['max_score']:g}"


def results_json(result: StudentResult, header: str) -> dict[str, Any]:
    """The Gradescope autograder schema (score, max_score, execution_time, output, tests[])."""
    tests = []
    for c in result.checks:
        tests.append({
            "name": c["name"],
            "score": _num(c["max_score"] if c["passed"] else 0),
            "max_score": _num(c["max_score"]),
            "status": "passed" if c["passed"] else "failed",
            "output": clean(c["output"]),  # (Gradescope shows it as text: no escapes)
            "visibility": "visible",
            "tags": [c["id"]],
        })
    output = header
    if result.note:
        output += "\n" + clean(result.note)
    return {
        "score": _num(result.score),
        "max_score": _num(result.max_score),
        "execution_time": round(result.execution_time, 2),
        "output": output,
        "tests": tests,
    }


ERROR_FILE = "kit_error.txt"  # why the kit could not grade a submission, next to its results


def write_student(out_dir: Path, result: StudentResult, header: str) -> Path:
    folder = out_dir / result.student
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "results.json"
    _write(path, json.dumps(results_json(result, header), indent=2) + "\n")
    if result.kit_errors:
        # For the instructor (Gradescope shows students results.json, not this file).
        _write(folder / ERROR_FILE, "\n\n".join(clean(e) for e in result.kit_errors) + "\n")
    return path


def _write(path: Path, text: str) -> None:
    # UTF-8 whatever the locale (the HTML says so); "replace": a lone surrogate (a student
    # id that is not UTF-8) never stops a report from being written.
    path.write_text(text, encoding="utf-8", errors="replace")


def _cell(text: str) -> str:
    """A text cell a spreadsheet shows as text: one that would start a formula there
    (``=``, ``+``, ``-``, ``@``, or a tab or carriage return before one) gets a leading
    apostrophe, which spreadsheets read as "this is text" (OWASP's advice)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def write_csv(out_dir: Path, results: list[StudentResult]) -> Path:
    ids: list[str] = []
    for r in results:
        for c in r.checks:
            if c["id"] not in ids:
                ids.append(c["id"])
    path = out_dir / "grades.csv"
    with open(path, "w", newline="", encoding="utf-8", errors="replace") as f:
        writer = csv.writer(f)
        writer.writerow(["student", "score", "max_score", *ids])
        for r in sorted(results, key=lambda r: r.student):
            by_id = {c["id"]: c for c in r.checks}
            writer.writerow([_cell(clean(r.student, one_line=True)), _num(r.score),
                             _num(r.max_score),
                             *(_num(by_id[i]["max_score"] if by_id[i]["passed"] else 0)
                               if i in by_id else "" for i in ids)])
    return path


def table(assignment: str, results: list[StudentResult], warning: str = "") -> str:
    """The score table printed on the instructor's terminal: one row per student (ids
    cleaned, one line each: they cannot break a row or drive the terminal)."""
    rows = [(clean(r.student, one_line=True), r) for r in sorted(results,
                                                                  key=lambda r: r.student)]
    width = max([len("student"), *(len(name) for name, _ in rows)])
    lines = [f"{assignment}", *([f"  {warning}"] if warning else []),
             f"  {'student':<{width}}  {'score':>7}  lost checks"]
    for name, r in rows:
        score = fraction(r.score, r.max_score)
        lost = ", ".join(r.lost()) or "-"
        lines.append(f"  {name:<{width}}  {score:>7}  {lost}")
    return "\n".join(lines)


# --- feedback a student reads, and the class summary -------------------------------------
