"""The trust boundary: student code runs only here, in separate, limited, killable
process trees, and comes back as plain data.

One public interface (everything else in this package is its inside):

* run a check: :func:`run` (a sandbox of its own), :class:`Session` (one sandbox serving
  many checks of a submission), :class:`Cancel`, the result :class:`Run`, :func:`skipped`;
* the class's pool of warm sandboxes: :mod:`grader.sandbox.pool` (``Pool``, ``Client``);
* what this machine allows: :func:`isolation` (detected once, then inherited),
  :class:`Isolation`, :func:`force_isolation`, :func:`doctor`; at the uid level, which
  folders a sandbox could read (:func:`exposed`, :func:`hiding_advice`);
* the limits of one sandbox (:data:`TASKS_MAX`, :data:`MEMORY_MAX`, :data:`PROCESS_MAX`,
  :data:`DISK_MAX` and :data:`DISK_ENTRIES` at the uid level,
  :data:`DEFAULT_LIMITS`, :data:`GRACE`; :data:`WITNESS_OVERFLOW` names a run over init's
  notes) and the grader's scratch folders
  (:func:`own_scratch`, :func:`kill_marked`); what of a submission sandboxes get
  (:func:`submission_files`).

Inside, by process: :mod:`~grader.sandbox.launcher` is the trusted launcher and init of
each sandbox (run by path: standard library only, with :mod:`~grader.sandbox.tree`);
:mod:`~grader.sandbox.detect` probes the machine, :mod:`~grader.sandbox.plan` writes what
the launcher carries out, :mod:`~grader.sandbox.resources` holds uids, cgroups and
scratch folders, :mod:`~grader.sandbox.runs` runs checks; all of these run in the
trusted grading processes.
"""

from grader.sandbox.detect import Isolation, exposed, hiding_advice
from grader.sandbox.detect import force as force_isolation
from grader.sandbox.doctor import doctor
from grader.sandbox.resources import (
    DISK_ENTRIES,
    DISK_MAX,
    MEMORY_MAX,
    PROCESS_MAX,
    TASKS_MAX,
    own_scratch,
)
from grader.sandbox.runs import (
    DEFAULT_LIMITS,
    GRACE,
    WITNESS_OVERFLOW,
    Cancel,
    Run,
    Session,
    isolation,
    kill_marked,
    run,
    sessions_enabled,
    share_inside,
    skipped,
    submission_files,
)

__all__ = [
    "DEFAULT_LIMITS", "DISK_ENTRIES", "DISK_MAX", "GRACE", "MEMORY_MAX", "PROCESS_MAX",
    "TASKS_MAX", "WITNESS_OVERFLOW", "Cancel", "Isolation", "Run", "Session", "doctor", "exposed",
    "force_isolation", "hiding_advice", "isolation", "kill_marked", "own_scratch", "run",
    "sessions_enabled", "share_inside", "skipped", "submission_files",
]
