"""The concurrency kit's grader.

Trusted side: :mod:`grader.sandbox` (runs untrusted code), :mod:`grader.judge` (verdicts and
explanations), :mod:`grader.plugin` (pytest plugin that records points), :mod:`grader.report`
(results.json, grades.csv), :mod:`grader.cli` (``python -m grader``).

Untrusted side: :mod:`grader.inside` runs *inside* a sandbox process, next to student code.
Nothing there decides a grade; it only reports plain data.

Kept free of imports so that a sandbox process starts fast.
"""
