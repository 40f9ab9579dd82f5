"""Verdicts and explanations, on the trusted side.

Hidden suites judge :class:`grader.sandbox.Run` objects (plain data) and, when a check is
lost, raise :class:`Lost` with a message written for the student: what went wrong, why,
and what to change, in the words of the lecture.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterable, Iterator
from dataclasses import replace
from typing import Any

import pytest

from grader.sandbox import (
    DISK_ENTRIES,
    DISK_MAX,
    MEMORY_MAX,
    PROCESS_MAX,
    WITNESS_OVERFLOW,
    Run,
)

START_METHODS = [m for m in ("fork", "spawn", "forkserver")
                 if m in multiprocessing.get_all_start_methods()]


class Lost(Exception):
    """A check the submission did not pass; ``str()`` is the student's explanation."""


def check(points: float, name: str) -> pytest.MarkDecorator:
    """Mark a hidden test as a graded check worth ``points``, shown to students as ``name``."""
    return pytest.mark.check(points=points, name=name)


def lose(message: str) -> None:
    raise Lost(message)


# --- timelines: which process or thread ran which task when -------------------------------

_timelines: list[dict[str, Any]] = []
TIMELINE_LANES = 12


def timeline(title: str, spans: Iterable[tuple[str, str, float, float]]) -> None:
    """Attach a picture of a run to the current check (passed or lost): ``spans`` are
    ``(lane, label, start, end)`` with monotonic times from inside the sandbox (one clock
    for all its processes). Lanes keep their first-seen order; times become seconds from
    the earliest start. The grader plugin stores it with the check; the feedback draws it.
    Only facts the grader recorded are drawn (probe records, the overlap gate)."""
    rows = [(str(lane), str(label), float(a), float(b)) for lane, label, a, b in spans
            if isinstance(a, (int, float)) and isinstance(b, (int, float)) and b >= a]
    if not rows:
        return
    t0 = min(a for _, _, a, _ in rows)
    lanes: list[str] = []
    bars = []
    for lane, label, a, b in sorted(rows, key=lambda r: r[2]):
        if lane not in lanes:
            if len(lanes) == TIMELINE_LANES:
                continue
            lanes.append(lane)
        bars.append({"lane": lane, "label": label, "start": round(a - t0, 4),
                     "end": round(b - t0, 4)})
    _timelines.append({"title": title, "lanes": lanes, "bars": bars})


def take_timelines() -> list[dict[str, Any]]:
    """The timelines attached since the last call (the plugin, after each check)."""
    taken = list(_timelines)
    _timelines.clear()
    return taken


# --- when the student's code ran (benchmarks: grader overhead over the designed waits) ---

_run_spans: list[list[float]] = []


def note_runs(runs: Iterable[Run]) -> None:
    """Remember the spans of a suite's runs (:attr:`grader.sandbox.Run.span`)."""
    _run_spans.extend(list(r.span) for r in runs if r.span)


def take_spans() -> list[list[float]]:
    """The spans noted since the last call (the plugin, after each check)."""
    taken = list(_run_spans)
    _run_spans.clear()
    return taken


# --- describing what a sandbox run did ----------------------------------------------------

PICKLING_HINT = (
    "Under the '{method}' start method (the default on macOS and Windows, and forkserver is "
    "the Linux default from Python 3.14) a child process does not get a copy of your "
    "program: the target function and its arguments are pickled and sent to it, and the "
    "child imports your module to find the function by name. A lambda, a function defined "
    "inside another function, or an object that cannot be pickled fails there. Define the "
    "function at module level and pass it by name."
)


FRESH_IMPORT_HINT = (
    "It returned under {default}, where a child process starts as a copy of yours. Under "
    "'{method}' a child (a Pool's workers too) is a new interpreter that imports your "
    "module again and gets only what is pickled to it, the function and its arguments: "
    "a module-level variable that your code set in the parent (say, a global holding "
    "`func`) still has its initial value there. Pass what the children need as arguments."
)

