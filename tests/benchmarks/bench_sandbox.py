"""Benchmark: what a sandbox adds to one check, against a bare interpreter start.

Run: ``python tests/benchmarks/bench_sandbox.py [--rounds N]`` (not collected by pytest).
All numbers come from this one run, interleaved round by round so that machine load hits
every variant alike; the ratios are what to compare across machines.

* ``baseline``: ``subprocess.run([sys.executable, "-c", "pass"])``, the floor of any design
  that starts a fresh interpreter per check;
* ``confine``: the launcher alone, with the isolation this machine gives
  (``python -m grader doctor``), running ``python -I -S -c pass`` as the sandboxed program:
  cgroups, namespaces, the private root, the uid switch, init;
* ``check``: a whole check in a sandbox of its own, :func:`grader.sandbox.run`: scratch
  folder, uid and cgroup set-up, confine, the runner importing the solution's
  ``counter.py`` and calling ``run_workers(1)``, results copied out and verified,
  everything torn down;
* ``session``: the same check served by a :class:`grader.sandbox.Session` (as the hidden
  suites run them): a process forked inside the running sandbox imports the module and
  runs the check; then everything else in the sandbox is killed and its folders emptied.
  The session's launch is paid once per :data:`CHECKS` checks and counted in, spread
  over them (``session`` = launch / CHECKS + median check).

* ``pool``: the same check sent by a suite's client to the class's pool of warm
  sandboxes (:mod:`grader.pool`, as ``python -m grader grade`` runs suites): over the
  pool's socket, served by one warm sandbox, each check another student's (the
  submission is swapped in every time: the worst case). The pool's launch is paid once
  per class (:data:`CLASS` students) and counted in, spread over the class's checks.

* ``work``: the check's own work without any sandbox: the module executed afresh from its
  file and ``run_workers(1)`` called, in this process. A check's overhead is its cost
  minus this.

Prints the mean and median per variant, and for each way of running a check its cost
minus the baseline (the goal for the session: under 10 ms) and its ratio to the baseline.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from grader import isolation, pool, sandbox  # noqa: E402


def baseline() -> None:
    subprocess.run([sys.executable, "-c", "pass"], check=True)


def confine_only() -> None:
    assert isolation.trial(isolation.detect()), "the launcher failed"


def check() -> None:
    run = sandbox.run("counter_plain", ROOT / "solutions" / "thread_counter", "counter",
                      params={"sizes": [1]}, deadline=20)
    assert run.finished and run.data["calls"][0]["value"] == 0, run


def work() -> None:
    path = ROOT / "solutions" / "thread_counter" / "counter.py"
    namespace: dict = {"__name__": "counter_bench", "__file__": str(path)}
    exec(compile(path.read_text(), str(path), "exec"), namespace)
    assert namespace["run_workers"](1) == 0


SUITES = {"thread_counter": 4, "process_fanout": 6, "pool_variants": 16}
CHECKS = 20  # checks per session (a suite has 6 to 20, in up to 6 sessions)


def session_checks() -> tuple[float, list[float]]:
    """(launch and first check, the following checks) of one session, in seconds."""
    times = []
    start = time.perf_counter()
    with sandbox.Session(ROOT / "solutions" / "thread_counter", "counter") as session:
        assert session.enabled, "sessions need the full sandbox (python -m grader doctor)"
        for _ in range(CHECKS + 1):
            t = time.perf_counter()
            run = session.run("counter_plain", params={"sizes": [1]}, deadline=20)
            assert run.finished and run.data["calls"][0]["value"] == 0, run
            times.append(time.perf_counter() - t)
        assert session.checks_served == CHECKS + 1
    first = times[0] + (time.perf_counter() - start - sum(times))
    return first, times[1:]


CLASS = 60  # students in the class a pool serves (issue 6's benchmark class)


def pool_checks(students: list[Path]) -> tuple[float, list[float]]:
    """(launch and first check, the following checks) of a pool with one warm sandbox,
    each check another student's, sent over the socket as the suites send them."""
    times = []
    start = time.perf_counter()
    with pool.Pool(1) as warm:
        for i in range(CHECKS + 1):
            client = pool.Client(warm.path, students[i % len(students)], "counter")
            t = time.perf_counter()
            run = client.run("counter_plain", params={"sizes": [1]}, deadline=20)
            assert run.finished and run.data["calls"][0]["value"] == 0, run
            times.append(time.perf_counter() - t)
        assert (warm.launched, warm.checks) == (1, CHECKS + 1)
    first = times[0] + (time.perf_counter() - start - sum(times))
    return first, times[1:]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    iso = isolation.detect()
    print(iso.summary())
    variants = {"baseline": baseline, "confine": confine_only, "check": check, "work": work}
    for fn in variants.values():  # warm caches (byte code, page cache)
        fn()
    times: dict[str, list[float]] = {name: [] for name in variants}
    times["session"] = []
    times["pool"] = []
    session_fixed: list[float] = []
    pool_fixed: list[float] = []
    folder = Path(tempfile.mkdtemp(prefix="kit-bench-"))
    students = []
    for name in ("ann", "ben", "cid", "dee"):
        (folder / name).mkdir()
        shutil.copy(ROOT / "solutions" / "thread_counter" / "counter.py", folder / name)
        students.append(folder / name)
    try:
        for _ in range(args.rounds):
            for name, fn in variants.items():
                start = time.perf_counter()
                fn()
                times[name].append(time.perf_counter() - start)
            first, rest = session_checks()
            session_fixed.append(first)
            times["session"].extend(rest)
            first, rest = pool_checks(students)
            pool_fixed.append(first)
            times["pool"].extend(rest)
    finally:
        shutil.rmtree(folder)
    print(f"\n{args.rounds} rounds, interleaved")
    print(f"{'variant':10} {'mean ms':>9} {'median ms':>10}")
    for name, values in times.items():
        print(f"{name:10} {1000 * statistics.mean(values):9.1f} "
              f"{1000 * statistics.median(values):10.1f}")
    base = statistics.median(times["baseline"])
    fixed = statistics.median(session_fixed)
    per_check = statistics.median(times["check"])
    in_session = statistics.median(times["session"]) + fixed / CHECKS
    print(f"session launch + first check: median {1000 * fixed:.1f} ms, paid once per "
          f"{CHECKS} checks")
    print(f"\n{'per check':28} {'ms':>7} {'- baseline':>11} {'/ baseline':>11}")
    for label, value in (("own sandbox (sandbox.run)", per_check),
                         ("in a session (amortized)", in_session),
                         ("launcher only (confine)", statistics.median(times["confine"]))):
        print(f"{label:28} {1000 * value:7.1f} {1000 * (value - base):+11.1f} "
              f"{value / base:11.2f}")
    own_work = statistics.median(times["work"])
    print(f"\nthe check's own work, unsandboxed: {1000 * own_work:.1f} ms")
    print(f"sandbox overhead per check in a session: {1000 * (in_session - own_work):.1f} ms "
          f"(goal: under 10 ms); {(in_session - own_work) / base:.2f} x a bare "
          f"interpreter start ({1000 * base:.1f} ms)")
    print(f"sandbox overhead per check in its own sandbox: {1000 * (per_check - own_work):.1f}"
          f" ms; {(per_check - own_work) / base:.2f} x a bare interpreter start")
    # The hidden suites spread their checks over min(6, checks) sessions, or give each
    # check a sandbox of its own when no session would serve more than one.
    each = statistics.median(times["session"])
    print("\na suite run by pytest on its own, without a grading command's pool (sessions; "
          "launch + first check counted per session):")
    for suite, checks in SUITES.items():
        sessions = min(6, checks)
        if checks > sessions:
            cost = (sessions * fixed + (checks - sessions) * each) / checks
        else:  # one check per slot: the suites give each check a sandbox of its own
            cost = per_check
        how = (f"in {sessions} sessions" if checks > sessions else "a sandbox each")
        print(f"  {suite:15} {checks:2} checks, {how:16}: "
              f"{1000 * (cost - own_work):5.1f} ms of sandbox per check")
    # Under `python -m grader grade --jobs J`, every check goes to the class's pool of
    # warm sandboxes. J students are graded at once, each suite keeping up to
    # min(6, checks) sandboxes busy: that many sandboxes are launched for the whole class.
    jobs = os.cpu_count() or 1
    each = statistics.median(times["pool"])
    launch = statistics.median(pool_fixed) - each
    print(f"\nas `python -m grader grade --jobs {jobs}` runs them: through the class's pool "
          f"(each check another student's), {jobs} x min(6, checks) sandbox launches "
          f"({1000 * launch:.1f} ms each) per class of {CLASS}:")
    for suite, checks in SUITES.items():
        launches = jobs * min(6, checks)
        cost = each + launches * launch / (CLASS * checks)
        print(f"  {suite:15} {checks:2} checks: {1000 * (cost - own_work):5.1f} ms of sandbox "
              f"per check (goal: under 10 ms); {(cost - own_work) / base:.2f} x a bare "
              "interpreter start")

if __name__ == "__main__":
    main()
