"""Public tests for ``counter.py``: run ``pytest`` in this folder.

Needs ``pip install pytest pytest-timeout``. These tests are a subset of the grader's.
"""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import counter  # noqa: E402  (the module next to this file, see the line above)


@pytest.mark.timeout(60)
def test_worker_adds_to_num() -> None:
    counter.num = 0
    result = counter.worker(5)
    assert result is None, "worker must not return anything: it changes the global num"
    assert counter.num == 5, f"after num = 0 and worker(5), num is {counter.num}, not 5"
    counter.worker(7)
    assert counter.num == 12, f"after worker(5) and worker(7), num is {counter.num}, not 12"


@pytest.mark.timeout(60)
def test_lock_is_a_module_level_lock() -> None:
    counter.num = 0
    counter.worker(1)
    assert hasattr(counter, "lock"), "define a module-level lock: lock = threading.Lock()"
    assert isinstance(counter.lock, type(threading.Lock())), (
        f"counter.lock must be a threading.Lock(), not {type(counter.lock).__name__}"
    )
    assert not counter.lock.locked(), "worker must release the lock (use `with lock:`)"


@pytest.mark.timeout(60)
def test_run_workers_default_sum() -> None:
    expected = sum(range(2000))
    result = counter.run_workers()
    assert result == expected, (
        f"run_workers() returned {result}, expected {expected} (num must start from 0 in "
        "every call)"
    )
    assert counter.num == expected, (
        f"after run_workers(), counter.num is {counter.num}, expected {expected}: update "
        "the module global num (declare `global num`)"
    )


@pytest.mark.timeout(60)
@pytest.mark.parametrize("n_threads", [0, 1, 10, 100])
def test_run_workers_resets_num(n_threads: int) -> None:
    expected = sum(range(n_threads))
    first = counter.run_workers(n_threads)
    second = counter.run_workers(n_threads)
    assert first == expected, f"run_workers({n_threads}) returned {first}, expected {expected}"
    assert second == expected, (
        f"the second run_workers({n_threads}) returned {second}, expected {expected}: reset "
        "num to 0 at the start of run_workers"
    )


@pytest.mark.timeout(60)
def test_threads_run_at_the_same_time(monkeypatch: pytest.MonkeyPatch) -> None:
    # Every thread waits at a barrier until all 8 threads have arrived. If run_workers
    # joins each thread right after starting it, the first thread waits alone in vain.
    n_threads = 8
    barrier = threading.Barrier(n_threads)
    real_worker = counter.worker
    met: list[int] = []

    def probe(val: int) -> None:
        try:
            barrier.wait(timeout=5)
            met.append(val)
        except threading.BrokenBarrierError:
            pass
        real_worker(val)

    monkeypatch.setattr(counter, "worker", probe)
    result = counter.run_workers(n_threads)
    assert sorted(met) == list(range(n_threads)), (
        f"the {n_threads} threads were never all alive at the same time (only {len(met)} "
        "got past a barrier where each waited 5 s for the others): start ALL threads "
        "first, then join them all (a join() right after each start() runs them one after "
        "another); use the module-level worker as the target"
    )
    assert result == sum(range(n_threads)), f"run_workers({n_threads}) returned {result}"


@pytest.mark.timeout(60)
def test_no_lost_update_when_threads_switch_often() -> None:
    # CPython rarely switches threads in the middle of `num += val`, so an unlocked
    # counter usually looks right. Here a trace hook sleeps before every bytecode of
    # counter.py's functions in the worker threads, so another thread gets to run between
    # the read of num and the write: without a lock, additions get lost.
    def opcode_hook(frame, event, arg):
        if event == "opcode":
            time.sleep(0.0002)
        return opcode_hook

    def trace_counter_frames(frame, event, arg):
        if frame.f_globals is vars(counter):
            frame.f_trace_opcodes = True
            return opcode_hook
        return None

    n_threads = 50
    threading.settrace(trace_counter_frames)
    try:
        result = counter.run_workers(n_threads)
    finally:
        threading.settrace(None)
    expected = sum(range(n_threads))
    assert result == expected and counter.num == expected, (
        f"run_workers({n_threads}) gave {result} (num={counter.num}), expected {expected}: "
        "additions were lost because two threads read the same num. Do the read-add-write "
        "inside `with lock:`"
    )
