"""The class's summary: ``summary.md`` and ``summary.html`` (the score histogram, mean
and median, the most common mistakes)."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from grader.reports.feedback import _html_page
from grader.reports.results import ERROR_FILE, StudentResult, _num, _write
from grader.reports.text import clean, md_inline


def _summary(results: list[StudentResult]) -> dict[str, Any]:
    graded = [r for r in results if not r.kit_errors]
    scores = sorted(r.score for r in graded)
    top = max((r.max_score for r in graded), default=0)
    counts: dict[float, int] = {}
    for s in scores:
        counts[s] = counts.get(s, 0) + 1
    names: dict[str, str] = {}
    lost: dict[str, int] = {}
    for r in graded:
        for c in r.checks:
            names.setdefault(c["id"], c["name"])
            if not c["passed"]:
                lost[c["id"]] = lost.get(c["id"], 0) + 1
    mistakes = sorted(lost.items(), key=lambda kv: (-kv[1], kv[0]))
    mean = sum(scores) / len(scores) if scores else 0.0
    mid = len(scores) // 2
    median = ((scores[mid] if len(scores) % 2 else (scores[mid - 1] + scores[mid]) / 2)
              if scores else 0.0)
    return {"graded": graded, "scores": scores, "max": top, "histogram": sorted(counts.items()),
            "mistakes": [(i, names[i], n) for i, n in mistakes], "mean": mean,
            "median": median, "errors": sorted(r.student for r in results if r.kit_errors),
            "full": sum(1 for r in graded if r.score == r.max_score)}


def summary_md(assignment: str, results: list[StudentResult], warning: str = "") -> str:
    s = _summary(results)
    n = len(s["graded"])
    lines = [f"# {assignment}: class summary", "",
             *([f"**{warning}**", ""] if warning else []),
             f"{n} submissions graded; {s['full']} with full marks; mean "
             f"{s['mean']:.2f}, median {_num(s['median'])} of {_num(s['max'])}.", ""]
    if s["errors"]:
        lines += [f"The kit could not grade: {', '.join(map(md_inline, s['errors']))} (why: "
                  f"{ERROR_FILE} in their folders).", ""]
    lines += ["## Scores", "", "| score | students | |", "|---:|---:|---|"]
    widest = max((c for _, c in s["histogram"]), default=1)
    for score, count in s["histogram"]:
        bar = "#" * max(1, round(20 * count / widest))
        lines.append(f"| {_num(score)} | {count} | `{bar}` |")
    lines += ["", "## Most common mistakes", ""]
    if s["mistakes"]:
        lines += ["| check | lost by | share |", "|---|---:|---:|"]
        for _, name, count in s["mistakes"]:
            lines.append(f"| {name} | {count} | {100 * count / n:.0f} % |")
    else:
        lines.append("Nobody lost a point.")
    lines.append("")
    return "\n".join(lines)


def summary_html(assignment: str, results: list[StudentResult], warning: str = "") -> str:
    e = html.escape
    s = _summary(results)
    n = len(s["graded"])
    parts = [f"<h1>{e(assignment)}: class summary</h1>",
             *([f"<p class=\"lost\"><strong>{e(warning)}</strong></p>"] if warning else []),
             f"<p>{n} submissions graded; {s['full']} with full marks; mean "
             f"{s['mean']:.2f}, median {_num(s['median'])} of {_num(s['max'])}.</p>"]
    if s["errors"]:
        parts.append(f"<p class=\"lost\">The kit could not grade: "
                     f"{e(', '.join(clean(x, one_line=True) for x in s['errors']))} (why: "
                     f"{ERROR_FILE} in their folders).</p>")
    widest = max((c for _, c in s["histogram"]), default=1)
    rows = "".join(f"<tr><td>{_num(score)}</td><td>{count}</td><td><span class=\"bar\" "
                   f"style=\"width:{12 * count / widest:.2f}rem\"></span></td></tr>"
                   for score, count in s["histogram"])
    parts.append(f"<h2>Scores</h2><table><tr><th>score</th><th>students</th><th></th></tr>"
                 f"{rows}</table>")
    if s["mistakes"]:
        rows = "".join(f"<tr><td>{e(name)}</td><td>{count}</td>"
                       f"<td>{100 * count / n:.0f} %</td></tr>"
                       for _, name, count in s["mistakes"])
        parts.append(f"<h2>Most common mistakes</h2><table><tr><th>check</th>"
                     f"<th>lost by</th><th>share</th></tr>{rows}</table>")
    else:
        parts.append("<h2>Most common mistakes</h2><p>Nobody lost a point.</p>")
    return _html_page(f"{assignment}: class summary", "\n".join(parts))


def write_summary(out_dir: Path, assignment: str, results: list[StudentResult],
                  warning: str = "") -> None:
    _write(out_dir / "summary.md", summary_md(assignment, results, warning))
    _write(out_dir / "summary.html", summary_html(assignment, results, warning))
