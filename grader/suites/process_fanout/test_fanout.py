"""Hidden suite for ``process_fanout`` (module ``fanout.py``).

The grader's probe stands in for ``rand_string`` (``fan_out`` looks it up at call time):
it records which process and thread ran it, holds every call of ``fan_out(4, 24)`` at a
barrier until all 4 calls have arrived (proof that the children were alive at the same
time), then runs the student's own ``rand_string`` and notes what it put on the queue.
"""

from __future__ import annotations

import string
from collections import Counter

from grader.checks.judge import (
    START_METHODS,
    by_method,
    check,
    check_portable,
    describe,
    held,
    in_function,
    judged,
    lose,
    main_stack,
    timeline,
    value_list,
    where_children_are,
)

MODULE = "fanout"
N, LENGTH = 4, 24
# 256 KiB per string: four times a pipe's buffer (64 KiB on Linux, which never grows a
# pipe by itself), so joining first deadlocks every time; more would only cost CPU.
LARGE_N, LARGE_LENGTH = 2, 1 << 18
BARRIER_TIMEOUT = 10.0
LARGE_DEADLINE = 10.0
ALPHABET = set(string.ascii_letters + string.digits)

CALLS = {
    "basic": dict(label="basic", n=N, length=LENGTH, barrier=N,
                  barrier_timeout=BARRIER_TIMEOUT, deadline=BARRIER_TIMEOUT + 20),
    # No barrier: only whether fan_out returns is judged here, and a deadlock (join before
    # get) then shows at once instead of after the barrier's timeout. A right fan_out
    # returns in well under a second, also on a busy machine.
    "large": dict(label="large", n=LARGE_N, length=LARGE_LENGTH, summarize=True,
                  deadline=LARGE_DEADLINE),
    # No process at all: an empty list, at once (after the basic call, under fork).
    "zero": dict(label="zero", n=0, length=LENGTH, deadline=10.0),
}


def _scenario(method: str, *labels: str) -> dict:
    calls = [CALLS[label] for label in labels]
    return dict(scenario="fanout", start_method=method, params={"calls": calls},
                deadline=sum(c["deadline"] for c in calls))


# Under the default method (fork), each call is a check of its own: the large check's
# verdict is fork's, and the other methods count only where fork's run finished (judged,
# check_portable). Under spawn and forkserver the large strings follow the basic call in
# the same check: one resource tracker (and forkserver) serves both, three fresh
# interpreters fewer per student, about a sixth of a student's grading CPU. If the basic
# call does not return, the large one is not made there: portability is lost either way.
_first, *_others = START_METHODS
SCENARIOS = {f"basic/{_first}": _scenario(_first, "basic", "zero"),
             f"large/{_first}": _scenario(_first, "large")}
for _m in _others:
    SCENARIOS[f"basic/{_m}"] = _scenario(_m, "basic", "large")


def call(n=N, length=LENGTH):
    return f"fan_out({n}, {length})"


def put_elsewhere(run) -> None:
    """Lose with the reason when a child's rand_string returned without putting anything
    on the queue it was given: why a fan_out that waits for get() never returns."""
    empty = [r for r in _calls(run) if r.get("put_nothing")]
    if not empty:
        return
    m = run.start_method
    spawned = (f" Under {m} every child imports your module again, so a module-level "
               f"Queue is a new, different queue in each child: what it puts there never "
               f"reaches the parent." if m != "fork" else "")
    lose(f"[{m}] {len(empty)} of the rand_string calls returned without putting anything on "
         f"the queue passed to them (rand_string's second argument), so fan_out waited in "
         f"vain for their strings.{spawned} Put the string on that parameter "
         f"(def rand_string(length, output): ... output.put(rand_str)), create the Queue "
         f"inside fan_out and pass it to every Process.")


@check(2, "fan_out returns one string per process")
def test_count(runs):
    basic = by_method(runs, "basic")
    first = basic.get(_first) or next(iter(basic.values()))
    if not first.finished:
        put_elsewhere(first)
    for run in judged(basic, MODULE):
        items = value_list(run, call())
        if len(items) != N:
            lose(f"[{run.start_method}] {call()} returned {len(items)} item(s); expected {N}, "
                 f"one per process. Call output.get() once per process you started.")
    zero = by_method(runs, "zero")[_first]
    if zero.status != "skipped":
        if not zero.finished:
            lose(f"{call(0)} should start no process and return [] at once, but: "
                 + describe(zero, MODULE))
        items = value_list(zero, call(0))
        if items != []:
            lose(f"[{zero.start_method}] {call(0)} returned {len(items)} item(s); expected "
                 f"[]: with no process there is nothing to get(). Start exactly n_processes "
                 f"processes and get() exactly once for each.")


