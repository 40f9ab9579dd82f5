"""Hidden suite for ``pool_variants`` (module ``pools.py``).

Every variant is called with the grader's probe ``timed_task`` as ``func`` and
``processes=3``. The probe follows a plan per item: the first three tasks to start wait at a
barrier until three are running at once (proof of parallel workers); then task 2 waits
until task 9's result has reached the caller, and task 5 until task 2's has, so the results
arrive in an order other than the input order (9, 2, 5) by construction. For
``pool_apply`` the first task instead waits for a second task to start (a barrier of two
that every task meets), which happens only if tasks overlap; the sandbox's init ends the
wait as soon as nothing else of the check can run. The sandbox also records every
``multiprocessing.Pool`` created (class, ``processes``, whether it was closed), the order
in which results reached the caller, and the probe records (pid, start, end) of each task.
"""

from __future__ import annotations

from grader.checks.judge import (
    START_METHODS,
    by_method,
    check,
    check_portable,
    describe,
    held,
    judged,
    lose,
    timeline,
    value_list,
)
from grader.inside.probes import task_result

MODULE = "pools"
PROCESSES = 3
ITEMS = [5, 2, 9, 1, 7, 3]
APPLY_ITEMS = [5, 2, 9, 1]
BARRIER_TIMEOUT = 8.0
PEER_WAIT = 2.0
ORDER_TOLERANCE = 0.15
VARIANTS = ["apply", "map", "apply_async", "map_async", "imap_unordered"]
PARALLEL = ["map", "apply_async", "map_async", "imap_unordered"]
WHAT = {"apply": "Results of Pool.apply called item by item",
        "map": "Results of Pool.map",
        "apply_async": "Results of apply_async, got in submission order,",
        "map_async": "Results of map_async(...).get()"}


def barrier_timeout(method: str | None) -> float:
    """How long the first task is held for the others. Under spawn and forkserver every
    worker is a new interpreter that imports the module, so on a loaded machine (a fork
    bomb in a sibling check, the other core busy) the last worker can start seconds after
    the first took its task: twice the time. It costs nothing to a pool that is serial
    everywhere (its spawn runs are cancelled once the fork run fails, see the suites'
    ``runs`` fixture) and stays well inside the run's deadline."""
    return BARRIER_TIMEOUT if method == "fork" else 2 * BARRIER_TIMEOUT


def _plan(variant: str, method: str) -> dict:
    if variant == "apply":
        tasks = {str(x): {"sleep": 0.02} for x in APPLY_ITEMS}
        tasks["5"]["peer_wait"] = PEER_WAIT
        return {"name": variant, "barrier": 0, "tasks": tasks, "peer_wait": PEER_WAIT,
                "barrier_timeout": barrier_timeout(method)}
    # The first three tasks (5, 2, 9) meet at the barrier; then 2 waits until 9's result
    # has reached the caller, and 5 until 2's has: the results arrive in the order 9, 2, 5,
    # never in input order, by construction (no sleep, on any machine's load).
    # A wait that cannot end (a serial pool) ends when init sees nothing else can run, or,
    # where nothing watches the check, after PEER_WAIT (as pool_apply's peer wait); the task
    # then sleeps so that the tasks still end in the planned order, 0.3 s apart (results
    # that do not pass through a multiprocessing pool are judged by when tasks ended).
    return {"name": variant, "barrier": PROCESSES, "barrier_timeout": barrier_timeout(method),
            "after_timeout": PEER_WAIT,
            "tasks": {"5": {"after": 2, "unpaired_sleep": 0.6},
                      "2": {"after": 9, "unpaired_sleep": 0.3}, "9": {}}}


def _call(variant: str, method: str) -> dict:
    return {"label": variant, "function": f"pool_{variant}", "plan": _plan(variant, method),
            "items": APPLY_ITEMS if variant == "apply" else ITEMS,
            "deadline": BARRIER_TIMEOUT + 20}


def _scenario(method: str, variants: list[str]) -> dict:
    calls = [_call(v, method) for v in variants]
    return dict(scenario="pool_variant", start_method=method,
                deadline=sum(c["deadline"] for c in calls),
                params={"processes": PROCESSES, "calls": calls})


