"""Reports: Gradescope-style ``results.json`` per student, ``grades.csv``, a score table."""

from __future__ import annotations

import csv
import html
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


def table(assignment: str, results: list[StudentResult], warning: str = "") -> str:
    width = max([len("student"), *(len(r.student) for r in results)])
    lines = [f"{assignment}", *([f"  {warning}"] if warning else []),
             f"  {'student':<{width}}  {'score':>7}  lost checks"]
    for r in sorted(results, key=lambda r: r.student):
        score = fraction(r.score, r.max_score)
        lost = ", ".join(r.lost()) or "-"
        lines.append(f"  {r.student:<{width}}  {score:>7}  {lost}")
    return "\n".join(lines)


# --- feedback a student reads, and the class summary -------------------------------------

def _timelines(result: StudentResult) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    return [(c, t) for c in result.checks for t in c.get("timelines") or []
            if t.get("bars")]


def timeline_text(t: dict[str, Any], width: int = 48) -> list[str]:
    """A timeline as text: one row per lane, ``#`` where a bar covers the time."""
    end = max(b["end"] for b in t["bars"]) or 1e-9
    pad = max(len(lane) for lane in t["lanes"])
    rows = []
    for lane in t["lanes"]:
        cells = [" "] * width
        for b in t["bars"]:
            if b["lane"] == lane:
                # Both ends rounded down: bars that do not overlap in time never share
                # a column (a bar too short for a column still gets one).
                a = min(width - 1, int(b["start"] / end * width))
                z = max(a + 1, min(width, int(b["end"] / end * width)))
                cells[a:z] = "#" * (z - a)
        rows.append(f"{lane:<{pad}} |{''.join(cells)}|")
    rows.append(f"{'':<{pad}}  0 s{'':>{width - 10}}{end:6.2f} s")
    return rows


def timeline_svg(t: dict[str, Any]) -> str:
    """A timeline as an inline SVG picture (lanes down, time across)."""
    e = html.escape
    end = max(b["end"] for b in t["bars"]) or 1e-9
    label_w, plot_w, row_h = 190, 480, 22
    height = row_h * len(t["lanes"]) + 24
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{label_w + plot_w + 10}" '
             f'height="{height}" role="img" aria-label="{e(t["title"])}">']
    for i, lane in enumerate(t["lanes"]):
        y = i * row_h
        parts.append(f'<text x="0" y="{y + 15}" font-size="12">{e(lane)}</text>'
                     f'<line x1="{label_w}" x2="{label_w + plot_w}" y1="{y + 11}" '
                     f'y2="{y + 11}" stroke="#ddd"/>')
        for b in t["bars"]:
            if b["lane"] == lane:
                x = label_w + b["start"] / end * plot_w
                w = max(2.0, (b["end"] - b["start"]) / end * plot_w)
                parts.append(f'<rect x="{x:.1f}" y="{y + 3}" width="{w:.1f}" height="16" '
                             f'fill="#4a7bd0"><title>{e(lane)}, {e(b["label"])}: '
                             f'{b["start"]:.4f} s to {b["end"]:.4f} s</title></rect>')
    y = row_h * len(t["lanes"]) + 16
    parts.append(f'<text x="{label_w}" y="{y}" font-size="11">0 s</text>'
                 f'<text x="{label_w + plot_w}" y="{y}" font-size="11" '
                 f'text-anchor="end">{end:.2f} s</text></svg>')
    return "".join(parts)


