"""Public tests for ``fanout.py``: run ``pytest`` in this folder.

Needs ``pip install pytest pytest-timeout``. These tests are a subset of the grader's.
Every multiprocessing test runs under your platform's default start method and again
under ``spawn`` (and ``forkserver`` where it exists), because the grader does too.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import string
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import fanout  # noqa: E402  (the module next to this file, see the line above)

ALPHABET = set(string.ascii_letters + string.digits)

START_METHODS = ["default", "spawn"]
if "forkserver" in multiprocessing.get_all_start_methods():
    START_METHODS.append("forkserver")


@pytest.fixture(params=START_METHODS)
def start_method(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch):
    """Run the test under one start method, then restore the previous one."""
    previous = multiprocessing.get_start_method(allow_none=True)
    if request.param != "default":
        multiprocessing.set_start_method(request.param, force=True)
    monkeypatch.setattr(fanout, "fan_out", _explained(fanout.fan_out, request.param))
    try:
        yield request.param
    finally:
        multiprocessing.set_start_method(previous, force=True)


def _explained(fan_out, method: str):
    """``fan_out``, with Python's words for a Queue made at import time explained."""
    def call(*args):
        try:
            return fan_out(*args)
        except RuntimeError as exc:
            if "SemLock" not in str(exc) or "context" not in str(exc):
                raise
            said = str(exc)
        pytest.fail(
            f"fan_out used a multiprocessing Queue (or Lock) made when fanout.py was "
            f"imported, at module level as on the lecture's slide, under another start "
            f"method than this test's {method!r}. Under spawn and forkserver (the "
            f"default on macOS and Windows, and on Linux from Python 3.14) every child "
            f"imports your module again, so a module-level Queue is a new, different "
            f"queue in each child. Create the Queue inside fan_out and pass it to every "
            f"Process: Process(target=rand_string, args=(length, output)). "
            f"(Python said: {said})", pytrace=False)
    return call


@pytest.fixture(autouse=True)
def _stop_leftover_children():
    """After each test, stop any child process a broken fan_out left behind.

    Otherwise a child stuck in a full pipe would keep pytest from exiting.
    """
    yield
    for child in multiprocessing.active_children():
        child.terminate()
        child.join(5)


def _pid_probe(length: int, output) -> None:
    """Stand-in for ``rand_string``: report which process ran it (must be top-level)."""
    output.put(str(os.getpid()))


@pytest.mark.timeout(60)
@pytest.mark.parametrize("length", [0, 1, 10, 100])
def test_rand_string_puts_one_string(length: int) -> None:
    out: queue.Queue = queue.Queue()  # any object with put() works for a direct call
    result = fanout.rand_string(length, out)
    assert result is None, "rand_string must not return anything: put the string on the queue"
    assert not out.empty(), "rand_string put nothing on the queue"
    value = out.get()
    assert out.empty(), "rand_string must put exactly ONE item on the queue, not several"
    assert isinstance(value, str), f"rand_string must put a str, not {type(value).__name__}"
    assert len(value) == length, f"rand_string({length}, q) put a string of length {len(value)}"
    assert set(value) <= ALPHABET, (
        f"characters outside string.ascii_letters + string.digits: {set(value) - ALPHABET}"
    )


@pytest.mark.timeout(60)
def test_rand_string_is_random() -> None:
    out: queue.Queue = queue.Queue()
    for _ in range(5):
        fanout.rand_string(20, out)
    values = [out.get() for _ in range(5)]
    assert len(set(values)) > 1, (
        "five calls of rand_string(20, q) gave the same string: don't seed random with a "
        "fixed value"
    )


@pytest.mark.timeout(60)
@pytest.mark.parametrize("n_processes, length", [(4, 5), (1, 8), (6, 50)])
def test_fan_out_returns_one_string_per_process(
    start_method: str, n_processes: int, length: int
) -> None:
    results = fanout.fan_out(n_processes, length)
    assert isinstance(results, list), f"fan_out must return a list, not {type(results).__name__}"
    assert len(results) == n_processes, (
        f"fan_out({n_processes}, {length}) returned {len(results)} strings: collect exactly "
        "one output.get() per process"
    )
    for value in results:
        assert isinstance(value, str) and len(value) == length, (
            f"every result must be a str of length {length}, got {value!r}"
        )
        assert set(value) <= ALPHABET, f"{value!r} has characters outside letters and digits"


@pytest.mark.timeout(60)
def test_fan_out_zero_processes(start_method: str) -> None:
    assert fanout.fan_out(0, 5) == [], "fan_out(0, length) must return an empty list"


@pytest.mark.timeout(60)
def test_fan_out_children_draw_different_strings(start_method: str) -> None:
    results = fanout.fan_out(4, 32)
    assert len(set(results)) == 4, (
        f"the children produced equal strings {results}: every child must draw its own "
        "random string (do not seed random with a fixed value)"
    )


@pytest.mark.timeout(60)
def test_fan_out_runs_rand_string_in_separate_child_processes(
    start_method: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Replace rand_string with a probe that reports its process id. This only works if
    # fan_out uses the module-level rand_string as the target of every Process.
    monkeypatch.setattr(fanout, "rand_string", _pid_probe)
    results = fanout.fan_out(4, 5)
    assert len(results) == 4, f"fan_out(4, 5) returned {len(results)} results"
    assert all(r.isdigit() for r in results), (
        f"fan_out did not run the module-level rand_string in its processes (got {results}): "
        "use multiprocessing.Process(target=rand_string, args=(length, output))"
    )
    pids = {int(r) for r in results}
    assert os.getpid() not in pids, "rand_string ran in the parent process, not in a child"
    assert len(pids) == 4, (
        f"4 results came from only {len(pids)} process(es): start one Process per result"
    )


@pytest.mark.timeout(60)
def test_fan_out_large_strings_do_not_deadlock() -> None:
    # 200,000 characters are more than the OS pipe buffer (about 64 KiB). If this test
    # hangs until the timeout, you join() the processes before reading the queue: each
    # child waits for somebody to read its data, and the parent waits for the child to
    # exit. Read all results with output.get() first, then join().
    results = fanout.fan_out(3, 200_000)  # hangs here? get() before join(), see above
    assert len(results) == 3, f"fan_out(3, 200000) returned {len(results)} strings"
    assert all(len(r) == 200_000 for r in results), "every string must have 200,000 characters"
