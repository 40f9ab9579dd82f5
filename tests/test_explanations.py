"""Explanations name the cause that fits what happened, on every Python the kit supports:
an object that could not be pickled gets the pickling hint whatever words the pickle
module uses, an exception raised only under spawn or forkserver gets the hint about what
a freshly imported child does not inherit, unless a better one applies, and a forked
child is placed in student code only by the frames it runs itself."""

from __future__ import annotations

import pytest

from grader.checks.judge import Lost, check_portable, describe, where_children_are
from grader.sandbox import Run

pytestmark = [pytest.mark.timeout(60), pytest.mark.fast]  # (fast: no sandbox)

CALL = "calling pool_map(timed_task, (x for x in [5, 2, 9, 1, 7, 3]), processes=3)"
MODULE_LEVEL = "Define the function at module level"
FRESH = "imports your module again"


def failed(method: str, kind: str, message: str) -> Run:
    return Run("pool_variant", method, "ok", CALL,
               error={"type": kind, "message": message, "phase": CALL})


@pytest.mark.parametrize(("kind", "message"), [
    # 3.10-3.12
    ("AttributeError", "Can't pickle local object 'pool_map.<locals>.<lambda>'"),
    # 3.13
    ("AttributeError", "Can't get local object 'pool_map.<locals>.<lambda>'"),
    ("PicklingError", "Can't pickle <function <lambda> at 0x7f>: attribute lookup failed"),
    ("AttributeError", "Can't get attribute '_call' on <module '__mp_main__'>"),
])
def test_a_lambda_gets_the_pickling_hint_on_every_python(kind, message):
    assert MODULE_LEVEL in describe(failed("fork", kind, message), "pools")
    text = describe(failed("spawn", kind, message), "pools")
    assert "Under the 'spawn' start method" in text and MODULE_LEVEL in text


def portable(spawn: Run) -> str:
    ok = Run("pool_variant", "fork", "ok", CALL)
    with pytest.raises(Lost) as lost:
        check_portable([{"fork": ok, "spawn": spawn}], "pools")
    return str(lost.value)


def test_an_exception_only_under_spawn_says_what_a_fresh_import_lacks():
    text = portable(failed("spawn", "TypeError", "'NoneType' object is not callable"))
    assert text.startswith("[spawn] pool_map(") and FRESH in text
    assert "It returned under fork" in text


@pytest.mark.parametrize(("kind", "message"), [
    ("AttributeError", "Can't get local object 'pool_map.<locals>.<lambda>'"),
    ("NotImplementedError", ""),
    ("SystemExit", "0"),
])
def test_the_fresh_import_hint_gives_way_to_a_better_one(kind, message):
    assert FRESH not in portable(failed("spawn", kind, message))


def test_no_fresh_import_hint_for_a_deadline():
    hung = Run("pool_variant", "spawn", "timeout", CALL, timeout={"after": 28.0})
    assert FRESH not in portable(hung)


def frame(func: str, path: str, student: bool = False) -> dict:
    return {"func": func, "path": path, "file": path.rsplit("/", 1)[-1], "line": 1,
            "student": student, "text": ""}


MP = "/usr/lib/python3/multiprocessing/"
FORKED = [frame("fan_out", "/sandbox/submission/fanout.py", True),
          frame("start", MP + "process.py"), frame("_Popen", MP + "context.py"),
          frame("__init__", MP + "popen_fork.py"), frame("_launch", MP + "popen_fork.py")]
EXITING_311 = [frame("_bootstrap", MP + "process.py"), frame("_exit_function", MP + "util.py"),
               frame("join", "/usr/lib/python3/threading.py")]
EXITING_313 = [frame("_exit_function", MP + "util.py"),
               frame("join", "/usr/lib/python3/threading.py")]
BUSY = [frame("_bootstrap", MP + "process.py"), frame("run", MP + "process.py"),
        frame("rand_string", "/sandbox/submission/fanout.py", True)]


def stuck(*stacks: list) -> Run:
    return Run("fanout", "fork", "timeout", "calling fan_out(2, 262144)",
               timeout={"after": 1.0, "children": [{"pid": 4 + i, "frames": s}
                                                   for i, s in enumerate(stacks)]})


@pytest.mark.parametrize("exiting", [EXITING_311, EXITING_313], ids=["3.11", "3.13"])
def test_a_forked_child_is_not_in_the_parents_frames(exiting):
    """A child that waits to flush its queue while exiting is not "in student code"
    because its stack still holds the parent's p.start() (3.13 keeps it in view); one
    that runs the student's function is."""
    assert where_children_are(stuck(FORKED[-2:] + exiting, FORKED + exiting)) is None
    count, asked, where = where_children_are(stuck(FORKED + exiting, FORKED + BUSY))
    assert (count, asked, where["func"]) == (1, 2, "rand_string")
