"""Whether the sandbox in force can be trusted with a grade: :func:`require_sandbox`
refuses to grade (exit 2) when it cannot, and :func:`weak_sandbox_warning` is what every
report says when the instructor grades anyway."""

from __future__ import annotations

import sys
from pathlib import Path

from grader import sandbox


def isolation_words() -> str:
    return sandbox.isolation().summary()


# At the uid level: what the sandbox's uid could read of this grading's folders (found by
# require_sandbox; the instructor graded anyway).
_exposure = ""


def weak_sandbox_warning() -> str:
    """Empty under the full sandbox; else the warning every report of a grading carries
    (the instructor chose to grade anyway: ``--allow-weak-sandbox``)."""
    weakness = sandbox.isolation().weakness() or _exposure
    return f"WARNING: graded with a weak sandbox: {weakness}" if weakness else ""


def require_sandbox(allow_weak: bool, private: list[Path] = ()) -> None:
    """Refuse to grade (exit 2) unless the full sandbox is in force or the instructor
    explicitly accepts less; say what is missing, why, and what to do. At the uid level
    (no private root) the folders in ``private`` (other students', the output folder)
    must be out of the sandbox uid's reach too (probed as that uid)."""
    global _exposure
    iso = sandbox.isolation()
    if iso.full:
        seen = sandbox.exposed(list(private)) if iso.permissions else []
        if not seen:
            return
        _exposure = (f"student code could read {seen[0]} (the uid level sees the "
                     f"machine's files): {sandbox.hiding_advice()}")
    if allow_weak:
        print(f"{weak_sandbox_warning()}\n(--allow-weak-sandbox: grading anyway; every "
              f"report says so)", file=sys.stderr)
        return
    if _exposure:
        print(f"python -m grader: error: refusing to grade: {_exposure}.\n"
              f"  in force: {iso.summary()}\n"
              f"  --allow-weak-sandbox grades anyway, with a warning in every report.",
              file=sys.stderr)
        raise SystemExit(2)
    print(f"python -m grader: error: refusing to grade: the sandbox here cannot keep "
          f"student code apart, so a grade could not be trusted.\n"
          f"  in force: {iso.summary()}\n"
          f"  what that allows: {iso.weakness()}\n"
          f"  what to do: {iso.advice()}\n"
          f"  `python -m grader doctor` shows every feature; --allow-weak-sandbox grades "
          f"anyway, with a warning in every report.", file=sys.stderr)
    raise SystemExit(2)