POOL_PICKLING_HINT = (
    "Whatever the start method, a Pool sends every task to its worker processes by pickling "
    "the function and its arguments; the worker looks the function up by name in its "
    "module. A lambda, a function defined inside another function, or an object that "
    "cannot be pickled fails there. Define the function at module level and pass it by name."
)


def where(error: dict[str, Any] | None) -> str:
    if not error or not error.get("where"):
        return ""
    w = error["where"]
    text = f" `{w['text']}`" if w.get("text") else ""
    return f" at {w['file']} line {w['line']}{text}"


def _pickling(kind: str, message: str) -> bool:
    """Whether an exception says that something could not be pickled or unpickled. (Python
    3.13 says "AttributeError: Can't get local object 'f.<locals>.<lambda>'" where
    earlier versions say "Can't pickle local object".)"""
    lowered = message.lower()
    return (kind == "PicklingError" or "pickle" in lowered or "can't get attribute" in lowered
            or "can't get local object" in lowered)


def describe_error(run: Run, module: str) -> str:
    """Explain an exception raised by the student's code (``run.error``)."""
    error = run.error or {}
    kind = error.get("type", "Exception")
    message = error.get("message", "")
    phase = error.get("phase") or run.phase
    prefix = f"[{run.start_method}] " if run.start_method else ""
    if phase.startswith("importing"):
        if kind == "ModuleNotFoundError" and f"'{module}'" in message:
            return (f"{prefix}there is no {module}.py in your submission: hand in the module "
                    f"with exactly that name.")
        if kind in ("SyntaxError", "IndentationError", "TabError"):
            return f"{prefix}{module}.py does not compile: {kind}: {message}."
        if kind == "SystemExit":
            return (f"{prefix}importing {module}.py called sys.exit(): code at module level "
                    f"runs on every import (and again in every spawned child); put it under "
                    f"`if __name__ == \"__main__\":`.")
        return (f"{prefix}importing {module}.py raised {kind}: {message}{where(error)}. "
                f"Code at module level runs on every import; only definitions belong there.")
    call = phase.replace("calling ", "", 1)
    if kind == "NotImplementedError":
        return (f"{prefix}{call} raised NotImplementedError{where(error)}: this function is "
                f"still the unchanged stub.")
    if kind == "AttributeError" and f"module '{module}' has no attribute" in message:
        return f"{prefix}{module}.py has no {message.split('attribute')[-1].strip()}: {message}."
    if _pickling(kind, message):
        hint = (POOL_PICKLING_HINT if run.start_method == "fork"
                else PICKLING_HINT.format(method=run.start_method))
        return f"{prefix}{call} raised {kind}: {message}{where(error)}. " + hint
    if kind == "SystemExit":
        return (f"{prefix}{call} called sys.exit(){where(error)}: the function must return "
                f"its result, not end the program.")
    return f"{prefix}{call} raised {kind}: {message}{where(error)}."


def _student_frame(stack: dict[str, Any]) -> dict[str, Any] | None:
    student = [f for f in stack["frames"] if f.get("student")]
    return student[-1] if student else None


def main_stack(run: Run) -> dict[str, Any] | None:
    for stack in (run.timeout or {}).get("stacks", []):
        if stack.get("main"):
            return stack
    return None


def in_function(stack: dict[str, Any] | None, func: str, file_suffix: str = "") -> bool:
    if not stack:
        return False
    return any(f["func"] == func and f["path"].endswith(file_suffix) for f in stack["frames"])


def _where_threads_wait(run: Run) -> tuple[int, dict[str, Any]] | None:
    """The student line where most non-main threads were stuck, with their count."""
    counts: dict[tuple[str, int], list] = {}
    for stack in (run.timeout or {}).get("stacks", []):
        if stack.get("main") or stack.get("thread") == "grader-watchdog":
            continue
        frame = _student_frame(stack)
        if frame:
            counts.setdefault((frame["file"], frame["line"]), []).append(frame)
    if not counts:
        return None
    frames = max(counts.values(), key=len)
    return len(frames), frames[0]


