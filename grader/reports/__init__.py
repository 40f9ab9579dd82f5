"""What a grading writes (``OUT_DIR`` of ``python -m grader grade``):
:mod:`~grader.reports.results` (``results.json`` per student, ``grades.csv``, the score
table), :mod:`~grader.reports.feedback` (``feedback.md``/``.html`` per student),
:mod:`~grader.reports.summary` (``summary.md``/``.html`` for the class); student text in
any of them passes :mod:`~grader.reports.text` first.
"""

from grader.reports.feedback import feedback_html, feedback_md, write_feedback
from grader.reports.results import (
    ERROR_FILE,
    StudentResult,
    find_test,
    fraction,
    results_json,
    table,
    test_line,
    write_csv,
    write_student,
)
from grader.reports.summary import summary_html, summary_md, write_summary
from grader.reports.text import clean, md_fence, md_inline

__all__ = ["ERROR_FILE", "StudentResult", "clean", "feedback_html", "feedback_md",
           "find_test", "fraction", "md_fence", "md_inline", "results_json", "summary_html",
           "summary_md", "table", "test_line", "write_csv", "write_feedback",
           "write_student", "write_summary"]
