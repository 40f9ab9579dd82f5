"""Benchmark: the kit's controlled scheduler against two PyPI interleaving testers.

Run: ``~/.pyenv/versions/3.12.1/bin/python tests/benchmarks/bench_scheduler.py [--quick]``
(3.12: all three tools on one interpreter version). Not a pytest test (``bench_*.py``
is not collected). It creates, if missing, a Python 3.12 venv in ``~/.cache/kit-bench-venv``
(``$KIT_BENCH_VENV``) with ``interleave-test 0.1.0`` and ``frontrun 0.7.0``, then asks
each tool, for every counter submission (corpus mutants described in ``expected.json``,
correct variants, the solution): can an update of ``num`` be lost? Truth: ``deadlock``/
``racy`` when the mutant loses ``race_free`` with an explanation saying "deadlock"/"lost";
else ``race-free`` (``ignores_n`` loses it for starting over 64 threads; its lock is right).

How each tool is asked:

* ours: ``grader.sandbox.run("counter_search", ...)`` with :data:`PARAMS` (every
  schedule of ``run_workers(2)`` within 2 preemptions, then 30 PCT runs of
  ``run_workers(4)``). Time: the search's own ``elapsed``; ``wall`` adds the sandbox.
* the PyPI tools: in a subprocess of the venv (this file, ``--harness TOOL FILE``),
  killed after :data:`TIMEOUT` s ("timeout"); time: their explorations, measured inside.
  Each execution gets a fresh module (the source exec'd under its real file name while
  the tool's patches are active, so an import-time lock is the tool's), its ``worker``
  wrapped so that an exception ends only that call, as it ends only its thread under
  ``threading`` (noted as "worker raised"). Like ours, each takes the reference outcome
  from one run without preemption, then searches for a run whose outcome differs.
* interleave-test, ``N = 2`` (3 threads take minutes to prove): model ``m = fresh module
  (in it.no_interleave()); v = m.run_workers(N); assert (v, m.num) == reference``;
  reference: ``explore(model, iterations=1, strategy=NonPreemptive())`` (a custom
  ``Strategy``); search: ``explore(model, strategy="dfs", max_preemptions=2,
  iterations=10**6, include=[the submission])``. ``RaceFound`` from our assertion is
  "racy", ``DeadlockError`` "deadlock", ``HangError`` "hang".
* frontrun, ``N = 3`` (with 2 it misses ``read_outside_lock`` even unbounded: losing
  ``worker(0)``'s +0 shows nothing), under its CLI (``frontrun python``, as its docs
  require). It schedules only the threads it starts: workers ``worker(0)``..
  ``worker(N-1)`` on ``setup()`` = a fresh module; reference: ``explore(...,
  preemption_bound=0, max_executions=1)``; search: ``explore(..., invariant=num ==
  reference)``, defaults (DPOR, preemption bound 2) but ``reproduce_on_failure=0``.
  ``property_holds`` False: "racy" ("deadlock" if it explains so); None: "inconclusive".

Observed (interleave-test 0.1.0, frontrun 0.7.0, CPython 3.12.1; ``--naive import-once``
and ``--naive run-workers`` reproduce the naive harnesses):

* interleave-test, module imported once before ``explore`` (the plain way): an
  import-time lock is a real lock, which blocks the OS thread of a worker the scheduler
  switched away from: ``HangError`` after 36 s (its 30 s per-schedule timeout). In a
  worker ``threading.current_thread()`` raises ``AssertionError: Thread.__init__() not
  called`` (bare ``_thread`` threads): such a worker passes only vacuously. Its DFS
  switches at every opcode: a proof takes thousands of schedules and seconds to a
  minute. Like ours, it calls the serialized ``join_in_start_loop`` race-free (true: the
  kit's overlap check, not a race search, catches that mistake).
* frontrun, module imported once: a lock older than its patching makes locked versions
  "inconclusive" (an execution times out after its 5 s ``deadlock_timeout``). With
  ``workers=[run_workers(N)]``, the threads the code under test starts run unscheduled:
  one interleaving, and racy versions pass.
* frontrun, worker-level (used here): a worker blocked on a lock that its holder, now
  ended, never released is no wait-for cycle: "inconclusive" after 5 s. Workers waiting
  for an ``Event`` or a ``Condition`` flag that only ``run_workers`` sets: "inconclusive".
  Mistakes in ``run_workers`` are out of its sight (``join_in_start_loop``'s unlocked
  worker is "racy"); a worker given its lock by ``run_workers`` raises: a vacuous pass.

Printed: a row per submission; per tool the right verdicts and total wall time; our time
to the first counterexample (racy, deadlock) and to the proof (race-free) as ratios to
the fastest other tool that was right ("n/a" when none was), with sums.
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
import threading
import time
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "tests" / "corpus" / "thread_counter"
VENV = Path(os.environ.get("KIT_BENCH_VENV", "~/.cache/kit-bench-venv")).expanduser()
PINS = {"interleave-test": "0.1.0", "frontrun": "0.7.0"}
TOOLS = list(PINS)
SIZES = {"interleave-test": 2, "frontrun": 3}  # run_workers(N) / worker(0..N-1)
TIMEOUT = 60.0
PARAMS = {"threads": 2, "bound": 2, "budget": 8.0, "seed": 20261125, "pct_runs": 30,
          "pct_threads": 4}
QUICK = ["no_lock", "lock_never_released", "join_in_start_loop", "solution"]


# --- the harness, run by the venv's Python ------------------------------------------------

def load(path: str, raised: dict[int, str]) -> types.ModuleType:
    """A fresh copy of the submission; its ``worker`` ends quietly on an exception."""
    module = types.ModuleType("counter")
    module.__file__ = path
    exec(compile(Path(path).read_text(), path, "exec"), module.__dict__)
    # Bound here: `threading.get_ident()` called in the wrapper made frontrun explore 754
    # interleavings of local_not_global instead of 8.
    inner, ident = module.worker, threading.get_ident

    def worker(*args, **kwargs):
        try:
            return inner(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - what threading does with it
            if type(exc).__module__.startswith(("frontrun", "interleave_test")):
                raise  # the tool's own control flow
            # One key per thread: no shared write for a tool to interleave on.
            raised[ident()] = type(exc).__name__

    module.worker = worker
    return module


def harness_interleave(path: str, naive: str, n: int) -> dict:
    import interleave_test as it

    class NonPreemptive(it.Strategy):
        def pick(self, runnable, current, index):
            return current if current is not None else runnable[0]

    raised: dict[int, str] = {}
    once = load(path, raised) if naive == "import-once" else None
    seen: list = []

    def model():
        with it.no_interleave():
            m = once or load(path, raised)
        value = m.run_workers(n)
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
    except (it.DeadlockError, it.HangError) as err:
        out["verdict"] = "deadlock" if isinstance(err, it.DeadlockError) else "hang"
        out["note"] = str(err).splitlines()[0][:120]
    except it.RaceFound as err:
        cause = err.failure.exception
        out["verdict"] = "racy" if check and isinstance(cause, AssertionError) else "error"
        out["note"] = f"{type(cause).__name__}: {cause}"[:120]
    out["raised"] = sorted(set(raised.values()))
    return out


def harness_frontrun(path: str, naive: str, n: int) -> dict:
    import frontrun

    raised: dict[int, str] = {}
    once = load(path, raised) if naive == "import-once" else None

    def setup():
        m = once or load(path, raised)
        m.num = 0
        return m

    if naive == "run-workers":
        workers = [lambda m: m.run_workers(n)]
    else:
        workers = [lambda m, i=i: m.worker(i) for i in range(n)]
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
    verdict = "deadlock" if verdict == "racy" and "eadlock" in text else verdict
    return {"verdict": verdict, "runs": runs, "note": " ".join(text.split())[:120],
            "raised": sorted(set(raised.values()))}


def harness_main(tool: str, path: str, naive: str) -> None:
    started = time.monotonic()
    fn = harness_interleave if tool == "interleave-test" else harness_frontrun
    out = fn(path, naive, SIZES[tool])
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
        says = entry.get("says", {}).get("race_free", "") if "race_free" in entry["lost"] else ""
        # Lost for another reason (e.g. too many threads to search): race-free all the same.
        truth = "deadlock" if "deadlock" in says else "racy" if "lost" in says else "race-free"
        subs.append((folder.name, folder, truth))
    for folder in sorted((ROOT / "tests" / "correct" / "thread_counter").iterdir()):
        if (folder / "counter.py").is_file():
            subs.append((f"correct/{folder.name}", folder, "race-free"))
    subs.append(("solution", ROOT / "solutions" / "thread_counter", "race-free"))
    return [s for s in subs if not quick or s[0] in QUICK]


def ensure_venv() -> Path:
    python = VENV / "bin" / "python"
    probe = f"import importlib.metadata as m; print(*map(m.version, {list(PINS)}))"
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
    except subprocess.TimeoutExpired:
        stdout = stderr = None
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # the group: frontrun's CLI starts a child
    except OSError:
        pass
    if stdout is None:
        proc.communicate()
    wall = time.monotonic() - started
    if stdout is None:
        return {"verdict": "timeout", "seconds": wall, "wall": wall,
                "note": f"killed after {TIMEOUT:g} s"}
    line = next((x for x in stdout.splitlines() if x.startswith("RESULT ")), None)
    if line is None:
        return {"verdict": "crash", "seconds": wall, "wall": wall,
                "note": " ".join(stderr.split())[-120:]}
    return {**json.loads(line[len("RESULT "):]), "wall": wall}


def run_ours(folder: Path) -> dict:
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
    note = "" if search["verdict"] == "ok" else str(kind)
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
    sys.path.insert(0, str(ROOT))  # our grader: only `grader` and the stdlib are needed
    print(f"python {sys.version.split()[0]} (ours); venv {python}: "
          + ", ".join(f"{k} {v}" for k, v in PINS.items()) + f"; N={SIZES}, timeout {TIMEOUT:g} s"
          + ("" if args.naive == "no" else f"; naive harness: {args.naive}"))
    head = (f"{'submission':28} {'truth':9} | {'ours':9} {'search':>7} {'wall':>6} | "
            f"{'interleave':11} {'s':>6} | {'frontrun':12} {'s':>6}")
    print(f"{head}\n{'-' * len(head)}")
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
            if r["verdict"] != truth or r.get("raised"):
                mark = "wrong" if r["verdict"] != truth else "right"
                notes.append(f"  {name} [{tool}] {mark}, {r['verdict']}: {text}"[:150])
    if notes:
        print("\nwrong verdicts and workers that raised, as the tools explain them:")
        print("\n".join(notes))
    print(f"\nright verdicts (of {len(rows)}):")
    for tool in ["ours", *TOOLS]:
        right = sum(r[tool]["verdict"] == truth for _, truth, r in rows)
        walls = sum(r[tool]["wall"] for _, _, r in rows)
        print(f"  {tool:16} {right:3}   total wall {walls:7.2f} s")
    print("\nours / fastest other tool that was right (search time):")
    for label, group in [("time to first counterexample", ("racy", "deadlock")),
                         ("time to proof", ("race-free",))]:
        mine = best = mine_it = its = 0.0
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
            if right and it["verdict"] == truth:
                mine_it, its = mine_it + res["ours"]["seconds"], its + it["seconds"]
                if res["ours"]["seconds"] > it["seconds"]:
                    slower.append(name)
        print(f"  {label}: " + ", ".join(cells))
        print(f"    sums: ours {mine:.3f} s / best other {best:.3f} s = "
              f"{ratio(mine, best or None)}; ours {mine_it:.3f} s / interleave-test "
              f"{its:.3f} s = {ratio(mine_it, its or None)} where both right, slower on: "
              f"{', '.join(slower) or 'none'}")


if __name__ == "__main__":
    main()
