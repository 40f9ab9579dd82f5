"""Hostile submissions: graded correctly, in bounded time, with nothing left running.

All are graded in one class together with the reference solution, which must keep its full
marks (one student's attack does not change another student's grade).
"""

from __future__ import annotations

import os
import time
import uuid

import pytest

from helpers import ROOT, grade, lost, outputs, processes_with

SOLUTION = (ROOT / "solutions" / "thread_counter" / "counter.py").read_text()
STUB = (ROOT / "assignments" / "thread_counter" / "counter.py").read_text()
BOUND = 60.0  # seconds of grading per student, whatever the submission does

HOSTILE = {
    # name: (source, expected score: "full" or "zero", substring of an explanation)
    "exit_at_import": (SOLUTION + "\nimport os\nos._exit(0)\n", "zero",
                       "ended while importing counter.py"),
    "sys_exit_in_function": (SOLUTION + "\ndef run_workers(n_threads=2000):\n"
                             "    raise SystemExit(0)\n", "zero", "sys.exit()"),
    "infinite_loop": (SOLUTION + "\ndef run_workers(n_threads=2000):\n    while True:\n"
                      "        pass\n", "zero", "did not return within"),
    "stdout_flood": (SOLUTION + "\nimport sys\nfor _ in range(1_000_000):\n    try:\n"
                     "        sys.stdout.write('x' * 1000 + '\\n')\n    except OSError:\n"
                     "        break\n", "full", None),
    "fake_pytest_output": (STUB + "\nprint('tests/test_counter.py ..... [100%]')\n"
                           "print('===== 5 passed in 0.12s =====')\n"
                           "print('{\"score\": 10, \"max_score\": 10}')\n", "zero",
                           "NotImplementedError"),
    # Submissions that do not import or lack a function: 0, with the reason.
    "syntax_error": (SOLUTION + "\ndef worker(val)\n    pass\n", "zero", "does not compile"),
    "import_error": ("import numpyy\n" + SOLUTION.replace("from __future__ import annotations",
                                                          ""), "zero",
                     "importing counter.py raised ModuleNotFoundError"),
    "missing_function": (SOLUTION.replace("def run_workers", "def run_all_workers"), "zero",
                         "counter.py has no"),
    "daemon_outlives_parent": (SOLUTION + "\nimport os, signal, sys\n"
                               "if os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n"
                               "        signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
                               "        os.execv(sys.executable, [sys.executable, '-c', "
                               "'import time, signal; signal.signal(signal.SIGTERM, "
                               "signal.SIG_IGN); time.sleep(3600)  # MARKER'])\n"
                               "    os._exit(0)\n", "full", None),
}

# A submission's own pytest configuration must have no effect on the hidden suite.
PYTEST_FILES = {
    "conftest.py": ("import pytest\n@pytest.hookimpl(hookwrapper=True)\n"
                    "def pytest_runtest_makereport(item, call):\n    outcome = yield\n"
                    "    outcome.get_result().outcome = 'passed'\n"),
    "pytest.ini": "[pytest]\naddopts = --collect-only\n",
    "pytest.py": "raise SystemExit('fake pytest')\n",
}


@pytest.mark.timeout(900)
def test_hostile_class(tmp_path, monkeypatch):
    marker = f"MARKER-{uuid.uuid4().hex}"
    token = uuid.uuid4().hex
    monkeypatch.setenv("KIT_RUN_TOKEN", token)
    folders = []
    for name, (source, _, _) in HOSTILE.items():
        folder = tmp_path / "class" / name
        folder.mkdir(parents=True)
        (folder / "counter.py").write_text(source.replace("MARKER", marker))
        folders.append(folder)
    rigged = tmp_path / "class" / "rigged_pytest_files"
    rigged.mkdir()
    (rigged / "counter.py").write_text(STUB)
    for name, text in PYTEST_FILES.items():
        (rigged / name).write_text(text)
    honest = tmp_path / "class" / "honest"
    honest.mkdir()
    (honest / "counter.py").write_text(SOLUTION)
    folders += [rigged, honest]

    started = time.monotonic()
    results = grade("thread_counter", folders, tmp_path / "out")
    elapsed = time.monotonic() - started

    assert results["honest"]["score"] == results["honest"]["max_score"]
    full = results["honest"]["max_score"]
    for name, (_, expected, says) in HOSTILE.items():
        result = results[name]
        assert result["execution_time"] < BOUND, (name, result["execution_time"])
        if expected == "full":
            assert result["score"] == full, (name, outputs(result))
        else:
            assert result["score"] == 0, (name, outputs(result))
            assert all(says in text for text in outputs(result).values()), (
                name, outputs(result))
    assert results["rigged_pytest_files"]["score"] == 0
    assert lost(results["rigged_pytest_files"]) == set(outputs(results["honest"]))
    # Nothing of any sandbox survives the grading command.
    assert processes_with(marker) == []
    assert processes_with(token) == []
    assert elapsed < BOUND * len(folders)
    # The capped output never reaches the reports.
    for path in (tmp_path / "out").rglob("*"):
        if path.is_file():
            assert path.stat().st_size < 1_000_000, path
    assert os.listdir(tmp_path / "out")


@pytest.mark.timeout(600)
def test_children_that_never_end_are_killed(tmp_path, monkeypatch):
    """fan_out's children hang (and one daemonizes): the run ends at its deadline, the
    student gets no points for what did not finish, nothing of it survives, and a
    classmate graded at the same time keeps full marks."""
    marker = f"MARKER-{uuid.uuid4().hex}"
    token = uuid.uuid4().hex
    monkeypatch.setenv("KIT_RUN_TOKEN", token)
    source = (ROOT / "solutions" / "process_fanout" / "fanout.py").read_text()
    hang = source + (
        "\n\n_real_rand_string = rand_string\n\n\n"
        "def rand_string(length, output):\n"
        "    import os, sys, time\n"
        "    _real_rand_string(length, output)\n"
        "    if os.fork() == 0:\n"
        "        os.setsid()\n"
        "        os.execv(sys.executable, [sys.executable, '-c', "
        "'import time; time.sleep(3600)  # MARKER'])\n"
        "    time.sleep(3600)\n").replace("MARKER", marker)
    hanging = tmp_path / "class" / "hanging_children"
    hanging.mkdir(parents=True)
    (hanging / "fanout.py").write_text(hang)
    honest = tmp_path / "class" / "honest"
    honest.mkdir()
    (honest / "fanout.py").write_text(source)
    results = grade("process_fanout", [hanging, honest], tmp_path / "out")
    assert results["honest"]["score"] == results["honest"]["max_score"]
    bad = results["hanging_children"]
    assert bad["execution_time"] < BOUND
    assert "joined" in lost(bad) and "large_payload" in lost(bad)
    assert "did not return within" in outputs(bad)["joined"]
    assert processes_with(marker) == []
    assert processes_with(token) == []
