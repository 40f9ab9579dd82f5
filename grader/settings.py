"""Every ``KIT_*`` environment variable the kit reads or sets, in one place: its default
and what it does. ``python -m grader doctor`` prints them with the values in force.

Read the instructor's settings through :func:`get`, :func:`enabled` and :func:`number`.
Code inside a sandbox (:mod:`grader.inside`, standard library only) reads the variables
the grader sets for it directly, by the names listed here.
"""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Setting:
    name: str
    default: str
    help: str
    kind: str  # "instructor", "bundle" (the exported graders), "internal" or "tests"


SETTINGS = [
    # What an instructor may set for `python -m grader grade` (and nbgrader autograde).
    Setting("KIT_SANDBOXES", "6", "checks one student's suite runs at once; the class's "
            "pool holds this many warm sandboxes per student graded at once", "instructor"),
    Setting("KIT_WARM", "1", "0: a fresh pytest process per student instead of forks of "
            "one warm pytest (for comparison)", "instructor"),
    Setting("KIT_POOL", "1", "0: each student's suite launches sandboxes of its own instead "
            "of using the class's pool of warm sandboxes (the grader sets it to the pool's "
            "socket for the students' pytest)", "instructor"),
    Setting("KIT_SESSIONS", "1", "0: a new sandbox for every check instead of sandboxes "
            "that serve several checks (for comparison; implies KIT_POOL=0)", "instructor"),
    Setting("KIT_RUN_TOKEN", "", "marks every process of a grading (a new one per run): "
            "whatever a submission left running is found by it and killed (a caller may "
            "choose it)", "internal"),
    # What the exported graders read (python -m grader export-gradescope/-classroom).
    Setting("KIT_PYTHON", "python3", "the interpreter the Gradescope bundle's setup.sh and "
            "run_autograder use", "bundle"),
    Setting("KIT_PIP_SOURCE", "", "where the GitHub Classroom workflow's pip finds the kit "
            "(an organisation secret: the kit holds the hidden suites)", "bundle"),
    # Set by the grader for the processes it starts; not settings.
    Setting("KIT_ISOLATION", "", "what the machine's probe found, passed on so that a class "
            "is probed once", "internal"),
    Setting("KIT_INSIDE", "", "the grading's one copy of grader/inside (what sandboxes run)",
            "internal"),
    Setting("KIT_SANDBOX_TOKEN", "", "marks the processes of one sandbox", "internal"),
    Setting("KIT_WITNESS", "", "in a sandbox: the socket of its init (barriers, witnessed "
            "probe calls)", "internal"),
    Setting("KIT_PROBE_DIR", "", "in a sandbox: where the probes write their records",
            "internal"),
    Setting("KIT_CHECK", "check", "in a sandbox: the check's id (scopes init's barriers)",
            "internal"),
    Setting("KIT_MODULE", "", "in a sandbox: the student's module", "internal"),
    Setting("KIT_PLAN", "", "in a sandbox: the pool scenario's plan of task times",
            "internal"),
    # The kit's own tests and benchmarks.
    Setting("KIT_STRESS_RUNS", "0", "tests/test_stress.py: grade the whole corpus this many "
            "times under load (10 before a release)", "tests"),
    Setting("KIT_CORPUS_PYTHONS", "0", "tests/test_other_pythons.py: 1 grades every corpus "
            "under each other CPython found too (a few minutes per version)", "tests"),
    Setting("KIT_BENCH_VENV", "~/.cache/kit-bench-venv", "tests/benchmarks/"
            "bench_scheduler.py: the venv with the tools it compares against", "tests"),
    Setting("KIT_TEST_STAY", "0", "tests/test_sandbox.py: how long a test's child stays",
            "tests"),
]

_BY_NAME = {s.name: s for s in SETTINGS}


def get(name: str) -> str:
    """The setting's value in force (its default where unset)."""
    return os.environ.get(name, _BY_NAME[name].default)


def enabled(name: str) -> bool:
    """Whether an on/off setting is on (anything but ``0``)."""
    return get(name) != "0"


def number(name: str) -> int:
    """A whole-number setting; ``ValueError`` names it if it is not one."""
    try:
        return int(get(name))
    except ValueError:
        raise ValueError(f"{name} must be a whole number, not {get(name)!r}") from None


def describe() -> list[str]:
    """The instructor's and the bundles' settings with their values, for ``doctor``."""
    lines = []
    for s in SETTINGS:
        if s.kind in ("instructor", "bundle"):
            value = os.environ.get(s.name)
            shown = f"{value!r} (set)" if value is not None else f"{s.default!r} (default)"
            lines.append(f"  {s.name} = {shown}: {s.help}")
    return lines
