"""Benchmark: what a sandbox adds to one check, against a bare interpreter start.

Run: ``python tests/benchmarks/bench_sandbox.py [--rounds N]`` (not collected by pytest).
All numbers come from this one run, interleaved round by round so that machine load hits
every variant alike; the ratios are what to compare across machines.

* ``baseline``: ``subprocess.run([sys.executable, "-c", "pass"])``, the floor of any design
  that starts a fresh interpreter per check;
* ``confine``: the launcher alone, with the isolation this machine gives
  (``python -m grader doctor``), running ``python -I -S -c pass`` as the sandboxed program:
  cgroups, namespaces, the private root, the uid switch, init;
* ``check``: a whole check through :func:`grader.sandbox.run`: scratch folder, uid and
  cgroup set-up, confine, the runner importing the solution's ``counter.py`` and calling
  ``run_workers(1)``, results copied out and verified, everything torn down.

Prints the mean and median per variant, and per check: ``check - baseline`` (the sandbox's
added cost, goal under 10 ms) and ``check / baseline``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from grader import isolation, sandbox  # noqa: E402


def baseline() -> None:
    subprocess.run([sys.executable, "-c", "pass"], check=True)


def confine_only() -> None:
    iso = isolation.detect()
    scratch = Path(tempfile.mkdtemp(prefix="kit-bench-"))
    slot = isolation.UidSlot.claim() if iso.uid else None
    cg = isolation.Cgroup.create(iso.cgroup) if iso.cgroup else None
    try:
        plan = isolation.build_plan(
            iso, scratch, argv=[sys.executable, "-I", "-S", "-c", "pass"],
            env={"PATH": "/usr/bin:/bin"}, cwd="/", wall=20.0,
            uid=slot.uid if slot else None, cgroups=cg.procs_files() if cg else [],
            extra_ro=[], files={}, tmpfs=[], copy_out=None)
        (scratch / "plan.json").write_text(json.dumps(plan))
        subprocess.run([sys.executable, "-I", "-S", str(isolation.CONFINE),
                        str(scratch / "plan.json")], check=True)
    finally:
        if cg is not None:
            cg.destroy()
        if slot is not None:
            slot.release()
        subprocess.run(["rm", "-rf", str(scratch)], check=False)


def check() -> None:
    run = sandbox.run("counter_plain", ROOT / "solutions" / "thread_counter", "counter",
                      params={"sizes": [1]}, deadline=20)
    assert run.finished and run.data["calls"][0]["value"] == 0, run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    iso = isolation.detect()
    print(iso.summary())
    variants = {"baseline": baseline, "confine": confine_only, "check": check}
    for fn in variants.values():  # warm caches (byte code, page cache)
        fn()
    times: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(args.rounds):
        for name, fn in variants.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    print(f"\n{args.rounds} rounds, interleaved")
    print(f"{'variant':10} {'mean ms':>9} {'median ms':>10}")
    for name, values in times.items():
        print(f"{name:10} {1000 * statistics.mean(values):9.1f} "
              f"{1000 * statistics.median(values):10.1f}")
    base = statistics.median(times["baseline"])
    per_check = statistics.median(times["check"])
    print(f"\nadded per check (median check - baseline): {1000 * (per_check - base):.1f} ms "
          f"(goal: under 10 ms)")
    print(f"check / baseline: {per_check / base:.2f}")
    print(f"confine / baseline: {statistics.median(times['confine']) / base:.2f}")


if __name__ == "__main__":
    main()
