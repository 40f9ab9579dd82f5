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
  sandboxes (:mod:`grader.sandbox.pool`, as ``python -m grader grade`` runs suites): over the
  pool's socket, served by one warm sandbox, each check another student's (the
  submission is swapped in every time: the worst case). The pool's launch is paid once
  per class (:data:`CLASS` students) and counted in, spread over the class's checks.

* ``work``: the check's own work without any sandbox: the module executed afresh from its
  file and ``run_workers(1)`` called, in this process. A check's overhead is its cost
  minus this.

Prints the mean and median per variant, and for each way of running a check its cost
minus the baseline (the goal for the session: under 10 ms) and its ratio to the baseline.

Then, as root, root against rootless in the same run: the script runs itself as a child,
as root, as uid ``nobody`` (whose sandbox is a user namespace) and as root under
``tests/docker_like.py`` (namespaces refused: the uid level, a sandbox per check), all
with the system Python, in alternating chunks, and prints each way's sandbox cost per
check and the rootless/root ratio (the goal: under 10 ms for root and rootless).
"""

from __future__ import annotations

import argparse
import json
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

from grader import sandbox  # noqa: E402
from grader.sandbox import detect, pool  # noqa: E402


def baseline() -> None:
    subprocess.run([sys.executable, "-c", "pass"], check=True)


def confine_only() -> None:
    ok, why = detect.trial(sandbox.isolation())
    assert ok, f"the launcher failed: {why}"


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


def measure(rounds: int) -> dict[str, list[float]]:
    """Every variant, interleaved round by round: seconds per call (``session_fixed`` and
    ``pool_fixed``: the launch and first check of each session and pool)."""
    variants = {"baseline": baseline, "confine": confine_only, "check": check, "work": work}
    for fn in variants.values():  # warm caches (byte code, page cache)
        fn()
    times: dict[str, list[float]] = {name: [] for name in variants}
    for name in ("session", "pool", "session_fixed", "pool_fixed"):
        times[name] = []
    folder = Path(tempfile.mkdtemp(prefix="kit-bench-"))
    students = []
    for name in ("ann", "ben", "cid", "dee"):
        (folder / name).mkdir()
        shutil.copy(ROOT / "solutions" / "thread_counter" / "counter.py", folder / name)
        students.append(folder / name)
    sessions = sandbox.sessions_enabled()  # (not at the uid level: a sandbox per check)
    try:
        for _ in range(rounds):
            for name, fn in variants.items():
                start = time.perf_counter()
                fn()
                times[name].append(time.perf_counter() - start)
            if not sessions:
                continue
            first, rest = session_checks()
            times["session_fixed"].append(first)
            times["session"].extend(rest)
            first, rest = pool_checks(students)
            times["pool_fixed"].append(first)
            times["pool"].extend(rest)
    finally:
        shutil.rmtree(folder)
    return times


def pool_cost(times: dict[str, list[float]], checks: int) -> float:
    """Sandbox seconds per check of a suite of ``checks`` checks as `python -m grader grade
    --jobs <cores>` runs it: through the class's pool, each check another student's, the
    pool's launches (cores x min(6, checks)) spread over a class of :data:`CLASS`."""
    each = statistics.median(times["pool"])
    launch = statistics.median(times["pool_fixed"]) - each
    launches = (os.cpu_count() or 1) * min(6, checks)
    return each + launches * launch / (CLASS * checks) - statistics.median(times["work"])


def report(rounds: int, times: dict[str, list[float]]) -> None:
    print(f"\n{rounds} rounds, interleaved")
    print(f"{'variant':10} {'mean ms':>9} {'median ms':>10}")
    for name, values in times.items():
        if name.endswith("_fixed"):
            continue
        print(f"{name:10} {1000 * statistics.mean(values):9.1f} "
              f"{1000 * statistics.median(values):10.1f}")
    base = statistics.median(times["baseline"])
    per_check = statistics.median(times["check"])
    own_work = statistics.median(times["work"])
    if not times["session"]:
        print(f"\nno sessions here (each check in a sandbox of its own): "
              f"{1000 * (per_check - own_work):.1f} ms of sandbox per check; "
              f"{(per_check - own_work) / base:.2f} x a bare interpreter start")
        return
    fixed = statistics.median(times["session_fixed"])
    in_session = statistics.median(times["session"]) + fixed / CHECKS
    print(f"session launch + first check: median {1000 * fixed:.1f} ms, paid once per "
          f"{CHECKS} checks")
    print(f"\n{'per check':28} {'ms':>7} {'- baseline':>11} {'/ baseline':>11}")
    for label, value in (("own sandbox (sandbox.run)", per_check),
                         ("in a session (amortized)", in_session),
                         ("launcher only (confine)", statistics.median(times["confine"]))):
        print(f"{label:28} {1000 * value:7.1f} {1000 * (value - base):+11.1f} "
              f"{value / base:11.2f}")
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
    launch = statistics.median(times["pool_fixed"]) - statistics.median(times["pool"])
    print(f"\nas `python -m grader grade --jobs {jobs}` runs them: through the class's pool "
          f"(each check another student's), {jobs} x min(6, checks) sandbox launches "
          f"({1000 * launch:.1f} ms each) per class of {CLASS}:")
    for suite, checks in SUITES.items():
        cost = pool_cost(times, checks)
        print(f"  {suite:15} {checks:2} checks: {1000 * cost:5.1f} ms of sandbox "
              f"per check (goal: under 10 ms); {cost / base:.2f} x a bare "
              "interpreter start")


