"""What a sandbox sends back is parsed within bounds (``grader.inside.bounded``): the
trusted side's memory and stack do not depend on what a submission writes. Fast: no
sandbox."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from grader.checks.judge import describe
from grader.inside import bounded
from grader.inside.output import RESULT_BYTES, collect
from grader.inside.probes import MAX_RECORDS, RECORD_BYTES
from grader.sandbox.runs import _make_run
from helpers import ROOT

pytestmark = [pytest.mark.timeout(60), pytest.mark.fast]  # (fast: no sandbox)


@pytest.mark.parametrize("text", ['{"a": [1, 2, {"b": "x]]]\\"]"}]}', '"[[[["',
                                  "[" * 64 + "]" * 64, '{"k": [], "m": {}}'],
                         ids=["brackets-in-strings", "string", "64-deep", "empty"])
def test_documents_within_the_bounds_parse_as_json_does(text):
    assert bounded.loads(text) == json.loads(text)


@pytest.mark.parametrize(("text", "says"), [
    ("[" * 65 + "]" * 65, "nested more than 64 deep"),
    ("[" * 250_000 + "]" * 250_000, "more than 200,000 values"),
    ("[" * 30_000 + "]" * 30_000, "nested more than 64 deep"),
    ("[" + "{}," * 300_000 + "{}]", "more than 200,000 values"),
], ids=["65-deep", "250000-deep", "30000-deep", "300000-objects"])
def test_documents_over_a_bound_are_refused_saying_which(text, says):
    with pytest.raises(bounded.TooLarge, match=says):
        bounded.loads(text)


def test_no_input_makes_the_parser_slow():
    """Inputs that make a string-skipping regex quadratic: one pass each (pytest-timeout
    ends the test if not)."""
    for text in ('"\\' * 4_000_000, '"' + "a" * 16_000_000, "[" * 8_000_000):
        with pytest.raises(ValueError):
            bounded.loads(text)


def _left(tmp_path, result: str | None = None, records: dict[str, str] | None = None):
    out = tmp_path / "out"
    (out / "probes").mkdir(parents=True)
    if result is not None:
        (out / "result.json").write_text(result)
    for name, text in (records or {}).items():
        (out / "probes" / name).write_text(text)
    return collect(str(out))


@pytest.mark.parametrize(("result", "records", "says"), [
    ("[" * 30_000 + "]" * 30_000, {}, "its result: nested more than 64 deep"),
    (" " * (RESULT_BYTES + 1), {}, "its result: more than 8 MiB"),
    (None, {"rec-x-1.json": "[" * 1000 + "]" * 1000}, "a probe record: nested"),
    (None, {"rec-x-1.json": " " * (RECORD_BYTES + 1)}, "more than 64 KiB"),
    (None, {f"rec-x-{i}.json": "[" + "1," * 30_000 + "1]" for i in range(8)},
     "more than 200,000 values in all"),
], ids=["deep-result", "big-result", "deep-record", "big-record", "many-values"])
def test_a_run_over_a_bound_is_judged_oversized_and_the_student_told(tmp_path, result,
                                                                        records, says):
    left = _left(tmp_path, result, records)
    assert says in left["oversized"]
    run = _make_run("fan_out", "fork", {}, left, False, 0, 1.0, None, None, False)
    assert run.status == "oversized" and not run.finished and run.records == []
    text = describe(run, "fanout")
    assert "more data for the grader than it reads" in text and says in text


def test_more_records_than_the_grader_reads(tmp_path):
    left = _left(tmp_path, None, {f"rec-x-{i}.json": "{}" for i in range(MAX_RECORDS + 1)})
    assert "more than 20,000 probe records" in left["oversized"]


MEMORY_BOUND = 150 * 2**20  # the trusted side's bound per check, stated in docs/design.md

WORST = r"""
import os, resource, sys
from grader.inside.output import collect
out = sys.argv[1]
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
left = collect(out)
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(after - before, left.get("oversized", ""))
"""


@pytest.mark.parametrize("kind", ["values", "strings"])
def test_what_the_trusted_side_holds_for_one_check_is_bounded(tmp_path, kind):
    """The worst a check's outputs can make the grader hold (just within every bound:
    the result and the records at their caps of values, or of text) stays under
    MEMORY_BOUND. Measured in a fresh interpreter (peak RSS growth)."""
    out = tmp_path / "out"
    (out / "probes").mkdir(parents=True)
    if kind == "values":  # empty objects, as many as the bounds let through (each {},
        # counts twice: its brace and its comma)
        (out / "result.json").write_text("[" + "{}," * 99_990 + "{}]")
        for i in range(100):
            (out / "probes" / f"rec-x-{i}.json").write_text("[" + "{}," * 990 + "{}]")
    else:  # the largest result and 64 MiB of records' text (init copies out no more)
        (out / "result.json").write_text(json.dumps({"s": "x" * (RESULT_BYTES - 20)}))
        text = json.dumps(["y" * (RECORD_BYTES - 20)])
        for i in range(1024):
            (out / "probes" / f"rec-x-{i}.json").write_text(text)
    done = subprocess.run([sys.executable, "-c", WORST, str(out)], cwd=ROOT,
                          capture_output=True, text=True, timeout=50,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr
    grown, oversized = done.stdout.split(" ", 1)
    assert oversized.strip() == ""  # (just within the bounds: everything was parsed)
    assert int(grown) < MEMORY_BOUND, int(grown) / 2**20


def test_a_submission_enters_the_sandbox_within_its_bounds(tmp_path):
    """What sandboxes get of a submission (grader.sandbox.runs.submission_files): its
    top-level Python files, at most FILES_LIMIT of them and TOTAL_LIMIT bytes together,
    in name order; the student is told of each one left out (the launcher's copy on a
    tmpfs has room for exactly that)."""
    from grader.sandbox.runs import FILE_LIMIT, FILES_LIMIT, TOTAL_LIMIT, submission_files

    for i in range(FILES_LIMIT + 5):
        (tmp_path / f"m{i:03d}.py").write_text("X = 1\n")
    (tmp_path / "notes.txt").write_text("not Python")
    files, left_out = submission_files(tmp_path)
    assert [p.name for p in files] == [f"m{i:03d}.py" for i in range(FILES_LIMIT)]
    assert left_out == [f"m{i:03d}.py was left out: a submission may have {FILES_LIMIT} "
                        f"Python files." for i in range(FILES_LIMIT, FILES_LIMIT + 5)]
    for old in tmp_path.iterdir():
        old.unlink()
    for name in "abcde":
        (tmp_path / f"{name}.py").write_bytes(b"#" * FILE_LIMIT)
    files, left_out = submission_files(tmp_path)
    assert sum(p.stat().st_size for p in files) <= TOTAL_LIMIT
    assert [p.name for p in files] == ["a.py", "b.py", "c.py", "d.py"]
    assert left_out == [f"e.py ({FILE_LIMIT:,} bytes) was left out: a submission's Python "
                        f"files may have 1 MiB each, 4 MiB in all."]
