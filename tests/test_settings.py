"""Every KIT_* environment variable is listed, with its default and help, in one place
(grader/settings.py), and every one listed is used."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from grader import settings  # noqa: E402

pytestmark = [pytest.mark.timeout(60), pytest.mark.fast]  # (fast: no sandbox)

NAME = re.compile(r"\bKIT_[A-Z][A-Z0-9_]*\b")


def _sources() -> dict[Path, str]:
    paths = [*ROOT.glob("grader/**/*.py"), *ROOT.glob("tests/*.py"),
             *ROOT.glob("tests/benchmarks/*.py"), ROOT / "README.md", *ROOT.glob("docs/*.md"),
             *ROOT.glob(".ci/*")]
    return {p: p.read_text() for p in paths
            if p.is_file() and p.name != "settings.py" and p.name != "test_settings.py"}


def test_every_kit_variable_is_listed_and_every_listed_one_used():
    listed = {s.name for s in settings.SETTINGS}
    found: dict[str, Path] = {}
    for path, text in _sources().items():
        for name in NAME.findall(text):
            found.setdefault(name, path)
    unlisted = {n: str(p.relative_to(ROOT)) for n, p in found.items() if n not in listed}
    assert not unlisted, f"add these to grader/settings.py: {unlisted}"
    unused = listed - set(found)
    assert not unused, f"listed in grader/settings.py but used nowhere: {unused}"
    for s in settings.SETTINGS:
        assert s.help and s.kind in ("instructor", "bundle", "internal", "tests"), s


def test_values_come_from_the_environment_or_the_default(monkeypatch):
    monkeypatch.delenv("KIT_SANDBOXES", raising=False)
    assert settings.number("KIT_SANDBOXES") == 6
    monkeypatch.setenv("KIT_SANDBOXES", "3")
    assert settings.number("KIT_SANDBOXES") == 3
    assert any("KIT_SANDBOXES = '3' (set)" in line for line in settings.describe())
    monkeypatch.setenv("KIT_SANDBOXES", "many")
    with pytest.raises(ValueError, match="KIT_SANDBOXES must be a whole number"):
        settings.number("KIT_SANDBOXES")
    monkeypatch.setenv("KIT_WARM", "0")
    assert not settings.enabled("KIT_WARM")
    monkeypatch.delenv("KIT_WARM")
    assert settings.enabled("KIT_WARM")
