"""The kit's assignments: name, student module, hidden suite."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

SUITES = Path(__file__).resolve().parent / "suites"


@dataclass(frozen=True)
class Assignment:
    name: str
    module: str
    summary: str

    @property
    def filename(self) -> str:
        return self.module + ".py"

    @property
    def suite(self) -> Path:
        return SUITES / self.name


ASSIGNMENTS = {
    a.name: a
    for a in (
        Assignment("process_fanout", "fanout",
                   "Process + Queue fan-out of a random-string generator"),
        Assignment("pool_variants", "pools",
                   "Pool.apply / map / apply_async / map_async / imap_unordered"),
        Assignment("thread_counter", "counter",
                   "a global counter shared by 2000 threads, made race-free with a Lock"),
    )
}
