"""What the grade cells of the kit's nbgrader notebooks call (see
:mod:`grader.integrations.nbcourse`).

The first call in a kernel grades the student's module, the ``.py`` file next to the
notebook, with the kit's own grading command (``python -m grader grade``, in a child
process: the module runs only in the kit's sandboxes, never in this kernel). Every call
then reports one check: its title and score on stdout, and for a lost check the kit's
explanation, ending in an exception so that nbgrader gives the cell 0 points. Nothing is
written to stderr (nbgrader gives any cell that writes there 0 points, passed or not).

Under ``nbgrader validate`` (the student's own run) the cells do not call this module
(the kit need not be installed where students work); if one does, it passes without
grading. Students run the public tests with ``pytest``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path
from typing import Any

from grader.reports import find_test, test_line

KIT = Path(__file__).resolve().parent.parent.parent
_graded: dict[tuple[str, str], dict[str, Any]] = {}


class CheckLost(Exception):
    """A hidden check the submission did not pass (the cell scores 0)."""

    def _render_traceback_(self) -> list[str]:  # IPython shows this instead of a traceback
        return [str(self)]


class KitFailed(Exception):
    """The kit itself could not grade the module: for the instructor, not the student."""

    def _render_traceback_(self) -> list[str]:
        return [str(self)]


def _grade(assignment: str, folder: Path) -> dict[str, Any]:
    key = (assignment, str(folder))
    if key not in _graded:
        with tempfile.TemporaryDirectory(prefix="kit-nbgrader-") as out:
            # -I: nothing from the student's folder (this kernel's working directory) can
            # shadow the kit or the standard library in the grading command.
            code = ("import sys; sys.path.insert(0, sys.argv[1]); from grader.cli import main;"
                    " sys.exit(main(sys.argv[2:]))")
            done = subprocess.run(
                [sys.executable, "-I", "-c", code, str(KIT), "grade", assignment, str(folder),
                 "--out", out, "--jobs", "1", "--quiet"],
                stdin=subprocess.DEVNULL, capture_output=True, text=True, check=False)
            path = Path(out) / folder.name / "results.json"
            try:
                _graded[key] = json.loads(path.read_text())
            except (OSError, ValueError):
                raise KitFailed(
                    f"The kit could not grade {folder} (exit status {done.returncode}); "
                    f"tell your instructor.\n{(done.stdout + done.stderr)[-2000:]}") from None
    return _graded[key]


def check(assignment: str, check_id: str) -> None:
    """Report the hidden check ``check_id`` of the module in the current folder."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if os.environ.get("NBGRADER_EXECUTION") == "validate":
            print(f"Hidden check {check_id!r}: run by your instructor's grader when you "
                  f"submit. Run `pytest` in this folder for the public tests.")
            return
        result = _grade(assignment, Path.cwd())
    test = find_test(result, check_id)
    if test is None:
        output = result.get("output", "")
        raise KitFailed(f"The kit reported no check {check_id!r} for this submission; "
                        f"tell your instructor.\n{output[-2000:]}")
    print(test_line(test))
    if test["status"] != "passed":
        print()
        print(test["output"])
        raise CheckLost(f"Check {check_id!r} lost ({test['max_score']:g} points): see the "
                        f"explanation above.")