def feedback_md(assignment: str, result: StudentResult) -> str:
    """What the student reads: every lost check with its explanation, then what passed."""
    lines = [f"# {assignment}: feedback for {result.student}", "",
             f"**Score: {fraction(result.score, result.max_score)}**", ""]
    if result.note:
        lines += [result.note, ""]
    if result.kit_errors:
        lines += ["The grader could not grade this submission; your instructor has been "
                  "told. This is not your fault.", ""]
    lost = [c for c in result.checks if not c["passed"]]
    passed = [c for c in result.checks if c["passed"]]
    if lost:
        lines += [f"## Lost points ({len(lost)} of {len(result.checks)} checks)", ""]
        for c in lost:
            lines += [f"### {c['name']} (0/{_num(c['max_score'])})", ""]
            lines += ["```text", c["output"].rstrip() or "(no explanation)", "```", ""]
    elif result.checks:
        lines += ["Every check passed.", ""]
    if passed:
        lines += ["## Passed", ""]
        lines += [f"- {c['name']} ({_num(c['max_score'])}/{_num(c['max_score'])})"
                  for c in passed]
        lines.append("")
    pictures = _timelines(result)
    if pictures:
        lines += ["## What your program did", ""]
        for c, t in pictures:
            lines += [f"{c['name']}: {t['title']}.", "", "```text", *timeline_text(t), "```",
                      ""]
    return "\n".join(lines)


def _html_page(title: str, body: str) -> str:
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{html.escape(title)}</title><style>"
            "body{font-family:system-ui,sans-serif;max-width:52rem;margin:2rem auto;"
            "padding:0 1rem;line-height:1.45}pre{background:#f6f6f6;padding:.8rem;"
            "overflow-x:auto;white-space:pre-wrap}.lost{color:#a40000}.ok{color:#1a6b1a}"
            "table{border-collapse:collapse}td,th{padding:.2rem .6rem;text-align:left}"
            ".bar{background:#4a7bd0;display:inline-block;height:.9rem}"
            f"</style></head><body>\n{body}\n</body></html>\n")


def feedback_html(assignment: str, result: StudentResult) -> str:
    e = html.escape
    parts = [f"<h1>{e(assignment)}: feedback for {e(result.student)}</h1>",
             f"<p><strong>Score: {fraction(result.score, result.max_score)}</strong></p>"]
    if result.note:
        parts.append(f"<p>{e(result.note)}</p>")
    if result.kit_errors:
        parts.append("<p>The grader could not grade this submission; your instructor has "
                     "been told. This is not your fault.</p>")
    lost = [c for c in result.checks if not c["passed"]]
    if lost:
        parts.append(f"<h2>Lost points ({len(lost)} of {len(result.checks)} checks)</h2>")
        for c in lost:
            parts.append(f"<h3 class=\"lost\">{e(c['name'])} (0/{_num(c['max_score'])})</h3>"
                         f"<pre>{e(c['output'].rstrip() or '(no explanation)')}</pre>")
    elif result.checks:
        parts.append("<p class=\"ok\">Every check passed.</p>")
    passed = [c for c in result.checks if c["passed"]]
    if passed:
        items = "".join(f"<li class=\"ok\">{e(c['name'])} ({_num(c['max_score'])}/"
                        f"{_num(c['max_score'])})</li>" for c in passed)
        parts.append(f"<h2>Passed</h2><ul>{items}</ul>")
    pictures = _timelines(result)
    if pictures:
        parts.append("<h2>What your program did</h2>")
        for c, t in pictures:
            parts.append(f"<p>{e(c['name'])}: {e(t['title'])}.</p>{timeline_svg(t)}")
    return _html_page(f"{assignment}: {result.student}", "\n".join(parts))


def write_feedback(out_dir: Path, assignment: str, result: StudentResult) -> None:
    folder = out_dir / result.student
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "feedback.md").write_text(feedback_md(assignment, result))
    (folder / "feedback.html").write_text(feedback_html(assignment, result))


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
        lines += [f"The kit could not grade: {', '.join(s['errors'])} (see their "
                  "results.json).", ""]
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
                     f"{e(', '.join(s['errors']))}.</p>")
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
    (out_dir / "summary.md").write_text(summary_md(assignment, results, warning))
    (out_dir / "summary.html").write_text(summary_html(assignment, results, warning))
