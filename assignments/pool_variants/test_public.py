"""Public tests for ``pools.py``: run ``pytest`` in this folder.

Needs ``pip install pytest pytest-timeout``. These tests are a subset of the grader's.
Every pool test runs under your platform's default start method and again under ``spawn``
(and ``forkserver`` where it exists), because the grader does too.
"""

from __future__ import annotations

import gc
import multiprocessing
import sys
import time
import warnings
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import pools  # noqa: E402  (the module next to this file, see the line above)

IN_ORDER = ["pool_apply", "pool_map", "pool_apply_async", "pool_map_async"]
ALL_VARIANTS = [*IN_ORDER, "pool_imap_unordered"]
# The variants whose tasks should run in parallel (pool_apply runs one task at a time).
PARALLEL = ["pool_map", "pool_apply_async", "pool_map_async", "pool_imap_unordered"]

START_METHODS = ["default", "spawn"]
if "forkserver" in multiprocessing.get_all_start_methods():
    START_METHODS.append("forkserver")


@pytest.fixture(params=START_METHODS)
def start_method(request: pytest.FixtureRequest):
    """Run the test under one start method, then restore the previous one."""
    previous = multiprocessing.get_start_method(allow_none=True)
    if request.param != "default":
        multiprocessing.set_start_method(request.param, force=True)
    try:
        yield request.param
    finally:
        multiprocessing.set_start_method(previous, force=True)


def _first_waits_for_second(item: tuple[int, str, float]) -> tuple[int, bool]:
    """A task for the ordering test (top-level, so that workers can unpickle it).

    Item ``(1, flag, _)`` creates the file ``flag`` and returns at once. Item
    ``(0, flag, linger)`` waits until that file exists (at most 10 s), then another
    ``linger`` seconds (time for item 1's result to reach the parent), so it finishes
    AFTER item 1 whenever the two run in parallel. Returns ``(index, whether the wait
    succeeded)``.
    """
    index, flag, linger = item
    if index == 1:
        Path(flag).touch()
        return (1, True)
    deadline = time.monotonic() + 10
    while not Path(flag).exists():
        if time.monotonic() > deadline:
            return (0, False)
        time.sleep(0.01)
    time.sleep(linger)
    return (0, True)


@pytest.mark.timeout(60)
def test_square_and_cube() -> None:
    assert pools.square(3) == 9, "square(3) must be 9"
    assert pools.square(-4) == 16, "square(-4) must be 16"
    assert pools.cube(3) == 27, "cube(3) must be 27"
    assert pools.cube(-2) == -8, "cube(-2) must be -8"
    assert pools.cube(0) == 0, "cube(0) must be 0"


@pytest.mark.timeout(60)
@pytest.mark.parametrize("variant", ALL_VARIANTS)
def test_results(start_method: str, variant: str) -> None:
    function = getattr(pools, variant)
    result = function(pools.square, range(1, 7))
    expected = [x * x for x in range(1, 7)]
    assert isinstance(result, list), (
        f"{variant} must return a list, not {type(result).__name__} (an AsyncResult needs "
        ".get(), an iterator needs list(...))"
    )
    if variant == "pool_imap_unordered":
        assert sorted(result) == expected, (
            f"{variant}(square, range(1, 7)) returned {result}: it must contain each "
            "square exactly once (in any order)"
        )
    else:
        assert result == expected, (
            f"{variant}(square, range(1, 7)) returned {result}, expected {expected} "
            "(the same values in input order)"
        )


@pytest.mark.timeout(60)
@pytest.mark.parametrize("variant", ALL_VARIANTS)
def test_any_iterable_and_processes(variant: str) -> None:
    function = getattr(pools, variant)
    result = function(pools.cube, (x for x in range(-3, 5)), processes=2)
    expected = [x**3 for x in range(-3, 5)]
    if variant == "pool_imap_unordered":
        result = sorted(result)
    assert result == expected, (
        f"{variant}(cube, <generator>, processes=2) returned {result}, expected {expected}: "
        "items may be any iterable (turn it into a list first)"
    )


@pytest.mark.timeout(60)
@pytest.mark.parametrize("variant", ALL_VARIANTS)
def test_empty_input(variant: str) -> None:
    assert getattr(pools, variant)(pools.square, []) == [], f"{variant}(square, []) must be []"


@pytest.mark.timeout(60)
@pytest.mark.parametrize("variant", PARALLEL)
def test_order_when_tasks_finish_out_of_order(
    start_method: str, variant: str, tmp_path: Path
) -> None:
    flag = str(tmp_path / "item-1-done")
    linger = 1.0 if variant == "pool_imap_unordered" else 0.0
    items = [(0, flag, linger), (1, flag, linger)]
    result = getattr(pools, variant)(_first_waits_for_second, items, processes=2)
    assert isinstance(result, list), f"{variant} must return a list, not {type(result).__name__}"
    assert sorted(result) == [(0, True), (1, True)], (
        f"{variant} ran the tasks one after another, not in parallel (got {result}): item 0 "
        "waited 10 s for item 1, which never started. Submit all tasks before waiting "
        "for any result."
    )
    if variant == "pool_imap_unordered":
        assert result == [(1, True), (0, True)], (
            f"{variant} returned {result}: item 1 finished first, so it must come first "
            "(completion order)"
        )
    else:
        assert result == [(0, True), (1, True)], (
            f"{variant} returned {result}: item 1 finished first, but the results must be "
            "in input order"
        )


@pytest.mark.timeout(60)
@pytest.mark.parametrize("variant", ALL_VARIANTS)
def test_pool_is_shut_down(variant: str) -> None:
    before = set(multiprocessing.active_children())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        getattr(pools, variant)(pools.square, range(4))
        alive = [p for p in multiprocessing.active_children() if p not in before]
        gc.collect()  # a pool that nobody shut down warns when it is garbage-collected
    assert not alive, (
        f"after {variant} returned, {len(alive)} worker process(es) were still alive: "
        "create the pool with `with multiprocessing.Pool(processes=processes) as pool:`"
    )
    unclosed = [str(w.message) for w in caught if "unclosed" in str(w.message)]
    assert not unclosed, (
        f"{variant} left its pool running ({unclosed[0]}): create the pool with "
        "`with multiprocessing.Pool(processes=processes) as pool:` so that it is shut down"
    )
