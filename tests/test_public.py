"""The public tests students get: pass on the reference solutions, fail on the stubs.

They are run the way a student runs them: plain ``pytest`` inside a copy of the assignment
folder (test_public.py next to the module), in a fresh process.
"""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from helpers import ASSIGNMENT_MODULES, ROOT


def run_public(assignment: str, module_source, tmp_path) -> subprocess.CompletedProcess:
    folder = tmp_path / assignment
    shutil.copytree(ROOT / "assignments" / assignment, folder)
    module = ASSIGNMENT_MODULES[assignment] + ".py"
    shutil.copyfile(module_source / module, folder / module)
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           "-p", "no:xdist", "-o", "addopts="],
                          cwd=folder, capture_output=True, text=True, timeout=500, check=False)


@pytest.mark.timeout(600)
@pytest.mark.parametrize("assignment", sorted(ASSIGNMENT_MODULES))
def test_public_tests_pass_on_the_solution(assignment, tmp_path):
    done = run_public(assignment, ROOT / "solutions" / assignment, tmp_path)
    assert done.returncode == 0, done.stdout[-3000:]
    assert " passed" in done.stdout and "failed" not in done.stdout


@pytest.mark.timeout(600)
@pytest.mark.parametrize("assignment", sorted(ASSIGNMENT_MODULES))
def test_public_tests_fail_on_the_stub(assignment, tmp_path):
    done = run_public(assignment, ROOT / "assignments" / assignment, tmp_path)
    assert done.returncode == 1, done.stdout[-3000:]
    assert "NotImplementedError" in done.stdout
    assert " passed" not in done.stdout.splitlines()[-1]


MODULE_LEVEL_QUEUE = '''
import multiprocessing as mp
import random
import string

output = mp.Queue()  # the lecture's slide: made at import, under the default start method


def rand_string(length, output):
    output.put("".join(random.choice(string.ascii_letters + string.digits)
                       for _ in range(length)))


def fan_out(n_processes, length):
    processes = [mp.Process(target=rand_string, args=(length, output))
                 for _ in range(n_processes)]
    for p in processes:
        p.start()
    results = [output.get() for _ in processes]
    for p in processes:
        p.join()
    return results
'''


@pytest.mark.timeout(600)
def test_public_tests_say_what_to_change_for_a_module_level_queue(tmp_path):
    """Python's own words ("A SemLock created in a fork context is being shared with a
    process in a spawn context") do not tell a student what to change; the public tests
    do, where the start method meets a Queue made at import."""
    source = tmp_path / "source"
    source.mkdir()
    (source / "fanout.py").write_text(MODULE_LEVEL_QUEUE)
    done = run_public("process_fanout", source, tmp_path)
    assert done.returncode == 1, done.stdout[-3000:]
    assert "made when fanout.py was imported, at module level" in done.stdout
    assert "Create the Queue inside fan_out and pass it to every Process" in done.stdout
    assert "test_fan_out_returns_one_string_per_process[spawn-4-5]" in done.stdout


# What each public test checks, and the hidden check that checks it too (at least as
# strictly): the grade never misses what the public tests showed the student.
COUNTERPARTS = {
    "process_fanout": {
        "test_rand_string_puts_one_string": {"strings"},
        "test_rand_string_is_random": {"strings"},
        "test_fan_out_returns_one_string_per_process": {"count", "strings"},
        "test_fan_out_zero_processes": {"count"},
        "test_fan_out_children_draw_different_strings": {"strings"},
        "test_fan_out_runs_rand_string_in_separate_child_processes": {"in_children"},
        "test_fan_out_large_strings_do_not_deadlock": {"large_payload", "count", "strings"},
    },
    "pool_variants": {
        "test_square_and_cube": {"square_cube"},
        "test_results": {"apply", "map", "apply_async", "map_async", "imap_unordered",
                         "portable", "square_cube"},
        "test_any_iterable_and_processes": {"apply", "map", "apply_async", "map_async",
                                            "imap_unordered", "processes", "square_cube"},
        "test_empty_input": {"apply", "map", "apply_async", "map_async", "imap_unordered"},
        "test_order_when_tasks_finish_out_of_order": {"map", "apply_async", "map_async",
                                                      "imap_unordered"},
        "test_pool_is_shut_down": {"cleanup"},
    },
    "thread_counter": {
        "test_worker_adds_to_num": {"returns_sum", "num_matches"},
        "test_lock_is_a_module_level_lock": {"race_free"},
        "test_run_workers_default_sum": {"returns_sum", "num_matches", "reset"},
        "test_run_workers_resets_num": {"reset", "returns_sum"},
        "test_threads_run_at_the_same_time": {"overlap", "returns_sum", "reset"},
        "test_no_lost_update_when_threads_switch_often": {"race_free", "reset",
                                                          "returns_sum"},
    },
}


@pytest.mark.timeout(30)
@pytest.mark.parametrize("assignment", sorted(ASSIGNMENT_MODULES))
@pytest.mark.fast
def test_every_public_test_has_a_hidden_counterpart(assignment):
    """A new public test must name its hidden counterpart here (and one must exist):
    otherwise a student could pass the grade while failing what the public tests show."""
    import ast

    from grader.assignments import ASSIGNMENTS, checks_of

    tree = ast.parse((ROOT / "assignments" / assignment / "test_public.py").read_text())
    public = {node.name for node in tree.body
              if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")}
    assert public == set(COUNTERPARTS[assignment])
    hidden = {c["id"] for c in checks_of(ASSIGNMENTS[assignment])}
    for test, checks in COUNTERPARTS[assignment].items():
        assert checks and checks <= hidden, (test, checks - hidden)


# Mutants whose public run is quick (none of them hangs a public test).
SHOWN_BY_PUBLIC = {
    "process_fanout": ["returns_true", "seeded_in_rand_string", "wrong_length",
                       "zero_means_all_cpus"],
    "pool_variants": ["assumes_a_list", "wrong_square"],
    "thread_counter": ["no_reset", "returns_n"],
}


@pytest.mark.timeout(600)
@pytest.mark.parametrize("assignment", sorted(SHOWN_BY_PUBLIC))
def test_what_the_public_tests_show_costs_points(assignment, tmp_path):
    """For corpus mutants: every public test they fail has its hidden counterpart among
    the checks they lose (tests/corpus/<assignment>/expected.json, itself pinned by
    test_corpus)."""
    import json
    import re

    expected = json.loads((ROOT / "tests" / "corpus" / assignment / "expected.json")
                          .read_text())
    for mutant in SHOWN_BY_PUBLIC[assignment]:
        done = run_public(assignment, ROOT / "tests" / "corpus" / assignment / mutant,
                          tmp_path / mutant)
        failed = set(re.findall(r"^FAILED test_public\.py::(test_\w+)", done.stdout, re.M))
        assert done.returncode == 1 and failed, (mutant, done.stdout[-2000:])
        for test in failed:
            assert COUNTERPARTS[assignment][test] & set(expected[mutant]["lost"]), (
                mutant, test, expected[mutant]["lost"])