@check(2, "each child makes its own random string of the requested length and alphabet")
def test_strings(runs):
    seen: dict = {}  # string -> the start method whose run returned it
    for run in judged(by_method(runs, "basic"), MODULE):
        items = value_list(run, call())
        for item in items:
            if type(item) is not str:
                kind = item.get("__type__") if isinstance(item, dict) else type(item).__name__
                lose(f"[{run.start_method}] {call()} returned a {kind} where a str belongs: "
                     f"put the string itself on the queue and return what you get() back.")
            if len(item) != LENGTH:
                lose(f"[{run.start_method}] {call()} returned {item!r} of length {len(item)}; "
                     f"rand_string(length, output) must make exactly `length` characters.")
            bad = sorted(set(item) - ALPHABET)
            if bad:
                lose(f"[{run.start_method}] {call()} returned {item!r}, which has characters "
                     f"outside ASCII letters and digits: {''.join(bad)!r}. Choose from "
                     f"string.ascii_letters + string.digits.")
        same = Counter(items).most_common(1)
        if same and same[0][1] > 1:
            m = run.start_method
            lose(f"[{m}] {same[0][1]} of the {len(items)} strings were the same, "
                 f"{same[0][0]!r}: the children drew the same characters. That happens when "
                 f"random is seeded with a fixed value: random.seed(...) inside rand_string, "
                 f"or at module level, which every {m} child runs again when it imports "
                 f"your module. Do not seed random: each child then draws its own string.")
        several = [len(r["puts"]) for r in _calls(run) if len(r["puts"]) > 1]
        if several:
            lose(f"[{run.start_method}] a rand_string call put {max(several)} items on the "
                 f"queue: it must put exactly one, its string (fan_out gets one item per "
                 f"process, and the rest would be left in the queue).")
        again = [(item, seen[item]) for item in items if type(item) is str and item in seen]
        if again:
            item, first = again[0]
            lose(f"[{run.start_method}] {call()} returned {item!r}, which the run under "
                 f"{first} (another sandbox, another time) returned too: the strings repeat "
                 f"from run to run, so they are not random. Something seeds random with a "
                 f"value that is the same every time (a process name, a counter, a fixed "
                 f"number); do not seed it at all.")
        seen.update({item: run.start_method for item in items if type(item) is str})
        returned = [r["returned"] for r in _calls(run) if r.get("returned")]
        if returned:
            lose(f"[{run.start_method}] rand_string returned {returned[0]}: it must return "
                 f"nothing (None). A child process cannot hand a return value back to its "
                 f"parent; the string travels through the queue alone (output.put).")


def _calls(run):
    return [r for r in run.records if "puts" in r]


@check(3, "the strings were made in separate child processes")
def test_in_children(runs):
    for run in judged(by_method(runs, "basic"), MODULE):
        m = run.start_method
        calls = _calls(run)
        if not calls:
            lose(f"[{m}] rand_string was never called: fan_out must start processes with "
                 f"`multiprocessing.Process(target=rand_string, args=(length, output))`, so "
                 f"that each child runs rand_string.")
        in_parent = [r for r in calls if r["pid"] == run.pid]
        if in_parent and all(not r["main_thread"] for r in in_parent):
            lose(f"[{m}] rand_string ran in {len(in_parent)} thread(s) of your own process, "
                 f"not in child processes. Threads share one interpreter (and its GIL); "
                 f"the exercise is about multiprocessing.Process, which starts a new process "
                 f"with its own memory and interpreter.")
        if in_parent:
            lose(f"[{m}] {'all' if len(in_parent) == len(calls) else len(in_parent)} of the "
                 f"{len(calls)} rand_string calls ran in the parent process itself (the one that "
                 f"called fan_out): did you "
                 f"call rand_string directly instead of through Process(target=rand_string)?")
        pooled = sorted({r["process_name"] for r in calls if "PoolWorker" in r["process_name"]})
        if pooled:
            lose(f"[{m}] rand_string ran in pool workers ({', '.join(pooled[:2])}...), not in "
                 f"processes of your own: this exercise is about multiprocessing.Process. "
                 f"Start one Process(target=rand_string, args=(length, output)) per string "
                 f"(Pool is the next exercise).")
        pids = {r["pid"] for r in calls}
        if len(pids) < N:
            lose(f"[{m}] rand_string ran {len(calls)} time(s) in only {len(pids)} child "
                 f"process(es); expected {N} children, one per string. Create one "
                 f"Process per result, each calling rand_string once.")
        put = {p["sha"] for r in calls for p in r["puts"]}
        digests = run.data.get("digests") or []
        # Items that are not strings are the strings check's business.
        foreign = [d for d in digests if d.get("sha") is not None and d["sha"] not in put]
        if foreign:
            lose(f"[{m}] {len(foreign)} of the returned strings were never put on the queue "
                 f"by a child's rand_string: return exactly what you get() from the queue.")