def where_children_are(run: Run) -> tuple[int, int, dict[str, Any]] | None:
    """(how many, of how many asked, the student frame) for the student-code frame where
    most of the check's child processes were when it timed out (see the runner's
    ``child_stacks``); None if none was in student code."""
    children = (run.timeout or {}).get("children") if isinstance(run.timeout, dict) else None
    if not isinstance(children, list):
        return None
    spots: dict[tuple, list[dict[str, Any]]] = {}
    asked = 0
    for child in children[:8]:
        if not isinstance(child, dict) or not isinstance(child.get("frames"), list):
            continue
        asked += 1
        frames = [f for f in child["frames"] if isinstance(f, dict)]
        # A forked child's stack begins with its parent's, down to the fork in
        # popen_fork's _launch (the student's p.start() among them): only what runs above
        # it is the child's own. (Whether the parent's frames fit in the frames kept of a
        # child's stack depends on the Python version: 3.13's exit path is shorter.)
        fork = [i for i, f in enumerate(frames) if f.get("func") == "_launch"
                and str(f.get("path", "")).endswith("multiprocessing/popen_fork.py")]
        if fork:
            frames = frames[fork[-1] + 1:]
        frame = _student_frame({"frames": frames})
        if frame:
            key = (frame.get("file"), frame.get("line"))
            spots.setdefault(key, []).append(frame)
    if not spots:
        return None
    frames = max(spots.values(), key=len)
    return len(frames), asked, frames[0]


def describe_stuck(run: Run, module: str) -> str:
    """Explain a run that did not finish: where the main thread (and others) were."""
    prefix = f"[{run.start_method}] " if run.start_method else ""
    call = run.phase.replace("calling ", "", 1)
    what = "importing " + module + ".py" if run.phase.startswith("importing") else call
    if run.too_many_processes:
        return (f"{prefix}your code started more than {PROCESS_MAX} processes at once while "
                f"{what}, so the sandbox stopped all of them. This exercise needs a handful "
                f"(one per Process you start, or the Pool's workers): look for os.fork() or "
                f"Process(...).start() in a loop that never ends, or in code that every new "
                f"process runs again (a fork bomb).")
    if run.too_much_disk:
        return (f"{prefix}your code wrote more than {DISK_MAX // 2**20} MiB (or "
                f"{DISK_ENTRIES:,} files) to disk while {what}, so the sandbox stopped "
                f"it. This exercise needs no files at all: look for a loop that writes "
                f"without end.")
    if run.out_of_memory:
        return (f"{prefix}your processes ran out of memory while {what}: the sandbox gives "
                f"all of them together {MEMORY_MAX // 2**30} GiB, and stopped them when they "
                f"went over. Look for data that only grows (a list appended to in a "
                f"loop, a string doubled again and again) or a copy of a big object per "
                f"process.")
    if run.status == "timeout":
        after = run.timeout.get("after") if run.timeout else "?"
        main = main_stack(run)
        if run.timeout and run.timeout.get("deadlock") is True:
            text = (f"{prefix}{call} never returned: after {after:g} s every thread of its "
                    f"processes was blocked, each waiting with no time limit for something "
                    f"only another of them could do, so none could ever go on (a deadlock)")
        else:
            text = f"{prefix}{call} did not return within {after:g} s"
        frame = _student_frame(main) if main else None
        if frame:
            inner = main["frames"][-1]
            text += (f"; your main thread was at {frame['file']} line {frame['line']} "
                     f"(`{frame['text']}`)")
            if not inner.get("student"):
                text += f", inside {inner['func']}() of {inner['file']}"
        others = _where_threads_wait(run)
        if others:
            count, frame = others
            text += (f". {count} other thread(s) were waiting at {frame['file']} line "
                     f"{frame['line']} (`{frame['text']}`)")
            if "acquire" in frame["text"] or frame["text"].startswith("with "):
                text += (": they wait for a lock that is never released. A lock acquired "
                         "without a matching release (or acquired twice by one thread) "
                         "blocks every other thread forever; use `with lock:`, which always "
                         "releases it")
        children = where_children_are(run)
        if children:
            count, asked, frame = children
            text += (f". {count} of the {asked} child process(es) still running were at "
                     f"{frame['file']} line {frame['line']} (`{frame['text']}`) in "
                     f"{frame['func']}()")
            if main and in_function(main, "join", "multiprocessing/process.py"):
                text += (": join() waits for a child to end, and these children had not "
                         "finished their work. Look at what they do there (a loop that "
                         "never ends? a wait for something that never comes?)")
        if run.start_method in ("spawn", "forkserver") and run.phase.startswith("importing"):
            text += (f". Under {run.start_method}, every child process imports your module "
                     f"again: code at module level that starts processes (or waits for "
                     f"them) runs again in each child, which starts more. Put it under "
                     f"`if __name__ == \"__main__\":` or inside a function")
        return text + "."
    if run.status == "oversized":
        # (the phase names what was too much: the result, records, messages to init)
        text = (f"{prefix}the run left more data for the grader than it reads ({run.phase}): "
                f"the grader judged nothing of this run. ")
        if run.phase.startswith(WITNESS_OVERFLOW):  # (the check's messages to init)
            return text + ("Your code sent the sandbox's witness far more messages than "
                           "the grader's own probes ever do: leave the grader's sockets "
                           "alone and just do the exercise's work.")
        return text + ("Return what the exercise asks for (a handful of values), not a huge "
                       "or deeply nested structure.")
    if run.status == "killed":
        return (f"{prefix}{call} did not return and did not respond within the time limit "
                f"(the whole process was killed): look for an endless loop.")
    if run.status == "died":
        code = run.exit_code
        return (f"{prefix}the Python process ended while {what} (exit code {code}): "
                f"something called os._exit()/sys.exit() or crashed the interpreter. "
                f"Your functions must return their results, not end the process.")
    return f"{prefix}{call} did not finish."


