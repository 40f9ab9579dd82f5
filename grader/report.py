"""Reports: Gradescope-style ``results.json`` per student, ``grades.csv``, a score table."""

from __future__ import annotations

import csv
import html
import json
import re
import string
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


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


# --- student text in reports --------------------------------------------------------------
#
# Whatever a student's code controls (exception messages and explanations in a check's
# output, thread and process names in timelines, file names in a note, the student id,
# which is a folder name) reaches reports other people read: the class summary, the
# table on the instructor's terminal. None of it may add structure there (a heading, a
# link, HTML, a fake score) or drive the terminal, so every piece passes :func:`clean`,
# then html.escape in HTML, and in markdown :func:`md_fence` (blocks) or :func:`md_inline`
# (within a line). results.json keeps the text as it was (JSON escapes it; tools read it);
# grades.csv has the cleaned ids (the csv module quotes the rest), and an id that a
# spreadsheet would take for a formula (=, +, -, @ first) starts with an apostrophe.

# ANSI escape sequences: CSI (7- and 8-bit) up to its final byte; OSC, DCS, SOS, PM and
# APC strings up to BEL or ST (a string that another ESC or introducer interrupts is not
# one: its introducer goes, its text stays, and no input makes the search quadratic); any
# other ESC sequence (intermediates, then a final byte).
_ANSI = re.compile(r"""
    (?:\x1b\[|\x9b) [0-?]* [ -/]* [@-~]
  | (?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f]) [^\x07\x1b\x90\x98\x9c-\x9f]* (?:\x07|\x1b\\|\x9c)
  | \x1b [ -/]* [0-~]
""", re.VERBOSE)
# C0 but newline and tab, DEL, C1; and the bidirectional controls, which reorder what a
# terminal or browser shows after them (a score in the same table row, say).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e"
                      r"\u2066-\u2069]")
# Lone surrogates: a folder name that is not UTF-8 (os.fsdecode's surrogateescape); no
# encoder can write them.
_SURROGATE = re.compile(r"[\ud800-\udfff]")
# Characters with a meaning inside a line of markdown (CommonMark, GFM and common
# extensions): code, emphasis, links and images, HTML and entities, strikethrough, table
# cells, math, attributes, a heading's closing #s.
_MD_INLINE = re.compile(r"([\\`*_{}\[\]<>#!|~&$^])")
# At the start of a line, any punctuation may start a block (- + * = list items, setext
# underlines, thematic breaks; : definitions...): escaped there too.
_MD_LEADING = set(string.punctuation) - {"\\"}


def clean(text: str, one_line: bool = False) -> str:
    """``text`` without ANSI escape sequences, control characters (C0 but newline and tab,
    DEL, C1) or bidirectional controls; carriage returns and Unicode line separators
    become newlines, lone surrogates U+FFFD. ``one_line``: newlines and tabs become
    spaces too. What is left shows as itself on a terminal and encodes as UTF-8."""
    text = _ANSI.sub("", str(text))
    text = text.replace("\r\n", "\n").translate({0x0D: "\n", 0x2028: "\n", 0x2029: "\n"})
    text = _SURROGATE.sub("\ufffd", _CONTROL.sub("", text))
    return text.translate({0x0A: " ", 0x09: " "}) if one_line else text