# Under the default method (fork) each variant is a check of its own, all at once. Under
# spawn and forkserver one check calls the five in turn: one resource tracker (and
# forkserver) serves them all, eight fresh interpreters fewer per student. A call that
# does not return there does not cost the later ones their turn: the ``runs`` fixture
# makes them in a check of their own (RESUME), so every variant is tried under every
# method whatever another one did.
_first, *_others = START_METHODS
SCENARIOS = {f"{v}/{_first}": _scenario(_first, [v]) for v in VARIANTS}
for _m in _others:
    SCENARIOS[f"apply/{_m}"] = _scenario(_m, ["apply"])
    SCENARIOS[f"parallel/{_m}"] = _scenario(_m, PARALLEL)
RESUME = True
SCENARIOS["empty/fork"] = dict(scenario="pool_empty", start_method="fork", deadline=20,
                               params={"functions": [f"pool_{v}" for v in VARIANTS],
                                       "processes": PROCESSES})
SCENARIOS["square_cube/fork"] = dict(scenario="square_cube", start_method="fork",
                                     deadline=10, params={"xs": [-3, 0, 1, 2, 7, 12]})


def call(variant):
    items = APPLY_ITEMS if variant == "apply" else ITEMS
    return f"pool_{variant}(func, (x for x in {items}), processes={PROCESSES})"


def check_empty(runs, variant):
    """``pool_<variant>(func, [])`` returned ``[]`` (in the run that calls every variant
    with no items; judged for a variant only once its own run has finished)."""
    run = runs.get("empty/fork")
    if run is None or run.status == "skipped":
        return
    values = run.data.get("values") if isinstance(run.data.get("values"), dict) else {}
    name = f"pool_{variant}"
    if name not in values:
        # Not reached: an earlier function of that run failed (its own check says so),
        # or this one did.
        phase = str(run.phase or "")
        if name in phase and not run.finished:
            lose(f"{name}(func, [], processes={PROCESSES}) should return [] at once, but: "
                 + describe(run, MODULE))
        return
    got = values[name]
    kind = got.get("__type__") if isinstance(got, dict) else type(got).__name__
    if kind != "list":
        lose(f"{name}(func, [], processes={PROCESSES}) returned {kind}, not a list: return "
             f"a list, also when there are no items.")
    if got.get("items") != []:
        lose(f"{name}(func, [], processes={PROCESSES}) returned {got.get('items')!r}, not "
             f"[]: with no items there is nothing to compute; return an empty list.")


def usable(runs, variants):
    """(variant, run) for every run a cross-cutting check can judge.

    Runs under other start methods count only when the default run finished (portability
    is the ``portable`` check's business). A variant whose default run failed is skipped
    here (its own check reports it); if none is usable the check is lost.
    """
    out, problems = [], []
    for v in variants:
        g = by_method(runs, v)
        first = g.get("fork") or next(iter(g.values()))
        if not first.finished:
            problems.append(describe(first, MODULE))
            continue
        out += [(v, r) for r in g.values() if r.finished]
    if not out:
        lose("None of the pool functions returned a result, so this could not be checked. "
             + problems[0])
    return out


def tasks(run):
    return [r for r in run.records if "value" in r]


def _check_values(run, variant, items):
    got = value_list(run, call(variant))
    want = [task_result(x) for x in items]
    m = run.start_method
    if len(got) != len(want):
        lose(f"[{m}] {call(variant)} returned {len(got)} result(s) for {len(items)} items.")
    if any(type(g) is not int for g in got) or sorted(got) != sorted(want):
        lose(f"[{m}] {call(variant)} returned {got}; expected func applied to each item: "
             f"{want}. Return what the pool computed with the `func` you were given.")
    return got, want


def _check_input_order(variant):
    def test(runs):
        for run in judged(by_method(runs, variant), MODULE):
            got, want = _check_values(run, variant, APPLY_ITEMS if variant == "apply" else ITEMS)
            if got != want:
                how = ("sorting the results" if got == sorted(got) else
                       "collecting results as they complete (imap_unordered, callbacks)")
                lose(f"[{run.start_method}] {call(variant)} returned {got}, not {want}: the "
                     f"right results in the wrong order. {WHAT[variant]} "
                     f"must come back in input order even though the grader made "
                     f"the tasks finish in another order; check for {how}.")
        check_empty(runs, variant)
    return test


