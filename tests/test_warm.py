"""The warm pytest (grader.grading.warm): every student's suite is a fresh fork of one
process that imported pytest once. A fork must see nothing of another student's run, a run over its
time is killed, and when the server is gone the grading command starts pytest the cold way
(the grade is the same); when the grading command goes, so does every run it started.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import uuid

import pytest

from helpers import ROOT, processes_with, student

sys.path.insert(0, str(ROOT))

from grader.assignments import ASSIGNMENTS  # noqa: E402
from grader.grading import engine, warm  # noqa: E402

A = ASSIGNMENTS["thread_counter"]
SOLUTION = (ROOT / "solutions" / "thread_counter" / "counter.py").read_text()
NO_LOCK = (ROOT / "tests" / "corpus" / "thread_counter" / "no_lock" / "counter.py").read_text()

SLEEPY = """
import time

def test_sleeps():
    time.sleep(120)
"""


@pytest.mark.fast
@pytest.mark.timeout(60)
def test_the_server_starts_and_ends_quietly(tmp_path):
    """Started as the grading command starts it, with nothing to do: it exits 0 and writes
    nothing on stderr, which the instructor's terminal shares (runpy warns there if the
    package imported the server's module before running it)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-m", "grader.grading.warm"], cwd=tmp_path,
                          env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=50)
    assert done.returncode == 0 and done.stderr == "" and done.stdout == "", done


@pytest.fixture
def server(tmp_path):
    token = uuid.uuid4().hex
    home = tmp_path / "home"
    home.mkdir()
    server = warm.WarmPytest(engine.pytest_env(token, {}), home)
    yield server, token
    server.close()
    assert not processes_with(token)


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def wait_for(predicate, limit: float = 30.0) -> bool:
    end = time.monotonic() + limit
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


@pytest.mark.timeout(300)
def test_each_student_gets_a_fresh_pytest(server, tmp_path):
    """Three students through one server, alternating right and wrong: each result has
    exactly the suite's checks, with the student's own verdicts (no records, timelines or
    spans carried over from the run before)."""
    warm_pytest, token = server
    right = student(tmp_path, SOLUTION, name="ann")
    wrong = student(tmp_path, NO_LOCK, name="ben")
    cold = engine.grade_one(A, wrong, token)
    results = [engine.grade_one(A, folder, token, warm_pytest=warm_pytest)
               for folder in (right, wrong, right)]
    assert warm_pytest.count == 3  # (all three were forked, none fell back)
    for result in results:
        assert not result.kit_errors
        assert [c["id"] for c in result.checks] == [c["id"] for c in cold.checks]
    assert [r.score for r in results] == [r.max_score for r in results][:1] + [
        cold.score, results[0].max_score]
    assert results[1].lost() == cold.lost() == ["race_free"]
    # A student's spans are their own runs only (one per scenario of the suite).
    for result in results:
        spans = {tuple(s) for c in result.checks for s in c["spans"]}
        assert len(spans) == 4, spans
        assert 0 < result.busy <= result.execution_time


@pytest.mark.timeout(120)
def test_a_run_over_its_time_is_killed(server, tmp_path):
    warm_pytest, _ = server
    (tmp_path / "test_sleepy.py").write_text(SLEEPY)
    pids = []
    original = warm_pytest._kill

    def kill(slot):
        pids.append(slot.get("pid"))
        original(slot)

    warm_pytest._kill = kill
    started = time.monotonic()
    code = warm_pytest.run([str(tmp_path / "test_sleepy.py"), "-p", "no:cacheprovider"],
                           tmp_path, tmp_path / "log", timeout=2)
    assert code == -9
    assert time.monotonic() - started < 60
    assert pids and not alive(pids[0])
    # The server goes on serving.
    (tmp_path / "test_quick.py").write_text("def test_quick():\n    pass\n")
    assert warm_pytest.run([str(tmp_path / "test_quick.py"), "-p", "no:cacheprovider"],
                           tmp_path, tmp_path / "log2", timeout=60) == 0


@pytest.mark.timeout(120)
def test_a_run_reads_nothing_and_writes_to_its_log(server, tmp_path):
    """stdin is /dev/null, stdout and stderr the run's log: no descriptor of the server's
    request and answer pipes reaches the run (a stray write would corrupt the answers)."""
    warm_pytest, _ = server
    log = tmp_path / "log"
    (tmp_path / "test_fds.py").write_text(
        f"LOG = {str(log)!r}\n"
        "import os\n"
        "def test_fds():\n"
        "    fds = {}\n"
        "    for fd in os.listdir('/proc/self/fd'):\n"
        "        try:\n"
        "            fds[int(fd)] = os.readlink(f'/proc/self/fd/{fd}')\n"
        "        except OSError:\n"
        "            pass  # (the listing's own descriptor)\n"
        "    print('FDS', sorted(fds.items()))\n"
        "    assert fds[0] == os.devnull\n"
        "    assert fds[1] == fds[2] == LOG\n"
        "    assert not [t for t in fds.values() if t.startswith('pipe:')], fds\n")
    code = warm_pytest.run([str(tmp_path / "test_fds.py"), "-p", "no:cacheprovider", "-s"],
                           tmp_path, log, timeout=60)
    assert code == 0, log.read_text()


@pytest.mark.timeout(300)
def test_without_the_server_grading_falls_back_to_a_cold_pytest(server, tmp_path):
    warm_pytest, token = server
    warm_pytest.proc.kill()
    warm_pytest.proc.wait()
    assert wait_for(lambda: not warm_pytest.alive)
    result = engine.grade_one(A, student(tmp_path, NO_LOCK), token, warm_pytest=warm_pytest)
    assert not result.kit_errors
    assert result.lost() == ["race_free"]


@pytest.mark.timeout(120)
def test_closing_the_server_kills_its_runs(server, tmp_path):
    """The grading command ends (or dies: its end of the pipe closes either way) while a
    run is going: the run is killed with the server."""
    warm_pytest, _ = server
    (tmp_path / "test_sleepy.py").write_text(SLEEPY)
    codes = []
    runner = threading.Thread(target=lambda: codes.append(warm_pytest.run(
        [str(tmp_path / "test_sleepy.py"), "-p", "no:cacheprovider"], tmp_path,
        tmp_path / "log", timeout=600)))
    runner.start()
    assert wait_for(lambda: any("pid" in s for s in list(warm_pytest.pending.values())))
    pid = next(s["pid"] for s in list(warm_pytest.pending.values()) if "pid" in s)
    assert alive(pid)
    warm_pytest.close()
    runner.join(30)
    assert not runner.is_alive()
    assert codes in ([-9], [None])
    assert wait_for(lambda: not alive(pid))


@pytest.mark.timeout(300)
def test_no_module_of_the_instructors_folder_is_imported(tmp_path):
    """``python -m`` puts the working folder first on sys.path: the warm server starts in
    an empty folder of its own, so a module in the folder the instructor grades from (here
    one named like a pytest plugin the suites load) is never imported."""
    here = tmp_path / "here"
    here.mkdir()
    trap = tmp_path / "imported"
    (here / "pytest_timeout.py").write_text(f"open({str(trap)!r}, 'w').close()\n")
    folders = [student(tmp_path, SOLUTION, name="ann"), student(tmp_path, NO_LOCK, name="ben")]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run([sys.executable, "-m", "grader", "grade", "thread_counter",
                           *map(str, folders), "--out", str(tmp_path / "out"), "--quiet"],
                          cwd=here, env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stdout + done.stderr
    assert not trap.exists()
    assert "ann" in done.stdout and "ben" in done.stdout
