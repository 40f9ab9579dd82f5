"""Hidden suites: pytest modules run by the grader, never shipped to students."""
