"""Student text cannot restructure a report: explanations, thread names, file names and
student ids reach feedback.md/.html, summary.md/.html, grades.csv and the score table as
text only (no heading, link, HTML or terminal escape of theirs). Plain unit tests of
grader.reports, no sandbox."""

from __future__ import annotations

import html
import os
import re
import sys

import pytest

from helpers import ROOT

sys.path.insert(0, str(ROOT))

from grader import reports  # noqa: E402
from grader.reports import StudentResult  # noqa: E402

pytestmark = pytest.mark.fast  # (no sandbox: the fast layer)

A = "thread_counter"
# An exception message that tries everything: close the fence (with three and with four
# backticks), a fake score heading, HTML, a link, ANSI (colour, window title) and raw
# control characters.
HOSTILE = ("before\n```\nafter the fence\n````\n\n# Score: 100/100\n"
           "<script>alert(1)</script>\n<img src=x onerror=alert(1)>\n[click](http://evil)\n"
           "\x1b[31mred\x1b[0m\n\x1b]0;title\x07\n\x00\x07\x9b\nthe end")
# What of it a reader may see: the same lines, without escapes and control characters.
HOSTILE_SHOWN = ["before", "```", "after the fence", "````", "", "# Score: 100/100",
                 "<script>alert(1)</script>", "<img src=x onerror=alert(1)>",
                 "[click](http://evil)", "red", "", "", "the end"]
SURROGATE = os.fsdecode(b"stu\xffdent")
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _check(cid: str, name: str, passed: bool, output: str = "", **more) -> dict:
    return {"id": cid, "name": name, "max_score": 2, "passed": passed,
            "output": "" if passed else output, "internal_error": False, "spans": [],
            "timelines": [], **more}


def _result(student: str, output: str = HOSTILE) -> StudentResult:
    """A lost check explained by ``output``, a passed one with a timeline whose lanes and
    labels (thread names, task values: the student's) are hostile too."""
    timeline = {"title": "run_workers(20): when the worker threads were inside worker()",
                "lanes": ["Thread-1 (worker)", "```\n# lane <script>x</script>\x1b[2J"],
                "bars": [{"lane": "Thread-1 (worker)", "label": "worker", "start": 0.0,
                          "end": 0.5},
                         {"lane": "```\n# lane <script>x</script>\x1b[2J",
                          "label": "<img src=x onerror=alert(2)>", "start": 0.25,
                          "end": 1.0}]}
    return StudentResult(student, [
        _check("race_free", "no update is lost", False, output),
        _check("overlap", "the threads really ran at the same time", True,
               timelines=[timeline]),
    ], 1.0)


def _fences(md: str) -> tuple[list[str], list[list[str]]]:
    """(the lines outside fenced code blocks, each block's lines), as CommonMark reads
    backtick fences: a block closes at a line of only backticks (up to 3 spaces before,
    spaces after) at least as long as its opening fence, or at the end."""
    outside: list[str] = []
    blocks: list[list[str]] = []
    fence = ""
    for line in md.split("\n"):
        if fence:
            if re.fullmatch(r" {0,3}(`+) *", line) and len(line.strip()) >= len(fence):
                fence = ""
            else:
                blocks[-1].append(line)
            continue
        opening = re.match(r" {0,3}(`{3,})[^`]*$", line)
        if opening:
            fence = opening.group(1)
            blocks.append([])
        else:
            outside.append(line)
    return outside, blocks


def _write_all(tmp_path, results: list[StudentResult]) -> dict[str, str]:
    """Every report of ``results``, each file checked to be UTF-8: path -> text."""
    for r in results:
        reports.write_student(tmp_path, r, "header")
        reports.write_feedback(tmp_path, A, r)
    reports.write_csv(tmp_path, results)
    reports.write_summary(tmp_path, A, results, "")
    return {str(p.relative_to(tmp_path)): p.read_bytes().decode("utf-8")
            for p in sorted(tmp_path.rglob("*")) if p.is_file()}


