"""A student's feedback: ``feedback.md`` and ``feedback.html`` (the score, every lost
check with its explanation, the checks that passed, timelines of what ran when)."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from grader.reports.results import StudentResult, _num, _write, fraction
from grader.reports.text import clean, md_fence, md_inline


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
