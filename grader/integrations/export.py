"""Grading elsewhere: ``python -m grader export gradescope ASSIGNMENT -o autograder.zip``.

A Gradescope autograder bundle is a zip with ``setup.sh`` (run once, as root, when
Gradescope builds the image: installs the kit's dependencies, not the kit) and
``run_autograder`` (run for each submission: makes the kit private to root, then the
student's files are in ``/autograder/submission``, and the score goes to
``/autograder/results/results.json``, in the schema the kit already writes). The bundle
carries the kit itself, hidden suites included, under ``kit/``; Gradescope keeps
``/autograder/source`` out of the students' reach. ``run_autograder`` honours
``AUTOGRADER_ROOT`` (default ``/autograder``) and ``KIT_PYTHON`` (default ``python3``), so
that it can be run and tested outside Gradescope.
"""

from __future__ import annotations

import json
import stat
import zipfile
from pathlib import Path

from grader.assignments import ASSIGNMENTS, checks_of

ROOT = Path(__file__).resolve().parent.parent.parent

SETUP = """\
#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder image.
set -euo pipefail
if ! python3 -c 'import sys; assert sys.version_info >= (3, 10)' 2>/dev/null; then
    apt-get update && apt-get install -y python3 python3-pip
fi
python3 -m pip install --upgrade pip
# The kit's dependencies only: the kit itself stays in /autograder/source/kit, private to
# root (run_autograder makes sure), so that the student's code, which runs as a uid of its
# own, can read neither the hidden suites nor a copy of them in site-packages.
python3 -m pip install {dependencies}
"""

RUN = """\
#!/usr/bin/env bash
# Gradescope runs this for each submission. Grades /autograder/submission with the
# concurrency kit's {assignment} checks into /autograder/results/results.json.
set -uo pipefail
ROOT="${{AUTOGRADER_ROOT:-/autograder}}"
PYTHON="${{KIT_PYTHON:-python3}}"
export PYTHONPATH="$ROOT/source/kit${{PYTHONPATH:+:$PYTHONPATH}}"
OUT="$(mktemp -d)"
trap 'rm -rf "$OUT"' EXIT
mkdir -p "$ROOT/results"
# Where the container refuses namespaces (Docker's default seccomp profile) the grader
# uses the uid level: student code runs as a uid of its own that file permissions keep
# from the kit (hidden suites) and from the results. (It checks, and refuses otherwise.)
chmod -R go-rwx "$ROOT/source"
chmod go-w "$ROOT/results"
cd "$ROOT/source/kit"  # (python -m puts the working folder first: this kit, no other)
"$PYTHON" -m grader grade {assignment} "$ROOT/submission" --out "$OUT" --quiet{weak} \\
    > "$OUT/grader.log" 2>&1
status=$?
if [ -f "$OUT/submission/results.json" ]; then
    cp "$OUT/submission/results.json" "$ROOT/results/results.json"
else
    # The kit itself failed: no score, and the log for the instructor.
    "$PYTHON" - "$OUT/grader.log" "$ROOT/results/results.json" "$status" <<'EOF'
import json, sys
log = open(sys.argv[1], errors="replace").read()[-4000:]
json.dump({{"score": 0, "output": "The grader failed (exit status " + sys.argv[3] + "); "
           "tell your instructor. This is not your fault.\\n" + log,
           "tests": []}}, open(sys.argv[2], "w"))
EOF
fi
"""

TOP_FILES = ("pyproject.toml", "README.md")
# What grading needs besides the kit (pyproject.toml's dependencies; a test keeps them
# the same).
DEPENDENCIES = ("pytest>=7.4", "pytest-timeout>=2.2")
SKIP = {"__pycache__", ".pytest_cache"}


def _kit_paths() -> list[Path]:
    paths = [ROOT / name for name in TOP_FILES]
    for path in sorted((ROOT / "grader").rglob("*")):
        if path.is_file() and not SKIP & set(path.relative_to(ROOT).parts) \
                and path.suffix != ".pyc":
            paths.append(path)
    return paths


def _add(zf: zipfile.ZipFile, name: str, data: bytes, executable: bool = False) -> None:
    info = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))  # same bundle, same bytes
    mode = 0o755 if executable else 0o644
    info.external_attr = (stat.S_IFREG | mode) << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    zf.writestr(info, data)