@pytest.mark.timeout(30)
def test_an_explanation_stays_inside_one_fence(tmp_path):
    _write_all(tmp_path, [_result("ben")])
    md = (tmp_path / "ben" / "feedback.md").read_text(encoding="utf-8")
    outside, blocks = _fences(md)
    # The whole explanation is one block, exactly as shown; the timeline another.
    assert blocks[0] == HOSTILE_SHOWN
    assert len(blocks) == 2 and blocks[1][1].startswith("``` # lane <script>x</script> |")
    headings = [line for line in outside if line.lstrip().startswith("#")]
    assert headings == ["# thread_counter: feedback for ben", "## Lost points (1 of 2 checks)",
                        "### no update is lost (0/2)", "## Passed",
                        "## What your program did"]
    assert "**Score: 2/4**" in outside
    for line in outside:
        assert "<script" not in line and "<img" not in line and "](" not in line, line


@pytest.mark.timeout(30)
def test_rendered_feedback_has_only_the_kits_structure(tmp_path):
    """feedback.md as a markdown renderer shows it: one h1, the kit's headings, no
    element of the student's (script, img, link), no fake score heading."""
    mistune = pytest.importorskip("mistune")
    _write_all(tmp_path, [_result("# Bob <b>"), _result(SURROGATE)])
    for student in ("# Bob <b>", SURROGATE):
        md = (tmp_path / student / "feedback.md").read_text(encoding="utf-8")
        page = mistune.html(md)
        assert re.findall(r"<(script|img|a|b)[\s>]", page) == [], page
        assert [h for h, _ in re.findall(r"<(h\d)>(.*?)</\1>", page)] == [
            "h1", "h2", "h3", "h2", "h2"]
        assert "<h1>Score" not in page and "&lt;script&gt;alert(1)" in page


@pytest.mark.timeout(30)
def test_no_escape_or_control_character_in_any_report(tmp_path):
    results = [_result("ben"), _result("eve\x1b[2J\x1b]0;owned\x07\r\x9b5m"),
               StudentResult("kit\x07err", [], 0.5, kit_errors=["crash \x1b[31m"])]
    files = _write_all(tmp_path, results)
    assert {"summary.md", "summary.html", "grades.csv", "ben/feedback.md",
            "ben/feedback.html"} <= set(files)
    for name, text in files.items():
        if name.endswith(".csv"):
            text = text.replace("\r\n", "\n")  # the csv module's line ends (RFC 4180)
        assert not CONTROL.findall(text), (name, CONTROL.findall(text))
    table = reports.table(A, results)
    assert not CONTROL.findall(table)
    # One line per student, each its own row: a newline or CR in an id breaks none.
    assert len(table.splitlines()) == 2 + len(results)
    assert "  eve  " in table


@pytest.mark.timeout(30)
def test_html_reports_escape_student_text(tmp_path):
    results = [_result("ben"), _result("<img src=x onerror=alert(3)>"),
               StudentResult("<script>x", [], 0.5, kit_errors=["boom"])]
    files = _write_all(tmp_path, results)
    pages = {name: text for name, text in files.items() if name.endswith(".html")}
    assert "summary.html" in pages and len(pages) == 4
    for name, page in pages.items():
        body = page.split("</style>", 1)[1]
        assert "<script" not in body and "<img" not in body, name
    ben = pages["ben/feedback.html"]
    assert html.escape("<script>alert(1)</script>") in ben
    assert "&lt;img src=x onerror=alert(2)&gt;" in ben  # the bar's label, in the SVG
    assert "# lane &lt;script&gt;" in ben and "\x1b" not in ben
    assert "The kit could not grade: &lt;script&gt;x (why: kit_error.txt" in pages["summary.html"]