def md_fence(text: str, info: str = "text") -> str:
    """``text`` (cleaned) as a fenced markdown code block that it cannot close: the fence
    is a run of backticks longer than any in the text (at least three), so everything in
    it, headings, HTML, links, other fences, shows as the text it is."""
    text = clean(text)
    longest = max((len(run) for run in re.findall("`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{info}\n{text}\n{fence}"


def md_inline(text: str) -> str:
    """``text`` (cleaned, on one line) safe anywhere in a line of markdown, its start
    included: every character with a meaning within a line is backslash-escaped, and so
    is whatever would start a block at the start of a line (leading spaces are dropped).
    It renders as the text it is; it never starts a heading, a list, a link or HTML."""
    text = _MD_INLINE.sub(r"\\\1", clean(text, one_line=True).lstrip())
    if text and text[0] in _MD_LEADING:
        return "\\" + text
    return re.sub(r"^(\d+)([.)])", r"\1\\\2", text)  # "1." or "1)": an ordered list


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

def _timelines(result: StudentResult) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    return [(c, t) for c in result.checks for t in c.get("timelines") or []
            if t.get("bars")]


def timeline_text(t: dict[str, Any], width: int = 48) -> list[str]:
    """A timeline as text: one row per lane, ``#`` where a bar covers the time. Lanes are
    named by the student's code (thread and process names): cleaned, one line each; the
    caller still fences the rows (:func:`md_fence`)."""
    end = max(b["end"] for b in t["bars"]) or 1e-9
    pad = max(len(clean(lane, one_line=True)) for lane in t["lanes"])
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
        rows.append(f"{clean(lane, one_line=True):<{pad}} |{''.join(cells)}|")
    rows.append(f"{'':<{pad}}  0 s{'':>{width - 10}}{end:6.2f} s")
    return rows


def timeline_svg(t: dict[str, Any]) -> str:
    """A timeline as an inline SVG picture (lanes down, time across); every text in it
    cleaned and escaped (lanes and labels come from the student's code)."""
    def e(text: str) -> str:
        return html.escape(clean(text, one_line=True))

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
    """What the student reads: every lost check with its explanation, then what passed.
    Student text cannot restructure it: explanations and timelines are fenced
    (:func:`md_fence`), the student id and the note escaped (:func:`md_inline`)."""
    lines = [f"# {assignment}: feedback for {md_inline(result.student)}", "",
             f"**Score: {fraction(result.score, result.max_score)}**", ""]
    if result.note:
        lines += [md_inline(result.note), ""]
    if result.kit_errors:
        lines += ["The grader could not grade this submission; your instructor has been "
                  "told. This is not your fault.", ""]
    lost = [c for c in result.checks if not c["passed"]]
    passed = [c for c in result.checks if c["passed"]]
    if lost:
        lines += [f"## Lost points ({len(lost)} of {len(result.checks)} checks)", ""]
        for c in lost:
            lines += [f"### {c['name']} (0/{_num(c['max_score'])})", ""]
            lines += [md_fence(clean(c["output"]).rstrip() or "(no explanation)"), ""]
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
            lines += [f"{c['name']}: {clean(t['title'], one_line=True)}.", "",
                      md_fence("\n".join(timeline_text(t))), ""]
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
    """feedback_md as a page; every student text cleaned, then escaped."""
    e = html.escape
    student = clean(result.student, one_line=True)
    parts = [f"<h1>{e(assignment)}: feedback for {e(student)}</h1>",
             f"<p><strong>Score: {fraction(result.score, result.max_score)}</strong></p>"]
    if result.note:
        parts.append(f"<p>{e(clean(result.note))}</p>")
    if result.kit_errors:
        parts.append("<p>The grader could not grade this submission; your instructor has "
                     "been told. This is not your fault.</p>")
    lost = [c for c in result.checks if not c["passed"]]
    if lost:
        parts.append(f"<h2>Lost points ({len(lost)} of {len(result.checks)} checks)</h2>")
        for c in lost:
            parts.append(f"<h3 class=\"lost\">{e(c['name'])} (0/{_num(c['max_score'])})</h3>"
                         f"<pre>{e(clean(c['output']).rstrip() or '(no explanation)')}</pre>")
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
            parts.append(f"<p>{e(c['name'])}: {e(clean(t['title'], one_line=True))}.</p>"
                         f"{timeline_svg(t)}")
    return _html_page(f"{assignment}: {student}", "\n".join(parts))


def write_feedback(out_dir: Path, assignment: str, result: StudentResult) -> None:
    folder = out_dir / result.student
    folder.mkdir(parents=True, exist_ok=True)
    _write(folder / "feedback.md", feedback_md(assignment, result))
    _write(folder / "feedback.html", feedback_html(assignment, result))


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
