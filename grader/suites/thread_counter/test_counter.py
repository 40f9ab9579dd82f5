"""Hidden suite for ``thread_counter`` (module ``counter.py``).

Four sandbox runs, each calling the student's ``run_workers``:

* ``plain``: ``run_workers(2000)`` then ``run_workers(50)``, untouched: the sum and
  ``counter.num``; ``fresh``: ``run_workers(50)`` in a fresh process, the reference for
  the second call (reset).
* ``overlap``: a trace function holds the first worker thread that enters the student's
  code until three threads are inside it at once: proof that the threads overlapped.
* ``search``: the controlled scheduler (:mod:`grader.inside.schedule`) runs the threads
  one at a time and chooses every switch: all schedules of ``run_workers(2)`` with up to
  two preemptions, then PCT schedules of ``run_workers(4)`` from a fixed seed. A schedule
  whose result differs from the non-preemptive one is a lost update, replayed for the
  student line by line. (CPython 3.10+ switches threads only at calls and backward jumps,
  so a stress test of an unlocked counter proves nothing.)
"""

from __future__ import annotations

from grader.checks.judge import check, describe, lose, timeline, where

MODULE = "counter"
SIZES = [2000, 50]
# The timeout is a fallback only: a serial run is recognised when its main thread joins.
OVERLAP_N, OVERLAP_TIMEOUT = 3, 15.0
SMALL = 50
# The controlled search: every schedule of run_workers(2) with at most 2 preemptions, then
# PCT runs of run_workers(4) from a fixed seed (same submission, same verdict).
SEARCH_THREADS, PREEMPTION_BOUND, SEARCH_BUDGET, SEED = 2, 2, 8.0, 20261125
PCT_RUNS, PCT_THREADS = 30, 4
STUCK_AFTER = 5.0  # schedule.execute's limit for one execution

SCENARIOS = {
    "plain": {"scenario": "counter_plain", "deadline": 10, "params": {"sizes": SIZES}},
    "fresh": {"scenario": "counter_plain", "deadline": 10,
              "params": {"sizes": [SMALL]}},
    "overlap": {"scenario": "counter_overlap", "deadline": 30,
                "params": {"sizes": [SMALL], "n": OVERLAP_N,
                           "timeout": OVERLAP_TIMEOUT}},
    "search": {"scenario": "counter_search", "deadline": 20,
               "params": {"threads": SEARCH_THREADS, "bound": PREEMPTION_BOUND,
                          "budget": SEARCH_BUDGET, "seed": SEED, "pct_runs": PCT_RUNS,
                          "pct_threads": PCT_THREADS}},
}


def finished(run):
    if not run.finished:
        lose(describe(run, MODULE))
    return run.data["calls"]


def expect(n):
    return sum(range(n))


def thread_errors(run) -> str:
    """What the worker threads raised, if anything (run_workers never sees it)."""
    errors = run.data.get("thread_errors") or []
    if not errors:
        return ""
    e = errors[0]
    return (f" Your worker threads raised {e['type']} "
            f"({run.data.get('thread_error_count', len(errors))} times): "
            f"{e['message']}{where(e)}"
            + (": declare `global num` in worker, so that `num += val` updates the module's "
               "num instead of a local variable." if e["type"] == "UnboundLocalError"
               else "."))


def did_not_wait(call: dict) -> None:
    """Lose when run_workers returned while its threads had not run yet: the grader held
    every worker call until the main thread waited for the threads (join), so a
    run_workers that does not wait returns before any worker ran, on any machine."""
    held = call.get("held")
    if not isinstance(held, int) or held <= 0:
        return
    slept = (" time.sleep() is no substitute: it only makes it likely that the threads "
             "are done, and the grader's threads waited longer than your sleep."
             if call.get("slept") else "")
    lose(f"run_workers({call['n']}) returned {call['value']!r} before its threads had all "
         f"added to num: the grader held back {held} of them until your main thread would "
         f"wait for the threads, and it never did. Start all threads, then call t.join() "
         f"on every one, and only then read num.{slept}")


@check(2, "run_workers(n) returns sum(range(n))")
def test_returns_sum(runs):
    for run in (runs["plain"], runs["fresh"]):
        first = finished(run)[0]
        did_not_wait(first)
        if first["value"] != expect(first["n"]) or type(first["value"]) is not int:
            lose(f"run_workers({first['n']}) returned {first['value']!r}; expected "
                 f"{expect(first['n'])} = 0 + 1 + ... + {first['n'] - 1}: start n_threads "
                 f"threads, every worker(i) adds i once, and run_workers returns num after "
                 f"joining all threads." + thread_errors(run))