CHUNKS = 3  # root and rootless alternate this many times in the comparison


def compare(rounds: int) -> None:
    """Root against rootless in one run: this script as a child, once as root and once as
    uid nobody, both with the system Python (which nobody can run), alternating in
    :data:`CHUNKS` chunks so that the machine's load hits both alike."""
    python = "/usr/bin/python3"
    if os.geteuid() != 0 or not os.path.exists(python) or shutil.which("setpriv") is None:
        print("\n(root against rootless: needs root, setpriv and /usr/bin/python3)")
        return
    kit = Path(tempfile.mkdtemp(prefix="kit-bench-kit-"))
    os.chmod(kit, 0o755)
    for part in ("grader", "solutions"):
        shutil.copytree(ROOT / part, kit / part, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "tests" / "benchmarks", kit / "tests" / "benchmarks")
    script = kit / "tests" / "benchmarks" / "bench_sandbox.py"
    # The uid level (root where namespaces are refused: Gradescope's container): a kit
    # only root may read, under tests/docker_like.py, which hides this checkout.
    private = Path(tempfile.mkdtemp(prefix="kit-bench-private-"))  # (0700)
    shutil.copytree(kit, private / "kit")
    shutil.copyfile(ROOT / "tests" / "docker_like.py", private / "docker_like.py")
    hide = [a for p in (str(ROOT), "/work") if os.path.isdir(p) for a in ("--hide", p)]
    container = [python, str(private / "docker_like.py"), *hide, "--"]
    env = {"PATH": "/usr/bin:/bin", "HOME": "/tmp", "LANG": "C.UTF-8"}
    modes = {"root": ([], script),
             "rootless": (["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"],
                          script),
             "uid level": (container, private / "kit" / "tests" / "benchmarks" /
                           "bench_sandbox.py")}
    data: dict[str, dict[str, list[float]]] = {mode: {} for mode in modes}
    summaries = {}
    try:
        for _ in range(CHUNKS):
            for mode, (prefix, path) in modes.items():
                done = subprocess.run(
                    [*prefix, python, str(path), "--child",
                     "--rounds", str(max(1, rounds // CHUNKS))],
                    cwd="/tmp", env=env, capture_output=True, text=True, check=False)
                if done.returncode != 0:
                    print(f"\n({mode} run failed: {done.stderr[-1500:]})")
                    return
                summary, raw = done.stdout.strip().split("\n", 1)
                summaries[mode] = summary
                for name, values in json.loads(raw).items():
                    data[mode].setdefault(name, []).extend(values)
    finally:
        shutil.rmtree(kit, ignore_errors=True)
        shutil.rmtree(private, ignore_errors=True)
    print(f"\nroot, rootless and the uid level, one run ({python}, {CHUNKS} alternating "
          f"chunks):")
    for mode in data:
        print(f"  {mode:9} {summaries[mode]}")
    print(f"\n  {'sandbox ms per check':36} {'root':>6} {'rootless':>9} {'ratio':>6} "
          f"{'uid level':>10}")
    rows = [("own sandbox (sandbox.run)", lambda t: statistics.median(t["check"])
             - statistics.median(t["work"])),
            ("in a session (amortized)", lambda t: statistics.median(t["session"])
             + statistics.median(t["session_fixed"]) / CHECKS
             - statistics.median(t["work"]))]
    rows += [(f"grade --jobs {os.cpu_count() or 1}: {suite} ({checks})",
              lambda t, c=checks: pool_cost(t, c)) for suite, checks in SUITES.items()]
    for label, cost in rows:
        root, rootless = cost(data["root"]), cost(data["rootless"])
        try:
            uid_level = f"{1000 * cost(data['uid level']):10.1f}"
        except (KeyError, statistics.StatisticsError):
            uid_level = f"{'-':>10}"  # (no sessions, no pool at the uid level)
        print(f"  {label:36} {1000 * root:6.1f} {1000 * rootless:9.1f} "
              f"{rootless / root:6.2f} {uid_level}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--child", action="store_true",
                        help="(for the comparison) print the summary line and raw times")
    parser.add_argument("--no-compare", action="store_true",
                        help="skip root against rootless")
    args = parser.parse_args()
    iso = sandbox.isolation()
    if args.child:
        times = measure(args.rounds)
        print(iso.summary())
        print(json.dumps(times))
        return
    print(iso.summary())
    times = measure(args.rounds)
    report(args.rounds, times)
    if not args.no_compare:
        compare(args.rounds)


if __name__ == "__main__":
    main()
