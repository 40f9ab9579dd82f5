"""The controlled thread scheduler (grader/inside/schedule.py), through the sandbox.

Every racy counter of the corpus is caught, with the same counterexample every time;
every correct variant passes the whole bounded search. Runs under any CPython 3.10+
(tests/test_other_pythons.py runs it under each one installed).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from grader import sandbox

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "corpus" / "thread_counter"
EXPECTED = json.loads((CORPUS / "expected.json").read_text())
RACY = sorted(m for m, e in EXPECTED.items()
              if e["lost"] == ["race_free"])
DEADLOCKING = ["lock_never_released", "lock_released_some_path"]
CORRECT = [ROOT / "solutions" / "thread_counter"] + sorted(
    p for p in (ROOT / "tests" / "correct" / "thread_counter").iterdir() if p.is_dir())
PARAMS = {"threads": 2, "bound": 2, "budget": 20.0, "seed": 7, "pct_runs": 30,
          "pct_threads": 4}

pytestmark = pytest.mark.timeout(120)


def search(folder: Path) -> dict:
    run = sandbox.run("counter_search", folder, "counter", params=PARAMS, deadline=40)
    assert run.finished, (run.status, run.error, run.stderr_tail)
    return run.data["search"]


@pytest.mark.parametrize("mutant", RACY)
def test_racy_counter_is_caught_the_same_way_every_time(mutant):
    first, second = search(CORPUS / mutant), search(CORPUS / mutant)
    assert first["verdict"] == "bad"
    assert first["counterexample"]["outcome"]["kind"] == "returned"
    assert first["counterexample"]["value"] != first["reference"]
    # Deterministic: same verdict, same schedule, same story.
    assert first["schedule"] == second["schedule"]
    assert first["counterexample"]["events"] == second["counterexample"]["events"]
    # Shrunk: a lost update needs exactly one preemption.
    decisions = first["counterexample"]["decisions"]
    assert sum(d["current_runnable"] and d["chosen"] != d["current"]
               for d in decisions) == 1


@pytest.mark.parametrize("mutant", DEADLOCKING)
def test_deadlock_names_the_waiting_threads_and_the_holder(mutant):
    result = search(CORPUS / mutant)
    outcome = result["counterexample"]["outcome"]
    assert outcome["kind"] == "deadlock"
    waiting = [t for t in outcome["threads"] if t["waiting_for"].startswith("acquire")]
    assert waiting and all(t["holder"] for t in waiting)


@pytest.mark.parametrize("folder", CORRECT, ids=lambda p: p.name)
def test_correct_counter_passes_the_whole_bounded_search(folder):
    result = search(folder)
    assert result["verdict"] == "ok", result.get("counterexample")
    assert result["complete"]  # every schedule within the bound was run
    assert result["runs"] > PARAMS["pct_runs"]


# Run_workers that return before their threads end (also in the corpus, where the
# plain checks' gate catches them too).
UNJOINED = {name: (ROOT / "tests" / "corpus" / "thread_counter" / name / "counter.py")
            .read_text() for name in ("never_joins", "sleeps_instead")}


@pytest.mark.parametrize("name", sorted(UNJOINED))
def test_a_run_workers_that_does_not_join_is_caught_as_such(tmp_path, name):
    """Returning while threads still run is not a lost update: the search says which
    threads were left running (and whether the main thread slept instead of joining),
    on the non-preemptive schedule already, every time."""
    folder = tmp_path / name
    folder.mkdir()
    (folder / "counter.py").write_text(UNJOINED[name])
    first, second = search(folder), search(folder)
    assert first["verdict"] == "error"
    outcome = first["counterexample"]["outcome"]
    assert outcome["kind"] == "unjoined" and outcome["count"] == PARAMS["threads"]
    assert outcome["slept"] is (name == "sleeps_instead")
    assert second["counterexample"]["outcome"] == outcome


@pytest.mark.timeout(300)
def test_the_student_is_told_to_join_not_to_lock(tmp_path):
    """Through the real grading: race_free names the missing join (and the sleep), and
    never asks for the lock that is already there."""
    from helpers import grade, outputs

    folders = []
    for name, source in sorted(UNJOINED.items()):
        (tmp_path / "class" / name).mkdir(parents=True)
        (tmp_path / "class" / name / "counter.py").write_text(source)
        folders.append(tmp_path / "class" / name)
    results = grade("thread_counter", folders, tmp_path / "out")
    for name in UNJOINED:
        text = outputs(results[name])["race_free"]
        assert "were still running (never joined)" in text, text
        assert ("time.sleep() is no substitute" in text) is (name == "sleeps_instead")
        assert "lost update" not in text and "Hold one shared threading.Lock" not in text