test_apply = check(2, "pool_apply: right results, in input order")(_check_input_order("apply"))
test_map = check(2, "pool_map: right results, in input order")(_check_input_order("map"))
test_apply_async = check(2, "pool_apply_async: right results, in input order")(
    _check_input_order("apply_async"))
test_map_async = check(2, "pool_map_async: right results, in input order")(
    _check_input_order("map_async"))


AS_THEY_COMPLETE = ("imap_unordered hands out each result as soon as its task completes. "
                    "Returning input order means you waited for earlier tasks (map, imap, "
                    "or getting results in submission order).")


@check(2, "pool_imap_unordered: right results, in completion order")
def test_imap_unordered(runs):
    for run in judged(by_method(runs, "imap_unordered"), MODULE):
        got, _ = _check_values(run, "imap_unordered", ITEMS)
        end = {}
        for r in tasks(run):
            end.setdefault(task_result(r["value"]), r["end"])
        finished = sorted(end, key=end.get)
        arrivals = run.data.get("arrivals")
        if isinstance(arrivals, list) and sorted(arrivals) == sorted(got):
            # The order the results reached your process: exactly what imap_unordered
            # yields, however late a loaded machine let a worker hand its result over.
            if got != arrivals:
                lose(f"[{run.start_method}] {call('imap_unordered')} returned {got}, but "
                     f"the results reached your process in the order {arrivals} (the "
                     f"tasks finished in the order {finished}): {AS_THEY_COMPLETE}")
            continue
        for i, a in enumerate(got):
            for b in got[i + 1:]:
                if a in end and b in end and end[a] > end[b] + ORDER_TOLERANCE:
                    lose(f"[{run.start_method}] {call('imap_unordered')} returned {got}, but "
                         f"the tasks finished in the order {finished}: {AS_THEY_COMPLETE}")
    check_empty(runs, "imap_unordered")


@check(2, "tasks ran in the Pool's worker processes, never in the caller")
def test_in_workers(runs):
    for variant, run in usable(runs, VARIANTS):
        m = run.start_method
        records = tasks(run)
        if not records:
            lose(f"[{m}] {call(variant)} never called func: submit the function you were "
                 f"given to the pool.")
        pools = run.data.get("pools") or []
        threadpools = [p for p in pools if "ThreadPool" in p["class"]]
        mine = [r for r in records if r["pid"] == run.pid]
        if mine and threadpools:
            lose(f"[{m}] {call(variant)} used a {threadpools[0]['class']}: its workers are "
                 f"threads of your own process, sharing one GIL. Use multiprocessing.Pool, "
                 f"whose workers are separate processes.")
        if mine:
            lose(f"[{m}] {len(mine)} of the tasks of {call(variant)} ran in your own process "
                 f"(the caller), not in a pool worker: call func through the pool "
                 f"(pool.apply/map/...), never directly.")


@check(1, "one Pool, with the number of processes asked for")
def test_processes(runs):
    for variant, run in usable(runs, VARIANTS):
        pools = run.data.get("pools") or []
        if not pools:
            lose(f"[{run.start_method}] {call(variant)} created no multiprocessing.Pool: the "
                 f"exercise is about Pool (not concurrent.futures or Process).")
        made = run.data.get("pools_in_call") or 0
        if made > 1:
            lose(f"[{run.start_method}] {call(variant)} created {made} Pools for one call: "
                 f"every Pool starts its own worker processes, which is slow and defeats the "
                 f"pool. Create one Pool, use it for all items, then close it.")
        for p in pools:
            if not p.get("processes_given", True):
                kind = "ThreadPool" if "ThreadPool" in p["class"] else "Pool"
                lose(f"[{run.start_method}] {call(variant)} made a {kind} without "
                     f"`processes`, so it has one worker per CPU of whatever machine runs "
                     f"it ({p['processes']} here), though processes={PROCESSES} was asked: "
                     f"pass the `processes` argument on, "
                     f"multiprocessing.Pool(processes=processes).")
            if p["processes"] != PROCESSES:
                when = ("at import time (module level) " if p["created"].startswith("importing")
                        else "")
                lose(f"[{run.start_method}] {call(variant)} used a Pool with "
                     f"processes={p['processes']} {when}though processes={PROCESSES} was "
                     f"asked: pass the `processes` argument on, "
                     f"multiprocessing.Pool(processes=processes).")


