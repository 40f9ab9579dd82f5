"""Hidden suite for ``thread_counter`` (module ``counter.py``).

Three sandbox runs, each calling the student's ``run_workers``:

* ``plain``: ``run_workers(2000)`` then ``run_workers(50)``, untouched: the sum and
  ``counter.num``; ``fresh``: ``run_workers(50)`` in a fresh process, the reference for
  the second call (reset) and for the race check (a wrong total that is not caused by a
  race is the sum checks' business, not theirs).
* ``overlap``: a trace function holds the first worker thread that enters the student's
  code until three threads are inside it at once: proof that the threads overlapped.
* ``race``: a trace function holds a thread right after it read ``num`` until a second
  thread has read it too. Without a lock around the whole read-add-write both write back a
  sum of the same old value and an update is lost, every time; with the lock the second
  thread cannot get to the read and nothing is lost. (CPython 3.10+ switches threads only
  at calls and backward jumps, so without this an unlocked counter looks correct.)
"""

from __future__ import annotations

from grader.judge import check, describe, lose, where

MODULE = "counter"
SIZES = [2000, 50]
OVERLAP_N, OVERLAP_TIMEOUT = 3, 4.0
RACE_THREADS, RACE_ROUNDS, RACE_WAIT = 50, 4, 0.25

SCENARIOS = {
    "plain": {"scenario": "counter_plain", "deadline": 10, "params": {"sizes": SIZES}},
    "fresh": {"scenario": "counter_plain", "deadline": 10,
              "params": {"sizes": [RACE_THREADS]}},
    "overlap": {"scenario": "counter_overlap", "deadline": 10,
                "params": {"sizes": [RACE_THREADS], "n": OVERLAP_N,
                           "timeout": OVERLAP_TIMEOUT}},
    "race": {"scenario": "counter_race", "deadline": 10,
             "params": {"sizes": [RACE_THREADS], "rounds": RACE_ROUNDS,
                        "timeout": RACE_WAIT}},
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


@check(2, "run_workers(2000) returns sum(range(2000))")
def test_returns_sum(runs):
    run = runs["plain"]
    first = finished(run)[0]
    if first["value"] != expect(first["n"]) or type(first["value"]) is not int:
        lose(f"run_workers({first['n']}) returned {first['value']!r}; expected "
             f"{expect(first['n'])} = 0 + 1 + ... + {first['n'] - 1}: every worker(i) adds "
             f"i once, and run_workers returns num after joining all threads."
             + thread_errors(run))


@check(2, "counter.num equals the sum after run_workers returns")
def test_num_matches(runs):
    run = runs["plain"]
    first = finished(run)[0]
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
    finished(run)
    w = run.data["witness"]
    if w["threads"] == 0:
        lose("worker never ran in a thread of its own: run_workers must create "
             "threading.Thread(target=worker, args=(i,)) objects and start() them (calling "
             "worker directly, or a Thread replacement that runs it in the calling thread, "
             "does not start threads).")
    if w["state"] != "passed":
        lose(f"your threads never overlapped: the grader held the first worker thread for "
             f"{OVERLAP_TIMEOUT:g} s waiting for {OVERLAP_N - 1} more threads to start, and "
             f"at most {w['max_inside']} thread was running. Joining each thread right after "
             f"starting it (as on the lecture's slide) runs them one after another: the "
             f"answer is right, but that is not multithreading. Start all threads first, "
             f"then join them all, and protect num with a lock.")


@check(2, "no update is lost when threads switch at the worst moment")
def test_race_free(runs):
    """Compared with the same call in a fresh process without forced switches, so that a
    total that is wrong for another reason is charged to the sum checks, not here."""
    run = runs["race"]
    call = finished(run)[0]
    fresh = finished(runs["fresh"])[0]
    gate = run.data.get("gate", {})
    got, want = (call["value"], call["num"]), (fresh["value"], fresh["num"])
    if got != want and gate.get("paired"):
        lose(f"lost update: the grader paused one thread right after it read num and let a "
             f"second thread read num too ({gate['paired']} time(s)); "
             f"run_workers({call['n']}) then returned {call['value']!r} instead of "
             f"{fresh['value']!r}. `num += val` is three steps (read num, add, write num); "
             f"two threads that read the same old value both write back their own sum and "
             f"one addition disappears. Hold one shared threading.Lock around the whole "
             f"read-add-write (`with lock: num += val`), created once at module level, not "
             f"inside worker.")
    if got != want:
        lose(f"run_workers({call['n']}) returned {call['value']!r} (num={call['num']!r}) "
             f"while the grader traced your threads, but {fresh['value']!r} otherwise."
             + thread_errors(run))
