"""What the hidden suites are written with, in the students' pytest process (trusted: the
student's code runs only in sandboxes): :mod:`~grader.checks.judge` (``@check``,
``lose(message)``, the judging helpers that turn a sandbox's observations into verdicts
and explanations) and :mod:`~grader.checks.plugin` (the pytest plugin, ``-p
grader.checks.plugin``, that records each check's points and explanation)."""