@check(2, "counter.num equals the sum after run_workers returns")
def test_num_matches(runs):
    run = runs["plain"]
    first = finished(run)[0]
    did_not_wait(first)
    if first["num"] != expect(first["n"]):
        lose(f"after run_workers({first['n']}) the module global num was {first['num']!r}; "
             f"expected {expect(first['n'])}: every worker(i) must add i to the "
             f"module-level num." + thread_errors(run))


@check(2, "a second call starts again from 0")
def test_reset(runs):
    calls = finished(runs["plain"])
    fresh = finished(runs["fresh"])[0]
    second = calls[1]
    if (second["value"], second["num"]) != (fresh["value"], fresh["num"]):
        lose(f"run_workers({second['n']}) gave {second['value']!r} (num={second['num']!r}) "
             f"after an earlier run_workers({calls[0]['n']}), but {fresh['value']!r} "
             f"(num={fresh['num']!r}) when called first: it kept counting from the "
             f"previous call. Set num = 0 at the start of run_workers.")


@check(2, "the threads really ran at the same time")
def test_overlap(runs):
    run = runs["overlap"]
    w = run.data.get("overlap") if isinstance(run.data, dict) else None
    if isinstance(w, dict) and isinstance(w.get("spans"), list):
        spans = [x for x in w["spans"] if isinstance(x, list) and len(x) == 3]
        # A thread still inside when the run ended (a hang) is drawn to the last return.
        last = max((x[2] for x in spans if isinstance(x[2], (int, float))), default=None)
        timeline(f"run_workers({SMALL}): when the first worker threads were inside "
                 f"worker() (the grader held the first until {OVERLAP_N} were inside)",
                 [(name, "worker", entered, last if left is None else left)
                  for name, entered, left in spans])
    if not isinstance(w, dict) or w.get("state") != "passed":
        finished(run)
    # Seen overlapping is proof enough, whatever run_workers did afterwards: a deadlock
    # after the threads started (a lock never released) loses the other checks, and may
    # or may not hit this run, depending on which thread takes the lock last.
    w = run.data["overlap"]
    if w["threads"] == 0:
        lose("worker never ran in a thread of its own: run_workers must create "
             "threading.Thread(target=worker, args=(i,)) objects and start() them (calling "
             "worker directly, or a Thread replacement that runs it in the calling thread, "
             "does not start threads).")
    if w["state"] != "passed":
        how = ("your main thread then joined it before starting another one"
               if w["state"] == "serial" else
               f"no further thread started within {OVERLAP_TIMEOUT:g} s")
        lose(f"your threads never overlapped: the grader held the first worker thread until "
             f"{OVERLAP_N - 1} more threads were running, and {how} (at most "
             f"{w['max_inside']} thread ran at a time). Joining each thread right after "
             f"starting it (as on the lecture's slide) runs them one after another: the "
             f"answer is right, but that is not multithreading. Start all threads first, "
             f"then join them all, and protect num with a lock.")
    seen = w.get("observed_threads")
    if run.witnessed and (seen is None or seen < OVERLAP_N + 1):
        lose(f"the grader could not confirm that your threads ran at the same time: when "
             f"{OVERLAP_N} worker threads were reported inside worker(), the kernel counted "
             f"{seen if seen is not None else 'no report of'} thread(s) in your process. "
             f"Start real threading.Thread objects and leave the grader's code alone.")


def story(events: list[dict], name: str = "num") -> tuple[list[str], str]:
    """The interleaving as lines a student can follow, and which update was lost."""
    lines, last_read, lost = [], {}, ""
    current = writer = None
    for e in events:
        who, line = e["thread"], f"counter.py:{e['line']}" if e.get("line") else ""
        if e["what"] == "read" and e["detail"] == name:
            last_read[who] = e["value"]
            lines.append(f"{who} {line} read {name} == {e['value']!r}")
        elif e["what"] == "wrote" and e["detail"] == name:
            lines.append(f"{who} {line} wrote {name} = {e['value']!r}")
            seen = last_read.get(who)
            if (not lost and writer is not None and writer[0] != who and seen is not None
                    and seen != current):
                other, delta = writer
                lost = (f"{who} wrote back a sum built on the {name} == {seen!r} it had read "
                        f"before {other} changed it: {other}'s {delta} was lost")
            before = last_read.get(who)
            delta = (f"{e['value'] - before:+d}" if isinstance(e["value"], int)
                     and isinstance(before, int) else "update")
            current, writer = e["value"], (who, delta)
        elif e["what"] in ("acquired", "released"):
            lines.append(f"{who} {line} {e['what']} {e['detail']}")
    return lines, lost


