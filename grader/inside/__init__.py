"""Code that runs inside a sandbox process, next to the student's module (standard
library only: it imports nothing of the grader outside this folder).

Nothing here judges: it imports the submission, installs the grader's probes, calls the
student's functions and writes plain JSON data for the trusted side to judge.

* :mod:`~grader.inside.main`: the entry point, run by path;
* :mod:`~grader.inside.runner`: one check in this process; :mod:`~grader.inside.session`:
  a server that forks a process per check (one sandbox, many checks);
* :mod:`~grader.inside.runtime`: the check's spec, result, phase, deadline and stacks;
* :mod:`~grader.inside.scenarios`: what each check does with the student's module, with
  :mod:`~grader.inside.probes` (the grader's stand-ins and witnesses),
  :mod:`~grader.inside.gates` and :mod:`~grader.inside.schedule` (the controlled thread
  scheduler);
* :mod:`~grader.inside.output` (what a check leaves, read back), :mod:`~grader.inside.lines`
  (every JSON-lines message of the kit's protocols) and :mod:`~grader.inside.bounded`
  (JSON parsed within bounds): used by the trusted side too.
"""
