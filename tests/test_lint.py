"""The kit's code passes its linter (ruff, configured in pyproject.toml, installed with the
``test`` extra), so that CI finds what a forgotten ``ruff check`` would have."""

from __future__ import annotations

import subprocess
import sys

import pytest

from helpers import ROOT

pytestmark = [pytest.mark.timeout(120), pytest.mark.fast]  # (fast: no sandbox)


def ruff(*args: str, cwd=ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", *args],
                          cwd=cwd, capture_output=True, text=True, timeout=100, check=False)


def test_ruff_finds_nothing_in_the_kit():
    done = ruff("grader", "tests")
    assert done.returncode == 0, done.stdout + done.stderr


def test_ruff_uses_the_kits_rules(tmp_path):
    """The same command does fail on code that breaks the kit's rules (an unused import,
    imports out of order), with the project's settings."""
    bad = tmp_path / "bad.py"
    bad.write_text("import sys\nimport os\n\nprint(os.sep)\n")
    done = ruff("--config", str(ROOT / "pyproject.toml"), str(bad), cwd=tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "F401" in done.stdout and "I001" in done.stdout, done.stdout
