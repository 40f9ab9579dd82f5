"""Benchmark: the kit's controlled scheduler against two PyPI interleaving testers.

Run (Python 3.12 for all three tools on one interpreter version)::

    ~/.pyenv/versions/3.12.1/bin/python tests/benchmarks/bench_scheduler.py [--quick]

Not a pytest test (``bench_*.py`` is not collected). It creates, if missing, a Python
3.12 venv in ``~/.cache/kit-bench-venv`` (``$KIT_BENCH_VENV``) with ``interleave-test
0.1.0`` and ``frontrun 0.7.0``, then asks each tool about every counter submission (the
corpus mutants, the correct variants, the solution): can an update to ``num`` be lost?
Truth: ``racy``/``deadlock`` for mutants whose ``expected.json`` loses ``race_free``
(``deadlock`` when that explanation says so), else ``race-free``.

How each tool is asked (``N = 2`` threads for all, the size our exhaustive search uses):

* ours: ``grader.sandbox.run("counter_search", ...)`` with :data:`PARAMS` (exhaustive
  search within 2 preemptions of ``run_workers(2)``, then 30 PCT runs of
  ``run_workers(4)``). Time: the search's own ``elapsed``; ``wall`` adds the sandbox.
* the PyPI tools run in a subprocess of the venv (this file, ``--harness TOOL FILE``),
  killed after :data:`TIMEOUT` s ("hang"); time: both explorations, measured inside.
  Each gets a fresh module per execution (the source exec'd under the real file name
  while the tool's patches are active, so even an import-time lock is the tool's), and
  ``worker`` wrapped so that an exception ends only that call, as it ends only its
  thread under ``threading`` (the exception names are listed in the notes). Like ours,
  each first takes the reference outcome from one run without preemption, then searches
  for a run whose outcome differs: a verdict independent of what the sum "should" be.
* interleave-test: the model ``m = fresh module (inside it.no_interleave()); v =
  m.run_workers(N); assert (v, m.num) == reference``; reference from
  ``explore(model, iterations=1, strategy=NonPreemptive())`` (a documented custom
  ``Strategy``), search ``explore(model, strategy="dfs", max_preemptions=2,
  iterations=10**6, include=[the submission])``. ``RaceFound`` from our assertion is
  "racy", ``DeadlockError`` "deadlock", ``HangError`` "hang", a pass "race-free".
* frontrun, under its CLI (``frontrun python ...``, as its docs require): it schedules
  only the threads it starts itself, so its workers are ``worker(0)``..``worker(N-1)``
  on ``setup()`` = a fresh module; reference from ``explore(..., preemption_bound=0,
  max_executions=1)``, search ``explore(..., invariant=num == reference)`` with the
  defaults (DPOR, preemption bound 2) and ``reproduce_on_failure=0`` (replaying the
  counterexample is not needed for a verdict). ``property_holds`` False is "racy" (or
  "deadlock" when its explanation says so), None is "inconclusive".

Observed limitations (interleave-test 0.1.0, frontrun 0.7.0, CPython 3.12.1; reproduce
the first two with ``--naive import-once``, the fourth with ``--naive run-workers``):

* interleave-test, module imported once before ``explore`` (the plain way): an
  import-time ``threading.Lock`` is a real lock, which blocks the OS thread of a worker
  the scheduler has switched away from: each locked submission ends in ``HangError``
  after its 30 s per-schedule timeout. Inside workers ``threading.current_thread()``
  raises ``AssertionError: Thread.__init__() not called`` (its threads are bare
  ``_thread`` threads). Its DFS switches at every opcode: proving a 2-thread counter
  takes thousands of schedules. A serialized ``join_in_start_loop`` is race-free for it
  (right for this question; no tool here flags the lost concurrency).
* frontrun, module imported once: a lock that predates its patching makes locked
  versions "inconclusive" (the execution times out after ``deadlock_timeout`` = 5 s).
* frontrun: a worker blocked forever on a lock its holder never released (the holder
  ended) is not a wait-for cycle: "inconclusive" after 5 s, not "deadlock". Workers that
  wait for an ``Event`` set by ``run_workers`` never start (inconclusive), and a worker
  taking its lock as an argument from ``run_workers`` raises (a vacuous pass).
* frontrun with ``workers=[run_workers(N)]``: the threads started by the code under test
  run unscheduled, one interleaving is explored, and racy versions pass.

Printed: one row per submission, then per tool the right verdicts, and our time to the
first counterexample (racy, deadlock) and to the proof (race-free) as ratios to the
fastest other tool that was right there ("n/a" when none was), with sums.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "tests" / "corpus" / "thread_counter"
VENV = Path(os.environ.get("KIT_BENCH_VENV", "~/.cache/kit-bench-venv")).expanduser()
PINS = {"interleave-test": "0.1.0", "frontrun": "0.7.0"}
TOOLS = list(PINS)
N = 2
TIMEOUT = 40.0
PARAMS = {"threads": 2, "bound": 2, "budget": 8.0, "seed": 20261125, "pct_runs": 30,
          "pct_threads": 4}
QUICK = ["no_lock", "lock_never_released", "join_in_start_loop", "solution"]


# --- the harness, run by the venv's Python ------------------------------------------------

def load(path: str, raised: set[str]) -> types.ModuleType:
    """A fresh copy of the submission; its ``worker`` ends quietly on an exception."""
    module = types.ModuleType("counter")
    module.__file__ = path
    exec(compile(Path(path).read_text(), path, "exec"), module.__dict__)
    inner = module.worker

    def worker(*args, **kwargs):
        try:
            return inner(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - what threading does with it
            raised.add(type(exc).__name__)

    module.worker = worker
    return module


def harness_interleave(path: str, naive: str) -> dict:
    import interleave_test as it

    class NonPreemptive(it.Strategy):
        def pick(self, runnable, current, index):
            return current if current is not None else runnable[0]

    raised: set[str] = set()
    once = load(path, raised) if naive == "import-once" else None
    seen: list = []

    def model():
        with it.no_interleave():
            m = once or load(path, raised)
        value = m.run_workers(N)
        outcome = (repr(value), repr(m.num))
        seen.append(outcome)
        assert not check or outcome == seen[0], f"{outcome} != {seen[0]}"

    opts = {"include": [path], "seed": PARAMS["seed"]}
    out: dict = {}
    try:
        check = False
        it.explore(model, iterations=1, strategy=NonPreemptive(), **opts)
        check = True
        result = it.explore(model, strategy="dfs", max_preemptions=2, iterations=10**6,
                            **opts)
        out.update(verdict="race-free", runs=1 + result.schedules_run,
                   note=f"exhausted={result.exhausted}")
    except it.DeadlockError:
        out["verdict"] = "deadlock"
    except it.HangError:
        out["verdict"] = "hang"
    except it.RaceFound as err:
        cause = err.failure.exception
        out["verdict"] = "racy" if check and isinstance(cause, AssertionError) else "error"
        out["note"] = f"{type(cause).__name__}: {cause}"[:120]
    out["raised"] = sorted(raised)
    return out


def harness_frontrun(path: str, naive: str) -> dict:
    import frontrun

    raised: set[str] = set()
    once = load(path, raised) if naive == "import-once" else None

    def setup():
        m = once or load(path, raised)
        m.num = 0
        return m

    if naive == "run-workers":
        workers = [lambda m: m.run_workers(N)]
    else:
        workers = [lambda m, i=i: m.worker(i) for i in range(N)]
    seen: list = []

    def note(m):
        seen.append(repr(m.num))
        return True

    opts = {"setup": setup, "workers": workers, "reproduce_on_failure": 0}
    result = frontrun.explore(invariant=note, preemption_bound=0, max_executions=1, **opts)
    runs = result.num_explored
    if result.property_holds:
        reference = seen[0]
        result = frontrun.explore(invariant=lambda m: repr(m.num) == reference, **opts)
        runs += result.num_explored
    verdict = {True: "race-free", False: "racy", None: "inconclusive"}[result.property_holds]
    text = result.explanation or ""
    if result.property_holds is False and "eadlock" in text:
        verdict = "deadlock"
    return {"verdict": verdict, "runs": runs, "note": " ".join(text.split())[:120],
            "raised": sorted(raised)}


def harness_main(tool: str, path: str, naive: str) -> None:
    started = time.monotonic()
    fn = harness_interleave if tool == "interleave-test" else harness_frontrun
    out = fn(path, naive)
    out["seconds"] = time.monotonic() - started
    print("RESULT " + json.dumps(out), flush=True)
    os._exit(0)  # threads a tool could not stop must not keep the process alive


# --- the driver -----------------------------------------------------------------------------

def submissions(quick: bool) -> list[tuple[str, Path, str]]:
    expected = json.loads((CORPUS / "expected.json").read_text())
    subs = []
    for folder in sorted(p for p in CORPUS.iterdir() if (p / "counter.py").is_file()):
        entry = expected.get(folder.name)
        if entry is None:
            continue  # not described yet: no truth to score against
        truth = "race-free"
        if "race_free" in entry["lost"]:
            says = entry.get("says", {}).get("race_free", "")
            truth = "deadlock" if "deadlock" in says else "racy"
        subs.append((folder.name, folder, truth))
    for folder in sorted((ROOT / "tests" / "correct" / "thread_counter").iterdir()):
        if (folder / "counter.py").is_file():
            subs.append((f"correct/{folder.name}", folder, "race-free"))
    subs.append(("solution", ROOT / "solutions" / "thread_counter", "race-free"))
    return [s for s in subs if not quick or s[0] in QUICK]


def ensure_venv() -> Path:
    python = VENV / "bin" / "python"
    probe = "import importlib.metadata as m; print(m.version('interleave-test'), " \
            "m.version('frontrun'))"
    if python.exists():
        done = subprocess.run([str(python), "-c", probe], capture_output=True, text=True)
        if done.stdout.split() == list(PINS.values()):
            return python
    found = sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.12.*/bin/python")),
                   key=lambda p: [int(x) for x in Path(p).parts[-3].split(".")])
    base = found[-1] if found else shutil.which("python3.12")
    if base is None:
        sys.exit("no Python 3.12 found (~/.pyenv/versions/3.12.*/bin/python, python3.12)")
    if not python.exists():
        subprocess.run([base, "-m", "venv", str(VENV)], check=True)
    pins = [f"{name}=={version}" for name, version in PINS.items()]
    subprocess.run([str(python), "-m", "pip", "install", "-q", *pins], check=True)
    return python


def run_tool(python: Path, tool: str, folder: Path, naive: str) -> dict:
    cmd = [str(python), str(Path(__file__).resolve()), "--harness", tool,
           str(folder / "counter.py"), "--naive", naive]
    if tool == "frontrun":
        cmd = [str(python.parent / "frontrun"), *cmd]
    started = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, start_new_session=True, text=True)
    try:
        stdout, stderr = proc.communicate(timeout=TIMEOUT)
        hung = False
    except subprocess.TimeoutExpired:
        hung = True
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # the group: frontrun's CLI starts a child
    except OSError:
        pass
    if hung:
        proc.communicate()
        wall = time.monotonic() - started
        return {"verdict": "hang", "seconds": wall, "wall": wall,
                "note": f"killed after {TIMEOUT:g} s"}
    wall = time.monotonic() - started
    line = next((x for x in stdout.splitlines() if x.startswith("RESULT ")), None)
    if line is None:
        return {"verdict": "crash", "seconds": wall, "wall": wall,
                "note": " ".join(stderr.split())[-120:]}
    return {**json.loads(line[len("RESULT "):]), "wall": wall}


def run_ours(folder: Path) -> dict:
    sys.path.insert(0, str(ROOT))
    from grader import sandbox

    started = time.monotonic()
    run = sandbox.run("counter_search", folder, "counter", params=PARAMS, deadline=30)
    wall = time.monotonic() - started
    search = run.data.get("search")
    if not search:
        return {"verdict": "crash", "seconds": wall, "wall": wall,
                "note": f"{run.status} {run.error}"[:120]}
    kind = (search.get("counterexample") or {}).get("outcome", {}).get("kind")
    verdict = {"ok": "race-free"}.get(search["verdict"]) or {
        "returned": "racy", "deadlock": "deadlock", "stuck": "hang"}.get(kind, "error")
    note = "" if search["verdict"] == "ok" else f"{search['verdict']}: {kind}"
    return {"verdict": verdict, "seconds": search["elapsed"], "wall": wall,
            "runs": search.get("runs"), "note": note}


def ratio(ours: float, other: float | None) -> str:
    return "n/a" if other is None else f"{ours / max(other, 1e-9):.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=f"only {', '.join(QUICK)}")
    parser.add_argument("--naive", choices=["no", "import-once", "run-workers"],
                        default="no", help="reproduce a naive harness (see docstring)")
    parser.add_argument("--harness", nargs=2, metavar=("TOOL", "FILE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.harness:
        return harness_main(*args.harness, args.naive)
    python = ensure_venv()
    print(f"python {sys.version.split()[0]} (ours); venv {python}: "
          + ", ".join(f"{k} {v}" for k, v in PINS.items()) + f"; N={N}, timeout {TIMEOUT:g} s"
          + ("" if args.naive == "no" else f"; naive harness: {args.naive}"))
    head = (f"{'submission':28} {'truth':9} | {'ours':9} {'search':>7} {'wall':>6} | "
            f"{'interleave':11} {'s':>6} | {'frontrun':12} {'s':>6}")
    print(head)
    print("-" * len(head))
    rows, notes = [], []
    for name, folder, truth in submissions(args.quick):
        res = {"ours": run_ours(folder)}
        for tool in TOOLS:
            res[tool] = run_tool(python, tool, folder, args.naive)
        rows.append((name, truth, res))
        ours, it, fr = res["ours"], res["interleave-test"], res["frontrun"]
        print(f"{name:28} {truth:9} | {ours['verdict']:9} {ours['seconds']:7.3f} "
              f"{ours['wall']:6.2f} | {it['verdict']:11} {it['seconds']:6.2f} | "
              f"{fr['verdict']:12} {fr['seconds']:6.2f}", flush=True)
        for tool, r in res.items():
            text = r.get("note") or ""
            if r.get("raised"):
                text = f"worker raised {', '.join(r['raised'])}; {text}"
            if r["verdict"] != truth and text:
                notes.append(f"  {name} [{tool}] {r['verdict']}: {text}")
    if notes:
        print("\nwrong verdicts, as the tools explain them:")
        print("\n".join(notes))
    print(f"\nright verdicts (of {len(rows)}):")
    for tool in ["ours", *TOOLS]:
        right = sum(r[tool]["verdict"] == truth for _, truth, r in rows)
        walls = sum(r[tool]["wall"] for _, _, r in rows)
        print(f"  {tool:16} {right:3}   total wall {walls:7.2f} s")
    print("\nours / fastest other tool that was right (search time):")
    for label, group in [("time to first counterexample", ("racy", "deadlock")),
                         ("time to proof", ("race-free",))]:
        mine = best = 0.0
        cells, slower = [], []
        for name, truth, res in rows:
            if truth not in group:
                continue
            ok = [res[t]["seconds"] for t in TOOLS if res[t]["verdict"] == truth]
            other = min(ok) if ok else None
            right = res["ours"]["verdict"] == truth
            cells.append(f"{name}={ratio(res['ours']['seconds'], other) if right else 'wrong'}")
            if right and other is not None:
                mine, best = mine + res["ours"]["seconds"], best + other
            it = res["interleave-test"]
            if right and it["verdict"] == truth and res["ours"]["seconds"] > it["seconds"]:
                slower.append(name)
        print(f"  {label}: " + ", ".join(cells))
        print(f"    sum where compared: ours {mine:.3f} s, best other {best:.3f} s, "
              f"ratio {ratio(mine, best if best else None)}; slower than interleave-test "
              f"where both right: {', '.join(slower) or 'none'}")


if __name__ == "__main__":
    main()