@check(3, "the child processes ran at the same time")
def test_concurrent(runs):
    first = by_method(runs, "basic").get("fork")
    if first is not None:
        calls = sorted(_calls(first), key=lambda r: r.get("start") or 0)
        per_pid = Counter(r["pid"] for r in calls)
        threads: dict = {}

        def lane(r: dict) -> str:
            where = f"pid {r['pid']}" + (" (the parent)" if r["pid"] == first.pid else "")
            if per_pid[r["pid"]] > 1:  # several calls in one process: tell threads apart
                number = threads.setdefault((r["pid"], r.get("thread")), len(threads) + 1)
                where += f", thread {number}"
            return where

        timeline(f"fan_out({N}) under fork: each rand_string call, from its start (held "
                 f"by the grader until all {N} had started) to its end",
                 [(lane(r), "rand_string", r.get("start"), r.get("end")) for r in calls])
    for run in judged(by_method(runs, "basic"), MODULE):
        calls = _calls(run)
        if not calls:
            lose(f"[{run.start_method}] rand_string was never called, so nothing ran in "
                 f"parallel.")
        stuck = [r for r in calls if r.get("barrier") not in ("passed", "late")]
        who = ("children" if any(r["pid"] != run.pid for r in calls)
               else "rand_string calls")
        if stuck:
            lose(f"[{run.start_method}] your {N} {who} never ran at the same time: the "
                 f"grader held the first rand_string call {held(calls, BARRIER_TIMEOUT)} "
                 f"waiting for the others to start, and they did not. Joining a process "
                 f"right after starting it (join inside the start loop) runs them one "
                 f"after another, as "
                 f"does doing all the work in one child. Start all processes first, then "
                 f"collect the results, then join them all.")


@check(2, "every child is joined when fan_out returns")
def test_joined(runs):
    for run in judged(by_method(runs, "basic"), MODULE):
        alive = run.data.get("alive_after") or []
        unjoined = run.data.get("unjoined") or 0
        # Unjoined first: it does not depend on how fast the children ended.
        if unjoined:
            lose(f"[{run.start_method}] fan_out returned without joining {unjoined} of its "
                 f"child processes. join() waits for a child to end and reaps it; a child "
                 f"that is never joined may still be running, or stays a zombie. Join every "
                 f"process after reading its result from the queue.")
        if alive:
            lose(f"[{run.start_method}] {len(alive)} child process(es) were still running "
                 f"(or were never reaped) when fan_out returned: call p.join() for every "
                 f"process before returning.")
        running = run.data.get("running_after") or []
        if running:
            shown = ", ".join(f"pid {r['pid']} ({r['name']})" for r in running[:3])
            lose(f"[{run.start_method}] {len(running)} process(es) that fan_out started, "
                 f"directly or through its children, were still running when it returned: "
                 f"{shown}. Every process fan_out starts must have ended when it returns, a "
                 f"daemon or a detached grandchild too: nothing may outlive the call that "
                 f"started it. Start only the Processes that make the strings, and join "
                 f"each of them.")


@check(2, "no deadlock when results exceed the pipe buffer (256 KiB strings)")
def test_large_payload(runs):
    """Only that fan_out returns: what it returns is judged by the other checks."""
    large = by_method(runs, "large")
    default = large.get("fork") or next(iter(large.values()))
    if default.finished:
        return
    # (Children still busy in their own code are another mistake: describe() tells it.)
    if default.status == "timeout" and in_function(main_stack(default), "join",
                                                   "multiprocessing/process.py") \
            and not where_children_are(default):
        lose(f"[{default.start_method}] {call(LARGE_N, LARGE_LENGTH)} never returned: "
             f"joined before draining the queue. A child that put a large result "
             f"(here 256 KiB) cannot end until the data has gone through the pipe, whose "
             f"buffer holds about 64 KiB; your join() waited for the child while the "
             f"child waited for someone to get() its data. That deadlocks once results "
             f"exceed the pipe buffer: read all results from the queue first, then join.")
    lose(describe(default, MODULE))


@check(2, "works under every start method (fork, spawn, forkserver)")
def test_portable(runs):
    basic = by_method(runs, "basic")
    if basic[_first].finished:
        for method in _others:  # (the first that failed, as check_portable tells)
            run = basic.get(method)
            if run is not None and not run.finished and run.status != "skipped":
                put_elsewhere(run)
                break
    check_portable([by_method(runs, "basic"), by_method(runs, "large")], MODULE)
