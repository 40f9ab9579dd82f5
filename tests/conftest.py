"""The kit's own tests; shared helpers live in ``helpers.py`` (this folder is on sys.path).

Which tests share a worker under ``pytest -n`` (``--dist loadgroup`` in pytest.ini) is
decided here, from the test's id, not by ``xdist_group`` marks: xdist carries those marks
to its scheduler by rewriting node ids, which pytest 9.2 no longer lets it do (the marks
are then silently ignored, pytest-dev/pytest-xdist#1386), and the tests below would each
grade the same class once per worker.
"""

from __future__ import annotations

import pytest

# Test files whose tests share one costly grading (a session-wide cache in the file), and
# how they are grouped: "module", every test of the file on one worker; "assignment", the
# tests whose parameter id starts with the same assignment ("pool_variants/...").
SHARED_GRADINGS = {
    "tests/test_corpus.py": "assignment",
    "tests/test_attacks.py": "assignment",
    "tests/test_nbgrader.py": "module",
    "tests/test_class_reports.py": "module",
}


def group_of(nodeid: str) -> str:
    """The work unit of a test id: its shared grading's, else the test alone."""
    path, _, rest = nodeid.partition("::")
    how = SHARED_GRADINGS.get(path)
    if how == "module":
        return path
    if how == "assignment" and "[" in rest:
        return f"{path}::{rest[rest.index('[') + 1:].split('/')[0].rstrip(']')}"
    return nodeid


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """``--dist loadgroup``: xdist's scope scheduling, with the scopes of :func:`group_of`."""
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class SharedGradings(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return group_of(nodeid)

    return SharedGradings(config, log)