def gradescope(assignment: str, output: Path, allow_weak_sandbox: bool = False) -> list[str]:
    """Write the bundle for ``assignment`` to ``output``; returns the names it holds.
    ``allow_weak_sandbox``: its grading passes ``--allow-weak-sandbox`` (the instructor's
    choice, where the autograder's container refuses namespaces: every results.json then
    carries the warning); without it such a container gets the grader's refusal."""
    if assignment not in ASSIGNMENTS:
        raise KeyError(assignment)
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    names = []
    with zipfile.ZipFile(output, "w") as zf:
        setup = SETUP.format(dependencies=" ".join(f"'{d}'" for d in DEPENDENCIES))
        _add(zf, "setup.sh", setup.encode(), executable=True)
        _add(zf, "run_autograder", RUN.format(assignment=assignment,
                                               weak=" --allow-weak-sandbox"
                                               if allow_weak_sandbox else "").encode(),
             executable=True)
        names += ["setup.sh", "run_autograder"]
        for path in _kit_paths():
            name = "kit/" + path.relative_to(ROOT).as_posix()
            _add(zf, name, path.read_bytes())
            names.append(name)
    return names


# --- GitHub Classroom ---------------------------------------------------------------------

CLASSROOM_DIR = "/tmp/kit-grading"


def classroom(assignment: str, kit_source: str = "${{ secrets.KIT_PIP_SOURCE }}",
              workdir: str = CLASSROOM_DIR) -> str:
    """A GitHub Classroom autograding workflow (``.github/workflows/classroom.yml``) for
    the student's repository: install the kit (hidden suites included) from
    ``kit_source``, which students must not be able to read (a private repository or
    package index, named in an organisation secret), grade the module once with the full
    sandbox (as root: the runner has passwordless sudo), then one command-grader step per
    hidden check, worth its points, whose output is the kit's explanation."""
    a = ASSIGNMENTS[assignment]
    results = f"{workdir}/out/submission/results.json"
    lines = [
        f"# GitHub Classroom autograding for {assignment} (the concurrency kit).",
        "# Written by: python -m grader export classroom " + assignment,
        "name: Autograding Tests",
        "'on':",
        "  - push",
        "  - repository_dispatch",
        "permissions:",
        "  checks: write",
        "  actions: read",
        "  contents: read",
        "jobs:",
        "  run-autograding-tests:",
        "    runs-on: ubuntu-latest",
        "    if: github.actor != 'github-classroom[bot]'",
        "    steps:",
        "      - name: Checkout code",
        "        uses: actions/checkout@v4",
        "      - uses: actions/setup-python@v5",
        "        with:",
        "          python-version: '3.12'",
        "      - name: Install the concurrency kit",
        "        env:",
        f"          KIT_PIP_SOURCE: \"{kit_source}\"",
        "        run: python -m pip install \"$KIT_PIP_SOURCE\"",
        "      - name: Grade with the concurrency kit",
        "        run: |",
        f"          mkdir -p {workdir}/submission",
        f"          cp {a.filename} {workdir}/submission/ 2>/dev/null || true",
        "          # As root where sudo is (GitHub's runners restrict user namespaces);",
        "          # else as this user, in the rootless sandbox (or the grader refuses).",
        "          as_root=\"\"",
        "          if [ \"$(id -u)\" != 0 ] && command -v sudo >/dev/null; then "
        "as_root=\"sudo --preserve-env env PATH=$PATH\"; fi",
        f"          $as_root python -m grader grade {assignment} {workdir}/submission "
        f"--out {workdir}/out --quiet",
    ]
    checks = checks_of(a)
    for c in checks:
        lines += [
            f"      - name: {c['id']}",
            f"        id: {c['id'].replace('_', '-')}",
            "        uses: classroom-resources/autograding-command-grader@v1",
            "        with:",
            f"          test-name: {json.dumps(c['name'])}",
            f"          command: python -m grader verdict {results} {c['id']}",
            "          timeout: 1",
            f"          max-score: {c['points']:g}",
        ]
    runners = ",".join(c["id"].replace("_", "-") for c in checks)
    lines += ["      - name: Autograding Reporter",
              "        uses: classroom-resources/autograding-grading-reporter@v1",
              "        env:"]
    for c in checks:
        step = c["id"].replace("_", "-")
        lines.append(f"          {c['id'].upper()}_RESULTS: "
                     f"\"${{{{steps.{step}.outputs.result}}}}\"")
    lines += ["        with:", f"          runners: {runners}", ""]
    return "\n".join(lines)
