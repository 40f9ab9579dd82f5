"""Progress of a class's grading on stderr."""

from __future__ import annotations

import sys
import time

from grader import reports


class Progress:
    """Progress on stderr: a bar redrawn in place on a terminal (submissions done, how
    many lost points, time left), one line per submission otherwise (logs, CI)."""

    def __init__(self, name: str, total: int, quiet: bool, stream=None):
        self.name, self.total, self.quiet = name, total, quiet
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.count = self.lost = self.errors = 0
        self.started = time.monotonic()

    def done(self, result: reports.StudentResult) -> None:
        self.count += 1
        self.errors += bool(result.kit_errors)
        self.lost += bool(not result.kit_errors and result.score < result.max_score)
        if self.quiet:
            return
        status = (reports.fraction(result.score, result.max_score) if not result.kit_errors
                  else f"KIT ERROR, see {reports.ERROR_FILE} in its folder")
        if not self.tty:
            print(f"[{self.count}/{self.total}] {self.name} "
                  f"{reports.clean(result.student, one_line=True)}: {status} "
                  f"({result.execution_time:.1f} s)", file=self.stream, flush=True)
            return
        spent = time.monotonic() - self.started
        left = spent / self.count * (self.total - self.count)
        width = 24
        filled = round(width * self.count / self.total)
        bar = "#" * filled + "." * (width - filled)
        errors = f", {self.errors} kit errors" if self.errors else ""
        print(f"\r{self.name} [{bar}] {self.count}/{self.total} graded, {self.lost} with points "
              f"lost{errors}, ~{_duration(left)} left ", end="", file=self.stream,
              flush=True)

    def close(self) -> None:
        if self.tty and not self.quiet and self.count:
            print(f" done in {_duration(time.monotonic() - self.started)}",
                  file=self.stream, flush=True)


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"
