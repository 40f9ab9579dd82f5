"""The concurrency kit's grader. Each folder is one process or one job:

* :mod:`grader.cli` (``python -m grader``: arguments only) and :mod:`grader.settings`
  (every ``KIT_*`` variable);
* :mod:`grader.grading`: the grading command's process (the class engine, the warm pytest
  server);
* :mod:`grader.checks`: the students' pytest process (verdicts, explanations, the pytest
  plugin that records points), running the hidden suites in :mod:`grader.suites`;
* :mod:`grader.reports`: results.json, grades.csv, feedback, summaries;
* :mod:`grader.integrations`: Gradescope, GitHub Classroom, nbgrader;
* :mod:`grader.sandbox`: the trust boundary (runs untrusted code);
* :mod:`grader.inside`: runs *inside* a sandbox process, next to student code. Nothing
  there decides a grade; it only reports plain data.

Kept free of imports so that a sandbox process starts fast.
"""
