"""The kit inside other tools: :mod:`~grader.integrations.export` writes a Gradescope
autograder bundle and a GitHub Classroom workflow; :mod:`~grader.integrations.nbcourse`
makes an nbgrader course whose grade cells call :mod:`~grader.integrations.nbcells`
(which runs ``python -m grader`` on the student's module)."""
