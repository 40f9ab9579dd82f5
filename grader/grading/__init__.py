"""Grading a class: what runs in the grading command's own process.

* :mod:`~grader.grading.engine`: :func:`grade` runs every student's hidden suite (a pytest
  process per student, forked from the warm server where it can be) and writes the
  reports; :func:`grade_one` grades one folder;
* :mod:`~grader.grading.admission`: how many students are graded at once;
* :mod:`~grader.grading.progress`: the progress bar or lines on stderr;
* :mod:`~grader.grading.trust`: whether the sandbox in force can be trusted with a grade
  (refuses otherwise) and the warning a weaker one puts into every report;
* :mod:`~grader.grading.warm`: the warm pytest server (its own process: pytest imported
  once, forked per student).

The students' code never runs here: each suite runs it in sandboxes
(:mod:`grader.sandbox`), through the class's pool of warm sandboxes that :func:`grade`
starts.

The package imports none of them itself: the warm server runs as ``python -m
grader.grading.warm`` and must not have imported its own module (through the engine)
before it runs.
"""