@check(2, "no update is lost when threads switch at the worst moment")
def test_race_free(runs):
    """Decided by the controlled scheduler: the student's threads run one at a time and the
    grader chooses every switch, exploring all schedules of run_workers(2) with up to two
    preemptions and, from a fixed seed, PCT schedules of run_workers(4)."""
    run = runs["search"]
    if not run.finished:
        lose(describe(run, MODULE))
    search = run.data["search"]
    if search["verdict"] == "ok":
        return
    if search["verdict"] == "opaque":
        ref = search["reference"]
        names = sorted({part["__opaque__"] for part in ref if isinstance(part, dict)})
        lose(f"run_workers returned, or num holds, a {' / '.join(names)} object: the grader "
             f"compares the sums that different thread interleavings give, and cannot "
             f"compare such objects, so it cannot show that no update is lost. Keep num a "
             f"plain int and return it.")
    ce = search["counterexample"]
    outcome = ce["outcome"]
    if outcome["kind"] == "unjoined":
        slept = (" time.sleep() is no substitute: it only makes it likely that the threads "
                 "are done by then, and here the grader chose to run them later."
                 if outcome.get("slept") else "")
        lose(f"run_workers({SEARCH_THREADS}) returned while {outcome['count']} of the threads "
             f"it started were still running (never joined), so it read num before they "
             f"had all added to it. Start all the threads, then join() every one of them, "
             f"and only then read num.{slept} Whether your lock keeps every update cannot "
             f"be judged before that.")
    if outcome["kind"] == "deadlock":
        waits = "; ".join(
            f"{t['name']} waits to {t['waiting_for']}"
            + (f" (held by {t['holder']})" if t.get("holder") else "")
            for t in outcome["threads"])
        lose(f"deadlock: with the threads switched in a particular order, no thread could go "
             f"on: {waits}. A lock that is acquired and never released (or acquired twice "
             f"by one thread) stops every other thread for good; use `with lock:`.")
    if outcome["kind"] == "stuck":
        lose(f"run_workers({SEARCH_THREADS}) did not return within {STUCK_AFTER:g} s while "
             f"the grader scheduled its threads: an endless loop, or threads that block on "
             f"something other than a threading.Lock/RLock, a Thread's join() or "
             f"time.sleep(), which the grader cannot schedule. Use threading.Thread and "
             f"threading.Lock as in the lecture.")
    if outcome["kind"] == "too_many_threads":
        lose(f"run_workers({SEARCH_THREADS}) started more than {outcome['limit']} threads, so "
             f"the grader could not search its interleavings: start exactly n_threads "
             f"threads.")
    if outcome["kind"] == "step_limit":
        lose(f"run_workers({SEARCH_THREADS}) never finished when its threads were switched in "
             f"a particular order: a thread kept reading shared state in a loop (busy "
             f"waiting) while the thread it waited for could not run. Wait with "
             f"Thread.join(), a Lock or an Event instead of a loop.")
    if outcome["kind"] == "raised":
        when = ("" if search["verdict"] == "error"
                else " when its threads ran in another order")
        hint = (" (that is what sys.exit() raises): the function must return its result, "
                "not end the program"
                if outcome["type"] == "SystemExit" else "")
        lose(f"run_workers({SEARCH_THREADS}) raised {outcome['type']}: {outcome['message']}"
             f"{when}{hint}.")
    lines, lost = story(ce["events"])
    value, num = ce.get("value") or [None, None]
    ref_value = search["reference"][0]
    lose(f"lost update: the grader ran your threads one at a time and chose when to switch "
         f"between them; in this order run_workers returned {value!r} instead of "
         f"{ref_value!r}:\n  " + "\n  ".join(lines)
         + (f"\n{lost}." if lost else "")
         + "\n`num += val` is three steps (read num, add, write num); two threads that "
         "read the same old value both write back their own sum and one addition "
         "disappears. Hold one shared threading.Lock around the whole read-add-write "
         "(`with lock: num += val`), created once at module level, not inside worker.")