@check(1, "pool_apply runs one task at a time (Pool.apply blocks)")
def test_apply_blocks(runs):
    for run in judged(by_method(runs, "apply"), MODULE):
        records = sorted(tasks(run), key=lambda r: r["start"])
        overlap = any(r.get("peer_seen") for r in records) or any(
            b["start"] < a["end"] for a, b in zip(records, records[1:]))
        if overlap:
            lose(f"[{run.start_method}] {call('apply')} ran tasks at the same time: while "
                 f"the first task was running another one started. Pool.apply blocks until "
                 f"its task is done, so tasks run one after another; you probably submitted "
                 f"them with apply_async or map.")


@check(2, "map, map_async, apply_async and imap_unordered run tasks in parallel")
def test_parallel(runs):
    shown = next((v for v in PARALLEL if f"{v}/fork" in runs), None)
    if shown is not None:
        run = by_method(runs, shown)["fork"]
        timeline(f"{call(shown)} under fork: each task, by the worker process that ran it",
                 [(f"worker pid {r['pid']}" if r["pid"] != run.pid else "the caller",
                   f"task {r['value']}", r.get("start"), r.get("end")) for r in tasks(run)])
    for variant, run in usable(runs, PARALLEL):
        stuck = [r for r in tasks(run) if r.get("barrier") not in ("passed", "late")]
        if stuck:
            lose(f"[{run.start_method}] {call(variant)} never ran {PROCESSES} tasks at the "
                 f"same time: the grader held the first task "
                 f"{held(tasks(run), barrier_timeout(run.start_method))} "
                 f"waiting for others to start, and they did not. Submit all items before "
                 f"waiting for any result (e.g. not .get() right after each apply_async), and "
                 f"give the pool the processes it was asked for.")


@check(2, "no Pool or worker is left running after the function returns")
def test_cleanup(runs):
    for variant, run in usable(runs, VARIANTS):
        for p in run.data.get("pools") or []:
            threads = "ThreadPool" in p["class"]
            workers = (f"{len(p['alive_workers'])} worker thread(s)" if threads else
                       f"{len(p['alive_workers'])} worker process(es)")
            if p["state"] == "RUN":
                where = ("a module-level Pool" if p["created"].startswith("importing")
                         else "its Pool")
                lose(f"[{run.start_method}] {call(variant)} returned with {where} still "
                     f"running ({workers} alive): a pool that is never closed keeps its "
                     f"workers until the program ends. Use "
                     f"`with multiprocessing.Pool(processes) as pool:` inside the function, "
                     f"or call pool.close() and pool.join() before returning.")
            if not p.get("shut_down"):
                # The same verdict on any machine: whether the closed workers happen to
                # have exited by now depends on the machine's load, not on the code.
                lose(f"[{run.start_method}] {call(variant)} closed its Pool but returned "
                     f"without joining it: close() only stops new tasks, and the workers "
                     f"exit on their own some time later, so your function can return "
                     f"while they still run. Call pool.join() after pool.close() (it waits "
                     f"until every worker has exited), or use "
                     f"`with multiprocessing.Pool(processes) as pool:`.")


@check(1, "square and cube")
def test_square_cube(runs):
    run = runs["square_cube/fork"]
    if not run.finished:
        lose(describe(run, MODULE))
    xs = run.params["xs"]
    for name, f in (("square", lambda x: x * x), ("cube", lambda x: x ** 3)):
        got = run.data.get(name)
        want = [f(x) for x in xs]
        if got != want or any(type(g) is not int for g in got):
            lose(f"{name}(x) for x in {xs} gave {got}; expected {want}.")


@check(1, "works under every start method (fork, spawn, forkserver)")
def test_portable(runs):
    check_portable([by_method(runs, v) for v in VARIANTS], MODULE)