def held(records: list[dict[str, Any]], limit: float) -> str:
    """How long the grader held a barrier's first caller, in the student's words: until
    no other caller could come (init saw every other thread of the check waiting for good:
    barrier result ``stuck``), or for its time limit."""
    results = {r.get("barrier") for r in records}
    if "stuck" in results and "timeout" not in results:
        return ("until nothing else in your program could run (every other thread was "
                "waiting)")
    return f"for {limit:g} s"


def describe(run: Run, module: str) -> str:
    """One explanation for any run that did not finish cleanly."""
    if run.status == "ok" and run.error:
        return describe_error(run, module)
    return describe_stuck(run, module)


def by_method(runs: dict[str, Run], label: str) -> dict[str, Run]:
    """{start method: the part of its run that made the call ``label``} (scenarios list
    their calls in ``params["calls"]``, see :func:`call_of`): from the run that made it
    where the ``runs`` fixture moved the call to a run of its own, else the part that
    says why it was not made."""
    out: dict[str, Run] = {}
    for run in runs.values():
        calls = run.params.get("calls") or []
        if not any(isinstance(c, dict) and c.get("label") == label for c in calls):
            continue
        part = call_of(run, label)
        method = str(run.start_method)
        if method not in out or (out[method].status == "skipped" and part.status != "skipped"):
            out[method] = part
    return out