@pytest.mark.timeout(30)
def test_awkward_student_ids_are_written_and_escaped(tmp_path):
    results = [_result("# Bob <b>"), _result(SURROGATE),
               StudentResult("[x](http:evil) #", [], 0.5, kit_errors=["boom"])]
    files = _write_all(tmp_path, results)  # would raise UnicodeEncodeError
    shown = SURROGATE.replace("\udcff", "\ufffd")
    bob = files["# Bob <b>/feedback.md"]
    assert bob.startswith("# thread_counter: feedback for \\# Bob \\<b\\>\n")
    assert "<b>" not in bob
    assert "feedback for # Bob &lt;b&gt;</h1>" in files["# Bob <b>/feedback.html"]
    assert "<title>thread_counter: # Bob &lt;b&gt;</title>" in files["# Bob <b>/feedback.html"]
    # Its folder keeps the name it had (the same bytes); the reports show U+FFFD.
    assert (tmp_path / os.fsdecode(b"stu\xffdent") / "results.json").is_file()
    assert f"# thread_counter: feedback for {shown}\n" in files[f"{SURROGATE}/feedback.md"]
    assert f"feedback for {shown}</h1>" in files[f"{SURROGATE}/feedback.html"]
    summary = files["summary.md"]
    assert "The kit could not grade: \\[x\\](http:evil) \\# (why: kit_error.txt" in summary
    assert "[x](" not in summary
    assert files["[x](http:evil) #/kit_error.txt"] == "boom\n"  # (for the instructor)
    assert f"\n{shown},2,4,0,2\r\n" in files["grades.csv"]
    table = reports.table(A, results)
    table.encode("utf-8")
    assert f"  {shown}  " in table and "  # Bob <b>  " in table


@pytest.mark.timeout(30)
def test_md_fence_is_longer_than_any_backtick_run():
    assert reports.md_fence("plain") == "```text\nplain\n```"
    assert reports.md_fence("a ``` b") == "````text\na ``` b\n````"
    block = reports.md_fence("x\n`````\n` y ``")
    assert block.startswith("``````text\n") and block.endswith("\n``````")
    outside, blocks = _fences(block + "\n# after")
    assert blocks == [["x", "`````", "` y ``"]] and outside == ["# after"]


@pytest.mark.timeout(30)
def test_clean_removes_escapes_and_control_characters():
    c = reports.clean
    assert c("\x1b[31mred\x1b[0m") == "red"
    assert c("\x1b]0;title\x07a\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\") == "alink"
    assert c("\x1b(Ba\x1b=b\x1bPq#0\x1b\\c\x9b1;2Hd") == "abcd"
    assert c("\x00\x07\x9b") == "" and c("\x7f\x85\x9f") == ""
    assert c("keep\ttab\nand newline") == "keep\ttab\nand newline"
    assert c("a\r\nb\rc") == "a\nb\nc" and c("a\r\nb\tc", one_line=True) == "a b c"
    assert c("evil\u202e01/01") == "evil01/01"  # no bidi reordering of what follows
    assert c(SURROGATE) == "stu\ufffddent"
    assert c("ünïcödé, 汉字 ✓") == "ünïcödé, 汉字 ✓"
    # No input makes it slow (the introducers of unfinished strings, repeated).
    assert c("\x1b]" * 100_000 + "\x9d" * 100_000 + "ok") == "ok"


@pytest.mark.timeout(30)
@pytest.mark.parametrize("text", ["# Score: 100/100", "<script>alert(1)</script>",
                                  "[click](http://evil)", "![i](x)", "- item", "1. item",
                                  "2) item", "===", "  > quote", "`code`", "a_b*c*~~d~~",
                                  "&lt;", "x\n# y", "\x1b[1mbold"])
def test_md_inline_escapes_what_has_a_meaning(text):
    safe = reports.md_inline(text)
    assert "\n" not in safe and not CONTROL.findall(safe)
    # Unescaped, it is the text itself (cleaned, on one line).
    assert re.sub(r"\\(.)", r"\1", safe) == reports.clean(text, one_line=True).lstrip()
    # Nothing with a meaning is left unescaped, and it cannot start a block.
    assert not re.search(r"(?<!\\)[`*_\[\]<>#!|~&$]", safe), safe
    assert not re.match(r"[-+=>:#*]|\d+[.)]", safe), safe


@pytest.mark.timeout(30)
def test_an_id_a_spreadsheet_would_run_as_a_formula_is_text_in_grades_csv(tmp_path):
    """Student ids come from folder names (nbgrader and Classroom ids are the students'
    own): one that starts like a formula stays text when grades.csv is opened."""
    import csv

    evil = '=HYPERLINK("http://evil","x")'
    reports.write_csv(tmp_path, [_result(evil), _result("@SUM(1)"), _result("ann")])
    with open(tmp_path / "grades.csv", newline="", encoding="utf-8") as f:
        rows = {row["student"] for row in csv.DictReader(f)}
    assert rows == {"'" + evil, "'@SUM(1)", "ann"}
