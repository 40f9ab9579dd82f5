"""Code that runs inside a sandbox process, next to the student's module.

Nothing here judges: it imports the submission, installs the grader's probes, calls the
student's functions and writes plain JSON data for the trusted side to judge.
"""
