"""The corpus of realistically wrong submissions is graded exactly as intended.

``tests/corpus/<assignment>/<mutant>/<module>.py`` is one wrong submission;
``tests/corpus/<assignment>/expected.json`` says, per mutant, the exact set of checks it
must lose and a piece of the explanation each lost check must give the student. Each
assignment's corpus is graded in one real ``python -m grader grade`` call.
"""

from __future__ import annotations

import json

import pytest

from helpers import ROOT, grade, lost, outputs

CORPUS = ROOT / "tests" / "corpus"
ASSIGNMENTS = sorted(p.name for p in CORPUS.iterdir() if (p / "expected.json").is_file())


def expected(assignment: str) -> dict:
    return json.loads((CORPUS / assignment / "expected.json").read_text())


CASES = [pytest.param(a, m, id=f"{a}/{m}")  # (one worker per assignment: conftest.py)
         for a in ASSIGNMENTS for m in sorted(expected(a))]

_graded: dict[str, dict] = {}


@pytest.fixture
def graded(tmp_path_factory):
    def get(assignment: str) -> dict:
        if assignment not in _graded:
            folders = sorted(p for p in (CORPUS / assignment).iterdir() if p.is_dir())
            out = tmp_path_factory.mktemp(f"corpus-{assignment}")
            _graded[assignment] = grade(assignment, folders, out)
        return _graded[assignment]
    return get


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
@pytest.mark.fast
def test_corpus_is_complete(assignment):
    folders = {p.name for p in (CORPUS / assignment).iterdir() if p.is_dir()}
    assert folders == set(expected(assignment))
    assert len(folders) >= 12


@pytest.mark.timeout(900)
@pytest.mark.parametrize(("assignment", "mutant"), CASES)
def test_mutant_loses_exactly_what_it_should(graded, assignment, mutant):
    result = graded(assignment)[mutant]
    want = expected(assignment)[mutant]
    assert lost(result) == set(want["lost"]), outputs(result)
    texts = outputs(result)
    for check_id, phrase in want["says"].items():
        assert phrase in texts[check_id], (check_id, texts[check_id])
    assert 0 <= result["score"] < result["max_score"]
