"""What a check leaves in its output folder, read back as plain data: the result, the
phase, the probe records, the tails of its output. Used on both sides: by the session
server inside the sandbox (which sends it to the grader) and by the grader for a
one-check sandbox (after init copied the folder out).
"""

from __future__ import annotations

import os

TYPE_CHECKING = False  # (importing typing costs every sandbox ~3 ms)
if TYPE_CHECKING:
    from typing import Any

def tail(path: str, limit: int = 3000) -> str:
    """The last ``limit`` bytes of a file as text ("…" marks a cut), "" if unreadable."""
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - limit))
            data = f.read().decode("utf-8", "replace")
    except OSError:
        return ""
    return ("…" + data) if size > limit else data


def collect(out_dir: str, limit: int = 3000) -> dict[str, Any]:
    """What a check left in ``out_dir``: result, phase, probe records, output tails."""
    from grader.inside.bounded import TooLarge, loads
    from grader.inside.probes import read_records

    def text(name: str, limit: int) -> str:
        return tail(os.path.join(out_dir, name), limit)

    result: Any = None
    oversized = ""
    try:
        with open(os.path.join(out_dir, "result.json"), "rb") as f:
            data = f.read(RESULT_BYTES + 1)
        if len(data) > RESULT_BYTES:
            raise TooLarge(f"more than {RESULT_BYTES >> 20} MiB")
        result = loads(data)
    except TooLarge as exc:
        oversized = f"its result: {exc}"
    except (OSError, ValueError):
        result = None
    probe_dir = os.path.join(out_dir, "probes")
    try:
        records = read_records(probe_dir) if os.path.isdir(probe_dir) else []
    except TooLarge as exc:
        records, oversized = [], oversized or str(exc)
    left = {
        "result": result if isinstance(result, dict) else {},
        "phase": text("phase", 500),
        "records": records,
        "stdout_tail": text("stdout", limit),
        "stderr_tail": text("stderr", limit),
    }
    if oversized:
        left["oversized"] = oversized
    return left


RESULT_BYTES = 8 << 20  # (a result is a few KiB: the values of one call, stacks)