def call_of(run: Run, label: str) -> Run:
    """The part of ``run`` that belongs to the call ``label``, for a scenario that makes
    several calls in one process (``data["calls"][label]``, ``done`` when it returned;
    records carry the label of their call).

    A call that returned is a finished run of its own, whatever happened after it. The
    call that was under way when the run stopped (deadline, exception, death) gets the
    run's status and explanation. A call that never began is ``skipped``, and so is one
    the grader abandoned (:meth:`grader.sandbox.Cancel.abandon`); the first call never is
    (the module's import belongs to it: an import that failed is its failure).
    """
    calls = run.data.get("calls") if isinstance(run.data.get("calls"), dict) else {}
    planned = [c.get("label") for c in run.params.get("calls") or [] if isinstance(c, dict)]
    first = planned[0] if planned else label
    others = set(planned) - {first}
    if label == first:
        records = [r for r in run.records if r.get("call") not in others]
    else:
        records = [r for r in run.records if r.get("call") == label]
    out = calls.get(label)
    if not isinstance(out, dict) or (run.abandoned and out.get("done") is not True):
        if label != first:
            why = ("abandoned: the grader no longer needed it" if run.abandoned else
                   "not reached: an earlier call in the same check did not return")
            return replace(run, status="skipped", phase=why, data={}, records=[],
                           error=None, timeout=None)
        return replace(run, data={}, records=records)
    if out.get("done") is True:
        return replace(run, status="ok", error=None, timeout=None, data=out,
                       records=records)
    return replace(run, data=out, records=records)


def judged(runs: dict[str, Run], module: str, default: str = "fork") -> Iterator[Run]:
    """The runs a semantic check judges.

    The ``default`` start method's run always counts (if it did not finish, the check is
    lost with the explanation). Runs under the other start methods count when they
    finished; when they did not, that is charged to the ``portable`` check alone, so one
    portability mistake costs those points once.
    """
    first = runs.get(default) or next(iter(runs.values()))
    if not first.finished:
        lose(describe(first, module))
    yield first
    for run in runs.values():
        if run is not first and run.finished:
            yield run


def _method_rank(method: str) -> int:
    return START_METHODS.index(method) if method in START_METHODS else len(START_METHODS)


def _fresh_import(run: Run, default: str) -> str:
    """The hint for an exception raised only under a method whose children import the
    module afresh: what they do not inherit. Not for the mistakes that have hints of their
    own (pickling, the import itself, the stub, sys.exit)."""
    error = run.error or {}
    if run.status != "ok" or not error or run.start_method in (None, "fork"):
        return ""
    kind, message = str(error.get("type", "")), str(error.get("message", ""))
    phase = str(error.get("phase") or run.phase)
    if (phase.startswith("importing") or kind in ("NotImplementedError", "SystemExit")
            or _pickling(kind, message)):
        return ""
    return " " + FRESH_IMPORT_HINT.format(default=default, method=run.start_method)


def check_portable(groups: Iterable[dict[str, Run]], module: str, default: str = "fork") -> None:
    """Every scenario that finished under the default start method finished under the others.

    ``groups`` holds one ``{start_method: Run}`` dict per scenario. A scenario that fails
    under the default method too is charged to the check that judges it, not to this one.
    """
    problems, compared, failed_first = [], 0, None
    for runs in groups:
        first = runs.get(default) or next(iter(runs.values()))
        if first.finished:
            compared += 1
            # The first failing method only: a later one may have been skipped (see the
            # suites' ``runs`` fixture), and the explanation must not depend on that.
            failing = [r for m, r in sorted(runs.items(), key=lambda i: _method_rank(i[0]))
                       if not r.finished and r.status != "skipped"]
            problems += [describe(r, module) + _fresh_import(r, default) for r in failing[:1]]
        elif failed_first is None:
            failed_first = first
    if not compared and failed_first is not None:
        lose("Nothing worked under the default start method, so there is nothing to compare "
             "under the others: " + describe(failed_first, module))
    if problems:
        lose(" ".join(problems[:2]))


def value_list(run: Run, what: str) -> list[Any]:
    """The student's return value, required to be a list (a tuple is accepted)."""
    value = run.data.get("value")
    if not isinstance(value, dict) or value.get("__type__") not in ("list", "tuple"):
        kind = value.get("__type__") if isinstance(value, dict) else type(value).__name__
        if value is None:
            kind = "None"
        lose(f"[{run.start_method}] {what} returned {kind}, not a list"
             + (": did you forget the `return`?" if kind == "None" else "."))
    return value.get("items", value.get("summary"))
